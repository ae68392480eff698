/* meta_pg.c -- the PostgreSQL metadata backend ("postgresql"; see meta.h
 * for the contract and how PostgreSQL meets it): the connection, the
 * request path and the backend's table.  With meta_pg_admin.c and
 * meta_pg_auth.c, the only files with PostgreSQL's SQL in them; the
 * schema is sql/postgresql/.
 *
 * Settings, [metadata.postgresql]:
 *   dsn                a libpq connection string or URI (required);
 *                      never logged.  A password is best not in it:
 *   password_file      a file whose first line is the password (else
 *                      libpq's own: PGPASSFILE, ~/.pgpass, passfile=)
 *   schema             the schema berth's tables live in (default
 *                      public; created if missing), so that several
 *                      registries can share one database
 *   connect_timeout    seconds to wait for a connection (default 5)
 *   statement_timeout  seconds one statement may run (default 30)
 *   lock_timeout       seconds a writer waits for another (default 10)
 *
 * One connection per process, opened after fork (meta.h).  Statements of
 * the request path are prepared on first use on each connection.  Before
 * each operation the connection is checked -- a server that went away
 * while the connection sat idle has left it readable, at the cost of one
 * poll(2) -- and made anew when broken; an operation that finds the
 * server unreachable (no connection within connect_timeout, or the
 * connection lost midway) answers META_UNAVAILABLE, the front 503, and
 * the next operation tries again.  So requests in flight when the
 * database restarts fail cleanly, and service resumes by itself. */
#include "meta.h"

#include <sys/types.h>

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "meta_pg.h"
#include "schema.h"

/* Advisory lock keys: one 64-bit number each, per schema (keys of
 * different schemas in one database differ). */
#define KEY_WRITER  1
#define KEY_BLOBS   2
#define KEY_MIGRATE 3

static const char *const sql_text[P_COUNT] = {
	[P_BLOB_LINKED] = "SELECT b.size FROM blob_links l "
			  "JOIN repositories r ON r.id = l.repository_id "
			  "JOIN blobs b ON b.digest = l.digest "
			  "WHERE r.name = $1 AND l.digest = $2",
	/* Inside the writer lock: either the insert or the select finds
	 * it. */
	[P_REPO_ENSURE] =
	    "WITH ins AS (INSERT INTO repositories (name, "
	    "created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING "
	    "RETURNING id) SELECT id FROM ins UNION ALL "
	    "SELECT id FROM repositories WHERE name = $1",
	[P_REPO_ID] = "SELECT id FROM repositories WHERE name = $1",
	[P_BLOB_INSERT] = "INSERT INTO blobs (digest, size, created_at) "
			  "VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING",
	[P_LINK_UPSERT] = "INSERT INTO blob_links (repository_id, digest, "
			  "linked_at) VALUES ($1, $2, $3) "
			  "ON CONFLICT (repository_id, digest) "
			  "DO UPDATE SET linked_at = excluded.linked_at",
	[P_BLOB_MOUNT] =
	    "INSERT INTO blob_links (repository_id, digest, "
	    "linked_at) SELECT $1, l.digest, $4 FROM blob_links l "
	    "JOIN repositories r ON r.id = l.repository_id "
	    "WHERE r.name = $2 AND l.digest = $3 "
	    "ON CONFLICT (repository_id, digest) "
	    "DO UPDATE SET linked_at = excluded.linked_at "
	    "RETURNING (SELECT b.size FROM blobs b WHERE b.digest = $3)",
	[P_LINK_DELETE] =
	    "DELETE FROM blob_links WHERE digest = $2 AND "
	    "repository_id = (SELECT id FROM repositories WHERE name = $1)",
	[P_MANIFEST_BY_DIGEST] =
	    "SELECT m.digest, m.media_type, m.size, "
	    "m.body FROM manifests m "
	    "JOIN repositories r ON r.id = m.repository_id "
	    "WHERE r.name = $1 AND m.digest = $2",
	[P_MANIFEST_BY_TAG] =
	    "SELECT m.digest, m.media_type, m.size, m.body "
	    "FROM tags t JOIN repositories r ON r.id = t.repository_id "
	    "JOIN manifests m ON m.id = t.manifest_id "
	    "WHERE r.name = $1 AND t.name = $2",
	/* The refs ($2 digests, $3 kinds) the repository $1 lacks, in
	 * order. */
	[P_MISSING_REFS] =
	    "SELECT u.d FROM unnest($2::text[], $3::text[]) "
	    "WITH ORDINALITY AS u(d, k, i) WHERE CASE u.k "
	    "WHEN 'manifest' THEN NOT EXISTS (SELECT 1 FROM manifests m "
	    "    WHERE m.repository_id = $1 AND m.digest = u.d) "
	    "ELSE NOT EXISTS (SELECT 1 FROM blob_links l "
	    "    WHERE l.repository_id = $1 AND l.digest = u.d) END "
	    "ORDER BY u.i",
	[P_MANIFEST_ID] = "SELECT id FROM manifests "
			  "WHERE repository_id = $1 AND digest = $2",
	[P_MANIFEST_INSERT] =
	    "INSERT INTO manifests (repository_id, digest, "
	    "media_type, size, body, subject, artifact_type, annotations, "
	    "pushed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
	    "RETURNING id",
	[P_REFS_INSERT] = "INSERT INTO manifest_references (manifest_id, "
			  "digest, kind) SELECT $1, u.d, u.k "
			  "FROM unnest($2::text[], $3::text[]) AS u(d, k) "
			  "ON CONFLICT DO NOTHING",
	[P_TAG_UPSERT] = "INSERT INTO tags (repository_id, name, manifest_id, "
			 "updated_at) VALUES ($1, $2, $3, $4) "
			 "ON CONFLICT (repository_id, name) "
			 "DO UPDATE SET manifest_id = excluded.manifest_id, "
			 "updated_at = excluded.updated_at",
	[P_MANIFEST_DELETE] =
	    "DELETE FROM manifests WHERE digest = $2 AND "
	    "repository_id = (SELECT id FROM repositories WHERE name = $1)",
	[P_TAG_DELETE] =
	    "DELETE FROM tags WHERE name = $2 AND "
	    "repository_id = (SELECT id FROM repositories WHERE name = $1)",
	/* No row: no such repository; one row with a NULL name: no tags
	 * after $2. */
	[P_TAGS_LIST] = "SELECT t.name FROM repositories r "
			"LEFT JOIN LATERAL (SELECT name FROM tags "
			"    WHERE repository_id = r.id AND name > $2 "
			"    ORDER BY name LIMIT $3) t ON true "
			"WHERE r.name = $1 ORDER BY t.name",
	/* Only repositories that hold something: a manifest (tags need
	 * one) or a blob link.  An emptied one leaves the catalog; its row
	 * stays for a later push (README, "Empty repositories"). */
	[P_CATALOG] = "SELECT name FROM repositories r WHERE name > $1 "
		      "AND (EXISTS (SELECT 1 FROM manifests m "
		      "WHERE m.repository_id = r.id) "
		      "OR EXISTS (SELECT 1 FROM blob_links l "
		      "WHERE l.repository_id = r.id)) "
		      "ORDER BY name LIMIT $2",
	[P_REFERRERS] =
	    "SELECT m.media_type, m.digest, m.size, "
	    "m.artifact_type, m.annotations FROM manifests m "
	    "JOIN repositories r ON r.id = m.repository_id "
	    "WHERE r.name = $1 AND m.subject = $2 "
	    "AND ($3::text IS NULL OR m.artifact_type = $3) ORDER BY m.id",
	[P_UPLOAD_INSERT] =
	    "INSERT INTO uploads (uuid, repository, "
	    "algorithm, size, hash_state, started_at, updated_at) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $6)",
	[P_UPLOAD_GET] = "SELECT algorithm, size, hash_state, started_at "
			 "FROM uploads WHERE uuid = $1 AND repository = $2 "
			 "AND updated_at >= $3",
	/* One statement: the row lock makes a second advance from the same
	 * old size wait, re-read the row, and update nothing (C3). */
	[P_UPLOAD_ADVANCE] = "UPDATE uploads SET size = $2, hash_state = $3, "
			     "updated_at = $4 WHERE uuid = $1 AND size = $5",
	[P_UPLOAD_DELETE] = "DELETE FROM uploads WHERE uuid = $1",
	[P_UPLOAD_EXPIRED] = "SELECT uuid FROM uploads WHERE updated_at < $1 "
			     "ORDER BY uuid",
	[P_BLOB_HOLDERS] = "SELECT r.name FROM blob_links l "
			   "JOIN repositories r ON r.id = l.repository_id "
			   "WHERE l.digest = $1 ORDER BY r.name LIMIT $2",
	[P_STATS] = "SELECT (SELECT count(*) FROM uploads), "
		    "pg_database_size(current_database())",
	/* Events (meta.h, "Events"): run only while meta_events_on(). */
	[P_EVENT_INSERT] =
	    "INSERT INTO outbox (id, at, action, repository, digest, "
	    "media_type, size, tag, from_repository, actor, request, "
	    "base_url) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
	    "$11, $12)",
	/* Before the tag goes: the manifest it named, for the event. */
	[P_EVENT_TAG_DELETE] =
	    "INSERT INTO outbox (id, at, action, repository, digest, tag, "
	    "actor, request, base_url) "
	    "SELECT $1::text, $2::bigint, 'delete', r.name, m.digest, t.name, "
	    "$5::text, $6::text, $7::text "
	    "FROM tags t JOIN repositories r ON r.id = t.repository_id "
	    "JOIN manifests m ON m.id = t.manifest_id "
	    "WHERE r.name = $3 AND t.name = $4",
};

/* The statements whose rows come back in binary (they carry bytea). */
static bool
binary_result(enum pg_stmt_id id)
{
	return id == P_MANIFEST_BY_DIGEST || id == P_MANIFEST_BY_TAG ||
	    id == P_UPLOAD_GET;
}

static int64_t
now(void)
{
	return (int64_t)time(NULL);
}

void
pg_log(struct pg *q, const char *what)
{
	const char *msg = q->conn != NULL ? PQerrorMessage(q->conn) : "";
	size_t n = strcspn(msg, "\n"); /* libpq's hint lines: dropped */

	fprintf(stderr, "berth: postgresql: %s: %.*s\n", what, (int)n, msg);
}

/* --- Parameters and results ------------------------------------------ */

void
pg_text(struct pg_params *p, const char *v)
{
	p->v[p->n] = v; /* NULL is SQL NULL */
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

void
pg_int(struct pg_params *p, int64_t v)
{
	snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", (long long)v);
	pg_text(p, p->num[p->n]);
}

static void
pg_bytes(struct pg_params *p, const void *v, size_t len)
{
	p->v[p->n] = len > 0 ? v : "";
	p->len[p->n] = (int)len;
	p->fmt[p->n] = 1;
	p->n++;
}

/* An integer column of row, in either format; 0 when NULL. */
int64_t
pg_getint(const PGresult *res, int row, int col)
{
	const char *v;
	uint64_t u8;
	uint32_t u4;
	uint16_t u2;

	if (PQgetisnull(res, row, col))
		return 0;
	v = PQgetvalue(res, row, col);
	if (PQfformat(res, col) == 0)
		return strtoll(v, NULL, 10);
	switch (PQgetlength(res, row, col)) {
	case 8:
		memcpy(&u8, v, 8);
		return (int64_t)be64toh(u8);
	case 4:
		memcpy(&u4, v, 4);
		return (int32_t)be32toh(u4);
	case 2:
		memcpy(&u2, v, 2);
		return (int16_t)be16toh(u2);
	default:
		return 0;
	}
}

/* --- The connection --------------------------------------------------- */

/* Open a new connection and set the session up; META_UNAVAILABLE when
 * the server cannot be reached. */
static enum meta_err
connect_db(struct pg *q)
{
	const char *keys[16], *vals[16];
	char timeout[24], user_timeout[24];
	PGresult *res;
	int n = 0;

	if (q->conn != NULL) {
		PQfinish(q->conn);
		q->conn = NULL;
	}
	snprintf(timeout, sizeof(timeout), "%ld", q->connect_timeout);
	keys[n] = "connect_timeout", vals[n++] = timeout;
	keys[n] = "application_name", vals[n++] = "berth";
	/* Over TCP, a server that vanished without a word (a partition, a
	 * dead machine) is noticed within about connect_timeout + 15 s
	 * instead of the kernel's hours: keepalives on an idle connection,
	 * and a bound on unacknowledged data.  The dsn may say otherwise. */
	snprintf(user_timeout, sizeof(user_timeout), "%ld",
	    (q->connect_timeout + 15) * 1000);
	keys[n] = "keepalives", vals[n++] = "1";
	keys[n] = "keepalives_idle", vals[n++] = "10";
	keys[n] = "keepalives_interval", vals[n++] = "5";
	keys[n] = "keepalives_count", vals[n++] = "3";
	keys[n] = "tcp_user_timeout", vals[n++] = user_timeout;
	keys[n] = "dbname", vals[n++] = q->dsn; /* expanded: may override */
	if (q->password != NULL)
		keys[n] = "password", vals[n++] = q->password;
	keys[n] = NULL, vals[n] = NULL;
	q->conn = PQconnectdbParams(keys, vals, 1);
	q->gen++;
	memset(q->prepared, 0, sizeof(q->prepared));
	memset(q->auth_prepared, 0, sizeof(q->auth_prepared));
	q->actor_sent = !q->actor_on; /* a new session has no actor */
	if (q->conn == NULL || PQstatus(q->conn) != CONNECTION_OK) {
		pg_log(q, "cannot connect");
		return META_UNAVAILABLE;
	}
	q->pid = getpid();
	res = PQexec(q->conn, q->setup_sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		enum meta_err e = pg_check(q, res, "setting up the session");

		PQclear(res);
		return e;
	}
	PQclear(res);
	return pg_actor_restore(q);
}

static enum meta_err reconnect(struct pg *q);
static enum meta_err migrate(struct pg *q);

/* Make sure there is a working connection before an operation: one found
 * broken (the server restarted, the network went) is made anew -- unless
 * an admin transaction was in flight on it, which is lost with it.  An
 * idle connection has nothing to read (berth uses no LISTEN); one that
 * is readable holds the server's goodbye ("terminating connection") or
 * end of file, and is given up before a request is sent on it. */
enum meta_err
pg_ready(struct pg *q)
{
	struct pollfd pfd;

	if (q->conn != NULL && PQstatus(q->conn) == CONNECTION_OK &&
	    PQtransactionStatus(q->conn) == PQTRANS_IDLE && !q->in_tx) {
		pfd.fd = PQsocket(q->conn);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) == 1) {
			fprintf(stderr,
			    "berth: postgresql: the server closed "
			    "the connection; connecting again\n");
			return reconnect(q);
		}
	}
	if (q->conn != NULL && PQstatus(q->conn) == CONNECTION_OK)
		return META_OK;
	if (q->in_tx)
		return META_UNAVAILABLE;
	return reconnect(q);
}

/* A new connection, and the schema brought forward if this process has
 * not yet seen it current (it opened while the server was down). */
static enum meta_err
reconnect(struct pg *q)
{
	enum meta_err e = connect_db(q);

	if (e == META_OK && !q->migrated)
		e = migrate(q);
	return e;
}

/* The meaning of a result that is not a success, logged: the server
 * unreachable (connection lost, shutting down, starting up) ->
 * META_UNAVAILABLE; disk full -> META_FULL; else META_ERR. */
enum meta_err
pg_check(struct pg *q, PGresult *res, const char *what)
{
	ExecStatusType st = PQresultStatus(res);
	const char *state;

	if (res != NULL && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK))
		return META_OK;
	state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	pg_log(q, what);
	if (PQstatus(q->conn) != CONNECTION_OK)
		return META_UNAVAILABLE;
	if (state == NULL)
		return META_ERR;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0)
		return META_UNAVAILABLE;
	if (strcmp(state, "53100") == 0)
		return META_FULL;
	return META_ERR;
}

PGresult *
pg_prepared(struct pg *q, const char *name, const char *sql, bool *prepared,
    const struct pg_params *p, bool binary, enum meta_err *e)
{
	PGresult *res;

	if (!*prepared) {
		res = PQprepare(q->conn, name, sql, 0, NULL);
		if ((*e = pg_check(q, res, sql)) != META_OK) {
			PQclear(res);
			return NULL;
		}
		PQclear(res);
		*prepared = true;
	}
	res = PQexecPrepared(q->conn, name, p->n, p->v, p->len, p->fmt,
	    binary ? 1 : 0);
	if ((*e = pg_check(q, res, sql)) != META_OK) {
		PQclear(res);
		return NULL;
	}
	return res;
}

/* Run prepared statement id with p; the result (caller PQclears) or NULL
 * with *e set. */
static PGresult *
run(struct pg *q, enum pg_stmt_id id, const struct pg_params *p,
    enum meta_err *e)
{
	char name[16];

	snprintf(name, sizeof(name), "b%d", (int)id);
	return pg_prepared(q, name, sql_text[id], &q->prepared[id], p,
	    binary_result(id), e);
}

/* Run a statement without rows; *changed (may be NULL) the rows it
 * touched. */
static enum meta_err
run_cmd(struct pg *q, enum pg_stmt_id id, const struct pg_params *p,
    long *changed)
{
	enum meta_err e;
	PGresult *res = run(q, id, p, &e);

	if (res == NULL)
		return e;
	if (changed != NULL)
		*changed = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return META_OK;
}

PGresult *
pg_query(struct pg *q, const char *sql, const struct pg_params *p,
    enum meta_err *e)
{
	PGresult *res;

	res = PQexecParams(q->conn, sql, p != NULL ? p->n : 0, NULL,
	    p != NULL ? p->v : NULL, p != NULL ? p->len : NULL,
	    p != NULL ? p->fmt : NULL, 0);
	if ((*e = pg_check(q, res, sql)) != META_OK) {
		PQclear(res);
		return NULL;
	}
	return res;
}

enum meta_err
pg_exec(struct pg *q, const char *sql)
{
	PGresult *res = PQexec(q->conn, sql);
	enum meta_err e = pg_check(q, res, sql);

	PQclear(res);
	return e;
}

/* Start a write transaction holding the writer lock (C2): BEGIN and
 * pg_advisory_xact_lock in one round trip. */
enum meta_err
pg_begin(struct pg *q)
{
	enum meta_err e = pg_ready(q);

	if (e != META_OK)
		return e;
	e = pg_exec(q, q->begin_sql);
	if (e != META_OK)
		pg_rollback(q);
	return e;
}

/* COMMIT; a transaction that had failed answers ROLLBACK: META_ERR. */
enum meta_err
pg_commit(struct pg *q)
{
	PGresult *res = PQexec(q->conn, "COMMIT");
	enum meta_err e = pg_check(q, res, "COMMIT");

	if (e == META_OK && strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		fprintf(stderr, "berth: postgresql: COMMIT rolled back\n");
		e = META_ERR;
	}
	PQclear(res);
	return e;
}

void
pg_rollback(struct pg *q)
{
	PGresult *res;

	if (q->conn == NULL || PQstatus(q->conn) != CONNECTION_OK ||
	    PQtransactionStatus(q->conn) == PQTRANS_IDLE)
		return;
	res = PQexec(q->conn, "ROLLBACK");
	PQclear(res);
}

/* Roll back and pass e on. */
static enum meta_err
undo(struct pg *q, enum meta_err e)
{
	pg_rollback(q);
	return e == META_OK ? META_ERR : e;
}

/* --- Settings, schema, open ------------------------------------------ */

/* A 64-bit advisory lock key for `what` in schema (FNV-1a). */
static int64_t
lock_key(const char *schema, int what)
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *s = "berth:"; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	for (const char *s = schema; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	h = (h ^ (unsigned)what) * 1099511628211ULL;
	return (int64_t)h;
}

static void
free_settings(struct pg *q)
{
	free(q->dsn);
	if (q->password != NULL) {
		explicit_bzero(q->password, strlen(q->password));
		free(q->password);
	}
	q->dsn = q->password = NULL;
}

/* The first line of file as a malloc'd string; NULL after reporting. */
static char *
read_password(struct conf *conf, const char *section, const char *file)
{
	char line[1024];
	FILE *fp = fopen(file, "r");
	size_t n;

	if (fp == NULL) {
		fprintf(stderr, "berth: [%s] password_file %s: %s\n", section,
		    file, strerror(errno));
		return NULL;
	}
	if (fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	fclose(fp);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	if (n == 0) {
		if (conf != NULL)
			conf_bad(conf, section, "password_file",
			    "the file is empty");
		else
			fprintf(stderr, "berth: %s: the file is empty\n", file);
		return NULL;
	}
	{
		char *pw = strdup(line);

		explicit_bzero(line, sizeof(line));
		return pw;
	}
}

static int derive(struct pg *q);
static bool schema_ok(const char *name);

/* Read [section] into q; -1 after reporting a bad setting. */
static int
settings(struct pg *q, struct conf *conf, const char *section)
{
	char dsn[4096], file[PATH_MAX];

	if (conf_get(conf, section, "dsn") == NULL) {
		fprintf(stderr,
		    "berth: [%s] dsn: required (a libpq connection "
		    "string, e.g. host=/run/postgresql dbname=berth)\n",
		    section);
		return -1;
	}
	if (conf_string(conf, section, "dsn", NULL, dsn, sizeof(dsn)) != 0)
		return -1;
	if (conf_string(conf, section, "schema", "public", q->schema,
		sizeof(q->schema)) != 0)
		return -1;
	if (!schema_ok(q->schema))
		return conf_bad(conf, section, "schema",
		    "lower-case letters, digits and _, not starting with a "
		    "digit");
	if (conf_duration(conf, section, "connect_timeout", 5,
		&q->connect_timeout) != 0 ||
	    conf_duration(conf, section, "statement_timeout", 30,
		&q->statement_timeout) != 0 ||
	    conf_duration(conf, section, "lock_timeout", 10,
		&q->lock_timeout) != 0)
		return -1;
	if ((q->dsn = strdup(dsn)) == NULL)
		return -1;
	explicit_bzero(dsn, sizeof(dsn));
	if (conf_get(conf, section, "password_file") != NULL) {
		if (conf_string(conf, section, "password_file", NULL, file,
			sizeof(file)) != 0)
			return -1;
		if ((q->password = read_password(conf, section, file)) == NULL)
			return -1;
	}
	return derive(q);
}

/* Is name a schema name berth accepts (lower-case letters, digits, _,
 * not starting with a digit; it is used unquoted)? */
static bool
schema_ok(const char *name)
{
	if (name[0] == '\0' || strlen(name) > 63)
		return false;
	for (const char *s = name; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || *s == '_' ||
			(s != name && *s >= '0' && *s <= '9')))
			return false;
	return true;
}

/* The SQL made from q's settings. */
static int
derive(struct pg *q)
{
	snprintf(q->setup_sql, sizeof(q->setup_sql),
	    "SET search_path = %s; SET statement_timeout = '%lds'; "
	    "SET lock_timeout = '%lds'; SET synchronous_commit = on; "
	    "SET TIME ZONE 'UTC'",
	    q->schema, q->statement_timeout, q->lock_timeout);
	snprintf(q->begin_sql, sizeof(q->begin_sql),
	    "BEGIN; SELECT pg_advisory_xact_lock(%lld)",
	    (long long)lock_key(q->schema, KEY_WRITER));
	q->blob_key = lock_key(q->schema, KEY_BLOBS);
	return 0;
}

/* The newest migration applied to the schema; 0 when none, -1 on
 * error (*e set). */
static int
schema_version(struct pg *q, enum meta_err *e)
{
	struct pg_params p = { 0 };
	PGresult *res;
	int v = 0;

	pg_text(&p, q->schema);
	res = pg_query(q,
	    "SELECT to_regclass(quote_ident($1) || "
	    "'.schema_migrations') IS NOT NULL",
	    &p, e);
	if (res == NULL)
		return -1;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		PQclear(res);
		return 0;
	}
	PQclear(res);
	res = pg_query(q,
	    "SELECT coalesce(max(version), 0) "
	    "FROM schema_migrations",
	    NULL, e);
	if (res == NULL)
		return -1;
	v = (int)pg_getint(res, 0, 0);
	PQclear(res);
	return v;
}

/* Which of the compiled migrations the schema has recorded: done[i] for
 * pg_schema_migrations[i] (count entries); the number still to apply,
 * or -1 on error (*e set).  By version, not by the newest one applied:
 * migrations written on separate branches may land in either order (a
 * schema at 004 still gets a 003 added later). */
static int
migrations_missing(struct pg *q, bool *done, enum meta_err *e)
{
	struct pg_params p = { 0 };
	PGresult *res;
	bool exists;
	int missing = 0;

	for (int i = 0; i < pg_schema_migration_count; i++)
		done[i] = false;
	pg_text(&p, q->schema);
	res = pg_query(q,
	    "SELECT to_regclass(quote_ident($1) || "
	    "'.schema_migrations') IS NOT NULL",
	    &p, e);
	if (res == NULL)
		return -1;
	exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (exists) {
		res = pg_query(q, "SELECT version FROM schema_migrations", NULL,
		    e);
		if (res == NULL)
			return -1;
		for (int r = 0; r < PQntuples(res); r++)
			for (int i = 0; i < pg_schema_migration_count; i++)
				if (pg_schema_migrations[i].version ==
				    (int)pg_getint(res, r, 0))
					done[i] = true;
		PQclear(res);
	}
	for (int i = 0; i < pg_schema_migration_count; i++)
		missing += !done[i];
	return missing;
}

#define MIGRATIONS_MAX 64

/* Bring the schema forward, in one transaction under the migration lock
 * (another process may be doing the same): every migration not yet
 * recorded, in order.  The common case -- already current -- costs
 * two queries and takes no lock. */
static enum meta_err
migrate(struct pg *q)
{
	const struct schema_migration *m;
	bool done[MIGRATIONS_MAX];
	struct pg_params p;
	char sql[256];
	enum meta_err e;
	int missing;
	PGresult *res;

	if (pg_schema_migration_count > MIGRATIONS_MAX)
		return META_ERR;
	missing = migrations_missing(q, done, &e);
	if (missing < 0)
		return e;
	if (missing == 0) {
		q->migrated = true;
		return META_OK;
	}
	snprintf(sql, sizeof(sql),
	    "BEGIN; SELECT pg_advisory_xact_lock(%lld); "
	    "CREATE SCHEMA IF NOT EXISTS %s; "
	    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer "
	    "PRIMARY KEY, file text NOT NULL, applied_at bigint NOT NULL)",
	    (long long)lock_key(q->schema, KEY_MIGRATE), q->schema);
	if ((e = pg_exec(q, sql)) != META_OK)
		return undo(q, e);
	if (migrations_missing(q, done, &e) < 0)
		return undo(q, e);
	for (int i = 0; i < pg_schema_migration_count; i++) {
		m = &pg_schema_migrations[i];
		if (done[i])
			continue;
		if ((e = pg_exec(q, m->sql)) != META_OK) {
			fprintf(stderr,
			    "berth: postgresql: migration %s failed\n",
			    m->file);
			return undo(q, e);
		}
		memset(&p, 0, sizeof(p));
		pg_int(&p, m->version);
		pg_text(&p, m->file);
		pg_int(&p, now());
		res = pg_query(q,
		    "INSERT INTO schema_migrations (version, file, "
		    "applied_at) VALUES ($1, $2, $3)",
		    &p, &e);
		if (res == NULL)
			return undo(q, e);
		PQclear(res);
	}
	if ((e = pg_commit(q)) != META_OK)
		return undo(q, e);
	q->migrated = true;
	return META_OK;
}

static void pg_close(void *priv);

enum meta_err
pg_open_dsn(const char *dsn, const char *schema, const char *password_file,
    struct pg **out)
{
	struct pg *q;
	enum meta_err e;

	*out = NULL;
	if (!schema_ok(schema)) {
		fprintf(stderr,
		    "berth: schema \"%s\": lower-case letters, "
		    "digits and _, not starting with a digit\n",
		    schema);
		return META_ERR;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->dsn = strdup(dsn)) == NULL)
		goto fail;
	snprintf(q->schema, sizeof(q->schema), "%s", schema);
	q->connect_timeout = 5;
	q->statement_timeout = 3600;
	q->lock_timeout = 60;
	if (password_file != NULL &&
	    (q->password = read_password(NULL, "migrate", password_file)) ==
		NULL)
		goto fail;
	derive(q);
	if ((e = connect_db(q)) != META_OK || (e = migrate(q)) != META_OK) {
		pg_close(q);
		return e;
	}
	*out = q;
	return META_OK;
fail:
	pg_close(q);
	return META_ERR;
}

void
pg_free(struct pg *q)
{
	pg_close(q);
}

static enum meta_err
pg_open(struct conf *conf, const char *section, const char *data_dir,
    void **priv)
{
	struct pg *q;
	enum meta_err e;

	(void)data_dir;
	*priv = NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return META_ERR;
	if (settings(q, conf, section) != 0) {
		pg_close(q);
		return META_ERR;
	}
	if ((e = connect_db(q)) == META_OK)
		e = migrate(q);
	if (e == META_UNAVAILABLE) {
		/* Open all the same (meta.h): a worker started while the
		 * database is down answers 503 until it is back, and each
		 * operation tries again (pg_ready). */
		fprintf(stderr,
		    "berth: postgresql: the database cannot be "
		    "reached; answering 503 until it can\n");
		e = META_OK;
	}
	if (e != META_OK) {
		pg_close(q);
		return e;
	}
	*priv = q;
	return META_OK;
}

static void
pg_close(void *priv)
{
	struct pg *q = priv;

	if (q == NULL)
		return;
	if (q->conn != NULL) {
		/* A process that inherited the connection across fork must
		 * not say goodbye on its parent's behalf: drop the socket
		 * first, so PQfinish sends nothing. */
		if (q->pid != getpid() && PQsocket(q->conn) >= 0)
			close(PQsocket(q->conn));
		PQfinish(q->conn);
	}
	free_settings(q);
	free(q);
}

/* Does the schema hold berth's tables?  META_UNAVAILABLE without a
 * server to ask (an operator command then stops). */
static enum meta_err
pg_exists(struct conf *conf, const char *section, const char *data_dir,
    char *where, size_t cap)
{
	struct pg q0 = { 0 }, *q = &q0;
	enum meta_err e;
	int v;

	(void)data_dir;
	if (settings(q, conf, section) != 0) {
		free_settings(q);
		return META_ERR;
	}
	snprintf(where, cap, "PostgreSQL schema %s", q->schema);
	if (connect_db(q) != META_OK) {
		e = META_UNAVAILABLE;
		goto out;
	}
	snprintf(where, cap, "PostgreSQL database %s, schema %s", PQdb(q->conn),
	    q->schema);
	v = schema_version(q, &e);
	if (v >= 0)
		e = v > 0 ? META_OK : META_NOTFOUND;
out:
	if (q->conn != NULL)
		PQfinish(q->conn);
	free_settings(q);
	return e;
}

/* --- Blobs ------------------------------------------------------------ */

static enum meta_err
pg_blob_linked(void *priv, const char *repo, const char *digest, uint64_t *size)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;
	PGresult *res;

	if ((e = pg_ready(q)) != META_OK)
		return e;
	pg_text(&p, repo);
	pg_text(&p, digest);
	if ((res = run(q, P_BLOB_LINKED, &p, &e)) == NULL)
		return e;
	e = META_NOTFOUND;
	if (PQntuples(res) > 0) {
		*size = (uint64_t)pg_getint(res, 0, 0);
		e = META_OK;
	}
	PQclear(res);
	return e;
}

/* The id of repository name, created when missing; inside a write
 * transaction.  0 on error (*e set). */
static int64_t
repo_ensure(struct pg *q, const char *name, enum meta_err *e)
{
	struct pg_params p = { 0 };
	PGresult *res;
	int64_t id = 0;

	pg_text(&p, name);
	pg_int(&p, now());
	if ((res = run(q, P_REPO_ENSURE, &p, e)) == NULL)
		return 0;
	if (PQntuples(res) > 0)
		id = pg_getint(res, 0, 0);
	else
		*e = META_ERR;
	PQclear(res);
	return id;
}

/* One event row in the transaction in flight (meta.h, "Events"):
 * media_type, tag and from may be NULL, size < 0 for none. */
static enum meta_err
add_event(struct pg *q, const char *action, const char *repo,
    const char *digest, const char *media_type, int64_t size, const char *tag,
    const char *from)
{
	struct meta_event_ctx c;
	struct pg_params p = { 0 };

	if (meta_event_context(&c) != 0)
		return META_ERR;
	pg_text(&p, c.id);
	pg_int(&p, c.at);
	pg_text(&p, action);
	pg_text(&p, repo);
	pg_text(&p, digest);
	pg_text(&p, media_type);
	if (size >= 0)
		pg_int(&p, size);
	else
		pg_text(&p, NULL);
	pg_text(&p, tag);
	pg_text(&p, from);
	pg_text(&p, c.actor);
	pg_text(&p, c.request);
	pg_text(&p, c.base_url);
	return run_cmd(q, P_EVENT_INSERT, &p, NULL);
}

/* A tag's delete event, before the tag goes. */
static enum meta_err
tag_delete_event(struct pg *q, const char *repo, const char *tag)
{
	struct meta_event_ctx c;
	struct pg_params p = { 0 };

	if (meta_event_context(&c) != 0)
		return META_ERR;
	pg_text(&p, c.id);
	pg_int(&p, c.at);
	pg_text(&p, repo);
	pg_text(&p, tag);
	pg_text(&p, c.actor);
	pg_text(&p, c.request);
	pg_text(&p, c.base_url);
	return run_cmd(q, P_EVENT_TAG_DELETE, &p, NULL);
}

static enum meta_err
pg_blob_commit(void *priv, const char *repo, const char *digest, uint64_t size,
    const char *upload)
{
	struct pg *q = priv;
	struct pg_params p;
	enum meta_err e;
	int64_t rid;

	if ((e = pg_begin(q)) != META_OK)
		return e;
	/* The blob lock (C6) must have lasted from the put to here, on the
	 * connection this commits on: a session lock taken on a connection
	 * since lost (pg_begin may just have made a new one) is gone, and
	 * gc on another host may have run in between. */
	if (q->blob_held != 0 && q->blob_gen != q->gen) {
		fprintf(stderr,
		    "berth: postgresql: the blob lock was lost "
		    "with the connection; not committing %s\n",
		    digest);
		pg_rollback(q);
		return META_UNAVAILABLE;
	}
	if ((rid = repo_ensure(q, repo, &e)) == 0)
		return undo(q, e);
	memset(&p, 0, sizeof(p));
	pg_text(&p, digest);
	pg_int(&p, (int64_t)size);
	pg_int(&p, now());
	if ((e = run_cmd(q, P_BLOB_INSERT, &p, NULL)) != META_OK)
		return undo(q, e);
	memset(&p, 0, sizeof(p));
	pg_int(&p, rid);
	pg_text(&p, digest);
	pg_int(&p, now());
	if ((e = run_cmd(q, P_LINK_UPSERT, &p, NULL)) != META_OK)
		return undo(q, e);
	if (upload != NULL) {
		memset(&p, 0, sizeof(p));
		pg_text(&p, upload);
		if ((e = run_cmd(q, P_UPLOAD_DELETE, &p, NULL)) != META_OK)
			return undo(q, e);
	}
	if ((e = pg_commit(q)) != META_OK)
		return undo(q, e);
	return META_OK;
}

static enum meta_err
pg_blob_mount(void *priv, const char *repo, const char *from,
    const char *digest, uint64_t *size)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;
	PGresult *res;
	int64_t rid;

	if ((e = pg_begin(q)) != META_OK)
		return e;
	if ((rid = repo_ensure(q, repo, &e)) == 0)
		return undo(q, e);
	pg_int(&p, rid);
	pg_text(&p, from);
	pg_text(&p, digest);
	pg_int(&p, now());
	if ((res = run(q, P_BLOB_MOUNT, &p, &e)) == NULL)
		return undo(q, e);
	if (PQntuples(res) == 0) {
		/* `from` does not link it: nothing written, the new
		 * repository included. */
		PQclear(res);
		pg_rollback(q);
		return META_NOTFOUND;
	}
	*size = (uint64_t)pg_getint(res, 0, 0);
	PQclear(res);
	if (meta_events_on() &&
	    (e = add_event(q, "mount", repo, digest, NULL, (int64_t)*size, NULL,
		 from)) != META_OK)
		return undo(q, e);
	if ((e = pg_commit(q)) != META_OK)
		return undo(q, e);
	return META_OK;
}

/* A DELETE of (?1 repo, ?2 key) under the writer lock; META_NOTFOUND
 * when nothing went. */
static enum meta_err
delete_one(struct pg *q, enum pg_stmt_id id, const char *repo, const char *key)
{
	struct pg_params p = { 0 };
	enum meta_err e;
	long n = 0;

	if ((e = pg_begin(q)) != META_OK)
		return e;
	/* Events (meta.h): a tag's first (it reads the manifest the tag
	 * names), a manifest's once the delete found it. */
	if (meta_events_on() && id == P_TAG_DELETE &&
	    (e = tag_delete_event(q, repo, key)) != META_OK)
		return undo(q, e);
	pg_text(&p, repo);
	pg_text(&p, key);
	if ((e = run_cmd(q, id, &p, &n)) != META_OK)
		return undo(q, e);
	if (n == 0) {
		pg_rollback(q);
		return META_NOTFOUND;
	}
	if (meta_events_on() && id == P_MANIFEST_DELETE &&
	    (e = add_event(q, "delete", repo, key, NULL, -1, NULL, NULL)) !=
		META_OK)
		return undo(q, e);
	if ((e = pg_commit(q)) != META_OK)
		return undo(q, e);
	return META_OK;
}

/* meta_blob_holders(): up to max repositories linking digest, in byte
 * order (a snapshot; the mount re-checks). */
static enum meta_err
pg_blob_holders(void *priv, const char *digest, size_t max, json_t *out)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;
	PGresult *res;

	if ((e = pg_ready(q)) != META_OK)
		return e;
	pg_text(&p, digest);
	pg_int(&p, max > (size_t)INT64_MAX ? INT64_MAX : (int64_t)max);
	if ((res = run(q, P_BLOB_HOLDERS, &p, &e)) == NULL)
		return e;
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(out, json_string(PQgetvalue(res, i, 0)));
	PQclear(res);
	return META_OK;
}

static enum meta_err
pg_blob_unlink(void *priv, const char *repo, const char *digest)
{
	return delete_one(priv, P_LINK_DELETE, repo, digest);
}

/* --- Manifests and tags ---------------------------------------------- */

static enum meta_err
pg_manifest_get(void *priv, const char *repo, const char *reference,
    bool by_digest, bool want_body, struct meta_manifest *m)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;
	PGresult *res;
	int len;

	m->body = NULL;
	if ((e = pg_ready(q)) != META_OK)
		return e;
	pg_text(&p, repo);
	pg_text(&p, reference);
	res = run(q, by_digest ? P_MANIFEST_BY_DIGEST : P_MANIFEST_BY_TAG, &p,
	    &e);
	if (res == NULL)
		return e;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return META_NOTFOUND;
	}
	snprintf(m->digest, sizeof(m->digest), "%s", PQgetvalue(res, 0, 0));
	snprintf(m->media_type, sizeof(m->media_type), "%s",
	    PQgetvalue(res, 0, 1));
	m->size = (uint64_t)pg_getint(res, 0, 2);
	e = META_OK;
	if (want_body) {
		len = PQgetlength(res, 0, 3);
		m->body = malloc(len > 0 ? (size_t)len : 1);
		if (m->body == NULL)
			e = META_ERR;
		else if (len > 0)
			memcpy(m->body, PQgetvalue(res, 0, 3), (size_t)len);
		m->size = (uint64_t)len;
	}
	PQclear(res);
	return e;
}

/* "{a,b,...}" of the refs' digests (or kinds, when kinds): a text[]
 * literal; digests and kinds need no quoting.  malloc'd, NULL when out
 * of memory. */
static char *
ref_array(const struct meta_manifest_put *mp, bool kinds)
{
	size_t cap = 3, off = 0;
	char *s;

	for (size_t i = 0; i < mp->nrefs; i++)
		cap += (kinds ? 9 : strlen(mp->refs[i].digest)) + 1;
	if ((s = malloc(cap)) == NULL)
		return NULL;
	s[off++] = '{';
	for (size_t i = 0; i < mp->nrefs; i++) {
		const char *v = kinds ?
		    (mp->refs[i].manifest ? "manifest" : "blob") :
		    mp->refs[i].digest;

		if (i > 0)
			s[off++] = ',';
		memcpy(s + off, v, strlen(v));
		off += strlen(v);
	}
	s[off++] = '}';
	s[off] = '\0';
	return s;
}

/* The push events of mp (meta.h, "Events"): one per distinct tag, or
 * one without a tag when there is none. */
static enum meta_err
push_events(struct pg *q, const struct meta_manifest_put *mp)
{
	const char *tag;
	bool any = false, seen;
	enum meta_err e;

	for (size_t i = 0; i <= mp->ntags; i++) {
		tag = i == 0 ? mp->tag : mp->tags[i - 1];
		if (tag == NULL)
			continue;
		seen = false;
		for (size_t j = 0; j < i && !seen; j++) {
			const char *before = j == 0 ? mp->tag : mp->tags[j - 1];

			seen = before != NULL && strcmp(before, tag) == 0;
		}
		any = true;
		if (!seen &&
		    (e = add_event(q, "push", mp->repo, mp->digest,
			 mp->media_type, (int64_t)mp->size, tag, NULL)) !=
			META_OK)
			return e;
	}
	if (!any)
		return add_event(q, "push", mp->repo, mp->digest,
		    mp->media_type, (int64_t)mp->size, NULL, NULL);
	return META_OK;
}

static enum meta_err
pg_manifest_put(void *priv, const struct meta_manifest_put *mp,
    json_t **missing)
{
	struct pg *q = priv;
	char *digests = NULL, *kinds = NULL;
	struct pg_params p;
	enum meta_err e;
	PGresult *res;
	int64_t rid, mid = 0;

	*missing = NULL;
	if (mp->nrefs > 0 &&
	    ((digests = ref_array(mp, false)) == NULL ||
		(kinds = ref_array(mp, true)) == NULL)) {
		free(digests);
		return META_ERR;
	}
	if ((e = pg_begin(q)) != META_OK)
		goto out;
	if ((rid = repo_ensure(q, mp->repo, &e)) == 0)
		goto fail;
	/* C3: the references are checked inside the transaction that
	 * writes the manifest, under the writer lock. */
	if (mp->nrefs > 0) {
		memset(&p, 0, sizeof(p));
		pg_int(&p, rid);
		pg_text(&p, digests);
		pg_text(&p, kinds);
		if ((res = run(q, P_MISSING_REFS, &p, &e)) == NULL)
			goto fail;
		for (int i = 0; i < PQntuples(res); i++) {
			if (*missing == NULL)
				*missing = json_array();
			json_array_append_new(*missing,
			    json_string(PQgetvalue(res, i, 0)));
		}
		PQclear(res);
		if (*missing != NULL) {
			pg_rollback(q);
			e = META_MISSING;
			goto out;
		}
	}
	memset(&p, 0, sizeof(p));
	pg_int(&p, rid);
	pg_text(&p, mp->digest);
	if ((res = run(q, P_MANIFEST_ID, &p, &e)) == NULL)
		goto fail;
	if (PQntuples(res) > 0)
		mid = pg_getint(res, 0, 0);
	PQclear(res);
	if (mid == 0) {
		memset(&p, 0, sizeof(p));
		pg_int(&p, rid);
		pg_text(&p, mp->digest);
		pg_text(&p, mp->media_type);
		pg_int(&p, (int64_t)mp->size);
		pg_bytes(&p, mp->body, mp->size);
		pg_text(&p, mp->subject);
		pg_text(&p, mp->artifact_type);
		pg_text(&p, mp->annotations);
		pg_int(&p, now());
		if ((res = run(q, P_MANIFEST_INSERT, &p, &e)) == NULL)
			goto fail;
		mid = pg_getint(res, 0, 0);
		PQclear(res);
		if (mp->nrefs > 0) {
			memset(&p, 0, sizeof(p));
			pg_int(&p, mid);
			pg_text(&p, digests);
			pg_text(&p, kinds);
			if ((e = run_cmd(q, P_REFS_INSERT, &p, NULL)) !=
			    META_OK)
				goto fail;
		}
	}
	/* The path's tag, then the ?tag= ones (oci-spec.md end-7b): all in
	 * this transaction; a repeat updates nothing (the move trigger sees
	 * the same manifest). */
	for (size_t i = 0; i <= mp->ntags; i++) {
		const char *tag = i == 0 ? mp->tag : mp->tags[i - 1];

		if (tag == NULL)
			continue;
		memset(&p, 0, sizeof(p));
		pg_int(&p, rid);
		pg_text(&p, tag);
		pg_int(&p, mid);
		pg_int(&p, now());
		if ((e = run_cmd(q, P_TAG_UPSERT, &p, NULL)) != META_OK)
			goto fail;
	}
	if (meta_events_on() && (e = push_events(q, mp)) != META_OK)
		goto fail;
	if ((e = pg_commit(q)) != META_OK)
		goto fail;
	goto out;
fail:
	e = undo(q, e);
out:
	free(digests);
	free(kinds);
	return e;
}

static enum meta_err
pg_manifest_delete(void *priv, const char *repo, const char *digest)
{
	/* Tags go first (a trigger, for the audit), references by
	 * ON DELETE CASCADE. */
	return delete_one(priv, P_MANIFEST_DELETE, repo, digest);
}

static enum meta_err
pg_tag_delete(void *priv, const char *repo, const char *tag)
{
	return delete_one(priv, P_TAG_DELETE, repo, tag);
}

/* Rows of one text column (NULLs skipped) into out; n+1 were asked for,
 * so a row beyond n means more remain. */
static void
collect_names(PGresult *res, unsigned long n, json_t *out, bool *more)
{
	unsigned long count = 0;

	*more = false;
	for (int i = 0; i < PQntuples(res); i++) {
		if (PQgetisnull(res, i, 0))
			continue;
		if (count == n) {
			*more = true;
			break;
		}
		json_array_append_new(out, json_string(PQgetvalue(res, i, 0)));
		count++;
	}
}

static enum meta_err
pg_tags_list(void *priv, const char *repo, const char *last, unsigned long n,
    json_t *out, bool *more)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;
	PGresult *res;

	if ((e = pg_ready(q)) != META_OK)
		return e;
	pg_text(&p, repo);
	pg_text(&p, last != NULL ? last : "");
	pg_int(&p,
	    (int64_t)(n > (unsigned long)INT64_MAX - 1 ? INT64_MAX - 1 :
							 (int64_t)n) +
		1);
	if ((res = run(q, P_TAGS_LIST, &p, &e)) == NULL)
		return e;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return META_NOTFOUND;
	}
	collect_names(res, n, out, more);
	PQclear(res);
	return META_OK;
}

static enum meta_err
pg_catalog(void *priv, const char *last, unsigned long n, json_t *out,
    bool *more)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;
	PGresult *res;

	if ((e = pg_ready(q)) != META_OK)
		return e;
	pg_text(&p, last != NULL ? last : "");
	pg_int(&p,
	    (int64_t)(n > (unsigned long)INT64_MAX - 1 ? INT64_MAX - 1 :
							 (int64_t)n) +
		1);
	if ((res = run(q, P_CATALOG, &p, &e)) == NULL)
		return e;
	collect_names(res, n, out, more);
	PQclear(res);
	return META_OK;
}

/* A malloc'd copy of the value, NULL when NULL; *oom when out of
 * memory. */
static char *
value_dup(PGresult *res, int row, int col, bool *oom)
{
	char *copy;

	if (PQgetisnull(res, row, col))
		return NULL;
	if ((copy = strdup(PQgetvalue(res, row, col))) == NULL)
		*oom = true;
	return copy;
}

static enum meta_err
pg_referrers(void *priv, const char *repo, const char *digest,
    const char *artifact_type, struct meta_referrer **rows, size_t *n)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	struct meta_referrer *r;
	enum meta_err e;
	PGresult *res;
	bool oom = false;
	int count;

	if ((e = pg_ready(q)) != META_OK)
		return e;
	pg_text(&p, repo);
	pg_text(&p, digest);
	pg_text(&p, artifact_type);
	if ((res = run(q, P_REFERRERS, &p, &e)) == NULL)
		return e;
	count = PQntuples(res);
	if (count > 0 &&
	    (*rows = calloc((size_t)count, sizeof(**rows))) == NULL)
		oom = true;
	for (int i = 0; i < count && !oom; i++) {
		r = &(*rows)[(*n)++];
		snprintf(r->media_type, sizeof(r->media_type), "%s",
		    PQgetvalue(res, i, 0));
		snprintf(r->digest, sizeof(r->digest), "%s",
		    PQgetvalue(res, i, 1));
		r->size = (uint64_t)pg_getint(res, i, 2);
		r->artifact_type = value_dup(res, i, 3, &oom);
		r->annotations = value_dup(res, i, 4, &oom);
	}
	PQclear(res);
	if (oom) {
		fprintf(stderr, "berth: referrers: out of memory\n");
		return META_ERR;
	}
	return META_OK;
}

/* --- Upload sessions ------------------------------------------------- */

static enum meta_err
pg_upload_create(void *priv, const struct meta_upload *u)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;

	if ((e = pg_ready(q)) != META_OK)
		return e;
	pg_text(&p, u->uuid);
	pg_text(&p, u->repo);
	pg_text(&p, digest_alg_name(u->alg));
	pg_int(&p, (int64_t)u->size);
	pg_bytes(&p, u->state, u->state_len);
	pg_int(&p, now());
	return run_cmd(q, P_UPLOAD_INSERT, &p, NULL);
}

static enum meta_err
pg_upload_get(void *priv, const char *repo, const char *uuid, long expiry,
    struct meta_upload *u)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;
	PGresult *res;
	int n;

	if ((e = pg_ready(q)) != META_OK)
		return e;
	pg_text(&p, uuid);
	pg_text(&p, repo);
	pg_int(&p, now() - expiry);
	if ((res = run(q, P_UPLOAD_GET, &p, &e)) == NULL)
		return e;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return META_NOTFOUND;
	}
	memset(u, 0, sizeof(*u));
	snprintf(u->uuid, sizeof(u->uuid), "%s", uuid);
	snprintf(u->repo, sizeof(u->repo), "%s", repo);
	if (!digest_alg_parse(PQgetvalue(res, 0, 0), &u->alg))
		u->alg = DIGEST_SHA256;
	u->size = (uint64_t)pg_getint(res, 0, 1);
	n = PQgetlength(res, 0, 2);
	u->state_len = n > 0 && (size_t)n <= sizeof(u->state) ? (size_t)n : 0;
	if (u->state_len > 0)
		memcpy(u->state, PQgetvalue(res, 0, 2), u->state_len);
	u->started_at = pg_getint(res, 0, 3);
	PQclear(res);
	return META_OK;
}

static enum meta_err
pg_upload_advance(void *priv, const struct meta_upload *u, uint64_t old_size)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;
	long n = 0;

	if ((e = pg_ready(q)) != META_OK)
		return e;
	pg_text(&p, u->uuid);
	pg_int(&p, (int64_t)u->size);
	pg_bytes(&p, u->state, u->state_len);
	pg_int(&p, now());
	pg_int(&p, (int64_t)old_size);
	if ((e = run_cmd(q, P_UPLOAD_ADVANCE, &p, &n)) != META_OK)
		return e;
	return n > 0 ? META_OK : META_CONFLICT;
}

static enum meta_err
pg_upload_delete(void *priv, const char *uuid)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;

	if ((e = pg_ready(q)) != META_OK)
		return e;
	pg_text(&p, uuid);
	return run_cmd(q, P_UPLOAD_DELETE, &p, NULL);
}

static enum meta_err
pg_upload_expired(void *priv, long expiry, json_t *out)
{
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;
	PGresult *res;
	bool more;

	if ((e = pg_ready(q)) != META_OK)
		return e;
	pg_int(&p, now() - expiry);
	if ((res = run(q, P_UPLOAD_EXPIRED, &p, &e)) == NULL)
		return e;
	collect_names(res, ULONG_MAX - 1, out, &more);
	PQclear(res);
	return META_OK;
}

/* --- Health ------------------------------------------------------------ */

/* meta_stats(): the upload sessions in flight and the database's size
 * (pg_database_size: the whole database, other schemas included), in one
 * query, so META_OK means the server answers.  Logs a failure once,
 * until the server answers again. */
static enum meta_err
pg_stats(void *priv, struct meta_stats *out)
{
	static bool failing;
	struct pg *q = priv;
	struct pg_params p = { 0 };
	enum meta_err e;
	PGresult *res = NULL;

	out->uploads = 0;
	out->bytes = -1;
	if ((e = pg_ready(q)) == META_OK)
		res = run(q, P_STATS, &p, &e);
	if (res == NULL) {
		if (!failing)
			fprintf(stderr,
			    "berth: health: postgresql: "
			    "the database does not answer\n");
		failing = true;
		return e;
	}
	if (failing)
		fprintf(stderr, "berth: health: postgresql answers again\n");
	failing = false;
	out->uploads = (uint64_t)pg_getint(res, 0, 0);
	if (!PQgetisnull(res, 0, 1))
		out->bytes = pg_getint(res, 0, 1);
	PQclear(res);
	return META_OK;
}

/* --- The blob lock across hosts -------------------------------------- */

/* A session-level advisory lock on this process's connection: every host
 * using the same database and schema honours it (blob_lock.h).  Waits
 * at most lock_timeout. */
enum meta_err
pg_blob_lock(void *priv, bool exclusive)
{
	struct pg *q = priv;
	char sql[96];
	enum meta_err e;

	if ((e = pg_ready(q)) != META_OK)
		return e;
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock%s(%lld)",
	    exclusive ? "" : "_shared", (long long)q->blob_key);
	if ((e = pg_exec(q, sql)) != META_OK)
		return e;
	q->blob_held = exclusive ? 2 : 1;
	q->blob_gen = q->gen;
	return META_OK;
}

enum meta_err
pg_blob_unlock(void *priv)
{
	struct pg *q = priv;
	char sql[96];
	int held = q->blob_held;

	q->blob_held = 0;
	if (held == 0 || q->blob_gen != q->gen || q->conn == NULL ||
	    PQstatus(q->conn) != CONNECTION_OK)
		return META_OK; /* went with its connection */
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock%s(%lld)",
	    held == 2 ? "" : "_shared", (long long)q->blob_key);
	return pg_exec(q, sql);
}

static const struct meta_ops postgresql_ops = {
	.version = META_OPS_VERSION,
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.exists = pg_exists,
	.blob_linked = pg_blob_linked,
	.blob_commit = pg_blob_commit,
	.blob_mount = pg_blob_mount,
	.blob_unlink = pg_blob_unlink,
	.manifest_get = pg_manifest_get,
	.manifest_put = pg_manifest_put,
	.manifest_delete = pg_manifest_delete,
	.tag_delete = pg_tag_delete,
	.tags_list = pg_tags_list,
	.catalog = pg_catalog,
	.referrers = pg_referrers,
	.upload_create = pg_upload_create,
	.upload_get = pg_upload_get,
	.upload_advance = pg_upload_advance,
	.upload_delete = pg_upload_delete,
	.upload_expired = pg_upload_expired,
	.admin_repos = pg_admin_repos,
	.admin_tags = pg_admin_tags,
	.admin_manifest = pg_admin_manifest,
	.admin_du = pg_admin_du,
	.admin_uploads = pg_admin_uploads,
	.admin_audit = pg_admin_audit,
	.admin_begin = pg_admin_begin,
	.admin_end = pg_admin_end,
	.gc_untagged = pg_gc_untagged,
	.gc_candidates = pg_gc_candidates,
	.gc_blob_delete = pg_gc_blob_delete,
	.admin_blob = pg_admin_blob,
	.admin_blob_page = pg_admin_blob_page,
	.admin_blob_forget = pg_admin_blob_forget,
	.admin_referencing = pg_admin_referencing,
	.admin_integrity = pg_admin_integrity,
	.admin_unlinked = pg_admin_unlinked,
	.admin_pub_rows = pg_admin_pub_rows,
	.blob_lock = pg_blob_lock,
	.blob_unlock = pg_blob_unlock,
	.blob_holders = pg_blob_holders,
	.stats = pg_stats,
	.user_add = pg_user_add,
	.user_passwd = pg_user_passwd,
	.user_get = pg_user_get,
	.user_delete = pg_user_delete,
	.users_list = pg_users_list,
	.identities_count = pg_identities_count,
	.ci_token_add = pg_ci_token_add,
	.ci_token_get = pg_ci_token_get,
	.ci_tokens_list = pg_ci_tokens_list,
	.ci_token_revoke = pg_ci_token_revoke,
	.grant_put = pg_grant_put,
	.grant_delete = pg_grant_delete,
	.grants_list = pg_grants_list,
	.set_actor = pg_set_actor,
	.outbox_next = pg_outbox_next,
	.outbox_mark = pg_outbox_mark,
	.outbox_prune = pg_outbox_prune,
	.outbox_status = pg_outbox_status,
};

META_BACKEND(postgresql_ops)
