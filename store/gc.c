/* gc.c -- online garbage collection; see gc.h.
 *
 * What is garbage.  A blob is garbage when no manifest in any repository
 * references it (manifest_references) and it was neither stored
 * (blobs.created_at) nor linked into a repository (blob_links.linked_at,
 * refreshed by every push and mount of it) within the grace window: a
 * client uploads the layers first and the manifest last, and the window
 * keeps those layers until the manifest arrives.
 *
 * Why a racing push cannot lose a blob.  The invariant is: whenever a
 * blobs row exists, its bytes exist -- so that everything the metadata
 * shows (a linked blob, a manifest's layers) can be served.  The
 * argument relies on the metadata backend's concurrency contract
 * (store/meta.h, C1-C6); the SQLite terms below are how SQLite meets it,
 * and the section after the two points says what changes when several
 * hosts share one PostgreSQL database and one blob store.  Two things
 * can break the invariant, and each is closed off:
 *
 * 1. A manifest PUT against gc's row deletion.  The PUT checks that every
 *    referenced blob is linked and inserts its manifest_references in one
 *    BEGIN IMMEDIATE transaction (meta_manifest_put); gc re-checks that a
 *    blob is still garbage and deletes its rows in one BEGIN IMMEDIATE
 *    transaction too (meta_gc_blob_delete).  SQLite runs write
 *    transactions one at a time, each on the newest state, so either the
 *    PUT commits first -- gc then sees the reference and keeps the blob --
 *    or gc does -- the PUT then sees no link and answers
 *    MANIFEST_BLOB_UNKNOWN, writing nothing.  No manifest ever references
 *    a blob gc deleted.  Mounts (meta_blob_mount) are the same: they copy
 *    a link inside BEGIN IMMEDIATE, so they copy one that exists or none.
 *
 * 2. A blob upload against gc's file deletion.  An upload makes a blob
 *    visible in two steps, outside any one transaction: the handler's
 *    put() (rename the staging file into place -- or, when the file is
 *    already there, just drop the staging copy), then meta_blob_commit()
 *    writes the rows.  gc deletes in the other order: rows, commit, then
 *    the file.  Were they free to interleave, an upload of bytes gc is
 *    removing could find the file "already there", gc unlink it, and the
 *    upload commit rows for a file that is gone: a blob that HEADs 200
 *    and GETs 404, forever.  So both take the blob lock (blob_lock.h):
 *    an upload holds it shared from put() to commit, gc holds it
 *    exclusive from its BEGIN IMMEDIATE to its last unlink.  An upload
 *    therefore runs entirely before a gc batch -- its rows are committed
 *    and gc's re-check sees them (the blob is kept, unless it is truly
 *    garbage with grace 0, and then rows and file go together) -- or
 *    entirely after -- the file and rows are gone and the upload's put()
 *    stores the bytes anew.  Re-checking "is there a row?" after the
 *    unlink would not do: the upload's commit can come later still.
 *
 * Several hosts.  With `[metadata] backend = postgresql`, the workers of
 * every host, and `berth gc` or `berth fsck` on any of them, share one
 * database and one blob store; what a single host got from SQLite and
 * from flock(2) must then hold across machines:
 *  - Point 1 needs write transactions that run as if one at a time, each
 *    on the newest state, for every writer on every host.  PostgreSQL's
 *    transactions start with pg_advisory_xact_lock on the schema's writer
 *    key (meta.h, "How PostgreSQL meets it"): one lock in the database,
 *    which every connection from every host queues on before reading, at
 *    READ COMMITTED, where each statement then reads what the previous
 *    holder committed.  The same two orders as above, the same
 *    conclusion: no manifest ever references a blob gc deleted.
 *  - Point 2 needs a blob lock every host honours: flock(2) orders only
 *    the processes of one machine, and on a shared file system (NFS) it
 *    is no lock at all.  So blob_lock() takes, after the local flock, the
 *    metadata backend's lock (meta_blob_lock(): PostgreSQL's session
 *    advisory lock on the schema's blob key, shared for uploads,
 *    exclusive for gc and fsck --repair).  An upload on host B then runs
 *    entirely before or entirely after a gc batch on host A, exactly as
 *    on one host.  Always the flock first, then the database's lock, in
 *    every process: no two wait for each other; gc holds the exclusive
 *    lock only while no upload holds it shared, so an upload waiting for
 *    the writer lock inside a batch cannot happen.
 *  - A session lock lives as long as its connection.  Were the database
 *    connection of an upload lost between put() and commit (the server
 *    restarted), the lock would be gone and a gc could run in between;
 *    so meta_blob_commit() refuses (503) when the connection that took
 *    the lock is not the one it would commit on, and the client uploads
 *    again.  A gc whose connection is lost loses its transaction too:
 *    nothing is committed, and its unlinks are not reached (they follow
 *    a commit that succeeded).
 *  - The grace window's clock: created_at and linked_at are written by
 *    each host's clock and compared with gc's host's cutoff; keep the
 *    hosts' clocks in step (NTP), and the grace window far longer than
 *    any skew.
 * What the hosts must share is therefore the database (the schema) and
 * the blob store; the flock file, the web server's body directory and
 * the run directory stay each host's own.
 *
 * 3. Orphans: bytes stored with no blobs row.  An upload whose put()
 *    renamed the bytes into place but whose commit then failed (a full
 *    disk: SQLITE_FULL), or a crash of gc between its commit and its
 *    unlinks, leaves a file without rows: invisible, and no row will
 *    ever point at it.  gc lists the stored blobs through the handler's
 *    walk() (no lock: a listing may be stale, never wrong about bytes
 *    that were there all along), keeps those stored within the grace
 *    window, and then, holding the blob lock exclusively, asks for each
 *    one's row and deletes the bytes of those without one.  Under the
 *    exclusive lock no upload is between its put() and its commit (every
 *    upload holds the lock shared over both), so "no row now" is final
 *    for every put that came before: an upload that found the orphan
 *    "already there" has committed its rows (gc sees them and keeps the
 *    bytes), and one that comes after the batch stores its bytes anew.
 *    The grace window is a margin on top: the lock alone is the safety
 *    argument (a handler that cannot tell when bytes were stored has
 *    them taken for old enough).
 *
 * Readers are not
 * locked out: a GET that looked a garbage blob up just before gc
 * committed may find the file gone and answer 404, as it would a moment
 * later anyway.  What no server-side scheme can fix: a client that saw a
 * blob with HEAD and pushes its manifest after gc removed that
 * unreferenced blob gets MANIFEST_BLOB_UNKNOWN and must upload again --
 * keep the grace window longer than a push takes.
 *
 * gc works in batches of GC_BATCH blobs so that uploads wait on the
 * exclusive lock for one batch at most. */
#include "gc.h"

#include <stdio.h>
#include <time.h>

#include "blob_lock.h"
#include "meta_admin.h"
#include "pub.h"

#define GC_BATCH 64 /* blobs per exclusive-lock section */

static uint64_t
sum_sizes(json_t *list)
{
	uint64_t total = 0;
	json_t *v;
	size_t i;

	json_array_foreach(list, i, v)
		total += (uint64_t)json_integer_value(
		    json_object_get(v, "size"));
	return total;
}

/* Report what would go: every deletion inside one transaction that is
 * rolled back, so the blobs freed by removing untagged manifests are
 * counted too. */
static int
dry_run(int64_t cutoff, const struct gc_options *o, json_t *manifests,
    json_t *blobs)
{
	if (meta_admin_begin() != META_OK)
		return -1;
	if (o->untagged && meta_gc_untagged(cutoff, manifests) != META_OK)
		goto fail;
	if (meta_gc_candidates(cutoff, blobs) != META_OK)
		goto fail;
	meta_admin_end(false);
	return 0;
fail:
	meta_admin_end(false);
	return -1;
}

/* One batch, under the exclusive blob lock: re-check and delete the rows
 * in one transaction, commit, then delete the bytes.  Appends what went
 * to `blobs` and problems to `errors`. */
static int
delete_batch(struct store *st, int64_t cutoff, json_t *candidates, size_t from,
    size_t to, json_t *blobs, json_t *errors)
{
	struct blob_handler *h = &st->blobs;
	json_t *victims = json_array(), *v;
	json_t *names = json_object(); /* digest: holders (pub.h) */
	int lock, rc = -1;
	enum blob_err be;
	uint64_t size;
	bool deleted;
	size_t i;

	lock = blob_lock(st->data_dir, true);
	if (lock < 0)
		goto out;
	if (meta_admin_begin() != META_OK)
		goto out;
	for (i = from; i < to; i++) {
		const char *digest = json_string_value(
		    json_object_get(json_array_get(candidates, i), "digest"));
		json_t *holders;

		/* The web server's names go first, inside the transaction,
		 * so that no mount links the blob between the two. */
		holders = pub_blob_forgetting(st, digest);
		if (holders != NULL)
			json_object_set_new(names, digest, holders);
		if (meta_gc_blob_delete(digest, cutoff, &deleted, &size) !=
		    META_OK) {
			meta_admin_end(false);
			goto out;
		}
		if (deleted)
			json_array_append_new(victims,
			    json_pack("{s:s, s:I}", "digest", digest, "size",
				(json_int_t)size));
	}
	if (meta_admin_end(true) != META_OK)
		goto out;
	/* The names again; a blob the re-check kept gets them back. */
	for (i = from; i < to; i++) {
		const char *digest = json_string_value(
		    json_object_get(json_array_get(candidates, i), "digest"));
		json_t *holders = json_incref(json_object_get(names, digest));

		pub_blob_forgot(st, digest, holders);
	}
	json_array_foreach(victims, i, v)
		json_object_del(names,
		    json_string_value(json_object_get(v, "digest")));
	pub_blob_restore(st, names);
	/* The rows are gone and no upload can be between put and commit:
	 * the bytes may go.  The repository passed is "": the blob belongs
	 * to none any more (blob.h, del). */
	json_array_foreach(victims, i, v) {
		const char *digest = json_string_value(
		    json_object_get(v, "digest"));

		be = blob_delete(h, "", digest);
		if (be != BLOB_OK && be != BLOB_NOTFOUND) {
			char msg[256];

			snprintf(msg, sizeof(msg),
			    "%s: rows removed, bytes not "
			    "(blob handler error %d); fsck --repair removes them",
			    digest, (int)be);
			json_array_append_new(errors, json_string(msg));
		}
		json_array_append(blobs, v);
	}
	rc = 0;
out:
	blob_unlock(lock);
	json_decref(victims);
	json_decref(names);
	return rc;
}

/* What the orphan walk collects: stored blobs (walk(), blob.h) stored
 * before the cutoff, as {digest, size}; whether they have rows is asked
 * later, under the lock. */
struct orphan_walk {
	json_t *found;
	int64_t cutoff;
	bool failed; /* out of memory: the walk was stopped */
};

/* blob_walk_fn: keep a blob stored before the cutoff (or at a time the
 * handler does not know). */
static int
orphan_walked(void *arg, const struct blob_entry *e)
{
	struct orphan_walk *w = arg;

	if (e->digest == NULL || (e->mtime != 0 && e->mtime > w->cutoff))
		return 0;
	if (json_array_append_new(w->found,
		json_pack("{s:s, s:I}", "digest", e->digest, "size",
		    (json_int_t)e->size)) != 0) {
		w->failed = true;
		return 1;
	}
	return 0;
}

/* Reclaim orphans: stored blobs with no blobs row, stored before the
 * cutoff (bytes an upload renamed into place whose commit then failed,
 * on a full disk say, or that a crash of gc left).  Each batch holds the
 * blob lock exclusively, so no upload is between its put() and its
 * commit: a blob without a row then gets none from an upload in flight,
 * and an upload after the batch stores its bytes anew.  Dry run: only
 * list them.  Appends {digest, size} to orphans and problems to errors;
 * a handler that cannot walk has none to offer (0).  0, or -1 on an
 * error (logged). */
static int
reclaim_orphans(struct store *st, const struct gc_options *o, int64_t cutoff,
    json_t *orphans, json_t *errors)
{
	struct blob_handler *h = &st->blobs;
	struct orphan_walk w = { json_array(), cutoff, false };
	enum meta_err me;
	enum blob_err be;
	uint64_t size;
	size_t n, i;
	int lock = -1, rc = -1;

	if (!blob_can(h, BLOB_CAN_WALK)) {
		rc = 0;
		goto out;
	}
	if (blob_walk(h, orphan_walked, &w) != BLOB_OK || w.failed)
		goto out;
	n = json_array_size(w.found);
	for (i = 0; i < n; i++) {
		json_t *v = json_array_get(w.found, i);
		const char *digest = json_string_value(
		    json_object_get(v, "digest"));

		if (!o->dry_run && i % GC_BATCH == 0) {
			blob_unlock(lock);
			if ((lock = blob_lock(st->data_dir, true)) < 0)
				goto out;
		}
		me = meta_admin_blob(digest, &size);
		if (me == META_OK)
			continue;
		if (me != META_NOTFOUND)
			goto out;
		if (!o->dry_run) {
			be = blob_delete(h, "", digest);
			if (be == BLOB_NOTFOUND)
				continue; /* gone meanwhile */
			if (be != BLOB_OK) {
				char msg[256];

				snprintf(msg, sizeof(msg),
				    "%s: orphan bytes not removed "
				    "(blob handler error %d)",
				    digest, (int)be);
				json_array_append_new(errors, json_string(msg));
				continue;
			}
		}
		json_array_append(orphans, v);
	}
	rc = 0;
out:
	blob_unlock(lock);
	json_decref(w.found);
	return rc;
}

int
gc_run(struct store *st, const struct gc_options *o, json_t *report)
{
	struct blob_handler *h = &st->blobs;
	json_t *manifests = json_array(), *blobs = json_array();
	json_t *errors = json_array(), *candidates = json_array();
	json_t *orphans = json_array();
	int64_t cutoff = (int64_t)time(NULL) - o->grace;
	size_t n, i;
	int rc = -1;

	json_object_set_new(report, "dry_run", json_boolean(o->dry_run));
	json_object_set_new(report, "grace", json_integer(o->grace));
	if (!o->dry_run && !blob_can(h, BLOB_CAN_DELETE)) {
		char msg[128];

		snprintf(msg, sizeof(msg), "blob handler %s cannot delete",
		    h->ops->name);
		json_array_append_new(errors, json_string(msg));
		goto out;
	}
	if (o->dry_run) {
		rc = dry_run(cutoff, o, manifests, blobs);
		if (rc == 0)
			rc = reclaim_orphans(st, o, cutoff, orphans, errors);
		goto out;
	}
	if (o->untagged) {
		if (meta_admin_begin() != META_OK)
			goto out;
		if (meta_gc_untagged(cutoff, manifests) != META_OK) {
			meta_admin_end(false);
			json_array_clear(manifests);
			goto out;
		}
		/* The web server's files before and after the commit. */
		pub_manifests_removed(st, manifests);
		if (meta_admin_end(true) != META_OK) {
			meta_admin_end(false);
			json_array_clear(manifests);
			goto out;
		}
		pub_manifests_removed(st, manifests);
	}
	if (meta_gc_candidates(cutoff, candidates) != META_OK)
		goto out;
	n = json_array_size(candidates);
	progress_report(&o->progress, "gc", 0, n);
	for (i = 0; i < n; i += GC_BATCH) {
		size_t to = i + GC_BATCH < n ? i + GC_BATCH : n;

		if (delete_batch(st, cutoff, candidates, i, to, blobs,
			errors) != 0)
			goto out;
		progress_report(&o->progress, "gc", to, n);
	}
	rc = reclaim_orphans(st, o, cutoff, orphans, errors);
out:
	if (rc != 0 && json_array_size(errors) == 0)
		json_array_append_new(errors,
		    json_string("stopped: the metadata database refused the "
				"work (see above); on a full disk it needs "
				"some room to record the deletes, so free a "
				"few MiB first"));
	json_object_set_new(report, "manifests_removed",
	    json_integer((json_int_t)json_array_size(manifests)));
	json_object_set_new(report, "blobs_removed",
	    json_integer((json_int_t)json_array_size(blobs)));
	json_object_set_new(report, "bytes_reclaimed",
	    json_integer((json_int_t)sum_sizes(blobs)));
	json_object_set_new(report, "orphans_removed",
	    json_integer((json_int_t)json_array_size(orphans)));
	json_object_set_new(report, "orphan_bytes",
	    json_integer((json_int_t)sum_sizes(orphans)));
	json_object_set_new(report, "orphans", orphans);
	json_object_set_new(report, "manifests", manifests);
	json_object_set_new(report, "blobs", blobs);
	json_object_set_new(report, "errors", errors);
	json_decref(candidates);
	return rc;
}
