/* router.h -- the /v2/ route table and the path matcher.
 *
 * Repository names contain '/', so a path is matched from the right: the
 * fixed suffix (/manifests/<reference>, /blobs/uploads/<id>,
 * /blobs/<digest>, /tags/list, /referrers/<digest>) is found first and
 * what is left is the repository name (oci-spec.md 2.1, "Routing").
 * route_match() only splits the path (router.c: pure, no allocation, no
 * I/O; unit-tested and fuzzed).
 *
 * What each endpoint accepts is declared once, in the table of routes.c
 * (one row per path shape and group of methods, in the style of redis's
 * command table): its methods, the kind of its path argument, the query
 * keys it reads with a check for each, whether it reads a body, the
 * generic rules it is subject to, and its handler.  dispatch() applies
 * the declarations before any handler runs; a handler reads only the
 * values the declarations produced (request.h: r->name, r->arg, r->q,
 * r->crange, r->range). */
#ifndef BERTH_ROUTER_H
#define BERTH_ROUTER_H

#include <stddef.h>

#include "reg_err.h"

struct req;

/* The path shapes. */
enum route_id {
	ROUTE_NONE = 0,	    /* no such endpoint: 404 */
	ROUTE_BASE,	    /* /v2/ */
	ROUTE_CATALOG,	    /* /v2/_catalog */
	ROUTE_TAGS,	    /* /v2/<name>/tags/list */
	ROUTE_MANIFEST,	    /* /v2/<name>/manifests/<reference> */
	ROUTE_BLOB,	    /* /v2/<name>/blobs/<digest> */
	ROUTE_UPLOAD_START, /* /v2/<name>/blobs/uploads/ */
	ROUTE_UPLOAD,	    /* /v2/<name>/blobs/uploads/<id> */
	ROUTE_REFERRERS,    /* /v2/<name>/referrers/<digest> */
	ROUTE_COUNT
};

enum http_method {
	M_GET = 1 << 0,
	M_HEAD = 1 << 1,
	M_PUT = 1 << 2,
	M_POST = 1 << 3,
	M_PATCH = 1 << 4,
	M_DELETE = 1 << 5,
	M_OTHER = 1 << 6
};

/* The kind of a route's path argument; dispatch() checks it by kind. */
enum route_arg {
	ARG_NONE = 0,  /* none (tags/list: "list" is fixed) */
	ARG_REFERENCE, /* a digest when it has ':', else a tag
				 * (oci-spec.md 2.2, 2.3) */
	ARG_DIGEST,    /* a digest (oci-spec.md 2.3) */
	ARG_UPLOAD_ID  /* an upload session id as berth issues them */
};

/* Generic rules dispatch() checks before the handler runs. */
enum route_flag {
	RF_WRITES = 1 << 0,  /* changes state: refused when read_only */
	RF_STORES = 1 << 1,  /* stores content: refused when the blob
				 * handler cannot put */
	RF_DELETES = 1 << 2, /* deletes content: refused when
				 * delete_enabled is off */
	RF_BODY = 1 << 3     /* reads a request body */
};

/* What access control will require of the client for a route: not
 * checked yet, declared now so that the table is where it will be. */
enum route_action {
	ACT_NONE = 0, /* anyone (the version check) */
	ACT_PULL,     /* read the repository (catalog: the list) */
	ACT_PUSH,     /* write to it */
	ACT_DELETE    /* delete from it */
};

/* The query keys berth reads anywhere; where their values land is
 * struct query_values (request.h). */
enum query_key {
	QK_NONE = 0,	  /* ends a route's list */
	QK_N,		  /* "n": page size (oci-spec.md 7.1) */
	QK_LAST,	  /* "last": the last tag or name seen */
	QK_DIGEST,	  /* "digest": the blob's digest on POST/PUT */
	QK_MOUNT,	  /* "mount": a digest to mount */
	QK_FROM,	  /* "from": the repository to mount from */
	QK_DIGEST_ALG,	  /* "digest-algorithm": sha256 or sha512 */
	QK_ARTIFACT_TYPE, /* "artifactType": a referrers filter */
	QK_COUNT
};

/* The check of a declared value, each with the error a bad value gets. */
enum query_check {
	QC_COUNT = 0,  /* decimal, 0..PAGE_MAX: PAGINATION_NUMBER_INVALID */
	QC_TAG,	       /* a tag: TAG_INVALID */
	QC_NAME,       /* a repository name: NAME_INVALID */
	QC_DIGEST,     /* a sha256/sha512 digest: DIGEST_INVALID */
	QC_DIGEST_ALG, /* "sha256" or "sha512": DIGEST_INVALID */
	QC_MEDIA_TYPE  /* type/subtype (RFC 6838 4.2): BAD_REQUEST */
};

enum query_flag {
	QF_REQUIRED = 1 << 0,	    /* absent is as bad as malformed */
	QF_EMPTY_IS_ABSENT = 1 << 1 /* "key=" counts as not given */
};

struct query_decl {
	enum query_key key;
	enum query_check check;
	unsigned flags; /* enum query_flag */
};

#define ROUTE_QUERY_MAX 6 /* declared keys per route, with the end mark */

/* One row of the table: a path shape with a group of its methods. */
struct route {
	enum route_id id;
	unsigned methods; /* enum http_method bits */
	enum route_arg arg;
	/* The query keys this route reads, ended by QK_NONE.  Malformed
	 * values of declared keys are refused; keys not declared are
	 * ignored, never refused: real clients send more than they must
	 * (docker's `_state`, a mirror's `ns=`, a `digest=` on a PATCH). */
	struct query_decl query[ROUTE_QUERY_MAX];
	unsigned flags; /* enum route_flag */
	enum route_action action;
	const char *name; /* for logs: "manifest-put", ... */
	enum reg_err (*handler)(struct req *);
};

/* The result of splitting a path; pointers into the caller's path. */
struct route_match {
	enum route_id id;
	const char *name; /* repository name, not NUL-terminated */
	size_t name_len;
	const char *arg; /* reference, digest or upload id */
	size_t arg_len;
};

/* route_match -- split a decoded request path (e.g.
 * "/v2/library/debian/manifests/latest") into path shape, repository
 * name and argument.  Returns the shape, ROUTE_NONE when the path is no
 * endpoint of ours (the caller answers 404; *m is then all zero).  *m
 * points into `path`, which must outlive it.  router.c. */
enum route_id route_match(const char *path, struct route_match *m);

/* method_bit -- the enum http_method bit for a method string; M_OTHER for
 * anything we do not know.  router.c. */
unsigned method_bit(const char *method);

/* query_key_name -- the key as it appears in a query string ("n", ...).
 * router.c. */
const char *query_key_name(enum query_key key);

/* route_find -- the row of the table for shape id and method (an enum
 * http_method bit); NULL when the method is not allowed there.
 * routes.c. */
const struct route *route_find(enum route_id id, unsigned method);

/* route_methods -- every method allowed on shape id (the Allow header of
 * a 405).  routes.c. */
unsigned route_methods(enum route_id id);

/* route_table -- the whole table, *n rows (for tests).  routes.c. */
const struct route *route_table(size_t *n);

#endif
