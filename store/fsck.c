/* fsck.c -- check blobs and metadata; see fsck.h.
 *
 * Three passes, none holding a read snapshot or a lock for long: list
 * the stored blobs through the blob handler (blob.h walk) and re-hash
 * each one, read back through it (read), noting blobs without rows and
 * blobs whose bytes are wrong; page through the blobs rows, noting rows
 * whose blob the handler does not have; then -- only when something was
 * noted -- take the exclusive blob lock and look at each noted blob
 * again.  A gc or an upload that ran during the first passes explains
 * most transient findings (bytes deleted after their rows; bytes put
 * just before their rows); under the lock neither is midway, so what is
 * still wrong is wrong.  Repairs happen under that same lock, rows
 * before bytes, in the order gc uses (gc.c).  Where and how the bytes
 * are stored is the handler's business: this file knows no layout. */
#include "fsck.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "blob_lock.h"
#include "digest.h"
#include "meta_admin.h"
#include "pub.h"
#include "validate.h"

#define ROW_PAGE 512 /* blobs rows per read transaction */

enum finding {
	FIND_OK,   /* row and bytes agree (or were not hashed) */
	FIND_GONE, /* neither row nor bytes: nothing to say */
	FIND_CORRUPT,
	FIND_MISSING,
	FIND_ORPHAN,
	FIND_ERR /* the metadata could not be read */
};

static const char *const finding_name[] = {
	[FIND_CORRUPT] = "corrupt",
	[FIND_MISSING] = "missing",
	[FIND_ORPHAN] = "orphan",
};

static void
add_problem(json_t *problems, const char *problem, const char *key,
    const char *value, const char *detail)
{
	json_array_append_new(problems,
	    json_pack("{s:s, s:s, s:s, s:b}", "problem", problem, key, value,
		"detail", detail, "repaired", 0));
}

/* What the walk collects: the blobs as {digest, size, path} in files,
 * their digests as keys of seen, stray entries as problems. */
struct walk_ctx {
	json_t *files;
	json_t *seen;
	json_t *problems;
	bool failed; /* out of memory: the walk was stopped */
};

/* blob_walk_fn: file one entry of the store. */
static int
walked(void *arg, const struct blob_entry *e)
{
	struct walk_ctx *w = arg;

	if (e->digest == NULL) {
		add_problem(w->problems, "stray", "path", e->name,
		    e->detail != NULL ? e->detail : "names no blob");
		return 0;
	}
	if (json_array_append_new(w->files,
		json_pack("{s:s, s:I, s:s}", "digest", e->digest, "size",
		    (json_int_t)e->size, "path", e->name)) != 0 ||
	    json_object_set_new(w->seen, e->digest, json_true()) != 0) {
		w->failed = true;
		return 1;
	}
	return 0;
}

/* Look at blob `digest` (called `name` by the handler, for messages; NULL
 * when unknown): row and bytes present?  With `hash` (and a handler that
 * can read), do the bytes hash to the digest?  Sizes are compared
 * whenever the handler tells one.  detail receives a sentence for the
 * problem; *hashed the bytes read. */
static enum finding
check_blob(struct blob_handler *h, const char *digest, const char *name,
    bool hash, char *detail, size_t cap, uint64_t *hashed)
{
	const char *what = name != NULL ? name : digest;
	char got[DIGEST_STR_MAX];
	struct blob_location loc;
	enum meta_err me;
	enum blob_err be;
	uint64_t size = 0, have = 0;
	enum finding f = FIND_OK;
	int fd = -1;

	detail[0] = '\0';
	me = meta_admin_blob(digest, &size);
	if (me == META_ERR)
		return FIND_ERR;
	hash = hash && blob_can(h, BLOB_CAN_READ);
	if (hash)
		be = blob_read(h, "", digest, &fd, &have);
	else
		be = blob_stat(h, "", digest, &have, &loc);
	if (be == BLOB_NOTFOUND) {
		if (me == META_NOTFOUND)
			return FIND_GONE;
		if (name != NULL)
			snprintf(detail, cap,
			    "recorded (%llu bytes) but %s is "
			    "missing",
			    (unsigned long long)size, name);
		else
			snprintf(detail, cap,
			    "recorded (%llu bytes) but the "
			    "blob handler does not have it",
			    (unsigned long long)size);
		return FIND_MISSING;
	}
	if (me == META_NOTFOUND) {
		snprintf(detail, cap, "%s has no row in the metadata", what);
		f = FIND_ORPHAN;
		goto out;
	}
	if (be == BLOB_REDIRECT)
		goto out; /* kept elsewhere: its size is not told here */
	if (be != BLOB_OK) {
		snprintf(detail, cap,
		    "%s: the blob handler cannot read it "
		    "(error %d)",
		    what, (int)be);
		f = FIND_CORRUPT;
		goto out;
	}
	if (have != size) {
		snprintf(detail, cap,
		    "%s holds %llu bytes, the metadata says %llu", what,
		    (unsigned long long)have, (unsigned long long)size);
		f = FIND_CORRUPT;
		goto out;
	}
	if (!hash)
		goto out;
	*hashed += have;
	if (digest_fd(fd, digest_alg_of(digest), have, got) != 0) {
		snprintf(detail, cap, "%s: read: %s", what, strerror(errno));
		f = FIND_CORRUPT;
	} else if (strcmp(got, digest) != 0) {
		snprintf(detail, cap, "%s hashes to %s", what, got);
		f = FIND_CORRUPT;
	}
out:
	if (fd >= 0)
		close(fd);
	return f;
}

/* Note blob digest for a second look: {finding, path} under its key. */
static void
note(json_t *noted, const char *digest, enum finding f, const char *name)
{
	json_t *n = json_pack("{s:i}", "finding", (int)f);

	if (name != NULL)
		json_object_set_new(n, "path", json_string(name));
	json_object_set_new(noted, digest, n);
}

/* Fix one confirmed problem, under the exclusive blob lock.  Sets
 * "repaired" and "action" in p. */
static void
repair(struct store *st, const char *digest, enum finding f, json_t *p)
{
	const char *data_dir = st->data_dir;
	struct blob_handler *h = &st->blobs;
	json_t *holders;
	char qdir[PATH_MAX], qpath[PATH_MAX + 200], action[PATH_MAX + 300];
	enum blob_err be;
	bool ok = false;

	if (f == FIND_ORPHAN) {
		be = blob_delete(h, "", digest);
		ok = be == BLOB_OK;
		snprintf(action, sizeof(action), "%s",
		    ok			  ? "removed the bytes" :
			be == BLOB_NOTSUP ? "the blob handler cannot delete" :
					    "could not remove the bytes");
		goto out;
	}
	/* Rows first, as gc does: from their commit on the blob answers
	 * 404, whatever happens to the bytes next. */
	if (meta_admin_begin() != META_OK) {
		snprintf(action, sizeof(action), "database busy or failing");
		goto out;
	}
	/* The web server's names for it too, before and after (pub.h). */
	holders = pub_blob_forgetting(st, digest);
	if (meta_admin_blob_forget(digest) == META_ERR ||
	    meta_admin_end(true) != META_OK) {
		meta_admin_end(false);
		pub_blob_forgot(st, digest, holders);
		snprintf(action, sizeof(action), "could not remove the rows");
		goto out;
	}
	pub_blob_forgot(st, digest, holders);
	if (f == FIND_MISSING) {
		ok = true;
		snprintf(action, sizeof(action), "removed the rows");
		goto out;
	}
	if (snprintf(qdir, sizeof(qdir), "%s/quarantine", data_dir) >=
	    (int)sizeof(qdir)) {
		snprintf(action, sizeof(action),
		    "removed the rows; the "
		    "quarantine directory's name is too long");
		goto out;
	}
	be = blob_quarantine(h, digest, qdir, qpath, sizeof(qpath));
	if (be == BLOB_NOTSUP) {
		snprintf(action, sizeof(action),
		    "removed the rows; the blob "
		    "handler cannot move the bytes out");
		goto out;
	}
	if (be != BLOB_OK) {
		snprintf(action, sizeof(action),
		    "removed the rows; could not "
		    "move the bytes to %s: %s",
		    qpath, strerror(errno));
		goto out;
	}
	ok = true;
	snprintf(action, sizeof(action),
	    "removed the rows; moved the bytes "
	    "to %s",
	    qpath);
out:
	json_object_set_new(p, "repaired", json_boolean(ok));
	json_object_set_new(p, "action", json_string(action));
}

/* Confirm each noted blob under the exclusive lock; report (and repair)
 * what is still wrong. */
static int
confirm(struct store *st, json_t *noted, bool do_repair, json_t *problems)
{
	struct blob_handler *h = &st->blobs;
	char detail[PATH_MAX + 256];
	const char *digest, *name;
	uint64_t hashed = 0;
	enum finding f;
	json_t *v, *p;
	int lock;

	lock = blob_lock(st->data_dir, true);
	if (lock < 0)
		return -1;
	json_object_foreach(noted, digest, v) {
		name = json_string_value(json_object_get(v, "path"));
		f = check_blob(h, digest, name,
		    json_integer_value(json_object_get(v, "finding")) ==
			FIND_CORRUPT,
		    detail, sizeof(detail), &hashed);
		if (f == FIND_ERR) {
			blob_unlock(lock);
			return -1;
		}
		if (f == FIND_OK || f == FIND_GONE)
			continue; /* a gc or upload was midway */
		p = json_pack("{s:s, s:s, s:s, s:b}", "problem",
		    finding_name[f], "digest", digest, "detail", detail,
		    "repaired", 0);
		if (name != NULL)
			json_object_set_new(p, "path", json_string(name));
		if (f != FIND_ORPHAN) {
			json_t *refs = json_array();

			meta_admin_referencing(digest, refs);
			json_object_set_new(p, "referenced_by", refs);
		}
		if (do_repair)
			repair(st, digest, f, p);
		json_array_append_new(problems, p);
	}
	blob_unlock(lock);
	return 0;
}

/* Pages of rows: note each whose blob the walk did not see (keys of
 * seen) and the handler does not have now. */
static int
scan_rows(struct blob_handler *h, json_t *seen, json_t *noted, uint64_t *nrows)
{
	char after[DIGEST_STR_MAX] = "";
	json_t *page = json_array(), *v;
	struct blob_location loc;
	uint64_t size;
	size_t i;

	do {
		json_array_clear(page);
		if (meta_admin_blob_page(after, ROW_PAGE, page) != META_OK) {
			json_decref(page);
			return -1;
		}
		json_array_foreach(page, i, v) {
			const char *digest = json_string_value(
			    json_object_get(v, "digest"));

			(*nrows)++;
			snprintf(after, sizeof(after), "%s", digest);
			if (check_digest(digest, strlen(digest)) != DIGEST_OK)
				continue; /* integrity is not ours to judge */
			if (json_object_get(seen, digest) != NULL ||
			    json_object_get(noted, digest) != NULL)
				continue;
			if (blob_stat(h, "", digest, &size, &loc) ==
			    BLOB_NOTFOUND)
				note(noted, digest, FIND_MISSING, NULL);
		}
	} while (json_array_size(page) == ROW_PAGE);
	json_decref(page);
	return 0;
}

/* A problem "unlinked" per manifest reference its repository holds no
 * link to (meta_admin_unlinked).  Never repaired: the blob is pushed to
 * the repository again (or the image deleted).  0, or -1. */
static int
unlinked(json_t *problems)
{
	json_t *rows = json_array(), *v;
	size_t i;

	if (rows == NULL || meta_admin_unlinked(rows) != META_OK) {
		json_decref(rows);
		return -1;
	}
	json_array_foreach(rows, i, v) {
		const char *repo = json_string_value(
		    json_object_get(v, "repository"));
		const char *man = json_string_value(
		    json_object_get(v, "manifest"));
		const char *blob = json_string_value(
		    json_object_get(v, "blob"));
		char detail[1200], ref[400];

		if (repo == NULL || man == NULL || blob == NULL)
			continue;
		snprintf(ref, sizeof(ref), "%s@%s", repo, man);
		snprintf(detail, sizeof(detail),
		    "%s references this blob, which %s does not hold: pulls "
		    "of that image fail",
		    ref, repo);
		json_array_append_new(problems,
		    json_pack("{s:s, s:s, s:s, s:b, s:s, s:[s]}", "problem",
			"unlinked", "digest", blob, "detail", detail,
			"repaired", 0, "action",
			"push the blob to the repository again, or delete "
			"the image",
			"referenced_by", ref));
	}
	json_decref(rows);
	return 0;
}

int
fsck_run(struct store *st, const struct fsck_options *o, json_t *report)
{
	struct blob_handler *h = &st->blobs;
	json_t *problems = json_array(), *files = json_array();
	json_t *seen = json_object(), *noted = json_object();
	json_t *msgs = json_array(), *v, *p;
	struct walk_ctx w = { files, seen, problems, false };
	char detail[PATH_MAX + 256];
	uint64_t total = 0, hashed = 0, nrows = 0;
	long unrepaired = 0, pub_missing = 0, pub_made = 0;
	enum finding f;
	size_t i;
	int rc = -1;

	if (meta_admin_integrity(msgs) != META_OK)
		goto out;
	json_array_foreach(msgs, i, v)
		json_array_append_new(problems,
		    json_pack("{s:s, s:O, s:b}", "problem", "database",
			"detail", v, "repaired", 0));
	if (!o->files || !blob_can(h, BLOB_CAN_WALK))
		goto done;

	if (blob_walk(h, walked, &w) != BLOB_OK || w.failed)
		goto out;
	json_array_foreach(files, i, v)
		total += (uint64_t)json_integer_value(
		    json_object_get(v, "size"));
	progress_report(&o->progress, "hash", 0, total);
	json_array_foreach(files, i, v) {
		const char *digest = json_string_value(
		    json_object_get(v, "digest"));
		const char *name = json_string_value(
		    json_object_get(v, "path"));

		f = check_blob(h, digest, name, true, detail, sizeof(detail),
		    &hashed);
		if (f == FIND_ERR)
			goto out;
		if (f == FIND_CORRUPT || f == FIND_ORPHAN || f == FIND_MISSING)
			note(noted, digest, f, name);
		progress_report(&o->progress, "hash", hashed, total);
	}
	if (scan_rows(h, seen, noted, &nrows) != 0)
		goto out;
	if (json_object_size(noted) > 0 &&
	    confirm(st, noted, o->repair, problems) != 0)
		goto out;
done:
	if (pub_check(st, o->repair, problems) < 0 ||
	    pub_fill(st, o->repair, &pub_missing, &pub_made) != 0)
		goto out;
	/* After any repair: a missing blob's rows removed leave the images
	 * that reference it unpullable, which is said here. */
	if (unlinked(problems) != 0)
		goto out;
	json_array_foreach(problems, i, p) {
		if (!json_is_true(json_object_get(p, "repaired")))
			unrepaired++;
	}
	rc = (int)unrepaired;
out:
	json_object_set_new(report, "files",
	    json_integer((json_int_t)json_array_size(files)));
	json_object_set_new(report, "blobs", json_integer((json_int_t)nrows));
	json_object_set_new(report, "bytes_hashed",
	    json_integer((json_int_t)hashed));
	json_object_set_new(report, "problems", problems);
	json_object_set_new(report, "unrepaired", json_integer(unrepaired));
	json_object_set_new(report, "pub_missing", json_integer(pub_missing));
	json_object_set_new(report, "pub_made", json_integer(pub_made));
	json_decref(files);
	json_decref(seen);
	json_decref(noted);
	json_decref(msgs);
	return rc;
}
