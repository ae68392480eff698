/* blob_lock.c -- the data directory's blob lock; see blob_lock.h. */
#include "blob_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

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
	if (lock >= 0)
		close(lock); /* drops the flock */
}
