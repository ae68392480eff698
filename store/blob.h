/* blob.h -- the blob handler seam.
 *
 * A blob is an immutable byte string named by its digest.  The core never
 * touches blob storage directly: it calls the blob_*() wrappers below
 * (blob.c), which dispatch through a struct blob_ops and supply the
 * fallbacks for optional operations.  Which repository links which blob
 * is metadata (meta.h); a handler only stores bytes.  The repository is
 * still passed to every operation as a plain, validated string, so that a
 * handler may keep per-repository layouts.
 *
 * The shape follows SQLite's VFS: a versioned table of function pointers,
 * optional ones NULL, each contract written here.  Backends: blob_fs.c,
 * blob_redirect.c.  Digests reaching a handler are always validated
 * sha256/sha512 strings.  Only the handler knows where its bytes are:
 * `berth fsck` lists them with walk() and reads them with read(), and
 * never looks at a layout itself.
 *
 * A handler is one file: it defines its table and registers it with
 * BLOB_HANDLER(table) at file scope; linking the file in is enough for
 * `[storage] blob_handler = NAME` to find it.  It reads its settings
 * from its own section, [blob.NAME], through base/conf.h. */
#ifndef BERTH_BLOB_H
#define BERTH_BLOB_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* Version 1: open, close, get, stat, put, del.  Version 2 appends walk
 * and read.  Version 3 appends stage_put, stage_get and stage_del.
 * blob_open() accepts every version up to this one and never looks at an
 * operation newer than the table's version. */
#define BLOB_OPS_VERSION 3

enum blob_err {
	BLOB_OK = 0,
	BLOB_NOTFOUND,	 /* no blob under that digest */
	BLOB_REDIRECT,	 /* not here: see the location filled in */
	BLOB_NOSPC,	 /* out of space or quota */
	BLOB_NOTSUP,	 /* optional operation absent */
	BLOB_IO,	 /* anything else; already logged */
	BLOB_UNAVAILABLE /* the storage cannot be reached now (a remote
				 * store); nothing changed; worth a retry */
};

/* Where the bytes are when a handler answers BLOB_REDIRECT. */
enum blob_loc_kind {
	BLOB_LOC_ACCEL,	   /* a URI of the web server's internal location:
				 * sent as X-Accel-Redirect */
	BLOB_LOC_SENDFILE, /* an absolute file path: sent as X-Sendfile */
	BLOB_LOC_URL	   /* an absolute URL: answered with 307 Location */
};

struct blob_location {
	enum blob_loc_kind kind;
	char target[PATH_MAX + 256];
};

/* A complete, verified file handed to put(). */
struct blob_source {
	int fd;		  /* open for reading; stays the caller's */
	const char *path; /* its name in the data directory */
	uint64_t size;	  /* bytes */
};

/* Handler flags. */
enum blob_flag {
	BLOB_VERIFIES = 1 << 0 /* put() checks digest and size itself; the
				 * core then skips its own pass */
};

/* One entry of the store, as walk() reports it. */
struct blob_entry {
	const char *digest; /* a validated digest; NULL when the
					 * entry names no blob (a stray file,
					 * an unexpected directory) */
	uint64_t size;	    /* bytes; 0 for a stray entry */
	const char *name;   /* the handler's name for the entry, for
					 * messages: a path, an object key;
					 * never NULL */
	const char *detail; /* a stray entry: why it names no blob,
					 * as a phrase; otherwise NULL */
	int64_t mtime;	    /* when the bytes were stored, seconds
					 * since the epoch; 0: not known
					 * (`berth gc` then takes the blob for
					 * old enough) */
};

/* walk()'s callback.  The entry and its strings are the handler's and
 * valid during the call only.  Non-zero stops the walk. */
typedef int (*blob_walk_fn)(void *arg, const struct blob_entry *e);

struct blob_ops {
	int version;	  /* BLOB_OPS_VERSION; operations are only
					 * ever appended */
	const char *name; /* "fs", ... as in [storage] blob_handler */
	unsigned flags;	  /* enum blob_flag */

	/* Required.  Create an instance; *priv is passed to every other
	 * operation.  Called once per process, after fork.  The handler
	 * reads its settings from [`section`] of conf (section is
	 * "blob.<name>"; conf_bad() reports a bad one, and open then
	 * returns BLOB_IO); data_dir is the registry's absolute data
	 * directory, whose uploads/ holds the files handed to put(). */
	enum blob_err (*open)(struct conf *conf, const char *section,
	    const char *data_dir, void **priv);
	/* Optional.  Release the instance. */
	void (*close)(void *priv);

	/* Required.  Make the blob readable: either open it and set *fd (the
	 * caller closes it; the file holds exactly the blob's bytes) and
	 * *size in bytes, or fill *loc and return BLOB_REDIRECT (then *fd is
	 * untouched).  BLOB_NOTFOUND when the bytes are not there. */
	enum blob_err (*get)(void *priv, const char *repo, const char *digest,
	    int *fd, uint64_t *size, struct blob_location *loc);

	/* Optional: size in bytes without opening; may also answer
	 * BLOB_REDIRECT with *loc.  NULL -> answered through get(). */
	enum blob_err (*stat)(void *priv, const char *repo, const char *digest,
	    uint64_t *size, struct blob_location *loc);

	/* Optional: make src visible under digest, atomically: a reader sees
	 * either no blob or all of it.  src->path is a file in the data
	 * directory the handler may rename; whatever the result, the handler
	 * leaves no other name for those bytes than the final one (on error:
	 * none), and it never replaces existing bytes with different ones.
	 * Idempotent: putting a blob that exists succeeds.  Unless the
	 * handler sets BLOB_VERIFIES, src is complete and verified against
	 * digest and size before the call.  NULL -> the registry is
	 * read-only. */
	enum blob_err (*put)(void *priv, const char *repo, const char *digest,
	    const struct blob_source *src);

	/* Optional: forget the bytes.  The core calls it only when no
	 * repository links the blob any more.  NULL -> blob DELETE answers
	 * 405 UNSUPPORTED. */
	enum blob_err (*del)(void *priv, const char *repo, const char *digest);

	/* Version 2. */

	/* Optional: list the store.  Call fn once for every blob stored,
	 * with its digest and size, and once for every entry of the store
	 * that names no blob (digest NULL, detail saying why); never remove
	 * or change such an entry.  Stop as soon as fn returns non-zero.  A
	 * blob stored for the whole walk is reported exactly once; one put
	 * or deleted meanwhile may or may not be, and a blob deleted
	 * meanwhile is not an error.  No lock is held: the walk runs while
	 * the registry serves.  Returns BLOB_OK when every entry was
	 * reported or fn stopped the walk (the caller knows which), BLOB_IO
	 * when the store could not be listed (logged).  NULL -> `berth
	 * fsck` checks the database only (blob_can BLOB_CAN_WALK). */
	enum blob_err (*walk)(void *priv, blob_walk_fn fn, void *arg);

	/* Optional: open the bytes for the core itself (fsck re-hashing,
	 * quarantine) -- never a redirect, whatever get() does.  Sets *fd
	 * (the caller closes it), from which read(2) yields exactly the
	 * blob's bytes from the start (a file at offset 0, a pipe, a spooled
	 * temporary file), and *size in bytes.  BLOB_NOTFOUND when the bytes
	 * are not there.  NULL -> fsck checks sizes but not digests, and
	 * cannot quarantine (blob_can BLOB_CAN_READ). */
	enum blob_err (*read)(void *priv, const char *repo, const char *digest,
	    int *fd, uint64_t *size);

	/* Version 3: staging in the store, all three or none.  With them an
	 * upload session's bytes live in the store itself, as segments, so
	 * that any host sharing the store continues any session
	 * (store/upload.h); without them they are the host's staging file.
	 * A segment is the bytes one append added: session `uuid`, starting
	 * at byte `offset` of the blob, replacing a segment stored at that
	 * offset before (a client retrying an append).  None is visible as a
	 * blob, and walk() does not report them. */

	/* Optional: store bytes [offset, offset + len) of fd (read with
	 * pread(2) at those offsets; the caller's) as the segment of uuid at
	 * offset.  Returns once it is stored. */
	enum blob_err (*stage_put)(void *priv, const char *uuid,
	    uint64_t offset, int fd, uint64_t len);
	/* Optional: open the segment of uuid at offset: *fd (the caller
	 * closes it) yields exactly its bytes from offset 0, *len bytes.
	 * BLOB_NOTFOUND when there is none. */
	enum blob_err (*stage_get)(void *priv, const char *uuid,
	    uint64_t offset, int *fd, uint64_t *len);
	/* Optional: forget the segment of uuid at offset, setting *len to
	 * its length (so that the caller finds the next one).  BLOB_NOTFOUND
	 * when there is none. */
	enum blob_err (*stage_del)(void *priv, const char *uuid,
	    uint64_t offset, uint64_t *len);
};

/* An open handler: the table plus its instance. */
struct blob_handler {
	const struct blob_ops *ops;
	void *priv;
};

/* blob_register -- make a handler findable by name; called by
 * BLOB_HANDLER() before main().  The table is borrowed for the process's
 * life. */
void blob_register(const struct blob_ops *ops);

#define BLOB_HANDLER(ops) \
	__attribute__((constructor)) static void blob_register_##ops(void) \
	{ \
		blob_register(&(ops)); \
	}

/* blob_find -- the registered handler called name, or NULL. */
const struct blob_ops *blob_find(const char *name);

/* blob_open -- open the handler called name with its section
 * [blob.<name>] of conf.  Returns BLOB_OK; BLOB_NOTSUP for an unknown
 * name or a table of a BLOB_OPS_VERSION this build does not know; or
 * the handler's error.  Logs the reason. */
enum blob_err blob_open(const char *name, struct conf *conf,
    const char *data_dir, struct blob_handler *h);
void blob_close(struct blob_handler *h);

/* The core's wrappers: preconditions, fallbacks, verification. */
enum blob_err blob_get(struct blob_handler *h, const char *repo,
    const char *digest, int *fd, uint64_t *size, struct blob_location *loc);
enum blob_err blob_stat(struct blob_handler *h, const char *repo,
    const char *digest, uint64_t *size, struct blob_location *loc);
enum blob_err blob_put(struct blob_handler *h, const char *repo,
    const char *digest, const struct blob_source *src);
enum blob_err blob_delete(struct blob_handler *h, const char *repo,
    const char *digest);
/* BLOB_NOTSUP when the handler has no walk() or no read(). */
enum blob_err blob_walk(struct blob_handler *h, blob_walk_fn fn, void *arg);
enum blob_err blob_read(struct blob_handler *h, const char *repo,
    const char *digest, int *fd, uint64_t *size);
/* Staging in the store (the version 3 operations above); BLOB_NOTSUP
 * when the handler has none (blob_can BLOB_CAN_STAGE). */
enum blob_err blob_stage_put(struct blob_handler *h, const char *uuid,
    uint64_t offset, int fd, uint64_t len);
enum blob_err blob_stage_get(struct blob_handler *h, const char *uuid,
    uint64_t offset, int *fd, uint64_t *len);
enum blob_err blob_stage_del(struct blob_handler *h, const char *uuid,
    uint64_t offset, uint64_t *len);

/* blob_quarantine -- move blob digest out of the store into directory
 * dest_dir (created 0700 when absent), as dest_dir/<alg>-<hex>: the core
 * copies the bytes through read() into a new file, syncs it, renames it
 * into place (replacing an older copy), then forgets the blob with
 * del().  The bytes need not hash to digest (that is why they are moved).
 * out (cap bytes) receives the file's path.  Returns BLOB_OK; BLOB_NOTSUP
 * when the handler cannot read or delete; BLOB_NOTFOUND; BLOB_NOSPC or
 * BLOB_IO (logged; errno set), and then the store still holds the blob
 * and no partial copy is left.  The caller holds the blob lock exclusive
 * (blob_lock.h), as for any deletion. */
enum blob_err blob_quarantine(struct blob_handler *h, const char *digest,
    const char *dest_dir, char *out, size_t cap);

/* What a handler can do: the one place the core asks. */
enum blob_cap {
	BLOB_CAN_PUT,	    /* put(): pushes are possible */
	BLOB_CAN_DELETE,    /* del(): blob bytes can be removed (gc, DELETE) */
	BLOB_CAN_WALK,	    /* walk(): stored blobs can be listed (gc, fsck) */
	BLOB_SELF_VERIFIES, /* put() checks digest and size itself */
	BLOB_CAN_READ,	    /* read(): the core can read bytes back
				 * (fsck re-hashing, quarantine) */
	BLOB_CAN_STAGE	    /* stage_*(): upload sessions live in the
				 * store, for every host */
};

/* blob_can -- does handler h have capability cap? */
bool blob_can(const struct blob_handler *h, enum blob_cap cap);

#endif
