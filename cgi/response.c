/* response.c -- response writing and the registry error table; see
 * response.h.  CGI response format: "Status: NNN Reason" and headers,
 * a blank line, the body (RFC 3875 6.3); FastCGI carries the same bytes. */
#include "response.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const struct {
	int status;
	const char *code;
	const char *message;
} errors[E_COUNT] = {
	[E_OK] = { 200, "", "" },
	[E_BLOB_UNKNOWN] = { 404, "BLOB_UNKNOWN", "blob unknown to registry" },
	[E_BLOB_UPLOAD_INVALID] = { 400, "BLOB_UPLOAD_INVALID",
	    "blob upload invalid" },
	[E_BLOB_UPLOAD_UNKNOWN] = { 404, "BLOB_UPLOAD_UNKNOWN",
	    "blob upload unknown to registry" },
	[E_DIGEST_INVALID] = { 400, "DIGEST_INVALID",
	    "provided digest did not match uploaded content" },
	[E_MANIFEST_BLOB_UNKNOWN] = { 400, "MANIFEST_BLOB_UNKNOWN",
	    "manifest references a manifest or blob unknown to registry" },
	[E_MANIFEST_INVALID] = { 400, "MANIFEST_INVALID", "manifest invalid" },
	[E_MANIFEST_UNKNOWN] = { 404, "MANIFEST_UNKNOWN",
	    "manifest unknown to registry" },
	[E_NAME_INVALID] = { 400, "NAME_INVALID", "invalid repository name" },
	[E_NAME_UNKNOWN] = { 404, "NAME_UNKNOWN",
	    "repository name not known to registry" },
	[E_SIZE_INVALID] = { 400, "SIZE_INVALID",
	    "provided length did not match content length" },
	[E_TAG_INVALID] = { 400, "TAG_INVALID", "invalid tag" },
	[E_RANGE_INVALID] = { 416, "RANGE_INVALID", "invalid content range" },
	[E_RANGE_NOT_SATISFIABLE] = { 416, "RANGE_INVALID",
	    "requested range not satisfiable" },
	[E_PAGINATION_NUMBER_INVALID] = { 400, "PAGINATION_NUMBER_INVALID",
	    "invalid number of results requested" },
	[E_UNSUPPORTED] = { 405, "UNSUPPORTED",
	    "the operation is unsupported" },
	[E_METHOD_NOT_ALLOWED] = { 405, "UNSUPPORTED",
	    "method not allowed on this endpoint" },
	[E_NOT_FOUND] = { 404, "UNSUPPORTED",
	    "no such endpoint in the registry API" },
	[E_MANIFEST_TOO_LARGE] = { 413, "MANIFEST_INVALID",
	    "manifest larger than 4 MiB" },
	[E_TOO_MANY_TAGS] = { 414, "TAG_INVALID",
	    "more tag parameters than the registry takes in one request" },
	[E_BAD_REQUEST] = { 400, "UNSUPPORTED", "malformed request" },
	[E_STORAGE_FULL] = { 507, "UNKNOWN", "the registry's storage is full" },
	[E_UNAVAILABLE] = { 503, "UNAVAILABLE",
	    "the registry's storage is unavailable; try again" },
	[E_INTERNAL] = { 500, "UNKNOWN",
	    "internal error; see the registry's log" },
	[E_UNAUTHORIZED] = { 401, "UNAUTHORIZED", "authentication required" },
	[E_DENIED] = { 403, "DENIED",
	    "requested access to the resource is denied" },
};

static const char *
reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 304:
		return "Not Modified";
	case 307:
		return "Temporary Redirect";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Payload Too Large";
	case 414:
		return "URI Too Long";
	case 416:
		return "Range Not Satisfiable";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	case 507:
		return "Insufficient Storage";
	default:
		return "Unknown";
	}
}

int
reg_err_status(enum reg_err err)
{
	return errors[err].status;
}

/* Append "Name: value\r\n" to buf (cap bytes, *len used); on overflow
 * set *overflow and keep what was there.  The name and a "%s" value are
 * copied, not formatted: most headers are one of those, and printf's
 * machinery was the largest part of a manifest GET's own instructions
 * after the params (bench/callgrind.sh). */
static void
add_header(char *buf, size_t cap, size_t *len, bool *overflow, const char *name,
    const char *fmt, va_list ap)
{
	size_t room = cap - *len, n = strlen(name), m;
	const char *value = NULL;
	va_list cp;
	int f;

	if (n + 2 >= room)
		goto overflow;
	memcpy(buf + *len, name, n);
	memcpy(buf + *len + n, ": ", 2);
	n += 2;
	if (strcmp(fmt, "%s") == 0) {
		va_copy(cp, ap);
		value = va_arg(cp, const char *);
		va_end(cp);
	}
	if (value != NULL) {
		m = strlen(value);
		if (n + m + 2 >= room)
			goto overflow;
		memcpy(buf + *len + n, value, m);
	} else {
		f = vsnprintf(buf + *len + n, room - n, fmt, ap);
		if (f < 0 || n + (size_t)f + 2 >= room)
			goto overflow;
		m = (size_t)f;
	}
	memcpy(buf + *len + n + m, "\r\n", 2);
	*len += n + m + 2;
	return;
overflow:
	buf[*len] = '\0';
	*overflow = true;
}

void
resp_header(struct req *r, const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_header(r->head + RESP_HEAD_GAP, RESP_HEAD_MAX, &r->head_len,
	    &r->head_overflow, name, fmt, ap);
	va_end(ap);
}

void
resp_error_header(struct req *r, const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	add_header(r->ehead, sizeof(r->ehead), &r->ehead_len,
	    &r->ehead_overflow, name, fmt, ap);
	va_end(ap);
}

/* "<prefix><path>" into out, path printf-style; false when too long. */
static bool
location(const struct req *r, char *out, size_t cap, const char *fmt,
    va_list ap)
{
	int n = snprintf(out, cap, "%s", r->prefix);
	int m;

	if (n < 0 || (size_t)n >= cap)
		return false;
	m = vsnprintf(out + n, cap - (size_t)n, fmt, ap);
	return m >= 0 && (size_t)m < cap - (size_t)n;
}

void
resp_location(struct req *r, const char *fmt, ...)
{
	char loc[2 * PATH_MAX_LEN + NAME_MAX_LEN + 64];
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	ok = location(r, loc, sizeof(loc), fmt, ap);
	va_end(ap);
	if (!ok)
		r->head_overflow = true; /* a 500 rather than a wrong URL */
	else
		resp_header(r, "Location", "%s", loc);
}

void
resp_error_location(struct req *r, const char *fmt, ...)
{
	char loc[2 * PATH_MAX_LEN + NAME_MAX_LEN + 64];
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	ok = location(r, loc, sizeof(loc), fmt, ap);
	va_end(ap);
	if (!ok)
		r->ehead_overflow = true;
	else
		resp_error_header(r, "Location", "%s", loc);
}

void
resp_detail(struct req *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

void
resp_details(struct req *r, void *details)
{
	json_decref(r->details);
	r->details = details;
}

int
resp_begin(struct req *r, int status)
{
	char line[RESP_HEAD_GAP];
	char *start;
	int n;

	if (r->head_sent)
		return -1;
	if (r->head_overflow) {
		fprintf(stderr, "berth: response headers too long\n");
		status = 500;
		r->head_len = 0;
		r->head_overflow = false;
		resp_header(r, "Content-Length", "0");
	}
	r->status = status;
	r->head_sent = true;
	/* The status line goes right before the headers and the blank line
	 * right after them: one buffer, one write. */
	n = snprintf(line, sizeof(line),
	    "Status: %d %s\r\n"
	    "Docker-Distribution-API-Version: registry/2.0\r\n",
	    status, reason(status));
	if (n < 0 || n >= (int)sizeof(line))
		return -1;
	start = r->head + RESP_HEAD_GAP - n;
	memcpy(start, line, (size_t)n);
	memcpy(r->head + RESP_HEAD_GAP + r->head_len, "\r\n", 2);
	return r->io->write(r->io->priv, start, (size_t)n + r->head_len + 2);
}

int
resp_write(struct req *r, const void *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (r->io->write(r->io->priv, buf, len) != 0)
		return -1;
	r->bytes_sent += len;
	return 0;
}

void
resp_send(struct req *r, int status, const void *body, size_t len)
{
	/* A 204 carries no Content-Length (RFC 9110 8.6). */
	if (status != 204)
		resp_header(r, "Content-Length", "%zu", len);
	if (resp_begin(r, status) != 0)
		return;
	if (r->method_bit != M_HEAD)
		resp_write(r, body, len);
}

enum reg_err
resp_send_json(struct req *r, int status, const char *content_type, void *json)
{
	char *text = json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(json);
	if (text == NULL)
		return E_INTERNAL;
	resp_header(r, "Content-Type", "%s",
	    content_type != NULL ? content_type : "application/json");
	resp_send(r, status, text, strlen(text));
	free(text);
	return E_OK;
}

/* {"errors":[{"code":..,"message":..,"detail":..}, ...]}: one object per
 * detail, or one without a detail when there is none.  NULL when out of
 * memory. */
static char *
envelope(enum reg_err err, const char *detail, json_t *details)
{
	json_t *list = json_array(), *d, *doc;
	size_t i;
	char *text;

	if (json_array_size(details) == 0 && detail != NULL && *detail != '\0')
		json_array_append_new(list,
		    json_pack("{s:s,s:s,s:s}", "code", errors[err].code,
			"message", errors[err].message, "detail", detail));
	else if (json_array_size(details) == 0)
		json_array_append_new(list,
		    json_pack("{s:s,s:s}", "code", errors[err].code, "message",
			errors[err].message));
	json_array_foreach(details, i, d)
		json_array_append_new(list,
		    json_pack("{s:s,s:s,s:O}", "code", errors[err].code,
			"message", errors[err].message, "detail", d));
	doc = json_pack("{s:o}", "errors", list);
	text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	return text;
}

void
resp_error(struct req *r, enum reg_err err)
{
	static const char oom[] = "{\"errors\":[{\"code\":\"UNKNOWN\","
				  "\"message\":\"out of memory\"}]}";
	char *text;
	int status;

	if (err <= E_OK || err >= E_COUNT)
		err = E_INTERNAL;
	text = envelope(err, r->detail, r->details);
	json_decref(r->details);
	r->details = NULL;
	if (r->head_sent) {
		/* Too late for a status: the client sees a short body. */
		fprintf(stderr, "berth: %s after the response began\n",
		    errors[err].code);
		free(text);
		return;
	}
	status = errors[err].status;
	/* The error's own headers replace every success header. */
	memcpy(r->head + RESP_HEAD_GAP, r->ehead, r->ehead_len);
	r->head_len = r->ehead_len;
	r->head_overflow = r->ehead_overflow;
	if (text == NULL) {
		status = 500;
		r->head_len = 0;
		r->head_overflow = false;
	}
	resp_header(r, "Content-Type", "application/json");
	resp_send(r, status, text != NULL ? text : oom,
	    strlen(text != NULL ? text : oom));
	free(text);
}
