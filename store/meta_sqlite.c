/* meta_sqlite.c -- the SQLite metadata backend ("sqlite"; see meta.h
 * for the contract and how SQLite meets it): the connection, the request
 * path and the backend's table.  With meta_sqlite_admin.c, the only
 * files in berth with SQLite's SQL in them (PostgreSQL's: meta_pg*.c).
 *
 * Settings: [metadata.sqlite] path, the database file (default
 * <data_dir>/berth.db; relative: from the data directory).  The database
 * is in WAL mode, shared by every worker process.
 *
 * One connection per process, opened after fork.  Statements are kept in
 * a table indexed by enum stmt_id, prepared on first use and reset after
 * each use, so a request costs no parsing.  Writers use BEGIN IMMEDIATE
 * so that concurrent workers queue on the busy timeout instead of
 * failing with SQLITE_BUSY halfway through. */
#include "meta.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "meta_sqlite.h"
#include "schema.h"

static const char *const sql_text[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_REPO_ID] = "SELECT id FROM repositories WHERE name = ?1",
	[S_REPO_INSERT] = "INSERT INTO repositories (name, created_at) "
			  "VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
	[S_BLOB_LINKED] = "SELECT b.size FROM blob_links l "
			  "JOIN repositories r ON r.id = l.repository_id "
			  "JOIN blobs b ON b.digest = l.digest "
			  "WHERE r.name = ?1 AND l.digest = ?2",
	[S_BLOB_INSERT] = "INSERT INTO blobs (digest, size, created_at) "
			  "VALUES (?1, ?2, ?3) ON CONFLICT (digest) DO NOTHING",
	[S_LINK_INSERT] =
	    "INSERT INTO blob_links (repository_id, digest, linked_at) "
	    "VALUES (?1, ?2, ?3) "
	    "ON CONFLICT (repository_id, digest) "
	    "DO UPDATE SET linked_at = excluded.linked_at",
	[S_BLOB_MOUNT] =
	    "INSERT INTO blob_links (repository_id, digest, linked_at) "
	    "SELECT ?1, l.digest, ?4 FROM blob_links l "
	    "JOIN repositories r ON r.id = l.repository_id "
	    "WHERE r.name = ?2 AND l.digest = ?3 "
	    "ON CONFLICT (repository_id, digest) "
	    "DO UPDATE SET linked_at = excluded.linked_at",
	[S_LINK_DELETE] =
	    "DELETE FROM blob_links WHERE digest = ?2 AND "
	    "repository_id = (SELECT id FROM repositories WHERE name = ?1)",
	[S_MANIFEST_BY_DIGEST] =
	    "SELECT m.digest, m.media_type, m.size, m.body "
	    "FROM manifests m JOIN repositories r ON r.id = m.repository_id "
	    "WHERE r.name = ?1 AND m.digest = ?2",
	[S_MANIFEST_BY_TAG] =
	    "SELECT m.digest, m.media_type, m.size, m.body "
	    "FROM tags t JOIN repositories r ON r.id = t.repository_id "
	    "JOIN manifests m ON m.id = t.manifest_id "
	    "WHERE r.name = ?1 AND t.name = ?2",
	[S_MANIFEST_ID] = "SELECT id FROM manifests "
			  "WHERE repository_id = ?1 AND digest = ?2",
	[S_MANIFEST_INSERT] =
	    "INSERT INTO manifests (repository_id, digest, "
	    "media_type, size, body, subject, artifact_type, annotations, "
	    "pushed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[S_REF_INSERT] =
	    "INSERT INTO manifest_references (manifest_id, digest, "
	    "kind) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
	[S_TAG_UPSERT] =
	    "INSERT INTO tags (repository_id, name, manifest_id, "
	    "updated_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (repository_id, name) "
	    "DO UPDATE SET manifest_id = excluded.manifest_id, "
	    "updated_at = excluded.updated_at",
	[S_MANIFEST_EXISTS] = "SELECT 1 FROM manifests "
			      "WHERE repository_id = ?1 AND digest = ?2",
	[S_MANIFEST_DELETE] =
	    "DELETE FROM manifests WHERE digest = ?2 AND "
	    "repository_id = (SELECT id FROM repositories WHERE name = ?1)",
	[S_TAG_DELETE] =
	    "DELETE FROM tags WHERE name = ?2 AND "
	    "repository_id = (SELECT id FROM repositories WHERE name = ?1)",
	[S_TAGS_LIST] = "SELECT t.name FROM tags t "
			"WHERE t.repository_id = ?1 AND t.name > ?2 "
			"ORDER BY t.name LIMIT ?3",
	/* Only repositories that hold something: a manifest (tags need
	 * one) or a blob link.  An emptied one leaves the catalog; its row
	 * stays for a later push (README, "Empty repositories"). */
	[S_CATALOG] = "SELECT name FROM repositories r WHERE name > ?1 "
		      "AND (EXISTS (SELECT 1 FROM manifests m "
		      "WHERE m.repository_id = r.id) "
		      "OR EXISTS (SELECT 1 FROM blob_links l "
		      "WHERE l.repository_id = r.id)) "
		      "ORDER BY name LIMIT ?2",
	[S_REFERRERS] =
	    "SELECT m.media_type, m.digest, m.size, m.artifact_type, "
	    "m.annotations FROM manifests m "
	    "JOIN repositories r ON r.id = m.repository_id "
	    "WHERE r.name = ?1 AND m.subject = ?2 "
	    "AND (?3 IS NULL OR m.artifact_type = ?3) ORDER BY m.id",
	[S_UPLOAD_INSERT] = "INSERT INTO uploads (uuid, repository, algorithm, "
			    "size, hash_state, started_at, updated_at) "
			    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
	[S_UPLOAD_GET] = "SELECT algorithm, size, hash_state, started_at "
			 "FROM uploads WHERE uuid = ?1 AND repository = ?2 "
			 "AND updated_at >= ?3",
	[S_UPLOAD_ADVANCE] = "UPDATE uploads SET size = ?2, hash_state = ?3, "
			     "updated_at = ?4 WHERE uuid = ?1 AND size = ?5",
	[S_UPLOAD_DELETE] = "DELETE FROM uploads WHERE uuid = ?1",
	[S_UPLOAD_EXPIRED] = "SELECT uuid FROM uploads WHERE updated_at < ?1",
	[S_BLOB_HOLDERS] = "SELECT r.name FROM blob_links l "
			   "JOIN repositories r ON r.id = l.repository_id "
			   "WHERE l.digest = ?1 ORDER BY r.name LIMIT ?2",
	/* Events (meta.h, "Events"): run only while meta_events_on(). */
	[S_EVENT_INSERT] =
	    "INSERT INTO outbox (id, at, action, repository, digest, "
	    "media_type, size, tag, from_repository, actor, request, "
	    "base_url) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
	    "?11, ?12)",
	/* Before the tag goes: the manifest it named, for the event. */
	[S_EVENT_TAG_DELETE] =
	    "INSERT INTO outbox (id, at, action, repository, digest, "
	    "media_type, size, tag, actor, request, base_url) "
	    "SELECT ?1, ?2, 'delete', r.name, m.digest, NULL, NULL, t.name, "
	    "?5, ?6, ?7 FROM tags t "
	    "JOIN repositories r ON r.id = t.repository_id "
	    "JOIN manifests m ON m.id = t.manifest_id "
	    "WHERE r.name = ?3 AND t.name = ?4",
};

static void
log_db(struct sq *q, const char *what)
{
	fprintf(stderr, "berth: sqlite: %s: %s\n", what, sqlite3_errmsg(q->db));
}

/* The prepared statement for id, reset and unbound; NULL on error. */
static sqlite3_stmt *
stmt(struct sq *q, enum sq_stmt_id id)
{
	if (q->stmts[id] == NULL &&
	    sqlite3_prepare_v3(q->db, sql_text[id], -1,
		SQLITE_PREPARE_PERSISTENT, &q->stmts[id], NULL) != SQLITE_OK) {
		log_db(q, sql_text[id]);
		return NULL;
	}
	return q->stmts[id];
}

/* Finish with a statement: reset it so it holds no locks or rows. */
static void
done(sqlite3_stmt *s)
{
	if (s != NULL) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(s, i);
	else
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

/* Run a statement that returns no rows. */
static enum meta_err
exec_stmt(struct sq *q, sqlite3_stmt *s)
{
	int rc;

	if (s == NULL)
		return META_ERR;
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		/* For rollback(), which reports it for the transaction
		 * (SQLite may have rolled it back itself); begin() clears
		 * what a write outside one left. */
		q->failed = rc;
		log_db(q, sqlite3_sql(s));
		done(s);
		return sq_result(rc);
	}
	done(s);
	return META_OK;
}

static enum meta_err
begin(struct sq *q)
{
	q->failed = 0;
	return exec_stmt(q, stmt(q, S_BEGIN));
}

static enum meta_err
commit(struct sq *q)
{
	return exec_stmt(q, stmt(q, S_COMMIT));
}

/* Undo the transaction in flight; the result for the caller to return:
 * META_FULL when it failed because the disk is full, META_UNAVAILABLE
 * when another process held the write lock too long, else META_ERR. */
static enum meta_err
rollback(struct sq *q)
{
	int failed = q->failed;
	enum meta_err e = failed != 0 ? sq_result(failed) : META_ERR;

	if (!sqlite3_get_autocommit(q->db))
		exec_stmt(q, stmt(q, S_ROLLBACK));
	q->failed = 0;
	return e == META_OK ? META_ERR : e;
}

static int64_t
now(void)
{
	return (int64_t)time(NULL);
}

/* The id of repository `name`, creating it when `create`.  0 when absent
 * (and not created) or on error (*err set). */
static int64_t
repo_id(struct sq *q, const char *name, bool create, enum meta_err *err)
{
	sqlite3_stmt *s;
	int64_t id = 0;

	*err = META_OK;
	if (create) {
		s = stmt(q, S_REPO_INSERT);
		if (s == NULL)
			goto fail;
		bind_text(s, 1, name);
		sqlite3_bind_int64(s, 2, now());
		if (exec_stmt(q, s) != META_OK)
			goto fail;
	}
	s = stmt(q, S_REPO_ID);
	if (s == NULL)
		goto fail;
	bind_text(s, 1, name);
	if (sqlite3_step(s) == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	done(s);
	if (id == 0 && create)
		goto fail;
	return id;
fail:
	*err = META_ERR;
	return 0;
}

/* One event row in the transaction in flight (meta.h, "Events"):
 * media_type, tag and from may be NULL, size < 0 for none. */
static enum meta_err
add_event(struct sq *q, const char *action, const char *repo,
    const char *digest, const char *media_type, int64_t size, const char *tag,
    const char *from)
{
	struct meta_event_ctx c;
	sqlite3_stmt *s;

	if (meta_event_context(&c) != 0 ||
	    (s = stmt(q, S_EVENT_INSERT)) == NULL)
		return META_ERR;
	bind_text(s, 1, c.id);
	sqlite3_bind_int64(s, 2, c.at);
	bind_text(s, 3, action);
	bind_text(s, 4, repo);
	bind_text(s, 5, digest);
	bind_text(s, 6, media_type);
	if (size >= 0)
		sqlite3_bind_int64(s, 7, size);
	bind_text(s, 8, tag);
	bind_text(s, 9, from);
	bind_text(s, 10, c.actor);
	bind_text(s, 11, c.request);
	bind_text(s, 12, c.base_url);
	return exec_stmt(q, s);
}

static int
user_version(struct sq *q)
{
	sqlite3_stmt *s = NULL;
	int version = -1;

	if (sqlite3_prepare_v2(q->db, "PRAGMA user_version", -1, &s, NULL) ==
		SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return version;
}

/* Bring the schema forward.  The common case -- already current -- only
 * reads user_version, so a CGI process never takes the write lock. */
static enum meta_err
migrate(struct sq *q)
{
	int version,
	    latest = schema_migrations[schema_migration_count - 1].version;
	char *errmsg = NULL, pragma[64];

	version = user_version(q);
	if (version >= latest)
		return META_OK;
	if (sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		goto fail;
	version = user_version(q); /* another process may have migrated */
	if (version < 0)
		goto fail;
	for (int i = 0; i < schema_migration_count; i++) {
		const struct schema_migration *m = &schema_migrations[i];

		if (m->version <= version)
			continue;
		if (sqlite3_exec(q->db, m->sql, NULL, NULL, &errmsg) !=
		    SQLITE_OK) {
			fprintf(stderr, "berth: migration %s: %s\n", m->file,
			    errmsg);
			sqlite3_free(errmsg);
			goto fail;
		}
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
		    m->version);
		if (sqlite3_exec(q->db, pragma, NULL, NULL, NULL) != SQLITE_OK)
			goto fail;
		version = m->version;
	}
	if (sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	return META_OK;
fail:
	log_db(q, "migrating the schema");
	sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return META_ERR;
}

/* The database file [section] path names (default berth.db; relative
 * to data_dir) into path (cap bytes).  -1 after reporting a bad one. */
static int
db_path(struct conf *conf, const char *section, const char *data_dir,
    char *path, size_t cap)
{
	char name[PATH_MAX];
	int n;

	if (conf_string(conf, section, "path", "berth.db", name,
		sizeof(name)) != 0)
		return -1;
	if (name[0] == '/')
		n = snprintf(path, cap, "%s", name);
	else
		n = snprintf(path, cap, "%s/%s", data_dir, name);
	if (n < 0 || (size_t)n >= cap)
		return conf_bad(conf, section, "path", "name too long");
	return 0;
}

static void sq_close(void *priv);

/* Note which file the database is, for sq_stats(). */
static void
remember_file(struct sq *q, const char *path)
{
	struct stat sb;

	snprintf(q->path, sizeof(q->path), "%s", path);
	if (stat(path, &sb) == 0) {
		q->dev = sb.st_dev;
		q->ino = sb.st_ino;
	}
}

/* One integer from a one-row query; -1 when it fails. */
static int64_t
scalar(struct sq *q, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(q->db, sql, -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* meta_stats(): the file at the configured path must still be the
 * database this connection has open (a replaced or removed file would
 * keep answering here through the open descriptor while every new
 * process found another, or none), and the connection must read.  Logs
 * a failure once, until the database answers again. */
static enum meta_err
sq_stats(void *priv, struct meta_stats *out)
{
	static bool failing;
	struct sq *q = priv;
	struct stat sb;
	int64_t uploads = 0, pages = 0, page_size = 0;
	const char *why = NULL;

	out->uploads = 0;
	out->bytes = -1;
	if (stat(q->path, &sb) != 0)
		why = strerror(errno);
	else if (!S_ISREG(sb.st_mode))
		why = "not a regular file";
	else if (sb.st_dev != q->dev || sb.st_ino != q->ino)
		why = "replaced since this process opened it";
	else if ((uploads = scalar(q, "SELECT count(*) FROM uploads")) < 0 ||
	    (pages = scalar(q, "PRAGMA page_count")) < 0 ||
	    (page_size = scalar(q, "PRAGMA page_size")) < 0)
		why = sqlite3_errmsg(q->db);
	if (why != NULL) {
		if (!failing)
			fprintf(stderr, "berth: health: %s: %s\n", q->path,
			    why);
		failing = true;
		return META_UNAVAILABLE;
	}
	if (failing)
		fprintf(stderr, "berth: health: %s answers again\n", q->path);
	failing = false;
	out->uploads = (uint64_t)uploads;
	out->bytes = pages * page_size;
	return META_OK;
}

static enum meta_err
sq_open(struct conf *conf, const char *section, const char *data_dir,
    void **priv)
{
	char path[PATH_MAX];
	struct sq *q;

	*priv = NULL;
	if (db_path(conf, section, data_dir, path, sizeof(path)) != 0)
		return META_ERR;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return META_ERR;
	if (sqlite3_open_v2(path, &q->db,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
		    SQLITE_OPEN_NOMUTEX,
		NULL) != SQLITE_OK) {
		fprintf(stderr, "berth: %s: %s\n", path, sqlite3_errmsg(q->db));
		goto fail;
	}
	sqlite3_busy_timeout(q->db, 10000);
	/* WAL: readers never wait for the writer.  synchronous=FULL: a
	 * committed push survives power loss, not only a crash. */
	if (sqlite3_exec(q->db,
		"PRAGMA journal_mode = WAL; "
		"PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
		NULL, NULL, NULL) != SQLITE_OK) {
		log_db(q, "setting pragmas");
		goto fail;
	}
	if (migrate(q) != META_OK)
		goto fail;
	remember_file(q, path);
	*priv = q;
	return META_OK;
fail:
	sq_close(q);
	return META_ERR;
}

static void
sq_close(void *priv)
{
	struct sq *q = priv;

	if (q == NULL)
		return;
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(q->stmts[i]);
	for (int i = 0; i < SA_COUNT; i++)
		sqlite3_finalize(q->auth_stmts[i]);
	sqlite3_close(q->db);
	free(q);
}

/* Is the database file there?  Opening would create it. */
static enum meta_err
sq_exists(struct conf *conf, const char *section, const char *data_dir,
    char *where, size_t cap)
{
	struct stat st;

	if (db_path(conf, section, data_dir, where, cap) != 0)
		return META_ERR;
	return stat(where, &st) == 0 ? META_OK : META_NOTFOUND;
}

/* --- Blobs ------------------------------------------------------------ */

static enum meta_err
sq_blob_linked(void *priv, const char *repo, const char *digest, uint64_t *size)
{
	struct sq *q = priv;
	sqlite3_stmt *s = stmt(q, S_BLOB_LINKED);
	enum meta_err e = META_NOTFOUND;
	int rc;

	if (s == NULL)
		return META_ERR;
	bind_text(s, 1, repo);
	bind_text(s, 2, digest);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*size = (uint64_t)sqlite3_column_int64(s, 0);
		e = META_OK;
	} else if (rc != SQLITE_DONE) {
		log_db(q, "blob lookup");
		e = META_ERR;
	}
	done(s);
	return e;
}

static enum meta_err
link_blob(struct sq *q, int64_t rid, const char *digest, uint64_t size)
{
	sqlite3_stmt *s = stmt(q, S_BLOB_INSERT);

	if (s == NULL)
		return META_ERR;
	bind_text(s, 1, digest);
	sqlite3_bind_int64(s, 2, (int64_t)size);
	sqlite3_bind_int64(s, 3, now());
	if (exec_stmt(q, s) != META_OK)
		return META_ERR;
	s = stmt(q, S_LINK_INSERT);
	if (s == NULL)
		return META_ERR;
	sqlite3_bind_int64(s, 1, rid);
	bind_text(s, 2, digest);
	sqlite3_bind_int64(s, 3, now());
	return exec_stmt(q, s);
}

static enum meta_err
sq_blob_commit(void *priv, const char *repo, const char *digest, uint64_t size,
    const char *upload)
{
	struct sq *q = priv;
	sqlite3_stmt *s;
	enum meta_err e;
	int64_t rid;

	if ((e = begin(q)) != META_OK)
		return e;
	rid = repo_id(q, repo, true, &e);
	if (e != META_OK || link_blob(q, rid, digest, size) != META_OK)
		goto fail;
	if (upload != NULL) {
		s = stmt(q, S_UPLOAD_DELETE);
		if (s == NULL)
			goto fail;
		bind_text(s, 1, upload);
		if (exec_stmt(q, s) != META_OK)
			goto fail;
	}
	if (commit(q) != META_OK)
		goto fail;
	return META_OK;
fail:
	return rollback(q);
}

static enum meta_err
sq_blob_mount(void *priv, const char *repo, const char *from,
    const char *digest, uint64_t *size)
{
	struct sq *q = priv;
	enum meta_err e;
	sqlite3_stmt *s;
	int64_t rid;

	e = sq_blob_linked(q, from, digest, size);
	if (e != META_OK)
		return e;
	if ((e = begin(q)) != META_OK)
		return e;
	rid = repo_id(q, repo, true, &e);
	if (e != META_OK)
		goto fail;
	s = stmt(q, S_BLOB_MOUNT);
	if (s == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, rid);
	bind_text(s, 2, from);
	bind_text(s, 3, digest);
	sqlite3_bind_int64(s, 4, now());
	if (exec_stmt(q, s) != META_OK)
		goto fail;
	if (meta_events_on() && sqlite3_changes(q->db) > 0 &&
	    add_event(q, "mount", repo, digest, NULL, (int64_t)*size, NULL,
		from) != META_OK)
		goto fail;
	if (commit(q) != META_OK)
		goto fail;
	/* `from` may have lost the blob between the check and the insert. */
	return sq_blob_linked(q, repo, digest, size);
fail:
	return rollback(q);
}

/* Run a DELETE with (?1 repo, ?2 key); META_NOTFOUND when nothing went. */
static enum meta_err
delete_one(struct sq *q, enum sq_stmt_id id, const char *repo, const char *key)
{
	sqlite3_stmt *s = stmt(q, id);
	enum meta_err e;

	if (s == NULL)
		return META_ERR;
	bind_text(s, 1, repo);
	bind_text(s, 2, key);
	e = exec_stmt(q, s);
	if (e != META_OK)
		return e; /* META_FULL too: a full disk refuses even a DELETE */
	return sqlite3_changes(q->db) > 0 ? META_OK : META_NOTFOUND;
}

static enum meta_err
sq_blob_holders(void *priv, const char *digest, size_t max, json_t *out)
{
	struct sq *q = priv;
	sqlite3_stmt *s = stmt(q, S_BLOB_HOLDERS);
	enum meta_err e = META_OK;
	int rc;

	if (s == NULL)
		return META_ERR;
	bind_text(s, 1, digest);
	sqlite3_bind_int64(s, 2, (int64_t)max);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(out,
		    json_string((const char *)sqlite3_column_text(s, 0)));
	if (rc != SQLITE_DONE) {
		log_db(q, "blob holders");
		e = META_ERR;
	}
	done(s);
	return e;
}

static enum meta_err
sq_blob_unlink(void *priv, const char *repo, const char *digest)
{
	struct sq *q = priv;
	return delete_one(q, S_LINK_DELETE, repo, digest);
}

/* --- Manifests and tags ---------------------------------------------- */

static enum meta_err
sq_manifest_get(void *priv, const char *repo, const char *reference,
    bool by_digest, bool want_body, struct meta_manifest *m)
{
	struct sq *q = priv;
	sqlite3_stmt *s = stmt(q,
	    by_digest ? S_MANIFEST_BY_DIGEST : S_MANIFEST_BY_TAG);
	enum meta_err e = META_NOTFOUND;
	const void *body;
	int rc;

	m->body = NULL;
	if (s == NULL)
		return META_ERR;
	bind_text(s, 1, repo);
	bind_text(s, 2, reference);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		snprintf(m->digest, sizeof(m->digest), "%s",
		    (const char *)sqlite3_column_text(s, 0));
		snprintf(m->media_type, sizeof(m->media_type), "%s",
		    (const char *)sqlite3_column_text(s, 1));
		m->size = (uint64_t)sqlite3_column_int64(s, 2);
		e = META_OK;
		if (want_body) {
			body = sqlite3_column_blob(s, 3);
			m->body = malloc(m->size ? m->size : 1);
			if (m->body == NULL)
				e = META_ERR;
			else if (m->size > 0)
				memcpy(m->body, body, m->size);
		}
	} else if (rc != SQLITE_DONE) {
		log_db(q, "manifest lookup");
		e = META_ERR;
	}
	done(s);
	return e;
}

/* Does the repository hold this ref? */
static enum meta_err
ref_present(struct sq *q, int64_t rid, const char *repo,
    const struct meta_ref *ref, bool *present)
{
	sqlite3_stmt *s;
	uint64_t size;
	enum meta_err e;

	if (!ref->manifest) {
		e = sq_blob_linked(q, repo, ref->digest, &size);
		*present = e == META_OK;
		return e == META_ERR ? META_ERR : META_OK;
	}
	s = stmt(q, S_MANIFEST_EXISTS);
	if (s == NULL)
		return META_ERR;
	sqlite3_bind_int64(s, 1, rid);
	bind_text(s, 2, ref->digest);
	*present = sqlite3_step(s) == SQLITE_ROW;
	done(s);
	return META_OK;
}

/* The push events of p (meta.h, "Events"): one per distinct tag, or
 * one without a tag when there is none. */
static enum meta_err
push_events(struct sq *q, const struct meta_manifest_put *p)
{
	const char *tag;
	bool any = false, seen;

	for (size_t i = 0; i <= p->ntags; i++) {
		tag = i == 0 ? p->tag : p->tags[i - 1];
		if (tag == NULL)
			continue;
		seen = false;
		for (size_t j = 0; j < i && !seen; j++) {
			const char *before = j == 0 ? p->tag : p->tags[j - 1];

			seen = before != NULL && strcmp(before, tag) == 0;
		}
		any = true;
		if (!seen &&
		    add_event(q, "push", p->repo, p->digest, p->media_type,
			(int64_t)p->size, tag, NULL) != META_OK)
			return META_ERR;
	}
	if (!any)
		return add_event(q, "push", p->repo, p->digest, p->media_type,
		    (int64_t)p->size, NULL, NULL);
	return META_OK;
}

static enum meta_err
sq_manifest_put(void *priv, const struct meta_manifest_put *p, json_t **missing)
{
	struct sq *q = priv;
	sqlite3_stmt *s;
	enum meta_err e;
	int64_t rid, mid = 0;
	bool present;

	*missing = NULL;
	if ((e = begin(q)) != META_OK)
		return e;
	rid = repo_id(q, p->repo, true, &e);
	if (e != META_OK)
		goto fail;
	for (size_t i = 0; i < p->nrefs; i++) {
		if (ref_present(q, rid, p->repo, &p->refs[i], &present) !=
		    META_OK)
			goto fail;
		if (present)
			continue;
		if (*missing == NULL)
			*missing = json_array();
		json_array_append_new(*missing, json_string(p->refs[i].digest));
	}
	if (*missing != NULL) {
		rollback(q);
		return META_MISSING;
	}

	s = stmt(q, S_MANIFEST_ID);
	if (s == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, rid);
	bind_text(s, 2, p->digest);
	if (sqlite3_step(s) == SQLITE_ROW)
		mid = sqlite3_column_int64(s, 0);
	done(s);
	if (mid == 0) {
		s = stmt(q, S_MANIFEST_INSERT);
		if (s == NULL)
			goto fail;
		sqlite3_bind_int64(s, 1, rid);
		bind_text(s, 2, p->digest);
		bind_text(s, 3, p->media_type);
		sqlite3_bind_int64(s, 4, (int64_t)p->size);
		sqlite3_bind_blob(s, 5, p->body, (int)p->size, SQLITE_STATIC);
		bind_text(s, 6, p->subject);
		bind_text(s, 7, p->artifact_type);
		bind_text(s, 8, p->annotations);
		sqlite3_bind_int64(s, 9, now());
		if (exec_stmt(q, s) != META_OK)
			goto fail;
		mid = sqlite3_last_insert_rowid(q->db);
		for (size_t i = 0; i < p->nrefs; i++) {
			s = stmt(q, S_REF_INSERT);
			if (s == NULL)
				goto fail;
			sqlite3_bind_int64(s, 1, mid);
			bind_text(s, 2, p->refs[i].digest);
			bind_text(s, 3,
			    p->refs[i].manifest ? "manifest" : "blob");
			if (exec_stmt(q, s) != META_OK)
				goto fail;
		}
	}
	/* The path's tag, then the ?tag= ones: all in this transaction. */
	for (size_t i = 0; i <= p->ntags; i++) {
		const char *tag = i == 0 ? p->tag : p->tags[i - 1];

		if (tag == NULL)
			continue;
		s = stmt(q, S_TAG_UPSERT);
		if (s == NULL)
			goto fail;
		sqlite3_bind_int64(s, 1, rid);
		bind_text(s, 2, tag);
		sqlite3_bind_int64(s, 3, mid);
		sqlite3_bind_int64(s, 4, now());
		if (exec_stmt(q, s) != META_OK)
			goto fail;
	}
	if (meta_events_on() && push_events(q, p) != META_OK)
		goto fail;
	if (commit(q) != META_OK)
		goto fail;
	return META_OK;
fail:
	return rollback(q);
}

/* delete_one() and its event in one transaction: for a tag the event
 * row first (it reads the manifest the tag names), for a manifest after
 * the delete found it. */
static enum meta_err
delete_with_event(struct sq *q, enum sq_stmt_id id, const char *repo,
    const char *key, bool tag)
{
	struct meta_event_ctx c;
	sqlite3_stmt *s;
	enum meta_err e;

	if ((e = begin(q)) != META_OK)
		return e;
	if (tag) {
		if (meta_event_context(&c) != 0 ||
		    (s = stmt(q, S_EVENT_TAG_DELETE)) == NULL)
			goto fail;
		bind_text(s, 1, c.id);
		sqlite3_bind_int64(s, 2, c.at);
		bind_text(s, 3, repo);
		bind_text(s, 4, key);
		bind_text(s, 5, c.actor);
		bind_text(s, 6, c.request);
		bind_text(s, 7, c.base_url);
		if (exec_stmt(q, s) != META_OK)
			goto fail;
	}
	e = delete_one(q, id, repo, key);
	if (e == META_NOTFOUND) {
		rollback(q);
		return META_NOTFOUND;
	}
	if (e != META_OK ||
	    (!tag &&
		add_event(q, "delete", repo, key, NULL, -1, NULL, NULL) !=
		    META_OK) ||
	    commit(q) != META_OK)
		goto fail;
	return META_OK;
fail:
	return rollback(q);
}

static enum meta_err
sq_manifest_delete(void *priv, const char *repo, const char *digest)
{
	struct sq *q = priv;

	if (meta_events_on())
		return delete_with_event(q, S_MANIFEST_DELETE, repo, digest,
		    false);
	/* Tags and references go with it: ON DELETE CASCADE. */
	return delete_one(q, S_MANIFEST_DELETE, repo, digest);
}

static enum meta_err
sq_tag_delete(void *priv, const char *repo, const char *tag)
{
	struct sq *q = priv;

	if (meta_events_on())
		return delete_with_event(q, S_TAG_DELETE, repo, tag, true);
	return delete_one(q, S_TAG_DELETE, repo, tag);
}

/* Step through a one-text-column listing into out; n+1 rows were asked
 * for, so a row beyond n means more remain. */
static enum meta_err
collect_names(struct sq *q, sqlite3_stmt *s, unsigned long n, json_t *out,
    bool *more)
{
	unsigned long count = 0;
	int rc;

	*more = false;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (count == n) {
			*more = true;
			break;
		}
		json_array_append_new(out,
		    json_string((const char *)sqlite3_column_text(s, 0)));
		count++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_db(q, "listing");
		done(s);
		return META_ERR;
	}
	done(s);
	return META_OK;
}

static enum meta_err
sq_tags_list(void *priv, const char *repo, const char *last, unsigned long n,
    json_t *out, bool *more)
{
	struct sq *q = priv;
	sqlite3_stmt *s;
	enum meta_err e;
	int64_t rid;

	rid = repo_id(q, repo, false, &e);
	if (e != META_OK)
		return e;
	if (rid == 0)
		return META_NOTFOUND;
	s = stmt(q, S_TAGS_LIST);
	if (s == NULL)
		return META_ERR;
	sqlite3_bind_int64(s, 1, rid);
	bind_text(s, 2, last != NULL ? last : "");
	sqlite3_bind_int64(s, 3, (int64_t)n + 1);
	return collect_names(q, s, n, out, more);
}

static enum meta_err
sq_catalog(void *priv, const char *last, unsigned long n, json_t *out,
    bool *more)
{
	struct sq *q = priv;
	sqlite3_stmt *s = stmt(q, S_CATALOG);

	if (s == NULL)
		return META_ERR;
	bind_text(s, 1, last != NULL ? last : "");
	sqlite3_bind_int64(s, 2, (int64_t)n + 1);
	return collect_names(q, s, n, out, more);
}

/* A malloc'd copy of column i's text, or NULL when it is NULL; sets
 * *oom when out of memory. */
static char *
column_dup(sqlite3_stmt *s, int i, bool *oom)
{
	const char *v = (const char *)sqlite3_column_text(s, i);
	char *copy;

	if (v == NULL)
		return NULL;
	if ((copy = strdup(v)) == NULL)
		*oom = true;
	return copy;
}

static enum meta_err
sq_referrers(void *priv, const char *repo, const char *digest,
    const char *artifact_type, struct meta_referrer **rows, size_t *n)
{
	struct sq *q = priv;
	sqlite3_stmt *s = stmt(q, S_REFERRERS);
	struct meta_referrer *r, *grown;
	size_t cap = 0;
	bool oom = false;
	int rc;

	if (s == NULL)
		return META_ERR;
	bind_text(s, 1, repo);
	bind_text(s, 2, digest);
	bind_text(s, 3, artifact_type);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 8;
			grown = realloc(*rows, cap * sizeof(**rows));
			if (grown == NULL) {
				oom = true;
				break;
			}
			*rows = grown;
		}
		r = &(*rows)[(*n)++];
		memset(r, 0, sizeof(*r));
		snprintf(r->media_type, sizeof(r->media_type), "%s",
		    (const char *)sqlite3_column_text(s, 0));
		snprintf(r->digest, sizeof(r->digest), "%s",
		    (const char *)sqlite3_column_text(s, 1));
		r->size = (uint64_t)sqlite3_column_int64(s, 2);
		r->artifact_type = column_dup(s, 3, &oom);
		r->annotations = column_dup(s, 4, &oom);
		if (oom)
			break;
	}
	if (oom) {
		fprintf(stderr, "berth: referrers: out of memory\n");
		done(s);
		return META_ERR;
	}
	if (rc != SQLITE_DONE) {
		log_db(q, "referrers");
		done(s);
		return META_ERR;
	}
	done(s);
	return META_OK;
}

/* --- Upload sessions ------------------------------------------------- */

static enum meta_err
sq_upload_create(void *priv, const struct meta_upload *u)
{
	struct sq *q = priv;
	sqlite3_stmt *s = stmt(q, S_UPLOAD_INSERT);

	if (s == NULL)
		return META_ERR;
	bind_text(s, 1, u->uuid);
	bind_text(s, 2, u->repo);
	bind_text(s, 3, digest_alg_name(u->alg));
	sqlite3_bind_int64(s, 4, (int64_t)u->size);
	sqlite3_bind_blob(s, 5, u->state, (int)u->state_len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, now());
	return exec_stmt(q, s);
}

static enum meta_err
sq_upload_get(void *priv, const char *repo, const char *uuid, long expiry,
    struct meta_upload *u)
{
	struct sq *q = priv;
	sqlite3_stmt *s = stmt(q, S_UPLOAD_GET);
	enum meta_err e = META_NOTFOUND;
	int rc;

	if (s == NULL)
		return META_ERR;
	bind_text(s, 1, uuid);
	bind_text(s, 2, repo);
	sqlite3_bind_int64(s, 3, now() - expiry);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		int n = sqlite3_column_bytes(s, 2);

		memset(u, 0, sizeof(*u));
		snprintf(u->uuid, sizeof(u->uuid), "%s", uuid);
		snprintf(u->repo, sizeof(u->repo), "%s", repo);
		if (!digest_alg_parse((const char *)sqlite3_column_text(s, 0),
			&u->alg))
			u->alg = DIGEST_SHA256;
		u->size = (uint64_t)sqlite3_column_int64(s, 1);
		u->state_len = n > 0 && (size_t)n <= sizeof(u->state) ?
		    (size_t)n :
		    0;
		if (u->state_len > 0)
			memcpy(u->state, sqlite3_column_blob(s, 2),
			    u->state_len);
		u->started_at = sqlite3_column_int64(s, 3);
		e = META_OK;
	} else if (rc != SQLITE_DONE) {
		log_db(q, "upload lookup");
		e = META_ERR;
	}
	done(s);
	return e;
}

static enum meta_err
sq_upload_advance(void *priv, const struct meta_upload *u, uint64_t old_size)
{
	struct sq *q = priv;
	sqlite3_stmt *s = stmt(q, S_UPLOAD_ADVANCE);
	enum meta_err e;

	if (s == NULL)
		return META_ERR;
	bind_text(s, 1, u->uuid);
	sqlite3_bind_int64(s, 2, (int64_t)u->size);
	sqlite3_bind_blob(s, 3, u->state, (int)u->state_len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now());
	sqlite3_bind_int64(s, 5, (int64_t)old_size);
	e = exec_stmt(q, s);
	if (e != META_OK)
		return e;
	return sqlite3_changes(q->db) > 0 ? META_OK : META_CONFLICT;
}

static enum meta_err
sq_upload_delete(void *priv, const char *uuid)
{
	struct sq *q = priv;
	sqlite3_stmt *s = stmt(q, S_UPLOAD_DELETE);

	if (s == NULL)
		return META_ERR;
	bind_text(s, 1, uuid);
	return exec_stmt(q, s);
}

static enum meta_err
sq_upload_expired(void *priv, long expiry, json_t *out)
{
	struct sq *q = priv;
	sqlite3_stmt *s = stmt(q, S_UPLOAD_EXPIRED);
	bool more;

	if (s == NULL)
		return META_ERR;
	sqlite3_bind_int64(s, 1, now() - expiry);
	return collect_names(q, s, ULONG_MAX - 1, out, &more);
}

static const struct meta_ops sqlite_ops = {
	.version = META_OPS_VERSION,
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.exists = sq_exists,
	.blob_linked = sq_blob_linked,
	.blob_commit = sq_blob_commit,
	.blob_mount = sq_blob_mount,
	.blob_unlink = sq_blob_unlink,
	.manifest_get = sq_manifest_get,
	.manifest_put = sq_manifest_put,
	.manifest_delete = sq_manifest_delete,
	.tag_delete = sq_tag_delete,
	.tags_list = sq_tags_list,
	.catalog = sq_catalog,
	.referrers = sq_referrers,
	.upload_create = sq_upload_create,
	.upload_get = sq_upload_get,
	.upload_advance = sq_upload_advance,
	.upload_delete = sq_upload_delete,
	.upload_expired = sq_upload_expired,
	.admin_repos = sq_admin_repos,
	.admin_tags = sq_admin_tags,
	.admin_manifest = sq_admin_manifest,
	.admin_du = sq_admin_du,
	.admin_uploads = sq_admin_uploads,
	.admin_audit = sq_admin_audit,
	.admin_begin = sq_admin_begin,
	.admin_end = sq_admin_end,
	.gc_untagged = sq_gc_untagged,
	.gc_candidates = sq_gc_candidates,
	.gc_blob_delete = sq_gc_blob_delete,
	.admin_blob = sq_admin_blob,
	.admin_blob_page = sq_admin_blob_page,
	.admin_blob_forget = sq_admin_blob_forget,
	.admin_referencing = sq_admin_referencing,
	.admin_integrity = sq_admin_integrity,
	.admin_unlinked = sq_admin_unlinked,
	.admin_pub_rows = sq_admin_pub_rows,
	.blob_holders = sq_blob_holders,
	.stats = sq_stats,
	.user_add = sq_user_add,
	.user_passwd = sq_user_passwd,
	.user_get = sq_user_get,
	.user_delete = sq_user_delete,
	.users_list = sq_users_list,
	.identities_count = sq_identities_count,
	.ci_token_add = sq_ci_token_add,
	.ci_token_get = sq_ci_token_get,
	.ci_tokens_list = sq_ci_tokens_list,
	.ci_token_revoke = sq_ci_token_revoke,
	.grant_put = sq_grant_put,
	.grant_delete = sq_grant_delete,
	.grants_list = sq_grants_list,
	.set_actor = sq_set_actor,
	.outbox_next = sq_outbox_next,
	.outbox_mark = sq_outbox_mark,
	.outbox_prune = sq_outbox_prune,
	.outbox_status = sq_outbox_status,
};

META_BACKEND(sqlite_ops)
