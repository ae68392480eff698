/* h_blobs.c -- GET, HEAD and DELETE /v2/<name>/blobs/<digest>
 * (oci-spec.md end-2, end-10, section 8).
 *
 * Existence is the repository's link in the metadata.  HEAD is answered
 * from the metadata alone (size, digest), without touching the bytes.
 * GET asks the blob handler: it either hands the file to the web server
 * (X-Accel-Redirect / X-Sendfile), redirects the client (307), or gives
 * an open file that this process streams, with Range support. */
#include "handlers.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "store.h"
#include "meta.h"
#include "pub.h"

#define STREAM_CHUNK (256 * 1024)

static void
blob_headers(struct req *r)
{
	resp_header(r, "Docker-Content-Digest", "%s", r->arg);
	resp_header(r, "ETag", "\"%s\"", r->arg);
	resp_header(r, "Cache-Control", "max-age=31536000");
}

/* Send bytes [first, last] of fd, a blob of `size` bytes (200 when that
 * is all of it, else 206).  Once the head is out an error can only cut
 * the body short, so this always returns E_OK. */
static enum reg_err
stream(struct req *r, int fd, uint64_t size, bool part, uint64_t first,
    uint64_t last)
{
	static char buf[STREAM_CHUNK];
	uint64_t off, left;

	resp_header(r, "Accept-Ranges", "bytes");
	if (part)
		resp_header(r, "Content-Range", "bytes %llu-%llu/%llu",
		    (unsigned long long)first, (unsigned long long)last,
		    (unsigned long long)size);
	left = size == 0 ? 0 : last - first + 1;
	resp_header(r, "Content-Type", "application/octet-stream");
	resp_header(r, "Content-Length", "%llu", (unsigned long long)left);
	if (resp_begin(r, part ? 206 : 200) != 0)
		return E_OK;
	for (off = first; left > 0;) {
		size_t want = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* The file is shorter than the metadata says. */
			fprintf(stderr,
			    "berth: blob %s: short file at %llu of %llu\n",
			    r->arg, (unsigned long long)off,
			    (unsigned long long)size);
			break;
		}
		if (resp_write(r, buf, (size_t)n) != 0)
			break; /* the client went away */
		off += (uint64_t)n;
		left -= (uint64_t)n;
	}
	return E_OK;
}

enum reg_err
h_blob_get(struct req *r)
{
	struct blob_location loc;
	uint64_t size, fsize = 0, first = 0, last;
	enum range_result rr;
	enum meta_err me;
	enum blob_err be;
	enum reg_err err;
	int fd = -1;

	me = meta_blob_linked(r->name, r->arg, &size);
	if (me != META_OK)
		return reg_err_of_meta(me, E_BLOB_UNKNOWN);
	if (r->method_bit == M_HEAD) {
		blob_headers(r);
		resp_header(r, "Content-Type", "application/octet-stream");
		resp_header(r, "Accept-Ranges", "bytes");
		resp_send(r, 200, NULL, (size_t)size);
		return E_OK;
	}
	/* An unsatisfiable Range is answered here, in every mode: the web
	 * server's own 416 would carry an HTML body.  Its one header is
	 * Content-Range with the size (RFC 9110 15.5.17). */
	last = size ? size - 1 : 0;
	rr = req_range_resolve(&r->range, size, &first, &last);
	if (rr == RANGE_UNSATISFIABLE) {
		resp_error_header(r, "Content-Range", "bytes */%llu",
		    (unsigned long long)size);
		return E_RANGE_NOT_SATISFIABLE;
	}
	be = blob_get(&r->store->blobs, r->name, r->arg, &fd, &fsize, &loc);
	if (be == BLOB_NOTFOUND)
		fprintf(stderr,
		    "berth: blob %s is linked in %s but its bytes are "
		    "missing\n",
		    r->arg, r->name);
	if (be != BLOB_OK && be != BLOB_REDIRECT)
		return reg_err_of_blob(be, E_BLOB_UNKNOWN);
	if (be == BLOB_OK) {
		if (fsize != size) {
			/* Never send bytes that are not the blob's. */
			fprintf(stderr,
			    "berth: blob %s: %llu bytes stored, %llu "
			    "recorded; not serving it\n",
			    r->arg, (unsigned long long)fsize,
			    (unsigned long long)size);
			close(fd);
			return E_INTERNAL;
		}
		blob_headers(r);
		err = stream(r, fd, size, rr == RANGE_PART, first, last);
		close(fd);
		return err;
	}
	blob_headers(r);
	switch (loc.kind) {
	case BLOB_LOC_ACCEL:
		/* nginx sends the file (and handles Range) from its internal
		 * location, which re-adds Docker-Content-Digest. */
		resp_header(r, "X-Accel-Redirect", "%s", loc.target);
		resp_header(r, "Content-Type", "application/octet-stream");
		resp_begin(r, 200);
		return E_OK;
	case BLOB_LOC_SENDFILE:
		resp_header(r, "X-Sendfile", "%s", loc.target);
		resp_header(r, "Content-Type", "application/octet-stream");
		resp_begin(r, 200);
		return E_OK;
	case BLOB_LOC_URL:
		resp_header(r, "Location", "%s", loc.target);
		resp_send(r, 307, NULL, 0);
		return E_OK;
	}
	return E_INTERNAL;
}

enum reg_err
h_blob_delete(struct req *r)
{
	enum meta_err me;

	if (!blob_can(&r->store->blobs, BLOB_CAN_DELETE)) {
		resp_detail(r, "the blob handler cannot delete");
		return E_UNSUPPORTED;
	}
	/* The web server's name goes first and again after (pub.h). */
	pub_blob_removed(r->store, r->name, r->arg);
	me = meta_blob_unlink(r->name, r->arg);
	pub_blob_removed(r->store, r->name, r->arg);
	if (me != META_OK)
		return reg_err_of_meta(me, E_BLOB_UNKNOWN);
	resp_send(r, 202, NULL, 0);
	return E_OK;
}
