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
	bool filter = QUERY_HAS(&r->q, QK_ARTIFACT_TYPE);
	json_t *list = json_array();
	enum meta_err me;

	me = meta_referrers(r->name, r->arg, filter ? r->q.artifact_type : NULL,
	    list);
	if (me != META_OK) {
		json_decref(list);
		return reg_err_of_meta(me, E_INTERNAL);
	}
	if (filter)
		resp_header(r, "OCI-Filters-Applied", "artifactType");
	return resp_send_json(r, 200, MT_OCI_INDEX, json_pack("{s:i,s:s,s:o}",
	    "schemaVersion", 2, "mediaType", MT_OCI_INDEX, "manifests", list));
}
