/* s3_sign.h -- AWS Signature Version 4 for the S3 blob handler
 * (store/blob_s3.c): an Authorization header for a request, or the query
 * of a presigned URL.  Pure functions over their inputs (the time is an
 * argument), so that tests/unit/s3_sign_test.c can compare them with
 * botocore's signer for fixed inputs.  HMAC-SHA256 and SHA-256 come from
 * OpenSSL.
 *
 * Why not libcurl's CURLOPT_AWS_SIGV4: in 7.88 it adds no
 * x-amz-content-sha256 header, does not sort query parameters and signs
 * `?uploads` wrongly, and it cannot presign at all; signing here keeps
 * one implementation for both, with the canonical query built from
 * sorted, encoded parameters. */
#ifndef BERTH_S3_SIGN_H
#define BERTH_S3_SIGN_H

#include <stddef.h>
#include <time.h>

/* One query parameter, neither part encoded; value "" for `?uploads`. */
struct s3_param {
	const char *key;
	const char *value;
};

#define S3_PARAMS_MAX 16

/* What is signed.  Only host, x-amz-content-sha256 and x-amz-date are
 * signed headers (the rest may be sent unsigned). */
struct s3_request {
	const char *method;	       /* "GET", "PUT", ... */
	const char *host;	       /* the Host header: host[:port] */
	const char *path;	       /* "/bucket/key", not encoded */
	const struct s3_param *params; /* nparams of them, any order */
	size_t nparams;
	/* Hex SHA-256 of the body, or "UNSIGNED-PAYLOAD". */
	const char *payload_hash;
	const char *region;
	const char *access_key;
	const char *secret_key;
	time_t now; /* seconds since the epoch */
};

/* s3_encode -- RFC 3986 percent-encoding as SigV4 wants it: unreserved
 * characters (A-Z a-z 0-9 - _ . ~) kept, '/' kept when keep_slash, every
 * other byte %XX (upper-case hex).  -1 when out (cap bytes) is too
 * small. */
int s3_encode(const char *s, int keep_slash, char *out, size_t cap);

/* s3_sign -- sign rq for header authentication.  Fills query (the
 * canonical query string, to send after '?' as is: sorted, encoded;
 * "" without parameters), auth (the Authorization header's value) and
 * amz_date (the x-amz-date header's value, "YYYYMMDDTHHMMSSZ", 17
 * bytes).  0, or -1 when a buffer is too small. */
int s3_sign(const struct s3_request *rq, char *query, size_t qcap, char *auth,
    size_t acap, char amz_date[17]);

/* s3_presign -- the query of a presigned URL for rq valid ttl seconds
 * (1..604800): rq's parameters and the X-Amz-* ones, sorted, ending in
 * X-Amz-Signature.  The payload is UNSIGNED-PAYLOAD whatever
 * rq->payload_hash says.  0, or -1 when query (qcap bytes) is too
 * small. */
int s3_presign(const struct s3_request *rq, long ttl, char *query, size_t qcap);

#endif
