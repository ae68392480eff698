/* metrics.h -- the counter file: the registry's metrics, shared by every
 * process of a host.
 *
 * The workers of a pool, the CGI processes of a shared host and the
 * operator commands all count into one small file,
 * <data_dir>/run/metrics, mapped MAP_SHARED by each process.  Its layout
 * is the fixed struct metrics_file below, opened by a header (magic,
 * METRICS_VERSION, size); every field is a 64-bit counter or gauge
 * updated with __atomic_fetch_add() or __atomic_store_n() and read with
 * __atomic_load_n(): no locks on the hot path, and a process that dies
 * leaves nothing half-held.  A scrape (cgi/h_ops.c) reads the fields one
 * by one, so two fields may come from slightly different instants; each
 * field is right on its own.
 *
 * The file is created on first use, whole: a temporary file with its
 * header written is linked into place, so no process ever maps a file
 * without one.  A file of another layout (a berth of another version) is
 * replaced the same way; processes that still map the old one count into
 * it until they restart.  Counters start at zero with the file and go on
 * across restarts of the pool; removing the file resets them (Prometheus
 * copes with counter resets).
 *
 * The layer knows no route or method: the front (cgi/) passes small
 * indexes, below METRICS_ROUTES and METRICS_METHODS, and names them when
 * it renders the exposition.  Metrics are best effort: when the file
 * cannot be mapped (read-only data directory) metrics_open() says why
 * once and every update is a no-op; nothing a client sees changes. */
#ifndef BERTH_METRICS_H
#define BERTH_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#define METRICS_MAGIC	"berthmtr"
#define METRICS_VERSION 1
#define METRICS_ROUTES	32  /* route indexes; 0 is "no route" */
#define METRICS_METHODS 8   /* method indexes (cgi/h_ops.c names them) */
#define METRICS_CLASSES 5   /* 1xx .. 5xx */
#define METRICS_BUCKETS 13  /* duration buckets, the last +Inf */
#define METRICS_SLOTS	512 /* processes in a request at once */

/* The upper bounds of the duration buckets, in microseconds (the last,
 * +Inf, has none): 1 ms .. 10 s. */
extern const uint64_t metrics_bucket_us[METRICS_BUCKETS - 1];

/* Where a storage error came from, and what it was. */
enum metrics_store {
	METRICS_BLOB = 0, /* the blob handler (and upload staging) */
	METRICS_META,	  /* the metadata backend */
	METRICS_STORES
};

enum metrics_err {
	METRICS_ERR_IO = 0,	 /* failed: BLOB_IO, META_ERR, UP_IO */
	METRICS_ERR_FULL,	 /* no space */
	METRICS_ERR_UNAVAILABLE, /* cannot be reached */
	METRICS_ERRS
};

/* The operator's jobs whose last run is recorded. */
enum metrics_job_kind {
	METRICS_GC = 0, /* berth gc (not --dry-run) */
	METRICS_FSCK,	/* berth fsck */
	METRICS_JOBS
};

struct metrics_job {
	uint64_t runs;	      /* completed runs */
	uint64_t failures;    /* runs that failed or found problems */
	uint64_t last_end;    /* unix seconds the last run ended; 0 never */
	uint64_t last_ms;     /* its duration, milliseconds */
	uint64_t last_ok;     /* 1: it succeeded (fsck: found nothing) */
	uint64_t last_count;  /* gc: blobs removed; fsck: problems found */
	uint64_t last_count2; /* gc: bytes reclaimed; fsck: blobs checked */
};

/* The file.  Only ever appended to within a version; a change of layout
 * is a new METRICS_VERSION. */
struct metrics_file {
	char magic[8];	  /* METRICS_MAGIC, not NUL-terminated */
	uint32_t version; /* METRICS_VERSION */
	uint32_t size;	  /* sizeof(struct metrics_file) */
	uint64_t created; /* unix seconds */
	/* Requests answered, by route, method and status class. */
	uint64_t requests[METRICS_ROUTES][METRICS_METHODS][METRICS_CLASSES];
	/* Request durations by route: per bucket (not cumulative) and the
	 * sum in microseconds. */
	uint64_t duration[METRICS_ROUTES][METRICS_BUCKETS];
	uint64_t duration_us[METRICS_ROUTES];
	uint64_t bytes_received; /* request body bytes berth read */
	uint64_t bytes_sent;	 /* response body bytes berth wrote */
	uint64_t errors[METRICS_STORES][METRICS_ERRS];
	struct metrics_job jobs[METRICS_JOBS];
	/* The pid of each process inside a request, 0 for a free slot. */
	int64_t busy[METRICS_SLOTS];
};

/* metrics_open -- map <data_dir>/run/metrics (creating run/ and the
 * file if needed) for this process; idempotent for one data directory.
 * Returns 0, or -1 after logging why once: the process then counts
 * nothing.  After fork a child may keep the parent's mapping. */
int metrics_open(const char *data_dir);

/* metrics_close -- unmap.  Idempotent. */
void metrics_close(void);

/* metrics_map -- the mapped file for reading (with __atomic_load_n), or
 * NULL when metrics_open() did not succeed. */
const struct metrics_file *metrics_map(void);

/* metrics_request -- count one answered request: route and method
 * indexes (clamped to 0 and the last method when out of range), the HTTP
 * status (its class; anything outside 100..599 counts as 5xx), its
 * duration in microseconds, body bytes received and sent. */
void metrics_request(unsigned route, unsigned method, int status, uint64_t us,
    uint64_t received, uint64_t sent);

/* metrics_busy_enter -- mark this process as inside a request; the slot
 * to give back, or -1 when none is free (not counted then). */
int metrics_busy_enter(void);

/* metrics_busy_leave -- give slot back (-1: nothing). */
void metrics_busy_leave(int slot);

/* metrics_busy_count -- processes inside a request now.  A slot whose
 * process is gone (killed in a request) is freed here and not counted. */
unsigned metrics_busy_count(void);

/* metrics_store_error -- count one storage error that reached the
 * front. */
void metrics_store_error(enum metrics_store where, enum metrics_err what);

/* metrics_job_done -- record a finished run of an operator job: when it
 * ended (unix seconds), how long it took (ms), whether it succeeded, and
 * its two counts (see struct metrics_job). */
void metrics_job_done(enum metrics_job_kind job, uint64_t end, uint64_t ms,
    bool ok, uint64_t count, uint64_t count2);

#endif
