/* manifest.c -- manifest checks and references; see manifest.h. */
#include "manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

static enum reg_err
refuse(struct manifest *m, const char *why)
{
	snprintf(m->problem, sizeof(m->problem), "%s", why);
	return E_MANIFEST_INVALID;
}

/* A descriptor's digest, when it is an object with a valid digest and a
 * non-negative size. */
static const char *
descriptor_digest(json_t *d)
{
	const char *s = json_string_value(json_object_get(d, "digest"));
	json_t *size = json_object_get(d, "size");

	if (!json_is_object(d) || s == NULL ||
	    check_digest(s, strlen(s)) != DIGEST_OK || !json_is_integer(size) ||
	    json_integer_value(size) < 0)
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
	    (strstr(mt, "nondistributable") != NULL ||
		strstr(mt, "foreign") != NULL);
}

/* Is an index entry a manifest?  The image-spec says to ignore entries
 * of media types one does not know (image-index.md, "manifests"); real
 * indexes carry blobs there: BuildKit's registry cache lists its layers
 * and an application/vnd.buildkit.cacheconfig.v0 blob.  So an entry is
 * a child manifest when its media type is a manifest's (or absent, as
 * old clients write it), and otherwise a blob, which must then be in the
 * repository like a layer and is kept by gc like one. */
static bool
manifest_entry(json_t *d)
{
	const char *mt = json_string_value(json_object_get(d, "mediaType"));

	return mt == NULL || strcmp(mt, MT_OCI_MANIFEST) == 0 ||
	    strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_V2) == 0 ||
	    strcmp(mt, MT_DOCKER_LIST) == 0;
}

static enum reg_err
pick_media_type(struct manifest *m, const char *ct)
{
	const char *body_mt = json_string_value(
	    json_object_get(m->doc, "mediaType"));
	size_t n = 0, cap = sizeof(m->media_type);

	while (ct != NULL && ct[n] != '\0' && ct[n] != ';' && ct[n] != ' ')
		n++;
	if (n >= cap)
		return refuse(m, "Content-Type too long");
	if (n > 0) {
		memcpy(m->media_type, ct, n);
		m->media_type[n] = '\0';
		if (body_mt != NULL && strcmp(body_mt, m->media_type) != 0)
			return refuse(m,
			    "mediaType in the body differs from "
			    "Content-Type");
	} else if (body_mt != NULL && strlen(body_mt) < cap) {
		strcpy(m->media_type, body_mt);
	} else if (json_object_get(m->doc, "manifests") != NULL) {
		strcpy(m->media_type, MT_OCI_INDEX);
	} else {
		strcpy(m->media_type, MT_OCI_MANIFEST);
	}
	if (strcmp(m->media_type, MT_OCI_MANIFEST) != 0 &&
	    strcmp(m->media_type, MT_OCI_INDEX) != 0 &&
	    strcmp(m->media_type, MT_DOCKER_V2) != 0 &&
	    strcmp(m->media_type, MT_DOCKER_LIST) != 0)
		return refuse(m, "unsupported manifest media type");
	return E_OK;
}

enum reg_err
manifest_parse(const unsigned char *body, size_t len, const char *content_type,
    struct manifest *m)
{
	json_t *list, *config = NULL, *d, *subject, *ann, *version;
	bool is_index;
	json_error_t jerr;
	enum reg_err err;
	size_t i;

	memset(m, 0, sizeof(*m));
	m->doc = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (!json_is_object(m->doc))
		return refuse(m, "not a JSON object");
	err = pick_media_type(m, content_type);
	if (err != E_OK)
		return err;
	is_index = strcmp(m->media_type, MT_OCI_INDEX) == 0 ||
	    strcmp(m->media_type, MT_DOCKER_LIST) == 0;
	version = json_object_get(m->doc, "schemaVersion");
	if (!json_is_integer(version) || json_integer_value(version) != 2)
		return refuse(m, "schemaVersion must be 2");
	list = json_object_get(m->doc, is_index ? "manifests" : "layers");
	if ((list != NULL && !json_is_array(list)) ||
	    (is_index && list == NULL))
		return refuse(m,
		    is_index ? "manifests must be an array" :
			       "layers must be an array");
	if (!is_index) {
		config = json_object_get(m->doc, "config");
		if (descriptor_digest(config) == NULL)
			return refuse(m, "config is not a valid descriptor");
	}
	m->refs = calloc(json_array_size(list) + 1, sizeof(*m->refs));
	if (m->refs == NULL)
		return E_INTERNAL;
	if (config != NULL)
		m->refs[m->nrefs++].digest = descriptor_digest(config);
	json_array_foreach(list, i, d) {
		const char *dg = descriptor_digest(d);

		if (dg == NULL)
			return refuse(m,
			    is_index ? "a manifests entry is not a "
				       "valid descriptor" :
				       "a layer is not a valid descriptor");
		if (!is_index && external_layer(d))
			continue;
		m->refs[m->nrefs].digest = dg;
		m->refs[m->nrefs++].manifest = is_index && manifest_entry(d);
	}
	subject = json_object_get(m->doc, "subject");
	if (subject != NULL) {
		m->subject = descriptor_digest(subject);
		if (m->subject == NULL)
			return refuse(m, "subject is not a valid descriptor");
	}
	m->artifact_type = json_string_value(
	    json_object_get(m->doc, "artifactType"));
	if (m->artifact_type == NULL && config != NULL)
		m->artifact_type = json_string_value(
		    json_object_get(config, "mediaType"));
	ann = json_object_get(m->doc, "annotations");
	if (json_is_object(ann)) {
		m->annotations = json_dumps(ann, JSON_COMPACT);
		if (m->annotations == NULL)
			return E_INTERNAL;
	}
	return E_OK;
}

void
manifest_free(struct manifest *m)
{
	free(m->refs);
	free(m->annotations);
	json_decref(m->doc);
	memset(m, 0, sizeof(*m));
}
