/* upload.c -- upload sessions; see upload.h. */
#include "upload.h"

#include "blob_lock.h"
#include "spool.h"

#include <dirent.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#define IO_CHUNK       (256 * 1024)	    /* bytes per read/hash/write step */
#define WRITEBACK_STEP (8ULL * 1024 * 1024) /* bytes between writeback starts */

static int
staging_path(const char *data_dir, const char *uuid, char *out, size_t cap)
{
	return snprintf(out, cap, "%s/uploads/%s", data_dir, uuid) < (int)cap ?
	    0 :
	    -1;
}

static int
new_uuid(char out[UPLOAD_ID_LEN + 1])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -1;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, UPLOAD_ID_LEN + 1,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
	    b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

static enum upload_err
errno_err(void)
{
	return errno == ENOSPC || errno == EDQUOT ? UP_NOSPC : UP_IO;
}

enum upload_err
upload_start(struct store *st, const char *repo, enum digest_alg alg,
    bool persist, struct upload *u)
{
	struct digest_ctx ctx;
	char dir[PATH_MAX];

	memset(u, 0, sizeof(*u));
	u->st = st;
	u->fd = -1;
	u->persist = persist;
	u->staged = persist && blob_can(&st->blobs, BLOB_CAN_STAGE);
	if (new_uuid(u->m.uuid) != 0)
		return UP_IO;
	snprintf(u->m.repo, sizeof(u->m.repo), "%s", repo);
	u->m.alg = alg;
	digest_init(&ctx, alg);
	u->m.state_len = digest_save(&ctx, u->m.state);
	u->m.started_at = (int64_t)time(NULL);
	snprintf(dir, sizeof(dir), "%s/uploads", st->data_dir);
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		goto fail;
	if (staging_path(st->data_dir, u->m.uuid, u->path, sizeof(u->path)) !=
	    0)
		goto fail;
	u->fd = open(u->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (u->fd < 0 || flock(u->fd, LOCK_EX) != 0)
		goto fail;
	if (persist) {
		enum meta_err me = meta_upload_create(&u->m);

		if (me != META_OK) {
			errno = me == META_FULL ? ENOSPC : EIO;
			goto fail;
		}
	}
	return UP_OK;
fail : {
	enum upload_err e = errno_err();

	fprintf(stderr, "berth: upload start: %s: %s\n", u->path,
	    strerror(errno));
	if (u->fd >= 0) {
		unlink(u->path);
		close(u->fd);
		u->fd = -1;
	}
	return e;
}
}

/* A staging file shorter than the size its row records lost bytes the
 * row counts (a crash, or someone cutting the file): finishing would
 * commit what is not there.  Such a session is ended (logged) and
 * answers as unknown, so the client uploads again.  Staged in the store,
 * a short local file is normal (the segments hold the bytes).  True when
 * it was ended; u is then closed. */
static bool
damaged(struct upload *u)
{
	struct stat sb;

	if (u->staged || fstat(u->fd, &sb) != 0 ||
	    (uint64_t)sb.st_size >= u->m.size)
		return false;
	fprintf(stderr,
	    "berth: upload %s: the staging file holds %lld bytes, its "
	    "session %llu: ended (the client starts again)\n",
	    u->m.uuid, (long long)sb.st_size, (unsigned long long)u->m.size);
	upload_cancel(u);
	upload_close(u);
	return true;
}

enum upload_err
upload_open(struct store *st, const char *repo, const char *uuid,
    struct upload *u)
{
	long expiry = st->upload_expiry;
	enum meta_err e;

	memset(u, 0, sizeof(*u));
	u->st = st;
	u->fd = -1;
	u->persist = true;
	u->staged = blob_can(&st->blobs, BLOB_CAN_STAGE);
	e = meta_upload_get(repo, uuid, expiry, &u->m);
	if (e != META_OK)
		return e == META_NOTFOUND ? UP_UNKNOWN :
		    e == META_UNAVAILABLE ? UP_UNAVAILABLE :
					    UP_IO;
	if (staging_path(st->data_dir, uuid, u->path, sizeof(u->path)) != 0)
		return UP_IO;
	/* The lock is on the staging file's inode, and a first chunk handed
	 * over as a file replaces that inode (adopt()): holding the lock
	 * counts only while the name still leads to the inode locked. */
	for (int tries = 0;; tries++) {
		struct stat locked, named;

		/* Staged in the store: a session another host started or
		 * continued gets a staging file here, empty (its bytes are
		 * fetched when it finishes). */
		u->fd = open(u->path,
		    O_RDWR | O_CLOEXEC | (u->staged ? O_CREAT : 0), 0644);
		if (u->fd < 0)
			return errno == ENOENT ? UP_UNKNOWN : UP_IO;
		if (flock(u->fd, LOCK_EX) != 0 || fstat(u->fd, &locked) != 0)
			goto fail;
		if (stat(u->path, &named) == 0 &&
		    named.st_ino == locked.st_ino &&
		    named.st_dev == locked.st_dev)
			break;
		close(u->fd);
		u->fd = -1;
		if (tries == 100) {
			fprintf(stderr,
			    "berth: upload %s: staging file keeps "
			    "changing\n",
			    uuid);
			return UP_IO;
		}
	}
	/* Another request may have advanced or ended the session while we
	 * waited for the lock: read it again under the lock. */
	e = meta_upload_get(repo, uuid, expiry, &u->m);
	if (e != META_OK) {
		upload_close(u);
		return e == META_NOTFOUND ? UP_UNKNOWN : UP_IO;
	}
	return damaged(u) ? UP_UNKNOWN : UP_OK;
fail:
	upload_close(u);
	return UP_IO;
}

/* Write all of buf at off. */
static int
pwrite_all(int fd, const unsigned char *buf, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int copy_in(int in, int out, uint64_t off, uint64_t len,
    unsigned char *buf, size_t cap);

static enum upload_err
blob_upload_err(enum blob_err e)
{
	switch (e) {
	case BLOB_OK:
		return UP_OK;
	case BLOB_NOSPC:
		return UP_NOSPC;
	case BLOB_NOTSUP:
		return UP_READONLY;
	case BLOB_UNAVAILABLE:
		return UP_UNAVAILABLE;
	default:
		return UP_IO;
	}
}

/* Staged: fetch the session's segments covering [0, end) from the store
 * into the staging file, in offset order.  UP_DIGEST when they do not
 * (a segment missing, or one reaching past end: a racing append). */
static enum upload_err
fetch(struct upload *u, uint64_t end)
{
	static unsigned char buf[IO_CHUNK];
	uint64_t pos = 0, len;
	enum blob_err e;
	int fd;

	while (pos < end) {
		e = blob_stage_get(&u->st->blobs, u->m.uuid, pos, &fd, &len);
		if (e == BLOB_NOTFOUND ||
		    (e == BLOB_OK && (len == 0 || len > end - pos))) {
			if (e == BLOB_OK)
				close(fd);
			fprintf(stderr,
			    "berth: upload %s: the store holds no segment "
			    "of %llu bytes at most at %llu; ending the "
			    "session\n",
			    u->m.uuid, (unsigned long long)(end - pos),
			    (unsigned long long)pos);
			return UP_DIGEST;
		}
		if (e != BLOB_OK)
			return blob_upload_err(e);
		if (copy_in(fd, u->fd, pos, len, buf, sizeof(buf)) != 0) {
			enum upload_err err = errno_err();

			fprintf(stderr, "berth: upload %s: fetch segment: %s\n",
			    u->m.uuid, strerror(errno));
			close(fd);
			return err;
		}
		close(fd);
		pos += len;
	}
	return UP_OK;
}

/* Staged: forget the session's segments (best effort: a store's
 * lifecycle rule on <prefix>uploads/ removes what is left). */
static void
unstage(struct store *st, const char *uuid)
{
	uint64_t pos = 0, len = 0;

	while (
	    blob_stage_del(&st->blobs, uuid, pos, &len) == BLOB_OK && len > 0)
		pos += len;
}

/* The session's running hash into *hash: its saved state, or, for a
 * state from another build, rebuilt from the staging file (staged: from
 * the store's segments first).  0, or -1 on a read error. */
static int
load_hash(struct upload *u, struct digest_ctx *hash)
{
	if (digest_load(hash, u->m.alg, u->m.state, u->m.state_len))
		return 0;
	if (u->staged && fetch(u, u->m.size) != UP_OK)
		return -1;
	digest_init(hash, u->m.alg);
	return digest_update_fd(hash, u->fd, u->m.size);
}

/* Record the appended bytes: size, hash state, and (for a persisted
 * session) the metadata row, conditional on the old size. */
static enum upload_err
record(struct upload *u, const struct digest_ctx *hash, uint64_t old,
    uint64_t off)
{
	u->m.size = off;
	u->m.state_len = digest_save(hash, u->m.state);
	if (u->persist && off != old) {
		enum meta_err e = meta_upload_advance(&u->m, old);

		if (e != META_OK)
			return e == META_CONFLICT ? UP_UNKNOWN :
			    e == META_FULL	  ? UP_NOSPC :
						    UP_IO;
	}
	return UP_OK;
}

/* Undo an append that failed: the session keeps its first old bytes. */
static void
rollback(struct upload *u, uint64_t old)
{
	u->m.size = old;
	if (ftruncate(u->fd, (off_t)old) != 0)
		fprintf(stderr, "berth: upload %s: truncate: %s\n", u->m.uuid,
		    strerror(errno));
}

/* End an append whose bytes [old, off) are written and hashed into
 * *hash: cut the staging file at off and record() it, or roll back. */
static enum upload_err
settle(struct upload *u, const struct digest_ctx *hash, uint64_t old,
    uint64_t off)
{
	enum upload_err err = UP_IO;

	/* The bytes are on disk before the row counts them, so that a
	 * crash cannot leave a row promising bytes the file lost. */
	if (ftruncate(u->fd, (off_t)off) == 0 &&
	    (!u->persist || off == old || fdatasync(u->fd) == 0)) {
		err = UP_OK;
		/* Staged: the bytes are in the store before the row says so. */
		if (u->staged && off > old)
			err = blob_upload_err(blob_stage_put(&u->st->blobs,
			    u->m.uuid, old, u->fd, off - old));
		if (err == UP_OK)
			err = record(u, hash, old, off);
	}
	if (err != UP_OK) {
		rollback(u, old);
		return err;
	}
	if (u->local_hi == old && u->local_hi > u->local_lo)
		u->local_hi = off; /* this request's bytes grow */
	else if (off > old) {
		u->local_lo = old;
		u->local_hi = off;
	}
	return UP_OK;
}

enum upload_err
upload_append(struct upload *u, upload_reader read, void *ctx, uint64_t expect)
{
	static unsigned char buf[IO_CHUNK];
	struct digest_ctx hash;
	uint64_t old = u->m.size, off = old;
	enum upload_err err = UP_IO;
	ssize_t n;

	if (load_hash(u, &hash) != 0)
		goto fail;
	for (;;) {
		n = read(ctx, buf, sizeof(buf));
		if (n < 0) {
			err = UP_SHORT;
			goto fail;
		}
		if (n == 0)
			break;
		if (expect != UPLOAD_ANY_LENGTH &&
		    off - old + (uint64_t)n > expect) {
			err = UP_SIZE; /* longer than promised */
			goto fail;
		}
		digest_update(&hash, buf, (size_t)n);
		if (pwrite_all(u->fd, buf, (size_t)n, off) != 0) {
			err = errno_err();
			fprintf(stderr, "berth: upload %s: write: %s\n",
			    u->m.uuid, strerror(errno));
			goto fail;
		}
		off += (uint64_t)n;
		/* Start writeback as we go, so the fsync before the blob is
		 * made visible has little left to do. */
		if (off / WRITEBACK_STEP !=
		    (off - (uint64_t)n) / WRITEBACK_STEP)
			sync_file_range(u->fd,
			    (off64_t)((off / WRITEBACK_STEP - 1) *
				WRITEBACK_STEP),
			    WRITEBACK_STEP, SYNC_FILE_RANGE_WRITE);
	}
	if (expect != UPLOAD_ANY_LENGTH && off - old != expect) {
		err = UP_SIZE; /* shorter than promised */
		goto fail;
	}
	return settle(u, &hash, old, off);
fail:
	rollback(u, old);
	return err;
}

/* Copy len bytes of in, from offset 0, to out at off: in the kernel
 * (copy_file_range), or through buf (cap bytes) where the kernel will
 * not (another file system type, an old kernel).  0, or -1 with errno. */
static int
copy_in(int in, int out, uint64_t off, uint64_t len, unsigned char *buf,
    size_t cap)
{
	loff_t ioff = 0, ooff = (loff_t)off;
	ssize_t n;

	while (len > 0) {
		n = copy_file_range(in, &ioff, out, &ooff,
		    len > (1U << 30) ? (1U << 30) : (size_t)len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 &&
		    (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
			errno == EOPNOTSUPP))
			break; /* copy by hand from ioff */
		if (n <= 0) {
			if (n == 0)
				errno = EIO; /* the file got shorter */
			return -1;
		}
		len -= (uint64_t)n;
	}
	while (len > 0) {
		n = pread(in, buf, len < cap ? (size_t)len : cap, ioff);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		if (pwrite_all(out, buf, (size_t)n, (uint64_t)ooff) != 0)
			return -1;
		ioff += n;
		ooff += n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* The first bytes of a session: make the body file itself the staging
 * file -- a second name for it, locked, then renamed over the empty
 * staging file -- so nothing is copied.  Waiters on the old file's lock
 * notice the new inode (upload_open).  0 when done; 1 when this file
 * system cannot link it (the caller copies); -1 on an error, with
 * nothing changed. */
static int
adopt(struct upload *u, const struct spool *s)
{
	char tmp[PATH_MAX];
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.body", u->path) >= (int)sizeof(tmp))
		return -1;
	unlink(tmp); /* left by a crash */
	fd = spool_link(s, tmp);
	if (fd < 0) {
		if (errno == EXDEV || errno == EPERM || errno == EMLINK)
			return 1;
		fprintf(stderr, "berth: upload %s: link body file: %s\n",
		    u->m.uuid, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0 || rename(tmp, u->path) != 0) {
		fprintf(stderr, "berth: upload %s: adopt body file: %s\n",
		    u->m.uuid, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(u->fd); /* the replaced file, and its lock */
	u->fd = fd;
	return 0;
}

enum upload_err
upload_append_spool(struct upload *u, const struct spool *s, uint64_t expect)
{
	static unsigned char buf[IO_CHUNK];
	struct digest_ctx hash;
	uint64_t old = u->m.size, off = old + s->size;
	enum upload_err err = UP_IO;
	int how = 1;

	if (expect != UPLOAD_ANY_LENGTH && s->size != expect)
		return UP_SIZE;
	/* Hash first, from the page cache: nothing has changed yet when the
	 * file cannot be read. */
	if (load_hash(u, &hash) != 0 ||
	    digest_update_fd(&hash, s->fd, s->size) != 0) {
		fprintf(stderr, "berth: upload %s: read body file: %s\n",
		    u->m.uuid, strerror(errno));
		return UP_IO;
	}
	if (s->size == 0)
		return record(u, &hash, old, off);
	if (old == 0)
		how = adopt(u, s);
	if (how < 0)
		goto fail;
	if (how > 0 &&
	    copy_in(s->fd, u->fd, old, s->size, buf, sizeof(buf)) != 0) {
		err = errno_err();
		fprintf(stderr, "berth: upload %s: append body file: %s\n",
		    u->m.uuid, strerror(errno));
		goto fail;
	}
	/* Start writeback now; the fsync before the blob becomes visible
	 * then has little left to do. */
	sync_file_range(u->fd, (off64_t)old, (off64_t)s->size,
	    SYNC_FILE_RANGE_WRITE);
	return settle(u, &hash, old, off);
fail:
	rollback(u, old);
	return err;
}

enum upload_err
upload_finish(struct upload *u, const char *digest, uint64_t *size)
{
	struct blob_handler *h = &u->st->blobs;
	char got[DIGEST_STR_MAX];
	struct digest_ctx hash;
	struct blob_source src;
	enum digest_alg alg = digest_alg_of(digest);
	enum blob_err be;
	enum meta_err me;
	int lock;

	*size = u->m.size;
	if (!blob_can(h, BLOB_CAN_PUT))
		return UP_READONLY;
	if (u->staged && (u->local_lo > 0 || u->local_hi < u->m.size)) {
		/* Bytes this request did not append come from the store, and
		 * the whole file is hashed again: a segment is trusted no more
		 * than the client that sent it. */
		enum upload_err err = fetch(u,
		    u->local_hi > u->local_lo ? u->local_lo : u->m.size);

		if (err == UP_DIGEST)
			upload_cancel(u);
		if (err != UP_OK)
			return err;
		if (ftruncate(u->fd, (off_t)u->m.size) != 0 ||
		    digest_fd(u->fd, alg, u->m.size, got) != 0) {
			fprintf(stderr, "berth: upload %s: re-hash: %s\n",
			    u->m.uuid, strerror(errno));
			return UP_IO;
		}
		if (strcmp(got, digest) != 0) {
			upload_cancel(u);
			return UP_DIGEST;
		}
	} else if (!blob_can(h, BLOB_SELF_VERIFIES)) {
		if (alg == u->m.alg &&
		    digest_load(&hash, u->m.alg, u->m.state, u->m.state_len)) {
			digest_final(&hash, got);
		} else if (digest_fd(u->fd, alg, u->m.size, got) != 0) {
			fprintf(stderr, "berth: upload %s: re-hash: %s\n",
			    u->m.uuid, strerror(errno));
			return UP_IO;
		}
		if (strcmp(got, digest) != 0) {
			upload_cancel(u);
			return UP_DIGEST;
		}
	}
	src.fd = u->fd;
	src.path = u->path;
	src.size = u->m.size;
	/* From put to commit, gc must not delete (blob_lock.h). */
	lock = blob_lock(u->st->data_dir, false);
	if (lock < 0)
		return UP_IO;
	be = blob_put(h, u->m.repo, digest, &src);
	if (be != BLOB_OK) {
		blob_unlock(lock);
		/* The handler removed the staging file; end the session. */
		if (u->persist)
			meta_upload_delete(u->m.uuid);
		if (u->staged)
			unstage(u->st, u->m.uuid);
		return be == BLOB_NOSPC	   ? UP_NOSPC :
		    be == BLOB_NOTSUP	   ? UP_READONLY :
		    be == BLOB_UNAVAILABLE ? UP_UNAVAILABLE :
					     UP_IO;
	}
	me = meta_blob_commit(u->m.repo, digest, u->m.size,
	    u->persist ? u->m.uuid : NULL);
	blob_unlock(lock);
	if (u->staged && me == META_OK)
		unstage(u->st, u->m.uuid);
	return me == META_OK	   ? UP_OK :
	    me == META_FULL	   ? UP_NOSPC :
	    me == META_UNAVAILABLE ? UP_UNAVAILABLE :
				     UP_IO;
}

enum upload_err
upload_cancel(struct upload *u)
{
	enum meta_err e = META_OK;

	if (u->persist)
		e = meta_upload_delete(u->m.uuid);
	if (u->staged)
		unstage(u->st, u->m.uuid);
	unlink(u->path);
	return e == META_OK ? UP_OK : e == META_FULL ? UP_NOSPC : UP_IO;
}

void
upload_close(struct upload *u)
{
	if (u->fd >= 0) {
		close(u->fd); /* also drops the flock */
		u->fd = -1;
	}
}

int
upload_expire(struct store *st, long expiry)
{
	char dir[PATH_MAX], path[PATH_MAX];
	json_t *ids = json_array();
	time_t cutoff = time(NULL) - expiry;
	struct dirent *de;
	struct stat sb;
	size_t i;
	json_t *v;
	DIR *d;
	int removed = 0;

	if (meta_upload_expired(expiry, ids) != META_OK) {
		json_decref(ids);
		return -1;
	}
	json_array_foreach(ids, i, v) {
		meta_upload_delete(json_string_value(v));
		if (blob_can(&st->blobs, BLOB_CAN_STAGE))
			unstage(st, json_string_value(v));
	}
	json_decref(ids);
	snprintf(dir, sizeof(dir), "%s/uploads", st->data_dir);
	d = opendir(dir);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
			(int)sizeof(path))
			continue;
		if (lstat(path, &sb) != 0)
			continue;
		if (S_ISDIR(sb.st_mode)) /* the body directory */
			removed += spool_sweep(path, cutoff);
		else if (S_ISREG(sb.st_mode) && sb.st_mtime < cutoff &&
		    unlink(path) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}
