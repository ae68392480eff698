/* blob_redirect.c -- the redirect blob handler: blobs published
 * elsewhere, a CDN or a static web server holding the content-addressed
 * layout <redirect_url>/<algorithm>/<hex>.  A GET is answered with 307 to
 * that URL; which blobs exist comes from the metadata (what a repository
 * links), never from the handler.  It has no put and no del, so the
 * registry is read-only with it: the smallest complete handler, and the
 * example in README.md "Adding a blob handler". */
#include "blob.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct redirect {
	char	base[1024];	/* redirect_url without a trailing '/' */
};

static enum blob_err
redirect_open(const struct config *cfg, void **priv)
{
	struct redirect *rd = calloc(1, sizeof(*rd));
	size_t n;

	if (rd == NULL)
		return BLOB_IO;
	snprintf(rd->base, sizeof(rd->base), "%s", cfg->redirect_url);
	n = strlen(rd->base);
	while (n > 0 && rd->base[n - 1] == '/')
		rd->base[--n] = '\0';
	*priv = rd;
	return BLOB_OK;
}

static void
redirect_close(void *priv)
{
	free(priv);
}

static enum blob_err
redirect_get(void *priv, const char *repo, const char *digest, int *fd,
    uint64_t *size, struct blob_location *loc)
{
	struct redirect *rd = priv;
	const char *colon = strchr(digest, ':');

	(void)repo;
	(void)fd;
	(void)size;
	loc->kind = BLOB_LOC_URL;
	snprintf(loc->target, sizeof(loc->target), "%s/%.*s/%s", rd->base,
	    (int)(colon - digest), digest, colon + 1);
	return BLOB_REDIRECT;
}

const struct blob_ops blob_redirect_ops = {
	.version = BLOB_OPS_VERSION,
	.name = "redirect",
	.open = redirect_open,
	.close = redirect_close,
	.get = redirect_get,
};
