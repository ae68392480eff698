/* dispatch.c -- the generic rules every request passes before a handler,
 * and the one writer of error responses.
 *
 * In order: the request could be read at all (req_init), the path is an
 * endpoint (404), the method is allowed on it (405 with Allow), the
 * repository name and the path argument are valid for the route's kind,
 * the registry is not read-only for a write, deletes are enabled for a
 * delete, and the route's declared query values are well formed.  Each
 * rule comes from the row of the route table (routes.c).  Then the
 * handler runs, and whatever error it returns -- or any of the rules
 * finds -- is answered here, through resp_error(), with the detail and
 * error headers the handler attached.  A body file the web server
 * handed over (spool.h) is released once the request is answered.
 * Called by server.c once per request. */
#include "dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta.h"
#include "auth.h"
#include "response.h"
#include "store.h"

/* Validate the repository name and the path argument by the route's
 * kind; copy them into r->name and r->arg. */
static enum reg_err
check_values(struct req *r)
{
	const struct route_match *m = &r->match;

	if (m->name == NULL)
		return E_OK; /* /v2/, /v2/_catalog, metrics, health */
	if (!valid_name(m->name, m->name_len))
		return E_NAME_INVALID;
	memcpy(r->name, m->name, m->name_len);
	r->name[m->name_len] = '\0';
	memcpy(r->arg, m->arg, m->arg_len);
	r->arg[m->arg_len] = '\0';
	switch (r->route->arg) {
	case ARG_DIGEST:
		if (check_digest(m->arg, m->arg_len) != DIGEST_OK)
			return E_DIGEST_INVALID;
		break;
	case ARG_REFERENCE:
		/* A reference is a digest when it has ':', else a tag. */
		if (memchr(m->arg, ':', m->arg_len) != NULL) {
			if (check_digest(m->arg, m->arg_len) != DIGEST_OK)
				return E_DIGEST_INVALID;
		} else if (!valid_tag(m->arg, m->arg_len)) {
			/* Clients probe with invalid tags and expect 404 on
			 * reads (oci-spec.md 2.2). */
			return (r->method_bit & (M_GET | M_HEAD)) ?
			    E_MANIFEST_UNKNOWN :
			    E_TAG_INVALID;
		}
		break;
	case ARG_UPLOAD_ID:
		if (!valid_upload_id(m->arg, m->arg_len))
			return E_BLOB_UPLOAD_UNKNOWN;
		break;
	case ARG_NONE:
		break;
	}
	return E_OK;
}

/* Allow: the methods of a route, comma-separated (RFC 9110 10.2.1). */
static void
allow_header(struct req *r, unsigned methods)
{
	static const struct {
		unsigned bit;
		const char *name;
	} tab[] = {
		{ M_GET, "GET" },
		{ M_HEAD, "HEAD" },
		{ M_POST, "POST" },
		{ M_PUT, "PUT" },
		{ M_PATCH, "PATCH" },
		{ M_DELETE, "DELETE" },
	};
	char list[64] = "";

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (!(methods & tab[i].bit))
			continue;
		if (list[0] != '\0')
			strcat(list, ", ");
		strcat(list, tab[i].name);
	}
	resp_error_header(r, "Allow", "%s", list);
}

/* The rules a route's flags call for (enum route_flag). */
static enum reg_err
check_flags(struct req *r)
{
	unsigned flags = r->route->flags;

	if ((flags & RF_WRITES) &&
	    (r->cfg->read_only ||
		((flags & RF_STORES) &&
		    !blob_can(&r->store->blobs, BLOB_CAN_PUT)))) {
		resp_detail(r, "the registry is read-only");
		return E_UNSUPPORTED;
	}
	if ((flags & RF_DELETES) && !r->cfg->delete_enabled) {
		resp_detail(r, "deletes are disabled on this registry");
		return E_UNSUPPORTED;
	}
	return E_OK;
}

/* Why req_init() could not read the request, as an error. */
static enum reg_err
problem_error(struct req *r)
{
	switch (r->problem) {
	case REQ_OK:
		return E_OK;
	case REQ_LONG_PATH:
		/* Only a repository name can make a path this long. */
		resp_detail(r, "repository name over 255 characters");
		return E_NAME_INVALID;
	case REQ_BAD_PATH:
		resp_detail(r,
		    "the request path does not decode, or what "
		    "precedes /v2 in it is no plain path");
		return E_BAD_REQUEST;
	case REQ_BAD_LENGTH:
		resp_detail(r, "Content-Length is not a number");
		return E_BAD_REQUEST;
	}
	return E_BAD_REQUEST;
}

/* Is s fit for the base of an event's target.url (printable, no
 * space, quote or backslash)? */
static bool
url_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x21 || *s > 0x7e || *s == '"' || *s == '\\')
			return false;
	return true;
}

/* What the events of this write record about it (meta.h, "Events"):
 * Distribution's RequestRecord and the registry as the client reached
 * it.  Only while events are on; a value missing from the request is
 * left out. */
static void
event_request(const struct req *r)
{
	static const char *const fields[][2] = {
		{ "addr", "REMOTE_ADDR" },
		{ "host", "HTTP_HOST" },
		{ "useragent", "HTTP_USER_AGENT" },
	};
	const char *host = req_param(r, "HTTP_HOST");
	const char *https = req_param(r, "HTTPS");
	const char *scheme = req_param(r, "REQUEST_SCHEME");
	struct meta_event_ctx id;
	json_t *o = json_object();
	char base[1024], *text = NULL;
	const char *v;
	bool tls;

	if (o == NULL)
		return;
	if (meta_event_context(&id) == 0)
		json_object_set_new(o, "id", json_string(id.id));
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if ((v = req_param(r, fields[i][1])) != NULL)
			json_object_set_new(o, fields[i][0], json_string(v));
	if (r->method != NULL)
		json_object_set_new(o, "method", json_string(r->method));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	tls = (https != NULL && strcmp(https, "on") == 0) ||
	    (scheme != NULL && strcmp(scheme, "https") == 0);
	if (host == NULL || !url_safe(host) || !url_safe(r->prefix) ||
	    snprintf(base, sizeof(base), "%s://%s%s", tls ? "https" : "http",
		host, r->prefix) >= (int)sizeof(base))
		base[0] = '\0';
	meta_event_request(text, base);
	free(text);
}

/* Everything up to and including the handler; the error to answer. */
static enum reg_err
run(struct req *r)
{
	enum query_key bad = QK_NONE;
	enum route_id id;
	enum reg_err err;

	meta_unavailable_seen(true); /* what this request meets */
	err = problem_error(r);
	if (err != E_OK)
		return err;
	if (r->body_gone) {
		/* Nobody reads the answer; counted as the client's doing. */
		resp_detail(r,
		    "the request body is gone: the client closed the "
		    "connection");
		return E_BAD_REQUEST;
	}
	if (r->body_refused) {
		/* The web server named a body file berth must not take
		 * (spool.h; logged): its configuration is wrong or hostile. */
		resp_detail(r,
		    "the web server handed over a body file outside "
		    "the body directory");
		return E_INTERNAL;
	}
	id = route_match(r->path, &r->match);
	/* Known before access control, so a refused request is counted and
	 * logged under its route. */
	r->route = route_find(id, r->method_bit);
	/* Access control (auth.h); it may answer the request itself. */
	if (!auth_check(r, id, &err))
		return err;
	if (id == ROUTE_NONE)
		id = route_match_ops(r->path, r->cfg->metrics_path,
		    r->cfg->health_path, &r->match);
	if (id == ROUTE_NONE)
		return E_NOT_FOUND;
	r->route = route_find(id, r->method_bit);
	if (r->route == NULL) {
		allow_header(r, route_methods(id));
		return E_METHOD_NOT_ALLOWED;
	}
	err = check_values(r);
	if (err == E_DIGEST_INVALID)
		resp_detail(r,
		    "malformed digest, or an algorithm other than "
		    "sha256 and sha512");
	if (err != E_OK)
		return err;
	err = check_flags(r);
	if (err != E_OK)
		return err;
	err = req_query_parse(r->query, r->route->query, &r->q, &bad);
	if (err == E_TOO_MANY_TAGS) {
		resp_detail(r, "at most %d tag parameters in one request",
		    QUERY_TAGS_MAX);
		return err;
	}
	if (err != E_OK) {
		resp_detail(r, "query parameter %s: missing or malformed",
		    query_key_name(bad));
		return err;
	}
	if ((r->route->flags & RF_WRITES) && meta_events_on())
		event_request(r);
	return r->route->handler(r);
}

void
dispatch(struct req *r)
{
	enum reg_err err = run(r);

	if (err == E_OK) {
		resp_details(r, NULL); /* set for an error not returned */
	} else {
		/* The handlers know "internal error"; the seam knows whether
		 * the metadata database was out of reach (meta.h): then 503,
		 * which clients retry. */
		if (err == E_INTERNAL && meta_unavailable_seen(true))
			err = E_UNAVAILABLE;
		/* A backend out of reach: say when to try again (RFC 9110
		 * 10.2.3), whichever seam found it. */
		if (err == E_UNAVAILABLE)
			resp_error_header(r, "Retry-After", "1");
		if (err == E_INTERNAL)
			fprintf(stderr, "berth: %s %s (%s): internal error\n",
			    r->method ? r->method : "-", r->path,
			    r->route != NULL ? r->route->name : "no route");
		resp_error(r, err);
	}
	/* A body file the web server handed over is released once the
	 * request is answered. */
	req_body_close(r);
}
