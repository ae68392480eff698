/* token.h -- berth's own access tokens: signing keys in the data
 * directory and JSON Web Tokens in the Docker registry token format.
 *
 * A token is header.claims.signature, each base64url without padding
 * (RFC 7515 7.1).  The header is {"alg":"EdDSA","typ":"JWT","kid":K};
 * the claims are those of the Docker token specification ("Token
 * Authentication Implementation"): iss, sub, aud, exp, nbf, iat, jti,
 * access: [{type, name, actions}] -- plus "berth_use":"refresh" on a
 * refresh token, which is never accepted as an access token nor the
 * other way round.
 *
 * Keys: Ed25519 (RFC 8037), one PEM file per key under
 * <data_dir>/keys/, named <created unix seconds, 10 digits>-<kid>.pem,
 * mode 0600; kid is the first 16 hex digits of the SHA-256 of the
 * public key.  The newest key signs; every key in the directory
 * verifies, so `berth key rotate` (token_key_rotate()) keeps the old one
 * until every token it signed has expired.  A process loads the keys
 * once and again only when the directory changes (one stat per call).
 *
 * Verification needs no database and no password hash: one Ed25519
 * verify (tens of microseconds) and a JSON parse -- and a token the
 * process verified lately, by its exact bytes, only a memcmp (the keys
 * directory changing forgets them all).  The algorithm is
 * pinned: a header whose alg is anything but "EdDSA" ("none", "HS256"
 * with the public key as secret, ...) is refused before any key is
 * touched, as is an unknown kid, a bad signature, a claim of the wrong
 * type, an expired or not-yet-valid token, and another issuer or
 * audience.  Revocation: a signed token is valid until exp whatever
 * happens to its user or CI token meanwhile (README, "Access control":
 * at most token_lifetime).
 *
 * Called by store/ident.c (nothing else signs or verifies) and
 * cli/cli_auth.c (key rotate). */
#ifndef BERTH_TOKEN_H
#define BERTH_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "validate.h"

#define TOKEN_MAX	 8192 /* bytes of a token we accept or make */
#define TOKEN_ACCESS_MAX 16   /* access entries in one token */
#define TOKEN_SKEW	 60   /* seconds of clock skew allowed on nbf/iat */

struct token_access {
	bool catalog;		     /* registry:catalog:* (name unused) */
	char name[NAME_MAX_LEN + 1]; /* repository */
	unsigned actions;	     /* enum grant_action bits; 0: asked
					 * for and granted nothing */
	/* What the scope asked for (berth's own member "berth_asked" of
	 * the entry; clients never read tokens): an action asked for and
	 * not granted is a refusal (403), one never asked for is a reason
	 * to ask again (401 insufficient_scope). */
	unsigned asked;
};

struct token_claims {
	char iss[128];
	char aud[128];
	char sub[129];	       /* "" for an anonymous caller */
	char jti[33];	       /* 32 hex digits */
	int64_t iat, nbf, exp; /* unix seconds */
	bool refresh;	       /* a refresh token (berth_use) */
	char cred[17];	       /* a refresh token: the credential it was
				* issued for (berth_cred, ident.h struct
				* ident cred); "" for none */
	size_t naccess;
	struct token_access access[TOKEN_ACCESS_MAX];
};

enum token_result {
	TOKEN_OK = 0,
	TOKEN_BAD,	   /* malformed, wrong alg, bad signature, ... */
	TOKEN_EXPIRED,	   /* exp passed, or nbf not reached */
	TOKEN_WRONG_PARTY, /* another issuer or audience */
	TOKEN_ERR	   /* our failure (no key readable): logged */
};

/* token_sign -- sign c (iss, aud, sub, times, access; jti is filled in
 * here) with the newest key of data_dir, creating the first key when
 * there is none.  Writes the token, NUL-terminated, into out (cap bytes,
 * at most TOKEN_MAX).  0, or -1 after logging. */
int token_sign(const char *data_dir, struct token_claims *c, char *out,
    size_t cap);

/* token_verify -- check tok (NUL-terminated) as described above, with
 * `now` the time, `iss` and `aud` the issuer and audience it must name,
 * and `refresh` whether a refresh token is wanted; fills *c on TOKEN_OK
 * (and only then).  Never logs the token. */
enum token_result token_verify(const char *data_dir, const char *tok,
    int64_t now, const char *iss, const char *aud, bool refresh,
    struct token_claims *c);

/* token_key_ensure -- create the first key when data_dir has none.
 * 0, or -1 after logging. */
int token_key_ensure(const char *data_dir);

/* token_key_rotate -- make a new signing key, then delete the keys whose
 * successor is older than `keep` seconds (no token they signed can be
 * valid any more: keep is the longest token lifetime).  The new kid
 * into kid (17 bytes); *removed the keys deleted.  0, or -1 after
 * logging. */
int token_key_rotate(const char *data_dir, long keep, char *kid, int *removed);

/* token_b64url_encode -- base64url without padding of in[0..n) into out
 * (cap bytes, NUL-terminated); its length, or -1 when out is too small.
 * token_b64url_decode -- the reverse, refusing any byte outside the
 * base64url alphabet and padding; the byte count, or -1. */
long token_b64url_encode(const unsigned char *in, size_t n, char *out,
    size_t cap);
long token_b64url_decode(const char *in, size_t n, unsigned char *out,
    size_t cap);

#endif
