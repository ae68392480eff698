/* server.h -- the ways berth serves requests. */
#ifndef BERTH_SERVER_H
#define BERTH_SERVER_H

#include "config.h"
#include "store.h"

/* serve_pool -- FastCGI on cfg->socket with cfg->workers processes; the
 * parent restarts any worker that dies and stops them all on SIGTERM or
 * SIGINT.  Returns the exit status. */
int serve_pool(const struct config *cfg, struct store *st);

/* serve_inherited -- FastCGI on a listening socket inherited as fd 0
 * (a web server spawned us: lighttpd, mod_fcgid, spawn-fcgi). */
int serve_inherited(const struct config *cfg, struct store *st);

/* serve_cgi -- answer the one request of a plain CGI invocation
 * (RFC 3875): parameters from the environment, body on stdin. */
int serve_cgi(const struct config *cfg, struct store *st);

#endif
