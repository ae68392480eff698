/* dispatch.c -- the generic rules every request passes before a handler:
 * the route exists, the method is allowed on it, the registry is not
 * read-only for a write, deletes are enabled for a DELETE, and the
 * repository name and the path argument are valid.  Then the handler runs
 * and, when it returns an error, this is the one place that answers it.
 * A body file the web server handed over is released once the request
 * is answered.  Called by server.c once per request. */
#include "dispatch.h"

#include <stdio.h>
#include <string.h>

#include "store.h"
#include "auth.h"
#include "handlers.h"

typedef enum reg_err (*handler_fn)(struct req *);

static const handler_fn handlers[ROUTE_COUNT] = {
	[ROUTE_BASE] = h_base,
	[ROUTE_CATALOG] = h_catalog,
	[ROUTE_TAGS] = h_tags,
	[ROUTE_MANIFEST] = h_manifest,
	[ROUTE_BLOB] = h_blob,
	[ROUTE_UPLOAD_START] = h_upload_start,
	[ROUTE_UPLOAD] = h_upload,
	[ROUTE_REFERRERS] = h_referrers,
};

/* Validate what the route carries; copy it into r->name and r->arg. */
static enum reg_err
check_values(struct req *r)
{
	const struct route_match *m = &r->match;
	enum route_id id = m->route->id;

	if (id == ROUTE_BASE || id == ROUTE_CATALOG)
		return E_OK;
	if (!valid_name(m->name, m->name_len))
		return E_NAME_INVALID;
	memcpy(r->name, m->name, m->name_len);
	r->name[m->name_len] = '\0';
	memcpy(r->arg, m->arg, m->arg_len);
	r->arg[m->arg_len] = '\0';
	switch (id) {
	case ROUTE_BLOB:
	case ROUTE_REFERRERS:
		if (check_digest(m->arg, m->arg_len) != DIGEST_OK)
			return E_DIGEST_INVALID;
		break;
	case ROUTE_MANIFEST:
		/* A reference is a digest when it has ':', else a tag. */
		if (memchr(m->arg, ':', m->arg_len) != NULL) {
			if (check_digest(m->arg, m->arg_len) != DIGEST_OK)
				return E_DIGEST_INVALID;
		} else if (!valid_tag(m->arg, m->arg_len)) {
			/* Clients probe with invalid tags and expect 404 on
			 * reads (oci-spec.md 2.2). */
			return r->method_bit & (M_GET | M_HEAD) ?
			    E_MANIFEST_UNKNOWN : E_TAG_INVALID;
		}
		break;
	case ROUTE_UPLOAD:
		if (!valid_upload_id(m->arg, m->arg_len))
			return E_BLOB_UPLOAD_UNKNOWN;
		break;
	default:
		break;
	}
	return E_OK;
}

/* Allow: the methods of a route, comma-separated (RFC 9110 10.2.1). */
static void
allow_header(struct req *r, unsigned methods)
{
	static const struct { unsigned bit; const char *name; } tab[] = {
		{ M_GET, "GET" }, { M_HEAD, "HEAD" }, { M_POST, "POST" },
		{ M_PUT, "PUT" }, { M_PATCH, "PATCH" }, { M_DELETE, "DELETE" },
	};
	char list[64] = "";

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (!(methods & tab[i].bit))
			continue;
		if (list[0] != '\0')
			strcat(list, ", ");
		strcat(list, tab[i].name);
	}
	resp_header(r, "Allow", "%s", list);
}

/* Route r, apply the generic rules, run the handler, write its error. */
static void
route_and_run(struct req *r)
{
	const struct route *route = route_match(r->path, &r->match);
	const char *detail = NULL;
	enum reg_err err;

	if (r->body_refused) {
		/* The web server named a body file berth must not take
		 * (spool.h; logged): its configuration is wrong or hostile. */
		err = E_INTERNAL;
		detail = "the web server handed over a body file outside "
		    "the body directory";
		goto fail;
	}
	/* Access control (auth.h): it may answer the request itself. */
	if (!auth_check(r, route, &err)) {
		if (err == E_OK)
			return;
		goto fail;
	}
	if (route == NULL) {
		err = E_NOT_FOUND;
		goto fail;
	}
	if (!(route->methods & r->method_bit)) {
		allow_header(r, route->methods);
		err = E_METHOD_NOT_ALLOWED;
		goto fail;
	}
	err = check_values(r);
	if (err == E_DIGEST_INVALID)
		detail = "malformed digest, or an algorithm other than sha256 "
		    "and sha512";
	if (err != E_OK)
		goto fail;
	if (route->write_methods & r->method_bit) {
		if (r->cfg->read_only || (!blob_can(&r->store->blobs, BLOB_CAN_PUT) &&
		    !(r->method_bit & M_DELETE))) {
			err = E_UNSUPPORTED;
			detail = "the registry is read-only";
			goto fail;
		}
		if (r->method_bit == M_DELETE && !r->cfg->delete_enabled &&
		    (route->id == ROUTE_MANIFEST || route->id == ROUTE_BLOB)) {
			err = E_UNSUPPORTED;
			detail = "deletes are disabled on this registry";
			goto fail;
		}
	}
	err = handlers[route->id](r);
	if (err == E_OK)
		return;
fail:
	if (err == E_INTERNAL)
		fprintf(stderr, "berth: %s %s: internal error\n",
		    r->method ? r->method : "-", r->path);
	resp_error(r, err, detail);
}

void
dispatch(struct req *r)
{
	route_and_run(r);
	req_body_close(r);
}
