/* h_token.c -- the token endpoint, [auth] token_path (default
 * <prefix>/v2/token), in the Docker registry token format.
 *
 *   GET  ?service=S&scope=A&scope=B[&offline_token=true][&account=U]
 *        with "Authorization: Basic" (docker, podman, skopeo, buildah)
 *        or without (an anonymous token);
 *   POST a form: grant_type=password (username, password) or
 *        grant_type=refresh_token (refresh_token), service, client_id,
 *        scope (space-separated), access_type=offline (containerd,
 *        regclient: "OAuth2 Token Authentication").
 * The answer: {"token", "access_token" (the same), "expires_in"
 * (seconds), "issued_at" (RFC 3339), and "refresh_token" when asked for
 * (offline_token=true, access_type=offline, and always on POST
 * password grants) and the caller is not anonymous}.  Each scope is
 * granted what the caller's grants allow of it (maybe nothing: the
 * access entry then lists no actions); a scope this registry does not
 * understand (another resource type, a name that is no repository name:
 * "..", '%', over 255 bytes) is refused with 400 rather than ignored.
 * Wrong credentials: 401 (logged, slowed down per user and address by
 * store/ident.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "auth.h"
#include "grant.h"
#include "ident.h"
#include "store.h"
#include "token.h"

#define FORM_MAX   16384 /* bytes of a POST body */
#define SCOPES_MAX TOKEN_ACCESS_MAX

struct token_req {
	char service[128];
	char scopes[SCOPES_MAX][NAME_MAX_LEN + 64];
	size_t nscopes;
	bool too_many;
	bool bad; /* a value did not decode or fit */
	bool offline;
	char grant_type[32];
	char username[GRANT_WHO_MAX + 1];
	char password[1100];
	char refresh[TOKEN_MAX];
};

/* Add space-separated scopes from s. */
static void
add_scopes(struct token_req *t, const char *s)
{
	while (*s != '\0') {
		size_t n;

		while (*s == ' ')
			s++;
		n = strcspn(s, " ");
		if (n == 0)
			break;
		if (t->nscopes == SCOPES_MAX) {
			t->too_many = true;
			return;
		}
		if (n >= sizeof(t->scopes[0])) {
			t->bad = true;
			return;
		}
		memcpy(t->scopes[t->nscopes], s, n);
		t->scopes[t->nscopes++][n] = '\0';
		s += n;
	}
}

/* One key=value pair of a query or form. */
static void
take(struct token_req *t, const char *k, size_t klen, const char *v,
    size_t vlen)
{
	static char val[TOKEN_MAX];

#define IS(key) (klen == strlen(key) && memcmp(k, key, klen) == 0)
	if (!req_form_decode(v, vlen, val, sizeof(val))) {
		t->bad = true;
		return;
	}
	if (IS("scope"))
		add_scopes(t, val);
	else if (IS("service"))
		t->bad |= snprintf(t->service, sizeof(t->service), "%s", val) >=
		    (int)sizeof(t->service);
	else if (IS("offline_token"))
		t->offline |= strcmp(val, "true") == 0;
	else if (IS("access_type"))
		t->offline |= strcmp(val, "offline") == 0;
	else if (IS("grant_type"))
		t->bad |= snprintf(t->grant_type, sizeof(t->grant_type), "%s",
			      val) >= (int)sizeof(t->grant_type);
	else if (IS("username"))
		t->bad |= snprintf(t->username, sizeof(t->username), "%s",
			      val) >= (int)sizeof(t->username);
	else if (IS("password"))
		t->bad |= snprintf(t->password, sizeof(t->password), "%s",
			      val) >= (int)sizeof(t->password);
	else if (IS("refresh_token"))
		t->bad |= snprintf(t->refresh, sizeof(t->refresh), "%s", val) >=
		    (int)sizeof(t->refresh);
#undef IS
	explicit_bzero(val, vlen + 1 < sizeof(val) ? vlen + 1 : sizeof(val));
}

static void
parse_pairs(struct token_req *t, const char *s, size_t len)
{
	const char *end = s + len;

	while (s < end) {
		const char *amp = memchr(s, '&', (size_t)(end - s));
		const char *pe = amp != NULL ? amp : end;
		const char *eq = memchr(s, '=', (size_t)(pe - s));

		if (eq != NULL)
			take(t, s, (size_t)(eq - s), eq + 1,
			    (size_t)(pe - eq - 1));
		s = pe + (amp != NULL);
	}
}

/* An error answer of the token endpoint (the registry envelope, written
 * by dispatch): err, with detail (may be NULL). */
static enum reg_err
refuse(struct req *r, enum reg_err err, const char *detail)
{
	if (err == E_UNAUTHORIZED)
		resp_error_header(r, "WWW-Authenticate", "Basic realm=\"%s\"",
		    r->store->auth.service);
	if (detail != NULL)
		resp_detail(r, "%s", detail);
	return err;
}

/* Who is asking: from Basic credentials or the POST form.  *anon when
 * nobody signed in.  E_OK, or the error to answer. */
static enum reg_err
who(struct req *r, struct token_req *t, bool post, struct ident *id, bool *anon)
{
	const struct ident_conf *a = &r->store->auth;
	const char *h = req_param(r, "HTTP_AUTHORIZATION");
	const char *ru = req_param(r, "REMOTE_USER");
	struct token_claims rc;
	char user[GRANT_WHO_MAX + 1], pass[1100];
	enum ident_result ir = IDENT_OK;

	*anon = false;
	memset(id, 0, sizeof(*id));
	if (post && strcmp(t->grant_type, "refresh_token") == 0) {
		if (token_verify(r->store->data_dir, t->refresh,
			(int64_t)time(NULL), IDENT_ISSUER, a->service, true,
			&rc) != TOKEN_OK ||
		    ident_lookup(a, rc.sub, id) != IDENT_OK ||
		    strcmp(rc.cred, id->cred) != 0) {
			/* cred: a new password (or a user deleted and
			 * added again, a CI token made anew) ends the
			 * refresh tokens of the old one. */
			fprintf(stderr,
			    "berth: auth: refresh token refused "
			    "from %s\n",
			    auth_addr(r));
			return refuse(r, E_UNAUTHORIZED,
			    "invalid refresh token");
		}
		return E_OK;
	}
	if (post && strcmp(t->grant_type, "password") == 0) {
		ir = ident_login(a, r->store->data_dir, t->username,
		    t->password, auth_addr(r), id);
	} else if (post) {
		return refuse(r, E_BAD_REQUEST,
		    "grant_type must be password "
		    "or refresh_token");
	} else if (h != NULL && strncasecmp(h, "Basic ", 6) == 0) {
		if (!auth_basic(h, user, sizeof(user), pass, sizeof(pass)))
			return refuse(r, E_UNAUTHORIZED,
			    "malformed Basic "
			    "credentials");
		ir = ident_login(a, r->store->data_dir, user, pass,
		    auth_addr(r), id);
		explicit_bzero(pass, sizeof(pass));
	} else if (a->trust_remote_user && ru != NULL && grant_who_valid(ru) &&
	    strcmp(ru, "*") != 0) {
		id->kind = IDENT_USER;
		snprintf(id->name, sizeof(id->name), "%s", ru);
	} else {
		*anon = true;
	}
	if (ir == IDENT_THROTTLED)
		return refuse(r, E_UNAUTHORIZED,
		    "too many failed sign-ins; "
		    "wait a few seconds and try again");
	if (ir != IDENT_OK)
		return refuse(r, ir == IDENT_ERR ? E_INTERNAL : E_UNAUTHORIZED,
		    ir == IDENT_ERR ? NULL : "wrong user name or password");
	return E_OK;
}

enum reg_err
h_token(struct req *r)
{
	static struct token_req t;
	static struct token_claims c;
	static char tok[TOKEN_MAX], refresh[TOKEN_MAX];
	const struct ident_conf *a = &r->store->auth;
	struct ident_rules rules;
	struct ident id;
	unsigned char *body = NULL;
	size_t blen = 0;
	bool post = r->method_bit == M_POST, anon;
	int64_t now = (int64_t)time(NULL);
	char issued[32];
	struct tm tm;
	json_t *out;
	time_t tnow = (time_t)now;
	enum reg_err err;

	memset(&t, 0, sizeof(t));
	memset(&c, 0, sizeof(c));
	if (!(r->method_bit & (M_GET | M_POST))) {
		resp_error_header(r, "Allow", "GET, POST");
		return E_METHOD_NOT_ALLOWED;
	}
	parse_pairs(&t, r->query, strlen(r->query));
	if (post) {
		if (req_read_all(r, FORM_MAX, &body, &blen) != 0)
			return refuse(r, E_BAD_REQUEST,
			    "form body too large "
			    "or unreadable");
		parse_pairs(&t, (const char *)body, blen);
		explicit_bzero(body, blen);
		free(body);
	}
	if (t.bad)
		return refuse(r, E_BAD_REQUEST, "malformed parameter");
	if (t.too_many)
		return refuse(r, E_BAD_REQUEST, "too many scopes");
	if (t.service[0] != '\0' && strcmp(t.service, a->service) != 0)
		return refuse(r, E_BAD_REQUEST, "unknown service");
	if ((err = who(r, &t, post, &id, &anon)) != E_OK)
		return err;
	if (!anon)
		auth_signed_in(&id);
	explicit_bzero(t.password, sizeof(t.password));
	if (ident_rules_load(&id, &rules) != 0)
		return E_INTERNAL;
	for (size_t i = 0; i < t.nscopes; i++) {
		struct grant_scope sc;
		struct token_access *e = &c.access[c.naccess];

		if (!grant_scope_parse(t.scopes[i], strlen(t.scopes[i]), &sc)) {
			ident_rules_free(&rules);
			return refuse(r, E_BAD_REQUEST, "invalid scope");
		}
		memset(e, 0, sizeof(*e));
		if (sc.type == GRANT_SCOPE_CATALOG) {
			if (anon)
				continue; /* listing is for those signed in */
			e->catalog = true;
			e->actions = GRANT_PULL;
		} else {
			size_t k;

			/* containerd asks "pull" and "pull,push" for one
			 * repository: one entry with both. */
			for (k = 0; k < c.naccess; k++)
				if (!c.access[k].catalog &&
				    strcmp(c.access[k].name, sc.name) == 0)
					break;
			e = &c.access[k];
			if (k == c.naccess)
				snprintf(e->name, sizeof(e->name), "%s",
				    sc.name);
			e->asked |= sc.actions;
			e->actions = e->asked &
			    ident_allowed(&rules, &id, sc.name);
			if (k < c.naccess)
				continue;
		}
		c.naccess++;
	}
	ident_rules_free(&rules);
	snprintf(c.iss, sizeof(c.iss), "%s", IDENT_ISSUER);
	snprintf(c.aud, sizeof(c.aud), "%s", a->service);
	snprintf(c.sub, sizeof(c.sub), "%s", anon ? "" : id.name);
	c.iat = c.nbf = now;
	c.exp = now + a->token_lifetime;
	if (token_sign(r->store->data_dir, &c, tok, sizeof(tok)) != 0)
		return E_INTERNAL;
	refresh[0] = '\0';
	if (!anon &&
	    (t.offline || (post && strcmp(t.grant_type, "password") == 0))) {
		struct token_claims rc;

		memset(&rc, 0, sizeof(rc));
		snprintf(rc.iss, sizeof(rc.iss), "%s", IDENT_ISSUER);
		snprintf(rc.aud, sizeof(rc.aud), "%s", a->service);
		snprintf(rc.sub, sizeof(rc.sub), "%s", id.name);
		snprintf(rc.cred, sizeof(rc.cred), "%s", id.cred);
		rc.iat = rc.nbf = now;
		rc.exp = now + a->refresh_lifetime;
		rc.refresh = true;
		if (token_sign(r->store->data_dir, &rc, refresh,
			sizeof(refresh)) != 0)
			return E_INTERNAL;
	} else if (post && strcmp(t.grant_type, "refresh_token") == 0) {
		snprintf(refresh, sizeof(refresh), "%s", t.refresh);
	}
	gmtime_r(&tnow, &tm);
	strftime(issued, sizeof(issued), "%Y-%m-%dT%H:%M:%SZ", &tm);
	out = json_pack("{s:s, s:s, s:I, s:s}", "token", tok, "access_token",
	    tok, "expires_in", (json_int_t)a->token_lifetime, "issued_at",
	    issued);
	if (out != NULL && refresh[0] != '\0')
		json_object_set_new(out, "refresh_token", json_string(refresh));
	if (out == NULL)
		return E_INTERNAL;
	resp_header(r, "Cache-Control", "no-store");
	err = resp_send_json(r, 200, NULL, out);
	explicit_bzero(tok, sizeof(tok));
	explicit_bzero(refresh, sizeof(refresh));
	return err;
}
