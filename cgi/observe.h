/* observe.h -- what the front records of each request: the access log
 * line and the shared counters (store/metrics.h).
 *
 * server.c calls obs_begin() before it reads a request and obs_end()
 * once dispatch() has answered it, in every transport (a pool worker, an
 * inherited socket, a CGI process).  The access log is one line on
 * stderr per request, on unless [server] access_log = false:
 *
 *   berth: access GET /v2/library/debian/manifests/12 200 1234 0.42ms
 *   route=manifest-get user=-
 *
 * (one line): method, path (from the client's URI, prefix included,
 * percent-decoded, anything but visible ASCII written %XX; no query
 * string), status, response body bytes berth wrote (a blob sent by the
 * web server through X-Accel-Redirect or X-Sendfile counts 0 here; the
 * web server's own log has its bytes), duration in milliseconds from the
 * request's arrival at berth to its last byte, the route table's name for
 * the row (or "none"), and the user, "-" until access control exists. */
#ifndef BERTH_OBSERVE_H
#define BERTH_OBSERVE_H

#include <stdint.h>

#include "request.h"

/* A request under way: when it began and its busy slot. */
struct obs {
	uint64_t start_ns; /* CLOCK_MONOTONIC */
	int slot;	   /* metrics_busy_enter(), or -1 */
};

/* obs_begin -- a request arrives: note the time, count this process
 * busy. */
void obs_begin(struct obs *o);

/* obs_end -- r has been answered: count it (route, method, status class,
 * duration, bytes) and write its access log line when cfg says so; this
 * process is no longer busy. */
void obs_end(struct obs *o, const struct req *r);

/* obs_route_index -- the counter file's index of route row rt (NULL: 0,
 * "none"); obs_route_name() its label. */
unsigned obs_route_index(const struct route *rt);
const char *obs_route_name(unsigned index);

/* obs_method_name -- the label of a method index (metrics.h). */
const char *obs_method_name(unsigned index);

#endif
