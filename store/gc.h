/* gc.h -- online garbage collection: remove the blobs no manifest in any
 * repository references, and optionally the untagged manifests, while
 * the workers go on serving pushes and pulls.  Run by `berth gc`
 * (cli/cli_gc.c); store/gc.c explains why it is safe against a racing
 * push. */
#ifndef BERTH_GC_H
#define BERTH_GC_H

#include <stdbool.h>

#include <jansson.h>

#include "blob.h"
#include "store.h"
#include "progress.h"

struct gc_options {
	long grace;    /* seconds, >= 0: blobs stored or linked,
					 * and manifests pushed, more recently
					 * than this are kept */
	bool dry_run;  /* report what would go; change nothing */
	bool untagged; /* also delete untagged manifests (see
					 * meta_gc_untagged) */
	struct progress progress;
};

/* gc_run -- collect garbage in store st (open), whose blob
 * handler must be able to delete (else -1, nothing done).  Fills `report` (a caller-owned object) with: dry_run,
 * grace (seconds), manifests: [{repository, digest, media_type, size}],
 * blobs: [{digest, size}], manifests_removed, blobs_removed,
 * bytes_reclaimed, orphans: [{digest, size}] (stored blobs with no
 * row, older than the grace window: removed, or with dry_run listed),
 * orphans_removed, orphan_bytes, errors: [strings].  Returns 0, or -1 when it stopped
 * on an error (logged; the report says what was done until then).  A
 * blob whose rows were removed but whose bytes could not be is listed in
 * errors and left for `berth fsck --repair` (an orphan file, invisible). */
int gc_run(struct store *st, const struct gc_options *o, json_t *report);

#endif
