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
#include "digest.h"
#include "router.h"
#include "spool.h"
#include "validate.h"

#define PATH_MAX_LEN  4096 /* bytes of a request path; longer -> 404 */
#define RESP_HEAD_MAX 8192 /* bytes of response headers */
/* Room before the headers in struct req's head for the status line and
 * the registry header, and after them for the blank line: the whole head
 * goes out in one write (response.c). */
#define RESP_HEAD_GAP	96
#define RESP_DETAIL_MAX 512	 /* bytes of an error's detail string */
#define PAGE_MAX	100000UL /* largest page size `n` a client may ask */
#define MEDIA_TYPE_MAX	255	 /* bytes of a media type (RFC 6838 4.2) */
/* ?tag= values one manifest PUT may carry (oci-spec.md end-7b: at least
 * 10; more is 414).  32 tags of the longest kind (128 characters) keep
 * the request line under the 8 KiB every shipped web server takes. */
#define QUERY_TAGS_MAX 32

struct store;

/* The values of the declared query keys (router.h, enum query_key),
 * checked by req_query_parse().  A key is given when its bit
 * (1u << enum query_key) is set in `present`; the other fields of a key
 * not given are zero, except n, which is then PAGE_MAX. */
struct query_values {
	unsigned present;
	unsigned long n;		 /* 0..PAGE_MAX */
	char last[NAME_MAX_LEN + 1];	 /* a tag or a name */
	char digest[DIGEST_MAX_LEN + 1]; /* a valid digest */
	char mount[DIGEST_MAX_LEN + 1];	 /* a valid digest */
	char from[NAME_MAX_LEN + 1];	 /* a valid name */
	enum digest_alg alg;		 /* DIGEST_SHA256 if not given */
	char artifact_type[MEDIA_TYPE_MAX + 1];
	/* Every "tag" value (QF_REPEATED), in the order given, repeats
	 * included; ntags 0..QUERY_TAGS_MAX.  Last: tags[ntags..] are
	 * never read, and req_query_parse() zeroes what comes before. */
	size_t ntags;
	char tags[QUERY_TAGS_MAX][TAG_MAX_LEN + 1];
};

#define QUERY_HAS(q, key) (((q)->present >> (key)) & 1u)

/* An upload's Content-Range "<start>-<end>" (oci-spec.md 4.3). */
struct content_range {
	bool present;	     /* the header was sent */
	bool valid;	     /* and parsed: start <= end */
	uint64_t start, end; /* inclusive byte offsets */
};

/* A blob GET's Range (RFC 9110 14.1.2), parsed before the size is known;
 * req_range_resolve() applies it to a size. */
enum range_kind {
	RANGE_SPEC_NONE = 0, /* absent, or not one byte range: ignored */
	RANGE_SPEC_BOUNDED,  /* bytes=a-b */
	RANGE_SPEC_OPEN,     /* bytes=a- */
	RANGE_SPEC_SUFFIX    /* bytes=-b: the last b bytes */
};

/* What req_range_resolve() makes of a Range against a blob's size. */
enum range_result {
	RANGE_NONE,	    /* no usable Range: answer 200 with everything */
	RANGE_PART,	    /* answer 206 with [*first, *last] */
	RANGE_UNSATISFIABLE /* answer 416 */
};

struct range_spec {
	enum range_kind kind;
	uint64_t a, b; /* as in the kinds above */
};

enum req_problem {
	REQ_OK = 0,
	REQ_BAD_LENGTH, /* CONTENT_LENGTH is not a number */
	REQ_BAD_PATH,	/* the path does not percent-decode */
	REQ_LONG_PATH	/* the path is over PATH_MAX_LEN bytes */
};

/* The transport: FastCGI (server.c) or plain CGI. */
struct io {
	void *priv;
	/* Up to n body bytes into buf; 0 at the end of the body, -1 on error. */
	ssize_t (*read)(void *priv, void *buf, size_t n);
	/* All of buf; 0, or -1 when the client is gone. */
	int (*write)(void *priv, const void *buf, size_t n);
	/* A CGI/FastCGI parameter, or NULL. */
	const char *(*param)(void *priv, const char *name);
};

/* The fields up to `path` are zeroed for each request (req_init); the
 * buffers from `path` on -- tens of KiB, most of the struct -- are read
 * only as far as their strings or lengths go, and only get an empty
 * string: zeroing them took more instructions than all the rest of a
 * manifest GET (bench/callgrind.sh). */
struct req {
	struct io *io;
	const struct config *cfg;
	struct store *store; /* data, blobs, metadata */

	/* Request line and headers, as received (NULL when absent). */
	const char *method;
	const char *query; /* raw QUERY_STRING, never NULL */
	const char *content_type;
	int64_t content_length;	  /* -1: unknown (chunked) */
	unsigned method_bit;	  /* enum http_method */
	enum req_problem problem; /* what req_init() could not understand */

	/* Headers, parsed by req_init() (whatever the route). */
	struct content_range crange; /* Content-Range of an upload chunk */
	struct range_spec range;     /* Range of a blob GET */

	/* Set by dispatch() after validation. */
	const struct route *route;
	struct route_match match;

	/* Body reading state.  The body as a file the web server handed
	 * over (spool.open), or a BERTH_BODY_FILE that spool_open() refused
	 * (body_refused: the request is answered 500 and its body is never
	 * read). */
	struct spool spool;
	uint64_t body_read; /* bytes handed out so far */
	bool body_done;	    /* the end of the body was seen */
	bool body_refused;
	bool body_gone; /* the web server's body file was removed first:
			 * its client went away (SPOOL_GONE) */

	/* Response state (response.c). */
	bool head_sent;
	bool head_overflow;
	int status;
	size_t head_len;
	uint64_t bytes_sent; /* body bytes written (resp_write) */

	/* What goes on an error response, should the handler fail
	 * (response.c): its own headers (ehead below), and a detail string
	 * or a jansson array of them (owned; released by resp_error()). */
	size_t ehead_len;
	bool ehead_overflow;
	void *details;

	/* The buffers (see above). */
	char path[PATH_MAX_LEN]; /* percent-decoded, from /v2 on */
	/* What the client's URI had before /v2 (raw, "" at the root): the
	 * path prefix the registry is mounted under, for Location headers. */
	char prefix[PATH_MAX_LEN];
	char name[NAME_MAX_LEN + 1]; /* repository, set by dispatch() */
	char arg[PATH_MAX_LEN];	     /* reference, digest or upload id */
	struct query_values q;	     /* the route's declared query keys */
	/* The success headers (response.c), from head + RESP_HEAD_GAP. */
	char head[RESP_HEAD_GAP + RESP_HEAD_MAX + 2];
	char ehead[RESP_HEAD_MAX]; /* the error's own headers */
	char detail[RESP_DETAIL_MAX];
};

/* req_init -- fill r from the transport's parameters.  Returns REQ_OK, or
 * why the request cannot be understood at all (also in r->problem, which
 * dispatch() answers); r is then still usable for an error response.  r
 * is zeroed memory or a struct req_init filled before (a body file it
 * still holds is closed). */
enum req_problem req_init(struct req *r, struct io *io,
    const struct config *cfg, struct store *store);

/* req_param -- a raw CGI/FastCGI parameter of r, e.g. "HTTP_ACCEPT"
 * or "REMOTE_ADDR" (owned by the transport, valid for the request);
 * NULL when absent.  Unchecked: what a handler needs of the request is
 * parsed and validated by req_init() and dispatch(). */
const char *req_param(const struct req *r, const char *name);

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

/* req_query_parse -- check the query keys a route declares (decls,
 * ended by QK_NONE) in the raw query string `query` and fill *q.  The
 * first occurrence of a key counts, or, for a QF_REPEATED key, every
 * one (into q->tags, at most QUERY_TAGS_MAX: one more is
 * E_TOO_MANY_TAGS); keys not declared are ignored.  A value is
 * percent-decoded ('+' is a space) and checked as its declaration says.
 * Returns E_OK, or the declared check's error for the first value that
 * is malformed (or absent when required), whose key then goes to *bad
 * (unless bad is NULL); *q is then partly filled.  Pure. */
enum reg_err req_query_parse(const char *query, const struct query_decl *decls,
    struct query_values *q, enum query_key *bad);

/* req_form_decode -- an application/x-www-form-urlencoded (or query
 * string) value s[0..len) into out (cap bytes, NUL-terminated): '+' is a
 * space, %XX a byte.  false on a malformed escape, a NUL (encoded or
 * not), or when it does not fit.  Pure. */
bool req_form_decode(const char *s, size_t len, char *out, size_t cap);

/* req_query_has -- does the raw query string `query` give key, with a
 * value or without ("key" alone)?  Pure. */
bool req_query_has(const char *query, const char *key);

/* req_query_value -- the first value of key in the raw query string
 * `query` ("key" alone is ""), decoded by req_form_decode() into out (cap
 * bytes).  false when absent or malformed.  For what is read before the
 * route's declared keys are checked (req_query_parse); pure. */
bool req_query_value(const char *query, const char *key, char *out, size_t cap);

/* req_range_parse -- parse a Range header value (NULL: absent).  One
 * byte range only: anything else is RANGE_SPEC_NONE, which RFC 9110
 * 14.2 lets a server ignore; into *rs.  Pure. */
void req_range_parse(const char *s, struct range_spec *rs);

/* req_range_resolve -- apply a parsed Range to a blob of `size` bytes:
 * RANGE_NONE (send all), RANGE_PART (send [*first, *last], an end past
 * the blob clipped) or RANGE_UNSATISFIABLE (416: a start at or past the
 * end, an inverted range, an empty suffix).  Pure. */
enum range_result req_range_resolve(const struct range_spec *rs, uint64_t size,
    uint64_t *first, uint64_t *last);

/* req_media_type_valid -- is s[0..len) a media type "type/subtype", each
 * an RFC 6838 4.2 restricted-name, at most MEDIA_TYPE_MAX bytes? */
bool req_media_type_valid(const char *s, size_t len);

#endif
