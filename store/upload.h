/* upload.h -- blob upload sessions: staging files plus their metadata.
 *
 * A session is a row in the metadata (meta.h: id, repository, bytes so
 * far, saved hash state) and a staging file <data_dir>/uploads/<id>.
 * Every byte is hashed once as it is appended; the hash state is saved
 * with the new size in the same metadata update, so the next request may
 * be served by any worker process.  A request holds an exclusive flock on
 * the staging file while it works, so two requests on one session are
 * serialised and the second sees the first one's result.  A first chunk
 * the web server handed over as a file becomes the staging file itself
 * (a new inode under the same name, upload_append_spool), so the lock
 * is taken anew when the name moved on while a request waited.
 *
 * The file may hold more bytes than the recorded size after a crash
 * mid-append: those are never trusted; the next append writes from the
 * recorded size and truncates.  The converse cannot happen by a crash:
 * an append reaches the disk (fdatasync) before the row counts it; a
 * file found shorter than its row anyway (cut by hand) ends the session,
 * which then answers as unknown.  Finishing verifies the digest, hands the
 * file to the blob handler (blob.h put), and commits the blob link and
 * the end of the session in one transaction (meta_blob_commit).
 *
 * Sessions across hosts.  With a blob handler that stages in the store
 * (blob.h, BLOB_CAN_STAGE: s3), the session's bytes live there too, so
 * any host sharing the store and the metadata continues any session:
 * each append stores its bytes as a segment (stage_put, keyed by its
 * offset) before the row advances, so the row never covers bytes the
 * store lacks.  A host without the staging file makes an empty one (the
 * flock then serialises this host's requests only; across hosts the
 * row's compare-and-set on the old size, meta_upload_advance, decides,
 * and the loser answers as for an unknown session).  Finishing fetches
 * the segments the request did not append itself into the staging file,
 * in offset order, re-hashes the whole file against the digest (the
 * segments are trusted no more than a client: a racing append may have
 * replaced one), and then puts it as usual; the segments are removed
 * after the commit, by upload_cancel and by upload_expire.
 * Called by the upload and blob handlers in cgi/. */
#ifndef BERTH_UPLOAD_H
#define BERTH_UPLOAD_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "blob.h"
#include "digest.h"
#include "meta.h"
#include "spool.h"
#include "store.h"

enum upload_err {
	UP_OK = 0,
	UP_UNKNOWN, /* no such session (or expired) */
	UP_SHORT, /* the body ended before its declared length; nothing kept */
	UP_SIZE, /* the body is not as long as its Content-Range; nothing kept */
	UP_DIGEST,	/* content does not match the digest; session ended */
	UP_NOSPC,	/* storage full; nothing kept */
	UP_READONLY,	/* the blob handler cannot store */
	UP_UNAVAILABLE, /* the blob store or the metadata cannot be reached
			 * now; nothing kept: the client may retry */
	UP_IO		/* anything else; logged; nothing kept */
};

struct upload {
	struct store *st; /* borrowed */
	struct meta_upload m;
	int fd; /* staging file; -1 when closed */
	char path[PATH_MAX];
	bool persist; /* has a metadata row */
	/* Staging in the store (blob.h, BLOB_CAN_STAGE; a persisted session
	 * only): each append is also stored as a segment before the row
	 * moves on, and the staging file is trusted only for the bytes
	 * [local_lo, local_hi) this request appended. */
	bool staged;
	uint64_t local_lo, local_hi;
};

/* Where the bytes of an append come from: a body reader returning up to
 * n bytes, 0 at the end, -1 on error (request.h req_read's shape). */
typedef ssize_t (*upload_reader)(void *ctx, void *buf, size_t n);

/* upload_start -- begin a session for repo hashing with alg: create the
 * staging file and (when persist) the metadata row with a fresh UUID.
 * A session that is not persisted lives only for this request (single
 * POST).  On UP_OK, u is open: call upload_close. */
enum upload_err upload_start(struct store *st, const char *repo,
    enum digest_alg alg, bool persist, struct upload *u);

/* upload_open -- open session `uuid` of `repo` and take its lock.
 * UP_UNKNOWN when there is no such session, it belongs to another
 * repository, or it is older than the store's upload_expiry. */
enum upload_err upload_open(struct store *st, const char *repo,
    const char *uuid, struct upload *u);

#define UPLOAD_ANY_LENGTH UINT64_MAX

/* upload_append -- append the body from read(ctx) at the session's end,
 * hashing as it goes, then record the new size and hash state.  `expect`
 * is the body's length in bytes when a Content-Range promised one
 * (UPLOAD_ANY_LENGTH otherwise); a body of another length gives UP_SIZE.
 * On any error the session is as before (bytes past the old size are
 * cut). */
enum upload_err upload_append(struct upload *u, upload_reader read, void *ctx,
    uint64_t expect);

/* upload_append_spool -- upload_append for a body the web server
 * received whole into the file s (spool.h): hashed once from the page
 * cache, then, for the first bytes of a session, linked in place of the
 * staging file (no copy), else appended in the kernel
 * (copy_file_range).  Same `expect`, errors and guarantees as
 * upload_append; berth never removes the web server's name for the file. */
enum upload_err upload_append_spool(struct upload *u, const struct spool *s,
    uint64_t expect);

/* upload_finish -- close the session as blob `digest` (validated): check
 * the content against it (re-hashing the staging file once when the
 * digest's algorithm is not the session's), make it visible through the
 * blob handler, link it into the repository and end the session.  On
 * UP_DIGEST the session is ended and nothing becomes visible.  Holds
 * the data directory's blob lock shared from the put to the commit, so
 * that `berth gc` never deletes in between (blob_lock.h).  Sets *size to
 * the blob's bytes. */
enum upload_err upload_finish(struct upload *u, const char *digest,
    uint64_t *size);

/* upload_cancel -- end the session: delete its row and staging file. */
enum upload_err upload_cancel(struct upload *u);

/* upload_close -- release the lock and the file.  Idempotent. */
void upload_close(struct upload *u);

/* upload_expire -- end sessions idle for more than expiry seconds and
 * remove staging files not written for that long, and body files as
 * long untouched in the directories under uploads/ (the default
 * body_dir, uploads/body: what a crashed web server left).  Returns the
 * number of files removed, or -1 on a metadata error. */
int upload_expire(struct store *st, long expiry);

#endif
