/* backend.c -- the backend suite: one set of tests run against every blob
 * handler (store/blob.h) through the core's wrappers, each test adapting
 * to the handler's capabilities: fs in each offload mode, redirect, and
 * the fault-injecting shim (tests/backend/blob_fault.c) in each fault.
 * What every handler must show: a put blob is readable whole under its
 * digest, a second put of it succeeds, the staging file is gone either
 * way, delete makes it unreadable, missing operations give BLOB_NOTSUP,
 * and a failed put leaves no file behind, under the digest or elsewhere. */
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
	const char	*label;
	const char	*handler;	/* [storage] blob_handler */
	const char	*offload;	/* [blob.<handler>] offload, or NULL */
	const char	*fault;		/* BERTH_FAULT for the fault handler */
	enum blob_err	 put_result;	/* what put must answer */
};

static const struct backend backends[] = {
	{ "fs/stream", "fs", "stream", NULL, BLOB_OK },
	{ "fs/x-accel", "fs", "x-accel", NULL, BLOB_OK },
	{ "fs/x-sendfile", "fs", "x-sendfile", NULL, BLOB_OK },
	{ "redirect", "redirect", NULL, NULL, BLOB_NOTSUP },
	{ "fault/none", "fault", "stream", "none", BLOB_OK },
	{ "fault/eio", "fault", "stream", "eio", BLOB_IO },
	{ "fault/enospc", "fault", "stream", "enospc", BLOB_NOSPC },
	{ "fault/short", "fault", "stream", "short", BLOB_IO },
};

struct fixture {
	const struct backend	*b;
	struct conf		*conf;
	struct blob_handler	 h;
	char			 dir[64];
	char			 staging[PATH_MAX];
	unsigned char		 bytes[100000];
	char			 digest[DIGEST_STR_MAX];
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
	assert_int_equal(blob_open(b->handler, f->conf, f->dir, &f->h), BLOB_OK);
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
		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
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
	enum blob_err e = blob_get(&f->h, "test/repo", f->digest, &fd, &size, &loc);

	if (strcmp(f->b->handler, "redirect") == 0) {
		/* Existence is the metadata's business: always a URL. */
		assert_int_equal(e, BLOB_REDIRECT);
		assert_int_equal(loc.kind, BLOB_LOC_URL);
		char want[256];

		snprintf(want, sizeof(want), "https://cdn.example.org/blobs/sha256/%s",
		    strchr(f->digest, ':') + 1);
		assert_string_equal(loc.target, want);
		return;
	}
	assert_int_equal(e, BLOB_NOTFOUND);
	assert_int_equal(blob_stat(&f->h, "test/repo", f->digest, &size, &loc),
	    BLOB_NOTFOUND);
	assert_int_equal(blob_delete(&f->h, "test/repo", f->digest), BLOB_NOTFOUND);
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
			assert_int_equal(blob_stat(&f->h, "test/repo", f->digest,
			    &size, &loc), BLOB_NOTFOUND);
		else
			assert_int_equal(blob_delete(&f->h, "test/repo",
			    f->digest), BLOB_NOTSUP);
		return;
	}
	assert_int_equal(blob_stat(&f->h, "test/repo", f->digest, &size, &loc),
	    BLOB_OK);
	assert_int_equal(size, sizeof(f->bytes));
	assert_readable(f);

	/* Idempotent: the same blob again succeeds, stored once. */
	fd = staging(f, &src);
	assert_int_equal(blob_put(&f->h, "other/repo", f->digest, &src), BLOB_OK);
	close(fd);
	assert_int_equal(access(f->staging, F_OK), -1);
	assert_int_equal(count_files(blobs), 1);
	assert_readable(f);

	assert_int_equal(blob_delete(&f->h, "test/repo", f->digest), BLOB_OK);
	assert_int_equal(blob_stat(&f->h, "test/repo", f->digest, &size, &loc),
	    BLOB_NOTFOUND);
	assert_int_equal(count_files(blobs), 0);
}

int
main(void)
{
	enum { NB = sizeof(backends) / sizeof(backends[0]) };
	static char names[2 * NB][64];
	struct CMUnitTest tests[2 * NB];
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
	}
	return cmocka_run_group_tests_name("blob handlers", tests, NULL, NULL);
}
