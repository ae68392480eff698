/* progress.h -- how a long store operation (gc, fsck) reports how far it
 * got, without knowing whether anyone watches: the command line passes a
 * callback that draws a bar on a terminal (cli/cli.c); NULL means quiet.
 * `done` and `total` are in the phase's own unit (blobs or bytes). */
#ifndef BERTH_PROGRESS_H
#define BERTH_PROGRESS_H

#include <stdint.h>

struct progress {
	void (*fn)(void *ctx, const char *phase, uint64_t done, uint64_t total);
	void *ctx;
};

static inline void
progress_report(const struct progress *p, const char *phase, uint64_t done,
    uint64_t total)
{
	if (p != NULL && p->fn != NULL)
		p->fn(p->ctx, phase, done, total);
}

#endif
