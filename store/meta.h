/* meta.h -- the metadata seam: repositories, blob links, manifests, tags,
 * referrers and upload sessions.
 *
 * Its one implementation is SQLite (meta_sqlite.c), the only file with
 * SQL in it.  The database is <data_dir>/berth.db in WAL mode, shared by
 * every worker process; writes are short BEGIN IMMEDIATE transactions
 * with a busy timeout.  Each process calls meta_open() once (after fork),
 * and every statement is prepared once and reused.  All string arguments
 * are validated values (validate.h); digests are sha256/sha512 strings.
 *
 * Errors: every function returns enum meta_err; META_ERR means the
 * database failed (already logged) and is answered with 500; META_FULL
 * that a write found the disk full (507); META_UNAVAILABLE that a
 * backend behind a network is out of reach now (503, clients retry).
 * The front maps them in one place, cgi/errors.c. */
#ifndef BERTH_META_H
#define BERTH_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "digest.h"
#include "validate.h"

enum meta_err {
	META_OK = 0,
	META_NOTFOUND,		/* no such row (repository, blob, manifest, ...) */
	META_CONFLICT,		/* the row changed under us (upload advanced) */
	META_MISSING,		/* manifest references content not in the repository */
	META_FULL,		/* the disk is full: nothing was written */
	META_ERR,		/* database error; logged */
	META_UNAVAILABLE	/* the backend cannot be reached; nothing done */
};

/* meta_open -- open (creating if needed) <data_dir>/berth.db, bring its
 * schema forward to the newest migration, and prepare for requests.
 * Once per process.  Returns META_OK or META_ERR. */
enum meta_err meta_open(const char *data_dir);
void meta_close(void);

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

/* meta_blob_unlink -- remove repo's link to the blob; the bytes stay for
 * garbage collection.  META_NOTFOUND when not linked. */
enum meta_err meta_blob_unlink(const char *repo, const char *digest);

/* --- Manifests and tags ---------------------------------------------- */

struct meta_manifest {
	char		 digest[DIGEST_STR_MAX];
	char		 media_type[256];
	uint64_t	 size;		/* bytes */
	unsigned char	*body;		/* malloc'd, caller frees; NULL unless asked */
};

/* meta_manifest_get -- look a manifest up by tag or digest (`reference`,
 * `by_digest` says which).  With want_body, m->body receives a malloc'd
 * copy of the exact bytes that the caller frees.  META_NOTFOUND when the
 * repository or the manifest is unknown. */
enum meta_err meta_manifest_get(const char *repo, const char *reference,
    bool by_digest, bool want_body, struct meta_manifest *m);

struct meta_ref {
	const char	*digest;
	bool		 manifest;	/* a child manifest (index), else a blob */
};

/* What a manifest PUT stores; every pointer is borrowed for the call. */
struct meta_manifest_put {
	const char		*repo;
	const char		*tag;		/* NULL when pushed by digest */
	const char		*digest;	/* of body */
	const char		*media_type;
	const unsigned char	*body;
	size_t			 size;		/* bytes of body */
	const char		*subject;	/* NULL when none */
	const char		*artifact_type;	/* NULL when none */
	const char		*annotations;	/* JSON object text, or NULL */
	const struct meta_ref	*refs;		/* must exist in repo */
	size_t			 nrefs;
};

/* meta_manifest_put -- store a manifest and move the tag to it, in one
 * transaction, after checking that every ref exists in the repository.
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

/* meta_catalog -- the same for repository names. */
enum meta_err meta_catalog(const char *last, unsigned long n, json_t *out,
    bool *more);

/* meta_referrers -- append to `out` one OCI descriptor object per
 * manifest in repo whose subject is `digest`, optionally only those whose
 * artifact type equals artifact_type (may be NULL).  An unknown
 * repository gives an empty list. */
enum meta_err meta_referrers(const char *repo, const char *digest,
    const char *artifact_type, json_t *out);

/* --- Upload sessions ------------------------------------------------- */

struct meta_upload {
	char		 uuid[UPLOAD_ID_LEN + 1];
	char		 repo[NAME_MAX_LEN + 1];
	enum digest_alg	 alg;
	uint64_t	 size;			/* bytes received so far */
	unsigned char	 state[DIGEST_STATE_MAX];	/* saved hash state */
	size_t		 state_len;
	int64_t		 started_at;		/* unix seconds */
};

enum meta_err meta_upload_create(const struct meta_upload *u);

/* meta_upload_get -- the session `uuid` of repository `repo`.
 * META_NOTFOUND when unknown, of another repository, or older than
 * `expiry` seconds. */
enum meta_err meta_upload_get(const char *repo, const char *uuid,
    long expiry, struct meta_upload *u);

/* meta_upload_advance -- store u's new size and hash state, provided the
 * session still has old_size bytes; META_CONFLICT otherwise. */
enum meta_err meta_upload_advance(const struct meta_upload *u,
    uint64_t old_size);

enum meta_err meta_upload_delete(const char *uuid);

/* meta_upload_expired -- append to `out` the ids of sessions not touched
 * for `expiry` seconds. */
enum meta_err meta_upload_expired(long expiry, json_t *out);

#endif
