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

/* The OCI descriptor of one referrer (oci-spec.md 6.2): mediaType,
 * digest, size, then artifactType and annotations when it has them.  A
 * new object; NULL when out of memory. */
static json_t *
referrer_descriptor(const struct meta_referrer *r)
{
	json_t *d = json_pack("{s:s, s:s, s:I}", "mediaType", r->media_type,
	    "digest", r->digest, "size", (json_int_t)r->size);

	if (d == NULL)
		return NULL;
	if (r->artifact_type != NULL)
		json_object_set_new(d, "artifactType",
		    json_string(r->artifact_type));
	if (r->annotations != NULL) {
		json_t *a = json_loads(r->annotations, 0, NULL);

		if (a != NULL)
			json_object_set_new(d, "annotations", a);
	}
	return d;
}

enum reg_err
h_referrers(struct req *r)
{
	bool filter = QUERY_HAS(&r->q, QK_ARTIFACT_TYPE);
	struct meta_referrer *rows;
	enum meta_err me;
	json_t *list;
	size_t n;

	me = meta_referrers(r->name, r->arg, filter ? r->q.artifact_type : NULL,
	    &rows, &n);
	if (me != META_OK)
		return reg_err_of_meta(me, E_INTERNAL);
	list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, referrer_descriptor(&rows[i]));
	meta_referrers_free(rows, n);
	if (filter)
		resp_header(r, "OCI-Filters-Applied", "artifactType");
	return resp_send_json(r, 200, MT_OCI_INDEX,
	    json_pack("{s:i,s:s,s:o}", "schemaVersion", 2, "mediaType",
		MT_OCI_INDEX, "manifests", list));
}
