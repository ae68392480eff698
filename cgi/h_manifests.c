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
 * API.  A PUT may carry ?tag=a&tag=b (end-7b, up to QUERY_TAGS_MAX, each
 * a valid tag, else 400 TAG_INVALID or 414 before anything is stored):
 * they are applied with the manifest in one metadata transaction and
 * listed back in one OCI-Tag header. */
#include "handlers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "manifest.h"
#include "meta.h"
#include "pub.h"

#define MANIFEST_MAX ((size_t)4 * 1024 * 1024) /* bytes; oci-spec.md 5.2 */

static bool
is_digest_ref(const char *reference)
{
	return strchr(reference, ':') != NULL;
}

enum reg_err
h_manifest_get(struct req *r)
{
	struct meta_manifest m;
	enum meta_err e;

	e = meta_manifest_get(r->name, r->arg, is_digest_ref(r->arg),
	    r->method_bit == M_GET, &m);
	if (e != META_OK)
		return reg_err_of_meta(e, E_MANIFEST_UNKNOWN);
	resp_header(r, "Content-Type", "%s", m.media_type);
	resp_header(r, "Docker-Content-Digest", "%s", m.digest);
	resp_header(r, "ETag", "\"%s\"", m.digest);
	resp_send(r, 200, m.body, (size_t)m.size);
	free(m.body);
	return E_OK;
}

/* The ?tag= values of r without repeats and without the path's tag
 * (path_tag, NULL when pushed by digest), into tags[] (room for
 * QUERY_TAGS_MAX; pointers into r->q); their count. */
static size_t
query_tags(const struct req *r, const char *path_tag, const char **tags)
{
	size_t n = 0;

	for (size_t i = 0; i < r->q.ntags; i++) {
		const char *t = r->q.tags[i];
		bool seen = path_tag != NULL && strcmp(t, path_tag) == 0;

		for (size_t j = 0; j < n && !seen; j++)
			seen = strcmp(t, tags[j]) == 0;
		if (!seen)
			tags[n++] = t;
	}
	return n;
}

/* OCI-Tag: every tag the PUT applied, comma-separated (oci-spec.md
 * end-7b allows one header with a list); sent when ?tag= was given. */
static void
oci_tag_header(struct req *r, const char *path_tag, const char **tags, size_t n)
{
	char list[(TAG_MAX_LEN + 1) * (QUERY_TAGS_MAX + 1) + 1];
	size_t used = 0;

	list[0] = '\0';
	for (size_t i = 0; i <= n; i++) {
		const char *t = i == 0 ? path_tag : tags[i - 1];
		int w;

		if (t == NULL)
			continue;
		w = snprintf(list + used, sizeof(list) - used, "%s%s",
		    used > 0 ? "," : "", t);
		if (w < 0 || (size_t)w >= sizeof(list) - used)
			break; /* cannot happen: room for them all */
		used += (size_t)w;
	}
	resp_header(r, "OCI-Tag", "%s", list);
}

enum reg_err
h_manifest_put(struct req *r)
{
	const char *tags[QUERY_TAGS_MAX];
	struct meta_manifest_put p = { 0 };
	struct manifest m = { 0 };
	char digest[DIGEST_STR_MAX];
	unsigned char *body = NULL;
	json_t *missing = NULL;
	enum reg_err err;
	enum meta_err me;
	size_t len;
	int rc;

	rc = req_read_all(r, MANIFEST_MAX, &body, &len);
	if (rc > 0)
		return E_MANIFEST_TOO_LARGE;
	if (rc < 0)
		return E_SIZE_INVALID;
	/* The digest of the exact bytes, in the algorithm of the reference
	 * when pushed by digest. */
	digest_buf(is_digest_ref(r->arg) ? digest_alg_of(r->arg) :
					   DIGEST_SHA256,
	    body, len, digest);
	err = E_DIGEST_INVALID;
	if (is_digest_ref(r->arg) && strcmp(digest, r->arg) != 0)
		goto out;
	err = manifest_parse(body, len, r->content_type, &m);
	if (err == E_MANIFEST_INVALID && m.problem[0] != '\0')
		resp_detail(r, "%s", m.problem);
	if (err != E_OK)
		goto out;
	p.repo = r->name;
	p.tag = is_digest_ref(r->arg) ? NULL : r->arg;
	p.digest = digest;
	p.media_type = m.media_type;
	p.body = body;
	p.size = len;
	p.subject = m.subject;
	p.artifact_type = m.artifact_type;
	p.annotations = m.annotations;
	p.refs = m.refs;
	p.nrefs = m.nrefs;
	p.ntags = query_tags(r, p.tag, tags);
	p.tags = p.ntags > 0 ? tags : NULL;
	me = meta_manifest_put(&p, &missing);
	if (me == META_MISSING) {
		resp_details(r, missing); /* one error per digest */
		missing = NULL;
	}
	err = reg_err_of_meta(me, E_INTERNAL);
	if (err != E_OK)
		goto out;
	pub_manifest_added(r->store, r->name, digest, body, len);
	resp_location(r, "/v2/%s/manifests/%s", r->name, digest);
	resp_header(r, "Docker-Content-Digest", "%s", digest);
	if (m.subject != NULL)
		resp_header(r, "OCI-Subject", "%s", m.subject);
	if (QUERY_HAS(&r->q, QK_TAG))
		oci_tag_header(r, p.tag, tags, p.ntags);
	resp_send(r, 201, NULL, 0);
	err = E_OK;
out:
	json_decref(missing);
	manifest_free(&m);
	free(body);
	return err;
}

enum reg_err
h_manifest_delete(struct req *r)
{
	enum meta_err e;

	if (is_digest_ref(r->arg)) {
		/* The web server's file goes first and again after (pub.h). */
		pub_manifest_removed(r->store, r->name, r->arg);
		e = meta_manifest_delete(r->name, r->arg);
		pub_manifest_removed(r->store, r->name, r->arg);
	} else
		e = meta_tag_delete(r->name, r->arg);
	if (e != META_OK)
		return reg_err_of_meta(e, E_MANIFEST_UNKNOWN);
	resp_send(r, 202, NULL, 0);
	return E_OK;
}
