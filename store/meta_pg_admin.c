/* meta_pg_admin.c -- the PostgreSQL backend's operator half: the
 * queries and transactions of meta_admin.h, on meta_pg.c's connection
 * (meta_pg.h).  The same queries as meta_sqlite_admin.c, in PostgreSQL's
 * dialect, over the views of sql/postgresql/002_operator.sql.
 *
 * These run once per `berth` command: unprepared (PQexecParams).  Rows
 * become jansson objects keyed by column name (row_object), typed by the
 * column's type, so a query's column list is its output shape, as with
 * SQLite. */
#include "meta_pg.h"
#include "meta_sql.h"
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Type OIDs (pg_type.h, stable across versions). */
#define OID_BOOL    16
#define OID_BYTEA   17
#define OID_INT8    20
#define OID_INT2    21
#define OID_INT4    23
#define OID_FLOAT4  700
#define OID_FLOAT8  701
#define OID_NUMERIC 1700

/* Row i as an object {column name: value}; bytea columns are left out
 * (manifest bodies travel through meta_manifest_get()). */
static json_t *
row_object(const PGresult *res, int i)
{
	json_t *o = json_object();

	for (int c = 0; c < PQnfields(res); c++) {
		const char *k = PQfname(res, c), *v = PQgetvalue(res, i, c);

		if (PQgetisnull(res, i, c)) {
			json_object_set_new(o, k, json_null());
			continue;
		}
		switch (PQftype(res, c)) {
		case OID_INT2:
		case OID_INT4:
		case OID_INT8:
			json_object_set_new(o, k,
			    json_integer(pg_getint(res, i, c)));
			break;
		case OID_NUMERIC:
			if (strchr(v, '.') == NULL)
				json_object_set_new(o, k,
				    json_integer(strtoll(v, NULL, 10)));
			else
				json_object_set_new(o, k,
				    json_real(strtod(v, NULL)));
			break;
		case OID_FLOAT4:
		case OID_FLOAT8:
			json_object_set_new(o, k, json_real(strtod(v, NULL)));
			break;
		case OID_BOOL:
			json_object_set_new(o, k, json_boolean(v[0] == 't'));
			break;
		case OID_BYTEA:
			break;
		default:
			json_object_set_new(o, k, json_string(v));
			break;
		}
	}
	return o;
}

void
pg_rows(const PGresult *res, json_t *out)
{
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(out, row_object(res, i));
}

/* Run sql with p (may be NULL), appending each row to out. */
static enum meta_err
rows(struct pg *q, const char *sql, const struct pg_params *p, json_t *out)
{
	enum meta_err e;
	PGresult *res;

	if ((e = pg_ready(q)) != META_OK)
		return e;
	if ((res = pg_query(q, sql, p, &e)) == NULL)
		return e;
	pg_rows(res, out);
	PQclear(res);
	return META_OK;
}

/* Run sql: its one row as a new object in *out, or META_NOTFOUND. */
static enum meta_err
one_row(struct pg *q, const char *sql, const struct pg_params *p, json_t **out)
{
	enum meta_err e;
	PGresult *res;

	*out = NULL;
	if ((e = pg_ready(q)) != META_OK)
		return e;
	if ((res = pg_query(q, sql, p, &e)) == NULL)
		return e;
	e = META_NOTFOUND;
	if (PQntuples(res) > 0) {
		*out = row_object(res, 0);
		e = META_OK;
	}
	PQclear(res);
	return e;
}

/* Run sql, which returns no rows; *changed (may be NULL) the rows it
 * touched. */
static enum meta_err
command(struct pg *q, const char *sql, const struct pg_params *p, long *changed)
{
	enum meta_err e;
	PGresult *res;

	if ((e = pg_ready(q)) != META_OK)
		return e;
	if ((res = pg_query(q, sql, p, &e)) == NULL)
		return e;
	if (changed != NULL)
		*changed = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return META_OK;
}

/* --- Listings -------------------------------------------------------- */

enum meta_err
pg_admin_repos(void *priv, json_t *out)
{
	return rows(priv,
	    "SELECT repository, tags, manifests, manifest_bytes, "
	    "blobs, blob_bytes, shared_bytes, unique_bytes "
	    "FROM repository_size "
	    "WHERE tags > 0 OR manifests > 0 OR blobs > 0 "
	    "ORDER BY repository",
	    NULL, out);
}

static enum meta_err
repo_exists(struct pg *q, const char *repo)
{
	struct pg_params p = { 0 };
	json_t *row;
	enum meta_err e;

	pg_text(&p, repo);
	e = one_row(q, "SELECT 1 AS one FROM repositories WHERE name = $1", &p,
	    &row);
	json_decref(row);
	return e;
}

enum meta_err
pg_admin_tags(void *priv, const char *repo, json_t *out)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;

	if ((e = repo_exists(q, repo)) != META_OK)
		return e;
	pg_text(&p, repo);
	return rows(q,
	    "SELECT t.name AS tag, m.digest, m.media_type, m.size, "
	    "m.pushed_at, t.updated_at FROM tags t "
	    "JOIN repositories r ON r.id = t.repository_id "
	    "JOIN manifests m ON m.id = t.manifest_id "
	    "WHERE r.name = $1 ORDER BY t.name",
	    &p, out);
}

enum meta_err
pg_admin_manifest(void *priv, const char *repo, const char *reference,
    bool by_digest, json_t **out)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	json_t *m = NULL, *tags, *stored;
	enum meta_err e;

	*out = NULL;
	pg_text(&p, repo);
	pg_text(&p, reference);
	e = one_row(q,
	    by_digest ?
		"SELECT m.id, r.name AS repository, m.digest, m.media_type, m.size, "
		"m.pushed_at, m.subject, m.artifact_type FROM manifests m "
		"JOIN repositories r ON r.id = m.repository_id "
		"WHERE r.name = $1 AND m.digest = $2" :
		"SELECT m.id, r.name AS repository, m.digest, m.media_type, m.size, "
		"m.pushed_at, m.subject, m.artifact_type FROM tags t "
		"JOIN repositories r ON r.id = t.repository_id "
		"JOIN manifests m ON m.id = t.manifest_id "
		"WHERE r.name = $1 AND t.name = $2",
	    &p, &m);
	if (e != META_OK)
		return e;

	/* Tags and stored blobs as rows; meta_admin_manifest() shapes
	 * them. */
	memset(&p, 0, sizeof(p));
	pg_int(&p, json_integer_value(json_object_get(m, "id")));
	json_object_del(m, "id");
	tags = json_array();
	stored = json_array();
	json_object_set_new(m, "tags", tags);
	json_object_set_new(m, "stored", stored);
	if ((e = rows(q,
		 "SELECT name FROM tags WHERE manifest_id = $1 "
		 "ORDER BY name",
		 &p, tags)) != META_OK)
		goto fail;
	if ((e = rows(q,
		 "SELECT b.digest, b.size FROM manifest_references x "
		 "JOIN blobs b ON b.digest = x.digest WHERE x.manifest_id = $1",
		 &p, stored)) != META_OK)
		goto fail;
	*out = m;
	return META_OK;
fail:
	json_decref(m);
	return e;
}

enum meta_err
pg_admin_du(void *priv, json_t **out)
{
	return one_row(priv,
	    "WITH lc AS (SELECT digest, count(*) AS n FROM blob_links "
	    "    GROUP BY digest), "
	    "u AS (SELECT b.digest, b.size FROM blobs b WHERE NOT EXISTS "
	    "    (SELECT 1 FROM manifest_references x WHERE x.digest = b.digest)) "
	    "SELECT (SELECT count(*) FROM repositories) AS repositories, "
	    "(SELECT count(*) FROM manifests) AS manifests, "
	    "(SELECT coalesce(sum(size), 0)::bigint FROM manifests) AS manifest_bytes, "
	    "(SELECT count(*) FROM blobs) AS blobs, "
	    "(SELECT coalesce(sum(size), 0)::bigint FROM blobs) AS blob_bytes, "
	    "(SELECT coalesce(sum(b.size), 0)::bigint FROM blob_links l "
	    "    JOIN blobs b ON b.digest = l.digest) AS linked_bytes, "
	    "(SELECT count(*) FROM lc WHERE n > 1) AS shared_blobs, "
	    "(SELECT coalesce(sum(b.size), 0)::bigint FROM lc "
	    "    JOIN blobs b ON b.digest = lc.digest WHERE lc.n > 1) AS shared_bytes, "
	    "(SELECT count(*) FROM u) AS unreferenced_blobs, "
	    "(SELECT coalesce(sum(size), 0)::bigint FROM u) AS unreferenced_bytes",
	    NULL, out);
}

enum meta_err
pg_admin_uploads(void *priv, json_t *out)
{
	return rows(priv,
	    "SELECT uuid, repository, algorithm, size, "
	    "started_at, updated_at FROM uploads ORDER BY updated_at, uuid",
	    NULL, out);
}

enum meta_err
pg_admin_audit(void *priv, const char *repo, long limit, json_t *out)
{
	struct pg_params p = { 0 };

	pg_text(&p, repo);
	pg_int(&p, limit);
	return rows(priv,
	    "SELECT * FROM (SELECT id, at, action, repository, "
	    "tag, digest, old_digest, \"user\" FROM audit "
	    "WHERE $1::text IS NULL OR repository = $1 ORDER BY id DESC "
	    "LIMIT $2) a ORDER BY id",
	    &p, out);
}

/* --- Transactions for gc and fsck ----------------------------------- */

enum meta_err
pg_admin_begin(void *priv)
{
	struct pg *q = priv;
	enum meta_err e;

	if (q->in_tx)
		return META_ERR;
	if ((e = pg_begin(q)) == META_OK)
		q->in_tx = true;
	return e;
}

enum meta_err
pg_admin_end(void *priv, bool commit)
{
	struct pg *q = priv;
	enum meta_err e = META_OK;

	if (!q->in_tx)
		return commit ? META_ERR : META_OK;
	q->in_tx = false;
	if (commit && (e = pg_commit(q)) == META_OK)
		return META_OK;
	pg_rollback(q);
	return commit ? e : META_OK;
}

/* The rule of untagged_manifests (sql/postgresql/002_operator.sql), with
 * a cutoff ($1). */
#define UNTAGGED_WHERE \
	"m.pushed_at <= $1 " \
	"AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id) " \
	"AND NOT EXISTS (SELECT 1 FROM manifest_references x " \
	"    JOIN manifests p ON p.id = x.manifest_id " \
	"    WHERE p.repository_id = m.repository_id AND x.digest = m.digest) " \
	"AND NOT EXISTS (SELECT 1 FROM manifests s " \
	"    WHERE m.subject IS NOT NULL AND s.repository_id = m.repository_id " \
	"    AND s.digest = m.subject)"

enum meta_err
pg_gc_untagged(void *priv, int64_t cutoff, json_t *out)
{
	struct pg *q = priv;
	struct pg_params p;
	json_t *round = NULL;
	enum meta_err e;
	size_t n;

	do {
		round = json_array();
		memset(&p, 0, sizeof(p));
		pg_int(&p, cutoff);
		if ((e = rows(q,
			 "SELECT m.id, r.name AS repository, m.digest, "
			 "m.media_type, m.size FROM manifests m "
			 "JOIN repositories r ON r.id = m.repository_id WHERE " UNTAGGED_WHERE
			 " ORDER BY r.name, m.digest",
			 &p, round)) != META_OK)
			goto fail;
		n = json_array_size(round);
		for (size_t i = 0; i < n; i++) {
			json_t *m = json_array_get(round, i);

			memset(&p, 0, sizeof(p));
			pg_int(&p,
			    json_integer_value(json_object_get(m, "id")));
			if ((e = command(q,
				 "DELETE FROM manifests WHERE id = $1", &p,
				 NULL)) != META_OK)
				goto fail;
			json_object_del(m, "id");
			json_array_append(out, m);
		}
		json_decref(round);
	} while (n > 0);
	return META_OK;
fail:
	json_decref(round);
	return e;
}

/* Garbage: no manifest references it, stored and last linked at or
 * before the cutoff ($1). */
#define GARBAGE_WHERE \
	"b.created_at <= $1 " \
	"AND NOT EXISTS (SELECT 1 FROM manifest_references x " \
	"    WHERE x.digest = b.digest) " \
	"AND NOT EXISTS (SELECT 1 FROM blob_links l " \
	"    WHERE l.digest = b.digest AND l.linked_at > $1)"

enum meta_err
pg_gc_candidates(void *priv, int64_t cutoff, json_t *out)
{
	struct pg_params p = { 0 };

	pg_int(&p, cutoff);
	return rows(priv,
	    "SELECT b.digest, b.size FROM blobs b WHERE " GARBAGE_WHERE
	    " ORDER BY b.digest",
	    &p, out);
}

enum meta_err
pg_gc_blob_delete(void *priv, const char *digest, int64_t cutoff, bool *deleted,
    uint64_t *size)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	json_t *row;
	enum meta_err e;

	*deleted = false;
	pg_int(&p, cutoff);
	pg_text(&p, digest);
	/* C5: inside admin_begin's transaction, under the writer lock, on
	 * the newest state (each READ COMMITTED statement reads what was
	 * committed before it). */
	e = one_row(q,
	    "SELECT b.size FROM blobs b WHERE b.digest = $2 AND " GARBAGE_WHERE,
	    &p, &row);
	if (e == META_NOTFOUND)
		return META_OK; /* referenced or fresh again: keep */
	if (e != META_OK)
		return e;
	*size = (uint64_t)json_integer_value(json_object_get(row, "size"));
	json_decref(row);
	if ((e = pg_admin_blob_forget(q, digest)) != META_OK)
		return e;
	*deleted = true;
	return META_OK;
}

enum meta_err
pg_admin_blob(void *priv, const char *digest, uint64_t *size)
{
	struct pg_params p = { 0 };
	json_t *row;
	enum meta_err e;

	pg_text(&p, digest);
	e = one_row(priv, "SELECT size FROM blobs WHERE digest = $1", &p, &row);
	if (e == META_OK)
		*size = (uint64_t)json_integer_value(
		    json_object_get(row, "size"));
	json_decref(row);
	return e;
}

enum meta_err
pg_admin_blob_page(void *priv, const char *after, size_t n, json_t *out)
{
	struct pg_params p = { 0 };

	pg_text(&p, after);
	pg_int(&p, (int64_t)n);
	return rows(priv,
	    "SELECT digest, size FROM blobs WHERE digest > $1 "
	    "ORDER BY digest LIMIT $2",
	    &p, out);
}

enum meta_err
pg_admin_blob_forget(void *priv, const char *digest)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;
	long n = 0;

	pg_text(&p, digest);
	if ((e = command(q, "DELETE FROM blob_links WHERE digest = $1", &p,
		 NULL)) != META_OK)
		return e;
	if ((e = command(q, "DELETE FROM blobs WHERE digest = $1", &p, &n)) !=
	    META_OK)
		return e;
	return n > 0 ? META_OK : META_NOTFOUND;
}

enum meta_err
pg_admin_referencing(void *priv, const char *digest, json_t *out)
{
	struct pg_params p = { 0 };
	json_t *list = json_array(), *v;
	enum meta_err e;
	size_t i;

	pg_text(&p, digest);
	e = rows(priv,
	    "SELECT r.name || '@' || m.digest AS ref "
	    "FROM manifest_references x JOIN manifests m ON m.id = x.manifest_id "
	    "JOIN repositories r ON r.id = m.repository_id "
	    "WHERE x.digest = $1 ORDER BY ref",
	    &p, list);
	json_array_foreach(list, i, v)
		json_array_append(out, json_object_get(v, "ref"));
	json_decref(list);
	return e;
}

/* PostgreSQL enforces its foreign keys and checks its pages itself; what
 * it cannot is that every migration this build knows was applied. */
enum meta_err
pg_admin_integrity(void *priv, json_t *out)
{
	struct pg *q = priv;
	json_t *list = json_array(), *v;
	enum meta_err e;
	size_t i;
	int applied = 0;

	e = rows(q, "SELECT version FROM schema_migrations ORDER BY version",
	    NULL, list);
	json_array_foreach(list, i, v)
		applied++;
	json_decref(list);
	if (e == META_OK && applied < pg_schema_migration_count) {
		char msg[128];

		snprintf(msg, sizeof(msg),
		    "schema: %d of %d migrations applied", applied,
		    pg_schema_migration_count);
		json_array_append_new(out, json_string(msg));
	}
	return e;
}

enum meta_err
pg_admin_unlinked(void *priv, json_t *out)
{
	return rows(priv, META_SQL_UNLINKED, NULL, out);
}

enum meta_err
pg_admin_pub_rows(void *priv, json_t *out)
{
	return rows(priv, META_SQL_PUB_ROWS, NULL, out);
}
