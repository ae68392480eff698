/* pub.h -- the files the web server answers immutable reads from, so
 * that a manifest by digest and a blob need no worker (README, "Reads
 * without a worker"; issue 13).
 *
 * Under <data_dir>/pub, for each repository:
 *     <repository>/manifests/sha256/<hex>.<ext>  the manifest's bytes
 *     <repository>/blobs/sha256/<hex>            a symbolic link to the
 *                                                blob's file (fs handler)
 * <ext> names the media type for nginx's `types` block (pub_ext()); a
 * manifest of any other media type, and every sha512 digest, gets no
 * file: the worker answers those.  A repository sees only what it links,
 * as through the worker.
 *
 * Nothing here is the truth: the database is, and a file that is missing
 * only sends its reads to the worker.  A file the database does not back
 * is the one thing that must never be (a deleted manifest would still be
 * served), so the order is fixed:
 *   making    commit the rows, make the file, read the row again and
 *             remove the file when the row is gone (pub_*_added);
 *   removing  remove the file, delete the rows, remove the file again
 *             (pub_*_removed before and after, pub_blob_forgetting and
 *             pub_blob_forgot around a blob's last rows).
 * Whatever a push and a delete interleave to, the file is removed after
 * the later of the two: either the delete's second removal follows the
 * push's file, or the push's re-read follows the delete's rows.  A crash
 * between two steps leaves at worst a missing file, or a file whose rows
 * a delete was about to remove: `berth fsck` finds those (pub_check).
 *
 * With [server] fast_reads off (the default with PostgreSQL, whose hosts
 * need not share a data directory) or [auth] enabled (only a worker
 * checks tokens; store.h folds it into st->fast_reads) nothing is made
 * and store_open() removes what an earlier run made, so that a web
 * server still configured for the files finds none.  Blob names only
 * with the fs handler in its x-accel mode (the answer nginx's fast
 * location repeats); with any other, store_open() removes those an
 * earlier run made.  Removals are made whenever <data_dir>/pub exists,
 * whatever the configuration: a file made by a process configured
 * otherwise (a command run without -c, a worker draining from before a
 * restart) still goes with its rows. */
#ifndef BERTH_PUB_H
#define BERTH_PUB_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "store.h"

/* pub_ext -- the file extension of a manifest media type ("oim", "oii",
 * "dm2", "dml"), or NULL for a type that gets no file.  Static string. */
const char *pub_ext(const char *media_type);

/* pub_blob_names -- whether st makes blob names: fast_reads, the fs
 * handler, and its x-accel offload (the answer nginx's fast location
 * repeats; blob_fs.c reads the same key). */
bool pub_blob_names(const struct store *st);

/* pub_open -- at store_open(): with fast_reads off, remove
 * <data_dir>/pub and everything in it (files an earlier run made would
 * go stale); without blob names, remove those an earlier run made (the
 * marker <data_dir>/pub/.blobs, made after every name, tells).  Problems
 * are logged; never fails. */
void pub_open(struct store *st);

/* pub_manifest_added -- after a manifest PUT committed manifest `digest`
 * (validated) in repository `repo`: write its bytes (`body`, `len`
 * bytes, the ones just stored) into the repository's file, named after
 * the media type the database holds for it, then read the row again and
 * remove the file when the manifest is gone meanwhile.  Best effort: a
 * failure is logged and only leaves the read to the worker. */
void pub_manifest_added(struct store *st, const char *repo, const char *digest,
    const unsigned char *body, size_t len);

/* pub_manifest_removed -- remove repository repo's file for manifest
 * `digest`, whatever its media type; called before and again after the
 * rows go (manifest DELETE, gc of untagged manifests).  Best effort. */
void pub_manifest_removed(struct store *st, const char *repo,
    const char *digest);

/* pub_manifests_removed -- pub_manifest_removed() for each element of
 * `list`, a jansson array of objects with "repository" and "digest"
 * (meta_gc_untagged's shape; borrowed). */
void pub_manifests_removed(struct store *st, json_t *list);

/* pub_blob_added -- after blob `digest` was linked into repo (upload,
 * mount): link the repository's name for it to the blob's file, then
 * read the link row again and remove the name when it is gone.  Only
 * with the fs blob handler (the bytes are a local file).  Best effort. */
void pub_blob_added(struct store *st, const char *repo, const char *digest);

/* pub_blob_removed -- remove repository repo's name for blob `digest`;
 * before and again after the link row goes (blob DELETE).  Best effort. */
void pub_blob_removed(struct store *st, const char *repo, const char *digest);

/* pub_blob_forgetting -- before gc or fsck --repair removes every row of
 * blob `digest`: remove the names of every repository that links it, and
 * return those repositories (a jansson array the caller passes to
 * pub_blob_forgot, which frees it; NULL when fast_reads is off or the
 * database could not tell, logged).  A name left behind would come back
 * to life when the same bytes are stored again for another repository. */
json_t *pub_blob_forgetting(struct store *st, const char *digest);

/* pub_blob_forgot -- after the rows of blob `digest` are gone: remove
 * the names of `holders` (from pub_blob_forgetting; consumed, may be
 * NULL) again. */
void pub_blob_forgot(struct store *st, const char *digest, json_t *holders);

/* pub_blob_restore -- for blobs whose rows stayed after all (gc's
 * re-check kept them): pub_blob_added() for each repository of `names`,
 * a jansson object of digest: [repository, ...] (borrowed). */
void pub_blob_restore(struct store *st, json_t *names);

/* pub_check -- for `berth fsck`: check every entry under <data_dir>/pub
 * against the database and append a problem to `problems` (fsck.h's
 * shape: {problem, path, detail, repaired, action}) for each that is not
 * backed: "pub" -- a manifest file whose repository does not hold the
 * manifest, holds it with another media type or other bytes; a blob name
 * whose repository does not link the blob or that points elsewhere, or
 * any blob name when st makes none (pub_blob_names); an entry of no such
 * shape (a temporary file a crash left).  With repair
 * each is removed.  Returns the number of problems not repaired, or -1
 * when the walk or the database failed (logged). */
int pub_check(struct store *st, bool repair, json_t *problems);

/* pub_fill -- for `berth fsck`: count the manifests and blob links the
 * database holds that have no file yet (a registry from before
 * fast_reads, a crash between commit and file, fast_reads turned back
 * on): their reads still work, through a worker.  With make, write them
 * (pub_manifest_added, pub_blob_added: each re-checked).  Sets *missing
 * and *made.  0, or -1 when the database failed (logged).  Nothing to do
 * with fast_reads off. */
int pub_fill(struct store *st, bool make, long *missing, long *made);

#endif
