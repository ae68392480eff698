/* router.h -- the /v2/ route table and the path matcher.
 *
 * Repository names contain '/', so a path is matched from the right: the
 * fixed suffix (/manifests/<reference>, /blobs/uploads/<id>,
 * /blobs/<digest>, /tags/list, /referrers/<digest>) is found first and
 * what is left is the repository name (oci-spec.md 2.1, "Routing").
 * route_match() only splits the path; the values are validated by the
 * dispatcher (dispatch.c) with validate.h before any handler runs.
 * Pure: no allocation, no I/O; unit-tested and fuzzed. */
#ifndef BERTH_ROUTER_H
#define BERTH_ROUTER_H

#include <stddef.h>

enum route_id {
	ROUTE_NONE = 0,		/* no such endpoint: 404 */
	ROUTE_BASE,		/* /v2/ */
	ROUTE_CATALOG,		/* /v2/_catalog */
	ROUTE_TAGS,		/* /v2/<name>/tags/list */
	ROUTE_MANIFEST,		/* /v2/<name>/manifests/<reference> */
	ROUTE_BLOB,		/* /v2/<name>/blobs/<digest> */
	ROUTE_UPLOAD_START,	/* /v2/<name>/blobs/uploads/ */
	ROUTE_UPLOAD,		/* /v2/<name>/blobs/uploads/<id> */
	ROUTE_REFERRERS,	/* /v2/<name>/referrers/<digest> */
	ROUTE_COUNT
};

enum http_method {
	M_GET = 1 << 0, M_HEAD = 1 << 1, M_PUT = 1 << 2, M_POST = 1 << 3,
	M_PATCH = 1 << 4, M_DELETE = 1 << 5, M_OTHER = 1 << 6
};

/* Generic rules the dispatcher checks before a handler runs. */
enum route_flag {
	RF_WRITES = 1 << 0,	/* method changes state: refused when read-only */
	RF_DELETES = 1 << 1	/* a DELETE: refused when deletes are disabled */
};

struct route {
	enum route_id	 id;
	const char	*name;		/* for logs */
	unsigned	 methods;	/* allowed enum http_method bits */
	unsigned	 write_methods;	/* the subset that writes */
};

/* The result of splitting a path; pointers into the caller's path. */
struct route_match {
	const struct route *route;
	const char	*name;		/* repository name, not NUL-terminated */
	size_t		 name_len;
	const char	*arg;		/* reference, digest or upload id */
	size_t		 arg_len;
};

/* route_match -- split a decoded request path (e.g.
 * "/v2/library/debian/manifests/latest") into route, repository name and
 * argument.  Returns the route, or NULL when the path is no endpoint of
 * ours (the caller answers 404).  *m points into `path`, which must
 * outlive it. */
const struct route *route_match(const char *path, struct route_match *m);

/* method_bit -- the enum http_method bit for a method string; M_OTHER for
 * anything we do not know. */
unsigned method_bit(const char *method);

#endif
