/* fuzz_router.c -- libFuzzer target: the path router and, on what it
 * matches, the validators the dispatcher applies (router.c, validate.c);
 * the same bytes as a query string against every route's declared keys,
 * and as a Range header resolved against a few sizes (request.c).
 * Checks that the split always points inside the path, that a parsed
 * query only reports declared keys and NUL-terminated values, and that a
 * resolved range lies inside the blob. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "request.h"
#include "router.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The handlers the route table names; never called here. */
#define STUB(fn) \
	enum reg_err fn(struct req *r) \
	{ \
		(void)r; \
		return E_OK; \
	}
STUB(h_base)
STUB(h_catalog) STUB(h_tags) STUB(h_manifest_get) STUB(h_manifest_put)
    STUB(h_manifest_delete) STUB(h_blob_get) STUB(h_blob_delete)
	STUB(h_upload_start) STUB(h_upload_status) STUB(h_upload_patch)
	    STUB(h_upload_put) STUB(h_upload_cancel) STUB(h_referrers)
#undef STUB

		static void fuzz_query(const char *s)
{
	static struct query_values q;
	const struct route *t;
	size_t n;

	t = route_table(&n);
	for (size_t i = 0; i < n; i++) {
		unsigned declared = 0;

		for (size_t k = 0;
		     k < ROUTE_QUERY_MAX && t[i].query[k].key != QK_NONE; k++)
			declared |= 1u << t[i].query[k].key;
		if (req_query_parse(s, t[i].query, &q, NULL) == E_OK &&
		    (q.present & ~declared) != 0)
			abort();
		if (q.n > PAGE_MAX ||
		    memchr(q.last, '\0', sizeof(q.last)) == NULL ||
		    memchr(q.digest, '\0', sizeof(q.digest)) == NULL ||
		    memchr(q.mount, '\0', sizeof(q.mount)) == NULL ||
		    memchr(q.from, '\0', sizeof(q.from)) == NULL ||
		    memchr(q.artifact_type, '\0', sizeof(q.artifact_type)) ==
			NULL)
			abort();
	}
}

static void
fuzz_range(const char *s)
{
	static const uint64_t sizes[] = { 0, 1, 10, 2048, UINT64_MAX };
	struct range_spec rs;

	req_range_parse(s, &rs);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t first = 0, last = 0;

		if (req_range_resolve(&rs, sizes[i], &first, &last) ==
			RANGE_PART &&
		    (first > last || last >= sizes[i]))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = malloc(size + 1);
	struct route_match m;

	if (path == NULL)
		return 0;
	memcpy(path, data, size);
	path[size] = '\0';
	if (route_match(path, &m) != ROUTE_NONE && m.name != NULL) {
		size_t len = strlen(path);

		if (m.name < path || m.name + m.name_len > path + len ||
		    m.arg < path || m.arg + m.arg_len > path + len)
			abort();
		(void)valid_name(m.name, m.name_len);
		(void)valid_tag(m.arg, m.arg_len);
		(void)check_digest(m.arg, m.arg_len);
		(void)valid_upload_id(m.arg, m.arg_len);
	}
	fuzz_query(path);
	fuzz_range(path);
	free(path);
	return 0;
}
