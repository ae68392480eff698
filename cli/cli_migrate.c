/* cli_migrate.c -- `berth migrate --from sqlite:PATH --to
 * postgresql:DSN [--schema NAME] [--password-file FILE] [--json]`: move
 * a registry's metadata from SQLite to PostgreSQL (store/meta_migrate.h
 * does the work and the row-count check).  It needs no open store: the
 * source and target are named on the command line, and the blob bytes
 * stay where they are (point the new configuration's blob store at
 * them). */
#include "cli.h"

#include <getopt.h>
#include <string.h>

#include "meta_migrate.h"

/* Weak: `make static` leaves the PostgreSQL backend out. */
#pragma weak meta_migrate_sqlite_pg

enum { OPT_JSON = 256, OPT_FROM, OPT_TO, OPT_SCHEMA, OPT_PASSWORD_FILE };

static const struct option migrate_options[] = { { "json", no_argument, NULL,
						     OPT_JSON },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "to", required_argument, NULL, OPT_TO },
	{ "schema", required_argument, NULL, OPT_SCHEMA },
	{ "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
	{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 } };

int
cli_migrate(struct cli *c, int argc, char **argv)
{
	const char *from = NULL, *to = NULL, *schema = "public", *pwfile = NULL;
	json_t *report, *v;
	const char *k;
	int ch;

	optind = 0;
	while (
	    (ch = getopt_long(argc, argv, "h", migrate_options, NULL)) != -1) {
		switch (ch) {
		case OPT_JSON:
			c->json = true;
			break;
		case OPT_FROM:
			from = optarg;
			break;
		case OPT_TO:
			to = optarg;
			break;
		case OPT_SCHEMA:
			schema = optarg;
			break;
		case OPT_PASSWORD_FILE:
			pwfile = optarg;
			break;
		default:
			return cli_usage_error(argv[0], NULL);
		}
	}
	if (optind != argc)
		return cli_usage_error(argv[0], "unexpected argument");
	if (from == NULL || strncmp(from, "sqlite:", 7) != 0 || from[7] == '\0')
		return cli_usage_error(argv[0],
		    "--from sqlite:PATH is required");
	if (to == NULL || strncmp(to, "postgresql:", 11) != 0 || to[11] == '\0')
		return cli_usage_error(argv[0],
		    "--to postgresql:DSN is required");
	if (meta_migrate_sqlite_pg == NULL) {
		fprintf(stderr,
		    "berth migrate: this build has no PostgreSQL "
		    "backend (make, not make static)\n");
		return 1;
	}
	if (meta_migrate_sqlite_pg(from + 7, to + 11, schema, pwfile,
		&report) != META_OK) {
		fprintf(stderr,
		    "berth migrate: failed; the PostgreSQL schema "
		    "was left as it was\n");
		return 1;
	}
	if (c->json)
		cli_json(report);
	else {
		printf("migrated %s into PostgreSQL schema %s; every row "
		       "arrived:\n",
		    from + 7, schema);
		json_object_foreach(json_object_get(report, "tables"), k, v)
			printf("  %-20s %8lld rows\n", k,
			    (long long)json_integer_value(v));
	}
	json_decref(report);
	return 0;
}
