/* spool.h -- request bodies the web server received whole into a file and
 * handed over by name.
 *
 * Behind nginx an upload body is read completely by nginx into a file in
 * the body directory ([storage] body_dir, on the data directory's file
 * system; nginx: client_body_temp_path, client_body_in_file_only clean)
 * and its name arrives as the FastCGI parameter BERTH_BODY_FILE
 * ($request_body_file) instead of the bytes.  No worker then waits on a
 * client: by the time berth sees the request, the body is on disk (and
 * in the page cache).  The web server removes its own name when the
 * request ends; berth only ever adds a name of its own (the upload's
 * staging file, store/upload.c) and never removes the web server's.
 *
 * The name is untrusted input: a hostile or mistaken parameter must not
 * make berth read, link or publish a file it was not meant to
 * (/etc/shadow, the database, another session's staging file).
 * spool_open() accepts only a regular file with one link, reached from
 * the body directory through plain names (letters, digits, '_', '-',
 * '.' but not leading: no "..", no hidden files) without following any
 * symbolic link, and a FIFO or device is never even opened for reading.
 * Called by cgi/request.c (open, read, close) and store/upload.c (link). */
#ifndef BERTH_SPOOL_H
#define BERTH_SPOOL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define SPOOL_PARAM "BERTH_BODY_FILE" /* the CGI/FastCGI parameter */

struct spool {
	bool open;		 /* false: no body file (fields unset) */
	int dirfd;		 /* the directory holding the file */
	int fd;			 /* the body, read-only */
	char name[NAME_MAX + 1]; /* its name in dirfd */
	uint64_t size;		 /* bytes */
	dev_t dev;		 /* its identity, to check links */
	ino_t ino;
};

enum spool_err {
	SPOOL_OK = 0,
	SPOOL_REFUSED, /* not a plain file under body_dir; logged */
	SPOOL_GONE,    /* a plain name under body_dir, but no file: the web
			* server removed it, its client gone (nginx
			* answers 499 and cleans up); logged */
	SPOOL_IO       /* it was acceptable but could not be opened; logged */
};

/* spool_open -- open the body file `file` (an absolute path that must
 * begin with body_dir, as given or as resolved, then "/") into s.
 * body_dir is the configured directory; it may itself be reached through
 * symbolic links, nothing below it may.  On SPOOL_OK, s is open: call
 * spool_close.  On an error s is closed and the reason is logged. */
enum spool_err spool_open(const char *body_dir, const char *file,
    struct spool *s);

/* spool_link -- give the body file a second name, path (in the same file
 * system; a name that exists is an error), and open it read-write.
 * Checks that the new name is the very file s has open, so a name
 * swapped under the body directory meanwhile is never adopted.
 * Returns the new descriptor (the caller's), or -1 with errno set:
 * EXDEV, EPERM or EMLINK when a link is impossible here (the caller then
 * copies), anything else for a failure; nothing is left at path then. */
int spool_link(const struct spool *s, const char *path);

/* spool_close -- close s's descriptors.  Idempotent; the file itself is
 * the web server's to remove. */
void spool_close(struct spool *s);

/* spool_sweep -- remove the regular files directly in dir last modified
 * before cutoff: bodies a crashed web server left behind.  Returns the
 * number removed. */
int spool_sweep(const char *dir, time_t cutoff);

#endif
