/* config.h -- berth's configuration: an INI file read with libinih.
 *
 * The file is named by -c FILE or BERTH_CONFIG.  Every key has a default
 * good enough for `make run`, so no file is needed.  Command-line -d and
 * -s set the defaults of data_dir and socket; a value in the file wins.
 * Keys (README.md documents each):
 *   [server]   socket, workers
 *   [storage]  data_dir, body_dir, blob_handler, offload, redirect_url
 *   [registry] read_only, delete_enabled, upload_expiry
 * An unknown key or a bad value stops start-up with a message naming the
 * file, line and key.  Read once by main(); read-only afterwards. */
#ifndef BERTH_CONFIG_H
#define BERTH_CONFIG_H

#include <limits.h>
#include <stdbool.h>

enum offload {
	OFFLOAD_X_ACCEL,	/* nginx: X-Accel-Redirect to an internal location */
	OFFLOAD_X_SENDFILE,	/* lighttpd, Apache mod_xsendfile: X-Sendfile */
	OFFLOAD_STREAM		/* the worker sends the bytes itself */
};

struct config {
	char		 socket[PATH_MAX];	/* FastCGI unix socket path */
	int		 workers;		/* worker processes, 1..256 */
	char		 data_dir[PATH_MAX];	/* holds berth.db, blobs/, uploads/ */
	/* Where the web server puts request bodies it hands over by name
	 * (spool.h); "" until main() makes it <data_dir>/uploads/body. */
	char		 body_dir[PATH_MAX];
	char		 blob_handler[32];	/* "fs" */
	enum offload	 offload;
	char		 redirect_url[1024];	/* base URL for the redirect handler */
	bool		 read_only;
	bool		 delete_enabled;
	long		 upload_expiry;		/* seconds */
	char		 accel_prefix[256];	/* internal nginx location of blobs/ */
};

/* config_load -- fill cfg with defaults, then the defaults given
 * (data_dir and socket may be NULL), then the file at path (may be NULL:
 * no file).  Returns 0, or -1 after printing "file:line: key: problem" to
 * stderr. */
int config_load(struct config *cfg, const char *path, const char *data_dir,
    const char *socket);

/* config_default_workers -- worker processes when none are configured:
 * twice the processors online, at least 2, at most 256.  A worker waits
 * on no client (bodies arrive whole), only on SQLite writes and fsync. */
int config_default_workers(void);

/* parse_duration -- "90", "90s", "15m", "24h", "7d" to seconds (> 0).
 * Returns false on anything else. */
bool parse_duration(const char *s, long *seconds);

#endif
