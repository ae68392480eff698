/* config.c -- the front's settings from the configuration table; see
 * config.h. */
#include "config.h"

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
	return 0;
}
