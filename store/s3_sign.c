/* s3_sign.c -- AWS Signature Version 4 (header and presigned query); see
 * s3_sign.h.  The steps are those of the SigV4 documentation: a
 * canonical request, its SHA-256 in a string to sign with the credential
 * scope <date>/<region>/s3/aws4_request, and an HMAC-SHA256 chain from
 * "AWS4"<secret> over date, region, service and "aws4_request". */
#include "s3_sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#define ENC_KEY_MAX 128
#define ENC_VAL_MAX 2048

/* One encoded parameter, for sorting. */
struct enc_param {
	char key[ENC_KEY_MAX];
	char val[ENC_VAL_MAX];
};

int
s3_encode(const char *s, int keep_slash, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0';
	     p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		    *p == '.' || *p == '~' || (keep_slash && *p == '/')) {
			if (n + 1 >= cap)
				return -1;
			out[n++] = (char)*p;
		} else {
			if (n + 3 >= cap)
				return -1;
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	if (n >= cap)
		return -1;
	out[n] = '\0';
	return 0;
}

static int
param_cmp(const void *a, const void *b)
{
	const struct enc_param *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : strcmp(x->val, y->val);
}

/* The canonical query of the n parameters p plus the `extra` ones:
 * encoded, sorted by key then value, joined with '&'. */
static int
canonical_query(const struct s3_param *p, size_t n,
    const struct s3_param *extra, size_t nextra, char *out, size_t cap)
{
	struct enc_param *e;
	size_t total = n + nextra, len = 0;
	int rc = -1;

	out[0] = '\0';
	if (total == 0)
		return cap > 0 ? 0 : -1;
	if (total > S3_PARAMS_MAX + 8 ||
	    (e = calloc(total, sizeof(*e))) == NULL)
		return -1;
	for (size_t i = 0; i < total; i++) {
		const struct s3_param *q = i < n ? &p[i] : &extra[i - n];

		if (s3_encode(q->key, 0, e[i].key, sizeof(e[i].key)) != 0 ||
		    s3_encode(q->value, 0, e[i].val, sizeof(e[i].val)) != 0)
			goto out;
	}
	qsort(e, total, sizeof(*e), param_cmp);
	for (size_t i = 0; i < total; i++) {
		int w = snprintf(out + len, cap - len, "%s%s=%s",
		    i > 0 ? "&" : "", e[i].key, e[i].val);

		if (w < 0 || (size_t)w >= cap - len)
			goto out;
		len += (size_t)w;
	}
	rc = 0;
out:
	free(e);
	return rc;
}

static void
hex_of(const unsigned char *b, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static void
hmac(const unsigned char *key, size_t klen, const char *msg,
    unsigned char out[32])
{
	unsigned int olen = 32;

	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg,
	    strlen(msg), out, &olen);
}

/* The signature (64 hex + NUL) of canonical request creq made at amz_date
 * ("YYYYMMDDTHHMMSSZ") with scope "<date>/<region>/s3/aws4_request". */
static int
signature(const struct s3_request *rq, const char *amz_date, const char *scope,
    const char *creq, char sig[65])
{
	unsigned char h[32], k[32];
	char hh[65], sts[512], key[256], date[9];

	SHA256((const unsigned char *)creq, strlen(creq), h);
	hex_of(h, 32, hh);
	if (snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date,
		scope, hh) >= (int)sizeof(sts) ||
	    snprintf(key, sizeof(key), "AWS4%s", rq->secret_key) >=
		(int)sizeof(key))
		return -1;
	memcpy(date, amz_date, 8);
	date[8] = '\0';
	hmac((unsigned char *)key, strlen(key), date, k);
	hmac(k, 32, rq->region, k);
	hmac(k, 32, "s3", k);
	hmac(k, 32, "aws4_request", k);
	hmac(k, 32, sts, h);
	hex_of(h, 32, sig);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(k, sizeof(k));
	return 0;
}

static void
format_date(time_t now, char amz_date[17])
{
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(amz_date, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* The canonical request; heap, the caller frees; NULL when too long. */
static char *
canonical_request(const struct s3_request *rq, const char *query,
    const char *headers, const char *signed_headers, const char *payload)
{
	size_t cap = strlen(rq->path) * 3 + strlen(query) + strlen(headers) +
	    512;
	char *uri = malloc(strlen(rq->path) * 3 + 1), *out = malloc(cap);

	if (uri == NULL || out == NULL ||
	    s3_encode(rq->path, 1, uri, strlen(rq->path) * 3 + 1) != 0 ||
	    snprintf(out, cap, "%s\n%s\n%s\n%s\n\n%s\n%s", rq->method, uri,
		query, headers, signed_headers, payload) >= (int)cap) {
		free(uri);
		free(out);
		return NULL;
	}
	free(uri);
	return out;
}

int
s3_sign(const struct s3_request *rq, char *query, size_t qcap, char *auth,
    size_t acap, char amz_date[17])
{
	static const char sh[] = "host;x-amz-content-sha256;x-amz-date";
	char headers[1024], scope[256], sig[65];
	char *creq = NULL;
	int rc = -1;

	format_date(rq->now, amz_date);
	if (canonical_query(rq->params, rq->nparams, NULL, 0, query, qcap) != 0)
		return -1;
	if (snprintf(headers, sizeof(headers),
		"host:%s\n"
		"x-amz-content-sha256:%s\nx-amz-date:%s",
		rq->host, rq->payload_hash, amz_date) >= (int)sizeof(headers) ||
	    snprintf(scope, sizeof(scope), "%.8s/%s/s3/aws4_request", amz_date,
		rq->region) >= (int)sizeof(scope))
		return -1;
	creq = canonical_request(rq, query, headers, sh, rq->payload_hash);
	if (creq == NULL || signature(rq, amz_date, scope, creq, sig) != 0)
		goto out;
	if (snprintf(auth, acap,
		"AWS4-HMAC-SHA256 Credential=%s/%s, "
		"SignedHeaders=%s, Signature=%s",
		rq->access_key, scope, sh, sig) >= (int)acap)
		goto out;
	rc = 0;
out:
	free(creq);
	return rc;
}

int
s3_presign(const struct s3_request *rq, long ttl, char *query, size_t qcap)
{
	char amz_date[17], scope[256], cred[512], expires[24], headers[600];
	char sig[65], *creq = NULL;
	struct s3_param x[5];
	size_t len;
	int rc = -1;

	if (ttl < 1 || ttl > 604800)
		return -1;
	format_date(rq->now, amz_date);
	if (snprintf(scope, sizeof(scope), "%.8s/%s/s3/aws4_request", amz_date,
		rq->region) >= (int)sizeof(scope) ||
	    snprintf(cred, sizeof(cred), "%s/%s", rq->access_key, scope) >=
		(int)sizeof(cred) ||
	    snprintf(headers, sizeof(headers), "host:%s", rq->host) >=
		(int)sizeof(headers))
		return -1;
	snprintf(expires, sizeof(expires), "%ld", ttl);
	x[0] = (struct s3_param){ "X-Amz-Algorithm", "AWS4-HMAC-SHA256" };
	x[1] = (struct s3_param){ "X-Amz-Credential", cred };
	x[2] = (struct s3_param){ "X-Amz-Date", amz_date };
	x[3] = (struct s3_param){ "X-Amz-Expires", expires };
	x[4] = (struct s3_param){ "X-Amz-SignedHeaders", "host" };
	if (canonical_query(rq->params, rq->nparams, x, 5, query, qcap) != 0)
		return -1;
	creq = canonical_request(rq, query, headers, "host",
	    "UNSIGNED-PAYLOAD");
	if (creq == NULL || signature(rq, amz_date, scope, creq, sig) != 0)
		goto out;
	len = strlen(query);
	if (snprintf(query + len, qcap - len, "&X-Amz-Signature=%s", sig) >=
	    (int)(qcap - len))
		goto out;
	rc = 0;
out:
	free(creq);
	return rc;
}
