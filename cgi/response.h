/* response.h -- writing responses, and the one table of registry errors.
 *
 * A handler sets headers with resp_header(), then sends with resp_send()
 * (whole body in memory), resp_begin()+resp_write() (streamed body), or
 * returns an enum reg_err and lets dispatch() write the error through
 * resp_error().  Handlers never write an error status number themselves:
 * the table in response.c maps each reg_err to its HTTP status, OCI error
 * code and message (oci-spec.md 9).  Every response carries
 * Docker-Distribution-API-Version: registry/2.0; errors carry the JSON
 * envelope {"errors":[{"code","message","detail"}]}, except on HEAD. */
#ifndef BERTH_RESPONSE_H
#define BERTH_RESPONSE_H

#include <stddef.h>

#include "request.h"

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
	E_RANGE_INVALID,		/* 416, upload chunk out of order */
	E_RANGE_NOT_SATISFIABLE,	/* 416, blob GET Range */
	E_PAGINATION_NUMBER_INVALID,
	E_UNSUPPORTED,			/* 405: feature or operation off */
	E_METHOD_NOT_ALLOWED,		/* 405: method not on this endpoint */
	E_NOT_FOUND,			/* 404: no such endpoint */
	E_MANIFEST_TOO_LARGE,		/* 413 */
	E_BAD_REQUEST,			/* 400: unreadable request */
	E_STORAGE_FULL,			/* 507 */
	E_INTERNAL,			/* 500: our fault; logged */
	E_UNAUTHORIZED,			/* 401: no or bad credentials (auth.h) */
	E_DENIED,			/* 403: known caller, action not granted */
	E_COUNT
};

/* resp_header -- add "Name: value" (printf-style value).  Headers beyond
 * RESP_HEAD_MAX are dropped and the response becomes a 500. */
void resp_header(struct req *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* resp_location -- add "Location: <prefix><path>", path printf-style
 * from "/v2/...".  The prefix is what the request's own URI had before
 * /v2 (r->prefix, request.c), so the Location stays right when the
 * registry is mounted under a path and, carrying no scheme or host,
 * behind a TLS-terminating proxy.  An absolute path rather than a
 * path-relative reference ("./<id>"): Go's net/http (skopeo, podman,
 * crane) and docker's distribution client would resolve either, but
 * containerd's pusher takes a Location that does not start with "/" for
 * "host/path" and breaks (remotes/docker/pusher.go). */
void resp_location(struct req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* resp_send -- send status, the headers set so far, Content-Length and
 * body[0..len) (body omitted on HEAD, Content-Length kept).  body may be
 * NULL when len is 0. */
void resp_send(struct req *r, int status, const void *body, size_t len);

/* resp_send_json -- resp_send of a jansson value as compact JSON with
 * Content-Type (NULL: application/json).  Steals the reference. */
void resp_send_json(struct req *r, int status, const char *content_type,
    void *json);

/* resp_begin -- send status and headers now; the body follows through
 * resp_write().  The caller sets Content-Length itself. */
int resp_begin(struct req *r, int status);

/* resp_write -- body bytes after resp_begin().  0, or -1 when the client
 * is gone. */
int resp_write(struct req *r, const void *buf, size_t len);

/* resp_error -- answer with err's status and the JSON envelope; detail
 * (may be NULL) becomes the "detail" string.  Headers already set are
 * kept: a handler sets those an error needs (Range on a 416) and returns
 * the error. */
void resp_error(struct req *r, enum reg_err err, const char *detail);

/* resp_errors -- like resp_error, with one error object per element of
 * the jansson array of detail strings (MANIFEST_BLOB_UNKNOWN x N). */
void resp_errors(struct req *r, enum reg_err err, void *details);

/* resp_clear_headers -- forget the headers set so far. */
void resp_clear_headers(struct req *r);

/* reg_err_status -- the HTTP status of err (for logs and tests). */
int reg_err_status(enum reg_err err);

#endif
