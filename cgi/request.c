/* request.c -- building a struct req from CGI/FastCGI parameters and
 * reading its body; see request.h.  Called by server.c. */
#include "request.h"

#include <stdlib.h>
#include <string.h>

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode src[0..len) into out (cap bytes, NUL-terminated); with
 * query, '+' becomes ' ' (query strings); without it (a path), "%2F"
 * stays as it is, so that an encoded '/' can never split a path segment.
 * False on a malformed escape, an encoded NUL, or overflow. */
static bool
pct_decode(const char *src, size_t len, char *out, size_t cap, bool query)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = src[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return false;
			hi = hexval(src[i + 1]);
			lo = hexval(src[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return false;
			c = (char)(hi * 16 + lo);
			if (c == '/' && !query) {
				if (o + 3 >= cap)
					return false;
				memcpy(out + o, src + i, 3);
				o += 3;
				i += 2;
				continue;
			}
			i += 2;
		} else if (c == '+' && query) {
			c = ' ';
		} else if (c == '\0') {
			return false;
		}
		if (o + 1 >= cap)
			return false;
		out[o++] = c;
	}
	out[o] = '\0';
	return true;
}

const char *
req_param(const struct req *r, const char *name)
{
	return r->io->param(r->io->priv, name);
}

enum req_problem
req_init(struct req *r, struct io *io, const struct config *cfg,
    struct blob_handler *blobs)
{
	const char *uri, *cl, *te, *q;
	size_t ulen;

	memset(r, 0, sizeof(*r));
	r->io = io;
	r->cfg = cfg;
	r->blobs = blobs;
	r->method = req_param(r, "REQUEST_METHOD");
	r->method_bit = method_bit(r->method);
	r->query = req_param(r, "QUERY_STRING");
	if (r->query == NULL)
		r->query = "";
	r->content_type = req_param(r, "CONTENT_TYPE");
	r->content_range = req_param(r, "HTTP_CONTENT_RANGE");
	r->range = req_param(r, "HTTP_RANGE");
	r->accept = req_param(r, "HTTP_ACCEPT");

	/* The body: a Content-Length, or chunked to the end of the stream. */
	r->content_length = -1;
	cl = req_param(r, "CONTENT_LENGTH");
	te = req_param(r, "HTTP_TRANSFER_ENCODING");
	if (cl != NULL && *cl != '\0') {
		char *end;
		long long v = strtoll(cl, &end, 10);

		if (*end != '\0' || v < 0)
			return REQ_BAD_LENGTH;
		r->content_length = v;
	} else if (te == NULL || strstr(te, "chunked") == NULL) {
		r->content_length = 0;
	}
	if (r->content_length == 0)
		r->body_done = true;

	/* The path: PATH_INFO when a web server runs us as a CGI program
	 * under a script name (already decoded), else the request URI
	 * without its query. */
	uri = req_param(r, "PATH_INFO");
	if (uri == NULL || *uri == '\0') {
		uri = req_param(r, "REQUEST_URI");
		if (uri == NULL)
			uri = "/";
		q = strchr(uri, '?');
		ulen = q != NULL ? (size_t)(q - uri) : strlen(uri);
		if (ulen >= sizeof(r->path))
			return REQ_LONG_PATH;
		/* REQUEST_URI is as the client sent it: decode it, once. */
		return pct_decode(uri, ulen, r->path, sizeof(r->path), false) ?
		    REQ_OK : REQ_BAD_PATH;
	}
	ulen = strlen(uri);
	if (ulen >= sizeof(r->path))
		return REQ_LONG_PATH;
	memcpy(r->path, uri, ulen + 1);
	return REQ_OK;
}

ssize_t
req_read(struct req *r, void *buf, size_t n)
{
	ssize_t got;

	if (r->body_done || n == 0)
		return 0;
	if (r->content_length >= 0 &&
	    (uint64_t)r->content_length - r->body_read < n)
		n = (size_t)((uint64_t)r->content_length - r->body_read);
	got = r->io->read(r->io->priv, buf, n);
	if (got < 0)
		return -1;
	if (got == 0) {
		r->body_done = true;
		/* A Content-Length the stream did not deliver: cut short. */
		if (r->content_length >= 0 &&
		    r->body_read < (uint64_t)r->content_length)
			return -1;
		return 0;
	}
	r->body_read += (uint64_t)got;
	if (r->content_length >= 0 && r->body_read == (uint64_t)r->content_length)
		r->body_done = true;
	return got;
}

int
req_read_all(struct req *r, size_t max, unsigned char **out, size_t *len)
{
	size_t cap, used = 0;
	unsigned char *buf, *nbuf;
	ssize_t n;

	*out = NULL;
	*len = 0;
	if (r->content_length > (int64_t)max)
		return 1;
	cap = r->content_length >= 0 ? (size_t)r->content_length + 1 : 65536;
	buf = malloc(cap);
	if (buf == NULL)
		return -1;
	for (;;) {
		if (used == cap) {
			if (cap > max) {
				free(buf);
				return 1;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			nbuf = realloc(buf, cap);
			if (nbuf == NULL) {
				free(buf);
				return -1;
			}
			buf = nbuf;
		}
		n = req_read(r, buf + used, cap - used);
		if (n < 0) {
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			free(buf);
			return 1;
		}
	}
	*out = buf;
	*len = used;
	return 0;
}

void
req_drain(struct req *r)
{
	char buf[16384];

	while (req_read(r, buf, sizeof(buf)) > 0)
		;
}

enum query_result
req_query(const struct req *r, const char *key, char *out, size_t cap)
{
	size_t klen = strlen(key);
	const char *p = r->query;

	while (*p != '\0') {
		const char *amp = strchr(p, '&');
		size_t plen = amp != NULL ? (size_t)(amp - p) : strlen(p);

		if (plen >= klen && strncmp(p, key, klen) == 0 &&
		    (plen == klen || p[klen] == '=')) {
			const char *v = plen == klen ? "" : p + klen + 1;
			size_t vlen = plen == klen ? 0 : plen - klen - 1;

			return pct_decode(v, vlen, out, cap, true) ? Q_OK : Q_BAD;
		}
		p += plen;
		if (*p == '&')
			p++;
	}
	return Q_ABSENT;
}
