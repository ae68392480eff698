/* meta_pg_outbox.c -- the PostgreSQL backend's outbox operations
 * (meta.h, "Events"), for the deliverer (store/outbox.c) and `berth
 * notify status`, on meta_pg.c's connection (meta_pg.h).  The rows are
 * written by meta_pg.c in the transactions of the changes
 * (sql/postgresql/004_notify.sql has the tables).
 *
 * Unprepared statements (pg_query): they run a few times a second at
 * most, from one process.  Each is one statement, so one transaction. */
#include "meta_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Row r of res as {column: value}: the integer columns of `ints` (a
 * NULL-terminated list of names) as integers, NULLs as null, the rest
 * as strings. */
static json_t *
row_object(const PGresult *res, int r, const char *const *ints)
{
	json_t *o = json_object();

	for (int i = 0; i < PQnfields(res); i++) {
		const char *k = PQfname(res, i);
		bool is_int = false;

		for (const char *const *n = ints; *n != NULL; n++)
			is_int = is_int || strcmp(*n, k) == 0;
		if (PQgetisnull(res, r, i))
			json_object_set_new(o, k, json_null());
		else if (is_int)
			json_object_set_new(o, k,
			    json_integer(pg_getint(res, r, i)));
		else
			json_object_set_new(o, k,
			    json_string(PQgetvalue(res, r, i)));
	}
	return o;
}

/* Run sql with p, no rows wanted. */
static enum meta_err
exec_params(struct pg *q, const char *sql, const struct pg_params *p)
{
	enum meta_err e;
	PGresult *res = pg_query(q, sql, p, &e);

	PQclear(res);
	return res != NULL ? META_OK : e;
}

static enum meta_err
ensure_cursor(struct pg *q, const char *url)
{
	struct pg_params p = { 0 };

	pg_text(&p, url);
	return exec_params(q,
	    "INSERT INTO outbox_cursors (url) VALUES ($1) "
	    "ON CONFLICT (url) DO NOTHING",
	    &p);
}

enum meta_err
pg_outbox_next(void *priv, const char *url, size_t max, json_t *out)
{
	static const char *const ints[] = { "seq", "at", "size", NULL };
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;
	PGresult *res;

	if ((e = pg_ready(q)) != META_OK)
		return e;
	pg_text(&p, url);
	pg_int(&p, (int64_t)max);
	/* Read only (pg_outbox_mark() makes the cursor row). */
	res = pg_query(q,
	    "SELECT seq, id, at, action, repository, digest, media_type, "
	    "size, tag, from_repository, actor, request, base_url "
	    "FROM outbox WHERE seq > coalesce((SELECT delivered FROM "
	    "outbox_cursors WHERE url = $1), 0) ORDER BY seq LIMIT $2",
	    &p, &e);
	if (res == NULL)
		return e;
	for (int r = 0; r < PQntuples(res); r++)
		json_array_append_new(out, row_object(res, r, ints));
	PQclear(res);
	return META_OK;
}

enum meta_err
pg_outbox_mark(void *priv, const char *url, int64_t seq, const char *error)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;

	if ((e = pg_ready(q)) != META_OK ||
	    (e = ensure_cursor(q, url)) != META_OK)
		return e;
	pg_text(&p, url);
	pg_int(&p, (int64_t)time(NULL));
	if (error == NULL) {
		pg_int(&p, seq);
		return exec_params(q,
		    "UPDATE outbox_cursors SET delivered = "
		    "greatest(delivered, $3), delivered_at = $2, failures = 0 "
		    "WHERE url = $1",
		    &p);
	}
	pg_text(&p, error);
	return exec_params(q,
	    "UPDATE outbox_cursors SET failures = failures + 1, "
	    "last_error = $3, last_error_at = $2 WHERE url = $1",
	    &p);
}

/* urls as a text[] literal, each element quoted; malloc'd, NULL when out
 * of memory. */
static char *
url_array(const json_t *urls)
{
	size_t cap = 3, off = 0, i;
	json_t *u;
	char *s;

	json_array_foreach(urls, i, u)
		cap += 2 * strlen(json_string_value(u)) + 3;
	if ((s = malloc(cap)) == NULL)
		return NULL;
	s[off++] = '{';
	json_array_foreach(urls, i, u) {
		if (i > 0)
			s[off++] = ',';
		s[off++] = '"';
		for (const char *c = json_string_value(u); *c != '\0'; c++) {
			if (*c == '"' || *c == '\\')
				s[off++] = '\\';
			s[off++] = *c;
		}
		s[off++] = '"';
	}
	s[off++] = '}';
	s[off] = '\0';
	return s;
}

enum meta_err
pg_outbox_prune(void *priv, const json_t *urls, int64_t *deleted)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;
	PGresult *res;
	char *list;

	*deleted = 0;
	if (json_array_size(urls) == 0)
		return META_OK;
	if ((e = pg_ready(q)) != META_OK)
		return e;
	if ((list = url_array(urls)) == NULL)
		return META_ERR;
	pg_text(&p, list);
	/* A url without a cursor row counts as 0: nothing goes. */
	res = pg_query(q,
	    "DELETE FROM outbox WHERE seq <= (SELECT min(coalesce(c.delivered, "
	    "0)) FROM unnest($1::text[]) AS u(url) "
	    "LEFT JOIN outbox_cursors c ON c.url = u.url)",
	    &p, &e);
	free(list);
	if (res == NULL)
		return e;
	*deleted = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return META_OK;
}

enum meta_err
pg_outbox_status(void *priv, const json_t *urls, json_t *out)
{
	static const char *const ints[] = { "pending", "oldest_at",
		"delivered_at", "failures", "last_error_at", NULL };
	struct pg *q = priv;
	struct pg_params p;
	enum meta_err e;
	PGresult *res;
	size_t i;
	json_t *u;

	if ((e = pg_ready(q)) != META_OK)
		return e;
	json_array_foreach(urls, i, u) {
		memset(&p, 0, sizeof(p));
		pg_text(&p, json_string_value(u));
		res = pg_query(q,
		    "SELECT $1::text AS url, count(o.seq) AS pending, "
		    "min(o.at) AS oldest_at, "
		    "min(c.delivered_at) AS delivered_at, "
		    "coalesce(min(c.failures), 0) AS failures, "
		    "min(c.last_error) AS last_error, "
		    "min(c.last_error_at) AS last_error_at "
		    "FROM (SELECT $1::text AS url) k "
		    "LEFT JOIN outbox_cursors c ON c.url = k.url "
		    "LEFT JOIN outbox o ON o.seq > coalesce(c.delivered, 0)",
		    &p, &e);
		if (res == NULL)
			return e;
		json_array_append_new(out, row_object(res, 0, ints));
		PQclear(res);
	}
	return META_OK;
}
