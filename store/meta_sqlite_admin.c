/* meta_sqlite_admin.c -- the SQLite backend's operator half: the
 * queries and transactions of meta_admin.h, on meta_sqlite.c's
 * connection (meta_sqlite.h).  With meta_sqlite.c, the only file with
 * SQLite's SQL in it.
 *
 * Each function prepares its statement, steps it, and finalizes it:
 * these run once per `berth` command.  Rows become jansson objects keyed
 * by column name (row_object), so a query's column list is its output
 * shape. */
#include "meta_sql.h"
#include "meta_sqlite.h"

#include <stdio.h>
#include <string.h>

static void
log_db(sqlite3 *db, const char *what)
{
	fprintf(stderr, "berth: sqlite: %s: %s\n", what, sqlite3_errmsg(db));
}

sqlite3_stmt *
sq_prepare(struct sq *q, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(q->db, sql, -1, &s, NULL) != SQLITE_OK) {
		log_db(q->db, sql);
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

json_t *
sq_row_object(sqlite3_stmt *s)
{
	json_t *o = json_object();

	for (int i = 0; i < sqlite3_column_count(s); i++) {
		const char *k = sqlite3_column_name(s, i);

		switch (sqlite3_column_type(s, i)) {
		case SQLITE_INTEGER:
			json_object_set_new(o, k,
			    json_integer(sqlite3_column_int64(s, i)));
			break;
		case SQLITE_FLOAT:
			json_object_set_new(o, k,
			    json_real(sqlite3_column_double(s, i)));
			break;
		case SQLITE_TEXT:
			json_object_set_new(o, k,
			    json_string(
				(const char *)sqlite3_column_text(s, i)));
			break;
		case SQLITE_NULL:
			json_object_set_new(o, k, json_null());
			break;
		default:
			break;
		}
	}
	return o;
}

enum meta_err
sq_rows(sqlite3_stmt *s, json_t *out)
{
	int rc;

	if (s == NULL)
		return META_ERR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(out, sq_row_object(s));
	if (rc != SQLITE_DONE)
		log_db(sqlite3_db_handle(s), sqlite3_sql(s));
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? META_OK : META_ERR;
}

/* Step s once: its one row as a new object in *out, or META_NOTFOUND;
 * finalizes s. */
static enum meta_err
one_row(sqlite3_stmt *s, json_t **out)
{
	enum meta_err e = META_NOTFOUND;
	int rc;

	*out = NULL;
	if (s == NULL)
		return META_ERR;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = sq_row_object(s);
		e = META_OK;
	} else if (rc != SQLITE_DONE) {
		log_db(sqlite3_db_handle(s), sqlite3_sql(s));
		e = META_ERR;
	}
	sqlite3_finalize(s);
	return e;
}

/* Run s, which returns no rows; finalizes it. */
static enum meta_err
exec_once(sqlite3_stmt *s)
{
	int rc;

	if (s == NULL)
		return META_ERR;
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		log_db(sqlite3_db_handle(s), sqlite3_sql(s));
	sqlite3_finalize(s);
	return sq_result(rc);
}

/* --- Listings -------------------------------------------------------- */

enum meta_err
sq_admin_repos(void *priv, json_t *out)
{
	struct sq *q = priv;
	return sq_rows(
	    sq_prepare(q,
		"SELECT repository, tags, manifests, manifest_bytes, "
		"blobs, blob_bytes, shared_bytes, unique_bytes "
		"FROM repository_size "
		"WHERE tags > 0 OR manifests > 0 OR blobs > 0 "
		"ORDER BY repository"),
	    out);
}

static enum meta_err
repo_exists(struct sq *q, const char *repo)
{
	sqlite3_stmt *s = sq_prepare(q,
	    "SELECT 1 FROM repositories WHERE name = ?1");
	json_t *row;
	enum meta_err e;

	if (s == NULL)
		return META_ERR;
	bind_text(s, 1, repo);
	e = one_row(s, &row);
	json_decref(row);
	return e;
}

enum meta_err
sq_admin_tags(void *priv, const char *repo, json_t *out)
{
	struct sq *q = priv;
	sqlite3_stmt *s;
	enum meta_err e;

	e = repo_exists(q, repo);
	if (e != META_OK)
		return e;
	s = sq_prepare(q,
	    "SELECT t.name AS tag, m.digest, m.media_type, m.size, "
	    "m.pushed_at, t.updated_at FROM tags t "
	    "JOIN repositories r ON r.id = t.repository_id "
	    "JOIN manifests m ON m.id = t.manifest_id "
	    "WHERE r.name = ?1 ORDER BY t.name");
	if (s == NULL)
		return META_ERR;
	bind_text(s, 1, repo);
	return sq_rows(s, out);
}

enum meta_err
sq_admin_manifest(void *priv, const char *repo, const char *reference,
    bool by_digest, json_t **out)
{
	struct sq *q = priv;
	sqlite3_stmt *s;
	json_t *m = NULL, *tags, *stored;
	enum meta_err e;
	json_int_t id;

	*out = NULL;
	s = sq_prepare(q,
	    by_digest ?
		"SELECT m.id, r.name AS repository, m.digest, m.media_type, m.size, "
		"m.pushed_at, m.subject, m.artifact_type FROM manifests m "
		"JOIN repositories r ON r.id = m.repository_id "
		"WHERE r.name = ?1 AND m.digest = ?2" :
		"SELECT m.id, r.name AS repository, m.digest, m.media_type, m.size, "
		"m.pushed_at, m.subject, m.artifact_type FROM tags t "
		"JOIN repositories r ON r.id = t.repository_id "
		"JOIN manifests m ON m.id = t.manifest_id "
		"WHERE r.name = ?1 AND t.name = ?2");
	if (s == NULL)
		return META_ERR;
	bind_text(s, 1, repo);
	bind_text(s, 2, reference);
	e = one_row(s, &m);
	if (e != META_OK)
		return e;

	/* Tags and stored blobs as rows; meta_admin_manifest() shapes
	 * them. */
	id = json_integer_value(json_object_get(m, "id"));
	json_object_del(m, "id");
	tags = json_array();
	stored = json_array();
	json_object_set_new(m, "tags", tags);
	json_object_set_new(m, "stored", stored);
	e = META_ERR;
	s = sq_prepare(q,
	    "SELECT name FROM tags WHERE manifest_id = ?1 ORDER BY name");
	if (s == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, id);
	if (sq_rows(s, tags) != META_OK)
		goto fail;
	s = sq_prepare(q,
	    "SELECT b.digest, b.size FROM manifest_references x "
	    "JOIN blobs b ON b.digest = x.digest WHERE x.manifest_id = ?1");
	if (s == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, id);
	if (sq_rows(s, stored) != META_OK)
		goto fail;
	*out = m;
	return META_OK;
fail:
	json_decref(m);
	return e;
}

enum meta_err
sq_admin_du(void *priv, json_t **out)
{
	struct sq *q = priv;
	return one_row(
	    sq_prepare(q,
		"WITH lc AS (SELECT digest, count(*) AS n FROM blob_links "
		"    GROUP BY digest), "
		"u AS (SELECT b.digest, b.size FROM blobs b WHERE NOT EXISTS "
		"    (SELECT 1 FROM manifest_references x WHERE x.digest = b.digest)) "
		"SELECT (SELECT count(*) FROM repositories) AS repositories, "
		"(SELECT count(*) FROM manifests) AS manifests, "
		"(SELECT coalesce(sum(size), 0) FROM manifests) AS manifest_bytes, "
		"(SELECT count(*) FROM blobs) AS blobs, "
		"(SELECT coalesce(sum(size), 0) FROM blobs) AS blob_bytes, "
		"(SELECT coalesce(sum(b.size), 0) FROM blob_links l "
		"    JOIN blobs b ON b.digest = l.digest) AS linked_bytes, "
		"(SELECT count(*) FROM lc WHERE n > 1) AS shared_blobs, "
		"(SELECT coalesce(sum(b.size), 0) FROM lc "
		"    JOIN blobs b ON b.digest = lc.digest WHERE lc.n > 1) AS shared_bytes, "
		"(SELECT count(*) FROM u) AS unreferenced_blobs, "
		"(SELECT coalesce(sum(size), 0) FROM u) AS unreferenced_bytes"),
	    out);
}

enum meta_err
sq_admin_uploads(void *priv, json_t *out)
{
	struct sq *q = priv;
	return sq_rows(
	    sq_prepare(q,
		"SELECT uuid, repository, algorithm, size, "
		"started_at, updated_at FROM uploads ORDER BY updated_at, uuid"),
	    out);
}

enum meta_err
sq_admin_audit(void *priv, const char *repo, long limit, json_t *out)
{
	struct sq *q = priv;
	sqlite3_stmt *s = sq_prepare(q,
	    "SELECT * FROM (SELECT id, at, action, "
	    "repository, tag, digest, old_digest, user FROM audit "
	    "WHERE ?1 IS NULL OR repository = ?1 ORDER BY id DESC LIMIT ?2) "
	    "ORDER BY id");

	if (s == NULL)
		return META_ERR;
	bind_text(s, 1, repo);
	sqlite3_bind_int64(s, 2, limit);
	return sq_rows(s, out);
}

/* --- Transactions for gc and fsck ----------------------------------- */

enum meta_err
sq_admin_begin(void *priv)
{
	struct sq *q = priv;
	return exec_once(sq_prepare(q, "BEGIN IMMEDIATE"));
}

enum meta_err
sq_admin_end(void *priv, bool commit)
{
	struct sq *q = priv;
	if (sqlite3_get_autocommit(q->db))
		return commit ? META_ERR : META_OK;
	if (commit && exec_once(sq_prepare(q, "COMMIT")) == META_OK)
		return META_OK;
	exec_once(sq_prepare(q, "ROLLBACK"));
	return commit ? META_ERR : META_OK;
}

/* The rule of untagged_manifests (sql/002_operator.sql), with a cutoff. */
#define UNTAGGED_WHERE \
	"m.pushed_at <= ?1 " \
	"AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id) " \
	"AND NOT EXISTS (SELECT 1 FROM manifest_references x " \
	"    JOIN manifests p ON p.id = x.manifest_id " \
	"    WHERE p.repository_id = m.repository_id AND x.digest = m.digest) " \
	"AND NOT EXISTS (SELECT 1 FROM manifests s " \
	"    WHERE m.subject IS NOT NULL AND s.repository_id = m.repository_id " \
	"    AND s.digest = m.subject)"

enum meta_err
sq_gc_untagged(void *priv, int64_t cutoff, json_t *out)
{
	struct sq *q = priv;
	json_t *round;
	sqlite3_stmt *s;
	size_t n;

	do {
		round = json_array();
		s = sq_prepare(q,
		    "SELECT m.id, r.name AS repository, m.digest, "
		    "m.media_type, m.size FROM manifests m "
		    "JOIN repositories r ON r.id = m.repository_id WHERE " UNTAGGED_WHERE
		    " ORDER BY r.name, m.digest");
		if (s != NULL)
			sqlite3_bind_int64(s, 1, cutoff);
		if (sq_rows(s, round) != META_OK)
			goto fail;
		n = json_array_size(round);
		for (size_t i = 0; i < n; i++) {
			json_t *m = json_array_get(round, i);

			s = sq_prepare(q,
			    "DELETE FROM manifests WHERE id = ?1");
			if (s == NULL)
				goto fail;
			sqlite3_bind_int64(s, 1,
			    json_integer_value(json_object_get(m, "id")));
			if (exec_once(s) != META_OK)
				goto fail;
			json_object_del(m, "id");
			json_array_append(out, m);
		}
		json_decref(round);
	} while (n > 0);
	return META_OK;
fail:
	json_decref(round);
	return META_ERR;
}

/* Garbage: no manifest references it, stored and last linked at or
 * before the cutoff (?1). */
#define GARBAGE_WHERE \
	"b.created_at <= ?1 " \
	"AND NOT EXISTS (SELECT 1 FROM manifest_references x " \
	"    WHERE x.digest = b.digest) " \
	"AND NOT EXISTS (SELECT 1 FROM blob_links l " \
	"    WHERE l.digest = b.digest AND l.linked_at > ?1)"

enum meta_err
sq_gc_candidates(void *priv, int64_t cutoff, json_t *out)
{
	struct sq *q = priv;
	sqlite3_stmt *s = sq_prepare(q,
	    "SELECT b.digest, b.size FROM blobs b WHERE " GARBAGE_WHERE
	    " ORDER BY b.digest");

	if (s == NULL)
		return META_ERR;
	sqlite3_bind_int64(s, 1, cutoff);
	return sq_rows(s, out);
}

enum meta_err
sq_gc_blob_delete(void *priv, const char *digest, int64_t cutoff, bool *deleted,
    uint64_t *size)
{
	struct sq *q = priv;
	sqlite3_stmt *s;
	json_t *row;
	enum meta_err e;

	*deleted = false;
	s = sq_prepare(q,
	    "SELECT b.size FROM blobs b WHERE b.digest = ?2 AND " GARBAGE_WHERE);
	if (s == NULL)
		return META_ERR;
	sqlite3_bind_int64(s, 1, cutoff);
	bind_text(s, 2, digest);
	e = one_row(s, &row);
	if (e == META_NOTFOUND)
		return META_OK; /* referenced or fresh again: keep */
	if (e != META_OK)
		return e;
	*size = (uint64_t)json_integer_value(json_object_get(row, "size"));
	json_decref(row);
	e = sq_admin_blob_forget(q, digest);
	if (e != META_OK)
		return e;
	*deleted = true;
	return META_OK;
}

enum meta_err
sq_admin_blob(void *priv, const char *digest, uint64_t *size)
{
	struct sq *q = priv;
	sqlite3_stmt *s = sq_prepare(q,
	    "SELECT size FROM blobs WHERE digest = ?1");
	json_t *row;
	enum meta_err e;

	if (s == NULL)
		return META_ERR;
	bind_text(s, 1, digest);
	e = one_row(s, &row);
	if (e == META_OK)
		*size = (uint64_t)json_integer_value(
		    json_object_get(row, "size"));
	json_decref(row);
	return e;
}

enum meta_err
sq_admin_blob_page(void *priv, const char *after, size_t n, json_t *out)
{
	struct sq *q = priv;
	sqlite3_stmt *s = sq_prepare(q,
	    "SELECT digest, size FROM blobs "
	    "WHERE digest > ?1 ORDER BY digest LIMIT ?2");

	if (s == NULL)
		return META_ERR;
	bind_text(s, 1, after);
	sqlite3_bind_int64(s, 2, (int64_t)n);
	return sq_rows(s, out);
}

enum meta_err
sq_admin_blob_forget(void *priv, const char *digest)
{
	struct sq *q = priv;
	sqlite3_stmt *s = sq_prepare(q,
	    "DELETE FROM blob_links WHERE digest = ?1");

	if (s == NULL)
		return META_ERR;
	bind_text(s, 1, digest);
	if (exec_once(s) != META_OK)
		return META_ERR;
	s = sq_prepare(q, "DELETE FROM blobs WHERE digest = ?1");
	if (s == NULL)
		return META_ERR;
	bind_text(s, 1, digest);
	if (exec_once(s) != META_OK)
		return META_ERR;
	return sqlite3_changes(q->db) > 0 ? META_OK : META_NOTFOUND;
}

enum meta_err
sq_admin_referencing(void *priv, const char *digest, json_t *out)
{
	struct sq *q = priv;
	sqlite3_stmt *s = sq_prepare(q,
	    "SELECT r.name || '@' || m.digest AS ref "
	    "FROM manifest_references x JOIN manifests m ON m.id = x.manifest_id "
	    "JOIN repositories r ON r.id = m.repository_id "
	    "WHERE x.digest = ?1 ORDER BY ref");
	json_t *list = json_array(), *v;
	enum meta_err e;
	size_t i;

	if (s != NULL)
		bind_text(s, 1, digest);
	e = sq_rows(s, list);
	json_array_foreach(list, i, v)
		json_array_append(out, json_object_get(v, "ref"));
	json_decref(list);
	return e;
}

enum meta_err
sq_admin_integrity(void *priv, json_t *out)
{
	struct sq *q = priv;
	json_t *list = json_array(), *v;
	enum meta_err e;
	size_t i;

	e = sq_rows(sq_prepare(q, "PRAGMA integrity_check"), list);
	json_array_foreach(list, i, v) {
		const char *msg = json_string_value(
		    json_object_get(v, "integrity_check"));

		if (msg != NULL && strcmp(msg, "ok") != 0)
			json_array_append_new(out, json_string(msg));
	}
	json_array_clear(list);
	if (e == META_OK)
		e = sq_rows(sq_prepare(q, "PRAGMA foreign_key_check"), list);
	json_array_foreach(list, i, v) {
		char msg[512];

		snprintf(msg, sizeof(msg),
		    "foreign key: row %lld of %s "
		    "references a missing row of %s",
		    (long long)json_integer_value(json_object_get(v, "rowid")),
		    json_string_value(json_object_get(v, "table")),
		    json_string_value(json_object_get(v, "parent")));
		json_array_append_new(out, json_string(msg));
	}
	json_decref(list);
	return e;
}

enum meta_err
sq_admin_unlinked(void *priv, json_t *out)
{
	struct sq *q = priv;

	return sq_rows(sq_prepare(q, META_SQL_UNLINKED), out);
}

enum meta_err
sq_admin_pub_rows(void *priv, json_t *out)
{
	struct sq *q = priv;

	return sq_rows(sq_prepare(q, META_SQL_PUB_ROWS), out);
}
