/* reg_err.h -- the registry's errors, as handlers and dispatch see them.
 *
 * Every failure a request can meet is one of these.  Handlers return
 * one; dispatch() (dispatch.c) is the one place that answers it, through
 * the table in response.c that gives each its HTTP status, OCI error
 * code and message (oci-spec.md 9).  The store's own errors (enum
 * blob_err, meta_err, upload_err) become one of these through errors.h,
 * never by hand.  A header of its own so that the pure parts (router,
 * request parsing) can name an error without the response writer. */
#ifndef BERTH_REG_ERR_H
#define BERTH_REG_ERR_H

enum reg_err {
	E_OK = 0,
	E_BLOB_UNKNOWN,
	E_BLOB_UPLOAD_INVALID,
	E_BLOB_UPLOAD_UNKNOWN,
	E_DIGEST_INVALID,
	E_MANIFEST_BLOB_UNKNOWN,
	E_MANIFEST_INVALID,
	E_MANIFEST_UNKNOWN,
	E_NAME_INVALID,
	E_NAME_UNKNOWN,
	E_SIZE_INVALID,
	E_TAG_INVALID,
	E_RANGE_INVALID,	 /* 416, upload chunk out of order */
	E_RANGE_NOT_SATISFIABLE, /* 416, blob GET Range */
	E_PAGINATION_NUMBER_INVALID,
	E_UNSUPPORTED,	      /* 405: feature or operation off */
	E_METHOD_NOT_ALLOWED, /* 405: method not on this endpoint */
	E_NOT_FOUND,	      /* 404: no such endpoint */
	E_MANIFEST_TOO_LARGE, /* 413 */
	E_TOO_MANY_TAGS,      /* 414: over QUERY_TAGS_MAX ?tag= values */
	E_BAD_REQUEST,	      /* 400: unreadable request */
	E_STORAGE_FULL,	      /* 507 */
	E_UNAVAILABLE,	      /* 503: a backend is unreachable; retry */
	E_INTERNAL,	      /* 500: our fault; logged */
	E_UNAUTHORIZED,	      /* 401: no or bad credentials (auth.h) */
	E_DENIED,	      /* 403: known caller, action not granted */
	E_COUNT
};

#endif
