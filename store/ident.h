/* ident.h -- who a caller is and what it may do: the [auth] settings,
 * sign-in with a password or a CI token, and the grants that decide.
 *
 * Settings, [auth] (README.md, "Access control"):
 *   enabled            false | true: every request needs a token or
 *                      credentials, and grants decide (default false)
 *   realm              the token endpoint's absolute URL for the Bearer
 *                      challenge; default: built from the request as
 *                      the client reached us (scheme, Host, prefix)
 *   service            the service (token audience) name (berth)
 *   token_lifetime     how long a signed token is valid (5m); also the
 *                      longest a revoked CI token or a deleted user goes
 *                      on working with a token it already has
 *   refresh_lifetime   how long a refresh token is valid (7d)
 *   htpasswd           an htpasswd file of bcrypt ($2y$, htpasswd -B)
 *                      or yescrypt hashes; users in the database win
 *   trust_remote_user  take REMOTE_USER from the web server as the
 *                      signed-in user (shared hosting, .htaccess)
 *   token_path         where the token endpoint is served, under /v2/
 *                      (/v2/token), after the registry's prefix
 *
 * Passwords are checked with libcrypt's crypt_r (slow by design); a
 * success is remembered for IDENT_CACHE_SECONDS in a small file-backed
 * cache under <data_dir>/auth/cache, keyed by an HMAC (secret in
 * <data_dir>/auth/secret, 0600) of user, password and stored hash -- so
 * a CGI process, which keeps nothing between requests, does not hash a
 * password per request either, and a changed password misses at once.
 * Failed sign-ins are logged with user and address (never the password
 * or token) and, after IDENT_FAIL_FREE of them in IDENT_FAIL_WINDOW for
 * one user and address, refused without a check (IDENT_THROTTLED) for a
 * back-off of 2 s that doubles with each further failure, up to a
 * minute.  Every crypt_r logs
 * "berth: auth: password hash computed" (tests count them).
 *
 * CI tokens: the secret is "berth_<16 hex id>_<43 base64url>", the
 * password of user name NAME; only its SHA-256 is stored.  Its rights are
 * exactly its scope ("PATTERN:ACTIONS ...").
 *
 * Called by the front (cgi/auth.c, cgi/h_token.c) and the operator
 * commands (cli/cli_auth.c), with the metadata open. */
#ifndef BERTH_IDENT_H
#define BERTH_IDENT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "grant.h"
#include "meta_auth.h"

#define IDENT_CACHE_SECONDS 300
#define IDENT_FAIL_FREE	    5	/* failures before the back-off */
#define IDENT_FAIL_WINDOW   900 /* seconds a failure is remembered */
#define IDENT_SECRET_MAX    96	/* bytes of a CI token secret, NUL included */
/* Bytes of a password, at most: crypt(3)'s CRYPT_MAX_PASSPHRASE_SIZE
 * (libxcrypt: 512) less its NUL.  Longer ones are refused when set and
 * never match at sign-in. */
#define IDENT_PASSWORD_MAX 511
#define IDENT_ISSUER	   "berth" /* iss of every token */

struct ident_conf {
	bool enabled;
	char realm[512]; /* "" -> from the request */
	char service[128];
	long token_lifetime;	 /* seconds */
	long refresh_lifetime;	 /* seconds */
	char htpasswd[PATH_MAX]; /* "" -> none */
	bool trust_remote_user;
	char token_path[256]; /* "/v2/token" */
};

/* ident_configure -- read [auth] of conf into a, and check the htpasswd
 * file it names: readable, and every hash one libcrypt can check -- an
 * Apache "$apr1$" MD5 hash is refused with a message to re-create the
 * file with `htpasswd -B`.  0, or -1 after printing why. */
int ident_configure(struct ident_conf *a, struct conf *conf);

/* ident_ready -- with the metadata open: when access control is on and
 * no user, CI token or htpasswd entry exists, print how to add one and
 * return -1; else 0. */
int ident_ready(const struct ident_conf *a);

enum ident_kind {
	IDENT_ANONYMOUS = 0,
	IDENT_USER, /* a user, htpasswd entry or REMOTE_USER */
	IDENT_CI    /* a CI token */
};

struct ident {
	enum ident_kind kind;
	char name[GRANT_WHO_MAX + 1]; /* "" when anonymous */
	char scope[META_SCOPE_MAX];   /* IDENT_CI: its scope */
	/* Which credential it is: 16 hex digits of the sha256 of a user's
	 * password hash, or a CI token's id; "" for REMOTE_USER.  A new
	 * password, or a user deleted and added again, changes it: refresh
	 * tokens carry it (h_token.c) and stop working then. */
	char cred[17];
};

enum ident_result {
	IDENT_OK = 0,
	IDENT_BAD,	 /* unknown user, wrong password, revoked or
				 * expired CI token: logged */
	IDENT_THROTTLED, /* too many failures: not even checked */
	IDENT_ERR	 /* our failure: logged */
};

/* ident_login -- check user and password (a password, or a CI token's
 * secret) from address addr (for logs and the back-off; may be "").
 * On IDENT_OK fills *id. */
enum ident_result ident_login(const struct ident_conf *a, const char *data_dir,
    const char *user, const char *password, const char *addr, struct ident *id);

/* ident_lookup -- the identity called name as it stands now (a refresh
 * token's subject): IDENT_OK and *id when it is a user (database or
 * htpasswd) or a CI token neither revoked nor expired, else IDENT_BAD. */
enum ident_result ident_lookup(const struct ident_conf *a, const char *name,
    struct ident *id);

/* The rules that decide for one identity: grants from the metadata, or
 * a CI token's scope. */
struct ident_rules {
	struct grant_rule *rules;
	size_t n;
	json_t *rows; /* owns the strings */
	char *scope;  /* IDENT_CI: a copy, owns them */
};

/* ident_rules_load -- load the rules for id into *r (ident_rules_free()
 * releases).  0, or -1 after logging. */
int ident_rules_load(const struct ident *id, struct ident_rules *r);
void ident_rules_free(struct ident_rules *r);

/* ident_allowed -- the actions id may take on repository name. */
unsigned ident_allowed(const struct ident_rules *r, const struct ident *id,
    const char *name);

/* ident_hash_password -- a new yescrypt hash of pw into hash
 * (META_HASH_MAX bytes).  0, or -1 after logging. */
int ident_hash_password(const char *pw, char *hash);

/* ident_ci_secret -- a new CI token secret into secret
 * (IDENT_SECRET_MAX bytes), its id (17 bytes) and the SHA-256 hex of the
 * secret as stored (65 bytes).  0, or -1. */
int ident_ci_secret(char *secret, char *id, char *hash);

/* ident_scope_valid -- is s a CI token scope: one or more
 * "PATTERN:ACTIONS" separated by single spaces, each pattern valid and
 * the actions a non-empty subset? */
bool ident_scope_valid(const char *s);

#endif
