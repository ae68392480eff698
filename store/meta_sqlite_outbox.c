/* meta_sqlite_outbox.c -- the SQLite backend's outbox operations
 * (meta.h, "Events"), for the deliverer (store/outbox.c) and `berth
 * notify status`, on meta_sqlite.c's connection (meta_sqlite.h).  The
 * rows themselves are written by meta_sqlite.c, in the transactions of
 * the changes (sql/004_notify.sql has the tables).
 *
 * These run a few times a second at most, from one process: each
 * statement is prepared per call.  A receiver's delivery state is one
 * row of outbox_cursors; moving it and pruning are short write
 * transactions like every other (BEGIN IMMEDIATE). */
#include "meta_sqlite.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* Step s (bound) to its end; META_OK or META_ERR (logged).  Finalizes. */
static enum meta_err
run(struct sq *q, sqlite3_stmt *s)
{
	int rc;

	if (s == NULL)
		return META_ERR;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		fprintf(stderr, "berth: sqlite: %s: %s\n", sqlite3_sql(s),
		    sqlite3_errmsg(q->db));
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? META_OK : META_ERR;
}

/* Make sure url has a cursor row (a new one starts before every event
 * kept). */
static enum meta_err
ensure_cursor(struct sq *q, const char *url)
{
	sqlite3_stmt *s = sq_prepare(q,
	    "INSERT INTO outbox_cursors (url) VALUES (?1) "
	    "ON CONFLICT (url) DO NOTHING");

	if (s == NULL)
		return META_ERR;
	sqlite3_bind_text(s, 1, url, -1, SQLITE_STATIC);
	return run(q, s);
}

enum meta_err
sq_outbox_next(void *priv, const char *url, size_t max, json_t *out)
{
	struct sq *q = priv;
	sqlite3_stmt *s;

	/* Read only: the poll writes nothing (a url without a cursor row
	 * starts at 0; sq_outbox_mark() makes the row). */
	s = sq_prepare(q,
	    "SELECT seq, id, at, action, repository, digest, media_type, "
	    "size, tag, from_repository, actor, request, base_url "
	    "FROM outbox WHERE seq > coalesce((SELECT delivered FROM "
	    "outbox_cursors WHERE url = ?1), 0) ORDER BY seq LIMIT ?2");
	if (s == NULL)
		return META_ERR;
	sqlite3_bind_text(s, 1, url, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (int64_t)max);
	return sq_rows(s, out);
}

enum meta_err
sq_outbox_mark(void *priv, const char *url, int64_t seq, const char *error)
{
	struct sq *q = priv;
	sqlite3_stmt *s;

	if (ensure_cursor(q, url) != META_OK)
		return META_ERR;
	if (error == NULL)
		s = sq_prepare(q,
		    "UPDATE outbox_cursors SET delivered = max(delivered, ?2), "
		    "delivered_at = ?3, failures = 0 WHERE url = ?1");
	else
		s = sq_prepare(q,
		    "UPDATE outbox_cursors SET failures = failures + 1, "
		    "last_error = ?4, last_error_at = ?3 WHERE url = ?1");
	if (s == NULL)
		return META_ERR;
	sqlite3_bind_text(s, 1, url, -1, SQLITE_STATIC);
	if (error == NULL)
		sqlite3_bind_int64(s, 2, seq);
	sqlite3_bind_int64(s, 3, (int64_t)time(NULL));
	if (error != NULL)
		sqlite3_bind_text(s, 4, error, -1, SQLITE_STATIC);
	return run(q, s);
}

/* The smallest cursor among urls (a url without a row counts as 0);
 * -1 on error. */
static int64_t
min_cursor(struct sq *q, const json_t *urls)
{
	sqlite3_stmt *s;
	int64_t low = -1, v;
	size_t i;
	json_t *u;

	json_array_foreach(urls, i, u) {
		s = sq_prepare(q,
		    "SELECT coalesce((SELECT delivered FROM outbox_cursors "
		    "WHERE url = ?1), 0)");
		if (s == NULL)
			return -1;
		sqlite3_bind_text(s, 1, json_string_value(u), -1,
		    SQLITE_STATIC);
		v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) :
						    -1;
		sqlite3_finalize(s);
		if (v < 0)
			return -1;
		if (low < 0 || v < low)
			low = v;
	}
	return low < 0 ? 0 : low;
}

enum meta_err
sq_outbox_prune(void *priv, const json_t *urls, int64_t *deleted)
{
	struct sq *q = priv;
	sqlite3_stmt *s;
	int64_t low = min_cursor(q, urls);
	enum meta_err e;

	*deleted = 0;
	if (low < 0)
		return META_ERR;
	if (low == 0)
		return META_OK;
	s = sq_prepare(q, "DELETE FROM outbox WHERE seq <= ?1");
	if (s == NULL)
		return META_ERR;
	sqlite3_bind_int64(s, 1, low);
	e = run(q, s);
	if (e == META_OK)
		*deleted = sqlite3_changes(q->db);
	return e;
}

enum meta_err
sq_outbox_status(void *priv, const json_t *urls, json_t *out)
{
	struct sq *q = priv;
	sqlite3_stmt *s;
	size_t i;
	json_t *u;
	int rc;

	json_array_foreach(urls, i, u) {
		s = sq_prepare(q,
		    "SELECT ?1 AS url, count(o.seq) AS pending, "
		    "min(o.at) AS oldest_at, c.delivered_at AS delivered_at, "
		    "coalesce(c.failures, 0) AS failures, "
		    "c.last_error AS last_error, "
		    "c.last_error_at AS last_error_at "
		    "FROM (SELECT ?1 AS url) k "
		    "LEFT JOIN outbox_cursors c ON c.url = k.url "
		    "LEFT JOIN outbox o ON o.seq > coalesce(c.delivered, 0)");
		if (s == NULL)
			return META_ERR;
		sqlite3_bind_text(s, 1, json_string_value(u), -1,
		    SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			json_array_append_new(out, sq_row_object(s));
		else
			fprintf(stderr, "berth: sqlite: outbox status: %s\n",
			    sqlite3_errmsg(q->db));
		sqlite3_finalize(s);
		if (rc != SQLITE_ROW)
			return META_ERR;
	}
	return META_OK;
}
