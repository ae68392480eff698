/* main.c -- berth's entry point: read the configuration, prepare the
 * data directory, and serve in the mode the environment asks for:
 *   - a plain CGI request when GATEWAY_INTERFACE is set (configured by
 *     BERTH_CONFIG or a berth.ini beside the script);
 *   - FastCGI on fd 0 when a web server spawned us with a socket there;
 *   - otherwise a pool of FastCGI workers on the configured unix socket. */
#include <errno.h>
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
#include "config.h"
#include "server.h"

/* Usage to out: stdout when asked for (-h, --help), stderr after a
 * mistake. */
static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: berth [-t] [-c config.ini] [-d data_dir] [-s socket] [-w workers]\n"
	    "       berth [-c config.ini] [-d data_dir] <command> [options]\n"
	    "  commands: repos, tags, show, du, gc, uploads, fsck, audit\n"
	    "  (berth help lists them)\n"
	    "  -t  check the configuration, print the effective data_dir,\n"
	    "      socket, workers and body_dir, and exit\n"
	    "  Serves the OCI registry API over FastCGI (or CGI when run\n"
	    "  by a web server as a CGI program).  BERTH_CONFIG names the\n"
	    "  configuration file when -c is not given.\n");
}

/* mkdir -p path, mode 0755. */
static int
make_dirs(const char *path)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -1;
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
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
	    script) >= (int)cap || access(buf, R_OK) != 0)
		return NULL;
	return buf;
}

/* [storage] body_dir as the web server will name files in it: absolute
 * (a relative one from the directory berth starts in), by default
 * <data_dir>/uploads/body.  cfg->data_dir is absolute already.  0, or -1
 * when the path is too long. */
static int
body_dir_absolute(struct config *cfg)
{
	char cwd[PATH_MAX], buf[PATH_MAX];
	int n;

	if (cfg->body_dir[0] == '\0')
		n = snprintf(buf, sizeof(buf), "%s/uploads/body", cfg->data_dir);
	else if (cfg->body_dir[0] == '/')
		n = snprintf(buf, sizeof(buf), "%s", cfg->body_dir);
	else if (getcwd(cwd, sizeof(cwd)) != NULL)
		n = snprintf(buf, sizeof(buf), "%s/%s", cwd, cfg->body_dir);
	else
		return -1;
	if (n < 0 || n >= (int)sizeof(buf))
		return -1;
	memcpy(cfg->body_dir, buf, (size_t)n + 1);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *config_path = getenv("BERTH_CONFIG");
	const char *data_dir = NULL, *sock = NULL;
	char resolved[PATH_MAX], beside[PATH_MAX], dflt_socket[PATH_MAX + 32];
	struct config cfg;
	long workers = 0;
	bool check = false;
	int ch;

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
	if (config_load(&cfg, config_path, data_dir, sock) != 0)
		return 1;
	if (workers > 0)
		cfg.workers = (int)workers;
	if (make_dirs(cfg.data_dir) != 0 || realpath(cfg.data_dir, resolved) == NULL) {
		fprintf(stderr, "berth: data directory %s: %s\n", cfg.data_dir,
		    strerror(errno));
		return 1;
	}
	/* The default socket follows the data directory: make it absolute
	 * with it, as web servers that chdir need. */
	snprintf(dflt_socket, sizeof(dflt_socket), "%s/run/berth.sock", cfg.data_dir);
	if (strcmp(cfg.socket, dflt_socket) == 0 &&
	    snprintf(cfg.socket, sizeof(cfg.socket), "%s/run/berth.sock",
	    resolved) >= (int)sizeof(cfg.socket)) {
		fprintf(stderr, "berth: socket path too long\n");
		return 1;
	}
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", resolved);
	if (body_dir_absolute(&cfg) != 0) {
		fprintf(stderr, "berth: body_dir path too long\n");
		return 1;
	}
	if (optind < argc)
		return cli_main(&cfg, argc - optind, argv + optind);
	if (check) {
		/* For scripts that write the web server's configuration. */
		printf("data_dir=%s\nsocket=%s\nworkers=%d\nbody_dir=%s\n",
		    cfg.data_dir, cfg.socket, cfg.workers, cfg.body_dir);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);	/* a client gone is an error return */
	/* nginx creates only the last component of its temporary path. */
	if (make_dirs(cfg.body_dir) != 0)
		fprintf(stderr, "berth: body directory %s: %s\n", cfg.body_dir,
		    strerror(errno));

	if (getenv("GATEWAY_INTERFACE") != NULL && FCGX_IsCGI())
		return serve_cgi(&cfg);
	if (!FCGX_IsCGI())
		return serve_inherited(&cfg);
	return serve_pool(&cfg);
}
