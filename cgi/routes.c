/* routes.c -- the one table of the registry's endpoints (router.h).
 *
 * One row per path shape and group of methods: what the row declares is
 * all dispatch() needs to refuse a request before its handler runs
 * (405 with Allow, a bad name or argument, read-only, deletes disabled,
 * a malformed query value), and the handler only does the work.
 *
 * Query keys: each row lists the keys its handler reads, with a check.
 * A declared key with a malformed value is refused with that check's
 * error; an undeclared key is ignored, not refused, because real clients
 * send keys we do not read (docker's `_state`, `ns=` through a mirror,
 * a `digest=` where none is needed), and refusing them would break pulls
 * and pushes for no safety gained: nothing ever reads an undeclared key.
 * Called by dispatch.c. */
#include "router.h"

#include "handlers.h"

#define W_PUT (RF_WRITES | RF_STORES | RF_BODY) /* stores bytes */

static const struct route routes[] = {
	{ .id = ROUTE_BASE,
	    .methods = M_GET | M_HEAD,
	    .action = ACT_NONE,
	    .name = "base",
	    .handler = h_base },
	{ .id = ROUTE_CATALOG,
	    .methods = M_GET | M_HEAD,
	    .action = ACT_PULL,
	    .query = { { QK_N, QC_COUNT, 0 },
		{ QK_LAST, QC_NAME, QF_EMPTY_IS_ABSENT } },
	    .name = "catalog",
	    .handler = h_catalog },
	{ .id = ROUTE_TAGS,
	    .methods = M_GET | M_HEAD,
	    .action = ACT_PULL,
	    .query = { { QK_N, QC_COUNT, 0 },
		{ QK_LAST, QC_TAG, QF_EMPTY_IS_ABSENT } },
	    .name = "tags",
	    .handler = h_tags },

	{ .id = ROUTE_MANIFEST,
	    .methods = M_GET | M_HEAD,
	    .arg = ARG_REFERENCE,
	    .action = ACT_PULL,
	    .name = "manifest-get",
	    .handler = h_manifest_get },
	{ .id = ROUTE_MANIFEST,
	    .methods = M_PUT,
	    .arg = ARG_REFERENCE,
	    .flags = W_PUT,
	    .action = ACT_PUSH,
	    .name = "manifest-put",
	    .handler = h_manifest_put },
	{ .id = ROUTE_MANIFEST,
	    .methods = M_DELETE,
	    .arg = ARG_REFERENCE,
	    .flags = RF_WRITES | RF_DELETES,
	    .action = ACT_DELETE,
	    .name = "manifest-delete",
	    .handler = h_manifest_delete },

	{ .id = ROUTE_BLOB,
	    .methods = M_GET | M_HEAD,
	    .arg = ARG_DIGEST,
	    .action = ACT_PULL,
	    .name = "blob-get",
	    .handler = h_blob_get },
	{ .id = ROUTE_BLOB,
	    .methods = M_DELETE,
	    .arg = ARG_DIGEST,
	    .flags = RF_WRITES | RF_DELETES,
	    .action = ACT_DELETE,
	    .name = "blob-delete",
	    .handler = h_blob_delete },

	/* POST: a session; ?digest= the whole blob in the body; ?mount=
	 * &from= a cross-repository mount (oci-spec.md 4.1, 4.2, 4.6). */
	{ .id = ROUTE_UPLOAD_START,
	    .methods = M_POST,
	    .flags = W_PUT,
	    .action = ACT_PUSH,
	    .query = { { QK_MOUNT, QC_DIGEST, 0 }, { QK_FROM, QC_NAME, 0 },
		{ QK_DIGEST, QC_DIGEST, 0 },
		{ QK_DIGEST_ALG, QC_DIGEST_ALG, 0 } },
	    .name = "upload-start",
	    .handler = h_upload_start },
	{ .id = ROUTE_UPLOAD,
	    .methods = M_GET | M_HEAD,
	    .arg = ARG_UPLOAD_ID,
	    .action = ACT_PUSH,
	    .name = "upload-status",
	    .handler = h_upload_status },
	{ .id = ROUTE_UPLOAD,
	    .methods = M_PATCH,
	    .arg = ARG_UPLOAD_ID,
	    .flags = W_PUT,
	    .action = ACT_PUSH,
	    .name = "upload-patch",
	    .handler = h_upload_patch },
	{ .id = ROUTE_UPLOAD,
	    .methods = M_PUT,
	    .arg = ARG_UPLOAD_ID,
	    .flags = W_PUT,
	    .action = ACT_PUSH,
	    .query = { { QK_DIGEST, QC_DIGEST, QF_REQUIRED } },
	    .name = "upload-put",
	    .handler = h_upload_put },
	/* Cancelling stores nothing: allowed with a handler that cannot put. */
	{ .id = ROUTE_UPLOAD,
	    .methods = M_DELETE,
	    .arg = ARG_UPLOAD_ID,
	    .flags = RF_WRITES,
	    .action = ACT_PUSH,
	    .name = "upload-cancel",
	    .handler = h_upload_cancel },

	{ .id = ROUTE_REFERRERS,
	    .methods = M_GET | M_HEAD,
	    .arg = ARG_DIGEST,
	    .action = ACT_PULL,
	    .query = { { QK_ARTIFACT_TYPE, QC_MEDIA_TYPE,
		QF_EMPTY_IS_ABSENT } },
	    .name = "referrers",
	    .handler = h_referrers },
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

const struct route *
route_find(enum route_id id, unsigned method)
{
	for (size_t i = 0; i < NROUTES; i++)
		if (routes[i].id == id && (routes[i].methods & method))
			return &routes[i];
	return NULL;
}

unsigned
route_methods(enum route_id id)
{
	unsigned methods = 0;

	for (size_t i = 0; i < NROUTES; i++)
		if (routes[i].id == id)
			methods |= routes[i].methods;
	return methods;
}

const struct route *
route_table(size_t *n)
{
	*n = NROUTES;
	return routes;
}
