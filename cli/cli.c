/* cli.c -- the operator command line's table of commands, shared state
 * and output helpers; see cli.h.  Called by main() (main/main.c) when a
 * command name follows the options. */
#include "cli.h"

#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "meta.h"

struct command {
	const char *name;
	int (*run)(struct cli *, int, char **);
	const char *usage; /* arguments */
	const char *summary;
};

static const struct command commands[] = {
	{ "repos", cli_repos, "[--json]",
	    "repositories with their tags, manifests and sizes" },
	{ "tags", cli_tags, "<repository> [--json]",
	    "the tags of a repository with digest, media type, size, times" },
	{ "show", cli_show, "<repository>:<tag>|<repository>@<digest> [--json]",
	    "a manifest: layers and sizes, or an index's platforms; tags; referrers" },
	{ "du", cli_du, "[--json]",
	    "bytes per repository and in all, shared blobs counted once" },
	{ "gc", cli_gc, "[--dry-run] [--grace DURATION] [--untagged] [--json]",
	    "remove unreferenced blobs (and untagged manifests) while serving" },
	{ "uploads", cli_uploads, "[--expire DURATION] [--json]",
	    "list upload sessions and staging files; end stale ones" },
	{ "fsck", cli_fsck, "[--repair] [--json]",
	    "re-hash blobs, match files and rows, check the database" },
	{ "audit", cli_audit, "[<repository>] [--limit N] [--json]",
	    "the audit trail: pushes, tag moves, deletes, and who" },
	{ "migrate", cli_migrate,
	    "--from sqlite:PATH --to postgresql:DSN "
	    "[--schema NAME] [--password-file FILE] [--json]",
	    "copy a registry's metadata from SQLite into PostgreSQL, checked" },
	{ "user", cli_user, "add|passwd|del <name> | list [--json]",
	    "users who sign in; the password is read from stdin" },
	{ "token", cli_token,
	    "add <name> --scope PATTERN:ACTIONS [--expires DURATION] | "
	    "list [--json] | revoke <name>",
	    "CI tokens: the secret (printed once, last line) is the password" },
	{ "grant", cli_grant, "[<who> <pattern> <actions>] [--json]",
	    "let a user, '*' or anonymous pull,push,delete where pattern matches" },
	{ "revoke", cli_revoke, "<who> <pattern>", "remove a grant" },
	{ "key", cli_key, "rotate",
	    "a new token signing key; the old one verifies until its tokens expire" },
	{ "notify", cli_notify, "run | status [--json]",
	    "deliver event notifications in the foreground; each receiver's backlog" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *
find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

/* The commands and their usage, to out: stdout when asked for (`berth
 * help`), stderr after a mistake. */
static void
usage_all(FILE *out)
{
	fprintf(out,
	    "usage: berth [-c config.ini] [-d data_dir] <command> "
	    "[options]\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-8s %s\n  %-8s   %s\n", commands[i].name,
		    commands[i].usage, "", commands[i].summary);
	fprintf(out,
	    "DURATION: 90, 90s, 15m, 24h, 7d.  README.md, "
	    "\"Operating berth\", has the details.\n");
}

/* The running command's arguments, for option_problem(). */
static char **cmd_argv;
static int cmd_argc;

/* What getopt_long() just refused, in words; NULL when it refused
 * nothing (-h, --help: only the usage is wanted).  getopt's own messages
 * are off (opterr = 0): they begin with argv[0], the bare command name
 * ("repos: unrecognized option"), not "berth repos:". */
static const char *
option_problem(char *buf, size_t cap)
{
	const char *arg;

	if (cmd_argv == NULL || optind < 1 || optind > cmd_argc)
		return NULL;
	arg = cmd_argv[optind - 1];
	if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
		return NULL;
	if (arg[0] != '-') /* a value, after an option that wanted it */
		return NULL;
	if (optopt != 0 && optopt < 256 && arg[1] != '-' &&
	    strchr("cdsw", optopt) != NULL)
		snprintf(buf, cap,
		    "-%c is berth's own option: it goes before the "
		    "command (berth -%c ... %s)",
		    optopt, optopt, cmd_argv[0]);
	else if (optopt != 0 && optopt < 256 && arg[1] != '-')
		snprintf(buf, cap, "unrecognized option -%c", optopt);
	else if (optopt >= 256)
		snprintf(buf, cap, "option %s needs a value", arg);
	else
		snprintf(buf, cap, "unrecognized option %s", arg);
	return buf;
}

int
cli_usage_error(const char *cmd, const char *msg)
{
	const struct command *c = find_command(cmd);
	char buf[256];

	if (msg == NULL)
		msg = option_problem(buf, sizeof(buf));
	if (msg != NULL)
		fprintf(stderr, "berth %s: %s\n", cmd, msg);
	if (c != NULL)
		fprintf(stderr, "usage: berth %s %s\n", c->name, c->usage);
	return 2;
}

/* The access control commands may run before the registry ever served
 * (README.md, "Access control": set-up in five commands), and create
 * its database. */
static bool
creates_registry(const char *name)
{
	static const char *const names[] = {
		"user",
		"token",
		"grant",
		"revoke",
		"key",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

int
cli_main(struct store *store, int argc, char **argv)
{
	const struct command *cmd;
	struct cli c;
	char where[PATH_MAX + 64];
	enum meta_err e;
	int rc = 1;

	if (strcmp(argv[0], "help") == 0) {
		usage_all(stdout);
		return 0;
	}
	cmd = find_command(argv[0]);
	if (cmd == NULL) {
		fprintf(stderr, "berth: unknown command \"%s\"\n", argv[0]);
		usage_all(stderr);
		return 2;
	}
	memset(&c, 0, sizeof(c));
	c.store = store;
	c.tty = isatty(STDERR_FILENO) == 1;
	/* migrate names its source and target itself: no store to open. */
	if (cmd->run == cli_migrate)
		return cmd->run(&c, argc, argv);
	/* An operator command on a directory that holds no registry is
	 * most likely a wrong -d or -c: say so rather than create one. */
	e = meta_exists(store->conf, store->data_dir, where, sizeof(where));
	if (e == META_NOTFOUND && creates_registry(cmd->name)) {
		/* Setting up access control comes first; say where, since a
		 * missing -d or data_dir makes it in ./var. */
		fprintf(stderr,
		    "berth %s: no registry database at %s yet: making one "
		    "(the data directory is -d, [storage] data_dir or "
		    "./var)\n",
		    cmd->name, where);
		e = META_OK;
	}
	if (e == META_NOTFOUND)
		fprintf(stderr,
		    "berth %s: no registry database at %s "
		    "(wrong -d, -c or BERTH_CONFIG?)\n",
		    cmd->name, where);
	else if (e == META_UNAVAILABLE)
		fprintf(stderr,
		    "berth %s: the metadata database (%s) cannot "
		    "be reached\n",
		    cmd->name, where);
	if (e != META_OK)
		return 1;
	if (store_open(store) != 0)
		return 1;
	if (conf_check_unread(store->conf, store_section_unused, store) == 0) {
		/* Every message is "berth <command>: ...": getopt's own
		 * would name only argv[0] (cli_usage_error()). */
		opterr = 0;
		cmd_argv = argv;
		cmd_argc = argc;
		rc = cmd->run(&c, argc, argv);
	}
	store_close(store);
	return rc;
}

/* --- Output ---------------------------------------------------------- */

void
cli_json(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
}

void
cli_bytes(uint64_t n, char *buf, size_t cap)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n / 1024;
	int u = 0;

	if (n < 1024) {
		snprintf(buf, cap, "%llu B", (unsigned long long)n);
		return;
	}
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, cap, "%.1f %s", v, unit[u]);
}

void
cli_time(int64_t t, char *buf, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, cap, "%lld", (long long)t);
}

bool
cli_duration(const char *s, long *seconds)
{
	char *end;
	long v;

	if (s == NULL || !isdigit((unsigned char)s[0]))
		return false;
	v = strtol(s, &end, 10);
	if (v < 0 || v > 100L * 365 * 86400)
		return false;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		v *= 60;
		break;
	case 'h':
		v *= 3600;
		break;
	case 'd':
		v *= 86400;
		break;
	default:
		return false;
	}
	if (*end != '\0' && end[1] != '\0')
		return false;
	*seconds = v;
	return true;
}

/* One cell of a table as text. */
static void
cell(json_t *v, enum cli_fmt fmt, char *buf, size_t cap)
{
	if (v == NULL || json_is_null(v)) {
		snprintf(buf, cap, "-");
		return;
	}
	switch (fmt) {
	case CLI_INT:
		snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
		break;
	case CLI_BYTES:
		cli_bytes((uint64_t)json_integer_value(v), buf, cap);
		break;
	case CLI_TIME:
		cli_time((int64_t)json_integer_value(v), buf, cap);
		break;
	case CLI_YESNO:
		snprintf(buf, cap, "%s",
		    json_is_true(v) || json_integer_value(v) != 0 ? "yes" :
								    "no");
		break;
	case CLI_TEXT:
		if (json_is_string(v))
			snprintf(buf, cap, "%s", json_string_value(v));
		else if (json_is_integer(v))
			snprintf(buf, cap, "%lld",
			    (long long)json_integer_value(v));
		else
			snprintf(buf, cap, "?");
		break;
	}
}

void
cli_table(json_t *rows, const struct cli_col *cols, size_t ncols)
{
	size_t width[16], i, k;
	char buf[1024];
	json_t *row;

	if (ncols > 16)
		ncols = 16;
	for (k = 0; k < ncols; k++)
		width[k] = strlen(cols[k].title);
	json_array_foreach(rows, i, row) {
		for (k = 0; k < ncols; k++) {
			cell(json_object_get(row, cols[k].key), cols[k].fmt,
			    buf, sizeof(buf));
			if (strlen(buf) > width[k])
				width[k] = strlen(buf);
		}
	}
	for (k = 0; k < ncols; k++) {
		bool right = cols[k].fmt == CLI_INT || cols[k].fmt == CLI_BYTES;

		printf(right ? "%*s" : "%-*s",
		    k + 1 == ncols && !right ? 0 : (int)width[k],
		    cols[k].title);
		fputs(k + 1 == ncols ? "\n" : "  ", stdout);
	}
	json_array_foreach(rows, i, row) {
		for (k = 0; k < ncols; k++) {
			bool right = cols[k].fmt == CLI_INT ||
			    cols[k].fmt == CLI_BYTES;

			cell(json_object_get(row, cols[k].key), cols[k].fmt,
			    buf, sizeof(buf));
			printf(right ? "%*s" : "%-*s",
			    k + 1 == ncols && !right ? 0 : (int)width[k], buf);
			fputs(k + 1 == ncols ? "\n" : "  ", stdout);
		}
	}
}

/* --- Progress -------------------------------------------------------- */

void
cli_progress(void *ctx, const char *phase, uint64_t done, uint64_t total)
{
	static struct timespec last;
	struct cli *c = ctx;
	struct timespec now;
	char d[32], t[32], bar[31];
	int filled, pct;

	if (!c->tty || total == 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	/* At most ten redraws a second, but always the first and the last. */
	if (done != 0 && done < total &&
	    (now.tv_sec - last.tv_sec) * 1000 +
		    (now.tv_nsec - last.tv_nsec) / 1000000 <
		100)
		return;
	last = now;
	pct = (int)(done * 100 / total);
	filled = (int)(done * 30 / total);
	memset(bar, '#', (size_t)filled);
	memset(bar + filled, '.', (size_t)(30 - filled));
	bar[30] = '\0';
	if (strcmp(phase, "hash") == 0) {
		cli_bytes(done, d, sizeof(d));
		cli_bytes(total, t, sizeof(t));
	} else {
		snprintf(d, sizeof(d), "%llu", (unsigned long long)done);
		snprintf(t, sizeof(t), "%llu blobs", (unsigned long long)total);
	}
	fprintf(stderr, "\r%-5s [%s] %3d%% %s / %s\033[K", phase, bar, pct, d,
	    t);
	if (done >= total)
		fputc('\n', stderr);
	fflush(stderr);
}

int
cli_list(struct cli *c, bool ok, json_t *rows, const struct cli_col *cols,
    size_t ncols)
{
	if (ok && c->json)
		cli_json(rows);
	else if (ok)
		cli_table(rows, cols, ncols);
	json_decref(rows);
	return ok ? 0 : 1;
}

enum { OPT_JSON = 256, OPT_LIMIT };

int
cli_options(struct cli *c, int argc, char **argv, int min, int max, long *limit)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_JSON:
			c->json = true;
			break;
		case OPT_LIMIT:
			if (limit == NULL)
				return cli_usage_error(argv[0],
				    "unrecognized option --limit");
			*limit = strtol(optarg, &end, 10);
			if (end == optarg || *end != '\0' || *limit < 1)
				return cli_usage_error(argv[0], "bad --limit");
			break;
		default:
			return cli_usage_error(argv[0], NULL);
		}
	}
	if (argc - optind < min || argc - optind > max)
		return cli_usage_error(argv[0], "wrong number of arguments");
	return 0;
}
