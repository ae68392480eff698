/* request.h -- one request as the handlers see it.
 *
 * server.c fills a struct req from the FastCGI params (or, in plain CGI
 * mode, the environment), reads nothing of the body, and hands it to
 * dispatch().  The body is read on demand through req_read(), which knows
 * the three ways a body arrives: with a Content-Length, with chunked
 * Transfer-Encoding (nginx then passes an empty CONTENT_LENGTH and the
 * body runs to the end of the FastCGI stdin stream, as checked with 1.22),
 * or not at all -- or, behind nginx, as a file the web server received
 * whole and names in the parameter BERTH_BODY_FILE (store/spool.h): the
 * body is then read from that file, never from the stream.  The
 * response side is response.h. */
#ifndef BERTH_REQUEST_H
#define BERTH_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "router.h"
#include "spool.h"
#include "validate.h"

#define PATH_MAX_LEN	4096	/* bytes of a request path; longer -> 404 */
#define RESP_HEAD_MAX	8192	/* bytes of response headers */

struct store;

/* The transport: FastCGI (server.c) or plain CGI. */
struct io {
	void		*priv;
	/* Up to n body bytes into buf; 0 at the end of the body, -1 on error. */
	ssize_t		(*read)(void *priv, void *buf, size_t n);
	/* All of buf; 0, or -1 when the client is gone. */
	int		(*write)(void *priv, const void *buf, size_t n);
	/* A CGI/FastCGI parameter, or NULL. */
	const char	*(*param)(void *priv, const char *name);
};

struct req {
	struct io		*io;
	const struct config	*cfg;
	struct store		*store;	/* data, blobs, metadata */

	/* Request line and headers, as received (NULL when absent). */
	const char	*method;
	unsigned	 method_bit;	/* enum http_method */
	char		 path[PATH_MAX_LEN];	/* percent-decoded, from /v2 on */
	/* What the client's URI had before /v2 (raw, "" at the root): the
	 * path prefix the registry is mounted under, for Location headers. */
	char		 prefix[PATH_MAX_LEN];
	const char	*query;		/* raw QUERY_STRING, never NULL */
	const char	*content_type;
	const char	*content_range;
	const char	*range;
	const char	*accept;
	int64_t		 content_length;	/* -1: unknown (chunked) */

	/* Set by dispatch() after validation. */
	struct route_match match;
	char		 name[NAME_MAX_LEN + 1];	/* repository */
	char		 arg[PATH_MAX_LEN];	/* reference, digest or upload id */

	/* Body reading state. */
	uint64_t	 body_read;	/* bytes handed out so far */
	bool		 body_done;	/* the end of the body was seen */
	/* The body as a file the web server handed over (spool.open), or a
	 * BERTH_BODY_FILE that spool_open() refused (body_refused: the
	 * request is answered 500 and its body is never read). */
	struct spool	 spool;
	bool		 body_refused;

	/* Response state (response.c). */
	int		 status;
	char		 head[RESP_HEAD_MAX];
	size_t		 head_len;
	bool		 head_sent;
	bool		 head_overflow;
};

enum req_problem {
	REQ_OK = 0,
	REQ_BAD_LENGTH,		/* CONTENT_LENGTH is not a number */
	REQ_BAD_PATH,		/* the path does not percent-decode */
	REQ_LONG_PATH		/* the path is over PATH_MAX_LEN bytes */
};

/* req_init -- fill r from the transport's parameters.  Returns REQ_OK, or
 * why the request cannot be understood at all; r is then still usable for
 * an error response.  r is zeroed memory or a struct req_init filled
 * before (a body file it still holds is closed). */
enum req_problem req_init(struct req *r, struct io *io,
    const struct config *cfg, struct store *store);

/* req_body_close -- release the body file of a request, if any (the
 * web server removes it); the body reads as ended afterwards.  Called by
 * dispatch() when the request is answered.  Idempotent. */
void req_body_close(struct req *r);

/* req_read -- read up to n body bytes.  Returns the count, 0 at the end
 * of the body, -1 when the client went away or sent fewer bytes than its
 * Content-Length. */
ssize_t req_read(struct req *r, void *buf, size_t n);

/* req_read_all -- read the whole body into a malloc'd buffer of at most
 * max bytes.  Returns 0 and sets *out (caller frees) and *len; 1 when the
 * body is larger than max (nothing allocated); -1 on a read error. */
int req_read_all(struct req *r, size_t max, unsigned char **out, size_t *len);

/* req_drain -- read and drop what is left of the body. */
void req_drain(struct req *r);

enum query_result {
	Q_ABSENT = 0,	/* no such parameter */
	Q_OK,		/* decoded into out */
	Q_BAD		/* present, but malformed or longer than out: refuse it */
};

/* req_query -- the first value of query parameter `key`, percent-decoded
 * into out (cap bytes, NUL-terminated). */
enum query_result req_query(const struct req *r, const char *key, char *out,
    size_t cap);

/* req_param -- a raw CGI parameter, e.g. "HTTP_ACCEPT"; NULL when absent. */
const char *req_param(const struct req *r, const char *name);

#endif
