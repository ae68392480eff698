/* manifest_test.c -- table-driven cmocka tests of the manifest parser
 * (cgi/manifest.c): what manifest_parse() accepts, under which media
 * type, with which references, subject, artifact type and annotations,
 * and the reason it gives for what it refuses (oci-spec.md 5.2, 6;
 * image-spec manifest.md, image-index.md, descriptor.md).  One cmocka
 * test per row, named by the row, so a failure names its input.
 * Built as $(BUILD)/unit-manifest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "manifest.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Digests are only checked for their grammar here: any will do. */
#define DA \
	"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DB \
	"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DC \
	"sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define DD \
	"sha512:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd" \
	"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"

#define MT_CONFIG	 "application/vnd.oci.image.config.v1+json"
#define MT_LAYER	 "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER	 "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* A descriptor: JSON text for mediaType mt, digest d, size 1. */
#define DESC(mt, d) "{\"mediaType\":\"" mt "\",\"digest\":\"" d "\",\"size\":1}"
/* An image manifest body with the given top-level members before config. */
#define IMAGE(extra) \
	"{\"schemaVersion\":2," extra "\"config\":" DESC(MT_CONFIG, \
	    DA) ",\"layers\":[" DESC(MT_LAYER, DB) "," DESC(MT_LAYER, DC) "]}"

/* Accepted: what manifest_parse() fills in. */
struct row {
	const char *name;	  /* lower case first: tests/run.sh counts */
	const char *content_type; /* NULL: none sent */
	const char *body;
	const char *media_type;
	const char *refs[4]; /* m.refs in order, NULL-ended */
	const char *subject;
	const char *artifact_type;
	const char *annotations; /* compact JSON */
};

struct refusal {
	const char *name;
	const char *content_type;
	const char *body;
	const char *problem; /* m.problem, the detail of the 400 */
};

static const struct row accepted[] = {
	/* --- Accepted: the media type, from where it comes. */
	{ "image manifest, type from Content-Type", MT_OCI_MANIFEST, IMAGE(""),
	    MT_OCI_MANIFEST, { DA, DB, DC }, NULL, MT_CONFIG, NULL },
	{ "image manifest, type from the body's mediaType", NULL,
	    IMAGE("\"mediaType\":\"" MT_OCI_MANIFEST "\","), MT_OCI_MANIFEST,
	    { DA, DB, DC }, NULL, MT_CONFIG, NULL },
	{ "image manifest, type inferred from its shape", NULL, IMAGE(""),
	    MT_OCI_MANIFEST, { DA, DB, DC }, NULL, MT_CONFIG, NULL },
	{ "image manifest, Content-Type parameters ignored",
	    MT_OCI_MANIFEST "; charset=utf-8",
	    IMAGE("\"mediaType\":\"" MT_OCI_MANIFEST "\","), MT_OCI_MANIFEST,
	    { DA, DB, DC }, NULL, MT_CONFIG, NULL },
	{ "image manifest with no layers member", MT_OCI_MANIFEST,
	    "{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG, DA) "}",
	    MT_OCI_MANIFEST, { DA }, NULL, MT_CONFIG, NULL },
	{ "image manifest with a sha512 layer", MT_OCI_MANIFEST,
	    "{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG,
		DA) ",\"layers\":[" DESC(MT_LAYER, DD) "]}",
	    MT_OCI_MANIFEST, { DA, DD }, NULL, MT_CONFIG, NULL },
	{ "image manifest, unknown members and config type accepted",
	    MT_OCI_MANIFEST,
	    "{\"schemaVersion\":2,\"x-extra\":[1,2],\"config\":" DESC(
		"application/vnd.example.anything", DA) ",\"layers\":[]}",
	    MT_OCI_MANIFEST, { DA }, NULL, "application/vnd.example.anything",
	    NULL },
	{ "image manifest, annotations kept as compact JSON", MT_OCI_MANIFEST,
	    IMAGE("\"annotations\": {\"org.opencontainers.image.created\": "
		  "\"2026-01-01T00:00:00Z\", \"a\": \"b\"},"),
	    MT_OCI_MANIFEST, { DA, DB, DC }, NULL, MT_CONFIG,
	    "{\"org.opencontainers.image.created\":\"2026-01-01T00:00:00Z\","
	    "\"a\":\"b\"}" },
	{ "image manifest, annotations not an object: ignored", MT_OCI_MANIFEST,
	    IMAGE("\"annotations\":[\"a\"],"), MT_OCI_MANIFEST, { DA, DB, DC },
	    NULL, MT_CONFIG, NULL },
	{ "nondistributable layer with urls: not a reference", MT_OCI_MANIFEST,
	    "{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG,
		DA) ",\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer."
		    "nondistributable.v1.tar+gzip\",\"digest\":\"" DB
		    "\",\"size\":9,"
		    "\"urls\":[\"https://example.com/layer\"]}," DESC(MT_LAYER,
			DC) "]}",
	    MT_OCI_MANIFEST, { DA, DC }, NULL, MT_CONFIG, NULL },
	{ "nondistributable layer without urls: a reference", MT_OCI_MANIFEST,
	    "{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG,
		DA) ",\"layers\":[" DESC("application/vnd.oci.image.layer."
					 "nondistributable.v1.tar+gzip",
		DB) "]}",
	    MT_OCI_MANIFEST, { DA, DB }, NULL, MT_CONFIG, NULL },
	{ "index, type from Content-Type", MT_OCI_INDEX,
	    "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\","
	    "\"manifests\":[" DESC(MT_OCI_MANIFEST,
		DB) "," DESC(MT_OCI_MANIFEST, DC) "]}",
	    MT_OCI_INDEX, { DB, DC }, NULL, NULL, NULL },
	{ "index, type inferred from manifests", NULL,
	    "{\"schemaVersion\":2,\"manifests\":[" DESC(MT_OCI_MANIFEST,
		DB) "]}",
	    MT_OCI_INDEX, { DB }, NULL, NULL, NULL },
	{ "index, empty", MT_OCI_INDEX,
	    "{\"schemaVersion\":2,\"manifests\":[]}", MT_OCI_INDEX, { NULL },
	    NULL, NULL, NULL },
	{ "index with artifactType and subject", MT_OCI_INDEX,
	    "{\"schemaVersion\":2,\"artifactType\":\"application/vnd.example.set\","
	    "\"manifests\":[" DESC(MT_OCI_MANIFEST,
		DB) "],\"subject\":" DESC(MT_OCI_MANIFEST, DA) "}",
	    MT_OCI_INDEX, { DB }, DA, "application/vnd.example.set", NULL },
	{ "docker schema 2 manifest", MT_DOCKER_V2,
	    "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_V2
	    "\",\"config\":" DESC(MT_DOCKER_CONFIG,
		DA) ",\"layers\":[" DESC(MT_DOCKER_LAYER, DB) "]}",
	    MT_DOCKER_V2, { DA, DB }, NULL, MT_DOCKER_CONFIG, NULL },
	{ "docker schema 2 manifest, type from the body", NULL,
	    "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_V2
	    "\",\"config\":" DESC(MT_DOCKER_CONFIG,
		DA) ",\"layers\":[" DESC(MT_DOCKER_LAYER, DB) "]}",
	    MT_DOCKER_V2, { DA, DB }, NULL, MT_DOCKER_CONFIG, NULL },
	{ "docker foreign layer with urls: not a reference", MT_DOCKER_V2,
	    "{\"schemaVersion\":2,\"config\":" DESC(MT_DOCKER_CONFIG,
		DA) ",\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs."
		    "foreign.diff.tar.gzip\",\"digest\":\"" DB "\",\"size\":9,"
		    "\"urls\":[\"https://example.com/l\"]}]}",
	    MT_DOCKER_V2, { DA }, NULL, MT_DOCKER_CONFIG, NULL },
	{ "docker manifest list", MT_DOCKER_LIST,
	    "{\"schemaVersion\":2,\"mediaType\":\"" MT_DOCKER_LIST "\","
	    "\"manifests\":[" DESC(MT_DOCKER_V2, DB) "]}",
	    MT_DOCKER_LIST, { DB }, NULL, NULL, NULL },
	/* --- Artifacts (oci-spec.md 6): subject and artifactType. */
	{ "artifact: artifactType, subject and annotations", MT_OCI_MANIFEST,
	    "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\","
	    "\"artifactType\":\"application/vnd.example.signature\",\"config\":" DESC(
		"application/vnd.oci.empty.v1+json",
		DA) ",\"layers\":[" DESC("application/vnd.example.sig",
		DB) "],\"subject\":" DESC(MT_OCI_MANIFEST,
		DC) ",\"annotations\":{\"k\":\"v\"}}",
	    MT_OCI_MANIFEST, { DA, DB }, DC,
	    "application/vnd.example.signature", "{\"k\":\"v\"}" },
	{ "artifact: no artifactType, so config.mediaType", MT_OCI_MANIFEST,
	    "{\"schemaVersion\":2,\"config\":" DESC(
		"application/vnd.example.sbom",
		DA) ",\"layers\":[],\"subject\":" DESC(MT_OCI_MANIFEST, DC) "}",
	    MT_OCI_MANIFEST, { DA }, DC, "application/vnd.example.sbom", NULL },
	{ "artifact: the subject is not a reference (it may dangle)",
	    MT_OCI_MANIFEST,
	    "{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG,
		DA) ",\"subject\":" DESC(MT_OCI_MANIFEST, DD) "}",
	    MT_OCI_MANIFEST, { DA }, DD, MT_CONFIG, NULL },
	{ "artifact: artifactType not a string, so config.mediaType",
	    MT_OCI_MANIFEST, IMAGE("\"artifactType\":7,"), MT_OCI_MANIFEST,
	    { DA, DB, DC }, NULL, MT_CONFIG, NULL },
};

/* Refused, each as E_MANIFEST_INVALID with this problem. */
static const struct refusal refused[] = {
	/* --- Refused: the media type. */
	{ "artifact manifest media type is not stored",
	    "application/vnd.oci.artifact.manifest.v1+json",
	    "{\"mediaType\":\"application/vnd.oci.artifact.manifest.v1+json\","
	    "\"artifactType\":\"application/vnd.example\",\"blobs\":[]}",
	    "unsupported manifest media type" },
	{ "content type application/json", "application/json", IMAGE(""),
	    "unsupported manifest media type" },
	{ "body mediaType unknown, no Content-Type", NULL,
	    IMAGE("\"mediaType\":\"application/vnd.example+json\","),
	    "unsupported manifest media type" },
	{ "body mediaType differs from Content-Type", MT_OCI_INDEX,
	    IMAGE("\"mediaType\":\"" MT_OCI_MANIFEST "\","),
	    "mediaType in the body differs from Content-Type" },
	{ "docker Content-Type, OCI body mediaType", MT_DOCKER_V2,
	    IMAGE("\"mediaType\":\"" MT_OCI_MANIFEST "\","),
	    "mediaType in the body differs from Content-Type" },
	{ "index Content-Type on a manifest without mediaType", MT_OCI_INDEX,
	    IMAGE(""), "manifests must be an array" },
	{ "manifest Content-Type on an index without mediaType",
	    MT_OCI_MANIFEST,
	    "{\"schemaVersion\":2,\"manifests\":[" DESC(MT_OCI_MANIFEST,
		DB) "]}",
	    "config is not a valid descriptor" },
	{ "content type of 256 bytes",
	    "application/vnd.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx+json",
	    IMAGE(""), "Content-Type too long" },
	/* --- Refused: the JSON and the fields. */
	{ "not JSON", MT_OCI_MANIFEST, "{\"schemaVersion\":2,",
	    "not a JSON object" },
	{ "json but an array", MT_OCI_MANIFEST, "[]", "not a JSON object" },
	{ "empty body", MT_OCI_MANIFEST, "", "not a JSON object" },
	{ "duplicate member", MT_OCI_MANIFEST,
	    "{\"schemaVersion\":2,\"schemaVersion\":2,\"config\":" DESC(
		MT_CONFIG, DA) "}",
	    "not a JSON object" },
	{ "schemaVersion missing", MT_OCI_MANIFEST,
	    "{\"config\":" DESC(MT_CONFIG, DA) "}", "schemaVersion must be 2" },
	{ "schemaVersion 1", MT_OCI_MANIFEST,
	    "{\"schemaVersion\":1,\"config\":" DESC(MT_CONFIG, DA) "}",
	    "schemaVersion must be 2" },
	{ "schemaVersion a string", MT_OCI_MANIFEST,
	    "{\"schemaVersion\":\"2\",\"config\":" DESC(MT_CONFIG, DA) "}",
	    "schemaVersion must be 2" },
	{ "config missing", MT_OCI_MANIFEST,
	    "{\"schemaVersion\":2,\"layers\":[]}",
	    "config is not a valid descriptor" },
	{ "config digest malformed", MT_OCI_MANIFEST,
	    "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_CONFIG "\","
	    "\"digest\":\"sha256:abc\",\"size\":1}}",
	    "config is not a valid descriptor" },
	{ "config digest in upper case", MT_OCI_MANIFEST,
	    "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:AAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"size\":1}}",
	    "config is not a valid descriptor" },
	{ "config size negative", MT_OCI_MANIFEST,
	    "{\"schemaVersion\":2,\"config\":{\"digest\":\"" DA
	    "\",\"size\":-1}}",
	    "config is not a valid descriptor" },
	{ "config size a string", MT_OCI_MANIFEST,
	    "{\"schemaVersion\":2,\"config\":{\"digest\":\"" DA
	    "\",\"size\":\"1\"}}",
	    "config is not a valid descriptor" },
	{ "config size missing", MT_OCI_MANIFEST,
	    "{\"schemaVersion\":2,\"config\":{\"digest\":\"" DA "\"}}",
	    "config is not a valid descriptor" },
	{ "config not an object", MT_OCI_MANIFEST,
	    "{\"schemaVersion\":2,\"config\":\"" DA "\"}",
	    "config is not a valid descriptor" },
	{ "layers not an array", MT_OCI_MANIFEST,
	    "{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG,
		DA) ",\"layers\":" DESC(MT_LAYER, DB) "}",
	    "layers must be an array" },
	{ "a layer with a bad digest", MT_OCI_MANIFEST,
	    "{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG,
		DA) ",\"layers\":[" DESC(MT_LAYER,
		DB) ",{\"digest\":\"md5:00\",\"size\":1}]}",
	    "a layer is not a valid descriptor" },
	{ "a layer that is a string", MT_OCI_MANIFEST,
	    "{\"schemaVersion\":2,\"config\":" DESC(MT_CONFIG,
		DA) ",\"layers\":[\"" DB "\"]}",
	    "a layer is not a valid descriptor" },
	{ "index without manifests", MT_OCI_INDEX, "{\"schemaVersion\":2}",
	    "manifests must be an array" },
	{ "index with manifests an object", MT_OCI_INDEX,
	    "{\"schemaVersion\":2,\"manifests\":{}}",
	    "manifests must be an array" },
	{ "index entry without size", MT_OCI_INDEX,
	    "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" DB "\"}]}",
	    "a manifests entry is not a valid descriptor" },
	{ "subject not a descriptor", MT_OCI_MANIFEST,
	    IMAGE("\"subject\":{\"digest\":\"sha256:1\",\"size\":1},"),
	    "subject is not a valid descriptor" },
	{ "subject a string", MT_OCI_MANIFEST, IMAGE("\"subject\":\"" DA "\","),
	    "subject is not a valid descriptor" },
};

static void
check_str(const char *name, const char *what, const char *got, const char *want)
{
	if (want == NULL && got == NULL)
		return;
	if (want == NULL || got == NULL || strcmp(got, want) != 0)
		fail_msg("%s: %s is \"%s\", should be \"%s\"", name, what,
		    got ? got : "(null)", want ? want : "(null)");
}

/* An accepted row: parse, then compare every field. */
static void
accept_row(void **state)
{
	const struct row *row = *state;
	struct manifest m;
	enum reg_err err;
	bool index;
	size_t n;

	err = manifest_parse((const unsigned char *)row->body,
	    strlen(row->body), row->content_type, &m);
	if (err != E_OK)
		fail_msg("%s: refused (%d): %s", row->name, (int)err,
		    m.problem);
	check_str(row->name, "problem", m.problem, "");
	check_str(row->name, "media_type", m.media_type, row->media_type);
	check_str(row->name, "subject", m.subject, row->subject);
	check_str(row->name, "artifact_type", m.artifact_type,
	    row->artifact_type);
	check_str(row->name, "annotations", m.annotations, row->annotations);
	index = strcmp(row->media_type, MT_OCI_INDEX) == 0 ||
	    strcmp(row->media_type, MT_DOCKER_LIST) == 0;
	for (n = 0; n < LEN(row->refs) && row->refs[n] != NULL; n++) {
		if (n >= m.nrefs)
			fail_msg("%s: %zu refs, should be more", row->name,
			    m.nrefs);
		check_str(row->name, "a ref", m.refs[n].digest, row->refs[n]);
		if (m.refs[n].manifest != index)
			fail_msg("%s: ref %zu has manifest = %d", row->name, n,
			    m.refs[n].manifest);
	}
	if (m.nrefs != n)
		fail_msg("%s: %zu refs, should be %zu", row->name, m.nrefs, n);
	manifest_free(&m);
	/* manifest_free leaves m empty: a second call is harmless. */
	assert_null(m.doc);
	assert_null(m.refs);
	manifest_free(&m);
}

/* A refused row: E_MANIFEST_INVALID and the reason, nothing leaked. */
static void
refuse_row(void **state)
{
	const struct refusal *row = *state;
	struct manifest m;
	enum reg_err err;

	err = manifest_parse((const unsigned char *)row->body,
	    strlen(row->body), row->content_type, &m);
	if (err != E_MANIFEST_INVALID)
		fail_msg("%s: manifest_parse gives %d, should be "
			 "E_MANIFEST_INVALID",
		    row->name, (int)err);
	check_str(row->name, "problem", m.problem, row->problem);
	manifest_free(&m);
}

int
main(void)
{
	static struct CMUnitTest tests[LEN(accepted) + LEN(refused)];
	size_t n = 0;

	for (size_t i = 0; i < LEN(accepted); i++)
		tests[n++] = (struct CMUnitTest){ accepted[i].name, accept_row,
			NULL, NULL, (void *)&accepted[i] };
	for (size_t i = 0; i < LEN(refused); i++)
		tests[n++] = (struct CMUnitTest){ refused[i].name, refuse_row,
			NULL, NULL, (void *)&refused[i] };
	return cmocka_run_group_tests_name("manifest_parse", tests, NULL, NULL);
}
