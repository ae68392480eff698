/* request.c -- building a struct req from CGI/FastCGI parameters and
 * reading its body; see request.h.  Called by server.c. */
#include "request.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

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

/* The offset in uri[0..len) of its first "/v2" path segment, where the
 * registry API begins (every endpoint is under /v2/, oci-spec.md 3);
 * len when there is none. */
static size_t
api_root(const char *uri, size_t len)
{
	for (size_t i = 0; i + 3 <= len; i++)
		if (memcmp(uri + i, "/v2", 3) == 0 &&
		    (i + 3 == len || uri[i + 3] == '/'))
			return i;
	return len;
}

/* Only visible ASCII may go back out in a header (no CR, LF, spaces). */
static bool
visible(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

/* May s[0..len) go into a Location and a Link as the path prefix?  It
 * must be a path ("" or "/..."), never "//host..." (a reference to
 * another host: an open redirect), and hold only characters that mean
 * nothing to those headers: letters, digits and -._~/%!$&'()*+=:@ --
 * no ',', ';', '<', '>', '"', '\\' or space, which would split or end
 * a Link entry (RFC 8288 3). */
static bool
safe_prefix(const char *s, size_t len)
{
	if (len == 0)
		return true;
	if (s[0] != '/' || (len > 1 && s[1] == '/'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("-._~/%!$&'()*+=:@", s[i]) == NULL)
			return false;
	return true;
}

/* r->path and r->prefix.  REQUEST_URI is the path as the client sent it
 * to this server: the API begins at its first /v2 segment, and whatever
 * comes before is the prefix the registry is mounted under (a reverse
 * proxy's location, a CGI reached through a rewrite or under a script
 * name).  Locations repeat that prefix (resp_location()), so they stay
 * right under it, and carry no scheme or host, so they stay right
 * behind a TLS-terminating proxy.  PATH_INFO (already decoded) serves
 * only when REQUEST_URI is absent or has no /v2 (a rewrite that changed
 * the path). */
static enum req_problem
req_path(struct req *r)
{
	const char *uri = req_param(r, "REQUEST_URI");
	const char *info = req_param(r, "PATH_INFO");
	const char *q;
	size_t ulen, root;

	if (uri != NULL) {
		q = strchr(uri, '?');
		ulen = q != NULL ? (size_t)(q - uri) : strlen(uri);
		root = api_root(uri, ulen);
		if (root < ulen || info == NULL || *info == '\0') {
			if (root == ulen)
				root = 0; /* no API here: the router says 404 */
			if (root >= sizeof(r->prefix) || !visible(uri, root) ||
			    !safe_prefix(uri, root))
				return REQ_BAD_PATH;
			if (ulen - root >= sizeof(r->path))
				return REQ_LONG_PATH;
			memcpy(r->prefix, uri, root);
			r->prefix[root] = '\0';
			/* As the client sent it: decode it, once. */
			return pct_decode(uri + root, ulen - root, r->path,
				   sizeof(r->path), false) ?
			    REQ_OK :
			    REQ_BAD_PATH;
		}
	}
	if (info == NULL || *info == '\0')
		info = "/";
	ulen = strlen(info);
	if (ulen >= sizeof(r->path))
		return REQ_LONG_PATH;
	memcpy(r->path, info, ulen + 1);
	return REQ_OK;
}

/* The body as a file: BERTH_BODY_FILE names a file the web server
 * received the whole body into (nginx: $request_body_file), which
 * spool_open() checks is really one under the configured body_dir.  Its
 * size is the body's length; a CONTENT_LENGTH that says otherwise (nginx
 * passes the length it received) refuses it too.  Without the parameter,
 * or with an empty one (nginx creates no file for a request without a
 * body), the body is read from the stream as before. */
static void
req_body_file(struct req *r)
{
	const char *file = req_param(r, SPOOL_PARAM);
	const char *cl = req_param(r, "CONTENT_LENGTH");

	if (file == NULL || *file == '\0')
		return;
	switch (spool_open(r->store->body_dir, file, &r->spool)) {
	case SPOOL_OK:
		break;
	case SPOOL_GONE:
		r->body_gone = true;
		/* FALLTHROUGH */
	default:
		r->body_refused = true;
		r->body_done = true;
		return;
	}
	if (cl != NULL && *cl != '\0' &&
	    (uint64_t)r->content_length != r->spool.size) {
		fprintf(stderr,
		    "berth: body file %s refused: %llu bytes, "
		    "Content-Length %lld\n",
		    file, (unsigned long long)r->spool.size,
		    (long long)r->content_length);
		spool_close(&r->spool);
		r->body_refused = true;
		r->body_done = true;
		return;
	}
	r->content_length = (int64_t)r->spool.size;
	r->body_done = r->spool.size == 0;
}

enum req_problem
req_init(struct req *r, struct io *io, const struct config *cfg,
    struct store *store)
{
	const char *cl, *te, *cr;

	req_body_close(r); /* a request left unanswered: never leak it */
	memset(r, 0, offsetof(struct req, path));
	r->path[0] = r->prefix[0] = r->name[0] = r->arg[0] = '\0';
	r->detail[0] = '\0';
	memset(&r->q, 0, offsetof(struct query_values, tags));
	r->q.n = PAGE_MAX;
	r->io = io;
	r->cfg = cfg;
	r->store = store;
	r->method = req_param(r, "REQUEST_METHOD");
	r->method_bit = method_bit(r->method);
	r->query = req_param(r, "QUERY_STRING");
	if (r->query == NULL)
		r->query = "";
	r->content_type = req_param(r, "CONTENT_TYPE");
	cr = req_param(r, "HTTP_CONTENT_RANGE");
	if (cr != NULL) {
		r->crange.present = true;
		r->crange.valid = parse_content_range(cr, &r->crange.start,
		    &r->crange.end);
	}
	req_range_parse(req_param(r, "HTTP_RANGE"), &r->range);

	/* The body: a Content-Length, or chunked to the end of the stream. */
	r->content_length = -1;
	cl = req_param(r, "CONTENT_LENGTH");
	te = req_param(r, "HTTP_TRANSFER_ENCODING");
	if (cl != NULL && *cl != '\0') {
		char *end;
		long long v = strtoll(cl, &end, 10);

		if (*end != '\0' || v < 0)
			return r->problem = REQ_BAD_LENGTH;
		r->content_length = v;
	} else if (te == NULL || strstr(te, "chunked") == NULL) {
		r->content_length = 0;
	}
	if (r->content_length == 0)
		r->body_done = true;
	r->problem = req_path(r);
	if (r->problem == REQ_OK)
		req_body_file(r);
	return r->problem;
}

void
req_body_close(struct req *r)
{
	if (r->spool.open) {
		spool_close(&r->spool);
		r->body_done = true;
	}
}

ssize_t
req_read(struct req *r, void *buf, size_t n)
{
	ssize_t got;

	if (r->body_refused)
		return -1;
	if (r->body_done || n == 0)
		return 0;
	if (r->content_length >= 0 &&
	    (uint64_t)r->content_length - r->body_read < n)
		n = (size_t)((uint64_t)r->content_length - r->body_read);
	if (r->spool.open) {
		do
			got = pread(r->spool.fd, buf, n, (off_t)r->body_read);
		while (got < 0 && errno == EINTR);
	} else {
		got = r->io->read(r->io->priv, buf, n);
	}
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
	if (r->content_length >= 0 &&
	    r->body_read == (uint64_t)r->content_length)
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

/* The next value of `key` in query at or after offset *pos, still
 * encoded: sets *v and *vlen ("key" alone gives "") and moves *pos past
 * it; false when there is no more. */
static bool
query_next(const char *query, const char *key, size_t *pos, const char **v,
    size_t *vlen)
{
	size_t klen = strlen(key);
	const char *p = query + *pos;

	while (*p != '\0') {
		const char *amp = strchr(p, '&');
		size_t plen = amp != NULL ? (size_t)(amp - p) : strlen(p);
		bool hit = plen >= klen && strncmp(p, key, klen) == 0 &&
		    (plen == klen || p[klen] == '=');

		if (hit) {
			*v = plen == klen ? "" : p + klen + 1;
			*vlen = plen == klen ? 0 : plen - klen - 1;
		}
		p += plen;
		if (*p == '&')
			p++;
		if (hit) {
			*pos = (size_t)(p - query);
			return true;
		}
	}
	*pos = (size_t)(p - query);
	return false;
}

/* The first value of `key` in query, as query_next() gives it. */
static bool
query_find(const char *query, const char *key, const char **v, size_t *vlen)
{
	size_t pos = 0;

	return query_next(query, key, &pos, v, vlen);
}

bool
req_form_decode(const char *s, size_t len, char *out, size_t cap)
{
	return pct_decode(s, len, out, cap, true);
}

bool
req_query_has(const char *query, const char *key)
{
	const char *v;
	size_t vlen;

	return query_find(query, key, &v, &vlen);
}

bool
req_query_value(const char *query, const char *key, char *out, size_t cap)
{
	const char *v;
	size_t vlen;

	return query_find(query, key, &v, &vlen) &&
	    pct_decode(v, vlen, out, cap, true);
}

/* The error a malformed value of each check gets. */
static enum reg_err
check_error(enum query_check c)
{
	switch (c) {
	case QC_COUNT:
		return E_PAGINATION_NUMBER_INVALID;
	case QC_TAG:
		return E_TAG_INVALID;
	case QC_NAME:
		return E_NAME_INVALID;
	case QC_DIGEST:
	case QC_DIGEST_ALG:
		return E_DIGEST_INVALID;
	case QC_MEDIA_TYPE:
		break;
	}
	return E_BAD_REQUEST;
}

/* Is the decoded value s good for check c? */
static bool
check_value(enum query_check c, const char *s, unsigned long *n,
    enum digest_alg *alg)
{
	size_t len = strlen(s);

	switch (c) {
	case QC_COUNT:
		return parse_count(s, PAGE_MAX, n);
	case QC_TAG:
		return valid_tag(s, len);
	case QC_NAME:
		return valid_name(s, len);
	case QC_DIGEST:
		return check_digest(s, len) == DIGEST_OK;
	case QC_DIGEST_ALG:
		return digest_alg_parse(s, alg);
	case QC_MEDIA_TYPE:
		return req_media_type_valid(s, len);
	}
	return false;
}

/* Where the value of key lands in *q, and its room in bytes; NULL for a
 * key whose value is converted (n, digest-algorithm). */
static char *
value_slot(struct query_values *q, enum query_key key, size_t *cap)
{
	switch (key) {
	case QK_LAST:
		*cap = sizeof(q->last);
		return q->last;
	case QK_DIGEST:
		*cap = sizeof(q->digest);
		return q->digest;
	case QK_MOUNT:
		*cap = sizeof(q->mount);
		return q->mount;
	case QK_FROM:
		*cap = sizeof(q->from);
		return q->from;
	case QK_ARTIFACT_TYPE:
		*cap = sizeof(q->artifact_type);
		return q->artifact_type;
	default:
		*cap = 0;
		return NULL;
	}
}

/* Check declaration d against query into *q (scratch: room for a value
 * that is converted); false when its value is malformed, or absent and
 * required. */
static bool
query_one(const char *query, const struct query_decl *d, struct query_values *q,
    char *scratch, size_t scratch_cap)
{
	const char *v;
	size_t vlen, cap;
	char *out = value_slot(q, d->key, &cap);

	if (out == NULL) {
		out = scratch;
		cap = scratch_cap;
	}
	if (!query_find(query, query_key_name(d->key), &v, &vlen) ||
	    (vlen == 0 && (d->flags & QF_EMPTY_IS_ABSENT)))
		return !(d->flags & QF_REQUIRED);
	/* Too long for its slot is malformed: no valid value is. */
	if (!pct_decode(v, vlen, out, cap, true) ||
	    !check_value(d->check, out, &q->n, &q->alg)) {
		out[0] = '\0';
		return false;
	}
	q->present |= 1u << d->key;
	return true;
}

/* Check every value of the QF_REPEATED declaration d into q->tags (the
 * one list slot there is) in order; E_OK, the check's error for the
 * first malformed value (or none given when required), or
 * E_TOO_MANY_TAGS for value QUERY_TAGS_MAX + 1. */
static enum reg_err
query_all(const char *query, const struct query_decl *d, struct query_values *q)
{
	size_t pos = 0, vlen;
	const char *v;

	while (query_next(query, query_key_name(d->key), &pos, &v, &vlen)) {
		char *out;

		if (vlen == 0 && (d->flags & QF_EMPTY_IS_ABSENT))
			continue;
		if (q->ntags == QUERY_TAGS_MAX)
			return E_TOO_MANY_TAGS;
		out = q->tags[q->ntags];
		if (!pct_decode(v, vlen, out, sizeof(q->tags[0]), true) ||
		    !check_value(d->check, out, &q->n, &q->alg)) {
			out[0] = '\0';
			return check_error(d->check);
		}
		q->ntags++;
	}
	if (q->ntags > 0)
		q->present |= 1u << d->key;
	else if (d->flags & QF_REQUIRED)
		return check_error(d->check);
	return E_OK;
}

enum reg_err
req_query_parse(const char *query, const struct query_decl *decls,
    struct query_values *q, enum query_key *bad)
{
	char scratch[MEDIA_TYPE_MAX + 1];
	enum reg_err err;

	memset(q, 0, offsetof(struct query_values, tags));
	q->n = PAGE_MAX;
	q->alg = DIGEST_SHA256;
	for (size_t i = 0; i < ROUTE_QUERY_MAX && decls[i].key != QK_NONE;
	     i++) {
		if (decls[i].flags & QF_REPEATED)
			err = query_all(query, &decls[i], q);
		else if (query_one(query, &decls[i], q, scratch,
			     sizeof(scratch)))
			err = E_OK;
		else
			err = check_error(decls[i].check);
		if (err == E_OK)
			continue;
		if (bad != NULL)
			*bad = decls[i].key;
		return err;
	}
	return E_OK;
}

void
req_range_parse(const char *s, struct range_spec *rs)
{
	memset(rs, 0, sizeof(*rs));
	if (s == NULL || strncmp(s, "bytes=", 6) != 0)
		return;
	s += 6;
	while (*s == ' ')
		s++;
	if (*s == '-') {
		s++;
		if (parse_u64(&s, &rs->b) && *s == '\0')
			rs->kind = RANGE_SPEC_SUFFIX;
		return;
	}
	if (!parse_u64(&s, &rs->a) || *s++ != '-')
		return;
	if (*s == '\0')
		rs->kind = RANGE_SPEC_OPEN;
	else if (parse_u64(&s, &rs->b) && *s == '\0')
		rs->kind = RANGE_SPEC_BOUNDED;
}

enum range_result
req_range_resolve(const struct range_spec *rs, uint64_t size, uint64_t *first,
    uint64_t *last)
{
	uint64_t b = rs->kind == RANGE_SPEC_OPEN ? UINT64_MAX : rs->b;

	switch (rs->kind) {
	case RANGE_SPEC_NONE:
		return RANGE_NONE;
	case RANGE_SPEC_SUFFIX:
		if (rs->b == 0 || size == 0)
			return RANGE_UNSATISFIABLE;
		*first = rs->b >= size ? 0 : size - rs->b;
		*last = size - 1;
		return RANGE_PART;
	case RANGE_SPEC_BOUNDED:
	case RANGE_SPEC_OPEN:
		break;
	}
	if (rs->a > b || rs->a >= size)
		return RANGE_UNSATISFIABLE;
	*first = rs->a;
	*last = b >= size ? size - 1 : b;
	return RANGE_PART;
}

/* RFC 6838 4.2: restricted-name = 1*127 restricted-name-chars, the first
 * alphanumeric; the rest also !#$&-^_.+ */
static size_t
restricted_name(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && i < 127; i++) {
		unsigned char c = (unsigned char)s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9');

		if (!alnum &&
		    (i == 0 || strchr("!#$&-^_.+", c) == NULL || c == '\0'))
			break;
	}
	return i;
}

bool
req_media_type_valid(const char *s, size_t len)
{
	size_t t, st;

	if (len > MEDIA_TYPE_MAX)
		return false;
	t = restricted_name(s, len);
	if (t == 0 || t >= len || s[t] != '/')
		return false;
	st = restricted_name(s + t + 1, len - t - 1);
	return st > 0 && t + 1 + st == len;
}
