/* cli.h -- berth's operator command line: `berth [-c FILE] [-d DIR]
 * <command> [options]`, run beside (or without) a serving registry on
 * the same configuration and data directory.
 *
 * cli.c holds the command table, the shared state and the output helpers
 * (tables, sizes, times, the progress bar); each command lives in a
 * cli_*.c file and reaches the data only through store/ (meta_admin.h,
 * gc.h, fsck.h, upload.h), never with SQL of its own.  Every command
 * prints a human table by default and JSON with --json; exit status 0 on
 * success, 1 on failure (or problems found), 2 on a usage error. */
#ifndef BERTH_CLI_H
#define BERTH_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "metrics.h"
#include "store.h"

/* cli_main -- run the command argv[0] with its arguments (argc >= 1) on
 * the store `store` (configured by main(), not yet open; cli_main opens
 * and closes it, and checks the configuration has no unread key).
 * Returns the process exit status. */
int cli_main(struct store *store, int argc, char **argv);

/* What every command gets. */
struct cli {
	struct store *store; /* open while a command runs */
	bool json;	     /* --json */
	bool tty;	     /* stderr is a terminal: draw progress */
};

/* Column formats for cli_table. */
enum cli_fmt {
	CLI_TEXT,  /* string (null -> "-") */
	CLI_INT,   /* integer, right-aligned */
	CLI_BYTES, /* integer bytes as "1.5 MiB", right-aligned */
	CLI_TIME,  /* unix seconds as "2026-01-02T03:04:05Z" */
	CLI_YESNO  /* integer or boolean as "yes" (true, non-zero) or "no" */
};

struct cli_col {
	const char *title;
	const char *key; /* member of each row object */
	enum cli_fmt fmt;
};

/* cli_table -- print the array of objects `rows` to stdout as a table
 * with a header line, columns sized to fit. */
void cli_table(json_t *rows, const struct cli_col *cols, size_t ncols);

/* cli_list -- print rows, the array of objects a listing (meta_admin.h,
 * meta_auth.h) filled, as JSON with --json, else as a table of cols;
 * releases rows.  0, or 1 when !ok (the listing failed and said why). */
int cli_list(struct cli *c, bool ok, json_t *rows, const struct cli_col *cols,
    size_t ncols);

/* cli_options -- a command's options when they are only --json (into
 * c->json) and, where limit is not NULL, --limit N (N >= 1, into
 * *limit); the positional arguments, argv[optind] on, must number
 * between min and max.  0, or the exit status of a usage error. */
int cli_options(struct cli *c, int argc, char **argv, int min, int max,
    long *limit);

/* cli_json -- print v to stdout, indented, with a final newline. */
void cli_json(json_t *v);

/* cli_bytes -- "512 B", "1.5 KiB", "3.0 GiB" into buf. */
void cli_bytes(uint64_t n, char *buf, size_t cap);

/* cli_time -- unix seconds as ISO 8601 UTC into buf. */
void cli_time(int64_t t, char *buf, size_t cap);

/* cli_duration -- "0", "90", "90s", "15m", "24h", "7d" to seconds (>= 0,
 * unlike the configuration's parse_duration, which refuses 0). */
bool cli_duration(const char *s, long *seconds);

/* cli_progress -- a struct progress callback (ctx: struct cli *): a bar
 * on stderr when it is a terminal, nothing otherwise. */
void cli_progress(void *ctx, const char *phase, uint64_t done, uint64_t total);

/* cli_usage_error -- print "berth <cmd>: msg" and the command's usage
 * line to stderr; returns 2. */
int cli_usage_error(const char *cmd, const char *msg);

/* The commands; argv[0] is the command's name. */
int cli_repos(struct cli *c, int argc, char **argv);
int cli_tags(struct cli *c, int argc, char **argv);
int cli_show(struct cli *c, int argc, char **argv);
int cli_du(struct cli *c, int argc, char **argv);
int cli_migrate(struct cli *c, int argc, char **argv);
/* cli_auth.c */
int cli_user(struct cli *c, int argc, char **argv);
int cli_token(struct cli *c, int argc, char **argv);
int cli_grant(struct cli *c, int argc, char **argv);
int cli_revoke(struct cli *c, int argc, char **argv);
int cli_key(struct cli *c, int argc, char **argv);
int cli_audit(struct cli *c, int argc, char **argv);
int cli_gc(struct cli *c, int argc, char **argv);
int cli_uploads(struct cli *c, int argc, char **argv);
int cli_fsck(struct cli *c, int argc, char **argv);
/* cli_notify.c */
int cli_notify(struct cli *c, int argc, char **argv);

/* cli_job_start, cli_job_done -- time a gc or fsck run and record its
 * end, duration, success and counts in the counter file
 * (store/metrics.h: the scrape's berth_gc_*, berth_fsck_*).
 * cli_metrics.c. */
uint64_t cli_job_start(void);
void cli_job_done(struct cli *c, enum metrics_job_kind job, uint64_t start,
    bool ok, uint64_t count, uint64_t count2);

#endif
