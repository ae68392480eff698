/* response.h -- writing responses, and the one table of registry errors.
 *
 * A handler sets headers with resp_header(), then sends with resp_send()
 * (whole body in memory), resp_begin()+resp_write() (streamed body), or
 * returns an enum reg_err (reg_err.h) and lets dispatch() write the error
 * through resp_error().  Handlers never write an error themselves: the
 * table in response.c maps each reg_err to its HTTP status, OCI error
 * code and message (oci-spec.md 9).
 *
 * Success and error headers are kept apart: resp_header() and
 * resp_location() set headers of the success response only, and an
 * error drops them all, so that no Cache-Control, ETag,
 * Docker-Content-Digest, Location or Content-Range meant for a success
 * ever rides on an error (a cache would keep a 416 for a year).  What
 * an error needs -- Content-Range on a blob 416, Location, Range and
 * Docker-Upload-UUID on an upload 416 (oci-spec.md 4.3, DAPI), Allow on
 * a 405, WWW-Authenticate on a 401 -- a handler sets with
 * resp_error_header() before returning the error, with the detail of
 * resp_detail() or resp_details().  Every response carries
 * Docker-Distribution-API-Version: registry/2.0; errors carry the JSON
 * envelope {"errors":[{"code","message","detail"}]} with its
 * Content-Type and Content-Length, and nothing else (the body is left
 * out on HEAD). */
#ifndef BERTH_RESPONSE_H
#define BERTH_RESPONSE_H

#include <stddef.h>

#include "reg_err.h"
#include "request.h"

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
 * Content-Type (NULL: application/json).  Steals the reference.  E_OK,
 * or E_INTERNAL when it could not be encoded (nothing was sent: return
 * it, dispatch answers). */
enum reg_err resp_send_json(struct req *r, int status, const char *content_type,
    void *json);

/* resp_begin -- send status and headers now; the body follows through
 * resp_write().  The caller sets Content-Length itself. */
int resp_begin(struct req *r, int status);

/* resp_write -- body bytes after resp_begin().  0, or -1 when the client
 * is gone. */
int resp_write(struct req *r, const void *buf, size_t len);

/* resp_error_header -- add "Name: value" to the error response, should
 * the handler return an error; a success never carries it.  Overflow as
 * resp_header(). */
void resp_error_header(struct req *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* resp_error_location -- resp_location() for the error response. */
void resp_error_location(struct req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* resp_detail -- the "detail" string (printf-style, copied, at most
 * RESP_DETAIL_MAX bytes) of the error the handler is about to return. */
void resp_detail(struct req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* resp_details -- one error object per element of `details`, a jansson
 * array of detail strings (MANIFEST_BLOB_UNKNOWN x N); steals the
 * reference.  Wins over resp_detail(). */
void resp_details(struct req *r, void *details);

/* resp_error -- answer err: its status, the error headers, and the JSON
 * envelope with the detail(s) set; the success headers are dropped.
 * Called by dispatch() only (the one error writer).  Too late once the
 * head went out: then only logged. */
void resp_error(struct req *r, enum reg_err err);

/* reg_err_status -- the HTTP status of err (for logs and tests). */
int reg_err_status(enum reg_err err);

#endif
