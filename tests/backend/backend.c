/* backend.c -- the backend suite: one set of tests run against every blob
 * handler (store/blob.h) through the core's wrappers, each test adapting
 * to the handler's capabilities: fs in each offload mode, redirect, and
 * the fault-injecting shim (tests/backend/blob_fault.c) in each fault.
 * What every handler must show: a put blob is readable whole under its
 * digest, a second put of it succeeds, the staging file is gone either
 * way, delete makes it unreadable, missing operations give BLOB_NOTSUP,
 * and a failed put leaves no file behind, under the digest or elsewhere.
 * A handler that walks lists exactly the blobs it stores, with their
 * sizes, and what else is in its store as stray; one that reads gives
 * the bytes back to the core in every mode; with both (and del), fsck's
 * repair moves a blob out into a quarantine directory whole. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "blob.h"
#include "digest.h"

struct backend {
	const char *label;
	const char *handler;	  /* [storage] blob_handler */
	const char *offload;	  /* [blob.<handler>] offload, or NULL */
	const char *fault;	  /* BERTH_FAULT for the fault handler */
	enum blob_err put_result; /* what put must answer */
	bool fs_layout;		  /* stores under <dir>/blobs as fs does:
					 * the tests can plant stray files */
};

static const struct backend backends[] = {
	{ "fs/stream", "fs", "stream", NULL, BLOB_OK, true },
	{ "fs/x-accel", "fs", "x-accel", NULL, BLOB_OK, true },
	{ "fs/x-sendfile", "fs", "x-sendfile", NULL, BLOB_OK, true },
	{ "redirect", "redirect", NULL, NULL, BLOB_NOTSUP, false },
	{ "fault/none", "fault", "stream", "none", BLOB_OK, true },
	{ "fault/eio", "fault", "stream", "eio", BLOB_IO, true },
	{ "fault/enospc", "fault", "stream", "enospc", BLOB_NOSPC, true },
	{ "fault/short", "fault", "stream", "short", BLOB_IO, true },
};

struct fixture {
	const struct backend *b;
	struct conf *conf;
	struct blob_handler h;
	char dir[64];
	char staging[PATH_MAX];
	unsigned char bytes[100000];
	char digest[DIGEST_STR_MAX];
};

static int
setup(void **state)
{
	const struct backend *b = *state;
	struct fixture *f = calloc(1, sizeof(*f));
	char uploads[PATH_MAX], ini[PATH_MAX];
	FILE *fp;

	assert_non_null(f);
	f->b = b;
	strcpy(f->dir, "/tmp/berth-backend-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(uploads, sizeof(uploads), "%s/uploads", f->dir);
	assert_int_equal(mkdir(uploads, 0755), 0);
	/* The handler's settings, as an operator writes them. */
	snprintf(ini, sizeof(ini), "%s/berth.ini", f->dir);
	fp = fopen(ini, "w");
	assert_non_null(fp);
	fprintf(fp, "[blob.%s]\n", b->handler);
	if (b->offload != NULL)
		fprintf(fp, "offload = %s\naccel_prefix = /_berth/blobs/\n",
		    b->offload);
	if (strcmp(b->handler, "redirect") == 0)
		fprintf(fp, "url = https://cdn.example.org/blobs/\n");
	fclose(fp);
	f->conf = conf_load(ini);
	assert_non_null(f->conf);
	if (b->fault != NULL)
		setenv("BERTH_FAULT", b->fault, 1);
	assert_int_equal(blob_open(b->handler, f->conf, f->dir, &f->h),
	    BLOB_OK);
	assert_int_equal(conf_check_unread(f->conf, NULL, NULL), 0);
	for (size_t i = 0; i < sizeof(f->bytes); i++)
		f->bytes[i] = (unsigned char)(i * 7 + i / 251);
	digest_buf(DIGEST_SHA256, f->bytes, sizeof(f->bytes), f->digest);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	blob_close(&f->h);
	conf_free(f->conf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* A verified staging file holding f->bytes, as upload.c would hand it. */
static int
staging(struct fixture *f, struct blob_source *src)
{
	int fd;

	snprintf(f->staging, sizeof(f->staging), "%s/uploads/stage", f->dir);
	fd = open(f->staging, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, f->bytes, sizeof(f->bytes)),
	    (ssize_t)sizeof(f->bytes));
	src->fd = fd;
	src->path = f->staging;
	src->size = sizeof(f->bytes);
	return fd;
}

/* Count regular files below dir (recursively). */
static int
count_files(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	int n = 0;
	DIR *d = opendir(dir);

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' &&
		    (de->d_name[1] == '\0' ||
			(de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			n += count_files(path);
		else
			n++;
	}
	closedir(d);
	return n;
}

/* Read the blob back through get and compare with f->bytes. */
static void
assert_readable(struct fixture *f)
{
	struct blob_location loc;
	unsigned char *buf;
	uint64_t size = 0;
	int fd = -1;
	enum blob_err e;
	char rel[256];
	const char *hex = strchr(f->digest, ':') + 1;

	e = blob_get(&f->h, "test/repo", f->digest, &fd, &size, &loc);
	snprintf(rel, sizeof(rel), "sha256/%.2s/%s", hex, hex);
	if (f->b->offload != NULL && strcmp(f->b->offload, "x-accel") == 0) {
		assert_int_equal(e, BLOB_REDIRECT);
		assert_int_equal(loc.kind, BLOB_LOC_ACCEL);
		assert_string_equal(loc.target + strlen("/_berth/blobs/"), rel);
		return;
	}
	if (f->b->offload != NULL && strcmp(f->b->offload, "x-sendfile") == 0) {
		assert_int_equal(e, BLOB_REDIRECT);
		assert_int_equal(loc.kind, BLOB_LOC_SENDFILE);
		fd = open(loc.target, O_RDONLY);
		assert_true(fd >= 0);
		size = (uint64_t)lseek(fd, 0, SEEK_END);
	} else {
		assert_int_equal(e, BLOB_OK);
	}
	assert_int_equal(size, sizeof(f->bytes));
	buf = malloc(sizeof(f->bytes));
	assert_int_equal(pread(fd, buf, sizeof(f->bytes), 0),
	    (ssize_t)sizeof(f->bytes));
	assert_memory_equal(buf, f->bytes, sizeof(f->bytes));
	free(buf);
	close(fd);
}

static void
test_missing(void **state)
{
	struct fixture *f = *state;
	struct blob_location loc;
	uint64_t size;
	int fd = -1;
	enum blob_err e = blob_get(&f->h, "test/repo", f->digest, &fd, &size,
	    &loc);

	if (strcmp(f->b->handler, "redirect") == 0) {
		/* Existence is the metadata's business: always a URL. */
		assert_int_equal(e, BLOB_REDIRECT);
		assert_int_equal(loc.kind, BLOB_LOC_URL);
		char want[256];

		snprintf(want, sizeof(want),
		    "https://cdn.example.org/blobs/sha256/%s",
		    strchr(f->digest, ':') + 1);
		assert_string_equal(loc.target, want);
		return;
	}
	assert_int_equal(e, BLOB_NOTFOUND);
	assert_int_equal(blob_stat(&f->h, "test/repo", f->digest, &size, &loc),
	    BLOB_NOTFOUND);
	assert_int_equal(blob_delete(&f->h, "test/repo", f->digest),
	    BLOB_NOTFOUND);
}

static void
test_put_get_delete(void **state)
{
	struct fixture *f = *state;
	struct blob_source src;
	struct blob_location loc;
	char blobs[PATH_MAX], uploads[PATH_MAX];
	uint64_t size = 0;
	enum blob_err e;
	int fd = staging(f, &src);

	snprintf(blobs, sizeof(blobs), "%s/blobs", f->dir);
	snprintf(uploads, sizeof(uploads), "%s/uploads", f->dir);
	e = blob_put(&f->h, "test/repo", f->digest, &src);
	close(fd);
	assert_int_equal(e, f->b->put_result);
	/* Whatever the result, the staging name is gone. */
	if (e != BLOB_NOTSUP)
		assert_int_equal(access(f->staging, F_OK), -1);
	if (e != BLOB_OK) {
		/* Nothing visible, nothing left over anywhere. */
		assert_int_equal(count_files(blobs), 0);
		if (e != BLOB_NOTSUP)
			assert_int_equal(count_files(uploads), 0);
		if (strcmp(f->b->handler, "redirect") != 0)
			assert_int_equal(blob_stat(&f->h, "test/repo",
					     f->digest, &size, &loc),
			    BLOB_NOTFOUND);
		else
			assert_int_equal(blob_delete(&f->h, "test/repo",
					     f->digest),
			    BLOB_NOTSUP);
		return;
	}
	assert_int_equal(blob_stat(&f->h, "test/repo", f->digest, &size, &loc),
	    BLOB_OK);
	assert_int_equal(size, sizeof(f->bytes));
	assert_readable(f);

	/* Idempotent: the same blob again succeeds, stored once. */
	fd = staging(f, &src);
	assert_int_equal(blob_put(&f->h, "other/repo", f->digest, &src),
	    BLOB_OK);
	close(fd);
	assert_int_equal(access(f->staging, F_OK), -1);
	assert_int_equal(count_files(blobs), 1);
	assert_readable(f);

	assert_int_equal(blob_delete(&f->h, "test/repo", f->digest), BLOB_OK);
	assert_int_equal(blob_stat(&f->h, "test/repo", f->digest, &size, &loc),
	    BLOB_NOTFOUND);
	assert_int_equal(count_files(blobs), 0);
}

/* What a walk saw. */
#define WALK_MAX 16
struct seen {
	int n;		/* entries reported */
	int stop_after; /* > 0: stop the walk after so many */
	char digest[WALK_MAX][DIGEST_STR_MAX]; /* "" when stray */
	uint64_t size[WALK_MAX];
	char name[WALK_MAX][PATH_MAX];
	bool has_detail[WALK_MAX];
};

static int
record(void *arg, const struct blob_entry *e)
{
	struct seen *s = arg;

	assert_true(s->n < WALK_MAX);
	assert_non_null(e->name);
	snprintf(s->digest[s->n], sizeof(s->digest[s->n]), "%s",
	    e->digest != NULL ? e->digest : "");
	s->size[s->n] = e->size;
	snprintf(s->name[s->n], sizeof(s->name[s->n]), "%s", e->name);
	s->has_detail[s->n] = e->detail != NULL;
	s->n++;
	return s->stop_after > 0 && s->n >= s->stop_after;
}

/* Walk f's handler; returns the entries seen. */
static struct seen *
walk_all(struct fixture *f, int stop_after)
{
	struct seen *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->stop_after = stop_after;
	assert_int_equal(blob_walk(&f->h, record, s), BLOB_OK);
	return s;
}

/* Index of the entry for digest ("" for the stray entry called name),
 * or -1. */
static int
find_entry(const struct seen *s, const char *digest, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->digest[i], digest) == 0 &&
		    (name == NULL || strcmp(s->name[i], name) == 0))
			return i;
	return -1;
}

/* Put f->bytes under f->digest; true when the handler stored them. */
static bool
put_blob(struct fixture *f)
{
	struct blob_source src;
	int fd = staging(f, &src);
	enum blob_err e = blob_put(&f->h, "test/repo", f->digest, &src);

	close(fd);
	assert_int_equal(e, f->b->put_result);
	return e == BLOB_OK;
}

static void
test_walk(void **state)
{
	struct fixture *f = *state;
	char stray1[PATH_MAX + 16], stray2[PATH_MAX], dir[PATH_MAX];
	struct seen *s;
	int i;

	/* fs and what wraps it walk; redirect keeps nothing to walk. */
	assert_int_equal(blob_can(&f->h, BLOB_CAN_WALK), f->b->fs_layout);
	if (!blob_can(&f->h, BLOB_CAN_WALK)) {
		struct seen none = { 0 };

		assert_int_equal(blob_walk(&f->h, record, &none), BLOB_NOTSUP);
		assert_int_equal(none.n, 0);
		return;
	}
	s = walk_all(f, 0);
	assert_int_equal(s->n, 0); /* an empty store */
	free(s);

	if (!put_blob(f)) {
		/* A failed put leaves nothing a walk could see. */
		s = walk_all(f, 0);
		assert_int_equal(s->n, 0);
		free(s);
		return;
	}
	s = walk_all(f, 0);
	assert_int_equal(s->n, 1);
	assert_string_equal(s->digest[0], f->digest);
	assert_int_equal(s->size[0], sizeof(f->bytes));
	assert_false(s->has_detail[0]);
	free(s);

	if (f->b->fs_layout) {
		/* Two files that name no blob: a wrong name in a blob's
		 * place, and a file where a directory of blobs belongs. */
		snprintf(dir, sizeof(dir), "%s/blobs/sha256/zz", f->dir);
		assert_int_equal(mkdir(dir, 0755), 0);
		snprintf(stray1, sizeof(stray1), "%s/not-a-blob", dir);
		snprintf(stray2, sizeof(stray2), "%s/blobs/junk", f->dir);
		close(open(stray1, O_WRONLY | O_CREAT, 0644));
		close(open(stray2, O_WRONLY | O_CREAT, 0644));
		s = walk_all(f, 0);
		assert_int_equal(s->n, 3);
		i = find_entry(s, f->digest, NULL);
		assert_true(i >= 0);
		assert_int_equal(s->size[i], sizeof(f->bytes));
		i = find_entry(s, "", stray1);
		assert_true(i >= 0);
		assert_true(s->has_detail[i]);
		i = find_entry(s, "", stray2);
		assert_true(i >= 0);
		assert_true(s->has_detail[i]);
		free(s);
		/* The walk reports them and leaves them be. */
		assert_int_equal(access(stray1, F_OK), 0);
		assert_int_equal(access(stray2, F_OK), 0);
		/* The callback stops it. */
		s = walk_all(f, 1);
		assert_int_equal(s->n, 1);
		free(s);
	}

	assert_int_equal(blob_delete(&f->h, "test/repo", f->digest), BLOB_OK);
	s = walk_all(f, 0);
	assert_int_equal(find_entry(s, f->digest, NULL), -1);
	assert_int_equal(s->n, f->b->fs_layout ? 2 : 0);
	free(s);
}

/* Read all of fd (read(2) from where it stands) and compare with
 * f->bytes. */
static void
assert_stream(struct fixture *f, int fd)
{
	unsigned char *buf = malloc(sizeof(f->bytes) + 1);
	size_t got = 0;
	ssize_t n;

	assert_non_null(buf);
	while ((n = read(fd, buf + got, sizeof(f->bytes) + 1 - got)) > 0)
		got += (size_t)n;
	assert_int_equal(n, 0);
	assert_int_equal(got, sizeof(f->bytes));
	assert_memory_equal(buf, f->bytes, sizeof(f->bytes));
	free(buf);
}

static void
test_read(void **state)
{
	struct fixture *f = *state;
	uint64_t size = 0;
	int fd = -1;

	assert_int_equal(blob_can(&f->h, BLOB_CAN_READ), f->b->fs_layout);
	if (!blob_can(&f->h, BLOB_CAN_READ)) {
		assert_int_equal(blob_read(&f->h, "", f->digest, &fd, &size),
		    BLOB_NOTSUP);
		assert_int_equal(fd, -1);
		return;
	}
	assert_int_equal(blob_read(&f->h, "", f->digest, &fd, &size),
	    BLOB_NOTFOUND);
	if (!put_blob(f))
		return;
	/* Never a redirect, whatever the offload mode. */
	assert_int_equal(blob_read(&f->h, "", f->digest, &fd, &size), BLOB_OK);
	assert_true(fd >= 0);
	assert_int_equal(size, sizeof(f->bytes));
	assert_stream(f, fd);
	close(fd);
	assert_int_equal(blob_delete(&f->h, "", f->digest), BLOB_OK);
	assert_int_equal(blob_read(&f->h, "", f->digest, &fd, &size),
	    BLOB_NOTFOUND);
}

/* fsck --repair's way out for a corrupt blob: copied through read() into
 * the quarantine directory, then forgotten with del(). */
static void
test_quarantine(void **state)
{
	struct fixture *f = *state;
	char qdir[PATH_MAX], out[PATH_MAX + 200], want[PATH_MAX + 200];
	char partial[PATH_MAX + 216];
	struct blob_location loc;
	struct stat st;
	uint64_t size;
	struct seen *s;
	int fd;

	snprintf(qdir, sizeof(qdir), "%s/quarantine", f->dir);
	snprintf(want, sizeof(want), "%s/sha256-%s", qdir,
	    strchr(f->digest, ':') + 1);
	if (!blob_can(&f->h, BLOB_CAN_READ) ||
	    !blob_can(&f->h, BLOB_CAN_DELETE)) {
		assert_int_equal(blob_quarantine(&f->h, f->digest, qdir, out,
				     sizeof(out)),
		    BLOB_NOTSUP);
		assert_int_equal(access(qdir, F_OK), -1);
		return;
	}
	assert_int_equal(blob_quarantine(&f->h, f->digest, qdir, out,
			     sizeof(out)),
	    BLOB_NOTFOUND);
	assert_int_equal(access(want, F_OK), -1);
	if (!put_blob(f))
		return;
	assert_int_equal(blob_quarantine(&f->h, f->digest, qdir, out,
			     sizeof(out)),
	    BLOB_OK);
	assert_string_equal(out, want);
	fd = open(out, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_stream(f, fd);
	close(fd);
	snprintf(partial, sizeof(partial), "%s.partial", want);
	assert_int_equal(access(partial, F_OK), -1);
	assert_int_equal(stat(qdir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* Gone from the store. */
	assert_int_equal(blob_stat(&f->h, "", f->digest, &size, &loc),
	    BLOB_NOTFOUND);
	if (blob_can(&f->h, BLOB_CAN_WALK)) {
		s = walk_all(f, 0);
		assert_int_equal(s->n, 0);
		free(s);
	}
	/* Again, over the older copy, after a new put. */
	assert_true(put_blob(f));
	assert_int_equal(blob_quarantine(&f->h, f->digest, qdir, out,
			     sizeof(out)),
	    BLOB_OK);
	assert_int_equal(count_files(qdir), 1);
}

/* A table of interface version 1 predates walk and read: blob.c must not
 * look at those fields even when they hold something; a version this
 * build does not know is refused. */
static int walk_called;

static enum blob_err
old_open(struct conf *conf, const char *section, const char *data_dir,
    void **priv)
{
	(void)conf;
	(void)section;
	(void)data_dir;
	*priv = NULL;
	return BLOB_OK;
}

static enum blob_err
old_get(void *priv, const char *repo, const char *digest, int *fd,
    uint64_t *size, struct blob_location *loc)
{
	(void)priv;
	(void)repo;
	(void)digest;
	(void)fd;
	(void)size;
	(void)loc;
	return BLOB_NOTFOUND;
}

static enum blob_err
old_walk(void *priv, blob_walk_fn fn, void *arg)
{
	(void)priv;
	(void)fn;
	(void)arg;
	walk_called++;
	return BLOB_OK;
}

static const struct blob_ops v1_ops = {
	.version = 1,
	.name = "test-v1",
	.open = old_open,
	.get = old_get,
	.walk = old_walk,
};
BLOB_HANDLER(v1_ops)

static const struct blob_ops v3_ops = {
	.version = BLOB_OPS_VERSION + 1,
	.name = "test-v3",
	.open = old_open,
	.get = old_get,
};
BLOB_HANDLER(v3_ops)

static void
test_versions(void **state)
{
	struct blob_handler h;
	struct seen none = { 0 };
	uint64_t size;
	int fd = -1;

	(void)state;
	assert_int_equal(blob_open("test-v1", NULL, "/nonexistent", &h),
	    BLOB_OK);
	assert_false(blob_can(&h, BLOB_CAN_WALK));
	assert_false(blob_can(&h, BLOB_CAN_READ));
	assert_int_equal(blob_walk(&h, record, &none), BLOB_NOTSUP);
	assert_int_equal(
	    blob_read(&h, "",
		"sha256:"
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		&fd, &size),
	    BLOB_NOTSUP);
	assert_int_equal(walk_called, 0);
	blob_close(&h);
	assert_int_equal(blob_open("test-v3", NULL, "/nonexistent", &h),
	    BLOB_NOTSUP);
}

int
main(void)
{
	enum { NB = sizeof(backends) / sizeof(backends[0]), PER = 5 };
	static char names[PER * NB][64];
	struct CMUnitTest tests[PER * NB + 1];
	size_t n = 0;

	for (size_t i = 0; i < NB; i++) {
		snprintf(names[n], sizeof(names[n]), "%s: missing blob",
		    backends[i].label);
		tests[n] = (struct CMUnitTest){ names[n], test_missing, setup,
			teardown, (void *)&backends[i] };
		n++;
		snprintf(names[n], sizeof(names[n]), "%s: put, get, delete",
		    backends[i].label);
		tests[n] = (struct CMUnitTest){ names[n], test_put_get_delete,
			setup, teardown, (void *)&backends[i] };
		n++;
		snprintf(names[n], sizeof(names[n]), "%s: walk",
		    backends[i].label);
		tests[n] = (struct CMUnitTest){ names[n], test_walk, setup,
			teardown, (void *)&backends[i] };
		n++;
		snprintf(names[n], sizeof(names[n]), "%s: read",
		    backends[i].label);
		tests[n] = (struct CMUnitTest){ names[n], test_read, setup,
			teardown, (void *)&backends[i] };
		n++;
		snprintf(names[n], sizeof(names[n]), "%s: quarantine",
		    backends[i].label);
		tests[n] = (struct CMUnitTest){ names[n], test_quarantine,
			setup, teardown, (void *)&backends[i] };
		n++;
	}
	tests[n++] = (struct CMUnitTest){ "interface versions", test_versions,
		NULL, NULL, NULL };
	return cmocka_run_group_tests_name("blob handlers", tests, NULL, NULL);
}
