/* outbox.c -- event notifications: [notify] settings, Distribution's
 * envelope, the HMAC signature and the delivery loop; see outbox.h.
 * Relies on the metadata seam's outbox operations (meta.h, "Events"),
 * jansson for the JSON, OpenSSL's EVP_MAC for the signature and
 * outbox_http.c (libcurl) for the POSTs.  Called by cgi/server.c (the pool's deliverer child)
 * and cli/cli_notify.c (`berth notify run|status`). */
#include "outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "meta.h"

/* --- Settings ---------------------------------------------------------- */

/* Read the secret file into oc; 0, or -1 after reporting. */
static int
read_secret(struct outbox_conf *oc, struct conf *conf, const char *path)
{
	ssize_t n;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return conf_bad(conf, "notify", "secret_file", strerror(errno));
	while (len < sizeof(oc->secret) &&
	    (n = read(fd, oc->secret + len, sizeof(oc->secret) - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (len == sizeof(oc->secret))
		return conf_bad(conf, "notify", "secret_file",
		    "longer than 1023 bytes");
	while (len > 0 &&
	    (oc->secret[len - 1] == '\n' || oc->secret[len - 1] == '\r'))
		len--;
	if (len == 0)
		return conf_bad(conf, "notify", "secret_file", "empty");
	oc->secret_len = len;
	return 0;
}

int
outbox_configure(struct outbox_conf *oc, struct conf *conf)
{
	const char *v, *file;

	memset(oc, 0, sizeof(*oc));
	for (size_t i = 0; (v = conf_get_nth(conf, "notify", "url", i)) != NULL;
	     i++) {
		if (i == OUTBOX_URLS_MAX)
			return conf_bad(conf, "notify", "url",
			    "at most 8 receivers");
		if ((strncmp(v, "http://", 7) != 0 &&
			strncmp(v, "https://", 8) != 0) ||
		    strlen(v) >= OUTBOX_URL_MAX ||
		    strpbrk(v, " \t\r\n") != NULL) {
			/* Named by value: conf_bad() would show the last url. */
			fprintf(stderr,
			    "berth: %s: [notify] url: bad value \"%.100s\": "
			    "an http:// or https:// URL (no spaces, under "
			    "1024 bytes)\n",
			    conf_path(conf), v);
			return -1;
		}
		snprintf(oc->urls[i], OUTBOX_URL_MAX, "%s", v);
		oc->nurls = i + 1;
	}
	if (conf_duration(conf, "notify", "timeout", 5, &oc->timeout) != 0 ||
	    conf_duration(conf, "notify", "backoff_max", 300,
		&oc->backoff_max) != 0 ||
	    conf_long(conf, "notify", "batch", 50, 1, 1000, &oc->batch) != 0)
		return -1;
	file = conf_get(conf, "notify", "secret_file");
	if (file != NULL && read_secret(oc, conf, file) != 0)
		return -1;
	return 0;
}

json_t *
outbox_urls(const struct outbox_conf *oc)
{
	json_t *a = json_array();

	for (size_t i = 0; a != NULL && i < oc->nurls; i++)
		json_array_append_new(a, json_string(oc->urls[i]));
	return a;
}

/* --- The envelope ------------------------------------------------------ */

/* Copy row[key] into o[as] when it is not null. */
static void
copy(json_t *o, const char *as, const json_t *row, const char *key)
{
	json_t *v = json_object_get(row, key);

	if (v != NULL && !json_is_null(v))
		json_object_set(o, as, v);
}

/* One event of Distribution's envelope from one outbox row. */
static json_t *
event(const json_t *row, const char *host, const char *instance)
{
	const char *action = json_string_value(json_object_get(row, "action"));
	const char *base = json_string_value(json_object_get(row, "base_url"));
	const char *repo = json_string_value(
	    json_object_get(row, "repository"));
	const char *digest = json_string_value(json_object_get(row, "digest"));
	const char *req = json_string_value(json_object_get(row, "request"));
	const char *actor = json_string_value(json_object_get(row, "actor"));
	bool blob = action != NULL && strcmp(action, "mount") == 0;
	json_t *e = json_object(), *t = json_object(), *r = NULL;
	char ts[32], url[4096];
	struct tm tm;
	time_t at = (time_t)json_integer_value(json_object_get(row, "at"));

	gmtime_r(&at, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	copy(e, "id", row, "id");
	json_object_set_new(e, "timestamp", json_string(ts));
	copy(e, "action", row, "action");
	if (blob)
		json_object_set_new(t, "mediaType",
		    json_string("application/octet-stream"));
	else
		copy(t, "mediaType", row, "media_type");
	copy(t, "size", row, "size");
	copy(t, "digest", row, "digest");
	copy(t, "length", row, "size");
	copy(t, "repository", row, "repository");
	copy(t, "fromRepository", row, "from_repository");
	if (base != NULL && repo != NULL && digest != NULL &&
	    snprintf(url, sizeof(url), "%s/v2/%s/%s/%s", base, repo,
		blob ? "blobs" : "manifests", digest) < (int)sizeof(url))
		json_object_set_new(t, "url", json_string(url));
	copy(t, "tag", row, "tag");
	json_object_set_new(e, "target", t);
	if (req != NULL)
		r = json_loads(req, 0, NULL);
	json_object_set_new(e, "request", r != NULL ? r : json_object());
	r = json_object();
	if (actor != NULL)
		json_object_set_new(r, "name", json_string(actor));
	json_object_set_new(e, "actor", r);
	r = json_object();
	json_object_set_new(r, "addr", json_string(host));
	json_object_set_new(r, "instanceID", json_string(instance));
	json_object_set_new(e, "source", r);
	return e;
}

json_t *
outbox_envelope(const json_t *rows, const char *host, const char *instance)
{
	json_t *env = json_object(), *events = json_array(), *row;
	size_t i;

	if (env == NULL || events == NULL) {
		json_decref(env);
		json_decref(events);
		return NULL;
	}
	json_array_foreach(rows, i, row)
		json_array_append_new(events, event(row, host, instance));
	json_object_set_new(env, "events", events);
	return env;
}

int
outbox_sign(const struct outbox_conf *oc, const char *body, size_t len,
    char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t outl = 0;
	int rc = -1;

	if (oc->secret_len == 0)
		return -1;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (ctx = EVP_MAC_CTX_new(mac)) == NULL ||
	    EVP_MAC_init(ctx, oc->secret, oc->secret_len, params) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)body, len) != 1 ||
	    EVP_MAC_final(ctx, md, &outl, sizeof(md)) != 1 || outl != 32)
		goto out;
	snprintf(out, 8, "sha256=");
	for (size_t i = 0; i < outl; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
	rc = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

/* --- Delivery ---------------------------------------------------------- */

static volatile sig_atomic_t stop_asked;

static void
on_stop(int sig)
{
	(void)sig;
	stop_asked = 1;
}

/* A build without outbox_http.c (make static leaves libcurl out) gets
 * this stand-in: every delivery fails, and says why. */
__attribute__((weak)) int
outbox_post(const struct outbox_conf *oc, const char *url, const char *body,
    char *err, size_t cap)
{
	(void)oc;
	(void)url;
	(void)body;
	snprintf(err, cap, "this build has no HTTP client (libcurl)");
	return -1;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Where one receiver stands in this process. */
struct receiver {
	long long next_try; /* ms (monotonic) */
	long delay;	    /* s: the wait after the next failure's half */
	bool failing;	    /* the last attempt failed (logged) */
};

/* One attempt for receiver i: 1 when it took a full batch (more may
 * wait), 0 when it is idle or failed, -1 when the store failed. */
static int
deliver_one(const struct outbox_conf *oc, size_t i, struct receiver *rv,
    const char *host, const char *instance, bool *acked)
{
	const char *url = oc->urls[i];
	json_t *rows = json_array(), *env = NULL;
	char *body = NULL, err[256];
	int64_t last;
	int rc = 0;

	if (meta_outbox_next(url, (size_t)oc->batch, rows) != META_OK) {
		rc = -1;
		goto out;
	}
	if (json_array_size(rows) == 0)
		goto out;
	last = json_integer_value(
	    json_object_get(json_array_get(rows, json_array_size(rows) - 1),
		"seq"));
	env = outbox_envelope(rows, host, instance);
	body = env != NULL ? json_dumps(env, JSON_COMPACT) : NULL;
	if (body == NULL) {
		rc = -1;
		goto out;
	}
	if (outbox_post(oc, url, body, err, sizeof(err)) == 0) {
		if (meta_outbox_mark(url, last, NULL) != META_OK) {
			rc = -1;
			goto out;
		}
		if (rv->failing)
			fprintf(stderr,
			    "berth: notify: %s answers again; delivering "
			    "what it missed\n",
			    url);
		rv->failing = false;
		rv->delay = 0;
		*acked = true;
		rc = json_array_size(rows) == (size_t)oc->batch;
		goto out;
	}
	rv->delay = rv->delay == 0	    ? 1 :
	    rv->delay * 2 > oc->backoff_max ? oc->backoff_max :
					      rv->delay * 2;
	rv->next_try = now_ms() + rv->delay * 1000LL;
	rv->failing = true;
	fprintf(stderr,
	    "berth: notify: %s: %s; %zu events wait, next try in %ld s\n", url,
	    err, json_array_size(rows), rv->delay);
	meta_outbox_mark(url, 0, err);
out:
	free(body);
	json_decref(env);
	json_decref(rows);
	return rc;
}

int
outbox_run(const struct outbox_conf *oc)
{
	struct receiver rv[OUTBOX_URLS_MAX];
	struct meta_event_ctx id;
	struct sigaction sa, old;
	sigset_t set;
	char host[256];
	json_t *urls;
	bool busy, acked, store_failed;
	int64_t gone;
	int r;

	if (oc->nurls == 0) {
		fprintf(stderr, "berth: notify: no [notify] url configured\n");
		return 1;
	}
	memset(rv, 0, sizeof(rv));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop; /* no SA_RESTART: a sleep ends at once */
	sigaction(SIGTERM, &sa, NULL);
	/* Ctrl-C stops `berth notify run`; the pool's child ignores it (the
	 * pool decides). */
	sigaction(SIGINT, NULL, &old);
	if (old.sa_handler != SIG_IGN)
		sigaction(SIGINT, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (meta_event_context(&id) != 0 || (urls = outbox_urls(oc)) == NULL)
		return 1;
	fprintf(stderr,
	    "berth: notify: process %d delivers events to %zu receivers\n",
	    (int)getpid(), oc->nurls);
	while (!stop_asked) {
		busy = acked = store_failed = false;
		for (size_t i = 0; i < oc->nurls && !stop_asked; i++) {
			if (rv[i].next_try > now_ms())
				continue;
			r = deliver_one(oc, i, &rv[i], host, id.id, &acked);
			busy = busy || r == 1;
			store_failed = store_failed || r < 0;
		}
		if (acked && meta_outbox_prune(urls, &gone) != META_OK)
			fprintf(stderr, "berth: notify: pruning failed\n");
		/* A signal ends the sleep early.  The store failing (logged by
		 * the backend): wait longer, not to log every second. */
		if (!busy && !stop_asked)
			sleep(store_failed ? 5 : 1);
	}
	json_decref(urls);
	fprintf(stderr, "berth: notify: stopped\n");
	return 0;
}
