/* outbox.h -- event notifications: the [notify] settings, the envelope
 * receivers get, and the deliverer that posts the outbox to them.
 *
 * The events themselves are rows the metadata backend writes in the
 * transaction of each change while [notify] url is set (meta.h,
 * "Events"); this module only reads them back through meta_outbox_*().
 * The deliverer is one process per registry host: the pool starts it as
 * a child (cgi/server.c) and `berth notify run` runs the same loop in
 * the foreground.  Two of them at once are harmless (a receiver may get
 * an event twice, which at-least-once delivery allows: receivers dedupe
 * on the event id).
 *
 * Settings, [notify]:
 *   url          a receiver, http:// or https://; the key may repeat (at
 *                most OUTBOX_URLS_MAX).  None: events are off and nothing
 *                is written (no cost on the request path).
 *   secret_file  a file whose contents (a trailing newline dropped) key
 *                an HMAC-SHA256 of each body, sent as
 *                X-Berth-Signature: sha256=<hex>.  Optional.
 *   timeout      seconds one POST may take (5)
 *   backoff_max  the longest wait between attempts to a failing
 *                receiver (5m); waits double from 1 s up to it
 *   batch        events per POST, at most (50)
 *
 * The envelope is Distribution's (docs "Work with notifications"), with
 * Content-Type application/vnd.docker.distribution.events.v1+json:
 *   {"events": [{"id", "timestamp", "action": "push"|"delete"|"mount",
 *     "target": {"mediaType", "size", "digest", "length", "repository",
 *                "url", "tag", "fromRepository"},
 *     "request": {"id", "addr", "host", "method", "useragent"},
 *     "actor": {"name"}, "source": {"addr", "instanceID"}}]}
 * Each receiver has its own cursor: one that is down does not hold the
 * others back, and gets everything it missed, in order, once it answers
 * 2xx again. */
#ifndef BERTH_OUTBOX_H
#define BERTH_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "conf.h"

#define OUTBOX_URLS_MAX	  8
#define OUTBOX_URL_MAX	  1024 /* bytes of one url, with the NUL */
#define OUTBOX_SECRET_MAX 1024 /* bytes of the secret */
#define OUTBOX_MEDIA_TYPE "application/vnd.docker.distribution.events.v1+json"

struct outbox_conf {
	size_t nurls; /* 0: events off */
	char urls[OUTBOX_URLS_MAX][OUTBOX_URL_MAX];
	unsigned char secret[OUTBOX_SECRET_MAX];
	size_t secret_len; /* 0: no signature */
	long timeout;	   /* seconds per POST */
	long backoff_max;  /* seconds */
	long batch;	   /* events per POST */
};

/* outbox_configure -- read [notify] from conf into oc (the secret file
 * is read now).  0, or -1 after reporting the bad key. */
int outbox_configure(struct outbox_conf *oc, struct conf *conf);

/* outbox_urls -- oc's urls as a new jansson array (caller decrefs). */
json_t *outbox_urls(const struct outbox_conf *oc);

/* outbox_envelope -- the envelope of the outbox rows `rows` (as
 * meta_outbox_next() gives them) from the registry instance `instance`
 * (its source.instanceID) on host `host` (source.addr).  A new object
 * the caller decrefs; NULL when out of memory. */
json_t *outbox_envelope(const json_t *rows, const char *host,
    const char *instance);

/* outbox_sign -- "sha256=" and the hex HMAC-SHA256 of body (len bytes)
 * under oc's secret into out (80 bytes).  0, or -1 (no secret, or
 * OpenSSL failed). */
int outbox_sign(const struct outbox_conf *oc, const char *body, size_t len,
    char *out);

/* outbox_post -- POST body (a NUL-terminated envelope) to url with
 * OUTBOX_MEDIA_TYPE, signed when oc has a secret, within oc->timeout
 * seconds, following no redirect; http and https only.  0 on a 2xx
 * answer, else -1 with why in err (cap bytes): "HTTP 503", or libcurl's
 * words.  outbox_http.c. */
int outbox_post(const struct outbox_conf *oc, const char *url, const char *body,
    char *err, size_t cap);

/* outbox_run -- deliver until SIGTERM or SIGINT: every second (at once
 * while a receiver has more), post each receiver its unacknowledged
 * events, move its cursor on 2xx, back off on anything else, and delete
 * the events every receiver has.  The metadata must be open (meta.h).
 * Returns the exit status: 0 after a stop, 1 when it cannot start. */
int outbox_run(const struct outbox_conf *oc);

#endif
