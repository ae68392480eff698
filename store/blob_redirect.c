/* blob_redirect.c -- the redirect blob handler: blobs published
 * elsewhere, a CDN or a static web server holding the content-addressed
 * layout <url>/<algorithm>/<hex>.  A GET is answered with 307 to that
 * URL; which blobs exist comes from the metadata (what a repository
 * links), never from the handler.  It has no put and no del, so the
 * registry is read-only with it: the smallest complete handler, and the
 * example in README.md "Adding a blob handler".
 *
 * Configuration:
 *   [storage]
 *   blob_handler = redirect
 *   [blob.redirect]
 *   url = https://cdn.example.org/registry     (http:// or https://)
 * ([storage] redirect_url, where berth 0.1 had it, still works.) */
#include "blob.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct redirect {
	char base[1024]; /* url without a trailing '/' */
};

static enum blob_err
redirect_open(struct conf *conf, const char *section, const char *data_dir,
    void **priv)
{
	const char *sec = section, *key = "url";
	struct redirect *rd;
	char text[256];
	size_t n;

	(void)data_dir;
	if (conf_get(conf, section, "url") == NULL &&
	    conf_get(conf, "storage", "redirect_url") != NULL) {
		snprintf(text, sizeof(text),
		    "[storage] redirect_url is deprecated; write it as [%s] url",
		    section);
		conf_notice_once(conf, "storage", "redirect_url", text);
		sec = "storage";
		key = "redirect_url";
	}
	if ((rd = calloc(1, sizeof(*rd))) == NULL)
		return BLOB_IO;
	if (conf_get(conf, sec, key) == NULL) {
		fprintf(stderr,
		    "berth: %s: blob_handler = redirect needs "
		    "[%s] url\n",
		    conf_path(conf), section);
		goto bad;
	}
	if (conf_string(conf, sec, key, NULL, rd->base, sizeof(rd->base)) != 0)
		goto bad;
	if (strncmp(rd->base, "http://", 7) != 0 &&
	    strncmp(rd->base, "https://", 8) != 0) {
		conf_bad(conf, sec, key, "expected an http:// or https:// URL");
		goto bad;
	}
	n = strlen(rd->base);
	while (n > 0 && rd->base[n - 1] == '/')
		rd->base[--n] = '\0';
	*priv = rd;
	return BLOB_OK;
bad:
	free(rd);
	return BLOB_IO;
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

static const struct blob_ops blob_redirect_ops = {
	.version = BLOB_OPS_VERSION,
	.name = "redirect",
	.open = redirect_open,
	.close = redirect_close,
	.get = redirect_get,
};
BLOB_HANDLER(blob_redirect_ops)
