/* h_tags.c -- content discovery: GET /v2/<name>/tags/list and GET
 * /v2/_catalog, both with `n` and `last` pagination (oci-spec.md end-8a,
 * end-8b, 7.1-7.3).  Names come in byte order; `last` is exclusive; while
 * more remain a Link header names the next page; n=0 gives an empty list
 * and no Link. */
#include "auth.h"
#include "handlers.h"

#include <string.h>

#include <jansson.h>

#include "meta.h"

#define PAGE_MAX 100000UL	/* largest n a client may ask for */

/* Read n and last.  *n is PAGE_MAX when the client gave none. */
static enum reg_err
page_params(struct req *r, bool names, unsigned long *n, char *last,
    size_t cap, bool *has_last)
{
	enum query_result q;
	char num[32];

	*n = PAGE_MAX;
	q = req_query(r, "n", num, sizeof(num));
	if (q == Q_BAD || (q == Q_OK && !parse_count(num, PAGE_MAX, n)))
		return E_PAGINATION_NUMBER_INVALID;
	q = req_query(r, "last", last, cap);
	*has_last = q == Q_OK;
	if (q == Q_BAD || (*has_last && *last != '\0' &&
	    !(names ? valid_name(last, strlen(last)) : valid_tag(last, strlen(last)))))
		return names ? E_NAME_INVALID : E_TAG_INVALID;
	return E_OK;
}

/* Link: <path?last=<the last name sent>&n=<n>>; rel="next" */
static void
next_link(struct req *r, const char *path, json_t *list, unsigned long n)
{
	const char *lastsent = json_string_value(json_array_get(list,
	    json_array_size(list) - 1));

	if (lastsent != NULL)
		resp_header(r, "Link", "<%s%s?last=%s&n=%lu>; rel=\"next\"",
		    r->prefix, path, lastsent, n);
}

enum reg_err
h_tags(struct req *r)
{
	char last[TAG_MAX_LEN + 1], path[NAME_MAX_LEN + 32];
	json_t *tags = json_array();
	unsigned long n;
	enum reg_err err;
	enum meta_err me;
	bool has_last, more = false;

	err = page_params(r, false, &n, last, sizeof(last), &has_last);
	if (err != E_OK)
		goto fail;
	me = meta_tags_list(r->name, has_last ? last : NULL, n, tags, &more);
	err = me == META_NOTFOUND ? E_NAME_UNKNOWN : E_INTERNAL;
	if (me != META_OK)
		goto fail;
	if (more && n > 0) {
		snprintf(path, sizeof(path), "/v2/%s/tags/list", r->name);
		next_link(r, path, tags, n);
	}
	resp_send_json(r, 200, NULL, json_pack("{s:s,s:o}", "name", r->name,
	    "tags", tags));
	return E_OK;
fail:
	json_decref(tags);
	return err;
}

enum reg_err
h_catalog(struct req *r)
{
	char last[NAME_MAX_LEN + 1];
	json_t *repos = json_array();
	unsigned long n;
	enum reg_err err;
	bool has_last, more = false;

	err = page_params(r, true, &n, last, sizeof(last), &has_last);
	if (err != E_OK)
		goto fail;
	err = E_INTERNAL;
	if (meta_catalog(has_last ? last : NULL, n, repos, &more) != META_OK)
		goto fail;
	auth_filter_repositories(r, repos);	/* what the caller may pull */
	if (more && n > 0)
		next_link(r, "/v2/_catalog", repos, n);
	resp_send_json(r, 200, NULL, json_pack("{s:o}", "repositories", repos));
	return E_OK;
fail:
	json_decref(repos);
	return err;
}
