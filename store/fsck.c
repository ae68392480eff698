/* fsck.c -- check blobs and metadata; see fsck.h.
 *
 * Three passes, none holding a read snapshot or a lock for long: walk
 * blobs/ and re-hash every file (noting files without rows and files
 * whose bytes are wrong), page through the blobs rows (noting rows
 * without files), then -- only when something was noted -- take the
 * exclusive blob lock and look at each noted blob again.  A gc or an
 * upload that ran during the first passes explains most transient
 * findings (a file deleted after its rows; a file put just before its
 * rows); under the lock neither is midway, so what is still wrong is
 * wrong.  Repairs happen under that same lock, rows before files, in the
 * order gc uses (gc.c). */
#include "fsck.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob_lock.h"
#include "digest.h"
#include "meta_admin.h"
#include "validate.h"

#define ROW_PAGE 512	/* blobs rows per read transaction */

enum finding {
	FIND_OK,		/* row and file agree (or was not hashed) */
	FIND_GONE,		/* neither row nor file: nothing to say */
	FIND_CORRUPT,
	FIND_MISSING,
	FIND_ORPHAN,
	FIND_ERR		/* the metadata could not be read */
};

static const char *const finding_name[] = {
	[FIND_CORRUPT] = "corrupt", [FIND_MISSING] = "missing", [FIND_ORPHAN] = "orphan",
};

/* Append the names in directory `path` (not "." and "..") to out; -1 when
 * it cannot be read. */
static int
list_dir(const char *path, json_t *out)
{
	struct dirent *de;
	DIR *d = opendir(path);

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			json_array_append_new(out, json_string(de->d_name));
	}
	closedir(d);
	return 0;
}

static void
add_problem(json_t *problems, const char *problem, const char *key,
    const char *value, const char *detail)
{
	json_array_append_new(problems, json_pack("{s:s, s:s, s:s, s:b}",
	    "problem", problem, key, value, "detail", detail, "repaired", 0));
}

/* blobs/<alg>/<xx>/<hex> of digest. */
static void
blob_path(const char *root, const char *digest, char *out, size_t cap)
{
	const char *hex = strchr(digest, ':') + 1;

	if (snprintf(out, cap, "%s/%.*s/%.2s/%s", root, (int)(hex - 1 - digest),
	    digest, hex, hex) >= (int)cap)
		out[0] = '\0';		/* no such file: reported as missing */
}

/* Walk root (blobs/): every file that names a blob goes to `files` as
 * {digest, size}; anything else is a stray problem. */
static void
walk(const char *root, json_t *files, json_t *problems)
{
	json_t *algs = json_array(), *dirs = json_array(), *names = json_array();
	char path[PATH_MAX], digest[DIGEST_STR_MAX + 8];
	struct stat st;
	size_t i, j, k;
	json_t *a, *x, *n;

	list_dir(root, algs);
	json_array_foreach(algs, i, a) {
		const char *alg = json_string_value(a);

		json_array_clear(dirs);
		if (snprintf(path, sizeof(path), "%s/%s", root, alg) >=
		    (int)sizeof(path) || list_dir(path, dirs) != 0) {
			add_problem(problems, "stray", "path", path,
			    "not a directory of blobs");
			continue;
		}
		json_array_foreach(dirs, j, x) {
			const char *xx = json_string_value(x);

			json_array_clear(names);
			if (snprintf(path, sizeof(path), "%s/%s/%s", root, alg,
			    xx) >= (int)sizeof(path) || list_dir(path, names) != 0) {
				add_problem(problems, "stray", "path", path,
				    "not a directory of blobs");
				continue;
			}
			json_array_foreach(names, k, n) {
				const char *hex = json_string_value(n);

				if (snprintf(path, sizeof(path), "%s/%s/%s/%s", root,
				    alg, xx, hex) >= (int)sizeof(path) ||
				    lstat(path, &st) != 0)
					continue;	/* gone meanwhile (gc) */
				if (snprintf(digest, sizeof(digest), "%s:%s", alg,
				    hex) >= (int)sizeof(digest) ||
				    !S_ISREG(st.st_mode) || strlen(xx) != 2 ||
				    strncmp(xx, hex, 2) != 0 ||
				    check_digest(digest, strlen(digest)) != DIGEST_OK) {
					add_problem(problems, "stray", "path", path,
					    "not named as a blob");
					continue;
				}
				json_array_append_new(files, json_pack("{s:s, s:I}",
				    "digest", digest, "size", (json_int_t)st.st_size));
			}
		}
	}
	json_decref(algs);
	json_decref(dirs);
	json_decref(names);
}

/* Look at blob `digest` (file `path`): row and file present?  With
 * `hash`, do the bytes hash to the digest and have the recorded size?
 * detail receives a sentence for the problem; *hashed the bytes read. */
static enum finding
check_blob(const char *path, const char *digest, bool hash, char *detail,
    size_t cap, uint64_t *hashed)
{
	char got[DIGEST_STR_MAX];
	enum meta_err me;
	uint64_t size = 0;
	struct stat st;
	enum finding f = FIND_OK;
	int fd;

	detail[0] = '\0';
	me = meta_admin_blob(digest, &size);
	if (me == META_ERR)
		return FIND_ERR;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (me == META_NOTFOUND)
			return FIND_GONE;
		snprintf(detail, cap, "recorded (%llu bytes) but %s is missing",
		    (unsigned long long)size, path);
		return FIND_MISSING;
	}
	if (me == META_NOTFOUND) {
		snprintf(detail, cap, "%s has no row in the metadata", path);
		f = FIND_ORPHAN;
		goto out;
	}
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(detail, cap, "%s: %s", path, strerror(errno));
		f = FIND_CORRUPT;
		goto out;
	}
	if ((uint64_t)st.st_size != size) {
		snprintf(detail, cap, "%s holds %llu bytes, the metadata says %llu",
		    path, (unsigned long long)st.st_size,
		    (unsigned long long)size);
		f = FIND_CORRUPT;
		goto out;
	}
	if (!hash)
		goto out;
	*hashed += (uint64_t)st.st_size;
	if (digest_fd(fd, digest_alg_of(digest), (uint64_t)st.st_size, got) != 0) {
		snprintf(detail, cap, "%s: read: %s", path, strerror(errno));
		f = FIND_CORRUPT;
	} else if (strcmp(got, digest) != 0) {
		snprintf(detail, cap, "%s hashes to %s", path, got);
		f = FIND_CORRUPT;
	}
out:
	if (fd >= 0)
		close(fd);
	return f;
}

/* Fix one confirmed problem, under the exclusive blob lock.  Sets
 * "repaired" and "action" in p. */
static void
repair(const char *data_dir, struct blob_handler *h, const char *path,
    const char *digest, enum finding f, json_t *p)
{
	char qdir[PATH_MAX], qpath[PATH_MAX + 200], action[PATH_MAX + 300];
	bool ok = false;

	if (f == FIND_ORPHAN) {
		ok = blob_delete(h, "", digest) == BLOB_OK;
		snprintf(action, sizeof(action), ok ? "removed the file" :
		    "could not remove the file");
		goto out;
	}
	/* Rows first, as gc does: from their commit on the blob answers
	 * 404, whatever happens to the file next. */
	if (meta_admin_begin() != META_OK) {
		snprintf(action, sizeof(action), "database busy or failing");
		goto out;
	}
	if (meta_admin_blob_forget(digest) == META_ERR ||
	    meta_admin_end(true) != META_OK) {
		meta_admin_end(false);
		snprintf(action, sizeof(action), "could not remove the rows");
		goto out;
	}
	if (f == FIND_MISSING) {
		ok = true;
		snprintf(action, sizeof(action), "removed the rows");
		goto out;
	}
	if (snprintf(qdir, sizeof(qdir), "%s/quarantine", data_dir) >=
	    (int)sizeof(qdir))
		goto out;
	snprintf(qpath, sizeof(qpath), "%s/%.*s-%s", qdir,
	    (int)(strchr(digest, ':') - digest), digest, strchr(digest, ':') + 1);
	if ((mkdir(qdir, 0700) != 0 && errno != EEXIST) ||
	    rename(path, qpath) != 0) {
		snprintf(action, sizeof(action), "removed the rows; could not "
		    "move the file to %s: %s", qpath, strerror(errno));
		goto out;
	}
	ok = true;
	snprintf(action, sizeof(action), "removed the rows; moved the file to %s",
	    qpath);
out:
	json_object_set_new(p, "repaired", json_boolean(ok));
	json_object_set_new(p, "action", json_string(action));
}

/* Confirm each noted blob under the exclusive lock; report (and repair)
 * what is still wrong. */
static int
confirm(const char *data_dir, struct blob_handler *h, const char *root,
    json_t *noted, bool do_repair, json_t *problems)
{
	char path[PATH_MAX], detail[PATH_MAX + 256];
	const char *digest;
	uint64_t hashed = 0;
	enum finding f;
	json_t *v, *p;
	int lock;

	lock = blob_lock(data_dir, true);
	if (lock < 0)
		return -1;
	json_object_foreach(noted, digest, v) {
		blob_path(root, digest, path, sizeof(path));
		f = check_blob(path, digest, json_integer_value(v) == FIND_CORRUPT,
		    detail, sizeof(detail), &hashed);
		if (f == FIND_ERR) {
			blob_unlock(lock);
			return -1;
		}
		if (f == FIND_OK || f == FIND_GONE)
			continue;	/* a gc or upload was midway */
		p = json_pack("{s:s, s:s, s:s, s:s, s:b}", "problem",
		    finding_name[f], "digest", digest, "path", path, "detail",
		    detail, "repaired", 0);
		if (f != FIND_ORPHAN) {
			json_t *refs = json_array();

			meta_admin_referencing(digest, refs);
			json_object_set_new(p, "referenced_by", refs);
		}
		if (do_repair)
			repair(data_dir, h, path, digest, f, p);
		json_array_append_new(problems, p);
	}
	blob_unlock(lock);
	return 0;
}

/* Pages of rows: note each whose file is missing. */
static int
scan_rows(const char *root, json_t *noted, uint64_t *nrows)
{
	char after[DIGEST_STR_MAX] = "", path[PATH_MAX];
	json_t *page = json_array(), *v;
	struct stat st;
	size_t i;

	do {
		json_array_clear(page);
		if (meta_admin_blob_page(after, ROW_PAGE, page) != META_OK) {
			json_decref(page);
			return -1;
		}
		json_array_foreach(page, i, v) {
			const char *digest = json_string_value(json_object_get(v,
			    "digest"));

			(*nrows)++;
			snprintf(after, sizeof(after), "%s", digest);
			if (check_digest(digest, strlen(digest)) != DIGEST_OK)
				continue;	/* integrity is not ours to judge */
			blob_path(root, digest, path, sizeof(path));
			if (stat(path, &st) != 0 && errno == ENOENT)
				json_object_set_new(noted, digest,
				    json_integer(FIND_MISSING));
		}
	} while (json_array_size(page) == ROW_PAGE);
	json_decref(page);
	return 0;
}

int
fsck_run(struct store *st, const struct fsck_options *o, json_t *report)
{
	const char *data_dir = st->data_dir;
	struct blob_handler *h = &st->blobs;
	json_t *problems = json_array(), *files = json_array();
	json_t *noted = json_object(), *msgs = json_array(), *v, *p;
	char root[PATH_MAX], path[PATH_MAX], detail[PATH_MAX + 256];
	uint64_t total = 0, hashed = 0, nrows = 0;
	long unrepaired = 0;
	enum finding f;
	size_t i;
	int rc = -1;

	if (meta_admin_integrity(msgs) != META_OK)
		goto out;
	json_array_foreach(msgs, i, v)
		json_array_append_new(problems, json_pack("{s:s, s:O, s:b}",
		    "problem", "database", "detail", v, "repaired", 0));
	if (!o->files)
		goto done;

	if (snprintf(root, sizeof(root), "%s/blobs", data_dir) >=
	    (int)sizeof(root))
		goto out;
	walk(root, files, problems);
	json_array_foreach(files, i, v)
		total += (uint64_t)json_integer_value(json_object_get(v, "size"));
	progress_report(&o->progress, "hash", 0, total);
	json_array_foreach(files, i, v) {
		const char *digest = json_string_value(json_object_get(v, "digest"));

		blob_path(root, digest, path, sizeof(path));
		f = check_blob(path, digest, true, detail, sizeof(detail), &hashed);
		if (f == FIND_ERR)
			goto out;
		if (f == FIND_CORRUPT || f == FIND_ORPHAN || f == FIND_MISSING)
			json_object_set_new(noted, digest, json_integer(f));
		progress_report(&o->progress, "hash", hashed, total);
	}
	if (scan_rows(root, noted, &nrows) != 0)
		goto out;
	if (json_object_size(noted) > 0 &&
	    confirm(data_dir, h, root, noted, o->repair, problems) != 0)
		goto out;
done:
	json_array_foreach(problems, i, p) {
		if (!json_is_true(json_object_get(p, "repaired")))
			unrepaired++;
	}
	rc = (int)unrepaired;
out:
	json_object_set_new(report, "files", json_integer(
	    (json_int_t)json_array_size(files)));
	json_object_set_new(report, "blobs", json_integer((json_int_t)nrows));
	json_object_set_new(report, "bytes_hashed", json_integer(
	    (json_int_t)hashed));
	json_object_set_new(report, "problems", problems);
	json_object_set_new(report, "unrepaired", json_integer(unrepaired));
	json_decref(files);
	json_decref(noted);
	json_decref(msgs);
	return rc;
}
