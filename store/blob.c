/* blob.c -- the core's wrappers around a blob handler; see blob.h.
 * This is the one place for fallbacks of optional operations. */
#include "blob.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HANDLERS 16

/* Operation op of h's table, or NULL when the table's version predates
 * it (version `since`): an older table is shorter, so its newer fields
 * must not be read at all. */
#define OP(h, op, since) ((h)->ops->version >= (since) ? (h)->ops->op : NULL)

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
	if (ops->version < 1 || ops->version > BLOB_OPS_VERSION) {
		fprintf(stderr,
		    "berth: blob handler \"%s\" has interface "
		    "version %d; this build knows %d\n",
		    name, ops->version, BLOB_OPS_VERSION);
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

enum blob_err
blob_walk(struct blob_handler *h, blob_walk_fn fn, void *arg)
{
	if (OP(h, walk, 2) == NULL)
		return BLOB_NOTSUP;
	return h->ops->walk(h->priv, fn, arg);
}

enum blob_err
blob_read(struct blob_handler *h, const char *repo, const char *digest, int *fd,
    uint64_t *size)
{
	if (OP(h, read, 2) == NULL)
		return BLOB_NOTSUP;
	return h->ops->read(h->priv, repo, digest, fd, size);
}

enum blob_err
blob_stage_put(struct blob_handler *h, const char *uuid, uint64_t offset,
    int fd, uint64_t len)
{
	if (!blob_can(h, BLOB_CAN_STAGE))
		return BLOB_NOTSUP;
	return h->ops->stage_put(h->priv, uuid, offset, fd, len);
}

enum blob_err
blob_stage_get(struct blob_handler *h, const char *uuid, uint64_t offset,
    int *fd, uint64_t *len)
{
	if (!blob_can(h, BLOB_CAN_STAGE))
		return BLOB_NOTSUP;
	return h->ops->stage_get(h->priv, uuid, offset, fd, len);
}

enum blob_err
blob_stage_del(struct blob_handler *h, const char *uuid, uint64_t offset,
    uint64_t *len)
{
	if (!blob_can(h, BLOB_CAN_STAGE))
		return BLOB_NOTSUP;
	return h->ops->stage_del(h->priv, uuid, offset, len);
}

/* Copy len bytes from `from` (read(2) from where it stands) to `to`.
 * Returns 0, or -1 with errno set (EIO when `from` ends early). */
static int
copy_fd(int from, int to, uint64_t len)
{
	static char buf[1 << 16];
	uint64_t off = 0;
	ssize_t n, w;

	while (off < len) {
		size_t want = len - off < sizeof(buf) ? (size_t)(len - off) :
							sizeof(buf);

		n = read(from, buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		for (ssize_t done = 0; done < n; done += w) {
			w = write(to, buf + done, (size_t)(n - done));
			if (w < 0 && errno == EINTR)
				w = 0;
			else if (w <= 0)
				return -1;
		}
		off += (uint64_t)n;
	}
	return 0;
}

enum blob_err
blob_quarantine(struct blob_handler *h, const char *digest,
    const char *dest_dir, char *out, size_t cap)
{
	const char *colon = strchr(digest, ':');
	char tmp[PATH_MAX];
	enum blob_err e;
	uint64_t size = 0;
	int in = -1, fd = -1, dfd, saved;

	if (!blob_can(h, BLOB_CAN_READ) || !blob_can(h, BLOB_CAN_DELETE))
		return BLOB_NOTSUP;
	if (snprintf(out, cap, "%s/%.*s-%s", dest_dir, (int)(colon - digest),
		digest, colon + 1) >= (int)cap ||
	    snprintf(tmp, sizeof(tmp), "%s.partial", out) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return BLOB_IO;
	}
	if (mkdir(dest_dir, 0700) != 0 && errno != EEXIST)
		goto fail;
	e = blob_read(h, "", digest, &in, &size);
	if (e != BLOB_OK)
		return e;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || copy_fd(in, fd, size) != 0 || fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, out) != 0)
		goto fail;
	if ((dfd = open(dest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	close(in);
	/* The copy is safe on disk: the store may forget the bytes. */
	return blob_delete(h, "", digest);
fail:
	saved = errno;
	fprintf(stderr, "berth: quarantine %s to %s: %s\n", digest, dest_dir,
	    strerror(saved));
	if (fd >= 0)
		close(fd);
	if (in >= 0)
		close(in);
	unlink(tmp);
	errno = saved;
	return saved == ENOSPC || saved == EDQUOT ? BLOB_NOSPC : BLOB_IO;
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
		return OP(h, walk, 2) != NULL;
	case BLOB_SELF_VERIFIES:
		return (h->ops->flags & BLOB_VERIFIES) != 0;
	case BLOB_CAN_READ:
		return OP(h, read, 2) != NULL;
	case BLOB_CAN_STAGE:
		return OP(h, stage_put, 3) != NULL &&
		    OP(h, stage_get, 3) != NULL && OP(h, stage_del, 3) != NULL;
	}
	return false;
}
