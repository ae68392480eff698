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

#define STREAM_CHUNK (256 * 1024)

static void
blob_headers(struct req *r)
{
	resp_header(r, "Docker-Content-Digest", "%s", r->arg);
	resp_header(r, "ETag", "\"%s\"", r->arg);
	resp_header(r, "Cache-Control", "max-age=31536000");
}

/* Send [first, last] of fd; checks that the file holds what the metadata
 * promised (size bytes). */
static enum reg_err
stream(struct req *r, int fd, uint64_t size)
{
	static char buf[STREAM_CHUNK];
	uint64_t first = 0, last = size ? size - 1 : 0, off, left;
	enum range_result rr = parse_range(r->range, size, &first, &last);
	int status = 200;

	resp_header(r, "Accept-Ranges", "bytes");
	if (rr == RANGE_UNSATISFIABLE) {
		resp_header(r, "Content-Range", "bytes */%llu",
		    (unsigned long long)size);
		return E_RANGE_NOT_SATISFIABLE;
	}
	if (rr == RANGE_PART) {
		status = 206;
		resp_header(r, "Content-Range", "bytes %llu-%llu/%llu",
		    (unsigned long long)first, (unsigned long long)last,
		    (unsigned long long)size);
	}
	left = size == 0 ? 0 : last - first + 1;
	resp_header(r, "Content-Type", "application/octet-stream");
	resp_header(r, "Content-Length", "%llu", (unsigned long long)left);
	if (resp_begin(r, status) != 0)
		return E_OK;
	for (off = first; left > 0;) {
		size_t want = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* The file is shorter than the metadata says. */
			fprintf(stderr, "berth: blob %s: short file at %llu of %llu\n",
			    r->arg, (unsigned long long)off,
			    (unsigned long long)size);
			break;
		}
		if (resp_write(r, buf, (size_t)n) != 0)
			break;		/* the client went away */
		off += (uint64_t)n;
		left -= (uint64_t)n;
	}
	return E_OK;
}

static enum reg_err
get_blob(struct req *r)
{
	struct blob_location loc;
	uint64_t size, fsize = 0;
	enum meta_err me;
	enum blob_err be;
	enum reg_err err;
	int fd = -1;

	me = meta_blob_linked(r->name, r->arg, &size);
	if (me == META_NOTFOUND)
		return E_BLOB_UNKNOWN;
	if (me != META_OK)
		return E_INTERNAL;
	blob_headers(r);
	if (r->method_bit == M_HEAD) {
		resp_header(r, "Content-Type", "application/octet-stream");
		resp_header(r, "Accept-Ranges", "bytes");
		resp_send(r, 200, NULL, (size_t)size);
		return E_OK;
	}
	/* An unsatisfiable Range is answered here, in every mode: the web
	 * server's own 416 would carry an HTML body. */
	{
		uint64_t first, last;

		if (parse_range(r->range, size, &first, &last) ==
		    RANGE_UNSATISFIABLE) {
			resp_header(r, "Content-Range", "bytes */%llu",
			    (unsigned long long)size);
			return E_RANGE_NOT_SATISFIABLE;
		}
	}
	be = blob_get(&r->store->blobs, r->name, r->arg, &fd, &fsize, &loc);
	switch (be) {
	case BLOB_OK:
		if (fsize != size) {
			/* Never send bytes that are not the blob's. */
			fprintf(stderr, "berth: blob %s: %llu bytes stored, %llu "
			    "recorded; not serving it\n", r->arg,
			    (unsigned long long)fsize, (unsigned long long)size);
			close(fd);
			resp_clear_headers(r);
			return E_INTERNAL;
		}
		err = stream(r, fd, size);
		close(fd);
		return err;
	case BLOB_REDIRECT:
		break;
	case BLOB_NOTFOUND:
		fprintf(stderr, "berth: blob %s is linked in %s but its bytes are "
		    "missing\n", r->arg, r->name);
		resp_clear_headers(r);
		return E_BLOB_UNKNOWN;
	case BLOB_UNAVAILABLE:
		resp_clear_headers(r);
		return E_UNAVAILABLE;
	default:
		resp_clear_headers(r);
		return E_INTERNAL;
	}
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

static enum reg_err
delete_blob(struct req *r)
{
	enum meta_err me;

	if (!blob_can(&r->store->blobs, BLOB_CAN_DELETE))
		return E_UNSUPPORTED;
	me = meta_blob_unlink(r->name, r->arg);
	if (me == META_NOTFOUND)
		return E_BLOB_UNKNOWN;
	if (me != META_OK)
		return E_INTERNAL;
	resp_send(r, 202, NULL, 0);
	return E_OK;
}

enum reg_err
h_blob(struct req *r)
{
	return r->method_bit == M_DELETE ? delete_blob(r) : get_blob(r);
}
