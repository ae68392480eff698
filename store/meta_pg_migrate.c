/* meta_pg_migrate.c -- `berth migrate`: a SQLite registry database copied
 * into PostgreSQL; see meta_migrate.h.  Reads SQLite with its own
 * read-only connection (the registry may keep serving from it meanwhile:
 * the copy is of one snapshot; writes after it are not moved), writes
 * through the PostgreSQL backend's connection (meta_pg.h).
 *
 * The tables are copied in foreign-key order, column by column as they
 * are (sql/00N_*.sql and sql/postgresql/00N_*.sql have the same
 * columns; users, CI tokens and grants of 003 included): integers as text, bytes (manifest bodies, hash states) as
 * binary parameters.  The audit triggers fire on the inserts; their rows
 * are dropped before the audit trail itself is copied, so it ends as it
 * was.  Identity sequences are moved past the copied ids. */
#include "meta_migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "meta_pg.h"
#include "schema.h"

struct table {
	const char *name;
	const char *cols;    /* the column list, as in SQLite */
	const char *pg_cols; /* as in PostgreSQL (reserved words) */
	int ncols;
	const char *order;    /* SQLite ORDER BY: the key */
	const char *identity; /* the identity column, or NULL */
};

static const struct table tables[] = {
	{ "repositories", "id, name, created_at", NULL, 3, "id", "id" },
	{ "blobs", "digest, size, created_at", NULL, 3, "digest", NULL },
	{ "blob_links", "repository_id, digest, linked_at", NULL, 3,
	    "repository_id, digest", NULL },
	{ "manifests",
	    "id, repository_id, digest, media_type, size, body, "
	    "subject, artifact_type, annotations, pushed_at",
	    NULL, 10, "id", "id" },
	{ "manifest_references", "manifest_id, digest, kind", NULL, 3,
	    "manifest_id, digest", NULL },
	{ "tags", "repository_id, name, manifest_id, updated_at", NULL, 4,
	    "repository_id, name", NULL },
	{ "uploads",
	    "uuid, repository, algorithm, size, hash_state, "
	    "started_at, updated_at",
	    NULL, 7, "uuid", NULL },
	/* Identities (sql/003_auth.sql): password hashes and token hashes
	 * as they are, so every user and CI token signs in as before. */
	{ "users", "name, hash, created_at, updated_at", NULL, 4, "name",
	    NULL },
	{ "ci_tokens",
	    "id, name, secret_hash, scope, created_at, expires_at, revoked",
	    NULL, 7, "id", NULL },
	{ "grants", "who, pattern, actions, created_at", NULL, 4,
	    "who, pattern", NULL },
	{ "audit", "id, at, action, repository, tag, digest, old_digest, user",
	    "id, at, action, repository, tag, digest, old_digest, \"user\"", 8,
	    "id", "id" },
};

#define NTABLES (sizeof(tables) / sizeof(tables[0]))

/* One integer from SQLite (sql: one row, one column); -1 on error. */
static int64_t
sq_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	else
		fprintf(stderr, "berth migrate: sqlite: %s: %s\n", sql,
		    sqlite3_errmsg(db));
	sqlite3_finalize(s);
	return v;
}

/* One integer from PostgreSQL; -1 on error. */
static int64_t
pq_int(struct pg *q, const char *sql)
{
	enum meta_err e;
	PGresult *res = pg_query(q, sql, NULL, &e);
	int64_t v = -1;

	if (res != NULL && PQntuples(res) == 1)
		v = pg_getint(res, 0, 0);
	PQclear(res);
	return v;
}

/* Copy table t, row by row, through one prepared INSERT. */
static enum meta_err
copy_table(sqlite3 *db, struct pg *q, const struct table *t, int64_t *rows)
{
	char sql[1024], marks[128] = "";
	const char *v[16];
	int len[16], fmt[16];
	char num[16][24];
	sqlite3_stmt *s = NULL;
	enum meta_err e = META_OK;
	PGresult *res;
	int rc;

	*rows = 0;
	for (int i = 0; i < t->ncols; i++)
		snprintf(marks + strlen(marks), sizeof(marks) - strlen(marks),
		    "%s$%d", i ? ", " : "", i + 1);
	snprintf(sql, sizeof(sql), "INSERT INTO %s (%s) VALUES (%s)", t->name,
	    t->pg_cols != NULL ? t->pg_cols : t->cols, marks);
	res = PQprepare(q->conn, t->name, sql, 0, NULL);
	if ((e = pg_check(q, res, sql)) != META_OK) {
		PQclear(res);
		return e;
	}
	PQclear(res);
	snprintf(sql, sizeof(sql), "SELECT %s FROM %s ORDER BY %s", t->cols,
	    t->name, t->order);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "berth migrate: sqlite: %s: %s\n", sql,
		    sqlite3_errmsg(db));
		return META_ERR;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		for (int i = 0; i < t->ncols; i++) {
			fmt[i] = 0;
			len[i] = 0;
			switch (sqlite3_column_type(s, i)) {
			case SQLITE_NULL:
				v[i] = NULL;
				break;
			case SQLITE_INTEGER:
				snprintf(num[i], sizeof(num[i]), "%lld",
				    (long long)sqlite3_column_int64(s, i));
				v[i] = num[i];
				break;
			case SQLITE_BLOB:
				v[i] = sqlite3_column_blob(s, i);
				len[i] = sqlite3_column_bytes(s, i);
				if (v[i] == NULL)
					v[i] = "";
				fmt[i] = 1;
				break;
			default:
				v[i] = (const char *)sqlite3_column_text(s, i);
				break;
			}
		}
		res = PQexecPrepared(q->conn, t->name, t->ncols, v, len, fmt,
		    0);
		if ((e = pg_check(q, res, t->name)) != META_OK) {
			PQclear(res);
			break;
		}
		PQclear(res);
		(*rows)++;
	}
	if (e == META_OK && rc != SQLITE_DONE) {
		fprintf(stderr, "berth migrate: sqlite: reading %s: %s\n",
		    t->name, sqlite3_errmsg(db));
		e = META_ERR;
	}
	sqlite3_finalize(s);
	return e;
}

/* The checks before COMMIT: the same numbers on both sides.  Appends a
 * message to `bad` per difference. */
static enum meta_err
compare(sqlite3 *db, struct pg *q, json_t *counts, json_t *bad, json_t *report)
{
	static const char *const sums[][2] = {
		{ "blob_bytes", "SELECT coalesce(sum(size), 0) FROM blobs" },
		{ "manifest_bytes",
		    "SELECT coalesce(sum(size), 0) FROM manifests" },
		{ "manifest_body_bytes",
		    "SELECT coalesce(sum(length(body)), 0) FROM manifests" },
	};
	char sql[256], msg[256];
	int64_t a, b;

	for (size_t i = 0; i < NTABLES; i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s",
		    tables[i].name);
		a = sq_int(db, sql);
		b = pq_int(q, sql);
		if (a < 0 || b < 0)
			return META_ERR;
		json_object_set_new(counts, tables[i].name, json_integer(b));
		if (a != b) {
			snprintf(msg, sizeof(msg),
			    "%s: %lld rows in SQLite, "
			    "%lld in PostgreSQL",
			    tables[i].name, (long long)a, (long long)b);
			json_array_append_new(bad, json_string(msg));
		}
	}
	for (size_t i = 0; i < sizeof(sums) / sizeof(sums[0]); i++) {
		a = sq_int(db, sums[i][1]);
		/* PostgreSQL's sum() of bigint is numeric. */
		snprintf(sql, sizeof(sql), "SELECT (%s)::bigint", sums[i][1]);
		b = pq_int(q, sql);
		if (a < 0 || b < 0)
			return META_ERR;
		json_object_set_new(report, sums[i][0], json_integer(b));
		if (a != b) {
			snprintf(msg, sizeof(msg),
			    "%s: %lld in SQLite, %lld in "
			    "PostgreSQL",
			    sums[i][0], (long long)a, (long long)b);
			json_array_append_new(bad, json_string(msg));
		}
	}
	return META_OK;
}

enum meta_err
meta_migrate_sqlite_pg(const char *path, const char *dsn, const char *schema,
    const char *password_file, json_t **report)
{
	int latest = schema_migrations[schema_migration_count - 1].version;
	json_t *counts = NULL, *bad = NULL, *r = NULL, *v;
	sqlite3 *db = NULL;
	struct pg *q = NULL;
	enum meta_err e = META_ERR;
	char sql[256];
	int64_t rows, existing;
	size_t i;

	*report = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "berth migrate: %s: %s\n", path,
		    sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sq_int(db, "SELECT count(*) FROM sqlite_master") < 0)
		goto out; /* the read snapshot starts with that read */
	if (sq_int(db, "PRAGMA user_version") != latest) {
		fprintf(stderr,
		    "berth migrate: %s is not at schema version %d "
		    "(run berth on it once to bring it forward)\n",
		    path, latest);
		goto out;
	}
	if ((e = pg_open_dsn(dsn, schema, password_file, &q)) != META_OK)
		goto out;
	e = META_ERR;
	if (pg_begin(q) != META_OK)
		goto out;
	for (i = 0; i < NTABLES; i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s",
		    tables[i].name);
		if ((existing = pq_int(q, sql)) != 0) {
			if (existing > 0)
				fprintf(stderr,
				    "berth migrate: PostgreSQL schema "
				    "%s is not empty (%s has %lld rows); refusing "
				    "to merge\n",
				    schema, tables[i].name,
				    (long long)existing);
			goto rollback;
		}
	}
	for (i = 0; i < NTABLES; i++) {
		if (strcmp(tables[i].name, "audit") == 0 &&
		    pg_exec(q, "DELETE FROM audit") != META_OK)
			goto rollback; /* the triggers' rows, not the trail */
		if (copy_table(db, q, &tables[i], &rows) != META_OK)
			goto rollback;
		if (tables[i].identity != NULL && rows > 0) {
			snprintf(sql, sizeof(sql),
			    "SELECT setval(pg_get_serial_"
			    "sequence('%s', '%s'), (SELECT max(%s) FROM %s))",
			    tables[i].name, tables[i].identity,
			    tables[i].identity, tables[i].name);
			if (pg_exec(q, sql) != META_OK)
				goto rollback;
		}
	}
	r = json_object();
	counts = json_object();
	bad = json_array();
	if (compare(db, q, counts, bad, r) != META_OK)
		goto rollback;
	if (json_array_size(bad) > 0) {
		json_array_foreach(bad, i, v)
			fprintf(stderr, "berth migrate: check: %s\n",
			    json_string_value(v));
		fprintf(stderr, "berth migrate: nothing was committed\n");
		goto rollback;
	}
	if (pg_commit(q) != META_OK)
		goto rollback;
	json_object_set_new(r, "tables", counts);
	counts = NULL;
	json_object_set_new(r, "schema", json_string(schema));
	*report = r;
	r = NULL;
	e = META_OK;
	goto out;
rollback:
	pg_rollback(q);
out:
	json_decref(counts);
	json_decref(bad);
	json_decref(r);
	pg_free(q);
	if (db != NULL) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(db);
	}
	return e;
}
