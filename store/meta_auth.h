/* meta_auth.h -- the identities half of the metadata seam: users, CI
 * tokens, grants (sql/003_auth.sql), and who the following writes are
 * done for (the audit trail's `user`).
 *
 * Wrappers in meta.c over optional operations of struct meta_ops
 * (meta.h): a backend without them answers META_ERR here ("this
 * metadata backend has no identities", logged once), so access control
 * cannot be turned on with it, while everything else still works.
 * Names are validated by the caller (grant.h: grant_who_valid(),
 * grant_pattern_valid()); hashes are crypt(3) strings; times unix
 * seconds.  Writes are atomic (meta.h, C1).  Called by store/ident.c
 * (sign-in, permissions) and cli/cli_auth.c. */
#ifndef BERTH_META_AUTH_H
#define BERTH_META_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "meta.h"

#define META_HASH_MAX  256 /* bytes of a crypt(3) hash, NUL included */
#define META_SCOPE_MAX 512 /* bytes of a CI token's scope, NUL included */

/* meta_user_add -- a new user with password hash `hash`.  META_CONFLICT
 * when a user or CI token of that name exists. */
enum meta_err meta_user_add(const char *name, const char *hash);

/* meta_user_passwd -- replace the user's hash.  META_NOTFOUND when there
 * is no such user. */
enum meta_err meta_user_passwd(const char *name, const char *hash);

/* meta_user_get -- the user's hash into hash (META_HASH_MAX bytes).
 * META_NOTFOUND when there is no such user. */
enum meta_err meta_user_get(const char *name, char *hash);

/* meta_user_delete -- remove the user and its grants, at once.
 * META_NOTFOUND when there is no such user. */
enum meta_err meta_user_delete(const char *name);

/* meta_users_list -- append {name, created_at, updated_at} per user, in
 * name order, to the array out. */
enum meta_err meta_users_list(json_t *out);

/* meta_identities_count -- users plus CI tokens not revoked, in *n. */
enum meta_err meta_identities_count(long *n);

struct meta_ci_token {
	char id[17]; /* 16 hex digits */
	char name[129];
	char secret_hash[65]; /* sha256 hex */
	char scope[META_SCOPE_MAX];
	int64_t created_at;
	int64_t expires_at; /* 0: never */
	bool revoked;
};

/* meta_ci_token_add -- record a token.  META_CONFLICT when a token or a
 * user of that name exists (or, vanishingly, the id is taken). */
enum meta_err meta_ci_token_add(const struct meta_ci_token *t);

/* meta_ci_token_get -- the token with id `id` into *t.  META_NOTFOUND
 * when unknown; revoked and expired tokens are returned as they are. */
enum meta_err meta_ci_token_get(const char *id, struct meta_ci_token *t);

/* meta_ci_tokens_list -- append {id, name, scope, created_at,
 * expires_at (null: never), revoked} per token, by name, to out. */
enum meta_err meta_ci_tokens_list(json_t *out);

/* meta_ci_token_revoke -- mark the token called `name` revoked.
 * META_NOTFOUND when there is none (or it was revoked already). */
enum meta_err meta_ci_token_revoke(const char *name);

/* meta_grant_put -- grant `who` the actions (text as grant.h formats
 * them, "" for none) on pattern, replacing a grant on the same pattern. */
enum meta_err meta_grant_put(const char *who, const char *pattern,
    const char *actions);

/* meta_grant_delete -- remove who's grant on pattern.  META_NOTFOUND
 * when there is none. */
enum meta_err meta_grant_delete(const char *who, const char *pattern);

/* meta_grants_list -- append {who, pattern, actions, created_at} per
 * grant, by who and pattern, to out. */
enum meta_err meta_grants_list(json_t *out);

/* meta_set_actor -- the user (or CI token) name the audit rows of the
 * writes that follow name, until the next call; NULL for none.  No
 * write to the store itself (SQLite: a per-connection TEMP table and
 * trigger; PostgreSQL: a session setting, berth.actor, sent only when
 * it changes and again on a new connection).  A backend without the
 * operation ignores it. */
enum meta_err meta_set_actor(const char *user);

#endif
