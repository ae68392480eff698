/* blob.c -- the core's wrappers around a blob handler; see blob.h.
 * This is the one place for fallbacks of optional operations. */
#include "blob.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The handlers a configuration may name in [storage] blob_handler. */
static const struct blob_ops *const handlers[] = {
	&blob_fs_ops,
	&blob_redirect_ops,
#ifdef BERTH_FAULT_HANDLER
	&blob_fault_ops,	/* tests only: tests/backend/blob_fault.c */
#endif
};

enum blob_err
blob_open(const struct config *cfg, struct blob_handler *h)
{
	memset(h, 0, sizeof(*h));
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		if (strcmp(handlers[i]->name, cfg->blob_handler) != 0)
			continue;
		h->ops = handlers[i];
		return h->ops->open(cfg, &h->priv);
	}
	fprintf(stderr, "berth: no blob handler named \"%s\"\n", cfg->blob_handler);
	return BLOB_NOTSUP;
}

void
blob_close(struct blob_handler *h)
{
	if (h->ops != NULL && h->ops->close != NULL)
		h->ops->close(h->priv);
	memset(h, 0, sizeof(*h));
}

enum blob_err
blob_get(struct blob_handler *h, const char *repo, const char *digest, int *fd,
    uint64_t *size, struct blob_location *loc)
{
	return h->ops->get(h->priv, repo, digest, fd, size, loc);
}

enum blob_err
blob_stat(struct blob_handler *h, const char *repo, const char *digest,
    uint64_t *size, struct blob_location *loc)
{
	enum blob_err e;
	int fd = -1;

	if (h->ops->stat != NULL)
		return h->ops->stat(h->priv, repo, digest, size, loc);
	e = h->ops->get(h->priv, repo, digest, &fd, size, loc);
	if (e == BLOB_OK)
		close(fd);
	return e;
}

enum blob_err
blob_put(struct blob_handler *h, const char *repo, const char *digest,
    const struct blob_source *src)
{
	if (h->ops->put == NULL)
		return BLOB_NOTSUP;
	return h->ops->put(h->priv, repo, digest, src);
}

enum blob_err
blob_delete(struct blob_handler *h, const char *repo, const char *digest)
{
	if (h->ops->del == NULL)
		return BLOB_NOTSUP;
	return h->ops->del(h->priv, repo, digest);
}

int
blob_can_put(const struct blob_handler *h)
{
	return h->ops->put != NULL;
}

int
blob_can_delete(const struct blob_handler *h)
{
	return h->ops->del != NULL;
}
