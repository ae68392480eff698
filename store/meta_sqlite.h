/* meta_sqlite.h -- private to the SQLite metadata backend: what
 * meta_sqlite.c (the connection, the request path, the table) and
 * meta_sqlite_admin.c (the operator's queries, gc and fsck) share.  No
 * other file includes it: everyone else reaches the metadata through
 * meta.h and meta_admin.h. */
#ifndef BERTH_META_SQLITE_H
#define BERTH_META_SQLITE_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>
#include <sqlite3.h>

#include "meta.h"

enum sq_stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_REPO_ID,
	S_REPO_INSERT,
	S_BLOB_LINKED,
	S_BLOB_INSERT,
	S_LINK_INSERT,
	S_BLOB_MOUNT,
	S_LINK_DELETE,
	S_MANIFEST_BY_DIGEST,
	S_MANIFEST_BY_TAG,
	S_MANIFEST_ID,
	S_MANIFEST_INSERT,
	S_REF_INSERT,
	S_TAG_UPSERT,
	S_MANIFEST_EXISTS,
	S_MANIFEST_DELETE,
	S_TAG_DELETE,
	S_TAGS_LIST,
	S_CATALOG,
	S_REFERRERS,
	S_UPLOAD_INSERT,
	S_UPLOAD_GET,
	S_UPLOAD_ADVANCE,
	S_UPLOAD_DELETE,
	S_UPLOAD_EXPIRED,
	S_BLOB_HOLDERS,
	S_EVENT_INSERT,
	S_EVENT_TAG_DELETE,
	S_COUNT
};

/* The identity statements a request runs (meta_sqlite_auth.c): a Basic
 * sign-in reads a user or a CI token, every write names its actor.  Kept
 * like the request path's; the operator's are prepared per call. */
enum sq_auth_stmt_id { SA_USER_GET, SA_CI_TOKEN_GET, SA_ACTOR_SET, SA_COUNT };

/* The instance (the ops' priv): one connection, opened after fork, and
 * the request path's prepared statements. */
struct sq {
	sqlite3 *db;
	sqlite3_stmt *stmts[S_COUNT];
	sqlite3_stmt *auth_stmts[SA_COUNT];
	int failed;	     /* the last failed step's result code, or 0 */
	char path[PATH_MAX]; /* the database file, as opened */
	dev_t dev;	     /* and its identity then (sq_stats) */
	ino_t ino;
	bool actor_ready; /* the audit actor's TEMP table exists
			   * (meta_sqlite_auth.c) */
};

/* sq_result -- a step's result code as the seam's error: SQLITE_FULL a
 * full disk; SQLITE_BUSY or SQLITE_LOCKED another process holding the
 * write lock past the busy timeout, which the client may retry (503);
 * anything else but done or a row META_ERR. */
static inline enum meta_err
sq_result(int rc)
{
	switch (rc & 0xff) { /* the primary code of an extended one */
	case SQLITE_DONE:
	case SQLITE_ROW:
		return META_OK;
	case SQLITE_FULL:
		return META_FULL;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return META_UNAVAILABLE;
	default:
		return META_ERR;
	}
}

/* Statement helpers of meta_sqlite_admin.c, shared with the outbox
 * (meta_sqlite_outbox.c): statements prepared per call there.
 * sq_prepare -- sql prepared on q's connection (caller finalizes), or
 *     NULL after logging.
 * sq_row_object -- the current row of s as a new object {column name:
 *     value}, NULLs as null; BLOB columns are left out (manifest bodies
 *     travel through meta_manifest_get()).
 * sq_rows -- step s (NULL: META_ERR) to its end, appending each row to
 *     out; finalizes s; META_ERR after logging a failed step. */
sqlite3_stmt *sq_prepare(struct sq *q, const char *sql);
json_t *sq_row_object(sqlite3_stmt *s);
enum meta_err sq_rows(sqlite3_stmt *s, json_t *out);

/* The operator's half, in meta_sqlite_admin.c; contracts in
 * meta_admin.h, priv a struct sq. */
enum meta_err sq_admin_repos(void *priv, json_t *out);
enum meta_err sq_admin_tags(void *priv, const char *repo, json_t *out);
enum meta_err sq_admin_manifest(void *priv, const char *repo,
    const char *reference, bool by_digest, json_t **out);
enum meta_err sq_admin_du(void *priv, json_t **out);
enum meta_err sq_admin_uploads(void *priv, json_t *out);
enum meta_err sq_admin_audit(void *priv, const char *repo, long limit,
    json_t *out);
enum meta_err sq_admin_begin(void *priv);
enum meta_err sq_admin_end(void *priv, bool commit);
enum meta_err sq_gc_untagged(void *priv, int64_t cutoff, json_t *out);
enum meta_err sq_gc_candidates(void *priv, int64_t cutoff, json_t *out);
enum meta_err sq_gc_blob_delete(void *priv, const char *digest, int64_t cutoff,
    bool *deleted, uint64_t *size);
enum meta_err sq_admin_blob(void *priv, const char *digest, uint64_t *size);
enum meta_err sq_admin_blob_page(void *priv, const char *after, size_t n,
    json_t *out);
enum meta_err sq_admin_blob_forget(void *priv, const char *digest);
enum meta_err sq_admin_referencing(void *priv, const char *digest, json_t *out);
enum meta_err sq_admin_integrity(void *priv, json_t *out);
enum meta_err sq_admin_unlinked(void *priv, json_t *out);
enum meta_err sq_admin_pub_rows(void *priv, json_t *out);

/* Identities, in meta_sqlite_auth.c; contracts in meta_auth.h. */
struct meta_ci_token;
enum meta_err sq_user_add(void *priv, const char *name, const char *hash);
enum meta_err sq_user_passwd(void *priv, const char *name, const char *hash);
enum meta_err sq_user_get(void *priv, const char *name, char *hash);
enum meta_err sq_user_delete(void *priv, const char *name);
enum meta_err sq_users_list(void *priv, json_t *out);
enum meta_err sq_identities_count(void *priv, long *n);
enum meta_err sq_ci_token_add(void *priv, const struct meta_ci_token *t);
enum meta_err sq_ci_token_get(void *priv, const char *id,
    struct meta_ci_token *t);
enum meta_err sq_ci_tokens_list(void *priv, json_t *out);
enum meta_err sq_ci_token_revoke(void *priv, const char *name);
enum meta_err sq_grant_put(void *priv, const char *who, const char *pattern,
    const char *actions);
enum meta_err sq_grant_delete(void *priv, const char *who, const char *pattern);
enum meta_err sq_grants_list(void *priv, json_t *out);
enum meta_err sq_set_actor(void *priv, const char *user);

/* The outbox, in meta_sqlite_outbox.c; contracts in meta.h. */
enum meta_err sq_outbox_next(void *priv, const char *url, size_t max,
    json_t *out);
enum meta_err sq_outbox_mark(void *priv, const char *url, int64_t seq,
    const char *error);
enum meta_err sq_outbox_prune(void *priv, const json_t *urls, int64_t *deleted);
enum meta_err sq_outbox_status(void *priv, const json_t *urls, json_t *out);

#endif
