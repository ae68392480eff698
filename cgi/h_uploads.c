/* h_uploads.c -- blob uploads (oci-spec.md section 4; end-4a/4b/4c, 5,
 * 6, 11, 13, 14):
 *   POST   /v2/<name>/blobs/uploads/                 start a session
 *   POST   /v2/<name>/blobs/uploads/?digest=         the whole blob at once
 *   POST   /v2/<name>/blobs/uploads/?mount=&from=    cross-repository mount
 *   POST   /v2/<name>/blobs/uploads/?mount=          the same, from anywhere
 *                                                    the caller may pull
 *   PATCH  /v2/<name>/blobs/uploads/<id>             a chunk, or a stream
 *   PUT    /v2/<name>/blobs/uploads/<id>?digest=     close, maybe with a chunk
 *   GET    /v2/<name>/blobs/uploads/<id>             progress
 *   DELETE /v2/<name>/blobs/uploads/<id>             cancel
 * The session's Location never changes, so every earlier Location stays
 * valid; a chunk that does not start at the session's end gets 416 and
 * changes nothing.  The work is in store/upload.c. */
#include "handlers.h"

#include <string.h>

#include "auth.h"
#include "meta.h"
#include "pub.h"
#include "upload.h"

static ssize_t
read_body(void *ctx, void *buf, size_t n)
{
	return req_read(ctx, buf, n);
}

/* Append the request's body to u: the file the web server received it
 * into when there is one (upload_append_spool: linked or copied in the
 * kernel), else as it is read.  The body counts as read afterwards. */
static enum upload_err
append_body(struct req *r, struct upload *u, uint64_t expect)
{
	enum upload_err e;

	if (!r->spool.open)
		return upload_append(u, read_body, r, expect);
	e = upload_append_spool(u, &r->spool, expect);
	req_body_close(r);
	return e;
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

/* The same on the 416 of a chunk out of order, so that the client can
 * resume from the session's end (DAPI; oci-spec.md 4.3). */
static void
progress_error_headers(struct req *r, const struct meta_upload *m)
{
	resp_error_location(r, "/v2/%s/blobs/uploads/%s", r->name, m->uuid);
	resp_error_header(r, "Range", "0-%llu",
	    (unsigned long long)(m->size ? m->size - 1 : 0));
	resp_error_header(r, "Docker-Upload-UUID", "%s", m->uuid);
}

void
blob_created(struct req *r, const char *digest)
{
	pub_blob_added(r->store, r->name, digest);
	resp_location(r, "/v2/%s/blobs/%s", r->name, digest);
	resp_header(r, "Docker-Content-Digest", "%s", digest);
	resp_send(r, 201, NULL, 0);
}

/* The access-control hook of the automatic mount: may the client of r
 * pull repository `repo`?  A mount without `from` may take the blob only
 * from a repository the caller could read it from anyway, or it would
 * reveal (and copy) content of repositories hidden from it.  Asked of
 * access control (cgi/auth.c: the caller's grants, as the catalog is
 * filtered), never answered by the blob's presence alone. */
static bool
mount_may_pull(struct req *r, const char *repo)
{
	json_t *one = json_pack("[s]", repo);
	bool may;

	if (one == NULL)
		return false;
	auth_filter_repositories(r, one); /* nothing when auth is off */
	may = json_array_size(one) == 1;
	json_decref(one);
	return may;
}

#define MOUNT_CANDIDATES 64 /* repositories tried by an automatic mount */

/* POST ?mount=<digest> without `from`: mount automatically (oci-spec.md
 * 4.6, "the registry MAY treat from as optional") from the first
 * repository, in name order, that links the blob and that the caller may
 * pull (mount_may_pull()).  *mounted false: no such repository among the
 * first MOUNT_CANDIDATES that link it, and the caller answers with a
 * session (202).  Each mount is re-checked in its own transaction
 * (meta_blob_mount), so a repository that loses the blob meanwhile is
 * passed over. */
static enum reg_err
auto_mount(struct req *r, bool *mounted)
{
	json_t *holders = json_array();
	enum reg_err err = E_OK;
	enum meta_err me;
	uint64_t size;
	size_t i;
	json_t *v;

	if (holders == NULL)
		return E_INTERNAL;
	me = meta_blob_holders(r->q.mount, MOUNT_CANDIDATES, holders);
	if (me != META_OK)
		err = reg_err_of_meta(me, E_INTERNAL);
	json_array_foreach(holders, i, v) {
		const char *from = json_string_value(v);

		if (err != E_OK || *mounted)
			break;
		if (!mount_may_pull(r, from))
			continue;
		me = meta_blob_mount(r->name, from, r->q.mount, &size);
		if (me == META_OK)
			*mounted = true;
		else if (me != META_NOTFOUND)
			err = reg_err_of_meta(me, E_INTERNAL);
	}
	json_decref(holders);
	return err;
}

/* POST ?mount=<digest>&from=<repo>: 201 when `from` links the blob;
 * otherwise the caller starts an ordinary session (*mounted stays false;
 * never an automatic mount from elsewhere: a client that named `from`
 * expects 202 when `from` lacks it).  Without `from`: auto_mount(). */
static enum reg_err
try_mount(struct req *r, bool *mounted)
{
	uint64_t size;
	enum meta_err me;
	enum reg_err err;

	*mounted = false;
	if (!QUERY_HAS(&r->q, QK_FROM)) {
		err = auto_mount(r, mounted);
		if (err == E_OK && *mounted)
			blob_created(r, r->q.mount);
		return err;
	}
	me = meta_blob_mount(r->name, r->q.from, r->q.mount, &size);
	if (me == META_NOTFOUND)
		return E_OK; /* not there: a session instead */
	if (me != META_OK)
		return reg_err_of_meta(me, E_INTERNAL);
	blob_created(r, r->q.mount);
	*mounted = true;
	return E_OK;
}

/* POST ?digest=: the whole blob in this one request. */
static enum reg_err
monolithic(struct req *r, const char *digest)
{
	struct upload u;
	enum upload_err e;
	uint64_t size;

	e = upload_start(r->store, r->name, digest_alg_of(digest), false, &u);
	if (e != UP_OK)
		return reg_err_of_upload(e);
	e = append_body(r, &u, UPLOAD_ANY_LENGTH);
	if (e == UP_OK)
		e = upload_finish(&u, digest, &size);
	if (e != UP_OK)
		upload_cancel(&u);
	upload_close(&u);
	if (e != UP_OK)
		return reg_err_of_upload(e);
	blob_created(r, digest);
	return E_OK;
}

enum reg_err
h_upload_start(struct req *r)
{
	struct upload u;
	enum upload_err e;
	enum reg_err err;
	bool mounted;

	if (QUERY_HAS(&r->q, QK_MOUNT)) {
		err = try_mount(r, &mounted);
		if (err != E_OK || mounted)
			return err;
	} else if (QUERY_HAS(&r->q, QK_DIGEST)) {
		return monolithic(r, r->q.digest);
	}
	e = upload_start(r->store, r->name, r->q.alg, true, &u);
	if (e != UP_OK)
		return reg_err_of_upload(e);
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
	const struct content_range *cr = &r->crange;

	*expect = UPLOAD_ANY_LENGTH;
	if (!cr->present)
		return E_OK; /* a streamed body: appended as it comes */
	if (!cr->valid || cr->start != m->size) {
		progress_error_headers(r, m);
		return E_RANGE_INVALID;
	}
	if (r->content_length >= 0 &&
	    (uint64_t)r->content_length != cr->end - cr->start + 1)
		return E_SIZE_INVALID;
	*expect = cr->end - cr->start + 1;
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
	e = append_body(r, u, expect);
	if (e != UP_OK)
		return reg_err_of_upload(e);
	progress_headers(r, &u->m);
	resp_send(r, 202, NULL, 0);
	return E_OK;
}

static enum reg_err
put(struct req *r, struct upload *u)
{
	enum reg_err err;
	enum upload_err e;
	uint64_t size, expect;

	err = check_chunk(r, &u->m, &expect);
	if (err != E_OK)
		return err;
	e = append_body(r, u, expect);
	if (e == UP_OK)
		e = upload_finish(u, r->q.digest, &size);
	if (e != UP_OK)
		return reg_err_of_upload(e);
	blob_created(r, r->q.digest);
	return E_OK;
}

enum reg_err
h_upload_status(struct req *r)
{
	struct meta_upload m;
	enum meta_err me;

	me = meta_upload_get(r->name, r->arg, r->store->upload_expiry, &m);
	if (me != META_OK)
		return reg_err_of_meta(me, E_BLOB_UPLOAD_UNKNOWN);
	progress_headers(r, &m);
	resp_send(r, 204, NULL, 0);
	return E_OK;
}

/* Open the session r->arg, run fn on it, close it. */
static enum reg_err
with_session(struct req *r, enum reg_err (*fn)(struct req *, struct upload *))
{
	struct upload u;
	enum upload_err e;
	enum reg_err err;

	e = upload_open(r->store, r->name, r->arg, &u);
	if (e != UP_OK)
		return reg_err_of_upload(e);
	err = fn(r, &u);
	upload_close(&u);
	return err;
}

static enum reg_err
cancel(struct req *r, struct upload *u)
{
	enum reg_err err = reg_err_of_upload(upload_cancel(u));

	if (err == E_OK)
		resp_send(r, 204, NULL, 0);
	return err;
}

enum reg_err
h_upload_patch(struct req *r)
{
	return with_session(r, patch);
}

enum reg_err
h_upload_put(struct req *r)
{
	return with_session(r, put);
}

enum reg_err
h_upload_cancel(struct req *r)
{
	return with_session(r, cancel);
}
