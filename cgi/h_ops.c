/* h_ops.c -- the operator's endpoints, outside the registry API:
 *   GET [server] metrics_path (/_berth/metrics): the Prometheus text
 *       exposition (format 0.0.4) of the counter file (store/metrics.h)
 *       that every process of the host counts into, and of what the store
 *       says now (upload sessions in flight, database size);
 *   GET [server] health_path (/_berth/health): 200 when the metadata
 *       store answers a read (meta_stats) and the blob handler answers a
 *       stat, 503 UNAVAILABLE (the OCI error body, from dispatch) when
 *       either does not.
 * Neither needs an access action: the web server passes them to berth
 * from loopback only (nginx/berth.conf, lighttpd/berth.conf,
 * apache/berth.conf).  Rows in routes.c. */
#include "handlers.h"

#include <stdio.h>
#include <stdlib.h>

#include "meta.h"
#include "metrics.h"
#include "observe.h"
#include "store.h"

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* "# HELP" and "# TYPE" of one metric family. */
static void
family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
requests(FILE *f, const struct metrics_file *m)
{
	uint64_t v;

	family(f, "berth_http_requests_total", "counter",
	    "Requests answered, by route, method and status class.");
	for (unsigned rt = 0; rt < METRICS_ROUTES; rt++)
		for (unsigned me = 0; me < METRICS_METHODS; me++)
			for (unsigned c = 0; c < METRICS_CLASSES; c++) {
				v = LOAD(m->requests[rt][me][c]);
				if (v == 0)
					continue;
				fprintf(f,
				    "berth_http_requests_total{route=\"%s\","
				    "method=\"%s\",code=\"%uxx\"} %llu\n",
				    obs_route_name(rt), obs_method_name(me),
				    c + 1, (unsigned long long)v);
			}
}

static void
durations(FILE *f, const struct metrics_file *m)
{
	uint64_t cum, v;

	family(f, "berth_http_request_duration_seconds", "histogram",
	    "Time from a request's arrival at berth to its last byte, by "
	    "route.");
	for (unsigned rt = 0; rt < METRICS_ROUTES; rt++) {
		cum = 0;
		for (unsigned b = 0; b < METRICS_BUCKETS; b++)
			cum += LOAD(m->duration[rt][b]);
		if (cum == 0)
			continue;
		cum = 0;
		for (unsigned b = 0; b < METRICS_BUCKETS; b++) {
			cum += LOAD(m->duration[rt][b]);
			if (b + 1 < METRICS_BUCKETS)
				fprintf(f,
				    "berth_http_request_duration_seconds_"
				    "bucket{route=\"%s\",le=\"%g\"} %llu\n",
				    obs_route_name(rt),
				    (double)metrics_bucket_us[b] / 1e6,
				    (unsigned long long)cum);
			else
				fprintf(f,
				    "berth_http_request_duration_seconds_"
				    "bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
				    obs_route_name(rt),
				    (unsigned long long)cum);
		}
		v = LOAD(m->duration_us[rt]);
		fprintf(f,
		    "berth_http_request_duration_seconds_sum{route=\"%s\"} "
		    "%.6f\n"
		    "berth_http_request_duration_seconds_count{route=\"%s\"} "
		    "%llu\n",
		    obs_route_name(rt), (double)v / 1e6, obs_route_name(rt),
		    (unsigned long long)cum);
	}
}

static void
errors(FILE *f, const struct metrics_file *m)
{
	static const char *const stores[METRICS_STORES] = { "blob",
		"metadata" };
	static const char *const kinds[METRICS_ERRS] = { "io", "full",
		"unavailable" };

	family(f, "berth_storage_errors_total", "counter",
	    "Blob store and metadata errors that reached a request, by "
	    "store and kind.");
	for (unsigned s = 0; s < METRICS_STORES; s++)
		for (unsigned k = 0; k < METRICS_ERRS; k++)
			fprintf(f,
			    "berth_storage_errors_total{store=\"%s\","
			    "kind=\"%s\"} %llu\n",
			    stores[s], kinds[k],
			    (unsigned long long)LOAD(m->errors[s][k]));
}

/* The last run of an operator job, as berth_<job>_* families. */
static void
job(FILE *f, const struct metrics_job *j, const char *name,
    const char *count_name, const char *count_help, const char *count2_name,
    const char *count2_help)
{
	char n[96], h[160];

	snprintf(n, sizeof(n), "berth_%s_runs_total", name);
	snprintf(h, sizeof(h), "Completed runs of berth %s.", name);
	family(f, n, "counter", h);
	fprintf(f, "%s %llu\n", n, (unsigned long long)LOAD(j->runs));
	snprintf(n, sizeof(n), "berth_%s_failures_total", name);
	snprintf(h, sizeof(h), "Runs of berth %s that did not succeed.", name);
	family(f, n, "counter", h);
	fprintf(f, "%s %llu\n", n, (unsigned long long)LOAD(j->failures));
	if (LOAD(j->last_end) == 0)
		return; /* never ran: no "last" to report */
	snprintf(n, sizeof(n), "berth_%s_last_run_timestamp_seconds", name);
	snprintf(h, sizeof(h), "When the last berth %s ended (unix time).",
	    name);
	family(f, n, "gauge", h);
	fprintf(f, "%s %llu\n", n, (unsigned long long)LOAD(j->last_end));
	snprintf(n, sizeof(n), "berth_%s_last_duration_seconds", name);
	snprintf(h, sizeof(h), "How long the last berth %s took.", name);
	family(f, n, "gauge", h);
	fprintf(f, "%s %.3f\n", n, (double)LOAD(j->last_ms) / 1000.0);
	snprintf(n, sizeof(n), "berth_%s_last_success", name);
	snprintf(h, sizeof(h), "1 when the last berth %s succeeded.", name);
	family(f, n, "gauge", h);
	fprintf(f, "%s %llu\n", n, (unsigned long long)LOAD(j->last_ok));
	snprintf(n, sizeof(n), "berth_%s_last_%s", name, count_name);
	family(f, n, "gauge", count_help);
	fprintf(f, "%s %llu\n", n, (unsigned long long)LOAD(j->last_count));
	snprintf(n, sizeof(n), "berth_%s_last_%s", name, count2_name);
	family(f, n, "gauge", count2_help);
	fprintf(f, "%s %llu\n", n, (unsigned long long)LOAD(j->last_count2));
}

enum reg_err
h_metrics(struct req *r)
{
	const struct metrics_file *m = metrics_map();
	struct meta_stats ms;
	enum meta_err me;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (m == NULL) {
		resp_detail(r,
		    "the counter file <data_dir>/run/metrics "
		    "cannot be mapped; see the log");
		return E_UNAVAILABLE;
	}
	if ((f = open_memstream(&text, &len)) == NULL)
		return E_INTERNAL;
	requests(f, m);
	durations(f, m);
	family(f, "berth_http_received_bytes_total", "counter",
	    "Request body bytes berth read (upload bodies handed over as "
	    "files included).");
	fprintf(f, "berth_http_received_bytes_total %llu\n",
	    (unsigned long long)LOAD(m->bytes_received));
	family(f, "berth_http_sent_bytes_total", "counter",
	    "Response body bytes berth wrote (blobs the web server sends "
	    "itself are not counted).");
	fprintf(f, "berth_http_sent_bytes_total %llu\n",
	    (unsigned long long)LOAD(m->bytes_sent));
	family(f, "berth_workers_busy", "gauge",
	    "Processes inside a request now (pool workers and CGI "
	    "processes).");
	fprintf(f, "berth_workers_busy %u\n", metrics_busy_count());
	errors(f, m);
	me = meta_stats(&ms);
	family(f, "berth_metadata_up", "gauge",
	    "1 when the metadata store answered this scrape.");
	fprintf(f, "berth_metadata_up %d\n", me == META_OK ? 1 : 0);
	if (me == META_OK) {
		family(f, "berth_upload_sessions", "gauge",
		    "Upload sessions in flight.");
		fprintf(f, "berth_upload_sessions %llu\n",
		    (unsigned long long)ms.uploads);
	}
	if (me == META_OK && ms.bytes >= 0) {
		family(f, "berth_database_bytes", "gauge",
		    "Size of the metadata database.");
		fprintf(f, "berth_database_bytes %lld\n", (long long)ms.bytes);
	}
	job(f, &m->jobs[METRICS_GC], "gc", "removed_blobs",
	    "Blobs the last berth gc removed.", "reclaimed_bytes",
	    "Bytes the last berth gc reclaimed.");
	job(f, &m->jobs[METRICS_FSCK], "fsck", "problems",
	    "Problems the last berth fsck found.", "checked_blobs",
	    "Blobs the last berth fsck checked.");
	family(f, "berth_metrics_created_timestamp_seconds", "gauge",
	    "When the counter file was created (its counters started).");
	fprintf(f, "berth_metrics_created_timestamp_seconds %llu\n",
	    (unsigned long long)m->created);
	if (fclose(f) != 0) {
		free(text);
		return E_INTERNAL;
	}
	resp_header(r, "Content-Type",
	    "text/plain; version=0.0.4; "
	    "charset=utf-8");
	resp_header(r, "Cache-Control", "no-store");
	resp_send(r, 200, text, len);
	free(text);
	return E_OK;
}

enum reg_err
h_health(struct req *r)
{
	/* The empty blob's digest: a stat every handler can answer without
	 * the blob being there (fs: one stat(2)). */
	static const char probe[] = "sha256:e3b0c44298fc1c149afbf4c8996fb924"
				    "27ae41e4649b934ca495991b7852b855";
	static const char ok[] = "{\"status\":\"ok\",\"metadata\":\"ok\","
				 "\"blobs\":\"ok\"}";
	struct blob_location loc;
	struct meta_stats ms;
	enum blob_err be;
	uint64_t size;

	if (meta_stats(&ms) != META_OK) {
		resp_detail(r, "the metadata store does not answer");
		return E_UNAVAILABLE;
	}
	be = blob_stat(&r->store->blobs, "_berth/health", probe, &size, &loc);
	if (be != BLOB_OK && be != BLOB_NOTFOUND && be != BLOB_REDIRECT &&
	    be != BLOB_NOTSUP) {
		resp_detail(r, "the blob handler does not answer");
		return E_UNAVAILABLE;
	}
	resp_header(r, "Content-Type", "application/json");
	resp_header(r, "Cache-Control", "no-store");
	resp_send(r, 200, ok, sizeof(ok) - 1);
	return E_OK;
}
