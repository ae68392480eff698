/* auth.c -- access control of each request; see auth.h.  The caller is
 * resolved once per request into `cur` (process-wide, reset by every
 * auth_check()), which the catalog filter reads afterwards. */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "grant.h"
#include "ident.h"
#include "meta_auth.h"
#include "store.h"
#include "token.h"

enum caller {
	CALLER_NONE = 0, /* no credentials at all */
	CALLER_TOKEN,	 /* a valid signed token (cur.claims) */
	CALLER_IDENT	 /* Basic or REMOTE_USER (cur.id) */
};

static struct {
	enum caller kind;
	struct token_claims claims;
	struct ident id;
	bool rules_loaded;
	struct ident_rules rules;
} cur;

static char query_buf[PATH_MAX_LEN];

void
auth_forget(void)
{
	if (cur.rules_loaded)
		ident_rules_free(&cur.rules);
	/* Every request passes here twice: reset what is read before it is
	 * written (anonymous rules come from cur.id), not the ~5 KiB of
	 * token claims, which only a CALLER_TOKEN has. */
	cur.kind = CALLER_NONE;
	cur.rules_loaded = false;
	memset(&cur.id, 0, sizeof(cur.id));
	cur.claims.sub[0] = '\0';
	cur.claims.naccess = 0;
}

const char *
auth_who(void)
{
	if (cur.kind == CALLER_TOKEN && cur.claims.sub[0] != '\0')
		return cur.claims.sub;
	if (cur.kind == CALLER_IDENT && cur.id.name[0] != '\0')
		return cur.id.name;
	return "-";
}

void
auth_signed_in(const struct ident *id)
{
	cur.kind = CALLER_IDENT;
	cur.id = *id;
}

const char *
auth_addr(const struct req *r)
{
	const char *a = req_param(r, "REMOTE_ADDR");

	return a != NULL && a[0] != '\0' ? a : "-";
}

/* Is s fit to appear in a header we write (printable, no quote)? */
static bool
header_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x21 || *s > 0x7e || *s == '"' || *s == '\\')
			return false;
	return true;
}

void
auth_challenge(struct req *r, const char *scope, const char *error)
{
	const struct ident_conf *a = &r->store->auth;
	const char *host = req_param(r, "HTTP_HOST");
	const char *https = req_param(r, "HTTPS");
	const char *scheme = req_param(r, "REQUEST_SCHEME");
	char realm[1024];
	bool tls;

	if (a->realm[0] != '\0') {
		snprintf(realm, sizeof(realm), "%s", a->realm);
	} else {
		/* As the client reached us: its Host, our scheme, the
		 * prefix the registry is mounted under. */
		tls = (https != NULL && strcmp(https, "on") == 0) ||
		    (scheme != NULL && strcmp(scheme, "https") == 0);
		if (host == NULL || !header_safe(host) || strlen(host) > 255)
			host = req_param(r, "SERVER_NAME");
		if (host == NULL || !header_safe(host))
			host = "localhost";
		if (snprintf(realm, sizeof(realm), "%s://%s%s%s",
			tls ? "https" : "http", host,
			header_safe(r->prefix) ? r->prefix : "",
			a->token_path) >= (int)sizeof(realm))
			snprintf(realm, sizeof(realm), "%s", a->token_path);
	}
	resp_error_header(r, "WWW-Authenticate",
	    "Bearer realm=\"%s\",service=\"%s\""
	    "%s%s%s%s%s%s",
	    realm, a->service, scope != NULL ? ",scope=\"" : "",
	    scope != NULL ? scope : "", scope != NULL ? "\"" : "",
	    error != NULL ? ",error=\"" : "", error != NULL ? error : "",
	    error != NULL ? "\"" : "");
}

bool
auth_basic(const char *header, char *user, size_t ucap, char *pass, size_t pcap)
{
	unsigned char buf[1536];
	size_t n, pad = 0;
	const char *colon;
	int len;

	if (strncasecmp(header, "Basic ", 6) != 0)
		return false;
	header += 6;
	while (*header == ' ')
		header++;
	n = strlen(header);
	if (n == 0 || n % 4 != 0 || n / 4 * 3 > sizeof(buf) - 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = header[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			(c >= '0' && c <= '9') || c == '+' || c == '/' ||
			(c == '=' && i >= n - 2)))
			return false;
	}
	pad = header[n - 1] == '=' ? (header[n - 2] == '=' ? 2 : 1) : 0;
	len = EVP_DecodeBlock(buf, (const unsigned char *)header, (int)n);
	if (len < 0)
		return false;
	len -= (int)pad;
	buf[len] = '\0';
	if (memchr(buf, '\0', (size_t)len) != NULL ||
	    (colon = strchr((char *)buf, ':')) == NULL)
		return false;
	if ((size_t)(colon - (char *)buf) >= ucap || strlen(colon + 1) >= pcap)
		return false;
	memcpy(user, buf, (size_t)(colon - (char *)buf));
	user[colon - (char *)buf] = '\0';
	strcpy(pass, colon + 1);
	explicit_bzero(buf, sizeof(buf));
	return true;
}

/* Resolve the caller of r into cur.  false after setting *err (401)
 * when it presented credentials that do not hold. */
static bool
resolve(struct req *r, enum reg_err *err)
{
	const struct ident_conf *a = &r->store->auth;
	const char *h = req_param(r, "HTTP_AUTHORIZATION");
	const char *ru = req_param(r, "REMOTE_USER");
	char user[GRANT_WHO_MAX + 1], pass[1100];
	enum ident_result ir;
	enum token_result tr;

	if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0) {
		tr = token_verify(r->store->data_dir, h + 7,
		    (int64_t)time(NULL), IDENT_ISSUER, a->service, false,
		    &cur.claims);
		if (tr == TOKEN_OK) {
			cur.kind = CALLER_TOKEN;
			return true;
		}
		fprintf(stderr, "berth: auth: %s token refused from %s\n",
		    tr == TOKEN_EXPIRED		? "an expired" :
			tr == TOKEN_WRONG_PARTY ? "another service's" :
						  "a bad",
		    auth_addr(r));
		auth_challenge(r, NULL, "invalid_token");
		*err = tr == TOKEN_ERR ? E_INTERNAL : E_UNAUTHORIZED;
		return false;
	}
	if (h != NULL && strncasecmp(h, "Basic ", 6) == 0) {
		if (!auth_basic(h, user, sizeof(user), pass, sizeof(pass))) {
			auth_challenge(r, NULL, NULL);
			*err = E_UNAUTHORIZED;
			return false;
		}
		ir = ident_login(a, r->store->data_dir, user, pass,
		    auth_addr(r), &cur.id);
		explicit_bzero(pass, sizeof(pass));
		if (ir != IDENT_OK) {
			auth_challenge(r, NULL, NULL);
			*err = ir == IDENT_ERR ? E_INTERNAL : E_UNAUTHORIZED;
			return false;
		}
		cur.kind = CALLER_IDENT;
		return true;
	}
	if (a->trust_remote_user && ru != NULL && ru[0] != '\0') {
		if (!grant_who_valid(ru) || strcmp(ru, "*") == 0) {
			fprintf(stderr,
			    "berth: auth: REMOTE_USER not a user "
			    "name, from %s\n",
			    auth_addr(r));
			*err = E_UNAUTHORIZED;
			return false;
		}
		cur.id.kind = IDENT_USER;
		snprintf(cur.id.name, sizeof(cur.id.name), "%s", ru);
		cur.kind = CALLER_IDENT;
		return true;
	}
	if (h != NULL && h[0] != '\0') {
		auth_challenge(r, NULL, "invalid_token");
		*err = E_UNAUTHORIZED;
		return false;
	}
	cur.kind = CALLER_NONE;
	return true;
}

/* Is the caller anonymous (nobody, or an anonymous token)? */
static bool
anonymous(void)
{
	return cur.kind == CALLER_NONE ||
	    (cur.kind == CALLER_TOKEN && cur.claims.sub[0] == '\0');
}

/* The actions the caller may take on repository name.  *asked: the
 * actions the answer is final for -- all of them for credentials, and
 * for a token what its scope asked for (a token that never asked for an
 * action gets a 401 to ask again, not a 403). */
static unsigned
allowed(const char *name, unsigned *asked)
{
	*asked = 0;
	if (cur.kind == CALLER_TOKEN) {
		for (size_t i = 0; i < cur.claims.naccess; i++) {
			const struct token_access *t = &cur.claims.access[i];

			if (!t->catalog && strcmp(t->name, name) == 0) {
				*asked = t->asked | t->actions;
				return t->actions;
			}
		}
		return 0;
	}
	if (cur.kind != CALLER_IDENT)
		return 0;
	if (!cur.rules_loaded) {
		if (ident_rules_load(&cur.id, &cur.rules) != 0)
			return 0;
		cur.rules_loaded = true;
	}
	*asked = GRANT_ALL;
	return ident_allowed(&cur.rules, &cur.id, name);
}

/* What route row rt needs, as enum grant_action bits: its declared
 * action (routes.c), all of them for an action this file does not know
 * (a new endpoint is closed until someone says what it needs). */
static unsigned
needed(const struct route *rt)
{
	switch (rt->action) {
	case ACT_NONE:
		return 0;
	case ACT_PULL:
		return GRANT_PULL;
	case ACT_PUSH:
		return GRANT_PUSH;
	case ACT_DELETE:
		return GRANT_DELETE;
	}
	return GRANT_ALL;
}

/* The answer for a repository the caller may not see: what a missing
 * one gets from the handler. */
static enum reg_err
as_missing(enum route_id id)
{
	switch (id) {
	case ROUTE_MANIFEST:
		return E_MANIFEST_UNKNOWN;
	case ROUTE_BLOB:
		return E_BLOB_UNKNOWN;
	default:
		return E_NAME_UNKNOWN;
	}
}

/* Drop mount= and from= from r's query: a plain upload starts instead. */
static void
drop_mount(struct req *r)
{
	const char *p = r->query;
	size_t used = 0;

	query_buf[0] = '\0';
	while (*p != '\0') {
		size_t n = strcspn(p, "&");

		if (strncmp(p, "mount=", 6) != 0 &&
		    strncmp(p, "from=", 5) != 0 &&
		    used + n + 2 < sizeof(query_buf)) {
			if (used > 0)
				query_buf[used++] = '&';
			memcpy(query_buf + used, p, n);
			used += n;
			query_buf[used] = '\0';
		}
		p += n;
		if (*p == '&')
			p++;
	}
	r->query = query_buf;
}

/* A mount naming a `from` the caller may not pull is dropped (auth.h).
 * A mount without `from` is left alone: the automatic mount asks access
 * control of each repository it would take the blob from
 * (mount_may_pull() in h_uploads.c). */
static void
check_mount(struct req *r)
{
	char from[NAME_MAX_LEN + 1];
	unsigned asked;

	if (!req_query_has(r->query, "from"))
		return;
	if (req_query_value(r->query, "from", from, sizeof(from)) &&
	    valid_name(from, strlen(from)) &&
	    (allowed(from, &asked) & GRANT_PULL))
		return;
	drop_mount(r);
}

bool
auth_check(struct req *r, enum route_id id, enum reg_err *err)
{
	const struct route_match *m = &r->match;
	char name[NAME_MAX_LEN + 1], scope[NAME_MAX_LEN + 64], acts[32];
	const struct route *rt;
	unsigned need, have, ask, asked;

	auth_forget();
	*err = E_OK;
	if (!r->store->auth.enabled)
		return true;
	if (strcmp(r->path, r->store->auth.token_path) == 0) {
		*err = h_token(r);
		return false;
	}
	if (id == ROUTE_NONE || (rt = route_find(id, r->method_bit)) == NULL)
		return true; /* 404 and 405 tell nothing */
	if (!resolve(r, err))
		return false;
	if (id == ROUTE_BASE || id == ROUTE_CATALOG) {
		if (cur.kind != CALLER_NONE)
			return true;
		auth_challenge(r,
		    id == ROUTE_CATALOG ? "registry:catalog:*" : NULL, NULL);
		*err = E_UNAUTHORIZED;
		return false;
	}
	if (m->name == NULL || m->name_len == 0 || m->name_len > NAME_MAX_LEN ||
	    !valid_name(m->name, m->name_len))
		return true; /* dispatch answers NAME_INVALID */
	memcpy(name, m->name, m->name_len);
	name[m->name_len] = '\0';
	need = needed(rt);
	have = allowed(name, &asked);
	if ((need & have) != need) {
		/* Pushing clients ask for pull,push (docker, containerd). */
		ask = need | ((need & GRANT_PUSH) ? GRANT_PULL : 0);
		grant_actions_format(ask, acts, sizeof(acts));
		snprintf(scope, sizeof(scope), "repository:%s:%s", name, acts);
		if ((need & asked) != need || anonymous()) {
			auth_challenge(r, scope,
			    cur.kind == CALLER_TOKEN ? "insufficient_scope" :
						       NULL);
			*err = E_UNAUTHORIZED;
		} else if ((have & GRANT_PULL) || !(need & GRANT_PULL)) {
			*err = E_DENIED;
		} else {
			*err = as_missing(id);
		}
		return false;
	}
	if (id == ROUTE_UPLOAD_START)
		check_mount(r);
	if (rt->flags & RF_WRITES)
		meta_set_actor(anonymous()	 ? "anonymous" :
			cur.kind == CALLER_TOKEN ? cur.claims.sub :
						   cur.id.name);
	return true;
}

void
auth_filter_repositories(struct req *r, json_t *names)
{
	struct ident id;
	struct ident_rules rules;
	size_t i = 0;

	if (!r->store->auth.enabled)
		return;
	memset(&id, 0, sizeof(id));
	if (cur.kind == CALLER_IDENT) {
		id = cur.id;
	} else if (cur.kind == CALLER_TOKEN && cur.claims.sub[0] != '\0') {
		/* The token names who; what they may pull is today's
		 * grants (a read, no password). */
		if (ident_lookup(&r->store->auth, cur.claims.sub, &id) !=
		    IDENT_OK) {
			json_array_clear(names);
			return;
		}
	}
	if (ident_rules_load(&id, &rules) != 0) {
		json_array_clear(names);
		return;
	}
	while (i < json_array_size(names)) {
		const char *n = json_string_value(json_array_get(names, i));

		if (n != NULL && (ident_allowed(&rules, &id, n) & GRANT_PULL))
			i++;
		else
			json_array_remove(names, i);
	}
	ident_rules_free(&rules);
}
