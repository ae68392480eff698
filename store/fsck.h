/* fsck.h -- check the stored blobs against the metadata and their
 * digests, and the database against itself; optionally repair.  Run by
 * `berth fsck` (cli/cli_fsck.c) while the registry serves.
 *
 * It reads the fs blob handler's layout directly (blobs/<alg>/<xx>/<hex>,
 * blob_fs.c): re-hashing needs the bytes, and a handler that redirects
 * has none here.  With another handler only the database is checked. */
#ifndef BERTH_FSCK_H
#define BERTH_FSCK_H

#include <stdbool.h>

#include <jansson.h>

#include "blob.h"
#include "store.h"
#include "progress.h"

struct fsck_options {
	bool		 repair;
	bool		 files;		/* false: the database checks only */
	struct progress	 progress;	/* phase "hash" in bytes */
};

/* fsck_run -- check store st (open: store_open() first).
 * Problems found, each as {problem, digest or path, detail, repaired,
 * action, referenced_by: ["repo@digest", ...] when manifests reference
 * the blob}:
 *   corrupt  a blob file whose content does not hash to its name, or
 *            whose size is not the recorded one.  Repair: its rows are
 *            removed (it then answers 404) and the file is moved to
 *            <data_dir>/quarantine/<alg>-<hex>.
 *   missing  a blobs row without its file.  Repair: the rows go.
 *   orphan   a blob file without a row (a gc or upload that crashed
 *            midway).  Repair: removed through the blob handler.
 *   stray    a file in blobs/ that is no blob's name.  Never touched.
 *   database a message of PRAGMA integrity_check or foreign_key_check.
 *            Never touched.
 * Every problem is confirmed again under the exclusive blob lock
 * (blob_lock.h) before it is reported, so a gc or upload running
 * meanwhile shows up as nothing.  Fills `report` (caller-owned object):
 * files, blobs (rows), bytes_hashed, problems, unrepaired.  Returns the
 * number of problems not repaired, or -1 on an error that stopped it. */
int fsck_run(struct store *st, const struct fsck_options *o, json_t *report);

#endif
