/* server.h -- the ways berth serves requests.  Each is called by main.c
 * with st open (store_open(), which migrated the schema): the pool closes
 * it and every worker opens its own after fork; the other two serve on
 * it. */
#ifndef BERTH_SERVER_H
#define BERTH_SERVER_H

#include "config.h"
#include "store.h"

/* serve_pool -- FastCGI on cfg->socket with cfg->workers processes.  The
 * parent logs each worker death with its cause and starts another (with
 * a back-off while they die young); SIGTERM or SIGINT stops the pool once
 * the requests in flight are answered (at most BERTH_DRAIN_SECONDS, 30);
 * SIGHUP or SIGUSR2 restarts it: the binary is executed again, keeping
 * the pid and the listening socket, and the old workers drain.  Returns
 * the exit status. */
int serve_pool(const struct config *cfg, struct store *st);

/* serve_inherited -- FastCGI on a listening socket inherited as fd 0
 * (a web server spawned us: lighttpd, mod_fcgid, spawn-fcgi). */
int serve_inherited(const struct config *cfg, struct store *st);

/* serve_cgi -- answer the one request of a plain CGI invocation
 * (RFC 3875): parameters from the environment, body on stdin. */
int serve_cgi(const struct config *cfg, struct store *st);

#endif
