/* observe.c -- the access log and the request counters; see observe.h.
 * Called by server.c around every request, and by h_ops.c for names. */
#include "observe.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "metrics.h"
#include "store.h"

/* The token endpoint is no route of the table (auth.c answers it at
 * [auth] token_path): it counts and logs under the last index. */
#define ROUTE_TOKEN (METRICS_ROUTES - 1)

static const char *const method_names[METRICS_METHODS] = { "GET", "HEAD", "PUT",
	"POST", "PATCH", "DELETE", "OTHER", "OTHER" };

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

unsigned
obs_route_index(const struct route *rt)
{
	const struct route *t;
	size_t n;

	if (rt == NULL)
		return 0;
	t = route_table(&n);
	if (rt < t || rt >= t + n || (size_t)(rt - t) + 1 >= ROUTE_TOKEN)
		return 0;
	return (unsigned)(rt - t) + 1;
}

const char *
obs_route_name(unsigned index)
{
	const struct route *t;
	size_t n;

	t = route_table(&n);
	if (index == ROUTE_TOKEN)
		return "token";
	return index == 0 || index > n ? "none" : t[index - 1].name;
}

const char *
obs_method_name(unsigned index)
{
	return index < METRICS_METHODS ? method_names[index] : "OTHER";
}

/* The index of an enum http_method bit: its bit number. */
static unsigned
method_index(unsigned bit)
{
	unsigned i = 0;

	while (bit > 1 && i < METRICS_METHODS - 1) {
		bit >>= 1;
		i++;
	}
	return i;
}

/* s, with anything but visible ASCII (and '%') as %XX, into out (cap
 * bytes; cut short when it does not fit). */
static void
log_safe(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0' && o + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c >= 0x7f || c == '%') {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

void
obs_begin(struct obs *o)
{
	o->start_ns = now_ns();
	auth_forget();
	o->slot = metrics_busy_enter();
}

void
obs_end(struct obs *o, const struct req *r)
{
	static char raw[2 * PATH_MAX_LEN], path[3 * sizeof(raw)];
	char method[24];
	uint64_t us = (now_ns() - o->start_ns) / 1000;
	unsigned route = obs_route_index(r->route);
	int status = r->status != 0 ? r->status : 500;

	/* A body the web server handed over as a file may be linked into
	 * place unread: its size is what was received. */
	uint64_t received = r->spool.size > r->body_read ? r->spool.size :
							   r->body_read;

	if (r->route == NULL && r->store != NULL && r->store->auth.enabled &&
	    strcmp(r->path, r->store->auth.token_path) == 0)
		route = ROUTE_TOKEN;
	metrics_request(route, method_index(r->method_bit), status, us,
	    received, r->bytes_sent);
	metrics_busy_leave(o->slot);
	o->slot = -1;
	if (!r->cfg->access_log)
		return;
	snprintf(raw, sizeof(raw), "%s%s", r->prefix, r->path);
	log_safe(raw, path, sizeof(path));
	log_safe(r->method != NULL ? r->method : "-", method, sizeof(method));
	fprintf(stderr,
	    "berth: access %s %s %d %llu %llu.%02llums route=%s user=%s\n",
	    method, path, status, (unsigned long long)r->bytes_sent,
	    (unsigned long long)(us / 1000),
	    (unsigned long long)(us % 1000 / 10), obs_route_name(route),
	    auth_who());
}
