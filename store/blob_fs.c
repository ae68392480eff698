/* blob_fs.c -- the filesystem blob handler, berth's default.
 *
 * Bytes live content-addressed under <data_dir>/blobs:
 *     blobs/<algorithm>/<first two hex>/<hex>
 * put() renames a verified staging file (same filesystem: <data_dir>/
 * uploads) into place after fsync, then syncs the directory, so a blob
 * appears whole or not at all.  get() either opens the file (offload =
 * stream) or hands the web server the file to send (x-accel: an internal
 * URI under accel_prefix; x-sendfile: the absolute path).  Files are 0644
 * and directories 0755 so that the web server's user can read them.
 * walk() lists that tree for `berth fsck`; anything else found in it is
 * reported as a stray entry, named by its absolute path. */
#include "blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "validate.h"

/* [blob.fs] offload: how a GET reaches the client. */
enum offload {
	OFFLOAD_X_ACCEL, /* nginx: X-Accel-Redirect to an internal location */
	OFFLOAD_X_SENDFILE, /* lighttpd, Apache mod_xsendfile: X-Sendfile */
	OFFLOAD_STREAM	    /* the worker sends the bytes itself */
};

struct fs {
	char root[PATH_MAX]; /* absolute path of blobs/ */
	enum offload offload;
	char accel_prefix[256];
};

/* A key of [blob.fs], or of [storage] where berth before 0.2 had it
 * (kept working, with a notice).  Returns the section to read it from. */
static const char *
fs_section(struct conf *conf, const char *section, const char *key)
{
	char text[256];

	if (conf_get(conf, section, key) == NULL &&
	    conf_get(conf, "storage", key) != NULL) {
		snprintf(text, sizeof(text),
		    "[storage] %s is deprecated; write it as [%s] %s", key,
		    section, key);
		conf_notice_once(conf, "storage", key, text);
		return "storage";
	}
	return section;
}

/* "<alg>/<xx>/<hex>" for a validated digest. */
static void
rel_path(const char *digest, char *out, size_t cap)
{
	const char *hex = strchr(digest, ':') + 1;

	snprintf(out, cap, "%.*s/%.2s/%s", (int)(hex - 1 - digest), digest, hex,
	    hex);
}

static int
abs_path(const struct fs *fs, const char *digest, char *out, size_t cap)
{
	char rel[200];

	rel_path(digest, rel, sizeof(rel));
	return snprintf(out, cap, "%s/%s", fs->root, rel) < (int)cap ? 0 : -1;
}

static int
mkdir_p(char *path, mode_t mode)
{
	for (char *p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, mode) != 0 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return mkdir(path, mode) != 0 && errno != EEXIST ? -1 : 0;
}

static enum blob_err
errno_err(void)
{
	return errno == ENOSPC || errno == EDQUOT ? BLOB_NOSPC : BLOB_IO;
}

static enum blob_err
fs_open(struct conf *conf, const char *section, const char *data_dir,
    void **priv)
{
	static const char *const offloads[] = { "x-accel", "x-sendfile",
		"stream", NULL };
	struct fs *fs = calloc(1, sizeof(*fs));
	const char *sec;
	int offload;

	if (fs == NULL)
		return BLOB_IO;
	sec = fs_section(conf, section, "offload");
	if (conf_choice(conf, sec, "offload", offloads, OFFLOAD_X_ACCEL,
		&offload) != 0)
		goto bad;
	fs->offload = (enum offload)offload;
	sec = fs_section(conf, section, "accel_prefix");
	if (conf_string(conf, sec, "accel_prefix", "/_berth/blobs/",
		fs->accel_prefix, sizeof(fs->accel_prefix)) != 0)
		goto bad;
	if (fs->accel_prefix[0] != '/') {
		conf_bad(conf, sec, "accel_prefix", "must start with /");
		goto bad;
	}
	if (snprintf(fs->root, sizeof(fs->root), "%s/blobs", data_dir) >=
		(int)sizeof(fs->root) ||
	    mkdir_p(fs->root, 0755) != 0) {
		fprintf(stderr, "berth: blob handler fs: %s: %s\n", data_dir,
		    strerror(errno));
		goto bad;
	}
	*priv = fs;
	return BLOB_OK;
bad:
	free(fs);
	return BLOB_IO;
}

static void
fs_close(void *priv)
{
	free(priv);
}

static enum blob_err
fs_stat(void *priv, const char *repo, const char *digest, uint64_t *size,
    struct blob_location *loc)
{
	struct fs *fs = priv;
	char path[PATH_MAX];
	struct stat st;

	(void)repo;
	(void)loc;
	if (abs_path(fs, digest, path, sizeof(path)) != 0)
		return BLOB_IO;
	if (stat(path, &st) != 0)
		return errno == ENOENT ? BLOB_NOTFOUND : BLOB_IO;
	*size = (uint64_t)st.st_size;
	return BLOB_OK;
}

/* Open the file itself, whatever the offload mode. */
static enum blob_err
fs_read(void *priv, const char *repo, const char *digest, int *fd,
    uint64_t *size)
{
	struct fs *fs = priv;
	char path[PATH_MAX];
	struct stat st;
	int f;

	(void)repo;
	if (abs_path(fs, digest, path, sizeof(path)) != 0)
		return BLOB_IO;
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return errno == ENOENT ? BLOB_NOTFOUND : BLOB_IO;
	if (fstat(f, &st) != 0) {
		close(f);
		return BLOB_IO;
	}
	*fd = f;
	*size = (uint64_t)st.st_size;
	return BLOB_OK;
}

static enum blob_err
fs_get(void *priv, const char *repo, const char *digest, int *fd,
    uint64_t *size, struct blob_location *loc)
{
	struct fs *fs = priv;
	char rel[200];
	enum blob_err e;

	if (fs->offload != OFFLOAD_STREAM) {
		/* The web server opens the file; make sure it is there. */
		e = fs_stat(priv, repo, digest, size, loc);
		if (e != BLOB_OK)
			return e;
		if (fs->offload == OFFLOAD_X_ACCEL) {
			rel_path(digest, rel, sizeof(rel));
			loc->kind = BLOB_LOC_ACCEL;
			snprintf(loc->target, sizeof(loc->target), "%s%s",
			    fs->accel_prefix, rel);
		} else {
			loc->kind = BLOB_LOC_SENDFILE;
			abs_path(fs, digest, loc->target, sizeof(loc->target));
		}
		return BLOB_REDIRECT;
	}
	return fs_read(priv, repo, digest, fd, size);
}

static enum blob_err
fs_put(void *priv, const char *repo, const char *digest,
    const struct blob_source *src)
{
	struct fs *fs = priv;
	char path[PATH_MAX], dir[PATH_MAX];
	struct stat st;
	int dfd;

	(void)repo;
	if (abs_path(fs, digest, path, sizeof(path)) != 0)
		goto fail;
	if (stat(path, &st) == 0 && (uint64_t)st.st_size == src->size) {
		/* Already stored (pushed twice, or by two clients at once):
		 * the bytes are the same by their digest. */
		unlink(src->path);
		return BLOB_OK;
	}
	if (fsync(src->fd) != 0 || fchmod(src->fd, 0644) != 0)
		goto fail;
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	if (mkdir_p(dir, 0755) != 0 || rename(src->path, path) != 0)
		goto fail;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return BLOB_OK;
fail : {
	enum blob_err e = errno_err();

	fprintf(stderr, "berth: blob put %s: %s\n", digest, strerror(errno));
	unlink(src->path);
	return e;
}
}

static enum blob_err
fs_del(void *priv, const char *repo, const char *digest)
{
	struct fs *fs = priv;
	char path[PATH_MAX];

	(void)repo;
	if (abs_path(fs, digest, path, sizeof(path)) != 0)
		return BLOB_IO;
	if (unlink(path) != 0)
		return errno == ENOENT ? BLOB_NOTFOUND : BLOB_IO;
	return BLOB_OK;
}

/* Report the stray entry `path`: it names no blob, for reason `why`. */
static int
stray(blob_walk_fn fn, void *arg, const char *path, const char *why)
{
	struct blob_entry e = { .name = path, .detail = why };

	return fn(arg, &e);
}

/* Report every name in directory root/alg/xx (already open as d): a blob
 * when it is a regular file whose path spells its digest, a stray entry
 * otherwise.  Returns fn's first non-zero result, else 0. */
static int
walk_leaves(DIR *d, const char *root, const char *alg, const char *xx,
    blob_walk_fn fn, void *arg)
{
	char path[PATH_MAX], digest[160];
	struct blob_entry e = { 0 };
	struct dirent *de;
	struct stat st;
	int rc = 0;

	while (rc == 0 && (de = readdir(d)) != NULL) {
		const char *hex = de->d_name;

		if (strcmp(hex, ".") == 0 || strcmp(hex, "..") == 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s/%s/%s", root, alg, xx,
			hex) >= (int)sizeof(path) ||
		    lstat(path, &st) != 0)
			continue; /* gone meanwhile (gc, del) */
		if (snprintf(digest, sizeof(digest), "%s:%s", alg, hex) >=
			(int)sizeof(digest) ||
		    !S_ISREG(st.st_mode) || strlen(xx) != 2 ||
		    strncmp(xx, hex, 2) != 0 ||
		    check_digest(digest, strlen(digest)) != DIGEST_OK) {
			rc = stray(fn, arg, path, "not named as a blob");
			continue;
		}
		e.digest = digest;
		e.size = (uint64_t)st.st_size;
		e.mtime = (int64_t)st.st_mtime;
		e.name = path;
		rc = fn(arg, &e);
	}
	return rc;
}

/* Walk blobs/<alg>/<xx>/<hex>.  Anything that is not a directory where
 * one is expected, or cannot be listed, is a stray entry. */
static enum blob_err
fs_walk(void *priv, blob_walk_fn fn, void *arg)
{
	struct fs *fs = priv;
	char path[PATH_MAX];
	struct dirent *a, *x;
	DIR *d0, *d1, *d2;
	int rc = 0;

	if ((d0 = opendir(fs->root)) == NULL) {
		fprintf(stderr, "berth: blob handler fs: %s: %s\n", fs->root,
		    strerror(errno));
		return BLOB_IO;
	}
	while (rc == 0 && (a = readdir(d0)) != NULL) {
		if (strcmp(a->d_name, ".") == 0 || strcmp(a->d_name, "..") == 0)
			continue;
		d1 = NULL;
		if (snprintf(path, sizeof(path), "%s/%s", fs->root, a->d_name) <
			(int)sizeof(path) &&
		    (d1 = opendir(path)) == NULL && errno == ENOENT)
			continue; /* gone meanwhile */
		if (d1 == NULL) {
			rc = stray(fn, arg, path, "not a directory of blobs");
			continue;
		}
		while (rc == 0 && (x = readdir(d1)) != NULL) {
			if (strcmp(x->d_name, ".") == 0 ||
			    strcmp(x->d_name, "..") == 0)
				continue;
			d2 = NULL;
			if (snprintf(path, sizeof(path), "%s/%s/%s", fs->root,
				a->d_name, x->d_name) < (int)sizeof(path) &&
			    (d2 = opendir(path)) == NULL && errno == ENOENT)
				continue;
			if (d2 == NULL) {
				rc = stray(fn, arg, path,
				    "not a directory of blobs");
				continue;
			}
			rc = walk_leaves(d2, fs->root, a->d_name, x->d_name, fn,
			    arg);
			closedir(d2);
		}
		closedir(d1);
	}
	closedir(d0);
	return BLOB_OK;
}

static const struct blob_ops blob_fs_ops = {
	.version = BLOB_OPS_VERSION,
	.name = "fs",
	.open = fs_open,
	.close = fs_close,
	.get = fs_get,
	.stat = fs_stat,
	.put = fs_put,
	.del = fs_del,
	.walk = fs_walk,
	.read = fs_read,
};
BLOB_HANDLER(blob_fs_ops)
