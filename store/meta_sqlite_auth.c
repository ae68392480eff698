/* meta_sqlite_auth.c -- the SQLite metadata backend's identities: users,
 * CI tokens and grants (sql/003_auth.sql), and the audit actor.
 * Contracts in meta_auth.h; priv is the struct sq of meta_sqlite.c.
 * The operator commands' statements are prepared per call; the three a
 * request runs (a Basic sign-in's user or CI token, a write's actor) are
 * kept in q->auth_stmts, prepared on first use and reset after each. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "meta_auth.h"
#include "meta_sqlite.h"

static void
log_db(struct sq *q, const char *what)
{
	fprintf(stderr, "berth: sqlite: %s: %s\n", what, sqlite3_errmsg(q->db));
}

/* Prepare sql; NULL after logging. */
static sqlite3_stmt *
prepare(struct sq *q, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(q->db, sql, -1, &s, NULL) != SQLITE_OK) {
		log_db(q, sql);
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

static const char *const auth_sql[SA_COUNT] = {
	[SA_USER_GET] = "SELECT hash FROM users WHERE name = ?1",
	[SA_CI_TOKEN_GET] = "SELECT id, name, secret_hash, scope, "
			    "created_at, coalesce(expires_at, 0), revoked "
			    "FROM ci_tokens WHERE id = ?1",
	[SA_ACTOR_SET] = "UPDATE temp.actor SET user = ?1",
};

/* The kept statement for id, reset and unbound; NULL after logging. */
static sqlite3_stmt *
kept(struct sq *q, enum sq_auth_stmt_id id)
{
	if (q->auth_stmts[id] == NULL &&
	    sqlite3_prepare_v3(q->db, auth_sql[id], -1,
		SQLITE_PREPARE_PERSISTENT, &q->auth_stmts[id],
		NULL) != SQLITE_OK) {
		log_db(q, auth_sql[id]);
		return NULL;
	}
	return q->auth_stmts[id];
}

/* Finish with a kept statement: reset it so it holds no locks or rows. */
static void
release(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* Step a statement that returns no rows and finalize it; META_OK, or
 * META_FULL/META_ERR after logging.  *changes (may be NULL) receives
 * the rows it changed. */
static enum meta_err
run(struct sq *q, sqlite3_stmt *s, int *changes)
{
	int rc;

	if (s == NULL)
		return META_ERR;
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE) {
		log_db(q, sqlite3_sql(s));
		sqlite3_finalize(s);
		return sq_result(rc);
	}
	if (changes != NULL)
		*changes = sqlite3_changes(q->db);
	sqlite3_finalize(s);
	return META_OK;
}

static enum meta_err
exec(struct sq *q, const char *sql)
{
	if (sqlite3_exec(q->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		log_db(q, sql);
		return META_ERR;
	}
	return META_OK;
}

static void
end(struct sq *q, bool commit)
{
	if (commit && exec(q, "COMMIT") == META_OK)
		return;
	if (!sqlite3_get_autocommit(q->db))
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Is `name` taken by a user or a CI token?  -1 on error. */
static int
name_taken(struct sq *q, const char *name)
{
	sqlite3_stmt *s = prepare(q,
	    "SELECT 1 FROM users WHERE name = ?1 "
	    "UNION ALL SELECT 1 FROM ci_tokens WHERE name = ?1");
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : -1;
}

enum meta_err
sq_user_add(void *priv, const char *name, const char *hash)
{
	struct sq *q = priv;
	sqlite3_stmt *s;
	enum meta_err e;
	int taken;

	if (exec(q, "BEGIN IMMEDIATE") != META_OK)
		return META_ERR;
	if ((taken = name_taken(q, name)) != 0) {
		end(q, false);
		return taken > 0 ? META_CONFLICT : META_ERR;
	}
	s = prepare(q,
	    "INSERT INTO users (name, hash, created_at, updated_at) "
	    "VALUES (?1, ?2, ?3, ?3)");
	if (s != NULL) {
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, hash, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, (int64_t)time(NULL));
	}
	e = run(q, s, NULL);
	end(q, e == META_OK);
	return e;
}

enum meta_err
sq_user_passwd(void *priv, const char *name, const char *hash)
{
	struct sq *q = priv;
	sqlite3_stmt *s = prepare(q,
	    "UPDATE users SET hash = ?2, "
	    "updated_at = ?3 WHERE name = ?1");
	enum meta_err e;
	int n = 0;

	if (s != NULL) {
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, hash, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, (int64_t)time(NULL));
	}
	e = run(q, s, &n);
	return e == META_OK && n == 0 ? META_NOTFOUND : e;
}

enum meta_err
sq_user_get(void *priv, const char *name, char *hash)
{
	struct sq *q = priv;
	sqlite3_stmt *s = kept(q, SA_USER_GET);
	enum meta_err e = META_NOTFOUND;
	int rc;

	if (s == NULL)
		return META_ERR;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *h = sqlite3_column_text(s, 0);

		e = META_ERR;
		if (h != NULL && strlen((const char *)h) < META_HASH_MAX) {
			strcpy(hash, (const char *)h);
			e = META_OK;
		}
	} else if (rc != SQLITE_DONE) {
		log_db(q, "reading a user");
		e = META_ERR;
	}
	release(s);
	return e;
}

enum meta_err
sq_user_delete(void *priv, const char *name)
{
	struct sq *q = priv;
	sqlite3_stmt *s;
	enum meta_err e;
	int n = 0;

	if (exec(q, "BEGIN IMMEDIATE") != META_OK)
		return META_ERR;
	s = prepare(q, "DELETE FROM users WHERE name = ?1");
	if (s != NULL)
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	e = run(q, s, &n);
	if (e == META_OK && n == 0)
		e = META_NOTFOUND;
	if (e == META_OK) {
		s = prepare(q, "DELETE FROM grants WHERE who = ?1");
		if (s != NULL)
			sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		e = run(q, s, NULL);
	}
	end(q, e == META_OK);
	return e;
}

/* Append one object per row of s to out, column names as keys; integer
 * and NULL columns keep their types.  Finalizes s. */
static enum meta_err
rows(struct sq *q, sqlite3_stmt *s, json_t *out)
{
	int rc;

	if (s == NULL)
		return META_ERR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		json_t *o = json_object();

		for (int i = 0; o != NULL && i < sqlite3_column_count(s); i++) {
			json_t *v;

			switch (sqlite3_column_type(s, i)) {
			case SQLITE_INTEGER:
				v = json_integer(sqlite3_column_int64(s, i));
				break;
			case SQLITE_NULL:
				v = json_null();
				break;
			default:
				v = json_string(
				    (const char *)sqlite3_column_text(s, i));
				break;
			}
			json_object_set_new(o, sqlite3_column_name(s, i), v);
		}
		if (o == NULL || json_array_append_new(out, o) != 0) {
			sqlite3_finalize(s);
			return META_ERR;
		}
	}
	if (rc != SQLITE_DONE)
		log_db(q, sqlite3_sql(s));
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? META_OK : META_ERR;
}

enum meta_err
sq_users_list(void *priv, json_t *out)
{
	struct sq *q = priv;

	return rows(q,
	    prepare(q,
		"SELECT name, created_at, updated_at "
		"FROM users ORDER BY name"),
	    out);
}

enum meta_err
sq_identities_count(void *priv, long *n)
{
	struct sq *q = priv;
	sqlite3_stmt *s = prepare(q,
	    "SELECT (SELECT count(*) FROM users) + "
	    "(SELECT count(*) FROM ci_tokens WHERE revoked = 0)");
	int rc;

	if (s == NULL)
		return META_ERR;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*n = (long)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? META_OK : META_ERR;
}

enum meta_err
sq_ci_token_add(void *priv, const struct meta_ci_token *t)
{
	struct sq *q = priv;
	sqlite3_stmt *s;
	enum meta_err e;
	int taken;

	if (exec(q, "BEGIN IMMEDIATE") != META_OK)
		return META_ERR;
	if ((taken = name_taken(q, t->name)) != 0) {
		end(q, false);
		return taken > 0 ? META_CONFLICT : META_ERR;
	}
	s = prepare(q,
	    "INSERT OR IGNORE INTO ci_tokens (id, name, secret_hash, "
	    "scope, created_at, expires_at, revoked) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)");
	if (s != NULL) {
		sqlite3_bind_text(s, 1, t->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, t->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, t->secret_hash, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, t->scope, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 5, t->created_at);
		if (t->expires_at > 0)
			sqlite3_bind_int64(s, 6, t->expires_at);
		else
			sqlite3_bind_null(s, 6);
	}
	{
		int n = 0;

		e = run(q, s, &n);
		if (e == META_OK && n == 0)
			e = META_CONFLICT;
	}
	end(q, e == META_OK);
	return e;
}

/* Copy column i of s (text) into dst of cap bytes; false when too long. */
static bool
column_copy(sqlite3_stmt *s, int i, char *dst, size_t cap)
{
	const unsigned char *v = sqlite3_column_text(s, i);

	if (v == NULL || strlen((const char *)v) >= cap)
		return false;
	strcpy(dst, (const char *)v);
	return true;
}

enum meta_err
sq_ci_token_get(void *priv, const char *id, struct meta_ci_token *t)
{
	struct sq *q = priv;
	sqlite3_stmt *s = kept(q, SA_CI_TOKEN_GET);
	enum meta_err e = META_NOTFOUND;
	int rc;

	if (s == NULL)
		return META_ERR;
	memset(t, 0, sizeof(*t));
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		e = META_ERR;
		if (column_copy(s, 0, t->id, sizeof(t->id)) &&
		    column_copy(s, 1, t->name, sizeof(t->name)) &&
		    column_copy(s, 2, t->secret_hash, sizeof(t->secret_hash)) &&
		    column_copy(s, 3, t->scope, sizeof(t->scope))) {
			t->created_at = sqlite3_column_int64(s, 4);
			t->expires_at = sqlite3_column_int64(s, 5);
			t->revoked = sqlite3_column_int(s, 6) != 0;
			e = META_OK;
		}
	} else if (rc != SQLITE_DONE) {
		log_db(q, "reading a CI token");
		e = META_ERR;
	}
	release(s);
	return e;
}

enum meta_err
sq_ci_tokens_list(void *priv, json_t *out)
{
	struct sq *q = priv;

	return rows(q,
	    prepare(q,
		"SELECT id, name, scope, created_at, "
		"expires_at, revoked FROM ci_tokens ORDER BY name"),
	    out);
}

enum meta_err
sq_ci_token_revoke(void *priv, const char *name)
{
	struct sq *q = priv;
	sqlite3_stmt *s = prepare(q,
	    "UPDATE ci_tokens SET revoked = 1 "
	    "WHERE name = ?1 AND revoked = 0");
	enum meta_err e;
	int n = 0;

	if (s != NULL)
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	e = run(q, s, &n);
	return e == META_OK && n == 0 ? META_NOTFOUND : e;
}

enum meta_err
sq_grant_put(void *priv, const char *who, const char *pattern,
    const char *actions)
{
	struct sq *q = priv;
	sqlite3_stmt *s = prepare(q,
	    "INSERT INTO grants (who, pattern, "
	    "actions, created_at) VALUES (?1, ?2, ?3, ?4) "
	    "ON CONFLICT (who, pattern) DO UPDATE SET "
	    "actions = excluded.actions, created_at = excluded.created_at");

	if (s != NULL) {
		sqlite3_bind_text(s, 1, who, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, pattern, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, actions, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, (int64_t)time(NULL));
	}
	return run(q, s, NULL);
}

enum meta_err
sq_grant_delete(void *priv, const char *who, const char *pattern)
{
	struct sq *q = priv;
	sqlite3_stmt *s = prepare(q,
	    "DELETE FROM grants WHERE who = ?1 "
	    "AND pattern = ?2");
	enum meta_err e;
	int n = 0;

	if (s != NULL) {
		sqlite3_bind_text(s, 1, who, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, pattern, -1, SQLITE_STATIC);
	}
	e = run(q, s, &n);
	return e == META_OK && n == 0 ? META_NOTFOUND : e;
}

enum meta_err
sq_grants_list(void *priv, json_t *out)
{
	struct sq *q = priv;

	return rows(q,
	    prepare(q,
		"SELECT who, pattern, actions, created_at "
		"FROM grants ORDER BY who, pattern"),
	    out);
}

/* The actor lives in a TEMP table of this connection, and a TEMP
 * trigger (which, unlike the schema's own, may reach across databases)
 * copies it into each audit row the schema's triggers insert.  So the
 * main database is never written for it, a sqlite3 shell or another
 * connection is not affected, and the name lands in the same
 * transaction as the change it describes. */
enum meta_err
sq_set_actor(void *priv, const char *user)
{
	struct sq *q = priv;
	sqlite3_stmt *s;
	int rc;

	if (!q->actor_ready) {
		if (user == NULL)
			return META_OK;
		if (exec(q,
			"PRAGMA temp_store = MEMORY; "
			"CREATE TEMP TABLE IF NOT EXISTS actor (user TEXT); "
			"DELETE FROM temp.actor; "
			"INSERT INTO temp.actor VALUES (NULL); "
			"CREATE TEMP TRIGGER IF NOT EXISTS audit_actor "
			"AFTER INSERT ON main.audit WHEN NEW.user IS NULL "
			"BEGIN UPDATE audit SET user = "
			"(SELECT user FROM actor) WHERE id = NEW.id; END;") !=
		    META_OK)
			return META_ERR;
		q->actor_ready = true;
	}
	if ((s = kept(q, SA_ACTOR_SET)) == NULL)
		return META_ERR;
	if (user != NULL)
		sqlite3_bind_text(s, 1, user, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		log_db(q, auth_sql[SA_ACTOR_SET]);
	release(s);
	return rc == SQLITE_DONE ? META_OK : sq_result(rc);
}
