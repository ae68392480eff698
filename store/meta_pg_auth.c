/* meta_pg_auth.c -- the PostgreSQL metadata backend's identities: users,
 * CI tokens and grants (sql/postgresql/003_auth.sql), and the audit
 * actor.  Contracts in meta_auth.h; priv is the struct pg of meta_pg.c,
 * whose connection these run on.  The same statements as
 * meta_sqlite_auth.c in PostgreSQL's dialect, each prepared on first use
 * on each connection (the request path runs user_get, ci_token_get,
 * ci_tokens_list, grants_list and the actor's set_config).
 *
 * The concurrency contract (meta.h): every write is one transaction
 * that starts with the writer lock (pg_begin(): C2), so the check that a
 * new user's or token's name is taken by neither kind and the insert
 * that follows are one step on the newest state, on every host (C3: no
 * two hosts can add a user and a token of one name); the primary keys
 * and ci_tokens.name's UNIQUE make the rest resolve to one row (a grant
 * is an upsert on (who, pattern)).  A user's delete takes its grants in
 * the same transaction (C1).  Reads are single statements at READ
 * COMMITTED: what was committed before them, on any host. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meta_auth.h"
#include "meta_pg.h"

static const char *const auth_sql[PA_COUNT] = {
	[PA_NAME_TAKEN] = "SELECT 1 FROM users WHERE name = $1 "
			  "UNION ALL SELECT 1 FROM ci_tokens WHERE name = $1",
	[PA_USER_INSERT] = "INSERT INTO users (name, hash, created_at, "
			   "updated_at) VALUES ($1, $2, $3, $3)",
	[PA_USER_PASSWD] = "UPDATE users SET hash = $2, updated_at = $3 "
			   "WHERE name = $1",
	[PA_USER_GET] = "SELECT hash FROM users WHERE name = $1",
	[PA_USER_DELETE] = "DELETE FROM users WHERE name = $1",
	[PA_USER_GRANTS_DELETE] = "DELETE FROM grants WHERE who = $1",
	[PA_USERS_LIST] = "SELECT name, created_at, updated_at FROM users "
			  "ORDER BY name",
	[PA_IDENTITIES_COUNT] = "SELECT (SELECT count(*) FROM users) + "
				"(SELECT count(*) FROM ci_tokens "
				"WHERE revoked = 0)",
	/* A taken id (vanishingly rare) inserts nothing: META_CONFLICT. */
	[PA_CI_TOKEN_INSERT] = "INSERT INTO ci_tokens (id, name, secret_hash, "
			       "scope, created_at, expires_at, revoked) "
			       "VALUES ($1, $2, $3, $4, $5, $6, 0) "
			       "ON CONFLICT (id) DO NOTHING",
	[PA_CI_TOKEN_GET] = "SELECT id, name, secret_hash, scope, created_at, "
			    "coalesce(expires_at, 0), revoked "
			    "FROM ci_tokens WHERE id = $1",
	[PA_CI_TOKENS_LIST] = "SELECT id, name, scope, created_at, expires_at, "
			      "revoked FROM ci_tokens ORDER BY name",
	[PA_CI_TOKEN_REVOKE] = "UPDATE ci_tokens SET revoked = 1 "
			       "WHERE name = $1 AND revoked = 0",
	[PA_GRANT_PUT] = "INSERT INTO grants (who, pattern, actions, "
			 "created_at) VALUES ($1, $2, $3, $4) "
			 "ON CONFLICT (who, pattern) DO UPDATE SET "
			 "actions = excluded.actions, "
			 "created_at = excluded.created_at",
	[PA_GRANT_DELETE] = "DELETE FROM grants WHERE who = $1 "
			    "AND pattern = $2",
	[PA_GRANTS_LIST] = "SELECT who, pattern, actions, created_at "
			   "FROM grants ORDER BY who, pattern",
	/* A session setting, read by the audit_actor trigger (003); ''
	 * for none.  Nothing is written. */
	[PA_ACTOR_SET] = "SELECT set_config('berth.actor', $1, false)",
};

/* Run statement id with p on q's connection (ready or in a transaction
 * already); the result (caller PQclears) or NULL with *e set. */
static PGresult *
stmt(struct pg *q, enum pg_auth_stmt_id id, const struct pg_params *p,
    enum meta_err *e)
{
	char name[16];

	snprintf(name, sizeof(name), "a%d", (int)id);
	return pg_prepared(q, name, auth_sql[id], &q->auth_prepared[id], p,
	    false, e);
}

/* Run statement id, which returns no rows; *changed the rows it
 * touched. */
static enum meta_err
stmt_cmd(struct pg *q, enum pg_auth_stmt_id id, const struct pg_params *p,
    long *changed)
{
	enum meta_err e;
	PGresult *res = stmt(q, id, p, &e);

	if (res == NULL)
		return e;
	*changed = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return META_OK;
}

/* Commit when e is META_OK (a failed COMMIT is its error), else roll
 * back; e or the commit's error. */
static enum meta_err
finish(struct pg *q, enum meta_err e)
{
	if (e == META_OK && (e = pg_commit(q)) == META_OK)
		return META_OK;
	pg_rollback(q);
	return e;
}

/* One write statement in a transaction under the writer lock; a write
 * that touched no row is `none` (META_NOTFOUND, or META_OK when that is
 * fine). */
static enum meta_err
write_one(struct pg *q, enum pg_auth_stmt_id id, const struct pg_params *p,
    enum meta_err none)
{
	enum meta_err e;
	long n = 0;

	if ((e = pg_begin(q)) != META_OK)
		return e;
	e = stmt_cmd(q, id, p, &n);
	if (e == META_OK && n == 0)
		e = none;
	return finish(q, e);
}

/* Is name taken by a user or a CI token?  Inside a write transaction;
 * META_OK when free, META_CONFLICT when taken, else the error. */
static enum meta_err
name_free(struct pg *q, const char *name)
{
	struct pg_params p = { 0 };
	enum meta_err e;
	PGresult *res;

	pg_text(&p, name);
	if ((res = stmt(q, PA_NAME_TAKEN, &p, &e)) == NULL)
		return e;
	e = PQntuples(res) > 0 ? META_CONFLICT : META_OK;
	PQclear(res);
	return e;
}

/* The rows of statement id (no parameters) appended to out. */
static enum meta_err
list(struct pg *q, enum pg_auth_stmt_id id, json_t *out)
{
	struct pg_params p = { 0 };
	enum meta_err e;
	PGresult *res;

	if ((e = pg_ready(q)) != META_OK)
		return e;
	if ((res = stmt(q, id, &p, &e)) == NULL)
		return e;
	pg_rows(res, out);
	PQclear(res);
	return META_OK;
}

/* --- Users ------------------------------------------------------------ */

enum meta_err
pg_user_add(void *priv, const char *name, const char *hash)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;
	long n = 0;

	if ((e = pg_begin(q)) != META_OK)
		return e;
	if ((e = name_free(q, name)) == META_OK) {
		pg_text(&p, name);
		pg_text(&p, hash);
		pg_int(&p, (int64_t)time(NULL));
		e = stmt_cmd(q, PA_USER_INSERT, &p, &n);
	}
	return finish(q, e);
}

enum meta_err
pg_user_passwd(void *priv, const char *name, const char *hash)
{
	struct pg_params p = { 0 };

	pg_text(&p, name);
	pg_text(&p, hash);
	pg_int(&p, (int64_t)time(NULL));
	return write_one(priv, PA_USER_PASSWD, &p, META_NOTFOUND);
}

enum meta_err
pg_user_get(void *priv, const char *name, char *hash)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;
	PGresult *res;

	if ((e = pg_ready(q)) != META_OK)
		return e;
	pg_text(&p, name);
	if ((res = stmt(q, PA_USER_GET, &p, &e)) == NULL)
		return e;
	e = META_NOTFOUND;
	if (PQntuples(res) > 0) {
		const char *h = PQgetvalue(res, 0, 0);

		e = META_ERR;
		if (strlen(h) < META_HASH_MAX) {
			strcpy(hash, h);
			e = META_OK;
		}
	}
	PQclear(res);
	return e;
}

enum meta_err
pg_user_delete(void *priv, const char *name)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;
	long n = 0;

	if ((e = pg_begin(q)) != META_OK)
		return e;
	pg_text(&p, name);
	e = stmt_cmd(q, PA_USER_DELETE, &p, &n);
	if (e == META_OK && n == 0)
		e = META_NOTFOUND;
	if (e == META_OK)
		e = stmt_cmd(q, PA_USER_GRANTS_DELETE, &p, &n);
	return finish(q, e);
}

enum meta_err
pg_users_list(void *priv, json_t *out)
{
	return list(priv, PA_USERS_LIST, out);
}

enum meta_err
pg_identities_count(void *priv, long *n)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;
	PGresult *res;

	if ((e = pg_ready(q)) != META_OK)
		return e;
	if ((res = stmt(q, PA_IDENTITIES_COUNT, &p, &e)) == NULL)
		return e;
	*n = (long)pg_getint(res, 0, 0);
	PQclear(res);
	return META_OK;
}

/* --- CI tokens -------------------------------------------------------- */

enum meta_err
pg_ci_token_add(void *priv, const struct meta_ci_token *t)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;
	long n = 0;

	if ((e = pg_begin(q)) != META_OK)
		return e;
	if ((e = name_free(q, t->name)) == META_OK) {
		pg_text(&p, t->id);
		pg_text(&p, t->name);
		pg_text(&p, t->secret_hash);
		pg_text(&p, t->scope);
		pg_int(&p, t->created_at);
		if (t->expires_at > 0)
			pg_int(&p, t->expires_at);
		else
			pg_text(&p, NULL);
		e = stmt_cmd(q, PA_CI_TOKEN_INSERT, &p, &n);
		if (e == META_OK && n == 0)
			e = META_CONFLICT;
	}
	return finish(q, e);
}

/* Copy column col of row 0 into dst of cap bytes; false when too long or
 * NULL. */
static bool
column_copy(const PGresult *res, int col, char *dst, size_t cap)
{
	const char *v = PQgetvalue(res, 0, col);

	if (PQgetisnull(res, 0, col) || strlen(v) >= cap)
		return false;
	strcpy(dst, v);
	return true;
}

enum meta_err
pg_ci_token_get(void *priv, const char *id, struct meta_ci_token *t)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;
	PGresult *res;

	memset(t, 0, sizeof(*t));
	if ((e = pg_ready(q)) != META_OK)
		return e;
	pg_text(&p, id);
	if ((res = stmt(q, PA_CI_TOKEN_GET, &p, &e)) == NULL)
		return e;
	e = META_NOTFOUND;
	if (PQntuples(res) > 0) {
		e = META_ERR;
		if (column_copy(res, 0, t->id, sizeof(t->id)) &&
		    column_copy(res, 1, t->name, sizeof(t->name)) &&
		    column_copy(res, 2, t->secret_hash,
			sizeof(t->secret_hash)) &&
		    column_copy(res, 3, t->scope, sizeof(t->scope))) {
			t->created_at = pg_getint(res, 0, 4);
			t->expires_at = pg_getint(res, 0, 5);
			t->revoked = pg_getint(res, 0, 6) != 0;
			e = META_OK;
		}
	}
	PQclear(res);
	return e;
}

enum meta_err
pg_ci_tokens_list(void *priv, json_t *out)
{
	return list(priv, PA_CI_TOKENS_LIST, out);
}

enum meta_err
pg_ci_token_revoke(void *priv, const char *name)
{
	struct pg_params p = { 0 };

	pg_text(&p, name);
	return write_one(priv, PA_CI_TOKEN_REVOKE, &p, META_NOTFOUND);
}

/* --- Grants ----------------------------------------------------------- */

enum meta_err
pg_grant_put(void *priv, const char *who, const char *pattern,
    const char *actions)
{
	struct pg_params p = { 0 };

	pg_text(&p, who);
	pg_text(&p, pattern);
	pg_text(&p, actions);
	pg_int(&p, (int64_t)time(NULL));
	return write_one(priv, PA_GRANT_PUT, &p, META_OK);
}

enum meta_err
pg_grant_delete(void *priv, const char *who, const char *pattern)
{
	struct pg_params p = { 0 };

	pg_text(&p, who);
	pg_text(&p, pattern);
	return write_one(priv, PA_GRANT_DELETE, &p, META_NOTFOUND);
}

enum meta_err
pg_grants_list(void *priv, json_t *out)
{
	return list(priv, PA_GRANTS_LIST, out);
}

/* --- The audit actor -------------------------------------------------- */

enum meta_err
pg_actor_restore(struct pg *q)
{
	struct pg_params p = { 0 };
	enum meta_err e;
	PGresult *res;

	if (q->actor_sent)
		return META_OK;
	pg_text(&p, q->actor_on ? q->actor : "");
	if ((res = stmt(q, PA_ACTOR_SET, &p, &e)) == NULL)
		return e;
	PQclear(res);
	q->actor_sent = true;
	return META_OK;
}

/* The name is kept in q and sent only when it changes (one round trip
 * for the first write of another caller, none for the next writes of
 * the same one); a new connection gets it again from connect_db(). */
enum meta_err
pg_set_actor(void *priv, const char *user)
{
	struct pg *q = priv;
	enum meta_err e;

	if (user == NULL) {
		if (q->actor_on)
			q->actor_sent = false;
		q->actor_on = false;
	} else {
		if (strlen(user) >= sizeof(q->actor))
			return META_ERR;
		if (!q->actor_on || strcmp(q->actor, user) != 0)
			q->actor_sent = false;
		snprintf(q->actor, sizeof(q->actor), "%s", user);
		q->actor_on = true;
	}
	if (q->actor_sent)
		return META_OK;
	if ((e = pg_ready(q)) != META_OK)
		return e;
	return pg_actor_restore(q);
}
