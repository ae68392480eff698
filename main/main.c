/* main.c -- berth's entry point: read the configuration, prepare the
 * data directory, and serve in the mode the environment asks for:
 *   - a plain CGI request when GATEWAY_INTERFACE is set (configured by
 *     BERTH_CONFIG or a berth.ini beside the script);
 *   - FastCGI on fd 0 when a web server spawned us with a socket there;
 *   - otherwise a pool of FastCGI workers on the configured unix socket. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "cli.h"
#include "conf.h"
#include "config.h"
#include "meta.h"
#include "pub.h"
#include "server.h"
#include "store.h"

/* Usage to out: stdout when asked for (-h, --help), stderr after a
 * mistake. */
static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: berth [-t] [-c config.ini] [-d data_dir] [-s socket] [-w workers]\n"
	    "       berth [-c config.ini] [-d data_dir] <command> [options]\n"
	    "  commands: repos, tags, show, du, gc, uploads, fsck, audit, notify\n"
	    "  (berth help lists them)\n"
	    "  -t  check the configuration, print the effective data_dir,\n"
	    "      socket, workers and body_dir, and exit\n"
	    "  Serves the OCI registry API over FastCGI (or CGI when run\n"
	    "  by a web server as a CGI program).  BERTH_CONFIG names the\n"
	    "  configuration file when -c is not given.\n");
}

/* A CGI program on a shared host is configured by a file beside it:
 * <dir of SCRIPT_FILENAME>/berth.ini, when there is one and neither -c
 * nor BERTH_CONFIG names another.  Fills buf (cap bytes); NULL if none. */
static const char *
config_beside_script(char *buf, size_t cap)
{
	const char *script = getenv("SCRIPT_FILENAME");
	const char *slash = script != NULL ? strrchr(script, '/') : NULL;

	if (slash == NULL || getenv("GATEWAY_INTERFACE") == NULL)
		return NULL;
	if (snprintf(buf, cap, "%.*s/berth.ini", (int)(slash - script),
		script) >= (int)cap ||
	    access(buf, R_OK) != 0)
		return NULL;
	return buf;
}

/* The configuration: the file, with the command line's defaults. */
static struct conf *
load_conf(const char *path, const char *data_dir, const char *sock)
{
	struct conf *conf = conf_load(path);

	if (conf == NULL)
		return NULL;
	if ((data_dir != NULL &&
		conf_default(conf, "storage", "data_dir", data_dir) != 0) ||
	    (sock != NULL &&
		conf_default(conf, "server", "socket", sock) != 0)) {
		fprintf(stderr, "berth: out of memory\n");
		conf_free(conf);
		return NULL;
	}
	return conf;
}

/* Open the store here, which reads the blob handler's section and
 * migrates the schema, and refuse keys that nobody read.  It stays open
 * for a CGI request or an inherited socket; the pool closes it before
 * its workers open their own (after fork). */
static int
check_store(struct store *st)
{
	if (store_open(st) != 0)
		return -1;
	if (conf_check_unread(st->conf, store_section_unused, st) != 0) {
		store_close(st);
		return -1;
	}
	return 0;
}

/* nftw() callback: remove one entry of the scratch directory. */
static int
remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* berth -t for a data directory that does not exist yet: check what
 * serving would read without making it.  The blob handler reads its
 * section against a scratch directory, the metadata backend its own
 * through meta_exists() (which creates nothing), then no key may be left
 * unread.  0, or -1 after printing why. */
static int
check_unborn(struct store *st)
{
	char scratch[] = "/tmp/berth-check.XXXXXX", where[PATH_MAX];
	struct blob_handler h;
	enum blob_err be;
	int rc = -1;

	if (mkdtemp(scratch) == NULL) {
		perror("berth: scratch directory");
		return -1;
	}
	be = blob_open(st->blob_handler, st->conf, scratch, &h);
	if (be == BLOB_OK)
		blob_close(&h);
	if (nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "berth: could not remove %s\n", scratch);
	if (be == BLOB_OK &&
	    meta_exists(st->conf, st->data_dir, where, sizeof(where)) !=
		META_ERR &&
	    conf_check_unread(st->conf, store_section_unused, st) == 0)
		rc = 0;
	return rc;
}

int
main(int argc, char **argv)
{
	const char *config_path = getenv("BERTH_CONFIG");
	const char *data_dir = NULL, *sock = NULL;
	char beside[PATH_MAX];
	static struct store st;
	struct config cfg;
	struct conf *conf;
	long workers = 0;
	bool check = false;
	int ch, rc, unborn;

	/* A CGI program takes no options: a web server turns a query string
	 * without '=' into arguments (RFC 3875 4.4; Apache does), so
	 * "GET /v2/?-c+/etc/x" would otherwise choose our configuration. */
	if (getenv("GATEWAY_INTERFACE") != NULL)
		argc = 1;
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	/* "+": stop at the first non-option, an operator command (cli.h),
	 * whose own options follow it. */
	while ((ch = getopt(argc, argv, "+c:d:s:w:th")) != -1) {
		switch (ch) {
		case 't':
			check = true;
			break;
		case 'c':
			config_path = optarg;
			break;
		case 'd':
			data_dir = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'w':
			workers = strtol(optarg, NULL, 10);
			if (workers < 1 || workers > 256) {
				usage(stderr);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (config_path == NULL)
		config_path = config_beside_script(beside, sizeof(beside));
	if ((conf = load_conf(config_path, data_dir, sock)) == NULL)
		return 1;
	/* -t creates nothing: a mistyped data directory stays unmade. */
	unborn = check && optind == argc ? store_configure_nocreate(&st, conf) :
					   store_configure(&st, conf);
	if (unborn < 0 || config_read(&cfg, conf, st.data_dir) != 0 ||
	    (unborn == 1 && check_unborn(&st) != 0)) {
		conf_free(conf);
		return 1;
	}
	if (workers > 0)
		cfg.workers = (int)workers;
	if (optind < argc) {
		rc = cli_main(&st, argc - optind, argv + optind);
		conf_free(conf);
		return rc;
	}
	if (unborn == 0 && check_store(&st) != 0) {
		if (getenv("GATEWAY_INTERFACE") != NULL)
			fputs("Status: 500 Internal Server Error\r\n"
			      "Content-Type: text/plain\r\n\r\n"
			      "berth: cannot open storage; see the error log\n",
			    stdout);
		conf_free(conf);
		return 1;
	}
	/* Access control on with nobody to sign in as would lock
	 * everyone out: refuse to serve, saying how to add a user.  -t
	 * refuses too when a restart asks (server.c runs -t with
	 * BERTH_CHECK_START first), so that the running pool goes on rather
	 * than stop at this; a plain -t (scripts, make stop) does not. */
	if (unborn == 0 && (!check || getenv("BERTH_CHECK_START") != NULL) &&
	    ident_ready(&st.auth) != 0) {
		if (getenv("GATEWAY_INTERFACE") != NULL)
			fputs("Status: 500 Internal Server Error\r\n"
			      "Content-Type: text/plain\r\n\r\n"
			      "berth: access control has no user; see the "
			      "error log\n",
			    stdout);
		store_close(&st);
		conf_free(conf);
		return 1;
	}
	if (check) {
		/* For scripts that write the web server's configuration. */
		/* fast_reads: whether the web server may answer reads from
		 * <data_dir>/pub (store/pub.h) -- never with access control
		 * on, which only a worker enforces. */
		printf("data_dir=%s\nsocket=%s\nworkers=%d\nbody_dir=%s\n"
		       "fast_reads=%s\nfast_blob_reads=%s\n",
		    st.data_dir, cfg.socket, cfg.workers, st.body_dir,
		    st.fast_reads ? "yes" : "no",
		    pub_blob_names(&st) ? "yes" : "no");
		store_close(&st);
		conf_free(conf);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN); /* a client gone is an error return */

	if (getenv("GATEWAY_INTERFACE") != NULL && FCGX_IsCGI())
		rc = serve_cgi(&cfg, &st);
	else if (!FCGX_IsCGI())
		rc = serve_inherited(&cfg, &st);
	else
		rc = serve_pool(&cfg, &st);
	conf_free(conf);
	return rc;
}
