/* cli_metrics.c -- the operator jobs' last runs, written into the
 * counter file the workers count into (store/metrics.h), so that a
 * scrape of the metrics shows when gc and fsck last ran, for how long,
 * and what they found.  Called by cli_gc.c and cli_fsck.c. */
#include "cli.h"

#include <time.h>

uint64_t
cli_job_start(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
cli_job_done(struct cli *c, enum metrics_job_kind job, uint64_t start, bool ok,
    uint64_t count, uint64_t count2)
{
	/* Best effort: a data directory without a writable run/ leaves
	 * the job unrecorded (metrics_open() says so once). */
	if (metrics_open(c->store->data_dir) != 0)
		return;
	metrics_job_done(job, (uint64_t)time(NULL), cli_job_start() - start, ok,
	    count, count2);
}
