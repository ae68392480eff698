/* meta_migrate.h -- moving a registry's metadata from one backend to
 * another: `berth migrate --from sqlite:PATH --to postgresql:DSN`
 * (cli/cli_migrate.c).  The work is backend-specific (both dialects'
 * SQL), in store/meta_pg_migrate.c. */
#ifndef BERTH_META_MIGRATE_H
#define BERTH_META_MIGRATE_H

#include <jansson.h>

#include "meta.h"

/* meta_migrate_sqlite_pg -- copy every row of the SQLite registry
 * database `path` (read-only, one read snapshot; it must be at the
 * newest schema this build knows: open it with berth once first) into
 * schema `schema` (created and migrated when missing, and refused unless
 * empty) of the PostgreSQL database `dsn`, the password read from
 * password_file when not NULL.  Ids, times, manifest bytes, the audit
 * trail and the identities (users with their password hashes, CI tokens,
 * grants) are kept as they are.  One PostgreSQL transaction: before its
 * COMMIT every table's row count, the blobs' and manifests' byte sums
 * and each manifest body's length are compared with SQLite's; on any
 * difference nothing is committed.  On META_OK *report (caller decrefs)
 * is {tables: {name: rows}, blob_bytes, manifest_bytes}.  Errors are
 * reported on stderr (the dsn never). */
enum meta_err meta_migrate_sqlite_pg(const char *path, const char *dsn,
    const char *schema, const char *password_file, json_t **report);

#endif
