/* config.h -- the front's settings: how berth serves, and the
 * registry's policy.
 *
 * Read from the configuration table (base/conf.h) by config_read():
 *   [server]   socket, socket_mode, socket_group, workers, access_log,
 *              metrics_path, health_path
 *   [registry] read_only, delete_enabled
 * The store reads its own sections ([storage], [metadata], [blob.NAME];
 * store/store.h), so nothing here knows a blob handler.  Command-line -s
 * and -w win over the file; -d sets the default of [storage] data_dir
 * (main/main.c).  Read once at start-up; read-only afterwards. */
#ifndef BERTH_CONFIG_H
#define BERTH_CONFIG_H

#include <limits.h>
#include <stdbool.h>

#include "conf.h"

struct config {
	char socket[PATH_MAX]; /* FastCGI unix socket path; ""
						 * until config_read() sets it */
	unsigned socket_mode;  /* permission bits of the socket berth makes */
	long socket_group;     /* its group id; -1: berth's own */
	int workers;	       /* worker processes, 1..256 */
	bool access_log;       /* one line per request on stderr */
	/* The operator's endpoints (cgi/h_ops.c): absolute paths outside
	 * /v2/, "" when turned off ("off" in the file). */
	char metrics_path[256];
	char health_path[256];
	bool read_only;
	bool delete_enabled;
};

/* config_default_workers -- worker processes when none are configured:
 * twice the processors online, at least 2, at most 256.  A worker waits
 * on no client (bodies arrive whole), only on SQLite writes and fsync. */
int config_default_workers(void);

/* config_read -- fill cfg from conf.  The default socket is
 * <data_dir>/run/berth.sock, with data_dir the store's absolute data
 * directory;  Returns 0, or
 * -1 after the getter printed "file:line: [section] key: problem". */
int config_read(struct config *cfg, struct conf *conf, const char *data_dir);

#endif
