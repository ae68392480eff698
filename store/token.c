/* token.c -- signing keys and JSON Web Tokens; see token.h.  OpenSSL
 * EVP for Ed25519, SHA-256, randomness and base64; jansson for JSON. */
#include "token.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "grant.h"

#define KEYS_MAX 8 /* keys kept loaded; the newest ones */
#define KID_LEN	 16
#define SIG_LEN	 64 /* Ed25519 (RFC 8032 5.1.6) */

struct key {
	char kid[KID_LEN + 1];
	int64_t created; /* unix seconds, from the file name */
	EVP_PKEY *pkey;
};

/* The keys of one data directory, loaded lazily; reloaded when the
 * directory's modification time changes (a rotation adds a file). */
static struct {
	char dir[PATH_MAX];
	struct timespec mtime;
	struct key keys[KEYS_MAX]; /* oldest first */
	size_t n;
	unsigned long generation; /* bumped at every (re)load */
} cache;

/* Tokens this process verified lately, by their exact bytes: a client
 * sends the same token with every request of a push or pull, and a
 * worker then checks it with one memcmp instead of a signature and two
 * JSON parses (bench: manifest GETs with a token).  Safe because the
 * same bytes always verify the same way, except for time (checked on
 * every use) and the keys: any change to the key directory empties it,
 * so deleting a key revokes its tokens at once.  Tokens longer than
 * SEEN_TOKEN_MAX are simply not remembered. */
#define SEEN_MAX       16
#define SEEN_TOKEN_MAX 2048
static struct seen {
	size_t len; /* 0: empty */
	char tok[SEEN_TOKEN_MAX];
	bool refresh;
	unsigned long generation;
	struct token_claims c;
} seen[SEEN_MAX];
static size_t seen_next;

long
token_b64url_encode(const unsigned char *in, size_t n, char *out, size_t cap)
{
	size_t need = 4 * ((n + 2) / 3);
	long len;

	if (need + 1 > cap || n > INT_MAX / 2)
		return -1;
	len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	while (len > 0 && out[len - 1] == '=')
		len--;
	out[len] = '\0';
	for (long i = 0; i < len; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	return len;
}

long
token_b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
	char buf[TOKEN_MAX + 4];
	size_t pad = (4 - n % 4) % 4;
	int len;

	if (n % 4 == 1 || n + pad > TOKEN_MAX || 3 * ((n + pad) / 4) > cap)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];

		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9')))
			return -1;
		buf[i] = c;
	}
	memset(buf + n, '=', pad);
	len = EVP_DecodeBlock(out, (const unsigned char *)buf, (int)(n + pad));
	if (len < 0)
		return -1;
	return (long)len - (long)pad;
}

/* Forget the keys, and that they were loaded: the next load_keys()
 * reads the directory whatever its modification time. */
static void
free_keys(void)
{
	for (size_t i = 0; i < cache.n; i++)
		EVP_PKEY_free(cache.keys[i].pkey);
	cache.n = 0;
	cache.dir[0] = '\0';
}

/* Is name a key file's name ("NNNNNNNNNN-<16 hex>.pem")? */
static bool
key_name(const char *name)
{
	if (strlen(name) != 10 + 1 + KID_LEN + 4 || name[10] != '-' ||
	    strcmp(name + 11 + KID_LEN, ".pem") != 0)
		return false;
	for (int i = 0; i < 10; i++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	for (int i = 11; i < 11 + KID_LEN; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
			(name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return true;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The key file names of dir, sorted oldest first, malloc'd (caller
 * frees each and the array); -1 on error, else the count. */
static int
list_keys(const char *dir, char ***names)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL, **nv;
	int n = 0;

	*names = NULL;
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((e = readdir(d)) != NULL) {
		if (!key_name(e->d_name))
			continue;
		if ((nv = realloc(v, (size_t)(n + 1) * sizeof(*v))) == NULL)
			break;
		v = nv;
		if ((v[n] = strdup(e->d_name)) == NULL)
			break;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(v, (size_t)n, sizeof(*v), cmp_names);
	*names = v;
	return n;
}

static void
free_names(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Load the keys of data_dir unless loaded and unchanged.  0, or -1. */
static int
load_keys(const char *data_dir)
{
	char dir[PATH_MAX], path[PATH_MAX + 64];
	struct stat st;
	char **names;
	int n, first;

	if (snprintf(dir, sizeof(dir), "%s/keys", data_dir) >= (int)sizeof(dir))
		return -1;
	if (stat(dir, &st) != 0) {
		free_keys();
		return errno == ENOENT ? 0 : -1;
	}
	if (strcmp(cache.dir, dir) == 0 &&
	    st.st_mtim.tv_sec == cache.mtime.tv_sec &&
	    st.st_mtim.tv_nsec == cache.mtime.tv_nsec)
		return 0;
	free_keys();
	cache.generation++;
	if ((n = list_keys(dir, &names)) < 0) {
		fprintf(stderr, "berth: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	first = n > KEYS_MAX ? n - KEYS_MAX : 0;
	for (int i = first; i < n; i++) {
		struct key *k = &cache.keys[cache.n];
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if ((f = fopen(path, "re")) == NULL) {
			fprintf(stderr, "berth: %s: %s\n", path,
			    strerror(errno));
			continue;
		}
		k->pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (k->pkey == NULL ||
		    EVP_PKEY_get_id(k->pkey) != EVP_PKEY_ED25519) {
			fprintf(stderr, "berth: %s: not an Ed25519 key\n",
			    path);
			EVP_PKEY_free(k->pkey);
			continue;
		}
		k->created = strtoll(names[i], NULL, 10);
		memcpy(k->kid, names[i] + 11, KID_LEN);
		k->kid[KID_LEN] = '\0';
		cache.n++;
	}
	free_names(names, n);
	snprintf(cache.dir, sizeof(cache.dir), "%s", dir);
	cache.mtime = st.st_mtim;
	return 0;
}

/* Make a key file in data_dir/keys; its kid into kid.  0, or -1. */
static int
new_key(const char *data_dir, char *kid)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 64], path[PATH_MAX + 64];
	unsigned char pub[32], md[32];
	size_t publen = sizeof(pub);
	EVP_PKEY *pkey = NULL;
	FILE *f = NULL;
	int fd = -1, rc = -1;

	snprintf(dir, sizeof(dir), "%s/keys", data_dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "berth: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL ||
	    EVP_PKEY_get_raw_public_key(pkey, pub, &publen) != 1 ||
	    EVP_Digest(pub, publen, md, NULL, EVP_sha256(), NULL) != 1)
		goto fail;
	for (int i = 0; i < KID_LEN / 2; i++)
		snprintf(kid + 2 * (size_t)i, 3, "%02x", md[i]);
	snprintf(tmp, sizeof(tmp), "%s/.new-%s", dir, kid);
	snprintf(path, sizeof(path), "%s/%010lld-%s.pem", dir,
	    (long long)time(NULL), kid);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0 ||
	    (f = fdopen(fd, "w")) == NULL)
		goto fail;
	fd = -1;
	if (PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fflush(f) != 0 || fsync(fileno(f)) != 0)
		goto fail;
	if (rename(tmp, path) != 0)
		goto fail;
	rc = 0;
fail:
	if (rc != 0)
		fprintf(stderr, "berth: cannot make a signing key in %s: %s\n",
		    dir, errno != 0 ? strerror(errno) : "OpenSSL failed");
	if (f != NULL)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		unlink(tmp);
	EVP_PKEY_free(pkey);
	return rc;
}

int
token_key_ensure(const char *data_dir)
{
	char kid[KID_LEN + 1];

	if (load_keys(data_dir) != 0)
		return -1;
	if (cache.n > 0)
		return 0;
	if (new_key(data_dir, kid) != 0)
		return -1;
	return load_keys(data_dir);
}

int
token_key_rotate(const char *data_dir, long keep, char *kid, int *removed)
{
	char dir[PATH_MAX], path[PATH_MAX + 64];
	int64_t now = (int64_t)time(NULL);
	char **names;
	int n;

	*removed = 0;
	if (new_key(data_dir, kid) != 0)
		return -1;
	snprintf(dir, sizeof(dir), "%s/keys", data_dir);
	if ((n = list_keys(dir, &names)) < 0)
		return -1;
	/* Key i signed until key i+1 was made; its tokens live at most
	 * `keep` seconds past that. */
	for (int i = 0; i + 1 < n; i++) {
		int64_t successor = strtoll(names[i + 1], NULL, 10);

		if (successor + keep >= now)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (unlink(path) == 0)
			(*removed)++;
	}
	free_names(names, n);
	return 0;
}

/* enum grant_action bits as a JSON array of names ("pull", ...). */
static json_t *
actions_json(unsigned actions)
{
	char acts[32], *save = NULL, *w;
	json_t *list = json_array();

	grant_actions_format(actions, acts, sizeof(acts));
	for (w = strtok_r(acts, ",", &save); list != NULL && w != NULL;
	     w = strtok_r(NULL, ",", &save))
		json_array_append_new(list, json_string(w));
	return list;
}

/* The claims as the JSON object of the token format; NULL on OOM. */
static json_t *
claims_json(const struct token_claims *c)
{
	json_t *o = json_object(), *access = json_array();

	if (o == NULL || access == NULL)
		goto fail;
	for (size_t i = 0; i < c->naccess; i++) {
		const struct token_access *a = &c->access[i];
		json_t *e, *list, *asked;

		if (a->catalog) {
			list = json_array();
			json_array_append_new(list, json_string("*"));
			asked = json_deep_copy(list);
		} else {
			list = actions_json(a->actions);
			asked = actions_json(a->asked);
		}
		e = json_pack("{s:s, s:s, s:o, s:o}", "type",
		    a->catalog ? "registry" : "repository", "name",
		    a->catalog ? "catalog" : a->name, "actions", list,
		    "berth_asked", asked);
		if (e == NULL || json_array_append_new(access, e) != 0)
			goto fail;
	}
	if (json_object_set_new(o, "iss", json_string(c->iss)) != 0 ||
	    json_object_set_new(o, "sub", json_string(c->sub)) != 0 ||
	    json_object_set_new(o, "aud", json_string(c->aud)) != 0 ||
	    json_object_set_new(o, "exp", json_integer(c->exp)) != 0 ||
	    json_object_set_new(o, "nbf", json_integer(c->nbf)) != 0 ||
	    json_object_set_new(o, "iat", json_integer(c->iat)) != 0 ||
	    json_object_set_new(o, "jti", json_string(c->jti)) != 0)
		goto fail;
	if (json_object_set_new(o, "access", access) != 0)
		goto fail_o;
	if (c->refresh &&
	    json_object_set_new(o, "berth_use", json_string("refresh")) != 0)
		goto fail_o;
	if (c->cred[0] != '\0' &&
	    json_object_set_new(o, "berth_cred", json_string(c->cred)) != 0)
		goto fail_o;
	return o;
fail:
	json_decref(access);
fail_o:
	json_decref(o);
	return NULL;
}

/* Append base64url(json) of v to out at *used; false when it won't fit. */
static bool
put_part(json_t *v, char *out, size_t cap, size_t *used)
{
	char *s = json_dumps(v, JSON_COMPACT);
	long n;

	if (s == NULL)
		return false;
	n = token_b64url_encode((unsigned char *)s, strlen(s), out + *used,
	    cap - *used);
	free(s);
	if (n < 0)
		return false;
	*used += (size_t)n;
	return true;
}

int
token_sign(const char *data_dir, struct token_claims *c, char *out, size_t cap)
{
	unsigned char rnd[16], sig[SIG_LEN];
	size_t siglen = sizeof(sig), used = 0;
	EVP_MD_CTX *ctx = NULL;
	json_t *hdr = NULL, *cl = NULL;
	const struct key *k;
	int rc = -1;

	if (cap > TOKEN_MAX)
		cap = TOKEN_MAX;
	if (token_key_ensure(data_dir) != 0 || cache.n == 0)
		return -1;
	k = &cache.keys[cache.n - 1];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(c->jti + 2 * (size_t)i, 3, "%02x", rnd[i]);
	hdr = json_pack("{s:s, s:s, s:s}", "alg", "EdDSA", "typ", "JWT", "kid",
	    k->kid);
	cl = claims_json(c);
	if (hdr == NULL || cl == NULL || !put_part(hdr, out, cap, &used) ||
	    used + 1 >= cap)
		goto out;
	out[used++] = '.';
	if (!put_part(cl, out, cap, &used) || used + 1 >= cap)
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)out, used) != 1)
		goto out;
	out[used++] = '.';
	if (token_b64url_encode(sig, siglen, out + used, cap - used) < 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "berth: cannot sign a token\n");
	EVP_MD_CTX_free(ctx);
	json_decref(hdr);
	json_decref(cl);
	return rc;
}

/* Decode one base64url part into JSON (an object), or NULL. */
static json_t *
part_json(const char *s, size_t n)
{
	unsigned char buf[TOKEN_MAX];
	json_t *v;
	long len = token_b64url_decode(s, n, buf, sizeof(buf));

	if (len <= 0)
		return NULL;
	v = json_loadb((const char *)buf, (size_t)len, JSON_REJECT_DUPLICATES,
	    NULL);
	if (v != NULL && !json_is_object(v)) {
		json_decref(v);
		return NULL;
	}
	return v;
}

/* Copy string member `key` of o into dst (cap bytes); false when absent,
 * not a string or too long. */
static bool
get_str(json_t *o, const char *key, char *dst, size_t cap)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (s == NULL || strlen(s) >= cap)
		return false;
	strcpy(dst, s);
	return true;
}

static bool
get_int(json_t *o, const char *key, int64_t *v)
{
	json_t *j = json_object_get(o, key);

	if (!json_is_integer(j))
		return false;
	*v = (int64_t)json_integer_value(j);
	return true;
}

/* Does the aud claim (a string or an array of strings) name aud? */
static bool
aud_has(json_t *v, const char *aud)
{
	size_t i;
	json_t *e;

	if (json_is_string(v))
		return strcmp(json_string_value(v), aud) == 0;
	if (!json_is_array(v))
		return false;
	json_array_foreach(v, i, e)
		if (json_is_string(e) && strcmp(json_string_value(e), aud) == 0)
			return true;
	return false;
}

/* A JSON array of action names into bits; false when malformed. */
static bool
actions_of(json_t *acts, unsigned *out)
{
	size_t j;
	json_t *a;

	*out = 0;
	if (!json_is_array(acts))
		return false;
	json_array_foreach(acts, j, a) {
		const char *s = json_string_value(a);
		unsigned bits;

		if (s == NULL || !grant_actions_parse(s, strlen(s), &bits))
			return false;
		*out |= bits;
	}
	return true;
}

/* The access claim into c; false on anything malformed. */
static bool
parse_access(json_t *v, struct token_claims *c)
{
	size_t i;
	json_t *e;

	if (v == NULL)
		return true;
	if (!json_is_array(v) || json_array_size(v) > TOKEN_ACCESS_MAX)
		return false;
	json_array_foreach(v, i, e) {
		struct token_access *t = &c->access[c->naccess];
		const char *type = json_string_value(
		    json_object_get(e, "type"));
		const char *name = json_string_value(
		    json_object_get(e, "name"));
		json_t *acts = json_object_get(e, "actions");

		if (type == NULL || name == NULL || !json_is_array(acts))
			return false;
		memset(t, 0, sizeof(*t));
		if (strcmp(type, "registry") == 0 &&
		    strcmp(name, "catalog") == 0) {
			t->catalog = true;
		} else if (strcmp(type, "repository") == 0 &&
		    valid_name(name, strlen(name))) {
			strcpy(t->name, name);
		} else {
			return false;
		}
		if (!actions_of(acts, &t->actions))
			return false;
		t->asked = t->actions;
		acts = json_object_get(e, "berth_asked");
		if (acts != NULL && !actions_of(acts, &t->asked))
			return false;
		c->naccess++;
	}
	return true;
}

/* The whole check of token_verify(), without the cache of seen tokens. */
static enum token_result
verify_full(const char *data_dir, const char *tok, int64_t now, const char *iss,
    const char *aud, bool refresh, struct token_claims *c)
{
	const char *d1, *d2, *alg, *kid;
	unsigned char sig[SIG_LEN + 3];
	const struct key *k = NULL;
	enum token_result r = TOKEN_BAD;
	json_t *hdr = NULL, *cl = NULL, *use;
	EVP_MD_CTX *ctx = NULL;
	struct token_claims t;
	size_t len = strnlen(tok, TOKEN_MAX + 1);

	if (len > TOKEN_MAX || (d1 = strchr(tok, '.')) == NULL ||
	    (d2 = strchr(d1 + 1, '.')) == NULL || strchr(d2 + 1, '.') != NULL)
		return TOKEN_BAD;
	if ((hdr = part_json(tok, (size_t)(d1 - tok))) == NULL)
		goto out;
	/* Pinned: the only algorithm berth signs with.  Whatever else the
	 * header says is refused here, before any key is looked at. */
	alg = json_string_value(json_object_get(hdr, "alg"));
	kid = json_string_value(json_object_get(hdr, "kid"));
	if (alg == NULL || strcmp(alg, "EdDSA") != 0 || kid == NULL ||
	    json_object_get(hdr, "crit") != NULL)
		goto out;
	if (load_keys(data_dir) != 0) {
		r = TOKEN_ERR;
		goto out;
	}
	for (size_t i = 0; i < cache.n; i++)
		if (strcmp(cache.keys[i].kid, kid) == 0)
			k = &cache.keys[i];
	if (k == NULL)
		goto out;
	if (token_b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - tok), sig,
		sizeof(sig)) != SIG_LEN)
		goto out;
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) != 1)
		goto out;
	if (EVP_DigestVerify(ctx, sig, SIG_LEN, (const unsigned char *)tok,
		(size_t)(d2 - tok)) != 1)
		goto out;
	if ((cl = part_json(d1 + 1, (size_t)(d2 - d1 - 1))) == NULL)
		goto out;
	memset(&t, 0, sizeof(t));
	if (!get_str(cl, "iss", t.iss, sizeof(t.iss)) ||
	    !get_str(cl, "sub", t.sub, sizeof(t.sub)) ||
	    !get_str(cl, "jti", t.jti, sizeof(t.jti)) ||
	    !get_int(cl, "exp", &t.exp) || !get_int(cl, "nbf", &t.nbf) ||
	    !get_int(cl, "iat", &t.iat) ||
	    !parse_access(json_object_get(cl, "access"), &t))
		goto out;
	use = json_object_get(cl, "berth_use");
	t.refresh = json_is_string(use) &&
	    strcmp(json_string_value(use), "refresh") == 0;
	if ((use != NULL && !t.refresh) || t.refresh != refresh)
		goto out;
	if (json_object_get(cl, "berth_cred") != NULL &&
	    !get_str(cl, "berth_cred", t.cred, sizeof(t.cred)))
		goto out;
	if (strcmp(t.iss, iss) != 0 ||
	    !aud_has(json_object_get(cl, "aud"), aud)) {
		r = TOKEN_WRONG_PARTY;
		goto out;
	}
	snprintf(t.aud, sizeof(t.aud), "%s", aud);
	if (t.exp <= now || t.nbf > now + TOKEN_SKEW ||
	    t.iat > now + TOKEN_SKEW) {
		r = TOKEN_EXPIRED;
		goto out;
	}
	*c = t;
	r = TOKEN_OK;
out:
	EVP_MD_CTX_free(ctx);
	json_decref(hdr);
	json_decref(cl);
	return r;
}

enum token_result
token_verify(const char *data_dir, const char *tok, int64_t now,
    const char *iss, const char *aud, bool refresh, struct token_claims *c)
{
	size_t len = strnlen(tok, TOKEN_MAX + 1);
	enum token_result r;
	struct seen *e;

	if (load_keys(data_dir) != 0)
		return TOKEN_ERR;
	for (size_t i = 0; len < SEEN_TOKEN_MAX && i < SEEN_MAX; i++) {
		e = &seen[i];
		if (e->len != len || e->generation != cache.generation ||
		    e->refresh != refresh || memcmp(e->tok, tok, len) != 0 ||
		    strcmp(e->c.iss, iss) != 0 || strcmp(e->c.aud, aud) != 0)
			continue;
		if (e->c.exp <= now || e->c.nbf > now + TOKEN_SKEW)
			return TOKEN_EXPIRED;
		*c = e->c;
		return TOKEN_OK;
	}
	r = verify_full(data_dir, tok, now, iss, aud, refresh, c);
	if (r == TOKEN_OK && len < SEEN_TOKEN_MAX) {
		e = &seen[seen_next];
		seen_next = (seen_next + 1) % SEEN_MAX;
		memcpy(e->tok, tok, len);
		e->len = len;
		e->refresh = refresh;
		e->generation = cache.generation;
		e->c = *c;
	}
	return r;
}
