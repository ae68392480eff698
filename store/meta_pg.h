/* meta_pg.h -- private to the PostgreSQL metadata backend: what
 * meta_pg.c (the connection, the request path, the table) and
 * meta_pg_admin.c (the operator's queries, gc and fsck) share.  No other
 * file includes it: everyone else reaches the metadata through meta.h
 * and meta_admin.h. */
#ifndef BERTH_META_PG_H
#define BERTH_META_PG_H

#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "meta.h"

enum pg_stmt_id {
	P_BLOB_LINKED,
	P_REPO_ENSURE,
	P_REPO_ID,
	P_BLOB_INSERT,
	P_LINK_UPSERT,
	P_BLOB_MOUNT,
	P_LINK_DELETE,
	P_MANIFEST_BY_DIGEST,
	P_MANIFEST_BY_TAG,
	P_MISSING_REFS,
	P_MANIFEST_ID,
	P_MANIFEST_INSERT,
	P_REFS_INSERT,
	P_TAG_UPSERT,
	P_MANIFEST_DELETE,
	P_TAG_DELETE,
	P_TAGS_LIST,
	P_CATALOG,
	P_REFERRERS,
	P_UPLOAD_INSERT,
	P_UPLOAD_GET,
	P_UPLOAD_ADVANCE,
	P_UPLOAD_DELETE,
	P_UPLOAD_EXPIRED,
	P_BLOB_HOLDERS,
	P_STATS,
	P_EVENT_INSERT,
	P_EVENT_TAG_DELETE,
	P_COUNT
};

/* The identity statements (meta_pg_auth.c), prepared on first use on
 * each connection like those above. */
enum pg_auth_stmt_id {
	PA_NAME_TAKEN,
	PA_USER_INSERT,
	PA_USER_PASSWD,
	PA_USER_GET,
	PA_USER_DELETE,
	PA_USER_GRANTS_DELETE,
	PA_USERS_LIST,
	PA_IDENTITIES_COUNT,
	PA_CI_TOKEN_INSERT,
	PA_CI_TOKEN_GET,
	PA_CI_TOKENS_LIST,
	PA_CI_TOKEN_REVOKE,
	PA_GRANT_PUT,
	PA_GRANT_DELETE,
	PA_GRANTS_LIST,
	PA_ACTOR_SET,
	PA_COUNT
};

#define PG_PARAMS_MAX 12

/* Parameters of one statement, in text format unless given as bytes. */
struct pg_params {
	int n;
	const char *v[PG_PARAMS_MAX];
	int len[PG_PARAMS_MAX];
	int fmt[PG_PARAMS_MAX]; /* 0 text, 1 binary */
	char num[PG_PARAMS_MAX][24];
};

/* The instance (the ops' priv): one connection per process, opened after
 * fork and opened again whenever it is found broken. */
struct pg {
	PGconn *conn;
	pid_t pid;		/* the process that opened it */
	unsigned gen;		/* connections made so far: a session
					 * lock taken in an older one is gone */
	bool prepared[P_COUNT]; /* on this connection */
	bool auth_prepared[PA_COUNT];
	bool in_tx;    /* between admin_begin and admin_end */
	bool migrated; /* the schema was found current */
	/* Settings ([metadata.postgresql]). */
	char *dsn;
	char *password; /* from password_file, or NULL */
	char schema[64];
	long connect_timeout, statement_timeout, lock_timeout;
	/* SQL made once from the settings. */
	char setup_sql[256]; /* search_path and timeouts */
	char begin_sql[128]; /* BEGIN + the writer lock */
	int64_t blob_key;    /* the blob lock's key */
	/* The blob lock (meta_blob_lock()): held how, since which
	 * connection. */
	int blob_held; /* 0 none, 1 shared, 2 exclusive */
	unsigned blob_gen;
	/* The audit actor (meta_set_actor()): a session setting, so made
	 * again on each new connection (pg_actor_restore()). */
	bool actor_on;	 /* a name is set */
	bool actor_sent; /* this connection has actor */
	char actor[256];
};

/* The shared helpers, in meta_pg.c. */
void pg_log(struct pg *q, const char *what);
enum meta_err pg_ready(struct pg *q);
enum meta_err pg_check(struct pg *q, PGresult *res, const char *what);
PGresult *pg_query(struct pg *q, const char *sql, const struct pg_params *p,
    enum meta_err *e);
enum meta_err pg_exec(struct pg *q, const char *sql);
enum meta_err pg_begin(struct pg *q);
enum meta_err pg_commit(struct pg *q);
void pg_rollback(struct pg *q);
void pg_text(struct pg_params *p, const char *v);
void pg_int(struct pg_params *p, int64_t v);
int64_t pg_getint(const PGresult *res, int row, int col);

/* pg_prepared -- run sql with p as the prepared statement `name` of this
 * connection, preparing it first when *prepared is false (then set); rows
 * in text format, or binary when binary.  The result (caller PQclears),
 * or NULL with *e set (logged). */
PGresult *pg_prepared(struct pg *q, const char *name, const char *sql,
    bool *prepared, const struct pg_params *p, bool binary, enum meta_err *e);

/* pg_rows -- each row of res appended to out as an object {column: value},
 * typed by the column's type (meta_pg_admin.c).  Does not clear res. */
void pg_rows(const PGresult *res, json_t *out);

/* pg_open_dsn -- an instance on dsn and schema (created and brought
 * forward when needed) without a configuration file, for `berth
 * migrate`; the password from password_file when not NULL.  pg_free()
 * releases it. */
enum meta_err pg_open_dsn(const char *dsn, const char *schema,
    const char *password_file, struct pg **out);
void pg_free(struct pg *q);

/* The operator's half, in meta_pg_admin.c; contracts in meta_admin.h,
 * priv a struct pg. */
enum meta_err pg_admin_repos(void *priv, json_t *out);
enum meta_err pg_admin_tags(void *priv, const char *repo, json_t *out);
enum meta_err pg_admin_manifest(void *priv, const char *repo,
    const char *reference, bool by_digest, json_t **out);
enum meta_err pg_admin_du(void *priv, json_t **out);
enum meta_err pg_admin_uploads(void *priv, json_t *out);
enum meta_err pg_admin_audit(void *priv, const char *repo, long limit,
    json_t *out);
enum meta_err pg_admin_begin(void *priv);
enum meta_err pg_admin_end(void *priv, bool commit);
enum meta_err pg_gc_untagged(void *priv, int64_t cutoff, json_t *out);
enum meta_err pg_gc_candidates(void *priv, int64_t cutoff, json_t *out);
enum meta_err pg_gc_blob_delete(void *priv, const char *digest, int64_t cutoff,
    bool *deleted, uint64_t *size);
enum meta_err pg_admin_blob(void *priv, const char *digest, uint64_t *size);
enum meta_err pg_admin_blob_page(void *priv, const char *after, size_t n,
    json_t *out);
enum meta_err pg_admin_blob_forget(void *priv, const char *digest);
enum meta_err pg_admin_referencing(void *priv, const char *digest, json_t *out);
enum meta_err pg_admin_integrity(void *priv, json_t *out);
enum meta_err pg_admin_unlinked(void *priv, json_t *out);
enum meta_err pg_admin_pub_rows(void *priv, json_t *out);
enum meta_err pg_blob_lock(void *priv, bool exclusive);

/* The outbox, in meta_pg_outbox.c; contracts in meta.h. */
enum meta_err pg_outbox_next(void *priv, const char *url, size_t max,
    json_t *out);
enum meta_err pg_outbox_mark(void *priv, const char *url, int64_t seq,
    const char *error);
enum meta_err pg_outbox_prune(void *priv, const json_t *urls, int64_t *deleted);
enum meta_err pg_outbox_status(void *priv, const json_t *urls, json_t *out);
enum meta_err pg_blob_unlock(void *priv);

/* Identities, in meta_pg_auth.c; contracts in meta_auth.h, priv a
 * struct pg. */
enum meta_err pg_user_add(void *priv, const char *name, const char *hash);
enum meta_err pg_user_passwd(void *priv, const char *name, const char *hash);
enum meta_err pg_user_get(void *priv, const char *name, char *hash);
enum meta_err pg_user_delete(void *priv, const char *name);
enum meta_err pg_users_list(void *priv, json_t *out);
enum meta_err pg_identities_count(void *priv, long *n);
enum meta_err pg_ci_token_add(void *priv, const struct meta_ci_token *t);
enum meta_err pg_ci_token_get(void *priv, const char *id,
    struct meta_ci_token *t);
enum meta_err pg_ci_tokens_list(void *priv, json_t *out);
enum meta_err pg_ci_token_revoke(void *priv, const char *name);
enum meta_err pg_grant_put(void *priv, const char *who, const char *pattern,
    const char *actions);
enum meta_err pg_grant_delete(void *priv, const char *who, const char *pattern);
enum meta_err pg_grants_list(void *priv, json_t *out);
enum meta_err pg_set_actor(void *priv, const char *user);

/* pg_actor_restore -- name the actor again on a new connection (the
 * session setting went with the old one); META_OK when none is set. */
enum meta_err pg_actor_restore(struct pg *q);

#endif
