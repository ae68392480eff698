/* meta_admin.h -- the operator's queries on the metadata: listings for
 * `berth repos|tags|show|du|uploads|audit`, and the transactions of
 * garbage collection and fsck (store/gc.c, store/fsck.c).
 *
 * Like meta.h, these are wrappers (meta.c) dispatching through the open
 * backend's struct meta_ops (call meta_open() first); the concurrency
 * contract in meta.h covers them.  SQLite answers them in
 * meta_sqlite_admin.c, from the views of sql/002_operator.sql where one
 * exists, so the command line and a person at the sqlite3 shell see the
 * same numbers; PostgreSQL in meta_pg_admin.c, from the same views
 * in its dialect (sql/postgresql/002_operator.sql), for psql.  These run
 * once per command, not per request.
 *
 * Shapes: listings append one jansson object per row to a caller-owned
 * array; keys are the column names (documented per function), sizes are
 * bytes, times unix seconds.  Strings passed in are validated values.
 * Errors: enum meta_err as in meta.h; META_ERR is already logged. */
#ifndef BERTH_META_ADMIN_H
#define BERTH_META_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "meta.h"

/* --- Listings -------------------------------------------------------- */

/* meta_admin_repos -- every repository that holds a tag, a manifest or
 * a blob link (an emptied one is left out, as in meta_catalog()), by
 * name: {repository, tags, manifests, manifest_bytes, blobs, blob_bytes,
 * shared_bytes, unique_bytes} (view repository_size). */
enum meta_err meta_admin_repos(json_t *out);

/* meta_admin_tags -- the tags of repo, by name: {tag, digest, media_type,
 * size, pushed_at, updated_at}.  META_NOTFOUND for an unknown
 * repository. */
enum meta_err meta_admin_tags(const char *repo, json_t *out);

/* meta_admin_manifest -- one manifest by tag or digest (by_digest says
 * which), as a new object the caller decrefs: {repository, digest,
 * media_type, size, pushed_at, subject, artifact_type, tags: [names],
 * stored: {digest: size} for each referenced blob that is stored}.
 * The body itself comes from meta_manifest_get().  META_NOTFOUND when
 * the repository or manifest is unknown. */
enum meta_err meta_admin_manifest(const char *repo, const char *reference,
    bool by_digest, json_t **out);

/* meta_admin_du -- registry-wide totals as a new object the caller
 * decrefs: {repositories, manifests, manifest_bytes, blobs, blob_bytes
 * (stored: each blob once), linked_bytes (the sum over repositories),
 * shared_blobs, shared_bytes (blobs linked by more than one repository,
 * each once), unreferenced_blobs, unreferenced_bytes (no manifest
 * references them: gc's harvest, grace aside)}. */
enum meta_err meta_admin_du(json_t **out);

/* meta_admin_uploads -- upload sessions, oldest first: {uuid, repository,
 * algorithm, size, started_at, updated_at}. */
enum meta_err meta_admin_uploads(json_t *out);

/* meta_admin_audit -- the newest `limit` audit rows (of repository repo
 * when not NULL), oldest first: {id, at, action, repository, tag, digest,
 * old_digest, user}. */
enum meta_err meta_admin_audit(const char *repo, long limit, json_t *out);

/* --- Transactions for gc and fsck ----------------------------------- */

/* meta_admin_begin -- start a write transaction holding the write
 * position now (meta.h, C2; SQLite: BEGIN IMMEDIATE), so what it reads
 * is the newest state and stays so until meta_admin_end(); waits for
 * other writers for a bounded time. */
enum meta_err meta_admin_begin(void);

/* meta_admin_end -- COMMIT when `commit` (META_ERR if that fails, after
 * rolling back), else ROLLBACK. */
enum meta_err meta_admin_end(bool commit);

/* meta_gc_untagged -- inside a transaction: delete the manifests that
 * no tag points at, that no index in their repository references, that
 * are no referrer of a manifest in their repository, and that were
 * pushed at or before `cutoff` (unix seconds); repeat until none is left
 * (deleting an index may free its children, a manifest its referrers).
 * Appends {repository, digest, media_type, size} for each. */
enum meta_err meta_gc_untagged(int64_t cutoff, json_t *out);

/* meta_gc_candidates -- the blobs no manifest in any repository
 * references, stored at or before `cutoff` and not linked anywhere after
 * it, by digest: {digest, size}.  A snapshot: meta_gc_blob_delete()
 * checks each again. */
enum meta_err meta_gc_candidates(int64_t cutoff, json_t *out);

/* meta_gc_blob_delete -- inside a transaction: if blob `digest` is still
 * garbage by meta_gc_candidates()'s rule, delete its links and its row,
 * set *deleted and *size (bytes); else leave it and clear *deleted. */
enum meta_err meta_gc_blob_delete(const char *digest, int64_t cutoff,
    bool *deleted, uint64_t *size);

/* meta_admin_blob -- is blob `digest` recorded?  On META_OK sets *size
 * (bytes); META_NOTFOUND when not. */
enum meta_err meta_admin_blob(const char *digest, uint64_t *size);

/* meta_admin_blob_page -- up to n blob rows with digests after `after`
 * ("" from the start), by digest: {digest, size}.  For scans that must
 * not hold one read snapshot for long. */
enum meta_err meta_admin_blob_page(const char *after, size_t n, json_t *out);

/* meta_admin_blob_forget -- delete blob `digest`'s links and row (they
 * then answer 404); meant inside a transaction.  Manifests referencing
 * it stay.  META_NOTFOUND when there was no row. */
enum meta_err meta_admin_blob_forget(const char *digest);

/* meta_admin_referencing -- append "<repository>@<manifest digest>" for
 * every manifest referencing `digest`. */
enum meta_err meta_admin_referencing(const char *digest, json_t *out);

/* meta_admin_integrity -- the backend's own consistency check (SQLite:
 * PRAGMA integrity_check and foreign_key_check); append one message
 * string per problem (none when the store is sound, or when the backend
 * has no such check). */
enum meta_err meta_admin_integrity(json_t *out);

/* meta_admin_unlinked -- append {repository, manifest, blob} for every
 * blob a manifest references (config or layer) that its repository
 * holds no link to: pulls of that image fail.  The bytes may still be
 * stored (linked elsewhere) or gone (fsck repaired a missing blob, or a
 * client deleted the blob by digest).  At most 1000 rows, in repository,
 * manifest, blob order; none when the backend cannot tell. */
enum meta_err meta_admin_unlinked(json_t *out);

/* meta_admin_pub_rows -- append {repository, digest, kind} for every
 * sha256 manifest (kind "manifest") and every link to a sha256 blob
 * (kind "blob"), in repository and digest order: what the web server's
 * files (store/pub.h) may name.  All of them, in memory at once (about
 * 150 bytes a row); none when the backend cannot tell. */
enum meta_err meta_admin_pub_rows(json_t *out);

#endif
