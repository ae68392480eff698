/* manifest.h -- checking a pushed manifest and finding what it refers to.
 *
 * Pure: parses with jansson, allocates only the result, no I/O.  Called by
 * h_manifests.c on PUT; fuzzed by tests/fuzz/fuzz_manifest.c. */
#ifndef BERTH_MANIFEST_H
#define BERTH_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "meta.h"
#include "response.h"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX	"application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_V2	"application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST \
	"application/vnd.docker.distribution.manifest.list.v2+json"

struct manifest {
	json_t *doc;	       /* the parsed body; owns the strings below */
	char media_type[256];  /* what it is stored under */
	struct meta_ref *refs; /* config + layers, or child manifests */
	size_t nrefs;
	const char *subject;	   /* subject digest, or NULL */
	const char *artifact_type; /* artifactType, else config.mediaType */
	char *annotations;	   /* top-level annotations as JSON text */
	char problem[160];	   /* why it was refused, for the client */
};

/* manifest_parse -- check body[0..len) as a manifest pushed with
 * Content-Type content_type (may be NULL; parameters are ignored) and
 * fill m.  The media type is Content-Type, else the body's mediaType, else
 * inferred from the shape; it must be an OCI image manifest or index or a
 * Docker schema 2 manifest or manifest list, and agree with the body's
 * mediaType (oci-spec.md 5.2).  Unknown fields and media types of configs,
 * layers and artifacts are accepted; non-distributable layers with urls
 * are not listed in refs.  Returns E_OK, or E_MANIFEST_INVALID with
 * m->problem set.  Always call manifest_free(m) afterwards. */
enum reg_err manifest_parse(const unsigned char *body, size_t len,
    const char *content_type, struct manifest *m);

void manifest_free(struct manifest *m);

#endif
