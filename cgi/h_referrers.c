/* h_referrers.c -- GET /v2/<name>/referrers/<digest>[?artifactType=]
 * (oci-spec.md end-12a/12b, 6.2).  Always 200 with an OCI image index
 * listing the manifests in the repository whose subject is <digest> --
 * empty for an unknown digest or repository, since a 404 would tell
 * clients the API is missing.  Filtering by artifactType is announced
 * with OCI-Filters-Applied. */
#include "handlers.h"

#include <jansson.h>

#include "meta.h"

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"

enum reg_err
h_referrers(struct req *r)
{
	char artifact_type[256];
	enum query_result q = req_query(r, "artifactType", artifact_type,
	    sizeof(artifact_type));
	bool filter = q == Q_OK && artifact_type[0] != '\0';
	json_t *list;

	if (q == Q_BAD)
		return E_BAD_REQUEST;
	list = json_array();

	if (meta_referrers(r->name, r->arg, filter ? artifact_type : NULL,
	    list) != META_OK) {
		json_decref(list);
		return E_INTERNAL;
	}
	if (filter)
		resp_header(r, "OCI-Filters-Applied", "artifactType");
	resp_send_json(r, 200, MT_OCI_INDEX, json_pack("{s:i,s:s,s:o}",
	    "schemaVersion", 2, "mediaType", MT_OCI_INDEX, "manifests", list));
	return E_OK;
}
