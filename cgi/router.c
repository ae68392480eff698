/* router.c -- the right-to-left path matcher and the names of methods
 * and query keys.  See router.h; the table of routes is routes.c.
 * Called by dispatch.c for every request. */
#include "router.h"

#include <string.h>

unsigned
method_bit(const char *method)
{
	static const struct {
		const char *s;
		unsigned bit;
	} tab[] = {
		{ "GET", M_GET },
		{ "HEAD", M_HEAD },
		{ "PUT", M_PUT },
		{ "POST", M_POST },
		{ "PATCH", M_PATCH },
		{ "DELETE", M_DELETE },
	};

	for (size_t i = 0; method != NULL && i < sizeof(tab) / sizeof(tab[0]);
	     i++)
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

const char *
query_key_name(enum query_key key)
{
	static const char *const names[QK_COUNT] = {
		[QK_N] = "n",
		[QK_LAST] = "last",
		[QK_DIGEST] = "digest",
		[QK_MOUNT] = "mount",
		[QK_FROM] = "from",
		[QK_DIGEST_ALG] = "digest-algorithm",
		[QK_ARTIFACT_TYPE] = "artifactType",
	};

	return key > QK_NONE && key < QK_COUNT ? names[key] : "";
}

enum route_id
route_match(const char *path, struct route_match *m)
{
	const char *rest, *end, *last, *prev, *prev2;
	size_t len;

	memset(m, 0, sizeof(*m));
	if (strncmp(path, "/v2", 3) != 0)
		return ROUTE_NONE;
	if (strcmp(path, "/v2") == 0 || strcmp(path, "/v2/") == 0)
		return m->id = ROUTE_BASE;
	if (path[3] != '/')
		return ROUTE_NONE;
	rest = path + 4;
	len = strlen(rest);
	if (seg_is(rest, len, "_catalog"))
		return m->id = ROUTE_CATALOG;
	end = rest + len;

	/* The last three segments, right to left: .../prev2/prev/last */
	last = end;
	while (last > rest && last[-1] != '/')
		last--;
	if (last == rest)
		return ROUTE_NONE; /* one segment: no endpoint */
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
	if (prev2 != NULL && SEG(prev2, prev, "blobs") &&
	    SEG(prev, last, "uploads")) {
		if (prev2 == rest)
			return ROUTE_NONE; /* no repository name */
		m->name = rest;
		m->name_len = (size_t)(prev2 - rest) - 1;
		m->arg = last;
		m->arg_len = (size_t)(end - last);
		return m->id = m->arg_len == 0 ? ROUTE_UPLOAD_START :
						 ROUTE_UPLOAD;
	}
	m->name = rest;
	m->name_len = (size_t)(prev - rest) - (prev > rest ? 1 : 0);
	m->arg = last;
	m->arg_len = (size_t)(end - last);
	if (prev == rest) {
		memset(m, 0, sizeof(*m));
		return ROUTE_NONE; /* no repository name before the suffix */
	}
	if (SEG(prev, last, "tags") && seg_is(last, m->arg_len, "list"))
		m->id = ROUTE_TAGS;
	else if (SEG(prev, last, "manifests"))
		m->id = ROUTE_MANIFEST;
	else if (SEG(prev, last, "blobs"))
		m->id = ROUTE_BLOB;
	else if (SEG(prev, last, "referrers"))
		m->id = ROUTE_REFERRERS;
#undef SEG
	if (m->id == ROUTE_NONE)
		memset(m, 0, sizeof(*m));
	return m->id;
}
