/* store.h -- the store context: one struct owning what requests and
 * operator commands reach the registry's data through -- the data
 * directory, the blob handler, the metadata and the blob lock.
 *
 * Settings (base/conf.h sections the store owns):
 *   [storage]  data_dir (./var), body_dir (<data_dir>/uploads/body),
 *              blob_handler (fs)
 *   [registry] upload_expiry (24h)
 *   [server]   fast_reads (true with SQLite, false with PostgreSQL):
 *              keep the files nginx answers reads from (store/pub.h)
 *   [blob.NAME] the chosen blob handler's own keys (store/blob_*.c)
 *   [metadata] backend (sqlite), and [metadata.NAME] the chosen
 *              metadata backend's own keys (store/meta.h, meta_*.c),
 *              read by meta_open()
 *   [auth]     access control: users, tokens, grants (store/ident.h)
 *   [notify]   event notifications: receivers, secret (store/outbox.h);
 *              with a url, store_open() turns the outbox writes on
 * store_configure() reads them without touching anything but the data
 * directory (created if missing); store_open() then opens the metadata
 * (migrating its schema forward) and the blob handler, once per process
 * after fork.  Layering: store/ sees base/ only; the front (cgi/) and the
 * operator commands (cli/) get a struct store and call store/ through
 * it. */
#ifndef BERTH_STORE_H
#define BERTH_STORE_H

#include <limits.h>
#include <stdbool.h>

#include "blob.h"
#include "conf.h"
#include "ident.h"
#include "outbox.h"

/* Room for the names under the data directory (uploads/<id>, blobs/...). */
#define STORE_DIR_MAX (PATH_MAX - 256)

struct store {
	char data_dir[STORE_DIR_MAX]; /* absolute, exists */
	/* Where the web server puts request bodies it hands over by name
	 * (spool.h): absolute, exists, on the data directory's file system
	 * for the hand-over to be a link rather than a copy. */
	char body_dir[STORE_DIR_MAX];
	char blob_handler[32];	/* [storage] blob_handler */
	long upload_expiry;	/* seconds */
	bool fast_reads;	/* [server] fast_reads and not [auth] enabled:
			  * make pub.h's files */
	struct conf *conf;	/* borrowed: outlives us */
	struct ident_conf auth; /* [auth] */
	struct outbox_conf notify; /* [notify] */
	struct blob_handler blobs; /* open after store_open() */
	bool open;
};

/* store_make_dirs -- mkdir -p path (absolute), each made 0755.  0, or
 * -1 with errno. */
int store_make_dirs(const char *path);

/* store_configure -- read the store's settings from conf (borrowed for
 * the life of st), create the data directory if missing and make its
 * name absolute.  Returns 0, or -1 after printing why. */
int store_configure(struct store *st, struct conf *conf);

/* store_configure_nocreate -- store_configure() for `berth -t`, which
 * must create nothing: the same settings and checks, but when the data
 * directory does not exist yet neither it nor the body directory is
 * made, and their names are made absolute from the longest part that
 * exists.  Returns 0 (the data directory exists; as store_configure()),
 * 1 (it does not; data_dir and body_dir name what serving would make),
 * or -1 after printing why. */
int store_configure_nocreate(struct store *st, struct conf *conf);

/* store_open -- open the metadata and the blob handler.  Returns 0, or
 * -1 after logging why (nothing is left open then). */
int store_open(struct store *st);

/* store_close -- close what store_open() opened.  Idempotent. */
void store_close(struct store *st);

/* store_section_unused -- for conf_check_unread(): is `section` the
 * section of a blob handler or metadata backend other than st's
 * (allowed to sit unread in a file shared between set-ups)? */
bool store_section_unused(void *st, const char *section);

#endif
