/* h_uploads.c -- blob uploads (oci-spec.md section 4; end-4a/4b/4c, 5,
 * 6, 11, 13, 14):
 *   POST   /v2/<name>/blobs/uploads/                 start a session
 *   POST   /v2/<name>/blobs/uploads/?digest=         the whole blob at once
 *   POST   /v2/<name>/blobs/uploads/?mount=&from=    cross-repository mount
 *   PATCH  /v2/<name>/blobs/uploads/<id>             a chunk, or a stream
 *   PUT    /v2/<name>/blobs/uploads/<id>?digest=     close, maybe with a chunk
 *   GET    /v2/<name>/blobs/uploads/<id>             progress
 *   DELETE /v2/<name>/blobs/uploads/<id>             cancel
 * The session's Location never changes, so every earlier Location stays
 * valid; a chunk that does not start at the session's end gets 416 and
 * changes nothing.  The work is in store/upload.c. */
#include "handlers.h"

#include <string.h>

#include "meta.h"
#include "upload.h"

static ssize_t
read_body(void *ctx, void *buf, size_t n)
{
	return req_read(ctx, buf, n);
}

static enum reg_err
upload_error(enum upload_err e)
{
	switch (e) {
	case UP_OK:
		return E_OK;
	case UP_UNKNOWN:
		return E_BLOB_UPLOAD_UNKNOWN;
	case UP_SHORT:
	case UP_SIZE:
		return E_SIZE_INVALID;
	case UP_DIGEST:
		return E_DIGEST_INVALID;
	case UP_NOSPC:
		return E_STORAGE_FULL;
	case UP_READONLY:
		return E_UNSUPPORTED;
	case UP_UNAVAILABLE:
		return E_UNAVAILABLE;
	case UP_IO:
		break;
	}
	return E_INTERNAL;
}

/* Upload progress: "0-<last byte>", and "0-0" before the first byte (the
 * Distribution convention clients parse; oci-spec.md 3, Range). */
static void
progress_headers(struct req *r, const struct meta_upload *m)
{
	resp_location(r, "/v2/%s/blobs/uploads/%s", r->name, m->uuid);
	resp_header(r, "Range", "0-%llu",
	    (unsigned long long)(m->size ? m->size - 1 : 0));
	resp_header(r, "Docker-Upload-UUID", "%s", m->uuid);
}

void
blob_created(struct req *r, const char *digest)
{
	resp_location(r, "/v2/%s/blobs/%s", r->name, digest);
	resp_header(r, "Docker-Content-Digest", "%s", digest);
	resp_send(r, 201, NULL, 0);
}

/* The ?digest= parameter, validated into out. */
static enum reg_err
digest_param(struct req *r, char out[DIGEST_STR_MAX])
{
	if (req_query(r, "digest", out, DIGEST_STR_MAX) != Q_OK ||
	    check_digest(out, strlen(out)) != DIGEST_OK)
		return E_DIGEST_INVALID;
	return E_OK;
}

/* POST ?mount=<digest>&from=<repo>: 201 when `from` links the blob;
 * otherwise the caller starts an ordinary session (*mounted stays false). */
static enum reg_err
try_mount(struct req *r, const char *digest, bool *mounted)
{
	char from[NAME_MAX_LEN + 1];
	uint64_t size;
	enum meta_err me;

	*mounted = false;
	if (check_digest(digest, strlen(digest)) != DIGEST_OK)
		return E_DIGEST_INVALID;
	switch (req_query(r, "from", from, sizeof(from))) {
	case Q_ABSENT:
		return E_OK;		/* no automatic mount: a session */
	case Q_BAD:
		return E_NAME_INVALID;
	case Q_OK:
		break;
	}
	if (!valid_name(from, strlen(from)))
		return E_NAME_INVALID;
	me = meta_blob_mount(r->name, from, digest, &size);
	if (me == META_FULL)
		return E_STORAGE_FULL;
	if (me == META_ERR)
		return E_INTERNAL;
	if (me == META_OK) {
		blob_created(r, digest);
		*mounted = true;
	}
	return E_OK;
}

/* POST ?digest=: the whole blob in this one request. */
static enum reg_err
monolithic(struct req *r, const char *digest)
{
	struct upload u;
	enum upload_err e;
	uint64_t size;

	e = upload_start(r->store, r->name, digest_alg_of(digest), false,
	    &u);
	if (e != UP_OK)
		return upload_error(e);
	e = upload_append(&u, read_body, r, UPLOAD_ANY_LENGTH);
	if (e == UP_OK)
		e = upload_finish(&u, digest, &size);
	if (e != UP_OK)
		upload_cancel(&u);
	upload_close(&u);
	if (e != UP_OK)
		return upload_error(e);
	blob_created(r, digest);
	return E_OK;
}

enum reg_err
h_upload_start(struct req *r)
{
	char digest[DIGEST_STR_MAX], algname[16];
	enum digest_alg alg = DIGEST_SHA256;
	struct upload u;
	enum upload_err e;
	enum reg_err err;
	bool mounted;

	enum query_result q;

	q = req_query(r, "mount", digest, sizeof(digest));
	if (q == Q_BAD)
		return E_DIGEST_INVALID;
	if (q == Q_OK) {
		err = try_mount(r, digest, &mounted);
		if (err != E_OK || mounted)
			return err;
	} else if (req_query(r, "digest", digest, sizeof(digest)) != Q_ABSENT) {
		if (digest_param(r, digest) != E_OK)
			return E_DIGEST_INVALID;
		return monolithic(r, digest);
	}
	q = req_query(r, "digest-algorithm", algname, sizeof(algname));
	if (q == Q_BAD || (q == Q_OK && !digest_alg_parse(algname, &alg)))
		return E_DIGEST_INVALID;
	e = upload_start(r->store, r->name, alg, true, &u);
	if (e != UP_OK)
		return upload_error(e);
	upload_close(&u);
	progress_headers(r, &u.m);
	resp_send(r, 202, NULL, 0);
	return E_OK;
}

/* A chunk must start exactly at the session's end (oci-spec.md 4.3); its
 * Content-Range span must equal its Content-Length, or, sent chunked, the
 * length of the body (*expect, checked as it is read). */
static enum reg_err
check_chunk(struct req *r, const struct meta_upload *m, uint64_t *expect)
{
	uint64_t start, end;

	*expect = UPLOAD_ANY_LENGTH;
	if (r->content_range == NULL)
		return E_OK;		/* a streamed body: appended as it comes */
	if (!parse_content_range(r->content_range, &start, &end) ||
	    start != m->size) {
		progress_headers(r, m);
		return E_RANGE_INVALID;
	}
	if (r->content_length >= 0 &&
	    (uint64_t)r->content_length != end - start + 1)
		return E_SIZE_INVALID;
	*expect = end - start + 1;
	return E_OK;
}

static enum reg_err
patch(struct req *r, struct upload *u)
{
	enum upload_err e;
	enum reg_err err;
	uint64_t expect;

	err = check_chunk(r, &u->m, &expect);
	if (err != E_OK)
		return err;
	e = upload_append(u, read_body, r, expect);
	if (e != UP_OK)
		return upload_error(e);
	progress_headers(r, &u->m);
	resp_send(r, 202, NULL, 0);
	return E_OK;
}

static enum reg_err
put(struct req *r, struct upload *u)
{
	char digest[DIGEST_STR_MAX];
	enum reg_err err;
	enum upload_err e;
	uint64_t size, expect;

	err = digest_param(r, digest);
	if (err != E_OK)
		return err;
	err = check_chunk(r, &u->m, &expect);
	if (err != E_OK)
		return err;
	e = upload_append(u, read_body, r, expect);
	if (e == UP_OK)
		e = upload_finish(u, digest, &size);
	if (e != UP_OK)
		return upload_error(e);
	blob_created(r, digest);
	return E_OK;
}

enum reg_err
h_upload(struct req *r)
{
	struct meta_upload m;
	struct upload u;
	enum upload_err e;
	enum meta_err me;
	enum reg_err err;

	if (r->method_bit & (M_GET | M_HEAD)) {
		me = meta_upload_get(r->name, r->arg, r->store->upload_expiry, &m);
		if (me != META_OK)
			return me == META_NOTFOUND ? E_BLOB_UPLOAD_UNKNOWN : E_INTERNAL;
		progress_headers(r, &m);
		resp_send(r, 204, NULL, 0);
		return E_OK;
	}
	e = upload_open(r->store, r->name, r->arg, &u);
	if (e != UP_OK)
		return upload_error(e);
	switch (r->method_bit) {
	case M_PATCH:
		err = patch(r, &u);
		break;
	case M_PUT:
		err = put(r, &u);
		break;
	default:		/* M_DELETE: cancel */
		err = upload_error(upload_cancel(&u));
		if (err == E_OK)
			resp_send(r, 204, NULL, 0);
		break;
	}
	upload_close(&u);
	return err;
}
