/* meta_sql.h -- SQL that the SQLite and PostgreSQL backends
 * (meta_sqlite*.c, meta_pg*.c) run unchanged: the dialects agree on it.
 * Backend-internal; nothing outside those files includes it. */
#ifndef BERTH_META_SQL_H
#define BERTH_META_SQL_H

/* A manifest's config and layer references that its repository holds
 * no link to (meta_admin_unlinked): columns repository, manifest, blob. */
#define META_SQL_UNLINKED \
	"SELECT r.name AS repository, m.digest AS manifest, " \
	"x.digest AS blob FROM manifest_references x " \
	"JOIN manifests m ON m.id = x.manifest_id " \
	"JOIN repositories r ON r.id = m.repository_id " \
	"WHERE x.kind = 'blob' AND NOT EXISTS (SELECT 1 FROM blob_links l " \
	"WHERE l.repository_id = m.repository_id AND l.digest = x.digest) " \
	"ORDER BY r.name, m.digest, x.digest LIMIT 1000"

/* What the web server's files may name (meta_admin_pub_rows): columns
 * repository, digest, kind. */
#define META_SQL_PUB_ROWS \
	"SELECT r.name AS repository, m.digest AS digest, " \
	"'manifest' AS kind FROM manifests m " \
	"JOIN repositories r ON r.id = m.repository_id " \
	"WHERE m.digest LIKE 'sha256:%' " \
	"UNION ALL SELECT r.name, l.digest, 'blob' FROM blob_links l " \
	"JOIN repositories r ON r.id = l.repository_id " \
	"WHERE l.digest LIKE 'sha256:%' ORDER BY 1, 2"

#endif
