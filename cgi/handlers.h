/* handlers.h -- one handler per endpoint family, called by dispatch().
 *
 * A handler receives a request whose route, method, repository name and
 * argument were validated (r->name, r->arg; see dispatch.c), does the
 * work through the seams in store/, and either sends a success response
 * itself or returns an enum reg_err for dispatch() to answer. */
#ifndef BERTH_HANDLERS_H
#define BERTH_HANDLERS_H

#include "request.h"
#include "response.h"

enum reg_err h_base(struct req *r);		/* h_base.c: /v2/ */
enum reg_err h_catalog(struct req *r);		/* h_tags.c: /v2/_catalog */
enum reg_err h_tags(struct req *r);		/* h_tags.c: tags/list */
enum reg_err h_manifest(struct req *r);		/* h_manifests.c */
enum reg_err h_blob(struct req *r);		/* h_blobs.c */
enum reg_err h_upload_start(struct req *r);	/* h_uploads.c: POST */
enum reg_err h_upload(struct req *r);		/* h_uploads.c: session */
enum reg_err h_referrers(struct req *r);	/* h_referrers.c */

/* blob_response_location -- send a 201 for blob `digest` now stored in
 * r->name: Location /v2/<name>/blobs/<digest>, Docker-Content-Digest
 * (h_uploads.c; also used for a mount). */
void blob_created(struct req *r, const char *digest);

#endif
