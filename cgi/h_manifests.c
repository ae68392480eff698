/* h_manifests.c -- GET, HEAD, PUT and DELETE
 * /v2/<name>/manifests/<reference> (oci-spec.md end-3, end-7, end-9,
 * section 5).
 *
 * Manifests are stored byte for byte with the media type they were pushed
 * with and served back unchanged whatever the Accept header says (a
 * client that cannot use the stored type can tell from Content-Type;
 * hiding it would be worse, oci-spec.md 5.3).  On PUT the body is parsed
 * with jansson only to check it and to find what it references: the
 * config and layers of an image manifest, or the children of an index,
 * must already be in the repository (else MANIFEST_BLOB_UNKNOWN, one per
 * missing digest); `subject` may dangle and is indexed for the referrers
 * API. */
#include "handlers.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "digest.h"
#include "meta.h"

#define MANIFEST_MAX (4 * 1024 * 1024)	/* bytes; oci-spec.md 5.2 */

#define MT_OCI_MANIFEST	"application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX	"application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_V2	"application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST	"application/vnd.docker.distribution.manifest.list.v2+json"

static bool
is_digest_ref(const char *reference)
{
	return strchr(reference, ':') != NULL;
}

static enum reg_err
get_manifest(struct req *r)
{
	struct meta_manifest m;
	enum meta_err e;

	e = meta_manifest_get(r->name, r->arg, is_digest_ref(r->arg),
	    r->method_bit == M_GET, &m);
	if (e == META_NOTFOUND)
		return E_MANIFEST_UNKNOWN;
	if (e != META_OK)
		return E_INTERNAL;
	resp_header(r, "Content-Type", "%s", m.media_type);
	resp_header(r, "Docker-Content-Digest", "%s", m.digest);
	resp_header(r, "ETag", "\"%s\"", m.digest);
	resp_send(r, 200, m.body, (size_t)m.size);
	free(m.body);
	return E_OK;
}

/* A descriptor's digest, when it is an object with a valid one. */
static const char *
descriptor_digest(json_t *d)
{
	const char *s = json_string_value(json_object_get(d, "digest"));

	if (!json_is_object(d) || s == NULL ||
	    check_digest(s, strlen(s)) != DIGEST_OK ||
	    !json_is_integer(json_object_get(d, "size")) ||
	    json_integer_value(json_object_get(d, "size")) < 0)
		return NULL;
	return s;
}

/* A layer the registry need not hold: non-distributable ("foreign")
 * content with URLs to fetch it from (oci-spec.md 5.2). */
static bool
external_layer(json_t *d)
{
	const char *mt = json_string_value(json_object_get(d, "mediaType"));
	json_t *urls = json_object_get(d, "urls");

	return mt != NULL && json_is_array(urls) && json_array_size(urls) > 0 &&
	    (strstr(mt, "nondistributable") != NULL || strstr(mt, "foreign") != NULL);
}

/* The media type the manifest is stored under: Content-Type without
 * parameters, else the body's mediaType, else inferred from the shape. */
static enum reg_err
media_type(struct req *r, json_t *doc, char *out, size_t cap)
{
	const char *body_mt = json_string_value(json_object_get(doc, "mediaType"));
	const char *ct = r->content_type;
	size_t n = 0;

	if (ct != NULL) {
		while (ct[n] != '\0' && ct[n] != ';' && ct[n] != ' ')
			n++;
	}
	if (n > 0 && n < cap) {
		memcpy(out, ct, n);
		out[n] = '\0';
		if (body_mt != NULL && strcmp(body_mt, out) != 0)
			return E_MANIFEST_INVALID;
	} else if (body_mt != NULL && strlen(body_mt) < cap) {
		strcpy(out, body_mt);
	} else if (json_object_get(doc, "manifests") != NULL) {
		snprintf(out, cap, "%s", MT_OCI_INDEX);
	} else {
		snprintf(out, cap, "%s", MT_OCI_MANIFEST);
	}
	if (strcmp(out, MT_OCI_MANIFEST) != 0 && strcmp(out, MT_OCI_INDEX) != 0 &&
	    strcmp(out, MT_DOCKER_V2) != 0 && strcmp(out, MT_DOCKER_LIST) != 0)
		return E_MANIFEST_INVALID;
	return E_OK;
}

/* Check the parsed manifest and fill p's references, subject, artifact
 * type and annotations.  p->refs is malloc'd; *annotations too. */
static enum reg_err
inspect(json_t *doc, const char *mt, struct meta_manifest_put *p,
    char **annotations)
{
	bool is_index = strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0;
	json_t *list, *config = NULL, *d, *subject, *ann;
	struct meta_ref *refs;
	size_t i, n = 0;

	if (!json_is_integer(json_object_get(doc, "schemaVersion")) ||
	    json_integer_value(json_object_get(doc, "schemaVersion")) != 2)
		return E_MANIFEST_INVALID;
	list = json_object_get(doc, is_index ? "manifests" : "layers");
	if (list != NULL && !json_is_array(list))
		return E_MANIFEST_INVALID;
	if (is_index && list == NULL)
		return E_MANIFEST_INVALID;
	if (!is_index) {
		config = json_object_get(doc, "config");
		if (descriptor_digest(config) == NULL)
			return E_MANIFEST_INVALID;
	}
	refs = calloc(json_array_size(list) + 1, sizeof(*refs));
	if (refs == NULL)
		return E_INTERNAL;
	if (config != NULL)
		refs[n++].digest = descriptor_digest(config);
	json_array_foreach(list, i, d) {
		const char *dg = descriptor_digest(d);

		if (dg == NULL) {
			free(refs);
			return E_MANIFEST_INVALID;
		}
		if (!is_index && external_layer(d))
			continue;
		refs[n].digest = dg;
		refs[n++].manifest = is_index;
	}
	p->refs = refs;
	p->nrefs = n;

	subject = json_object_get(doc, "subject");
	if (subject != NULL) {
		p->subject = descriptor_digest(subject);
		if (p->subject == NULL) {
			free(refs);
			return E_MANIFEST_INVALID;
		}
	}
	p->artifact_type = json_string_value(json_object_get(doc, "artifactType"));
	if (p->artifact_type == NULL && config != NULL)
		p->artifact_type = json_string_value(json_object_get(config,
		    "mediaType"));
	ann = json_object_get(doc, "annotations");
	*annotations = json_is_object(ann) ? json_dumps(ann, JSON_COMPACT) : NULL;
	p->annotations = *annotations;
	return E_OK;
}

static enum reg_err
put_manifest(struct req *r)
{
	struct meta_manifest_put p = { 0 };
	char digest[DIGEST_STR_MAX], mt[256], *annotations = NULL;
	unsigned char *body = NULL;
	json_t *doc = NULL, *missing = NULL;
	enum reg_err err;
	enum meta_err me;
	json_error_t jerr;
	size_t len;
	int rc;

	rc = req_read_all(r, MANIFEST_MAX, &body, &len);
	if (rc > 0)
		return E_MANIFEST_TOO_LARGE;
	if (rc < 0)
		return E_SIZE_INVALID;
	/* The digest of the exact bytes, in the algorithm of the reference
	 * when pushed by digest. */
	digest_buf(is_digest_ref(r->arg) ? digest_alg_of(r->arg) : DIGEST_SHA256,
	    body, len, digest);
	err = E_DIGEST_INVALID;
	if (is_digest_ref(r->arg) && strcmp(digest, r->arg) != 0)
		goto out;
	err = E_MANIFEST_INVALID;
	doc = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(doc))
		goto out;
	err = media_type(r, doc, mt, sizeof(mt));
	if (err != E_OK)
		goto out;
	err = inspect(doc, mt, &p, &annotations);
	if (err != E_OK)
		goto out;
	p.repo = r->name;
	p.tag = is_digest_ref(r->arg) ? NULL : r->arg;
	p.digest = digest;
	p.media_type = mt;
	p.body = body;
	p.size = len;
	me = meta_manifest_put(&p, &missing);
	if (me == META_MISSING) {
		resp_errors(r, E_MANIFEST_BLOB_UNKNOWN, missing);
		err = E_OK;
		goto out;
	}
	err = E_INTERNAL;
	if (me != META_OK)
		goto out;
	resp_location(r, "/v2/%s/manifests/%s", r->name, digest);
	resp_header(r, "Docker-Content-Digest", "%s", digest);
	if (p.subject != NULL)
		resp_header(r, "OCI-Subject", "%s", p.subject);
	resp_send(r, 201, NULL, 0);
	err = E_OK;
out:
	json_decref(missing);
	free((void *)p.refs);
	free(annotations);
	json_decref(doc);
	free(body);
	return err;
}

static enum reg_err
delete_manifest(struct req *r)
{
	enum meta_err e;

	if (is_digest_ref(r->arg))
		e = meta_manifest_delete(r->name, r->arg);
	else
		e = meta_tag_delete(r->name, r->arg);
	if (e == META_NOTFOUND)
		return E_MANIFEST_UNKNOWN;
	if (e != META_OK)
		return E_INTERNAL;
	resp_send(r, 202, NULL, 0);
	return E_OK;
}

enum reg_err
h_manifest(struct req *r)
{
	switch (r->method_bit) {
	case M_PUT:
		return put_manifest(r);
	case M_DELETE:
		return delete_manifest(r);
	default:
		return get_manifest(r);
	}
}
