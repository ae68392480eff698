/* blob.c -- the core's wrappers around a blob handler; see blob.h.
 * This is the one place for fallbacks of optional operations. */
#include "blob.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_HANDLERS 16

/* The handlers linked in, registered by BLOB_HANDLER() before main(). */
static const struct blob_ops *handlers[MAX_HANDLERS];
static size_t nhandlers;

void
blob_register(const struct blob_ops *ops)
{
	if (nhandlers < MAX_HANDLERS)
		handlers[nhandlers++] = ops;
}

const struct blob_ops *
blob_find(const char *name)
{
	for (size_t i = 0; i < nhandlers; i++)
		if (strcmp(handlers[i]->name, name) == 0)
			return handlers[i];
	return NULL;
}

enum blob_err
blob_open(const char *name, struct conf *conf, const char *data_dir,
    struct blob_handler *h)
{
	const struct blob_ops *ops = blob_find(name);
	char section[64];

	memset(h, 0, sizeof(*h));
	if (ops == NULL) {
		fprintf(stderr, "berth: no blob handler named \"%s\"\n", name);
		return BLOB_NOTSUP;
	}
	if (ops->version != BLOB_OPS_VERSION) {
		fprintf(stderr, "berth: blob handler \"%s\" has interface "
		    "version %d; this build knows %d\n", name, ops->version,
		    BLOB_OPS_VERSION);
		return BLOB_NOTSUP;
	}
	snprintf(section, sizeof(section), "blob.%s", name);
	h->ops = ops;
	return ops->open(conf, section, data_dir, &h->priv);
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

bool
blob_can(const struct blob_handler *h, enum blob_cap cap)
{
	switch (cap) {
	case BLOB_CAN_PUT:
		return h->ops->put != NULL;
	case BLOB_CAN_DELETE:
		return h->ops->del != NULL;
	case BLOB_CAN_WALK:
		return false;	/* no walk() in version 1 yet */
	case BLOB_SELF_VERIFIES:
		return (h->ops->flags & BLOB_VERIFIES) != 0;
	}
	return false;
}
