/* fsck.h -- check the stored blobs against the metadata and their
 * digests, and the database against itself; optionally repair.  Run by
 * `berth fsck` (cli/cli_fsck.c) while the registry serves.
 *
 * It knows no blob layout: the blob handler lists what it stores (blob.h
 * walk) and reads the bytes back (read).  With a handler that cannot
 * walk (redirect: the bytes are elsewhere) only the database is checked;
 * with one that can walk but not read, sizes are compared and digests
 * are not. */
#ifndef BERTH_FSCK_H
#define BERTH_FSCK_H

#include <stdbool.h>

#include <jansson.h>

#include "blob.h"
#include "store.h"
#include "progress.h"

struct fsck_options {
	bool repair;
	bool files;		  /* false: the database checks only (so
					 * too when the handler cannot walk) */
	struct progress progress; /* phase "hash" in bytes */
};

/* fsck_run -- check store st (open: store_open() first).
 * Problems found, each as {problem, digest and/or path (the handler's
 * name for the entry, when the walk told it), detail, repaired, action,
 * referenced_by: ["repo@digest", ...] when manifests reference the
 * blob}:
 *   corrupt  a stored blob whose content does not hash to its name, or
 *            whose size is not the recorded one.  Repair: its rows are
 *            removed (it then answers 404) and the bytes are moved to
 *            <data_dir>/quarantine/<alg>-<hex> (blob_quarantine: needs
 *            the handler's read and del).
 *   missing  a blobs row whose bytes the handler does not have.  Repair:
 *            the rows go.
 *   orphan   a stored blob without a row (a gc or upload that crashed
 *            midway).  Repair: removed through the blob handler.
 *   stray    an entry of the store that names no blob (for fs: a file in
 *            blobs/ that is no blob's name; "path" is the handler's name
 *            for it).  Never touched.
 *   database a message of PRAGMA integrity_check or foreign_key_check.
 *            Never touched.
 *   unlinked a config or layer a manifest references that its repository
 *            holds no link to (pulls of the image fail): checked after
 *            the repairs above, whose removed rows it then names.
 *            Never touched; "action" says what to do.
 *   pub      an entry under <data_dir>/pub that the database does not
 *            back (pub.h: it would be served without a worker).
 *            Repair: removed.
 * Every problem is confirmed again under the exclusive blob lock
 * (blob_lock.h) before it is reported, so a gc or upload running
 * meanwhile shows up as nothing.  Fills `report` (caller-owned object):
 * files, blobs (rows), bytes_hashed, problems, unrepaired, pub_missing
 * and pub_made (pub_fill: manifests and blob links without their file
 * for the web server, not problems; repair makes them).  Returns the
 * number of problems not repaired, or -1 on an error that stopped it. */
int fsck_run(struct store *st, const struct fsck_options *o, json_t *report);

#endif
