/* config.c -- the front's settings from the configuration table; see
 * config.h. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
config_default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		n = 1;
	return n >= 128 ? 256 : 2 * (int)n;
}

/* An operator endpoint's path, [server] key (default dflt) into buf
 * (cap bytes): an absolute path outside the registry API (/v2 and below
 * belong to the route table's registry endpoints), or "off", which
 * leaves buf "" (the endpoint answers 404). */
static int
ops_path(struct conf *conf, const char *key, const char *dflt, char *buf,
    size_t cap)
{
	if (conf_string(conf, "server", key, dflt, buf, cap) != 0)
		return -1;
	if (strcmp(buf, "off") == 0) {
		buf[0] = '\0';
		return 0;
	}
	if (buf[0] != '/' || strchr(buf, '?') != NULL ||
	    strchr(buf, ' ') != NULL)
		return conf_bad(conf, "server", key,
		    "expected an absolute path without '?' or spaces, or off");
	if (strncmp(buf, "/v2", 3) == 0 && (buf[3] == '\0' || buf[3] == '/'))
		return conf_bad(conf, "server", key,
		    "expected a path outside /v2/, the registry API");
	return 0;
}

/* A unix socket's path must fit sockaddr_un's sun_path with its NUL
 * (108 bytes on Linux); libfcgi would only fail when serving, after -t
 * passed.  0, or -1 after naming [server] socket. */
static int
socket_fits(const struct conf *conf, const char *path)
{
	struct sockaddr_un sun;
	char why[128];

	if (strlen(path) < sizeof(sun.sun_path))
		return 0;
	snprintf(why, sizeof(why),
	    "%zu bytes, longer than a unix socket's path "
	    "(sun_path) allows: at most %zu",
	    strlen(path), sizeof(sun.sun_path) - 1);
	return conf_bad(conf, "server", "socket", why);
}

/* [server] socket_mode (octal permission bits up to 0777 with the
 * owner's rw: the web server connects as the owner, the group or anyone;
 * default 0666) and socket_group (a group name
 * or number; default berth's own).  0, or -1 after naming the key. */
static int
socket_access(struct config *cfg, struct conf *conf)
{
	char mode[16], group[64], gbuf[4096], *end;
	struct group gr, *g = NULL;
	unsigned long m;

	if (conf_string(conf, "server", "socket_mode", "0666", mode,
		sizeof(mode)) != 0 ||
	    conf_string(conf, "server", "socket_group", "", group,
		sizeof(group)) != 0)
		return -1;
	errno = 0;
	m = strtoul(mode, &end, 8);
	if (mode[0] < '0' || mode[0] > '7' || *end != '\0' || errno != 0 ||
	    (m & 0600) != 0600 || m > 0777)
		return conf_bad(conf, "server", "socket_mode",
		    "expected octal permission bits up to 0777 that let "
		    "berth's user read and write, e.g. 0660");
	cfg->socket_mode = (unsigned)m;
	cfg->socket_group = -1;
	if (group[0] == '\0')
		return 0;
	if (getgrnam_r(group, &gr, gbuf, sizeof(gbuf), &g) != 0)
		g = NULL;
	if (g == NULL && group[strspn(group, "0123456789")] == '\0') {
		errno = 0;
		m = strtoul(group, &end, 10);
		if (errno == 0 && m < 0x7fffffff)
			cfg->socket_group = (long)m;
	} else if (g != NULL) {
		cfg->socket_group = (long)g->gr_gid;
	}
	if (cfg->socket_group < 0)
		return conf_bad(conf, "server", "socket_group",
		    "expected the name or number of a group on this host");
	return 0;
}

int
config_read(struct config *cfg, struct conf *conf, const char *data_dir)
{
	char dflt[PATH_MAX];
	long workers;

	memset(cfg, 0, sizeof(*cfg));
	if (snprintf(dflt, sizeof(dflt), "%s/run/berth.sock", data_dir) >=
	    (int)sizeof(dflt)) {
		fprintf(stderr, "berth: socket path too long\n");
		return -1;
	}
	if (conf_string(conf, "server", "socket", dflt, cfg->socket,
		sizeof(cfg->socket)) != 0 ||
	    conf_long(conf, "server", "workers", config_default_workers(), 1,
		256, &workers) != 0 ||
	    conf_bool(conf, "registry", "read_only", false, &cfg->read_only) !=
		0 ||
	    conf_bool(conf, "registry", "delete_enabled", true,
		&cfg->delete_enabled) != 0)
		return -1;
	cfg->workers = (int)workers;
	if (socket_fits(conf, cfg->socket) != 0 ||
	    socket_access(cfg, conf) != 0)
		return -1;
	if (conf_bool(conf, "server", "access_log", true, &cfg->access_log) !=
		0 ||
	    ops_path(conf, "metrics_path", "/_berth/metrics", cfg->metrics_path,
		sizeof(cfg->metrics_path)) != 0 ||
	    ops_path(conf, "health_path", "/_berth/health", cfg->health_path,
		sizeof(cfg->health_path)) != 0)
		return -1;
	if (cfg->metrics_path[0] != '\0' &&
	    strcmp(cfg->metrics_path, cfg->health_path) == 0)
		return conf_bad(conf, "server", "health_path",
		    "expected a path other than metrics_path");
	return 0;
}
