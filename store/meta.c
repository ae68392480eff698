/* meta.c -- the core's wrappers around the metadata backend; see meta.h
 * and meta_admin.h.  This is the one place for fallbacks of optional
 * operations, and for the checks on a backend's table. */
#include "meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "meta_admin.h"
#include "meta_auth.h"

#define MAX_BACKENDS 8

/* The backends linked in, registered by META_BACKEND() before main(). */
static const struct meta_ops *backends[MAX_BACKENDS];
static size_t nbackends;

/* The process's open backend (meta_open()); NULL before and after. */
static const struct meta_ops *ops;
static void *priv;

/* Events (meta_events()) and what they record of the request. */
static bool events_on;
static char ev_actor[256];
static char ev_request[META_EVENT_REQUEST_MAX];
static char ev_base[1024];

void
meta_register(const struct meta_ops *o)
{
	if (nbackends < MAX_BACKENDS)
		backends[nbackends++] = o;
}

const struct meta_ops *
meta_find(const char *name)
{
	for (size_t i = 0; i < nbackends; i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

const char *
meta_backend(struct conf *conf)
{
	const char *name = conf_get(conf, "metadata", "backend");

	return name != NULL && name[0] != '\0' ? name : "sqlite";
}

/* The name of the first required operation o lacks, or NULL. */
static const char *
missing_op(const struct meta_ops *o)
{
#define REQUIRE(op) \
	if (o->op == NULL) \
	return #op
	REQUIRE(open);
	REQUIRE(blob_linked);
	REQUIRE(blob_commit);
	REQUIRE(blob_mount);
	REQUIRE(blob_unlink);
	REQUIRE(manifest_get);
	REQUIRE(manifest_put);
	REQUIRE(manifest_delete);
	REQUIRE(tag_delete);
	REQUIRE(tags_list);
	REQUIRE(catalog);
	REQUIRE(referrers);
	REQUIRE(upload_create);
	REQUIRE(upload_get);
	REQUIRE(upload_advance);
	REQUIRE(upload_delete);
	REQUIRE(upload_expired);
	REQUIRE(admin_repos);
	REQUIRE(admin_tags);
	REQUIRE(admin_manifest);
	REQUIRE(admin_du);
	REQUIRE(admin_uploads);
	REQUIRE(admin_audit);
	REQUIRE(admin_begin);
	REQUIRE(admin_end);
	REQUIRE(gc_untagged);
	REQUIRE(gc_candidates);
	REQUIRE(gc_blob_delete);
	REQUIRE(admin_blob);
	REQUIRE(admin_blob_page);
	REQUIRE(admin_blob_forget);
	REQUIRE(admin_referencing);
#undef REQUIRE
	return NULL;
}

/* The backend conf selects, checked; NULL after reporting why.  Fills
 * section with "metadata.<name>". */
static const struct meta_ops *
choose(struct conf *conf, char *section, size_t cap)
{
	const char *name = meta_backend(conf);
	const struct meta_ops *o = meta_find(name);
	const char *lack;

	if (o == NULL) {
		conf_bad(conf, "metadata", "backend",
		    "no metadata backend of that name in this build");
		return NULL;
	}
	if (o->version != META_OPS_VERSION) {
		fprintf(stderr,
		    "berth: metadata backend \"%s\" has interface "
		    "version %d; this build knows %d\n",
		    name, o->version, META_OPS_VERSION);
		return NULL;
	}
	if ((lack = missing_op(o)) != NULL) {
		fprintf(stderr,
		    "berth: metadata backend \"%s\" lacks the "
		    "required operation %s\n",
		    name, lack);
		return NULL;
	}
	snprintf(section, cap, "metadata.%s", name);
	return o;
}

enum meta_err
meta_open(struct conf *conf, const char *data_dir)
{
	const struct meta_ops *o;
	char section[64];
	enum meta_err e;
	void *p = NULL;

	meta_close();
	if ((o = choose(conf, section, sizeof(section))) == NULL)
		return META_ERR;
	if (events_on && o->outbox_next == NULL) {
		fprintf(stderr,
		    "berth: metadata backend \"%s\" keeps no outbox: "
		    "[notify] url cannot be used with it\n",
		    o->name);
		return META_ERR;
	}
	e = o->open(conf, section, data_dir, &p);
	if (e != META_OK)
		return e;
	ops = o;
	priv = p;
	return META_OK;
}

void
meta_close(void)
{
	if (ops != NULL && ops->close != NULL)
		ops->close(priv);
	ops = NULL;
	priv = NULL;
}

enum meta_err
meta_exists(struct conf *conf, const char *data_dir, char *where, size_t cap)
{
	const struct meta_ops *o;
	char section[64];

	if ((o = choose(conf, section, sizeof(section))) == NULL)
		return META_ERR;
	if (o->exists == NULL) {
		snprintf(where, cap, "the %s metadata backend", o->name);
		return META_OK;
	}
	return o->exists(conf, section, data_dir, where, cap);
}

/* Did an operation answer META_UNAVAILABLE (meta_unavailable_seen())? */
static bool unavailable;

static enum meta_err
note(enum meta_err e)
{
	if (e == META_UNAVAILABLE)
		unavailable = true;
	return e;
}

bool
meta_unavailable_seen(bool clear)
{
	bool seen = unavailable;

	if (clear)
		unavailable = false;
	return seen;
}

/* Every wrapper goes through one of these, so that each answer is seen
 * by note(): no backend open -> META_UNAVAILABLE; an optional operation
 * the backend lacks -> `absent`, its documented fallback (meta.h). */
#define CALL_OR(absent, op, ...) \
	note(ops == NULL	? META_UNAVAILABLE : \
		ops->op == NULL ? (absent) : \
				  ops->op(priv, __VA_ARGS__))
#define CALL(op, ...) CALL_OR(META_ERR, op, __VA_ARGS__)

/* --- Blobs ------------------------------------------------------------ */

enum meta_err
meta_blob_linked(const char *repo, const char *digest, uint64_t *size)
{
	return CALL(blob_linked, repo, digest, size);
}

enum meta_err
meta_blob_commit(const char *repo, const char *digest, uint64_t size,
    const char *upload)
{
	return CALL(blob_commit, repo, digest, size, upload);
}

enum meta_err
meta_blob_mount(const char *repo, const char *from, const char *digest,
    uint64_t *size)
{
	return CALL(blob_mount, repo, from, digest, size);
}

enum meta_err
meta_blob_holders(const char *digest, size_t max, json_t *out)
{
	/* Absent: cannot say, so no automatic mount. */
	return CALL_OR(META_OK, blob_holders, digest, max, out);
}

enum meta_err
meta_blob_unlink(const char *repo, const char *digest)
{
	return CALL(blob_unlink, repo, digest);
}

/* --- Manifests and tags ---------------------------------------------- */

enum meta_err
meta_manifest_get(const char *repo, const char *reference, bool by_digest,
    bool want_body, struct meta_manifest *m)
{
	m->body = NULL;
	return CALL(manifest_get, repo, reference, by_digest, want_body, m);
}

enum meta_err
meta_manifest_put(const struct meta_manifest_put *p, json_t **missing)
{
	*missing = NULL;
	return CALL(manifest_put, p, missing);
}

enum meta_err
meta_manifest_delete(const char *repo, const char *digest)
{
	return CALL(manifest_delete, repo, digest);
}

enum meta_err
meta_tag_delete(const char *repo, const char *tag)
{
	return CALL(tag_delete, repo, tag);
}

enum meta_err
meta_tags_list(const char *repo, const char *last, unsigned long n, json_t *out,
    bool *more)
{
	*more = false;
	return CALL(tags_list, repo, last, n, out, more);
}

enum meta_err
meta_catalog(const char *last, unsigned long n, json_t *out, bool *more)
{
	*more = false;
	return CALL(catalog, last, n, out, more);
}

enum meta_err
meta_referrers(const char *repo, const char *digest, const char *artifact_type,
    struct meta_referrer **rows, size_t *n)
{
	enum meta_err e;

	*rows = NULL;
	*n = 0;
	e = CALL(referrers, repo, digest, artifact_type, rows, n);
	if (e != META_OK) {
		meta_referrers_free(*rows, *n);
		*rows = NULL;
		*n = 0;
	}
	return e;
}

void
meta_referrers_free(struct meta_referrer *rows, size_t n)
{
	if (rows == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		free(rows[i].artifact_type);
		free(rows[i].annotations);
	}
	free(rows);
}

/* --- Upload sessions ------------------------------------------------- */

enum meta_err
meta_upload_create(const struct meta_upload *u)
{
	return CALL(upload_create, u);
}

enum meta_err
meta_upload_get(const char *repo, const char *uuid, long expiry,
    struct meta_upload *u)
{
	return CALL(upload_get, repo, uuid, expiry, u);
}

enum meta_err
meta_upload_advance(const struct meta_upload *u, uint64_t old_size)
{
	return CALL(upload_advance, u, old_size);
}

enum meta_err
meta_upload_delete(const char *uuid)
{
	return CALL(upload_delete, uuid);
}

enum meta_err
meta_upload_expired(long expiry, json_t *out)
{
	return CALL(upload_expired, expiry, out);
}

/* --- The operator's half (meta_admin.h) ------------------------------ */

enum meta_err
meta_admin_repos(json_t *out)
{
	return CALL(admin_repos, out);
}

enum meta_err
meta_admin_tags(const char *repo, json_t *out)
{
	return CALL(admin_tags, repo, out);
}

/* A backend's admin_manifest rows into meta_admin.h's shape: tags
 * [{name}] -> [name], stored [{digest, size}] -> {digest: size}.  0, or
 * -1 when out of memory. */
static int
manifest_shape(json_t *m)
{
	json_t *tags = json_array(), *stored = json_object(), *v;
	size_t i;

	if (tags == NULL || stored == NULL) {
		json_decref(tags);
		json_decref(stored);
		return -1;
	}
	json_array_foreach(json_object_get(m, "tags"), i, v)
		json_array_append(tags, json_object_get(v, "name"));
	json_array_foreach(json_object_get(m, "stored"), i, v)
		json_object_set(stored,
		    json_string_value(json_object_get(v, "digest")),
		    json_object_get(v, "size"));
	json_object_set_new(m, "tags", tags);
	json_object_set_new(m, "stored", stored);
	return 0;
}

enum meta_err
meta_admin_manifest(const char *repo, const char *reference, bool by_digest,
    json_t **out)
{
	enum meta_err e;

	*out = NULL;
	e = CALL(admin_manifest, repo, reference, by_digest, out);
	if (e == META_OK && manifest_shape(*out) != 0) {
		json_decref(*out);
		*out = NULL;
		e = META_ERR;
	}
	return e;
}

enum meta_err
meta_admin_du(json_t **out)
{
	*out = NULL;
	return CALL(admin_du, out);
}

enum meta_err
meta_admin_uploads(json_t *out)
{
	return CALL(admin_uploads, out);
}

enum meta_err
meta_admin_audit(const char *repo, long limit, json_t *out)
{
	return CALL(admin_audit, repo, limit, out);
}

enum meta_err
meta_admin_begin(void)
{
	return note(ops == NULL ? META_UNAVAILABLE : ops->admin_begin(priv));
}

enum meta_err
meta_admin_end(bool commit)
{
	return CALL(admin_end, commit);
}

enum meta_err
meta_gc_untagged(int64_t cutoff, json_t *out)
{
	return CALL(gc_untagged, cutoff, out);
}

enum meta_err
meta_gc_candidates(int64_t cutoff, json_t *out)
{
	return CALL(gc_candidates, cutoff, out);
}

enum meta_err
meta_gc_blob_delete(const char *digest, int64_t cutoff, bool *deleted,
    uint64_t *size)
{
	*deleted = false;
	return CALL(gc_blob_delete, digest, cutoff, deleted, size);
}

enum meta_err
meta_admin_blob(const char *digest, uint64_t *size)
{
	return CALL(admin_blob, digest, size);
}

enum meta_err
meta_admin_blob_page(const char *after, size_t n, json_t *out)
{
	return CALL(admin_blob_page, after, n, out);
}

enum meta_err
meta_admin_blob_forget(const char *digest)
{
	return CALL(admin_blob_forget, digest);
}

enum meta_err
meta_admin_referencing(const char *digest, json_t *out)
{
	return CALL(admin_referencing, digest, out);
}

enum meta_err
meta_admin_integrity(json_t *out)
{
	/* Absent: no check of its own, nothing to say. */
	return CALL_OR(META_OK, admin_integrity, out);
}

enum meta_err
meta_admin_unlinked(json_t *out)
{
	return CALL_OR(META_OK, admin_unlinked, out);
}

enum meta_err
meta_admin_pub_rows(json_t *out)
{
	return CALL_OR(META_OK, admin_pub_rows, out);
}

/* --- The blob lock across hosts ------------------------------------- */

enum meta_err
meta_blob_lock(bool exclusive)
{
	if (ops == NULL || ops->blob_lock == NULL)
		return META_NOTFOUND; /* the flock is the whole lock */
	return note(ops->blob_lock(priv, exclusive));
}

enum meta_err
meta_blob_unlock(void)
{
	if (ops == NULL || ops->blob_unlock == NULL)
		return META_OK; /* nothing was taken */
	return note(ops->blob_unlock(priv));
}

enum meta_err
meta_stats(struct meta_stats *out)
{
	json_t *list;
	enum meta_err e;

	out->uploads = 0;
	out->bytes = -1;
	if (ops == NULL)
		return META_UNAVAILABLE;
	if (ops->stats != NULL)
		return note(ops->stats(priv, out));
	if ((list = json_array()) == NULL)
		return META_ERR;
	e = note(ops->admin_uploads(priv, list));
	out->uploads = json_array_size(list);
	json_decref(list);
	return e;
}

/* --- Identities (meta_auth.h) ------------------------------------------ */

/* The identity operations, or META_ERR (said once) when the backend has
 * none. */
#define AUTH_CALL(op, ...) CALL_OR(no_identities(), op, __VA_ARGS__)

static enum meta_err
no_identities(void)
{
	static bool said;

	if (!said)
		fprintf(stderr,
		    "berth: metadata backend \"%s\" has no "
		    "identities (users, tokens, grants)\n",
		    ops->name);
	said = true;
	return META_ERR;
}

enum meta_err
meta_user_add(const char *name, const char *hash)
{
	return AUTH_CALL(user_add, name, hash);
}

enum meta_err
meta_user_passwd(const char *name, const char *hash)
{
	return AUTH_CALL(user_passwd, name, hash);
}

enum meta_err
meta_user_get(const char *name, char *hash)
{
	return AUTH_CALL(user_get, name, hash);
}

enum meta_err
meta_user_delete(const char *name)
{
	return AUTH_CALL(user_delete, name);
}

enum meta_err
meta_users_list(json_t *out)
{
	return AUTH_CALL(users_list, out);
}

enum meta_err
meta_identities_count(long *n)
{
	return AUTH_CALL(identities_count, n);
}

enum meta_err
meta_ci_token_add(const struct meta_ci_token *t)
{
	return AUTH_CALL(ci_token_add, t);
}

enum meta_err
meta_ci_token_get(const char *id, struct meta_ci_token *t)
{
	return AUTH_CALL(ci_token_get, id, t);
}

enum meta_err
meta_ci_tokens_list(json_t *out)
{
	return AUTH_CALL(ci_tokens_list, out);
}

enum meta_err
meta_ci_token_revoke(const char *name)
{
	return AUTH_CALL(ci_token_revoke, name);
}

enum meta_err
meta_grant_put(const char *who, const char *pattern, const char *actions)
{
	return AUTH_CALL(grant_put, who, pattern, actions);
}

enum meta_err
meta_grant_delete(const char *who, const char *pattern)
{
	return AUTH_CALL(grant_delete, who, pattern);
}

enum meta_err
meta_grants_list(json_t *out)
{
	return AUTH_CALL(grants_list, out);
}

enum meta_err
meta_set_actor(const char *user)
{
	if (events_on && (user == NULL || strlen(user) >= sizeof(ev_actor)))
		ev_actor[0] = '\0';
	else if (events_on)
		memcpy(ev_actor, user, strlen(user) + 1);
	/* Absent: the backend keeps no audit actor. */
	return CALL_OR(META_OK, set_actor, user);
}

/* --- Events ------------------------------------------------------------ */

void
meta_events(bool on)
{
	events_on = on;
}

bool
meta_events_on(void)
{
	return events_on;
}

/* Copy s into buf (cap bytes) when it fits; else leave buf empty. */
static void
keep(char *buf, size_t cap, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	buf[0] = '\0';
	if (n > 0 && n < cap)
		memcpy(buf, s, n + 1);
}

void
meta_event_request(const char *request, const char *base_url)
{
	keep(ev_request, sizeof(ev_request), request);
	keep(ev_base, sizeof(ev_base), base_url);
}

int
meta_event_context(struct meta_event_ctx *c)
{
	unsigned char r[16];
	size_t off = 0;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* version 4 */
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	for (size_t i = 0; i < sizeof(r); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			c->id[off++] = '-';
		snprintf(c->id + off, 3, "%02x", r[i]);
		off += 2;
	}
	c->at = (int64_t)time(NULL);
	c->actor = ev_actor[0] != '\0' ? ev_actor : NULL;
	c->request = ev_request[0] != '\0' ? ev_request : NULL;
	c->base_url = ev_base[0] != '\0' ? ev_base : NULL;
	return 0;
}

enum meta_err
meta_outbox_next(const char *url, size_t max, json_t *out)
{
	return CALL(outbox_next, url, max, out);
}

enum meta_err
meta_outbox_mark(const char *url, int64_t seq, const char *error)
{
	return CALL(outbox_mark, url, seq, error);
}

enum meta_err
meta_outbox_prune(const json_t *urls, int64_t *deleted)
{
	int64_t n = 0;

	return CALL(outbox_prune, urls, deleted != NULL ? deleted : &n);
}

enum meta_err
meta_outbox_status(const json_t *urls, json_t *out)
{
	return CALL(outbox_status, urls, out);
}
