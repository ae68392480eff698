/* ident.c -- [auth] settings, sign-in, the credentials cache, the
 * failure back-off and the rules that decide; see ident.h.  libcrypt
 * for password hashes, OpenSSL for HMAC, SHA-256 and randomness. */
#include "ident.h"

#include <sys/stat.h>

#include <crypt.h>

_Static_assert(IDENT_PASSWORD_MAX + 1 <= CRYPT_MAX_PASSPHRASE_SIZE,
    "a password crypt(3) takes");
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>

#include "digest.h"
#include "token.h"

#define SECRET_LEN 32

/* The next line of f into line (cap bytes, its end of line kept);
 * false at the end of the file.  A line too long for line is skipped
 * whole, so that its tail is never read as a line of its own. */
static bool
next_line(FILE *f, char *line, size_t cap)
{
	while (fgets(line, (int)cap, f) != NULL) {
		size_t n = strlen(line);
		int c;

		if (n + 1 < cap || line[n - 1] == '\n' || feof(f))
			return true;
		while ((c = getc(f)) != EOF && c != '\n')
			;
	}
	return false;
}

/* The hash of htpasswd user `user` into hash; false when absent. */
static bool
htpasswd_get(const struct ident_conf *a, const char *user, char *hash)
{
	char line[1024];
	bool found = false;
	FILE *f;

	if (a->htpasswd[0] == '\0' || (f = fopen(a->htpasswd, "re")) == NULL)
		return false;
	while (!found && next_line(f, line, sizeof(line))) {
		char *colon = strchr(line, ':');

		line[strcspn(line, "\r\n")] = '\0';
		if (colon == NULL || (size_t)(colon - line) != strlen(user) ||
		    memcmp(line, user, strlen(user)) != 0 || colon[1] != '$' ||
		    strncmp(colon + 1, "$apr1$", 6) == 0 ||
		    strlen(colon + 1) >= META_HASH_MAX)
			continue;
		strcpy(hash, colon + 1);
		found = true;
	}
	fclose(f);
	return found;
}

/* Does the htpasswd file have any entry? */
static bool
htpasswd_any(const struct ident_conf *a)
{
	char line[1024];
	bool any = false;
	FILE *f;

	if (a->htpasswd[0] == '\0' || (f = fopen(a->htpasswd, "re")) == NULL)
		return false;
	while (!any && next_line(f, line, sizeof(line)))
		any = strchr(line, ':') != NULL && line[0] != '#';
	fclose(f);
	return any;
}

int
ident_ready(const struct ident_conf *a)
{
	long n = 0;

	if (!a->enabled)
		return 0;
	if (meta_identities_count(&n) != META_OK)
		return -1;
	if (n > 0 || htpasswd_any(a))
		return 0;
	fprintf(stderr,
	    "berth: [auth] enabled = true, but there is no user "
	    "to sign in as; add one with\n"
	    "    echo 'PASSWORD' | berth user add NAME\n"
	    "    berth grant NAME '**' pull,push\n"
	    "(same -c/-d as the registry), or name an htpasswd file in "
	    "[auth] htpasswd\n");
	return -1;
}

/* --- Password hashes ------------------------------------------------- */

int
ident_hash_password(const char *pw, char *hash)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *h;
	int rc = -1;

	if (cd == NULL)
		return -1;
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) == NULL) {
		fprintf(stderr, "berth: crypt_gensalt_rn: %s\n",
		    strerror(errno));
		goto out;
	}
	h = crypt_r(pw, salt, cd);
	if (h == NULL || h[0] == '*' || strlen(h) >= META_HASH_MAX) {
		fprintf(stderr, "berth: crypt_r failed\n");
		goto out;
	}
	strcpy(hash, h);
	rc = 0;
out:
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return rc;
}

/* Does pw hash to `hash`?  Slow by design; logs that it ran. */
static bool
check_hash(const char *pw, const char *hash, const char *user)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *h;
	bool ok = false;

	if (cd == NULL)
		return false;
	fprintf(stderr, "berth: auth: password hash computed (user %s)\n",
	    user);
	h = crypt_r(pw, hash, cd);
	if (h != NULL && h[0] != '*' && strlen(h) == strlen(hash))
		ok = CRYPTO_memcmp(h, hash, strlen(hash)) == 0;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

/* --- The auth directory: secret, cache, failures --------------------- */

/* <data_dir>/auth/<sub> into path (created, 0700); 0, or -1. */
static int
auth_dir(const char *data_dir, const char *sub, char *path, size_t cap)
{
	int n = snprintf(path, cap, "%s/auth", data_dir);

	if (n < 0 || (size_t)n >= cap)
		return -1;
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	if (sub == NULL)
		return 0;
	n = snprintf(path, cap, "%s/auth/%s", data_dir, sub);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Read the SECRET_LEN bytes of the secret at path into key: 0, or -1. */
static int
read_secret(const char *path, unsigned char *key)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, key, SECRET_LEN);
	close(fd);
	if (n == SECRET_LEN)
		return 0;
	errno = EIO; /* short: not a secret berth made */
	return -1;
}

/* The HMAC secret, made once (0600).  0, or -1. */
static int
secret(const char *data_dir, unsigned char *key)
{
	char path[PATH_MAX], tmp[PATH_MAX + 16];
	ssize_t n = -1;
	int fd;

	if (auth_dir(data_dir, NULL, path, sizeof(path)) != 0)
		return -1;
	strcat(path, "/secret");
	if (read_secret(path, key) == 0)
		return 0;
	if (errno != ENOENT || RAND_bytes(key, SECRET_LEN) != 1)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) <
	    0)
		return -1;
	n = write(fd, key, SECRET_LEN);
	if (n != SECRET_LEN || fsync(fd) != 0) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	/* Another process may have made one first: theirs wins. */
	if (link(tmp, path) != 0) {
		unlink(tmp);
		return read_secret(path, key);
	}
	unlink(tmp);
	return 0;
}

/* What every sign-in needs of <data_dir>/auth, made ready once per
 * process (a FastCGI worker serves many sign-ins): the directories and
 * the secret.  Again only for another data directory. */
static struct {
	char data_dir[PATH_MAX];
	unsigned char key[SECRET_LEN];
	char cache[PATH_MAX], fail[PATH_MAX]; /* auth/cache, auth/fail */
	bool ready;
} auth;

static int
auth_ready(const char *data_dir)
{
	if (auth.ready && strcmp(auth.data_dir, data_dir) == 0)
		return 0;
	auth.ready = false;
	if (strlen(data_dir) >= sizeof(auth.data_dir) ||
	    auth_dir(data_dir, "cache", auth.cache, sizeof(auth.cache)) != 0 ||
	    auth_dir(data_dir, "fail", auth.fail, sizeof(auth.fail)) != 0 ||
	    secret(data_dir, auth.key) != 0)
		return -1;
	strcpy(auth.data_dir, data_dir);
	auth.ready = true;
	return 0;
}

/* hex(HMAC-SHA256(secret, parts joined by NUL)) into out (65 bytes). */
static int
keyed_name(const char *const *parts, size_t n, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t outl = 0;
	int rc = -1;

	params[0] = OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (ctx = EVP_MAC_CTX_new(mac)) == NULL ||
	    EVP_MAC_init(ctx, auth.key, sizeof(auth.key), params) != 1)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (EVP_MAC_update(ctx, (const unsigned char *)parts[i],
			strlen(parts[i]) + 1) != 1)
			goto out;
	if (EVP_MAC_final(ctx, md, &outl, sizeof(md)) != 1)
		goto out;
	mdlen = (unsigned int)outl;
	for (unsigned int i = 0; i < mdlen && i < 32; i++)
		snprintf(out + 2 * (size_t)i, 3, "%02x", md[i]);
	rc = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

/* Was (user, password, hash) verified within IDENT_CACHE_SECONDS?  With
 * `add`, remember that it just was. */
static bool
cache_hit(const char *data_dir, const char *user, const char *pw,
    const char *hash, bool add)
{
	const char *parts[] = { "verified", user, pw, hash };
	const char *dir = auth.cache;
	char name[65], path[PATH_MAX + 80];
	struct stat st;
	int fd;

	if (auth_ready(data_dir) != 0 || keyed_name(parts, 4, name) != 0)
		return false;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!add)
		return stat(path, &st) == 0 &&
		    st.st_mtime + IDENT_CACHE_SECONDS > time(NULL) &&
		    st.st_mtime <= time(NULL) + TOKEN_SKEW;
	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0)
		close(fd);
	/* Now and then (by the name's first hex digit: one add in 16),
	 * sweep out what has expired. */
	if (name[0] == '0') {
		DIR *d = opendir(dir);
		struct dirent *e;

		while (d != NULL && (e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.' || strlen(e->d_name) > 64)
				continue;
			snprintf(path, sizeof(path), "%s/%.64s", dir,
			    e->d_name);
			if (stat(path, &st) == 0 &&
			    st.st_mtime + IDENT_CACHE_SECONDS < time(NULL))
				unlink(path);
		}
		if (d != NULL)
			closedir(d);
	}
	return true;
}

/* The failure record of (user, addr): path into path, count and time
 * of the last failure into *count and *last (0 when none). */
static int
fail_record(const char *data_dir, const char *user, const char *addr,
    char *path, size_t cap, long *count, long long *last)
{
	const char *parts[] = { "failed", user, addr };
	char name[65];
	FILE *f;

	*count = 0;
	*last = 0;
	if (auth_ready(data_dir) != 0 || keyed_name(parts, 3, name) != 0)
		return -1;
	snprintf(path, cap, "%s/%s", auth.fail, name);
	if ((f = fopen(path, "re")) != NULL) {
		char line[64], *end;

		if (fgets(line, sizeof(line), f) != NULL) {
			*count = strtol(line, &end, 10);
			*last = strtoll(end, NULL, 10);
		}
		fclose(f);
	}
	if (*last + IDENT_FAIL_WINDOW < (long long)time(NULL))
		*count = 0;
	return 0;
}

/* Seconds the back-off still lasts after `count` failures, the last at
 * `last`. */
static long
backoff_left(long count, long long last)
{
	long wait;

	if (count < IDENT_FAIL_FREE)
		return 0;
	wait = count - IDENT_FAIL_FREE >= 5 ? 60 :
					      2L << (count - IDENT_FAIL_FREE);
	wait -= (long)((long long)time(NULL) - last);
	return wait > 0 ? wait : 0;
}

static void
fail_note(const char *path, long count)
{
	char tmp[PATH_MAX + 100];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
	if ((f = fopen(tmp, "w")) == NULL)
		return;
	fprintf(f, "%ld %lld\n", count, (long long)time(NULL));
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		unlink(tmp);
}

/* --- Sign-in ---------------------------------------------------------- */

static void
sha256_hex(const char *s, char *out)
{
	unsigned char md[32];

	EVP_Digest(s, strlen(s), md, NULL, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * (size_t)i, 3, "%02x", md[i]);
}

/* Is s "berth_<16 hex>_..."?  Its id into id (17 bytes). */
static bool
ci_secret_id(const char *s, char *id)
{
	if (strncmp(s, "berth_", 6) != 0 || strlen(s) < 6 + 16 + 2 ||
	    s[6 + 16] != '_')
		return false;
	for (int i = 0; i < 16; i++) {
		char c = s[6 + i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		id[i] = c;
	}
	id[16] = '\0';
	return true;
}

/* A CI token's check: IDENT_OK when secret is the live token of name. */
static enum ident_result
ci_login(const char *user, const char *pw, const char *id, struct ident *out)
{
	struct meta_ci_token t;
	char hash[65];
	enum meta_err e = meta_ci_token_get(id, &t);

	if (e == META_NOTFOUND)
		return IDENT_BAD;
	if (e != META_OK)
		return IDENT_ERR;
	sha256_hex(pw, hash);
	if (CRYPTO_memcmp(hash, t.secret_hash, 64) != 0 ||
	    strcmp(t.name, user) != 0 || t.revoked ||
	    (t.expires_at > 0 && t.expires_at <= (int64_t)time(NULL)))
		return IDENT_BAD;
	out->kind = IDENT_CI;
	snprintf(out->name, sizeof(out->name), "%s", t.name);
	snprintf(out->scope, sizeof(out->scope), "%s", t.scope);
	snprintf(out->cred, sizeof(out->cred), "%s", t.id);
	return IDENT_OK;
}

/* A hash to check against when the user is unknown, so that an unknown
 * name costs the same time as a wrong password. */
static const char *
dummy_hash(void)
{
	static char h[META_HASH_MAX];

	if (h[0] == '\0' && ident_hash_password("berth-dummy", h) != 0)
		return NULL;
	return h;
}

/* A user's credential fingerprint (struct ident cred) from its hash. */
static void
cred_of_hash(const char *hash, char cred[17])
{
	char d[DIGEST_STR_MAX];

	digest_buf(DIGEST_SHA256, hash, strlen(hash), d);
	memcpy(cred, d + strlen("sha256:"), 16);
	cred[16] = '\0';
}

enum ident_result
ident_login(const struct ident_conf *a, const char *data_dir, const char *user,
    const char *password, const char *addr, struct ident *id)
{
	char hash[META_HASH_MAX], ciid[17], path[PATH_MAX + 80];
	enum ident_result r = IDENT_BAD;
	bool known = false;
	long long last;
	long count, wait;
	enum meta_err e;

	memset(id, 0, sizeof(*id));
	if (!grant_who_valid(user) || strcmp(user, "*") == 0 ||
	    strcmp(user, "anonymous") == 0) {
		fprintf(stderr,
		    "berth: auth: failed sign-in: malformed user "
		    "name from %s\n",
		    addr);
		return IDENT_BAD;
	}
	if (strlen(password) > IDENT_PASSWORD_MAX) {
		fprintf(stderr,
		    "berth: auth: failed sign-in of %s from %s: a password "
		    "over %d bytes\n",
		    user, addr, IDENT_PASSWORD_MAX);
		return IDENT_BAD;
	}
	if (fail_record(data_dir, user, addr, path, sizeof(path), &count,
		&last) != 0) {
		fprintf(stderr, "berth: auth: cannot use %s/auth\n", data_dir);
		return IDENT_ERR;
	}
	if ((wait = backoff_left(count, last)) > 0) {
		fprintf(stderr,
		    "berth: auth: sign-in of user %s from %s "
		    "refused for %ld s after %ld failures\n",
		    user, addr, wait, count);
		return IDENT_THROTTLED;
	}
	if (ci_secret_id(password, ciid)) {
		r = ci_login(user, password, ciid, id);
	} else {
		e = meta_user_get(user, hash);
		if (e == META_OK)
			known = true;
		else if (e != META_NOTFOUND)
			return IDENT_ERR;
		else
			known = htpasswd_get(a, user, hash);
		if (known && cache_hit(data_dir, user, password, hash, false)) {
			r = IDENT_OK;
		} else if (known && check_hash(password, hash, user)) {
			cache_hit(data_dir, user, password, hash, true);
			r = IDENT_OK;
		} else if (!known && dummy_hash() != NULL) {
			(void)check_hash(password, dummy_hash(), user);
		}
		if (r == IDENT_OK) {
			id->kind = IDENT_USER;
			snprintf(id->name, sizeof(id->name), "%s", user);
			cred_of_hash(hash, id->cred);
		}
	}
	if (r == IDENT_BAD) {
		fprintf(stderr,
		    "berth: auth: failed sign-in of user %s from %s "
		    "(%ld in a row)\n",
		    user, addr, count + 1);
		fail_note(path, count + 1);
	} else if (r == IDENT_OK && count > 0) {
		unlink(path);
	}
	return r;
}

enum ident_result
ident_lookup(const struct ident_conf *a, const char *name, struct ident *id)
{
	char hash[META_HASH_MAX];
	json_t *list;
	enum meta_err e;
	size_t i;
	json_t *t;
	enum ident_result r = IDENT_BAD;

	memset(id, 0, sizeof(*id));
	if (!grant_who_valid(name))
		return IDENT_BAD;
	e = meta_user_get(name, hash);
	if (e == META_OK ||
	    (e == META_NOTFOUND && htpasswd_get(a, name, hash))) {
		id->kind = IDENT_USER;
		snprintf(id->name, sizeof(id->name), "%s", name);
		cred_of_hash(hash, id->cred);
		explicit_bzero(hash, sizeof(hash));
		return IDENT_OK;
	}
	if (e != META_NOTFOUND || (list = json_array()) == NULL)
		return IDENT_ERR;
	if (meta_ci_tokens_list(list) != META_OK) {
		json_decref(list);
		return IDENT_ERR;
	}
	json_array_foreach(list, i, t) {
		json_t *exp = json_object_get(t, "expires_at");
		const char *scope = json_string_value(
		    json_object_get(t, "scope"));

		if (strcmp(json_string_value(json_object_get(t, "name")),
			name) != 0 ||
		    json_integer_value(json_object_get(t, "revoked")) != 0 ||
		    (json_is_integer(exp) &&
			json_integer_value(exp) <= (json_int_t)time(NULL)) ||
		    scope == NULL)
			continue;
		id->kind = IDENT_CI;
		snprintf(id->name, sizeof(id->name), "%s", name);
		snprintf(id->scope, sizeof(id->scope), "%s", scope);
		snprintf(id->cred, sizeof(id->cred), "%s",
		    json_string_value(json_object_get(t, "id")) != NULL ?
			json_string_value(json_object_get(t, "id")) :
			"");
		r = IDENT_OK;
	}
	json_decref(list);
	return r;
}

/* --- Rules ------------------------------------------------------------ */

bool
ident_scope_valid(const char *s)
{
	char buf[META_SCOPE_MAX], *save = NULL, *w;
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(buf) || s[0] == ' ' || s[n - 1] == ' ' ||
	    strstr(s, "  ") != NULL)
		return false;
	strcpy(buf, s);
	for (w = strtok_r(buf, " ", &save); w != NULL;
	     w = strtok_r(NULL, " ", &save)) {
		char *colon = strrchr(w, ':');
		unsigned acts;

		if (colon == NULL)
			return false;
		*colon = '\0';
		if (!grant_pattern_valid(w) ||
		    !grant_actions_parse(colon + 1, strlen(colon + 1), &acts) ||
		    acts == 0)
			return false;
	}
	return true;
}

int
ident_rules_load(const struct ident *id, struct ident_rules *r)
{
	size_t i, cap;
	json_t *g;

	memset(r, 0, sizeof(*r));
	if (id->kind == IDENT_CI) {
		char *save = NULL, *w;

		if ((r->scope = strdup(id->scope)) == NULL)
			return -1;
		cap = 1;
		for (const char *p = r->scope; *p != '\0'; p++)
			cap += *p == ' ';
		if ((r->rules = calloc(cap, sizeof(*r->rules))) == NULL)
			goto fail;
		for (w = strtok_r(r->scope, " ", &save);
		     w != NULL && r->n < cap; w = strtok_r(NULL, " ", &save)) {
			char *colon = strrchr(w, ':');
			unsigned acts;

			if (colon == NULL)
				continue;
			*colon = '\0';
			if (!grant_actions_parse(colon + 1, strlen(colon + 1),
				&acts))
				continue;
			r->rules[r->n].who = id->name;
			r->rules[r->n].pattern = w;
			r->rules[r->n].actions = acts;
			r->n++;
		}
		return 0;
	}
	if ((r->rows = json_array()) == NULL ||
	    meta_grants_list(r->rows) != META_OK)
		goto fail;
	if (json_array_size(r->rows) > 0 &&
	    (r->rules = calloc(json_array_size(r->rows), sizeof(*r->rules))) ==
		NULL)
		goto fail;
	json_array_foreach(r->rows, i, g) {
		const char *acts = json_string_value(
		    json_object_get(g, "actions"));
		struct grant_rule *x = &r->rules[r->n];

		x->who = json_string_value(json_object_get(g, "who"));
		x->pattern = json_string_value(json_object_get(g, "pattern"));
		if (x->who == NULL || x->pattern == NULL || acts == NULL ||
		    !grant_actions_parse(acts, strlen(acts), &x->actions))
			continue; /* a row written by hand, wrongly */
		r->n++;
	}
	return 0;
fail:
	fprintf(stderr, "berth: auth: cannot read the grants\n");
	ident_rules_free(r);
	return -1;
}

void
ident_rules_free(struct ident_rules *r)
{
	free(r->rules);
	free(r->scope);
	json_decref(r->rows);
	memset(r, 0, sizeof(*r));
}

unsigned
ident_allowed(const struct ident_rules *r, const struct ident *id,
    const char *name)
{
	return grant_decide(r->rules, r->n,
	    id->kind == IDENT_ANONYMOUS ? NULL : id->name, name, NULL);
}

int
ident_ci_secret(char *secret_out, char *id, char *hash)
{
	unsigned char rnd[8 + 32];
	char key[64];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	for (int i = 0; i < 8; i++)
		snprintf(id + 2 * (size_t)i, 3, "%02x", rnd[i]);
	if (token_b64url_encode(rnd + 8, 32, key, sizeof(key)) < 0)
		return -1;
	snprintf(secret_out, IDENT_SECRET_MAX, "berth_%s_%s", id, key);
	sha256_hex(secret_out, hash);
	explicit_bzero(rnd, sizeof(rnd));
	return 0;
}
