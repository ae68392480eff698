/* schema.h -- the forward migrations compiled in from the sql/NNN_name.sql files by
 * sql/embed.sh (build/schema.c).  Applied by meta_sqlite.c. */
#ifndef BERTH_SCHEMA_H
#define BERTH_SCHEMA_H

struct schema_migration {
	int version; /* the file's numeric prefix; PRAGMA user_version after it */
	const char *file; /* e.g. "001_init.sql" */
	const char *sql;
};

extern const struct schema_migration schema_migrations[];
extern const int schema_migration_count;

#endif
