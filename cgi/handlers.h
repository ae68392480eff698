/* handlers.h -- the handlers the route table (routes.c) names.
 *
 * A handler receives a request that dispatch() checked against its row
 * of the table: route, method, repository name and argument (r->name,
 * r->arg), the declared query values (r->q) and the parsed headers
 * (r->crange, r->range, r->content_type).  It parses nothing itself.  It
 * does the work through the seams in store/, turning their errors into
 * registry errors with errors.h, and either sends a success response
 * itself or returns an enum reg_err -- with, at most, a detail
 * (resp_detail, resp_details) and the error's own headers
 * (resp_error_header) -- for dispatch() to answer.  It never writes an
 * error response. */
#ifndef BERTH_HANDLERS_H
#define BERTH_HANDLERS_H

#include "errors.h"
#include "request.h"
#include "response.h"

enum reg_err h_base(struct req *r);	       /* h_base.c: /v2/ */
enum reg_err h_catalog(struct req *r);	       /* h_tags.c: /v2/_catalog */
enum reg_err h_tags(struct req *r);	       /* h_tags.c: tags/list */
enum reg_err h_manifest_get(struct req *r);    /* h_manifests.c: GET, HEAD */
enum reg_err h_manifest_put(struct req *r);    /* h_manifests.c */
enum reg_err h_manifest_delete(struct req *r); /* h_manifests.c */
enum reg_err h_blob_get(struct req *r);	       /* h_blobs.c: GET, HEAD */
enum reg_err h_blob_delete(struct req *r);     /* h_blobs.c */
enum reg_err h_upload_start(struct req *r);    /* h_uploads.c: POST */
enum reg_err h_upload_status(struct req *r);   /* h_uploads.c: GET, HEAD */
enum reg_err h_upload_patch(struct req *r);    /* h_uploads.c */
enum reg_err h_upload_put(struct req *r);      /* h_uploads.c */
enum reg_err h_upload_cancel(struct req *r);   /* h_uploads.c: DELETE */
enum reg_err h_referrers(struct req *r);       /* h_referrers.c */
enum reg_err h_metrics(struct req *r);	       /* h_ops.c: metrics_path */
enum reg_err h_health(struct req *r);	       /* h_ops.c: health_path */

/* blob_created -- send a 201 for blob `digest` now stored in r->name:
 * Location /v2/<name>/blobs/<digest>, Docker-Content-Digest
 * (h_uploads.c; also used for a mount); first the web server's name for
 * it (store/pub.h). */
void blob_created(struct req *r, const char *digest);

#endif
