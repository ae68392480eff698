/* config_test.c -- table-driven cmocka tests of reading berth's
 * configuration the way main() does (main/main.c): conf_load() of the
 * file (base/conf.c), the -d and -s defaults (conf_default), the store's
 * settings (store_configure, store/store.c), the front's (config_read,
 * cgi/config.c), the chosen blob handler's own section (blob_open:
 * store/blob_fs.c, store/blob_redirect.c), and conf_check_unread() with
 * store_section_unused().  store_open() is left out: it would open the
 * SQLite metadata, which reads no setting.  Rows cover every default,
 * every key in its section, the deprecated [storage] keys of the
 * handlers (honoured, with their notice), and the one message
 * (file:line, section, key, value, why) for each mistake; then
 * parse_duration()'s grammar.  One cmocka test per row, named by the row.
 * Built as $(BUILD)/unit-config.
 *
 * Each row runs in a fresh temporary directory (TMP in rows), which is
 * also the working directory, since store_configure() creates the data
 * directory and makes its name absolute.  A row gives the INI text (TMP
 * replaced) and what it should come to, as "field=value" pairs read
 * through field() below, and all of stderr, with the file's name written
 * FILE and the directory TMP. */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "blob.h"
#include "conf.h"
#include "config.h"
#include "meta.h"
#include "pub.h"
#include "store.h"

#define LEN(a)	 (sizeof(a) / sizeof((a)[0]))
#define NO_FILE	 ((const char *)1) /* ini: conf_load(NULL), no file */
#define LONG_ARG ((const char *)2) /* -d or -s: PATH_MAX characters */

/* A blob seeded in the data directory, so that blob_get() shows how the
 * handler was configured. */
#define HEX	 "ab34567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef"
#define DIGEST	 "sha256:" HEX
#define BLOB_REL "sha256/ab/" HEX

struct row {
	const char *name;     /* lower case first: tests/run.sh counts */
	const char *ini;      /* the file's text, or NO_FILE */
	const char *data_dir; /* -d, or NULL */
	const char *socket;   /* -s, or NULL */
	const char *want[16]; /* "field=value" after reading, NULL-ended */
	const char *notice;   /* all of stderr; NULL: nothing */
};

struct bad_row {
	const char *name;
	const char *ini;      /* NULL: a file that does not exist */
	const char *data_dir; /* -d, or NULL */
	const char *socket;   /* -s, or NULL */
	const char *message;  /* all of stderr */
};

/* Every default, as config.h, store.h and the handlers document them. */
#define DEFAULTS \
	"workers=DEFAULT", "data_dir=TMP/var", \
	    "socket=TMP/var/run/berth.sock", "blob_handler=fs", \
	    "offload=x-accel", "accel_prefix=/_berth/blobs/", \
	    "read_only=false", "delete_enabled=true", "upload_expiry=86400", \
	    "access_log=true", "metrics_path=/_berth/metrics", \
	    "health_path=/_berth/health"

/* 100 and 106 characters: a socket path of 107 bytes ("/" X106) is the
 * longest sun_path holds with its NUL. */
#define X100 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define X106 X100 "xxxxxx"

/* 250 characters: more than a line of libinih's buffer holds. */
#define X10 "xxxxxxxxxx"
#define X250 \
	X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10 \
	    X10 X10 X10 X10 X10 X10 X10 X10

#define DEPRECATED(key, section) \
	"berth: FILE: [storage] " key " is " \
	"deprecated; write it as [" section "] " key "\n"

static const struct row good[] = {
	{ "defaults with no file", NO_FILE, NULL, NULL, { DEFAULTS }, NULL },
	/* [notify] */
	{ "no notify url: events off", "", NULL, NULL, { "notify_urls=0" },
	    NULL },
	{ "notify url repeated, and the defaults",
	    "[notify]\nurl = http://127.0.0.1:9/a\nurl = https://b.example/y\n",
	    NULL, NULL,
	    { "notify_urls=2", "notify_url0=http://127.0.0.1:9/a",
		"notify_url1=https://b.example/y", "notify_timeout=5",
		"notify_backoff_max=300", "notify_batch=50", "notify_secret=" },
	    NULL },
	{ "notify timeout, backoff_max, batch",
	    "[notify]\nurl = http://a/\ntimeout = 2\nbackoff_max = 1m\n"
	    "batch = 1\n",
	    NULL, NULL,
	    { "notify_urls=1", "notify_timeout=2", "notify_backoff_max=60",
		"notify_batch=1" },
	    NULL },
	{ "defaults with an empty file", "", NULL, NULL, { DEFAULTS }, NULL },
	{ "comments, blank lines and spaces",
	    "; a comment\n# another\n\n"
	    "[registry]\n   read_only   =   true   \n",
	    NULL, NULL, { "read_only=true", "workers=DEFAULT" }, NULL },
	{ "a comment longer than a line's buffer is skipped",
	    "[server]\n; " X250 " = 1\nworkers = 2\n", NULL, NULL,
	    { "workers=2" }, NULL },
	/* [server] */
	{ "server socket", "[server]\nsocket = /run/berth/b.sock\n", NULL, NULL,
	    { "socket=/run/berth/b.sock" }, NULL },
	{ "server socket of 107 bytes, the longest sun_path holds",
	    "[server]\nsocket = /" X106 "\n", NULL, NULL, { "socket=/" X106 },
	    NULL },
	{ "server socket_mode 0660 and socket_group root",
	    "[server]\nsocket_mode = 0660\nsocket_group = root\n", NULL, NULL,
	    { "socket_mode=0660", "socket_group=0" }, NULL },
	{ "server socket_mode 600 and a numeric socket_group",
	    "[server]\nsocket_mode = 600\nsocket_group = 4242\n", NULL, NULL,
	    { "socket_mode=0600", "socket_group=4242" }, NULL },
	{ "server workers 1", "[server]\nworkers = 1\n", NULL, NULL,
	    { "workers=1" }, NULL },
	{ "server workers 256", "[server]\nworkers = 256\n", NULL, NULL,
	    { "workers=256" }, NULL },
	/* [storage] */
	{ "storage data_dir, and the socket follows it",
	    "[storage]\ndata_dir = TMP/srv/berth\n", NULL, NULL,
	    { "data_dir=TMP/srv/berth", "socket=TMP/srv/berth/run/berth.sock" },
	    NULL },
	{ "storage data_dir relative, made absolute",
	    "[storage]\ndata_dir = ./a/../b/\n", NULL, NULL,
	    { "data_dir=TMP/b", "socket=TMP/b/run/berth.sock" }, NULL },
	{ "storage blob_handler fs", "[storage]\nblob_handler = fs\n", NULL,
	    NULL, { "blob_handler=fs", "offload=x-accel" }, NULL },
	{ "storage blob_handler redirect with its url",
	    "[storage]\nblob_handler = redirect\n[blob.redirect]\n"
	    "url = https://cdn.example.com/blobs\n",
	    NULL, NULL,
	    { "blob_handler=redirect", "url=https://cdn.example.com/blobs" },
	    NULL },
	/* [blob.fs] */
	{ "blob.fs offload stream", "[blob.fs]\noffload = stream\n", NULL, NULL,
	    { "offload=stream" }, NULL },
	{ "blob.fs offload x-sendfile", "[blob.fs]\noffload = x-sendfile\n",
	    NULL, NULL, { "offload=x-sendfile" }, NULL },
	{ "blob.fs offload x-accel", "[blob.fs]\noffload = x-accel\n", NULL,
	    NULL, { "offload=x-accel", "accel_prefix=/_berth/blobs/" }, NULL },
	{ "blob.fs accel_prefix", "[blob.fs]\naccel_prefix = /internal/b/\n",
	    NULL, NULL, { "offload=x-accel", "accel_prefix=/internal/b/" },
	    NULL },
	/* [blob.redirect] */
	{ "blob.redirect url over http, trailing slashes dropped",
	    "[storage]\nblob_handler = redirect\n[blob.redirect]\n"
	    "url = http://127.0.0.1:9000/b//\n",
	    NULL, NULL, { "url=http://127.0.0.1:9000/b" }, NULL },
	/* [registry] */
	{ "server access_log false", "[server]\naccess_log = false\n", NULL,
	    NULL, { "access_log=false" }, NULL },
	{ "server metrics and health paths",
	    "[server]\nmetrics_path = /ops/metrics\nhealth_path = /ops/up\n",
	    NULL, NULL, { "metrics_path=/ops/metrics", "health_path=/ops/up" },
	    NULL },
	{ "server metrics and health off",
	    "[server]\nmetrics_path = off\nhealth_path = off\n", NULL, NULL,
	    { "metrics_path=", "health_path=" }, NULL },
	{ "registry read_only true", "[registry]\nread_only = true\n", NULL,
	    NULL, { "read_only=true" }, NULL },
	{ "registry read_only yes", "[registry]\nread_only = yes\n", NULL, NULL,
	    { "read_only=true" }, NULL },
	{ "registry read_only 1", "[registry]\nread_only = 1\n", NULL, NULL,
	    { "read_only=true" }, NULL },
	{ "registry read_only false", "[registry]\nread_only = false\n", NULL,
	    NULL, { "read_only=false" }, NULL },
	{ "registry delete_enabled no", "[registry]\ndelete_enabled = no\n",
	    NULL, NULL, { "delete_enabled=false" }, NULL },
	{ "registry delete_enabled 0", "[registry]\ndelete_enabled = 0\n", NULL,
	    NULL, { "delete_enabled=false" }, NULL },
	{ "registry upload_expiry 15m", "[registry]\nupload_expiry = 15m\n",
	    NULL, NULL, { "upload_expiry=900" }, NULL },
	{ "registry upload_expiry 7d", "[registry]\nupload_expiry = 7d\n", NULL,
	    NULL, { "upload_expiry=604800" }, NULL },
	{ "a later value of a key wins", "[server]\nworkers = 2\nworkers = 3\n",
	    NULL, NULL, { "workers=3" }, NULL },
	/* Where berth 0.1 had the handlers' keys: honoured, with a notice. */
	{ "deprecated storage offload", "[storage]\noffload = stream\n", NULL,
	    NULL, { "offload=stream" }, DEPRECATED("offload", "blob.fs") },
	{ "deprecated storage accel_prefix",
	    "[storage]\naccel_prefix = /old/\n", NULL, NULL,
	    { "accel_prefix=/old/" }, DEPRECATED("accel_prefix", "blob.fs") },
	{ "deprecated storage redirect_url",
	    "[storage]\nblob_handler = "
	    "redirect\nredirect_url = https://cdn.example.com/x/\n",
	    NULL, NULL,
	    { "blob_handler=redirect", "url=https://cdn.example.com/x" },
	    "berth: FILE: [storage] redirect_url is deprecated; write it as "
	    "[blob.redirect] url\n" },
	/* Sections of handlers not in use may sit unread and unchecked. */
	{ "the section of a handler not in use is ignored",
	    "[blob.redirect]\nurl = ftp://not-checked\nbogus = 1\n", NULL, NULL,
	    { "blob_handler=fs", "offload=x-accel" }, NULL },
	{ "the fs section is ignored with the redirect handler",
	    "[storage]\nblob_handler = redirect\n[blob.redirect]\n"
	    "url = https://c/\n[blob.fs]\noffload = nonsense\n",
	    NULL, NULL, { "blob_handler=redirect", "url=https://c" }, NULL },
	/* -d and -s: defaults that the file overrides. */
	{ "option -d sets data_dir and the socket", NO_FILE, "data", NULL,
	    { "data_dir=TMP/data", "socket=TMP/data/run/berth.sock" }, NULL },
	{ "option -s sets the socket", NO_FILE, "data", "/tmp/s.sock",
	    { "data_dir=TMP/data", "socket=/tmp/s.sock" }, NULL },
	{ "the file's data_dir wins over option -d",
	    "[storage]\ndata_dir = file\n", "arg", NULL,
	    { "data_dir=TMP/file", "socket=TMP/file/run/berth.sock" }, NULL },
	{ "the file's socket wins over option -s",
	    "[server]\nsocket = /file.sock\n", NULL, "/arg.sock",
	    { "socket=/file.sock" }, NULL },
};

#define SOCKET_MODE_WHY \
	"expected octal permission bits up to 0777 that let berth's user " \
	"read and write, e.g. 0660"
#define BAD(sec_key, line, value, why) \
	"berth: FILE:" #line ": " sec_key ": bad value \"" value "\": " why "\n"
#define WORKERS_WHY  "expected a number from 1 to 256"
#define BOOL_WHY     "expected true or false"
#define DURATION_WHY "expected a duration such as 90s, 15m, 24h or 7d"
#define OFFLOAD_WHY  "expected one of x-accel, x-sendfile, stream"
#define URL_WHY	     "expected an http:// or https:// URL"
#define OPS_PATH_WHY "expected an absolute path without '?' or spaces, or off"

static const struct bad_row bad[] = {
	/* [notify] */
	{ "notify url not http", "[notify]\nurl = ftp://a/\n", NULL, NULL,
	    "berth: FILE: [notify] url: bad value \"ftp://a/\": an http:// or "
	    "https:// URL (no spaces, under 1024 bytes)\n" },
	{ "notify url bad before a good one",
	    "[notify]\nurl = a b\nurl = http://ok/\n", NULL, NULL,
	    "berth: FILE: [notify] url: bad value \"a b\": an http:// or "
	    "https:// URL (no spaces, under 1024 bytes)\n" },
	{ "notify batch 0", "[notify]\nurl = http://a/\nbatch = 0\n", NULL,
	    NULL,
	    "berth: FILE:3: [notify] batch: bad value \"0\": expected a "
	    "number from 1 to 1000\n" },
	{ "notify secret_file missing",
	    "[notify]\nurl = http://a/\nsecret_file = /nonexistent/s\n", NULL,
	    NULL,
	    "berth: FILE:3: [notify] secret_file: bad value "
	    "\"/nonexistent/s\": No such file or directory\n" },
	/* Keys nobody read. */
	{ "unknown key", "[server]\nsocket = /s\nport = 5000\n", NULL, NULL,
	    "berth: FILE:3: [server] port: unknown key\n" },
	{ "unknown section", "\n[nope]\nkey = 1\n", NULL, NULL,
	    "berth: FILE:3: [nope] key: unknown key\n" },
	{ "a key outside any section", "workers = 2\n", NULL, NULL,
	    "berth: FILE:1: [] workers: unknown key\n" },
	{ "a key in the wrong section", "[storage]\nread_only = true\n", NULL,
	    NULL, "berth: FILE:2: [storage] read_only: unknown key\n" },
	{ "an unknown key in the handler's own section",
	    "[blob.fs]\noffload = stream\nofload = stream\n", NULL, NULL,
	    "berth: FILE:3: [blob.fs] ofload: unknown key\n" },
	{ "an old key in storage once its new section has it",
	    "[storage]\noffload = stream\n[blob.fs]\noffload = x-sendfile\n",
	    NULL, NULL, "berth: FILE:2: [storage] offload: unknown key\n" },
	/* berth 0.1 read every key whatever the handler; now the deprecated
	 * [storage] keys are the handler's, read only when it is in use. */
	{ "a deprecated key of a handler not in use",
	    "[storage]\n"
	    "blob_handler = redirect\nredirect_url = https://c/\n"
	    "offload = stream\n",
	    NULL, NULL,
	    "berth: FILE: [storage] redirect_url is deprecated; write it as "
	    "[blob.redirect] url\n"
	    "berth: FILE:4: [storage] offload: unknown key\n" },
	/* Only the sections of handlers and backends in this build may sit
	 * unread: any other is a typo, or a part this build lacks. */
	{ "the section of a blob handler not in this build",
	    "[blob.fss]\noffload = stream\n", NULL, NULL,
	    "berth: FILE:2: [blob.fss] offload: unknown key\n" },
	{ "the section of a metadata backend not in this build",
	    "[metadata.sqlit]\npath = m.db\n", NULL, NULL,
	    "berth: FILE:2: [metadata.sqlit] path: unknown key\n" },
	{ "socket_mode 0400: berth could not connect",
	    "[server]\nsocket_mode = 0400\n", NULL, NULL,
	    BAD("[server] socket_mode", 2, "0400", SOCKET_MODE_WHY) },
	{ "socket_mode not octal", "[server]\nsocket_mode = 0689\n", NULL, NULL,
	    BAD("[server] socket_mode", 2, "0689", SOCKET_MODE_WHY) },
	{ "socket_mode with set-id bits", "[server]\nsocket_mode = 4777\n",
	    NULL, NULL,
	    BAD("[server] socket_mode", 2, "4777", SOCKET_MODE_WHY) },
	{ "socket_mode 0466: berth's user could not write",
	    "[server]\nsocket_mode = 0466\n", NULL, NULL,
	    BAD("[server] socket_mode", 2, "0466", SOCKET_MODE_WHY) },
	{ "socket_mode a word", "[server]\nsocket_mode = rw\n", NULL, NULL,
	    BAD("[server] socket_mode", 2, "rw", SOCKET_MODE_WHY) },
	{ "socket_group unknown", "[server]\nsocket_group = no-such-group\n",
	    NULL, NULL,
	    BAD("[server] socket_group", 2, "no-such-group",
		"expected the name or number of a group on this host") },
	{ "only the first problem", "[server]\nworkers = 0\nbogus = 1\n", NULL,
	    NULL, BAD("[server] workers", 2, "0", WORKERS_WHY) },
	{ "metrics_path relative", "[server]\nmetrics_path = metrics\n", NULL,
	    NULL, BAD("[server] metrics_path", 2, "metrics", OPS_PATH_WHY) },
	{ "metrics_path with a query", "[server]\nmetrics_path = /m?x\n", NULL,
	    NULL, BAD("[server] metrics_path", 2, "/m?x", OPS_PATH_WHY) },
	{ "metrics_path under /v2", "[server]\nmetrics_path = /v2/metrics\n",
	    NULL, NULL,
	    BAD("[server] metrics_path", 2, "/v2/metrics",
		"expected a path outside /v2/, the registry API") },
	{ "health_path /v2", "[server]\nhealth_path = /v2\n", NULL, NULL,
	    BAD("[server] health_path", 2, "/v2",
		"expected a path outside /v2/, the registry API") },
	{ "health_path the same as metrics_path",
	    "[server]\nhealth_path = /_berth/metrics\n", NULL, NULL,
	    BAD("[server] health_path", 2, "/_berth/metrics",
		"expected a path other than metrics_path") },
	{ "access_log not a boolean", "[server]\naccess_log = sometimes\n",
	    NULL, NULL, BAD("[server] access_log", 2, "sometimes", BOOL_WHY) },
	/* conf_long */
	{ "workers 0", "[server]\nworkers = 0\n", NULL, NULL,
	    BAD("[server] workers", 2, "0", WORKERS_WHY) },
	{ "workers 257", "[server]\nworkers = 257\n", NULL, NULL,
	    BAD("[server] workers", 2, "257", WORKERS_WHY) },
	{ "workers -1", "[server]\nworkers = -1\n", NULL, NULL,
	    BAD("[server] workers", 2, "-1", WORKERS_WHY) },
	{ "workers not a number", "[server]\nworkers = 4x\n", NULL, NULL,
	    BAD("[server] workers", 2, "4x", WORKERS_WHY) },
	{ "workers empty", "[server]\nworkers =\n", NULL, NULL,
	    BAD("[server] workers", 2, "", WORKERS_WHY) },
	{ "workers overflowing long",
	    "[server]\nworkers = 99999999999999999999\n", NULL, NULL,
	    BAD("[server] workers", 2, "99999999999999999999", WORKERS_WHY) },
	/* conf_string */
	{ "socket longer than sun_path holds",
	    "[server]\nsocket = /" X106 "x\n", NULL, NULL,
	    BAD("[server] socket", 2, "/" X106 "x",
		"108 bytes, longer than a unix socket's path (sun_path) "
		"allows: at most 107") },
	{ "the default socket under a long data_dir",
	    "[storage]\ndata_dir = TMP/" X100 "\n", NULL, NULL,
	    "berth: FILE: [server] socket: 145 bytes, longer than a unix "
	    "socket's path (sun_path) allows: at most 107\n" },
	{ "socket empty", "[server]\nsocket =\n", NULL, NULL,
	    BAD("[server] socket", 2, "", "empty") },
	{ "data_dir empty", "[storage]\ndata_dir =\n", NULL, NULL,
	    BAD("[storage] data_dir", 2, "", "empty") },
	{ "blob_handler empty", "[storage]\nblob_handler =\n", NULL, NULL,
	    BAD("[storage] blob_handler", 2, "", "empty") },
	{ "url empty",
	    "[storage]\nblob_handler = redirect\n"
	    "[blob.redirect]\nurl =\n",
	    NULL, NULL, BAD("[blob.redirect] url", 4, "", "empty") },
	/* A default too long for its buffer: no file line to name. */
	{ "option -d longer than PATH_MAX", "", LONG_ARG, NULL,
	    "berth: FILE: [storage] data_dir: too long\n" },
	{ "option -s longer than PATH_MAX", "", NULL, LONG_ARG,
	    "berth: FILE: [server] socket: too long\n" },
	{ "option -d too long and no file", NO_FILE, LONG_ARG, NULL,
	    "berth: (defaults): [storage] data_dir: too long\n" },
	/* conf_choice */
	{ "offload unknown", "[blob.fs]\noffload = ftp\n", NULL, NULL,
	    BAD("[blob.fs] offload", 2, "ftp", OFFLOAD_WHY) },
	{ "offload in upper case", "[blob.fs]\noffload = STREAM\n", NULL, NULL,
	    BAD("[blob.fs] offload", 2, "STREAM", OFFLOAD_WHY) },
	{ "deprecated storage offload unknown", "\n[storage]\noffload = ftp\n",
	    NULL, NULL,
	    DEPRECATED("offload", "blob.fs")
		BAD("[storage] offload", 3, "ftp", OFFLOAD_WHY) },
	/* conf_bool */
	{ "read_only maybe", "[registry]\nread_only = maybe\n", NULL, NULL,
	    BAD("[registry] read_only", 2, "maybe", BOOL_WHY) },
	{ "delete_enabled TRUE", "[registry]\ndelete_enabled = TRUE\n", NULL,
	    NULL, BAD("[registry] delete_enabled", 2, "TRUE", BOOL_WHY) },
	/* conf_duration */
	{ "upload_expiry 0", "[registry]\nupload_expiry = 0\n", NULL, NULL,
	    BAD("[registry] upload_expiry", 2, "0", DURATION_WHY) },
	{ "upload_expiry in weeks", "[registry]\nupload_expiry = 2w\n", NULL,
	    NULL, BAD("[registry] upload_expiry", 2, "2w", DURATION_WHY) },
	/* conf_bad, for what the owners check themselves */
	{ "blob_handler unknown", "[storage]\nblob_handler = s3\n", NULL, NULL,
	    BAD("[storage] blob_handler", 2, "s3",
		"no blob handler of that name in this build") },
	{ "accel_prefix relative", "[blob.fs]\naccel_prefix = blobs/\n", NULL,
	    NULL,
	    BAD("[blob.fs] accel_prefix", 2, "blobs/", "must start with /") },
	{ "url not http",
	    "[storage]\nblob_handler = redirect\n"
	    "[blob.redirect]\nurl = ftp://x/\n",
	    NULL, NULL, BAD("[blob.redirect] url", 4, "ftp://x/", URL_WHY) },
	{ "deprecated redirect_url not http",
	    "[storage]\nblob_handler = "
	    "redirect\nredirect_url = //x/\n",
	    NULL, NULL,
	    "berth: FILE: [storage] redirect_url is deprecated; write it as "
	    "[blob.redirect] url\n" BAD("[storage] redirect_url", 3, "//x/",
		URL_WHY) },
	{ "redirect without url", "[storage]\nblob_handler = redirect\n", NULL,
	    NULL,
	    "berth: FILE: blob_handler = redirect needs [blob.redirect] "
	    "url\n" },
	{ "data_dir under a file", "[storage]\ndata_dir = berth.ini/x\n", NULL,
	    NULL, "berth: data directory berth.ini/x: Not a directory\n" },
	/* The file itself. */
	{ "syntax error", "[server]\nworkers = 2\n[storage\n", NULL, NULL,
	    "berth: FILE:3: syntax error\n" },
	{ "a line with no =", "[server]\nworkers\n", NULL, NULL,
	    "berth: FILE:2: syntax error\n" },
	/* libinih's buffer is INI_MAX_LINE, 200 bytes with the newline and
	 * NUL on Debian: the line is named, not its rest taken for others. */
	{ "a line longer than libinih's buffer",
	    "[blob.fs]\naccel_prefix = /" X250 "/\nbogus = 1\n", NULL, NULL,
	    "berth: FILE:2: line too long (at most 197 characters)\n" },
	{ "a long comment, then an unknown key at its own line",
	    "[server]\n\t# " X250 " = 1\nbogus = 1\n", NULL, NULL,
	    "berth: FILE:3: [server] bogus: unknown key\n" },
	{ "no such file", NULL, NULL, NULL,
	    "berth: FILE: cannot read configuration: No such file or "
	    "directory\n" },
};

/* The row's temporary directory (absolute, no symbolic links), and the
 * working directory to come back to. */
static char tmp[PATH_MAX];
static int home = -1;

/* A row's outcome: what main() would hold after reading. */
struct outcome {
	struct conf *conf;
	struct store st;
	struct config cfg;
	struct blob_handler h;
};

/* store/store.c's store_open() opens the metadata; this program reads
 * the configuration without it, so the SQLite side is not linked in. */
enum meta_err
meta_open(struct conf *conf, const char *data_dir)
{
	(void)conf;
	fail_msg("meta_open(%s): this test opens no metadata", data_dir);
	return META_ERR;
}

void
meta_close(void)
{
}

/* store_open() then sets up the web server's files (store/pub.c, which
 * needs the metadata): never reached here, as meta_open() fails. */
void
pub_open(struct store *st)
{
	(void)st;
	fail_msg("pub_open: this test opens no store");
}

/* store.c turns events on or off; outbox.c (linked for [notify]) reads
 * the outbox only in outbox_run(), which no row runs. */
void
meta_events(bool on)
{
	(void)on;
}

int
meta_event_context(struct meta_event_ctx *c)
{
	(void)c;
	return -1;
}

enum meta_err
meta_outbox_next(const char *url, size_t max, json_t *out)
{
	(void)url;
	(void)max;
	(void)out;
	return META_ERR;
}

enum meta_err
meta_outbox_mark(const char *url, int64_t seq, const char *error)
{
	(void)url;
	(void)seq;
	(void)error;
	return META_ERR;
}

enum meta_err
meta_outbox_prune(const json_t *urls, int64_t *deleted)
{
	(void)urls;
	(void)deleted;
	return META_ERR;
}

/* store_section_unused() asks which backends are in this build: sqlite
 * alone, as in berth. */
const struct meta_ops *
meta_find(const char *name)
{
	static const struct meta_ops sqlite = { .name = "sqlite" };

	return strcmp(name, "sqlite") == 0 ? &sqlite : NULL;
}

/* store_section_unused() asks which metadata backend is in use. */
const char *
meta_backend(struct conf *conf)
{
	const char *b = conf_get(conf, "metadata", "backend");

	return b != NULL ? b : "sqlite";
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Per row: a fresh directory under /tmp, made the working directory. */
static int
row_setup(void **state)
{
	char dir[] = "/tmp/berth-config-test.XXXXXX";

	(void)state;
	if (mkdtemp(dir) == NULL || realpath(dir, tmp) == NULL ||
	    chdir(tmp) != 0)
		return -1;
	return 0;
}

static int
row_teardown(void **state)
{
	(void)state;
	if (fchdir(home) != 0)
		return -1;
	return nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Copy s into out (cap bytes) with every `from` written `to`. */
static void
replace(const char *s, const char *from, const char *to, char *out, size_t cap)
{
	const char *at;
	size_t n = 0;

	out[0] = '\0';
	for (; (at = strstr(s, from)) != NULL; s = at + strlen(from))
		n += snprintf(out + n, n < cap ? cap - n : 0, "%.*s%s",
		    (int)(at - s), s, to);
	snprintf(out + n, n < cap ? cap - n : 0, "%s", s);
	assert_true(strlen(out) < cap - 1);
}

/* Read the configuration as main() does, then open the chosen blob
 * handler instead of the whole store, and refuse unread keys.  text is
 * the file (TMP replaced; NULL: a path that does not exist; NO_FILE: no
 * path); data_dir and socket the -d and -s defaults (NULL: not given).
 * On success o holds the table, the settings and the open handler (the
 * caller frees them with outcome_free); on failure nothing.  All of
 * stderr goes to msg (cap bytes), with the file's path written FILE and
 * the row's directory TMP.  Returns 0 or -1. */
static int
configure(const char *text, const char *data_dir, const char *socket,
    struct outcome *o, char *msg, size_t cap)
{
	char path[PATH_MAX + 16], errpath[PATH_MAX + 16];
	char ini[4096], raw[8192], half[8192];
	int fd, errfd, saved, rc = -1;
	bool opened = false;
	ssize_t n;

	memset(o, 0, sizeof(*o));
	snprintf(path, sizeof(path), "%s/berth.ini", tmp);
	snprintf(errpath, sizeof(errpath), "%s/stderr", tmp);
	if (text != NULL && text != NO_FILE) {
		replace(text, "TMP", tmp, ini, sizeof(ini));
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, ini, strlen(ini)), strlen(ini));
		close(fd);
	}
	errfd = open(errpath, O_RDWR | O_CREAT | O_EXCL, 0644);
	assert_true(errfd >= 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(errfd, STDERR_FILENO);

	/* main/main.c: load_conf(), store_configure(), config_read(). */
	o->conf = conf_load(text == NO_FILE ? NULL : path);
	if (o->conf == NULL)
		goto out;
	if ((data_dir != NULL &&
		conf_default(o->conf, "storage", "data_dir", data_dir) != 0) ||
	    (socket != NULL &&
		conf_default(o->conf, "server", "socket", socket) != 0))
		goto out;
	if (store_configure(&o->st, o->conf) != 0 ||
	    config_read(&o->cfg, o->conf, o->st.data_dir) != 0)
		goto out;
	/* check_store(): store_open()'s blob half, conf_check_unread(). */
	if (blob_open(o->st.blob_handler, o->conf, o->st.data_dir, &o->h) !=
	    BLOB_OK)
		goto out;
	opened = true;
	if (conf_check_unread(o->conf, store_section_unused, &o->st) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0) {
		if (opened)
			blob_close(&o->h);
		conf_free(o->conf);
		o->conf = NULL;
	}
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(errfd, raw, sizeof(raw) - 1, 0);
	raw[n > 0 ? n : 0] = '\0';
	close(errfd);
	unlink(errpath);
	/* The path as FILE and the directory as TMP, as rows spell them. */
	replace(raw, path, "FILE", half, sizeof(half));
	replace(half, tmp, "TMP", msg, cap);
	return rc;
}

static void
outcome_free(struct outcome *o)
{
	blob_close(&o->h);
	conf_free(o->conf);
}

/* What the open handler answers for the seeded blob: its kind of answer
 * as "offload" would name it, and the target with the blob's own part
 * removed (accel_prefix, or url). */
static void
handler_answer(struct outcome *o, const char **kind, char *target, size_t cap)
{
	struct blob_location loc;
	enum blob_err e;
	char path[PATH_MAX + 128];
	uint64_t size = 0;
	size_t n, tail;
	int fd = -1;

	/* The fs layout (blob_fs.c): blobs/<algorithm>/<xx>/<hex>. */
	snprintf(path, sizeof(path), "%s/blobs/sha256", o->st.data_dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/blobs/sha256/ab", o->st.data_dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/blobs/%s", o->st.data_dir, BLOB_REL);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		assert_int_equal(write(fd, "blob", 4), 4);
		close(fd);
		fd = -1;
	}
	memset(&loc, 0, sizeof(loc));
	e = blob_get(&o->h, "r", DIGEST, &fd, &size, &loc);
	target[0] = '\0';
	if (e == BLOB_OK) {
		assert_true(fd >= 0);
		close(fd);
		assert_int_equal(size, 4);
		*kind = "stream";
		return;
	}
	assert_int_equal(e, BLOB_REDIRECT);
	*kind = loc.kind == BLOB_LOC_ACCEL ? "x-accel" :
	    loc.kind == BLOB_LOC_SENDFILE  ? "x-sendfile" :
					     "url";
	/* x-accel: <prefix>sha256/ab/<hex>; x-sendfile: the file's path;
	 * url: <url>/sha256/<hex>. */
	n = strlen(loc.target);
	if (loc.kind == BLOB_LOC_URL) {
		tail = strlen("/sha256/" HEX);
		assert_true(n >= tail &&
		    strcmp(loc.target + n - tail, "/sha256/" HEX) == 0);
	} else if (loc.kind == BLOB_LOC_ACCEL) {
		tail = strlen(BLOB_REL);
		assert_true(
		    n >= tail && strcmp(loc.target + n - tail, BLOB_REL) == 0);
	} else {
		assert_string_equal(loc.target, path);
		tail = 0;
	}
	snprintf(target, cap, "%.*s", (int)(n - tail), loc.target);
}

/* The value of a setting by name, as text in buf (cap bytes). */
static const char *
field(struct outcome *o, const char *name, char *buf, size_t cap)
{
	const char *kind;

	if (strcmp(name, "socket") == 0)
		return o->cfg.socket;
	if (strcmp(name, "socket_mode") == 0)
		snprintf(buf, cap, "%04o", o->cfg.socket_mode);
	else if (strcmp(name, "socket_group") == 0)
		snprintf(buf, cap, "%ld", o->cfg.socket_group);
	else if (strcmp(name, "workers") == 0 &&
	    o->cfg.workers == config_default_workers())
		snprintf(buf, cap, "DEFAULT"); /* twice the processors */
	else if (strcmp(name, "workers") == 0)
		snprintf(buf, cap, "%d", o->cfg.workers);
	else if (strcmp(name, "read_only") == 0)
		return o->cfg.read_only ? "true" : "false";
	else if (strcmp(name, "access_log") == 0)
		return o->cfg.access_log ? "true" : "false";
	else if (strcmp(name, "metrics_path") == 0)
		return o->cfg.metrics_path;
	else if (strcmp(name, "health_path") == 0)
		return o->cfg.health_path;
	else if (strcmp(name, "delete_enabled") == 0)
		return o->cfg.delete_enabled ? "true" : "false";
	else if (strcmp(name, "data_dir") == 0)
		return o->st.data_dir;
	else if (strcmp(name, "blob_handler") == 0)
		return o->st.blob_handler;
	else if (strcmp(name, "upload_expiry") == 0)
		snprintf(buf, cap, "%ld", o->st.upload_expiry);
	else if (strcmp(name, "offload") == 0) {
		assert_string_equal(o->st.blob_handler, "fs");
		handler_answer(o, &kind, buf, cap);
		return kind;
	} else if (strcmp(name, "accel_prefix") == 0) {
		handler_answer(o, &kind, buf, cap);
		assert_string_equal(kind, "x-accel");
	} else if (strcmp(name, "notify_urls") == 0)
		snprintf(buf, cap, "%zu", o->st.notify.nurls);
	else if (strncmp(name, "notify_url", 10) == 0 &&
	    (size_t)atoi(name + 10) < o->st.notify.nurls)
		return o->st.notify.urls[atoi(name + 10)];
	else if (strcmp(name, "notify_timeout") == 0)
		snprintf(buf, cap, "%ld", o->st.notify.timeout);
	else if (strcmp(name, "notify_backoff_max") == 0)
		snprintf(buf, cap, "%ld", o->st.notify.backoff_max);
	else if (strcmp(name, "notify_batch") == 0)
		snprintf(buf, cap, "%ld", o->st.notify.batch);
	else if (strcmp(name, "notify_secret") == 0)
		snprintf(buf, cap, "%.*s", (int)o->st.notify.secret_len,
		    (const char *)o->st.notify.secret);
	else if (strcmp(name, "url") == 0) {
		handler_answer(o, &kind, buf, cap);
		assert_string_equal(kind, "url");
	} else
		fail_msg("no setting %s", name);
	return buf;
}

/* A -d or -s of PATH_MAX characters. */
static const char *
long_arg(const char *arg, char *buf)
{
	if (arg != LONG_ARG)
		return arg;
	memset(buf, 'x', PATH_MAX);
	buf[0] = '/';
	buf[PATH_MAX] = '\0';
	return buf;
}

static void
good_row(void **state)
{
	const struct row *row = *state;
	char msg[1024], buf[PATH_MAX + 256], got_tmp[PATH_MAX + 256];
	struct outcome o;
	const char *got;

	if (configure(row->ini, row->data_dir, row->socket, &o, msg,
		sizeof(msg)) != 0)
		fail_msg("%s: refused: %s", row->name, msg);
	if (strcmp(msg, row->notice != NULL ? row->notice : "") != 0)
		fail_msg("%s: said \"%s\", should say \"%s\"", row->name, msg,
		    row->notice != NULL ? row->notice : "");
	for (size_t i = 0; i < LEN(row->want) && row->want[i] != NULL; i++) {
		const char *eq = strchr(row->want[i], '=');
		char name[32];

		assert_non_null(eq);
		snprintf(name, sizeof(name), "%.*s", (int)(eq - row->want[i]),
		    row->want[i]);
		got = field(&o, name, buf, sizeof(buf));
		replace(got, tmp, "TMP", got_tmp, sizeof(got_tmp));
		if (strcmp(got_tmp, eq + 1) != 0)
			fail_msg("%s: %s is \"%s\", should be \"%s\"",
			    row->name, name, got_tmp, eq + 1);
	}
	outcome_free(&o);
}

static void
bad_row(void **state)
{
	const struct bad_row *row = *state;
	char msg[1024], dir[PATH_MAX + 1], sock[PATH_MAX + 1];
	struct outcome o;

	if (configure(row->ini, long_arg(row->data_dir, dir),
		long_arg(row->socket, sock), &o, msg, sizeof(msg)) != -1) {
		outcome_free(&o);
		fail_msg("%s: accepted", row->name);
	}
	if (strcmp(msg, row->message) != 0)
		fail_msg("%s: said \"%s\", should say \"%s\"", row->name, msg,
		    row->message);
}

/* blob_open() by a name no handler has (store_configure() refuses it
 * first in berth; the seam still answers for itself). */
static void
test_blob_open_unknown(void **state)
{
	struct blob_handler h;
	struct conf *conf = conf_load(NULL);
	char errpath[PATH_MAX + 16], msg[256];
	int errfd, saved;
	enum blob_err e;
	ssize_t n;

	(void)state;
	assert_non_null(conf);
	snprintf(errpath, sizeof(errpath), "%s/stderr", tmp);
	errfd = open(errpath, O_RDWR | O_CREAT | O_EXCL, 0644);
	assert_true(errfd >= 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(errfd, STDERR_FILENO);
	e = blob_open("s3", conf, tmp, &h);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(errfd, msg, sizeof(msg) - 1, 0);
	msg[n > 0 ? n : 0] = '\0';
	close(errfd);
	conf_free(conf);
	assert_int_equal(e, BLOB_NOTSUP);
	assert_null(h.ops);
	assert_string_equal(msg, "berth: no blob handler named \"s3\"\n");
}

/* A deprecation notice is printed once per table: a second blob_open()
 * of the handler on the same table -- as each forked worker does after
 * the parent's -- says nothing. */
static void
test_notice_once(void **state)
{
	static const char *const inis[] = {
		"[storage]\noffload = stream\n",
		"[storage]\nblob_handler = redirect\n"
		"redirect_url = https://cdn.example.com/x/\n",
	};
	char errpath[PATH_MAX + 16], msg[1024];
	struct blob_handler h;
	struct outcome o;
	int errfd, saved;
	ssize_t n;

	(void)state;
	for (size_t i = 0; i < LEN(inis); i++) {
		assert_int_equal(configure(inis[i], NULL, NULL, &o, msg,
				     sizeof(msg)),
		    0);
		assert_non_null(strstr(msg, "is deprecated"));
		snprintf(errpath, sizeof(errpath), "%s/stderr", tmp);
		errfd = open(errpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
		assert_true(errfd >= 0);
		fflush(stderr);
		saved = dup(STDERR_FILENO);
		dup2(errfd, STDERR_FILENO);
		assert_int_equal(blob_open(o.st.blob_handler, o.conf,
				     o.st.data_dir, &h),
		    BLOB_OK);
		fflush(stderr);
		dup2(saved, STDERR_FILENO);
		close(saved);
		n = pread(errfd, msg, sizeof(msg) - 1, 0);
		msg[n > 0 ? n : 0] = '\0';
		close(errfd);
		unlink(errpath);
		blob_close(&h);
		outcome_free(&o);
		snprintf(errpath, sizeof(errpath), "%s/berth.ini", tmp);
		unlink(errpath); /* configure() makes it anew */
		assert_string_equal(msg, "");
	}
}

static void
test_parse_duration(void **state)
{
	static const struct {
		const char *in;
		bool ok;
		long want;
	} rows[] = {
		{ "90", true, 90 },
		{ "90s", true, 90 },
		{ "15m", true, 900 },
		{ "24h", true, 86400 },
		{ "7d", true, 604800 },
		{ "1", true, 1 },
		{ "36500d", true, 36500L * 86400 }, /* the 100-year cap */
		{ "3153600000", true, 3153600000L },
		{ "52560000m", true, 3153600000L },
		{ "876000h", true, 3153600000L },
		{ "36501d", false, 0 },
		{ "3153600001", false, 0 },
		{ "52560001m", false, 0 },
		{ "876001h", false, 0 },
		{ "99999999999999999999", false, 0 }, /* overflows long */
		{ "0", false, 0 },
		{ "0s", false, 0 },
		{ "-5", false, 0 },
		{ "", false, 0 },
		{ "s", false, 0 },
		{ "2w", false, 0 },
		{ "1.5h", false, 0 },
		{ "10ms", false, 0 },
		{ "5 ", false, 0 },
		{ "5S", false, 0 },
		{ "h1", false, 0 },
		{ "1hh", false, 0 },
		{ "1h30m", false, 0 },
	};

	(void)state;
	for (size_t i = 0; i < LEN(rows); i++) {
		long got = -1;
		bool ok = parse_duration(rows[i].in, &got);

		if (ok != rows[i].ok)
			fail_msg("parse_duration(\"%s\") is %d, should be %d",
			    rows[i].in, ok, rows[i].ok);
		if (ok && got != rows[i].want)
			fail_msg(
			    "parse_duration(\"%s\") gives %ld, should be %ld",
			    rows[i].in, got, rows[i].want);
		if (!ok && got != -1)
			fail_msg("parse_duration(\"%s\") wrote %ld on failure",
			    rows[i].in, got);
	}
}

int
main(void)
{
	static struct CMUnitTest tests[LEN(good) + LEN(bad) + 3];
	size_t n = 0;
	int rc;

	if ((home = open(".", O_RDONLY | O_DIRECTORY)) < 0) {
		perror("config_test: .");
		return 1;
	}
	for (size_t i = 0; i < LEN(good); i++)
		tests[n++] = (struct CMUnitTest){ good[i].name, good_row,
			row_setup, row_teardown, (void *)&good[i] };
	for (size_t i = 0; i < LEN(bad); i++)
		tests[n++] = (struct CMUnitTest){ bad[i].name, bad_row,
			row_setup, row_teardown, (void *)&bad[i] };
	tests[n++] = (struct CMUnitTest){ "blob_open of an unknown handler",
		test_blob_open_unknown, row_setup, row_teardown, NULL };
	tests[n++] = (struct CMUnitTest){ "a deprecation notice once per table",
		test_notice_once, row_setup, row_teardown, NULL };
	tests[n++] = (struct CMUnitTest){ "parse_duration", test_parse_duration,
		NULL, NULL, NULL };
	rc = cmocka_run_group_tests_name("configuration", tests, NULL, NULL);
	close(home);
	return rc;
}
