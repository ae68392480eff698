/* blob_lock.h -- the data directory's blob lock: keeps blob bytes and
 * blob rows in step while garbage collection deletes both.
 *
 * A blob becomes visible in two steps: the blob handler puts the bytes
 * (blob.h put: rename into place, or "already there"), then
 * meta_blob_commit() writes the blobs and blob_links rows.  Deleting goes
 * the other way: rows first, then bytes.  Between a writer's two steps a
 * deleter must not run, or the writer could find the bytes "already
 * there", the deleter remove them, and the writer's rows then point at
 * nothing.  So writers hold this lock shared from put to commit (many at
 * once), and deleters (`berth gc`, `berth fsck --repair`) hold it
 * exclusive from their transaction to the last unlink.  See store/gc.c
 * for the whole argument.
 *
 * The lock is flock(2) on <data_dir>/blobs.lock, an empty file created on
 * first use; it is advisory and process-wide, released by close or exit,
 * so a crashed holder never leaves it taken.  The file is opened
 * read-only: processes running as different users can share it as long
 * as all can read it.  When the metadata backend has a lock of its own
 * (meta_blob_lock(): PostgreSQL's advisory lock, shared by every host
 * using the database), that is taken too, after the flock: the flock
 * orders this host's processes, the backend's lock every host's.  Called by store/upload.c, store/gc.c,
 * store/fsck.c. */
#ifndef BERTH_BLOB_LOCK_H
#define BERTH_BLOB_LOCK_H

#include <stdbool.h>

/* blob_lock -- take the blob lock of data directory `data_dir`, shared or
 * exclusive, waiting as long as it takes.  Returns the lock (a file
 * descriptor, >= 0) to hand to blob_unlock(), or -1 with errno set after
 * logging. */
int blob_lock(const char *data_dir, bool exclusive);

/* blob_unlock -- release a lock from blob_lock(); -1 is ignored. */
void blob_unlock(int lock);

#endif
