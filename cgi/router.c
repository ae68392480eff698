/* router.c -- the static route table and the right-to-left path matcher.
 * See router.h.  Called by dispatch.c for every request. */
#include "router.h"

#include <string.h>

static const struct route routes[ROUTE_COUNT] = {
	[ROUTE_BASE]	     = { ROUTE_BASE, "base", M_GET | M_HEAD, 0 },
	[ROUTE_CATALOG]	     = { ROUTE_CATALOG, "catalog", M_GET | M_HEAD, 0 },
	[ROUTE_TAGS]	     = { ROUTE_TAGS, "tags", M_GET | M_HEAD, 0 },
	[ROUTE_MANIFEST]     = { ROUTE_MANIFEST, "manifest",
	    M_GET | M_HEAD | M_PUT | M_DELETE, M_PUT | M_DELETE },
	[ROUTE_BLOB]	     = { ROUTE_BLOB, "blob", M_GET | M_HEAD | M_DELETE,
	    M_DELETE },
	[ROUTE_UPLOAD_START] = { ROUTE_UPLOAD_START, "upload-start", M_POST,
	    M_POST },
	[ROUTE_UPLOAD]	     = { ROUTE_UPLOAD, "upload",
	    M_GET | M_HEAD | M_PATCH | M_PUT | M_DELETE,
	    M_PATCH | M_PUT | M_DELETE },
	[ROUTE_REFERRERS]    = { ROUTE_REFERRERS, "referrers", M_GET | M_HEAD, 0 },
};

unsigned
method_bit(const char *method)
{
	static const struct { const char *s; unsigned bit; } tab[] = {
		{ "GET", M_GET }, { "HEAD", M_HEAD }, { "PUT", M_PUT },
		{ "POST", M_POST }, { "PATCH", M_PATCH }, { "DELETE", M_DELETE },
	};

	for (size_t i = 0; method != NULL && i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(method, tab[i].s) == 0)
			return tab[i].bit;
	return M_OTHER;
}

/* Does [s, s+len) equal the NUL-terminated word w? */
static int
seg_is(const char *s, size_t len, const char *w)
{
	return strlen(w) == len && memcmp(s, w, len) == 0;
}

const struct route *
route_match(const char *path, struct route_match *m)
{
	const char *rest, *end, *last, *prev, *prev2;
	size_t len;

	memset(m, 0, sizeof(*m));
	if (strncmp(path, "/v2", 3) != 0)
		return NULL;
	if (strcmp(path, "/v2") == 0 || strcmp(path, "/v2/") == 0)
		return m->route = &routes[ROUTE_BASE];
	if (path[3] != '/')
		return NULL;
	rest = path + 4;
	len = strlen(rest);
	if (seg_is(rest, len, "_catalog"))
		return m->route = &routes[ROUTE_CATALOG];
	end = rest + len;

	/* The last three segments, right to left: .../prev2/prev/last */
	last = end;
	while (last > rest && last[-1] != '/')
		last--;
	if (last == rest)
		return NULL;		/* one segment: no endpoint */
	prev = last - 1;
	while (prev > rest && prev[-1] != '/')
		prev--;
	prev2 = NULL;
	if (prev > rest) {
		prev2 = prev - 1;
		while (prev2 > rest && prev2[-1] != '/')
			prev2--;
	}

#define SEG(p, q, w) seg_is((p), (size_t)((q) - (p)) - 1, (w))
	if (prev2 != NULL && SEG(prev2, prev, "blobs") && SEG(prev, last, "uploads")) {
		if (prev2 == rest)
			return NULL;	/* no repository name */
		m->name = rest;
		m->name_len = (size_t)(prev2 - rest) - 1;
		m->arg = last;
		m->arg_len = (size_t)(end - last);
		m->route = &routes[m->arg_len == 0 ? ROUTE_UPLOAD_START : ROUTE_UPLOAD];
		return m->route;
	}
	m->name = rest;
	m->name_len = (size_t)(prev - rest) - (prev > rest ? 1 : 0);
	m->arg = last;
	m->arg_len = (size_t)(end - last);
	if (prev == rest)
		return m->route = NULL;	/* no repository name before the suffix */
	if (SEG(prev, last, "tags") && seg_is(last, m->arg_len, "list"))
		m->route = &routes[ROUTE_TAGS];
	else if (SEG(prev, last, "manifests"))
		m->route = &routes[ROUTE_MANIFEST];
	else if (SEG(prev, last, "blobs"))
		m->route = &routes[ROUTE_BLOB];
	else if (SEG(prev, last, "referrers"))
		m->route = &routes[ROUTE_REFERRERS];
#undef SEG
	if (m->route == NULL)
		memset(m, 0, sizeof(*m));
	return m->route;
}
