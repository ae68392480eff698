/* meta.h -- the metadata seam: repositories, blob links, manifests, tags,
 * referrers and upload sessions.
 *
 * The core never talks to a database directly: it calls the meta_*()
 * wrappers below (meta.c; the operator's half in meta_admin.h), which
 * dispatch through the struct meta_ops of the process's open backend and
 * supply the fallbacks of optional operations.  The shape is the blob
 * seam's (blob.h): a versioned table of function pointers, each
 * contract written here, optional ones NULL.  A backend is one file that
 * defines its table and registers it with META_BACKEND(table) at file
 * scope; `[metadata] backend = NAME` picks it (default sqlite), and it
 * reads its own settings from [metadata.NAME] through base/conf.h.
 * Backends: SQLite (meta_sqlite.c, meta_sqlite_admin.c,
 * meta_sqlite_auth.c), PostgreSQL (meta_pg.c, meta_pg_admin.c,
 * meta_pg_auth.c; schema in sql/postgresql/).
 *
 * Each process opens the metadata once (meta_open(), after fork); the
 * wrappers then use that backend.  All string arguments are validated
 * values (validate.h); digests are sha256/sha512 strings; sizes bytes;
 * times unix seconds.
 *
 * Errors: every function returns enum meta_err; META_ERR means the
 * backend failed (already logged) and is answered with 500, META_FULL
 * that a write found no room (507), META_UNAVAILABLE that the backend
 * cannot be reached (503).  The front maps them in one place,
 * cgi/errors.c.
 *
 * The concurrency contract.  Many processes (the workers, `berth gc`,
 * `berth fsck`) use one metadata store at once, and garbage collection
 * deletes while clients push (store/gc.c has the whole argument, the
 * blob lock is store/blob_lock.h).  A backend must give:
 *
 *  C1 Atomic operations.  Every writing operation below is all or
 *     nothing: blob_commit (the blob row, the link, the upload session's
 *     removal), blob_mount, manifest_put (repository, manifest, its
 *     references, the tag and the list of tags), manifest_delete (with
 *     its tags and references), tag_delete, blob_unlink, upload_advance,
 *     and each of meta_admin_begin() .. meta_admin_end(true).  A failed
 *     write leaves nothing behind (META_FULL and META_ERR included).
 *  C2 Serialised writers on the newest state.  Write transactions behave
 *     as if run one at a time, each reading what the one before
 *     committed; a writer that finds another in its way waits (for a
 *     bounded time, then META_ERR) instead of failing halfway.
 *     meta_admin_begin() takes that write position at once, so what the
 *     transaction reads stays the newest state until meta_admin_end().
 *  C3 Check and write together.  manifest_put checks that every
 *     reference exists in the repository inside the transaction that
 *     writes the manifest: on META_MISSING nothing was written.
 *     blob_mount copies a link inside its transaction: one that exists
 *     then, or none (META_NOTFOUND).  upload_advance compares the old
 *     size and writes in one step (META_CONFLICT otherwise).
 *  C4 Fresh links.  blob_commit and blob_mount set the link's linked_at
 *     to now even when the link exists, restarting gc's grace window.
 *  C5 gc re-checks.  meta_gc_candidates() is a snapshot only;
 *     meta_gc_blob_delete(), inside meta_admin_begin(), decides again by
 *     the same rule on the newest state and deletes rows only if the
 *     blob is still garbage.  With C2 and C3 this is why no manifest
 *     ever references a blob gc deleted (store/gc.c, point 1).
 *  C6 The blob lock is not the backend's.  Callers hold it (shared) from
 *     the blob handler's put to blob_commit, and gc holds it exclusive
 *     from meta_admin_begin() to its last unlink (store/gc.c, point 2);
 *     a backend only has to commit blob_commit before returning, so
 *     that the bytes and rows it covers are in step when the lock goes.
 *  C7 Durability.  Once a write returns META_OK, it survives a crash of
 *     the process and of the machine.
 *
 * How SQLite meets it: C1 each write is one transaction (or one
 * statement); C2 writers use BEGIN IMMEDIATE on a WAL database, so the
 * write lock is taken before anything is read and others queue on the
 * busy timeout (10 s); C3 the checks run inside that transaction; C4
 * the link upsert sets linked_at = excluded.linked_at; C5 the re-check
 * is a SELECT with the candidates' WHERE clause inside the IMMEDIATE
 * transaction; C6 commit happens before blob_commit returns; C7 WAL with
 * synchronous = FULL.
 *
 * How PostgreSQL meets it (many processes on many hosts, one database):
 * C1 each write is one transaction (BEGIN .. COMMIT, rolled back on any
 * error), or one statement (upload_create/advance/delete); the audit
 * triggers run inside it (the actor, meta_set_actor(), is a session
 * setting the trigger reads).  The identity writes (meta_auth.h) are
 * transactions under the writer lock too, so a user's and a CI token's
 * name are checked free and inserted in one step on every host.  C2 every write transaction starts with
 * BEGIN; SELECT pg_advisory_xact_lock(writer key of the schema): the
 * writers of every host queue on that one lock before they read
 * anything, at READ COMMITTED, where each statement reads what was
 * committed before it -- after the lock, the newest state; the wait is
 * bounded by lock_timeout (default 10 s; then META_ERR).  The lock is
 * released by COMMIT or ROLLBACK, and by the server when a connection
 * dies.  meta_admin_begin() is the same BEGIN, held until
 * meta_admin_end().  C3 the reference check (one unnest() query), the
 * mount's INSERT .. SELECT and the writes run after the lock in the same
 * transaction; upload_advance is one UPDATE .. WHERE size = old: a
 * second advance from the same size waits on the row lock, re-reads the
 * row and updates nothing (META_CONFLICT).  Unique constraints
 * (repositories.name, blobs.digest, the (repository, digest) and
 * (repository, name) keys) with ON CONFLICT make every upsert resolve to
 * one row.  C4 ON CONFLICT DO UPDATE SET linked_at = excluded.linked_at.
 * C5 the re-check is a SELECT with the candidates' WHERE clause inside
 * the locked transaction.  C6 commit happens before blob_commit
 * returns; the blob lock itself is a session advisory lock taken through
 * meta_blob_lock(), which every host honours; blob_commit refuses
 * (META_UNAVAILABLE) when that lock was lost with its connection.  C7
 * synchronous_commit = on: COMMIT returns once the WAL is flushed (the
 * server's fsync setting decides the rest). */
#ifndef BERTH_META_H
#define BERTH_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "conf.h"
#include "digest.h"
#include "validate.h"

#define META_OPS_VERSION 1

struct meta_ci_token; /* meta_auth.h */

enum meta_err {
	META_OK = 0,
	META_NOTFOUND,	 /* no such row (repository, blob, manifest, ...) */
	META_CONFLICT,	 /* the row changed under us (upload advanced) */
	META_MISSING,	 /* manifest references content not in the repository */
	META_FULL,	 /* the disk is full: nothing was written */
	META_ERR,	 /* backend error; logged */
	META_UNAVAILABLE /* the backend cannot be reached (a database
				 * server down, no metadata open): nothing
				 * was done; logged.  The front answers 503 */
};

/* meta_open -- open the metadata backend that [metadata] backend of conf
 * names (default sqlite) with its section [metadata.NAME]; for SQLite
 * that is the database [metadata.sqlite] path (default
 * <data_dir>/berth.db; a relative path is taken from data_dir), created
 * if needed, its schema brought forward to the newest migration.  Once
 * per process, after fork; the wrappers below use it until
 * meta_close().  Returns META_OK, META_ERR (unknown backend, a table of
 * an unknown META_OPS_VERSION or missing a required operation, bad
 * settings: reported), or the backend's error. */
enum meta_err meta_open(struct conf *conf, const char *data_dir);

/* meta_close -- close what meta_open() opened.  Idempotent. */
void meta_close(void);

/* meta_exists -- does the metadata store that conf selects exist
 * already (an operator command refuses to create one)?  META_OK when it
 * does, META_NOTFOUND when it does not, META_ERR on a bad setting.  In
 * both of the first two cases `where` (cap bytes) names it for messages
 * (SQLite: the file's path).  A backend that cannot tell answers
 * META_OK; one whose server cannot be reached META_UNAVAILABLE (logged).
 * Needs no meta_open(). */
enum meta_err meta_exists(struct conf *conf, const char *data_dir, char *where,
    size_t cap);

/* meta_backend -- the backend name conf selects ([metadata] backend,
 * default "sqlite"); the string lives as long as conf. */
const char *meta_backend(struct conf *conf);

/* --- Blobs ------------------------------------------------------------ */

/* meta_blob_linked -- does repository `repo` link blob `digest`?  On
 * META_OK sets *size (bytes). */
enum meta_err meta_blob_linked(const char *repo, const char *digest,
    uint64_t *size);

/* meta_blob_commit -- record a blob whose bytes were just made visible,
 * and link it into repo, in one transaction.  When `upload` is not NULL
 * that upload session is deleted in the same transaction.  Idempotent;
 * an existing link gets a fresh linked_at, which restarts gc's grace
 * window (store/gc.c).  Callers hold the blob lock (blob_lock.h) from
 * the put of the bytes to this commit. */
enum meta_err meta_blob_commit(const char *repo, const char *digest,
    uint64_t size, const char *upload);

/* meta_blob_mount -- link into repo a blob that repository `from` links
 * (oci-spec.md 4.6), refreshing linked_at as meta_blob_commit does.
 * META_NOTFOUND when `from` does not link it. */
enum meta_err meta_blob_mount(const char *repo, const char *from,
    const char *digest, uint64_t *size);

/* meta_blob_holders -- append to the jansson array `out` the names of
 * up to `max` repositories that link blob `digest`, in byte order (the
 * candidates of a mount without `from`, oci-spec.md 4.6).  A snapshot:
 * meta_blob_mount() re-checks the one chosen.  A backend without the
 * operation gives none (no automatic mount). */
enum meta_err meta_blob_holders(const char *digest, size_t max, json_t *out);

/* meta_blob_unlink -- remove repo's link to the blob; the bytes stay for
 * garbage collection.  META_NOTFOUND when not linked. */
enum meta_err meta_blob_unlink(const char *repo, const char *digest);

/* --- Manifests and tags ---------------------------------------------- */

struct meta_manifest {
	char digest[DIGEST_STR_MAX];
	char media_type[256];
	uint64_t size;	     /* bytes */
	unsigned char *body; /* malloc'd, caller frees; NULL unless asked */
};

/* meta_manifest_get -- look a manifest up by tag or digest (`reference`,
 * `by_digest` says which).  With want_body, m->body receives a malloc'd
 * copy of the exact bytes that the caller frees.  META_NOTFOUND when the
 * repository or the manifest is unknown. */
enum meta_err meta_manifest_get(const char *repo, const char *reference,
    bool by_digest, bool want_body, struct meta_manifest *m);

struct meta_ref {
	const char *digest;
	bool manifest; /* a child manifest (index), else a blob */
};

/* What a manifest PUT stores; every pointer is borrowed for the call. */
struct meta_manifest_put {
	const char *repo;
	const char *tag;    /* NULL when pushed by digest */
	const char *digest; /* of body */
	const char *media_type;
	const unsigned char *body;
	size_t size;		     /* bytes of body */
	const char *subject;	     /* NULL when none */
	const char *artifact_type;   /* NULL when none */
	const char *annotations;     /* JSON object text, or NULL */
	const struct meta_ref *refs; /* must exist in repo */
	size_t nrefs;
	/* More tags to move to the manifest in the same transaction, besides
	 * `tag` (the ?tag= values of a push by digest, oci-spec.md end-7b):
	 * ntags valid tags, NULL when ntags is 0; a repeat is harmless. */
	const char *const *tags;
	size_t ntags;
};

/* meta_manifest_put -- store a manifest and move the tag and every one of
 * tags[] to it, in one transaction (all of them or none), after checking
 * that every ref exists in the repository.
 * On META_MISSING, *missing is a jansson array of the missing digests
 * (caller decrefs) and nothing was written.  Pushing the same bytes again
 * only moves the tag. */
enum meta_err meta_manifest_put(const struct meta_manifest_put *p,
    json_t **missing);

/* meta_manifest_delete -- delete the manifest and every tag pointing at
 * it, at once.  META_NOTFOUND when absent. */
enum meta_err meta_manifest_delete(const char *repo, const char *digest);

/* meta_tag_delete -- delete one tag; the manifest stays.  META_NOTFOUND
 * when absent. */
enum meta_err meta_tag_delete(const char *repo, const char *tag);

/* meta_tags_list -- up to n tag names of repo after `last` (exclusive;
 * NULL from the start), in byte order, appended to the jansson array
 * `out`; *more tells whether any remain.  META_NOTFOUND for an unknown
 * repository. */
enum meta_err meta_tags_list(const char *repo, const char *last,
    unsigned long n, json_t *out, bool *more);

/* meta_catalog -- the same for repository names, leaving out every
 * repository that holds no manifest and links no blob (one emptied by
 * deletes: it disappears from the catalog by itself, and comes back
 * with its next push). */
enum meta_err meta_catalog(const char *last, unsigned long n, json_t *out,
    bool *more);

/* One referrer of a manifest (oci-spec.md 6.2): a manifest whose subject
 * it is.  artifact_type and annotations are malloc'd (NULL when the
 * manifest has none); annotations is the JSON object text as pushed. */
struct meta_referrer {
	char digest[DIGEST_STR_MAX];
	char media_type[256];
	uint64_t size; /* bytes */
	char *artifact_type;
	char *annotations;
};

/* meta_referrers -- the manifests in repo whose subject is `digest`, in
 * push order, optionally only those whose artifact type equals
 * artifact_type (may be NULL), as a malloc'd array of *n rows in *rows
 * (NULL when none) that the caller frees with meta_referrers_free().  An
 * unknown repository gives none.  On error *rows is NULL and *n 0. */
enum meta_err meta_referrers(const char *repo, const char *digest,
    const char *artifact_type, struct meta_referrer **rows, size_t *n);

/* meta_referrers_free -- free rows from meta_referrers() (NULL is fine). */
void meta_referrers_free(struct meta_referrer *rows, size_t n);

/* --- Upload sessions ------------------------------------------------- */

struct meta_upload {
	char uuid[UPLOAD_ID_LEN + 1];
	char repo[NAME_MAX_LEN + 1];
	enum digest_alg alg;
	uint64_t size;			       /* bytes received so far */
	unsigned char state[DIGEST_STATE_MAX]; /* saved hash state */
	size_t state_len;
	int64_t started_at; /* unix seconds */
};

/* meta_upload_create -- record a new session (u->uuid is fresh). */
enum meta_err meta_upload_create(const struct meta_upload *u);

/* meta_upload_get -- the session `uuid` of repository `repo`.
 * META_NOTFOUND when unknown, of another repository, or older than
 * `expiry` seconds. */
enum meta_err meta_upload_get(const char *repo, const char *uuid, long expiry,
    struct meta_upload *u);

/* meta_upload_advance -- store u's new size and hash state, provided the
 * session still has old_size bytes; META_CONFLICT otherwise. */
enum meta_err meta_upload_advance(const struct meta_upload *u,
    uint64_t old_size);

/* meta_upload_delete -- end session uuid; META_OK whether or not it
 * was there. */
enum meta_err meta_upload_delete(const char *uuid);

/* meta_upload_expired -- append to `out` the ids of sessions not touched
 * for `expiry` seconds. */
enum meta_err meta_upload_expired(long expiry, json_t *out);

/* --- The blob lock across hosts --------------------------------------- */

/* meta_blob_lock -- take the backend's blob lock, shared or exclusive,
 * waiting a bounded time: a lock every host using this metadata store
 * honours (PostgreSQL: a session advisory lock).  blob_lock() takes it
 * after the data directory's flock; one at a time per process.
 * META_OK when taken, META_NOTFOUND when the backend has none (SQLite:
 * its store is one host's, the flock is enough), META_UNAVAILABLE or
 * META_ERR when it could not be taken. */
enum meta_err meta_blob_lock(bool exclusive);

/* meta_blob_unlock -- release what meta_blob_lock() took. */
enum meta_err meta_blob_unlock(void);

/* meta_unavailable_seen -- has any operation answered META_UNAVAILABLE
 * since the last call with clear set?  The front asks after a failed
 * request, to answer 503 rather than 500 (the handlers only know
 * "internal error"). */
bool meta_unavailable_seen(bool clear);

/* --- Health ------------------------------------------------------------ */

/* What a scrape of the metrics asks the store (cgi/h_ops.c). */
struct meta_stats {
	uint64_t uploads; /* upload sessions in flight */
	int64_t bytes;	  /* the store's size in bytes; -1 unknown */
};

/* meta_stats -- the upload sessions in flight and the store's size,
 * read from the store now: META_OK only when the store answers, so it is
 * also the health probe (/_berth/health).  Without the backend's stats
 * operation, the sessions are counted from meta_admin_uploads() and the
 * size is unknown.  SQLite also answers META_UNAVAILABLE when the file
 * at its path is no longer the database it opened (replaced, removed):
 * new processes would not find the data this one writes. */
enum meta_err meta_stats(struct meta_stats *out);

/* --- Events: the outbox ---------------------------------------------- *
 *
 * With events on (meta_events(true), which store_open() calls when
 * [notify] names a url: store/outbox.h), the writing operations also
 * write one row per event to the store's outbox, in the transaction of
 * the change itself (C1: the event exists exactly when the change
 * committed):
 *   manifest_put    "push": one per tag applied (the path's tag and each
 *                   ?tag=, a repeat once), or one without a tag when
 *                   pushed by digest alone; a tag moved is a push too
 *   manifest_delete "delete" of the manifest (its tags go with it)
 *   tag_delete      "delete" with the tag (and the manifest it named)
 *   blob_mount      "mount", with the repository it came from
 * Off, they run exactly the statements they ran before (no cost).  A
 * backend that writes events must have the outbox operations below;
 * meta_open() refuses one that lacks them while events are on.  Rows are
 * numbered in commit order (writers are serialised, C2), so a receiver's
 * cursor -- the number of the last row it acknowledged -- is all the
 * delivery state it needs; the deliverer (store/outbox.c) reads and
 * acknowledges through meta_outbox_*(), and a row goes once every
 * configured receiver has it. */

/* meta_events -- turn the outbox writes on or off for this process
 * (before meta_open()).  meta_events_on() tells which. */
void meta_events(bool on);
bool meta_events_on(void);

/* meta_event_request -- what the events of the writes that follow record
 * about the request that makes them, until the next call (NULL, NULL:
 * nothing): `request` a JSON object text ({id, addr, host, method,
 * useragent}, Distribution's RequestRecord), `base_url` the registry as
 * the client reached it ("https://host[/prefix]", for target.url).  Both
 * are copied (at most META_EVENT_REQUEST_MAX and 1023 bytes; longer ones
 * are dropped).  The actor is what meta_set_actor() last named. */
#define META_EVENT_REQUEST_MAX 2048
void meta_event_request(const char *request, const char *base_url);

/* What a backend writes with each event besides the change's own
 * columns (meta_event_context()); strings borrowed until the next
 * meta_event_request()/meta_set_actor(), NULL when unknown. */
struct meta_event_ctx {
	char id[40];	     /* fresh: 32 random hex digits, dashed as a UUID */
	int64_t at;	     /* unix seconds */
	const char *actor;   /* user or CI token name */
	const char *request; /* JSON object text */
	const char *base_url;
};

/* meta_event_context -- fill c for one new event (for backends).  0, or
 * -1 when no random id could be made. */
int meta_event_context(struct meta_event_ctx *c);

/* meta_outbox_next -- append to `out` up to max events (oldest first)
 * that receiver `url` has not acknowledged, each an object {seq, id, at,
 * action, repository, digest, media_type, size, tag, from_repository,
 * actor, request, base_url} (absent values null; request is JSON text).
 * A url not seen before starts at the oldest event kept. */
enum meta_err meta_outbox_next(const char *url, size_t max, json_t *out);

/* meta_outbox_mark -- record a delivery attempt to url: error NULL: it
 * acknowledged every event up to and including seq; else it failed with
 * `error` (kept for meta_outbox_status(), with the time and a count of
 * failures in a row). */
enum meta_err meta_outbox_mark(const char *url, int64_t seq, const char *error);

/* meta_outbox_prune -- delete the events that every url of the jansson
 * array `urls` has acknowledged; *deleted (may be NULL) their number.
 * With no urls nothing goes. */
enum meta_err meta_outbox_prune(const json_t *urls, int64_t *deleted);

/* meta_outbox_status -- append to out one object per url of `urls`:
 * {url, pending, oldest_at (null when none pending), delivered_at,
 * failures, last_error, last_error_at}. */
enum meta_err meta_outbox_status(const json_t *urls, json_t *out);

/* --- The backend table ------------------------------------------------ */

/* A backend's operations.  Each one's contract is that of the wrapper of
 * the same name (here and in meta_admin.h), with the instance from open()
 * as first argument; the wrappers check nothing a backend must check
 * itself.  Required unless marked optional: meta_open() refuses a table
 * missing one. */
struct meta_ops {
	int version;	  /* META_OPS_VERSION; operations are only
					 * ever appended */
	const char *name; /* "sqlite", ... as in [metadata] backend */

	/* Open an instance, once per process after fork; *priv is passed to
	 * every other operation.  Settings come from [`section`] of conf
	 * (section is "metadata.<name>"; conf_bad() reports a bad one, and
	 * open then returns META_ERR); data_dir is the registry's absolute
	 * data directory.  Creates the store if needed and brings its schema
	 * forward.  META_UNAVAILABLE when a server cannot be reached -- or,
	 * for a server's backend, META_OK all the same, its operations then
	 * answering META_UNAVAILABLE until it connects (PostgreSQL does: a
	 * worker started during an outage answers 503, then resumes). */
	enum meta_err (*open)(struct conf *conf, const char *section,
	    const char *data_dir, void **priv);
	/* Optional.  Release the instance. */
	void (*close)(void *priv);
	/* Optional: does the store exist (no open needed)?  As
	 * meta_exists().  NULL -> assumed to. */
	enum meta_err (*exists)(struct conf *conf, const char *section,
	    const char *data_dir, char *where, size_t cap);

	enum meta_err (*blob_linked)(void *priv, const char *repo,
	    const char *digest, uint64_t *size);
	enum meta_err (*blob_commit)(void *priv, const char *repo,
	    const char *digest, uint64_t size, const char *upload);
	enum meta_err (*blob_mount)(void *priv, const char *repo,
	    const char *from, const char *digest, uint64_t *size);
	enum meta_err (
	    *blob_unlink)(void *priv, const char *repo, const char *digest);

	enum meta_err (*manifest_get)(void *priv, const char *repo,
	    const char *reference, bool by_digest, bool want_body,
	    struct meta_manifest *m);
	enum meta_err (*manifest_put)(void *priv,
	    const struct meta_manifest_put *p, json_t **missing);
	enum meta_err (
	    *manifest_delete)(void *priv, const char *repo, const char *digest);
	enum meta_err (
	    *tag_delete)(void *priv, const char *repo, const char *tag);
	enum meta_err (*tags_list)(void *priv, const char *repo,
	    const char *last, unsigned long n, json_t *out, bool *more);
	enum meta_err (*catalog)(void *priv, const char *last, unsigned long n,
	    json_t *out, bool *more);
	/* Rows and their strings malloc'd: meta_referrers_free() frees. */
	enum meta_err (*referrers)(void *priv, const char *repo,
	    const char *digest, const char *artifact_type,
	    struct meta_referrer **rows, size_t *n);

	enum meta_err (*upload_create)(void *priv, const struct meta_upload *u);
	enum meta_err (*upload_get)(void *priv, const char *repo,
	    const char *uuid, long expiry, struct meta_upload *u);
	enum meta_err (*upload_advance)(void *priv, const struct meta_upload *u,
	    uint64_t old_size);
	enum meta_err (*upload_delete)(void *priv, const char *uuid);
	enum meta_err (*upload_expired)(void *priv, long expiry, json_t *out);

	/* The operator's half: meta_admin.h. */
	enum meta_err (*admin_repos)(void *priv, json_t *out);
	enum meta_err (*admin_tags)(void *priv, const char *repo, json_t *out);
	/* *out as meta_admin_manifest() gives it, but for tags and stored
	 * as the backend's rows: [{name}] and [{digest, size}];
	 * meta_admin_manifest() shapes them. */
	enum meta_err (*admin_manifest)(void *priv, const char *repo,
	    const char *reference, bool by_digest, json_t **out);
	enum meta_err (*admin_du)(void *priv, json_t **out);
	enum meta_err (*admin_uploads)(void *priv, json_t *out);
	enum meta_err (*admin_audit)(void *priv, const char *repo, long limit,
	    json_t *out);
	enum meta_err (*admin_begin)(void *priv);
	enum meta_err (*admin_end)(void *priv, bool commit);
	enum meta_err (*gc_untagged)(void *priv, int64_t cutoff, json_t *out);
	enum meta_err (*gc_candidates)(void *priv, int64_t cutoff, json_t *out);
	enum meta_err (*gc_blob_delete)(void *priv, const char *digest,
	    int64_t cutoff, bool *deleted, uint64_t *size);
	enum meta_err (
	    *admin_blob)(void *priv, const char *digest, uint64_t *size);
	enum meta_err (*admin_blob_page)(void *priv, const char *after,
	    size_t n, json_t *out);
	enum meta_err (*admin_blob_forget)(void *priv, const char *digest);
	enum meta_err (
	    *admin_referencing)(void *priv, const char *digest, json_t *out);
	/* Optional: the store's own consistency check.  NULL -> nothing
	 * to report. */
	enum meta_err (*admin_integrity)(void *priv, json_t *out);
	/* Optional: as meta_admin_unlinked().  NULL -> none found. */
	enum meta_err (*admin_unlinked)(void *priv, json_t *out);
	/* Optional: as meta_admin_pub_rows().  NULL -> none. */
	enum meta_err (*admin_pub_rows)(void *priv, json_t *out);

	/* Optional: the blob lock (blob_lock.h) as the backend's own, for
	 * a store that several hosts share: as meta_blob_lock() and
	 * meta_blob_unlock().  NULL -> the data directory's flock only. */
	enum meta_err (*blob_lock)(void *priv, bool exclusive);
	enum meta_err (*blob_unlock)(void *priv);
	/* Optional: as meta_blob_holders().  NULL -> none. */
	enum meta_err (*blob_holders)(void *priv, const char *digest,
	    size_t max, json_t *out);
	/* Optional: as meta_stats(); appended after version 1's other
	 * operations (tables are compiled in, so one without it has NULL
	 * here).  NULL -> counted from admin_uploads, size unknown. */
	enum meta_err (*stats)(void *priv, struct meta_stats *out);
	/* Optional, all or none: identities (meta_auth.h).  NULL -> the
	 * wrappers answer META_ERR, and access control cannot be on. */
	enum meta_err (
	    *user_add)(void *priv, const char *name, const char *hash);
	enum meta_err (
	    *user_passwd)(void *priv, const char *name, const char *hash);
	enum meta_err (*user_get)(void *priv, const char *name, char *hash);
	enum meta_err (*user_delete)(void *priv, const char *name);
	enum meta_err (*users_list)(void *priv, json_t *out);
	enum meta_err (*identities_count)(void *priv, long *n);
	enum meta_err (
	    *ci_token_add)(void *priv, const struct meta_ci_token *t);
	enum meta_err (
	    *ci_token_get)(void *priv, const char *id, struct meta_ci_token *t);
	enum meta_err (*ci_tokens_list)(void *priv, json_t *out);
	enum meta_err (*ci_token_revoke)(void *priv, const char *name);
	enum meta_err (*grant_put)(void *priv, const char *who,
	    const char *pattern, const char *actions);
	enum meta_err (
	    *grant_delete)(void *priv, const char *who, const char *pattern);
	enum meta_err (*grants_list)(void *priv, json_t *out);
	/* Optional on its own: NULL -> audit rows name nobody. */
	enum meta_err (*set_actor)(void *priv, const char *user);
	/* Optional, all or none: the outbox, as meta_outbox_*().  NULL ->
	 * events cannot be on (meta_open() says so), the wrappers answer
	 * META_ERR.  A backend that has them writes events while
	 * meta_events_on(). */
	enum meta_err (
	    *outbox_next)(void *priv, const char *url, size_t max, json_t *out);
	enum meta_err (*outbox_mark)(void *priv, const char *url, int64_t seq,
	    const char *error);
	enum meta_err (
	    *outbox_prune)(void *priv, const json_t *urls, int64_t *deleted);
	enum meta_err (
	    *outbox_status)(void *priv, const json_t *urls, json_t *out);
};

/* meta_register -- make a backend findable by name; called by
 * META_BACKEND() before main().  The table is borrowed for the process's
 * life. */
void meta_register(const struct meta_ops *ops);

#define META_BACKEND(ops) \
	__attribute__((constructor)) static void meta_register_##ops(void) \
	{ \
		meta_register(&(ops)); \
	}

/* meta_find -- the registered backend called name, or NULL. */
const struct meta_ops *meta_find(const char *name);

#endif
