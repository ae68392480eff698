/* h_tags.c -- content discovery: GET /v2/<name>/tags/list and GET
 * /v2/_catalog, both with `n` and `last` pagination (oci-spec.md end-8a,
 * end-8b, 7.1-7.3).  Names come in byte order; `last` is exclusive; while
 * more remain a Link header names the next page; n=0 gives an empty list
 * and no Link.  `n` and `last` arrive checked in r->q (routes.c). */
#include "auth.h"
#include "handlers.h"

#include <string.h>

#include <jansson.h>

#include "meta.h"

/* Link: <path?last=<the last name sent>&n=<n>>; rel="next" */
static void
next_link(struct req *r, const char *path, json_t *list, unsigned long n)
{
	const char *lastsent = json_string_value(
	    json_array_get(list, json_array_size(list) - 1));

	if (lastsent != NULL)
		resp_header(r, "Link", "<%s%s?last=%s&n=%lu>; rel=\"next\"",
		    r->prefix, path, lastsent, n);
}

enum reg_err
h_tags(struct req *r)
{
	char path[NAME_MAX_LEN + 32];
	json_t *tags = json_array();
	unsigned long n = r->q.n;
	enum meta_err me;
	bool more = false;

	me = meta_tags_list(r->name,
	    QUERY_HAS(&r->q, QK_LAST) ? r->q.last : NULL, n, tags, &more);
	if (me != META_OK) {
		json_decref(tags);
		return reg_err_of_meta(me, E_NAME_UNKNOWN);
	}
	if (more && n > 0) {
		snprintf(path, sizeof(path), "/v2/%s/tags/list", r->name);
		next_link(r, path, tags, n);
	}
	return resp_send_json(r, 200, NULL,
	    json_pack("{s:s,s:o}", "name", r->name, "tags", tags));
}

/* Pages of the catalog read for one answer at most, when access control
 * hides names: a page holds up to n names the caller may pull. */
#define CATALOG_ROUNDS 32

enum reg_err
h_catalog(struct req *r)
{
	json_t *repos = json_array(), *page, *v;
	const char *last = QUERY_HAS(&r->q, QK_LAST) ? r->q.last : NULL;
	char cursor[NAME_MAX_LEN + 1] = "";
	unsigned long n = r->q.n;
	enum meta_err me;
	bool more = false;
	size_t i;

	/* With access control, names the caller may not pull are left out
	 * (auth.h) and more pages are read to fill this one; the Link
	 * continues after the last name read, kept or not. */
	for (int round = 0; round < CATALOG_ROUNDS; round++) {
		page = json_array();
		me = meta_catalog(last,
		    n > 0 ? n - (unsigned long)json_array_size(repos) : 0, page,
		    &more);
		if (me != META_OK) {
			json_decref(page);
			json_decref(repos);
			return reg_err_of_meta(me, E_INTERNAL);
		}
		v = json_array_get(page, json_array_size(page) - 1);
		if (json_is_string(v))
			snprintf(cursor, sizeof(cursor), "%s",
			    json_string_value(v));
		auth_filter_repositories(r,
		    page); /* what the caller may pull */
		json_array_foreach(page, i, v)
			json_array_append(repos, v);
		json_decref(page);
		if (!more || n == 0 || json_array_size(repos) >= n ||
		    cursor[0] == '\0')
			break;
		last = cursor;
	}
	if (more && n > 0 && cursor[0] != '\0')
		resp_header(r, "Link",
		    "<%s/v2/_catalog?last=%s&n=%lu>; rel=\"next\"", r->prefix,
		    cursor, n);
	return resp_send_json(r, 200, NULL,
	    json_pack("{s:o}", "repositories", repos));
}
