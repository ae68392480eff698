/* blob_lock.c -- the data directory's blob lock; see blob_lock.h. */
#include "blob_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "meta.h"

/* Whether this process holds the metadata backend's lock too (one blob
 * lock at a time per process). */
static bool meta_held;

int
blob_lock(const char *data_dir, bool exclusive)
{
	char path[PATH_MAX];
	int fd = -1;

	if (snprintf(path, sizeof(path), "%s/blobs.lock", data_dir) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	while (flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0) {
		if (errno != EINTR)
			goto fail;
	}
	/* Then the lock of the metadata store, which other hosts honour
	 * (PostgreSQL's advisory lock); always in this order, so no two
	 * processes wait for each other. */
	switch (meta_blob_lock(exclusive)) {
	case META_OK:
		meta_held = true;
		break;
	case META_NOTFOUND:
		break;
	default:
		close(fd);
		errno = EAGAIN;
		fprintf(stderr,
		    "berth: blob lock: the metadata store's lock "
		    "could not be taken\n");
		return -1;
	}
	return fd;
fail : {
	int saved = errno;

	fprintf(stderr, "berth: blob lock %s: %s\n", path, strerror(saved));
	if (fd >= 0)
		close(fd);
	errno = saved;
	return -1;
}
}

void
blob_unlock(int lock)
{
	if (lock < 0)
		return;
	if (meta_held) {
		meta_blob_unlock();
		meta_held = false;
	}
	close(lock); /* drops the flock */
}
