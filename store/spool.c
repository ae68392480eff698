/* spool.c -- body files handed over by the web server; see spool.h. */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPOOL_DEPTH 4 /* components below body_dir (nginx: levels + name) */

/* The part of file after "<dir>/", or NULL when file is not below dir.
 * Trailing slashes of dir do not count. */
static const char *
below(const char *dir, const char *file)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (n == 0 || strncmp(file, dir, n) != 0 || file[n] != '/')
		return NULL;
	return file + n + 1;
}

/* A plain name: [A-Za-z0-9_.-]+, not starting with '.'; no '/'. */
static bool
plain_name(const char *s, size_t len)
{
	if (len == 0 || len > NAME_MAX || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '_' || c == '-' ||
			c == '.'))
			return false;
	}
	return true;
}

void
spool_close(struct spool *s)
{
	if (!s->open)
		return;
	if (s->fd >= 0)
		close(s->fd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	s->fd = s->dirfd = -1;
	s->open = false;
}

enum spool_err
spool_open(const char *body_dir, const char *file, struct spool *s)
{
	char resolved[PATH_MAX];
	const char *rest, *slash, *why = "not below the body directory";
	struct stat st;
	int depth = 0, fd;

	memset(s, 0, sizeof(*s));
	s->fd = s->dirfd = -1;
	rest = below(body_dir, file);
	if (rest == NULL && realpath(body_dir, resolved) != NULL)
		rest = below(resolved, file);
	if (rest == NULL)
		goto refused;
	s->dirfd = open(body_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		why = strerror(errno);
		goto refused;
	}
	s->open = true;
	/* Walk down through plain directory names, following nothing. */
	why = "not a plain name below the body directory";
	while ((slash = strchr(rest, '/')) != NULL) {
		if (!plain_name(rest, (size_t)(slash - rest)) ||
		    ++depth >= SPOOL_DEPTH)
			goto refused;
		memcpy(s->name, rest, (size_t)(slash - rest));
		s->name[slash - rest] = '\0';
		fd = openat(s->dirfd, s->name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			why = strerror(errno);
			goto refused;
		}
		close(s->dirfd);
		s->dirfd = fd;
		rest = slash + 1;
	}
	if (!plain_name(rest, strlen(rest)))
		goto refused;
	snprintf(s->name, sizeof(s->name), "%s", rest);
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOFOLLOW:
	 * a symbolic link fails with ELOOP. */
	s->fd = openat(s->dirfd, s->name,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (s->fd < 0 && errno == ENOENT) {
		fprintf(stderr,
		    "berth: body file %s is gone: the web server removed it "
		    "(its client went away)\n",
		    file);
		spool_close(s);
		return SPOOL_GONE;
	}
	if (s->fd < 0) {
		why = errno == ELOOP ? "a symbolic link" : strerror(errno);
		if (errno != ELOOP && errno != ENOTDIR) {
			fprintf(stderr, "berth: body file %s: %s\n", file, why);
			spool_close(s);
			return SPOOL_IO;
		}
		goto refused;
	}
	if (fstat(s->fd, &st) != 0) {
		why = strerror(errno);
		goto refused;
	}
	/* The web server's file has exactly one name; a second one would be
	 * a link planted to some other file. */
	why = !S_ISREG(st.st_mode) ? "not a regular file" :
	    st.st_nlink != 1	   ? "a file with more than one name" :
				     NULL;
	if (why != NULL)
		goto refused;
	s->size = (uint64_t)st.st_size;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return SPOOL_OK;
refused:
	fprintf(stderr, "berth: body file %s refused: %s (body_dir %s)\n", file,
	    why, body_dir);
	spool_close(s);
	return SPOOL_REFUSED;
}

int
spool_link(const struct spool *s, const char *path)
{
	struct stat st;
	int fd, saved;

	/* No AT_SYMLINK_FOLLOW: if the name became a symbolic link since
	 * spool_open, that link itself is what gets a second name, and the
	 * open below refuses it. */
	if (linkat(s->dirfd, s->name, AT_FDCWD, path, 0) != 0)
		return -1;
	fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	if (fstat(fd, &st) != 0)
		goto fail;
	if (st.st_dev != s->dev || st.st_ino != s->ino) {
		errno = ESTALE;
		goto fail;
	}
	return fd;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(path);
	errno = saved == ELOOP ? ESTALE : saved;
	return -1;
}

int
spool_sweep(const char *dir, time_t cutoff)
{
	struct dirent *de;
	struct stat st;
	int dfd, removed = 0;
	DIR *d;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return 0;
	d = fdopendir(dfd);
	if (d == NULL) {
		close(dfd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && st.st_mtime < cutoff &&
		    unlinkat(dfd, de->d_name, 0) == 0)
			removed++;
	}
	closedir(d); /* closes dfd */
	return removed;
}
