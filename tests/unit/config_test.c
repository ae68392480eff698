/* config_test.c -- table-driven cmocka tests of the configuration reader
 * (cgi/config.c): config_load()'s defaults, every key, the -d and -s
 * defaults and which wins, and the message (file:line, key, value) for
 * each mistake; parse_duration()'s grammar.  One cmocka test per row,
 * named by the row.  Built as $(BUILD)/unit-config.
 *
 * A row gives the INI text and what it should come to, as "field=value"
 * pairs read through field() below, or the one message on stderr with
 * the file's name written FILE.  When keys move to other sections, only
 * the INI text of the rows changes; when struct config changes, field(). */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))
#define NO_FILE ((const char *)1)	/* ini: call config_load with no path */
#define LONG_DIR ((const char *)2)	/* data_dir: PATH_MAX characters */

struct row {
	const char	*name;		/* lower case first: tests/run.sh counts */
	const char	*ini;		/* the file's text, or NO_FILE */
	const char	*data_dir;	/* -d, or NULL */
	const char	*socket;	/* -s, or NULL */
	const char	*want[8];	/* "field=value" after loading, NULL-ended */
};

struct bad_row {
	const char	*name;
	const char	*ini;		/* NULL: a file that does not exist */
	const char	*data_dir;
	const char	*message;	/* all of stderr; FILE for the path */
};

/* Every default, as config.h documents them. */
#define DEFAULTS "workers=8", "data_dir=./var", "socket=./var/run/berth.sock", \
	"blob_handler=fs", "offload=x-accel", "read_only=false", \
	"delete_enabled=true", "upload_expiry=86400"

static const struct row good[] = {
	{ "defaults with no file", NO_FILE, NULL, NULL, { DEFAULTS } },
	{ "defaults with an empty file", "", NULL, NULL, { DEFAULTS } },
	{ "defaults, the rest", NO_FILE, NULL, NULL,
	  { "accel_prefix=/_berth/blobs/", "redirect_url=" } },
	{ "comments, blank lines and spaces", "; a comment\n# another\n\n"
	  "[registry]\n   read_only   =   true   \n", NULL, NULL,
	  { "read_only=true", "workers=8" } },
	/* [server] */
	{ "server socket", "[server]\nsocket = /run/berth/b.sock\n", NULL, NULL,
	  { "socket=/run/berth/b.sock" } },
	{ "server workers 1", "[server]\nworkers = 1\n", NULL, NULL,
	  { "workers=1" } },
	{ "server workers 256", "[server]\nworkers = 256\n", NULL, NULL,
	  { "workers=256" } },
	/* [storage] */
	{ "storage data_dir, and the socket follows it",
	  "[storage]\ndata_dir = /srv/berth\n", NULL, NULL,
	  { "data_dir=/srv/berth", "socket=/srv/berth/run/berth.sock" } },
	{ "storage blob_handler fs", "[storage]\nblob_handler = fs\n", NULL, NULL,
	  { "blob_handler=fs" } },
	{ "storage blob_handler redirect with redirect_url",
	  "[storage]\nblob_handler = redirect\n"
	  "redirect_url = https://cdn.example.com/blobs/\n", NULL, NULL,
	  { "blob_handler=redirect",
	    "redirect_url=https://cdn.example.com/blobs/" } },
	{ "storage redirect_url over http", "[storage]\n"
	  "redirect_url = http://127.0.0.1:9000/b\n", NULL, NULL,
	  { "redirect_url=http://127.0.0.1:9000/b", "blob_handler=fs" } },
	{ "storage offload stream", "[storage]\noffload = stream\n", NULL, NULL,
	  { "offload=stream" } },
	{ "storage offload x-sendfile", "[storage]\noffload = x-sendfile\n",
	  NULL, NULL, { "offload=x-sendfile" } },
	{ "storage offload x-accel", "[storage]\noffload = x-accel\n", NULL,
	  NULL, { "offload=x-accel" } },
	{ "storage accel_prefix", "[storage]\naccel_prefix = /internal/b/\n",
	  NULL, NULL, { "accel_prefix=/internal/b/" } },
	/* [registry] */
	{ "registry read_only true", "[registry]\nread_only = true\n", NULL,
	  NULL, { "read_only=true" } },
	{ "registry read_only yes", "[registry]\nread_only = yes\n", NULL, NULL,
	  { "read_only=true" } },
	{ "registry read_only 1", "[registry]\nread_only = 1\n", NULL, NULL,
	  { "read_only=true" } },
	{ "registry read_only false", "[registry]\nread_only = false\n", NULL,
	  NULL, { "read_only=false" } },
	{ "registry delete_enabled no", "[registry]\ndelete_enabled = no\n",
	  NULL, NULL, { "delete_enabled=false" } },
	{ "registry delete_enabled 0", "[registry]\ndelete_enabled = 0\n",
	  NULL, NULL, { "delete_enabled=false" } },
	{ "registry upload_expiry 15m", "[registry]\nupload_expiry = 15m\n",
	  NULL, NULL, { "upload_expiry=900" } },
	{ "registry upload_expiry 7d", "[registry]\nupload_expiry = 7d\n",
	  NULL, NULL, { "upload_expiry=604800" } },
	{ "a later value of a key wins", "[server]\nworkers = 2\nworkers = 3\n",
	  NULL, NULL, { "workers=3" } },
	/* -d and -s: defaults that the file overrides. */
	{ "option -d sets data_dir and the socket", NO_FILE, "/data", NULL,
	  { "data_dir=/data", "socket=/data/run/berth.sock" } },
	{ "option -s sets the socket", NO_FILE, "/data", "/tmp/s.sock",
	  { "data_dir=/data", "socket=/tmp/s.sock" } },
	{ "the file's data_dir wins over option -d", "[storage]\ndata_dir = /file\n",
	  "/arg", NULL, { "data_dir=/file", "socket=/file/run/berth.sock" } },
	{ "the file's socket wins over option -s", "[server]\nsocket = /file.sock\n",
	  NULL, "/arg.sock", { "socket=/file.sock" } },
};

static const struct bad_row bad[] = {
	{ "unknown key", "[server]\nsocket = /s\nport = 5000\n", NULL,
	  "berth: FILE:3: [server] port: unknown key\n" },
	{ "unknown section", "\n[nope]\nkey = 1\n", NULL,
	  "berth: FILE:3: [nope] key: unknown key\n" },
	{ "a key outside any section", "workers = 2\n", NULL,
	  "berth: FILE:1: [] workers: unknown key\n" },
	{ "a key in the wrong section", "[storage]\nread_only = true\n", NULL,
	  "berth: FILE:2: [storage] read_only: unknown key\n" },
	{ "only the first problem", "[server]\nworkers = 0\nbogus = 1\n", NULL,
	  "berth: FILE:2: [server] workers: bad value \"0\"\n" },
	{ "workers 0", "[server]\nworkers = 0\n", NULL,
	  "berth: FILE:2: [server] workers: bad value \"0\"\n" },
	{ "workers 257", "[server]\nworkers = 257\n", NULL,
	  "berth: FILE:2: [server] workers: bad value \"257\"\n" },
	{ "workers not a number", "[server]\nworkers = 4x\n", NULL,
	  "berth: FILE:2: [server] workers: bad value \"4x\"\n" },
	{ "workers empty", "[server]\nworkers =\n", NULL,
	  "berth: FILE:2: [server] workers: bad value \"\"\n" },
	{ "socket empty", "[server]\nsocket =\n", NULL,
	  "berth: FILE:2: [server] socket: bad value \"\"\n" },
	{ "data_dir empty", "[storage]\ndata_dir =\n", NULL,
	  "berth: FILE:2: [storage] data_dir: bad value \"\"\n" },
	{ "blob_handler unknown", "[storage]\nblob_handler = s3\n", NULL,
	  "berth: FILE:2: [storage] blob_handler: bad value \"s3\"\n" },
	{ "offload unknown", "[storage]\noffload = ftp\n", NULL,
	  "berth: FILE:2: [storage] offload: bad value \"ftp\"\n" },
	{ "redirect_url not http", "[storage]\nredirect_url = ftp://x/\n", NULL,
	  "berth: FILE:2: [storage] redirect_url: bad value \"ftp://x/\"\n" },
	{ "accel_prefix relative", "[storage]\naccel_prefix = blobs/\n", NULL,
	  "berth: FILE:2: [storage] accel_prefix: bad value \"blobs/\"\n" },
	{ "read_only maybe", "[registry]\nread_only = maybe\n", NULL,
	  "berth: FILE:2: [registry] read_only: bad value \"maybe\"\n" },
	{ "delete_enabled TRUE", "[registry]\ndelete_enabled = TRUE\n", NULL,
	  "berth: FILE:2: [registry] delete_enabled: bad value \"TRUE\"\n" },
	{ "upload_expiry 0", "[registry]\nupload_expiry = 0\n", NULL,
	  "berth: FILE:2: [registry] upload_expiry: bad value \"0\"\n" },
	{ "upload_expiry in weeks", "[registry]\nupload_expiry = 2w\n", NULL,
	  "berth: FILE:2: [registry] upload_expiry: bad value \"2w\"\n" },
	{ "redirect without redirect_url", "[storage]\nblob_handler = redirect\n",
	  NULL, "berth: FILE: [storage] blob_handler = redirect needs "
	  "redirect_url\n" },
	{ "syntax error", "[server]\nworkers = 2\n[storage\n", NULL,
	  "berth: FILE:3: syntax error\n" },
	{ "a line with no =", "[server]\nworkers\n", NULL,
	  "berth: FILE:2: syntax error\n" },
	{ "no such file", NULL, NULL,
	  "berth: FILE: cannot read configuration: No such file or directory\n" },
	{ "option -d longer than PATH_MAX", "", LONG_DIR,
	  "berth: data directory name too long\n" },
};

/* The value of a struct config field by name, as text in buf. */
static const char *
field(const struct config *c, const char *name, char *buf, size_t cap)
{
	static const char *offloads[] = {
		[OFFLOAD_X_ACCEL] = "x-accel",
		[OFFLOAD_X_SENDFILE] = "x-sendfile",
		[OFFLOAD_STREAM] = "stream",
	};

	if (strcmp(name, "socket") == 0)
		return c->socket;
	if (strcmp(name, "workers") == 0)
		snprintf(buf, cap, "%d", c->workers);
	else if (strcmp(name, "data_dir") == 0)
		return c->data_dir;
	else if (strcmp(name, "blob_handler") == 0)
		return c->blob_handler;
	else if (strcmp(name, "offload") == 0)
		return offloads[c->offload];
	else if (strcmp(name, "redirect_url") == 0)
		return c->redirect_url;
	else if (strcmp(name, "accel_prefix") == 0)
		return c->accel_prefix;
	else if (strcmp(name, "read_only") == 0)
		return c->read_only ? "true" : "false";
	else if (strcmp(name, "delete_enabled") == 0)
		return c->delete_enabled ? "true" : "false";
	else if (strcmp(name, "upload_expiry") == 0)
		snprintf(buf, cap, "%ld", c->upload_expiry);
	else
		fail_msg("no field %s in struct config", name);
	return buf;
}

/* Run config_load on text (NULL: a path that does not exist; NO_FILE: no
 * path) with the -d and -s defaults given; its stderr into msg (cap
 * bytes) with the file's path written FILE.  Returns its result. */
static int
load(const char *text, const char *data_dir, const char *socket,
    struct config *cfg, char *msg, size_t cap)
{
	char path[] = "/tmp/berth-config-test.XXXXXX";
	char errpath[] = "/tmp/berth-config-err.XXXXXX";
	char raw[8192], *p, *at;
	int fd, errfd, saved, rc;
	ssize_t n;

	fd = mkstemp(path);
	errfd = mkstemp(errpath);
	assert_true(fd >= 0 && errfd >= 0);
	if (text != NULL && text != NO_FILE)
		assert_int_equal(write(fd, text, strlen(text)), strlen(text));
	close(fd);
	if (text == NULL || text == NO_FILE)
		unlink(path);
	saved = dup(STDERR_FILENO);
	dup2(errfd, STDERR_FILENO);
	rc = config_load(cfg, text == NO_FILE ? NULL : path, data_dir, socket);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(errfd, raw, sizeof(raw) - 1, 0);
	raw[n > 0 ? n : 0] = '\0';
	close(errfd);
	unlink(errpath);
	unlink(path);
	/* The path as FILE, so that a row can spell the message. */
	msg[0] = '\0';
	for (p = raw; (at = strstr(p, path)) != NULL; p = at + strlen(path))
		snprintf(msg + strlen(msg), cap - strlen(msg), "%.*sFILE",
		    (int)(at - p), p);
	snprintf(msg + strlen(msg), cap - strlen(msg), "%s", p);
	return rc;
}

static void
good_row(void **state)
{
	const struct row *row = *state;
	char msg[1024], buf[64];
	struct config cfg;
	const char *got;

	if (load(row->ini, row->data_dir, row->socket, &cfg, msg,
	    sizeof(msg)) != 0)
		fail_msg("%s: refused: %s", row->name, msg);
	if (msg[0] != '\0')
		fail_msg("%s: said \"%s\"", row->name, msg);
	for (size_t i = 0; i < LEN(row->want) && row->want[i] != NULL; i++) {
		const char *eq = strchr(row->want[i], '=');
		char name[32];

		assert_non_null(eq);
		snprintf(name, sizeof(name), "%.*s", (int)(eq - row->want[i]),
		    row->want[i]);
		got = field(&cfg, name, buf, sizeof(buf));
		if (strcmp(got, eq + 1) != 0)
			fail_msg("%s: %s is \"%s\", should be \"%s\"", row->name,
			    name, got, eq + 1);
	}
}

static void
bad_row(void **state)
{
	const struct bad_row *row = *state;
	char msg[1024], arg[PATH_MAX + 1];
	const char *data_dir = row->data_dir;
	struct config cfg;

	if (data_dir == LONG_DIR) {
		memset(arg, 'x', PATH_MAX);
		arg[0] = '/';
		arg[PATH_MAX] = '\0';
		data_dir = arg;
	}
	if (load(row->ini, data_dir, NULL, &cfg, msg, sizeof(msg)) != -1)
		fail_msg("%s: accepted", row->name);
	if (strcmp(msg, row->message) != 0)
		fail_msg("%s: said \"%s\", should say \"%s\"", row->name, msg,
		    row->message);
}

static void
test_parse_duration(void **state)
{
	static const struct { const char *in; bool ok; long want; } rows[] = {
		{ "90", true, 90 }, { "90s", true, 90 }, { "15m", true, 900 },
		{ "24h", true, 86400 }, { "7d", true, 604800 },
		{ "1", true, 1 },
		{ "36500d", true, 36500L * 86400 },	/* the 100-year cap */
		{ "3153600000", true, 3153600000L },
		{ "36501d", false, 0 }, { "3153600001", false, 0 },
		{ "99999999999999999999", false, 0 },	/* overflows long */
		{ "0", false, 0 }, { "0s", false, 0 }, { "-5", false, 0 },
		{ "", false, 0 }, { "s", false, 0 }, { "2w", false, 0 },
		{ "1.5h", false, 0 }, { "10ms", false, 0 }, { "5 ", false, 0 },
		{ "5S", false, 0 }, { "h1", false, 0 },
	};

	(void)state;
	for (size_t i = 0; i < LEN(rows); i++) {
		long got = -1;
		bool ok = parse_duration(rows[i].in, &got);

		if (ok != rows[i].ok)
			fail_msg("parse_duration(\"%s\") is %d, should be %d",
			    rows[i].in, ok, rows[i].ok);
		if (ok && got != rows[i].want)
			fail_msg("parse_duration(\"%s\") gives %ld, should be %ld",
			    rows[i].in, got, rows[i].want);
		if (!ok && got != -1)
			fail_msg("parse_duration(\"%s\") wrote %ld on failure",
			    rows[i].in, got);
	}
}

int
main(void)
{
	static struct CMUnitTest tests[LEN(good) + LEN(bad) + 1];
	size_t n = 0;

	for (size_t i = 0; i < LEN(good); i++)
		tests[n++] = (struct CMUnitTest){ good[i].name, good_row, NULL,
		    NULL, (void *)&good[i] };
	for (size_t i = 0; i < LEN(bad); i++)
		tests[n++] = (struct CMUnitTest){ bad[i].name, bad_row, NULL,
		    NULL, (void *)&bad[i] };
	tests[n++] = (struct CMUnitTest){ "parse_duration", test_parse_duration,
	    NULL, NULL, NULL };
	return cmocka_run_group_tests_name("config_load", tests, NULL, NULL);
}
