/* blob_fault.c -- a fault-injecting blob handler for the tests, wrapped
 * around the fs handler (the shim backends of SQLite's test VFSes).
 *
 * Linked only into test builds (make FAULT=1, which make test uses) and
 * chosen with [storage] blob_handler = fault.  The fault comes from the
 * environment variable BERTH_FAULT:
 *   none     behave exactly like fs
 *   eio      put: copy half the bytes, then fail with EIO
 *   enospc   put: copy half the bytes, then fail with ENOSPC
 *   short    put: a write stores fewer bytes than asked, and stops there
 *   crash    put: copy everything, then die (_exit) before the rename
 * get, stat, del, walk and read pass through to fs unchanged.
 * Unlike fs, put copies the verified staging file into a temporary file of
 * its own and renames that, so each fault strikes while a partial file
 * exists: the tests prove none of it becomes visible. */
#include "blob.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum fault { F_NONE, F_EIO, F_ENOSPC, F_SHORT, F_CRASH };

struct fault_handler {
	void *fs; /* the wrapped fs instance */
	enum fault fault;
	char tmpdir[PATH_MAX - 64]; /* <data_dir>/uploads */
};

/* The wrapped handler, found by name as any other caller would. */
static const struct blob_ops *
fs_ops(void)
{
	return blob_find("fs");
}

/* Settings: [blob.fault] takes the fs handler's keys (offload,
 * accel_prefix), which it passes on. */
static enum blob_err
fault_open(struct conf *conf, const char *section, const char *data_dir,
    void **priv)
{
	struct fault_handler *f = calloc(1, sizeof(*f));
	const char *mode = getenv("BERTH_FAULT");
	enum blob_err e;

	if (f == NULL)
		return BLOB_IO;
	if (mode == NULL || strcmp(mode, "none") == 0)
		f->fault = F_NONE;
	else if (strcmp(mode, "eio") == 0)
		f->fault = F_EIO;
	else if (strcmp(mode, "enospc") == 0)
		f->fault = F_ENOSPC;
	else if (strcmp(mode, "short") == 0)
		f->fault = F_SHORT;
	else if (strcmp(mode, "crash") == 0)
		f->fault = F_CRASH;
	else {
		fprintf(stderr, "berth: BERTH_FAULT=%s: unknown fault\n", mode);
		free(f);
		return BLOB_IO;
	}
	if (snprintf(f->tmpdir, sizeof(f->tmpdir), "%s/uploads", data_dir) >=
	    (int)sizeof(f->tmpdir)) {
		free(f);
		return BLOB_IO;
	}
	e = fs_ops()->open(conf, section, data_dir, &f->fs);
	if (e != BLOB_OK) {
		free(f);
		return e;
	}
	*priv = f;
	return BLOB_OK;
}

static void
fault_close(void *priv)
{
	struct fault_handler *f = priv;

	fs_ops()->close(f->fs);
	free(f);
}

static enum blob_err
fault_get(void *priv, const char *repo, const char *digest, int *fd,
    uint64_t *size, struct blob_location *loc)
{
	struct fault_handler *f = priv;

	return fs_ops()->get(f->fs, repo, digest, fd, size, loc);
}

static enum blob_err
fault_stat(void *priv, const char *repo, const char *digest, uint64_t *size,
    struct blob_location *loc)
{
	struct fault_handler *f = priv;

	return fs_ops()->stat(f->fs, repo, digest, size, loc);
}

static enum blob_err
fault_del(void *priv, const char *repo, const char *digest)
{
	struct fault_handler *f = priv;

	return fs_ops()->del(f->fs, repo, digest);
}

static enum blob_err
fault_walk(void *priv, blob_walk_fn fn, void *arg)
{
	struct fault_handler *f = priv;

	return fs_ops()->walk(f->fs, fn, arg);
}

static enum blob_err
fault_read(void *priv, const char *repo, const char *digest, int *fd,
    uint64_t *size)
{
	struct fault_handler *f = priv;

	return fs_ops()->read(f->fs, repo, digest, fd, size);
}

/* Copy src into a new temporary file, striking with the fault. */
static enum blob_err
fault_put(void *priv, const char *repo, const char *digest,
    const struct blob_source *src)
{
	struct fault_handler *f = priv;
	char tmp[PATH_MAX], buf[65536];
	uint64_t off = 0;
	enum blob_err e = BLOB_IO;
	int fd = -1;

	if (f->fault == F_NONE)
		return fs_ops()->put(f->fs, repo, digest, src);
	snprintf(tmp, sizeof(tmp), "%s/fault-XXXXXX", f->tmpdir);
	fd = mkstemp(tmp);
	if (fd < 0)
		goto out;
	while (off < src->size) {
		size_t want = src->size - off < sizeof(buf) ?
		    (size_t)(src->size - off) :
		    sizeof(buf);
		ssize_t n = pread(src->fd, buf, want, (off_t)off);

		if (n <= 0)
			goto out;
		if ((f->fault == F_EIO || f->fault == F_ENOSPC) &&
		    off + (uint64_t)n > src->size / 2) {
			errno = f->fault == F_EIO ? EIO : ENOSPC;
			e = f->fault == F_EIO ? BLOB_IO : BLOB_NOSPC;
			goto out;
		}
		if (f->fault == F_SHORT && n > 1)
			n /= 2; /* the write stored less ... */
		if (write(fd, buf, (size_t)n) != n)
			goto out;
		off += (uint64_t)n;
		if (f->fault == F_SHORT) {
			errno = EIO; /* ... and the next one failed */
			goto out;
		}
	}
	if (f->fault == F_CRASH) {
		fsync(fd);
		_exit(70); /* between write and rename */
	}
out:
	fprintf(stderr, "berth: fault handler: put %s failed: %s\n", digest,
	    strerror(errno));
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	unlink(src->path);
	return e;
}

static const struct blob_ops blob_fault_ops = {
	.version = BLOB_OPS_VERSION,
	.name = "fault",
	.open = fault_open,
	.close = fault_close,
	.get = fault_get,
	.stat = fault_stat,
	.put = fault_put,
	.del = fault_del,
	.walk = fault_walk,
	.read = fault_read,
};
BLOB_HANDLER(blob_fault_ops)
