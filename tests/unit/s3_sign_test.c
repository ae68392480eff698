/* s3_sign_test.c -- store/s3_sign.c against an independent signer: for
 * each row, the Authorization header and the presigned query computed
 * here must equal, byte for byte, what Debian's python3-botocore computes
 * for the same inputs (tests/unit/s3_sign_ref.py, run by this test).  The
 * rows cover what the S3 handler sends: a plain GET and HEAD, a PUT with
 * its payload hash, `?uploads` (a key with an empty value, which libcurl
 * 7.88 signs wrongly), a part upload (parameters given out of order), a
 * ListObjectsV2 page (a prefix with '/', a continuation token with
 * '+', '/' and '='), a key needing percent-encoding, and an access key
 * with ':' (tempauth's account:user).  Then s3_encode's table.  Built as
 * $(BUILD)/unit-s3sign. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "s3_sign.h"

#define REF "tests/unit/s3_sign_ref.py"

struct row {
	const char *name;
	const char *method;
	const char *path;
	const char *payload;
	struct s3_param params[4];
	size_t nparams;
};

static const char empty_sha[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

static const struct row rows[] = {
	{ "GET object", "GET", "/berth/blobs/sha256/ab", "UNSIGNED-PAYLOAD",
	    { { NULL, NULL } }, 0 },
	{ "HEAD bucket", "HEAD", "/berth", empty_sha, { { NULL, NULL } }, 0 },
	{ "PUT object", "PUT", "/berth/p/sha256/0123",
	    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
	    { { NULL, NULL } }, 0 },
	{ "POST ?uploads", "POST", "/berth/k", empty_sha, { { "uploads", "" } },
	    1 },
	{ "PUT part, parameters out of order", "PUT", "/berth/k",
	    "UNSIGNED-PAYLOAD",
	    { { "uploadId", "YjI1N+Dk/zZjE=" }, { "partNumber", "10" } }, 2 },
	{ "ListObjectsV2 page", "GET", "/berth", empty_sha,
	    { { "list-type", "2" }, { "prefix", "reg/blobs/" },
		{ "continuation-token", "a+b/c=d" }, { "max-keys", "1000" } },
	    4 },
	{ "key needing encoding", "GET", "/berth/a dir/caf\xc3\xa9+x(1)",
	    empty_sha, { { NULL, NULL } }, 0 },
};

/* Run the reference signer for row r; its two lines into auth, query. */
static void
reference(const struct row *r, const char *host, const char *ak, time_t now,
    char *auth, size_t acap, char *query, size_t qcap)
{
	char cmd[4096];
	size_t n;
	FILE *p;

	/* Every argument single-quoted; no row holds a quote. */
	n = (size_t)snprintf(cmd, sizeof(cmd),
	    "/usr/bin/python3 %s '%s' '%s' "
	    "'%s' us-east-1 '%s' 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' "
	    "%lld '%s'",
	    REF, r->method, host, r->path, ak, (long long)now, r->payload);
	for (size_t i = 0; i < r->nparams; i++)
		n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " '%s' '%s'",
		    r->params[i].key, r->params[i].value);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(auth, (int)acap, p));
	assert_non_null(fgets(query, (int)qcap, p));
	assert_int_equal(pclose(p), 0);
	auth[strcspn(auth, "\n")] = '\0';
	query[strcspn(query, "\n")] = '\0';
}

static void
test_row(void **state)
{
	const struct row *r = *state;
	char auth[1024], query[4096], want_auth[1024], want_query[4096];
	char date[17];
	static const struct {
		const char *host;
		const char *ak;
		time_t now;
	} who[] = {
		{ "127.0.0.1:45443", "berth:ci", 1700000000 },
		{ "s3.eu-west-1.amazonaws.com", "AKIAIOSFODNN7EXAMPLE",
		    1764547200 },
	};

	for (size_t i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
		struct s3_request rq = {
			.method = r->method,
			.host = who[i].host,
			.path = r->path,
			.params = r->params,
			.nparams = r->nparams,
			.payload_hash = r->payload,
			.region = "us-east-1",
			.access_key = who[i].ak,
			.secret_key =
			    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
			.now = who[i].now,
		};

		reference(r, who[i].host, who[i].ak, who[i].now, want_auth,
		    sizeof(want_auth), want_query, sizeof(want_query));
		assert_int_equal(s3_sign(&rq, query, sizeof(query), auth,
				     sizeof(auth), date),
		    0);
		assert_string_equal(auth, want_auth);
		assert_int_equal(s3_presign(&rq, 900, query, sizeof(query)), 0);
		assert_string_equal(query, want_query);
	}
}

static void
test_sign_limits(void **state)
{
	struct s3_param p = { "uploads", "" };
	struct s3_request rq = {
		.method = "POST",
		.host = "h",
		.path = "/b/k",
		.params = &p,
		.nparams = 1,
		.payload_hash = empty_sha,
		.region = "r",
		.access_key = "a",
		.secret_key = "s",
		.now = 0,
	};
	char query[64], auth[512], small[8], date[17];

	(void)state;
	assert_int_equal(s3_sign(&rq, query, sizeof(query), auth, sizeof(auth),
			     date),
	    0);
	assert_string_equal(query, "uploads=");
	assert_string_equal(date, "19700101T000000Z");
	assert_int_equal(s3_sign(&rq, query, sizeof(query), small,
			     sizeof(small), date),
	    -1);
	assert_int_equal(s3_presign(&rq, 0, query, sizeof(query)), -1);
	assert_int_equal(s3_presign(&rq, 604801, query, sizeof(query)), -1);
	assert_int_equal(s3_presign(&rq, 60, small, sizeof(small)), -1);
}

static void
test_encode(void **state)
{
	static const struct {
		const char *in;
		int keep_slash;
		const char *out;
	} t[] = {
		{ "abcXYZ019-_.~", 0, "abcXYZ019-_.~" },
		{ "a/b", 0, "a%2Fb" },
		{ "a/b", 1, "a/b" },
		{ "a b+c=d&e", 0, "a%20b%2Bc%3Dd%26e" },
		{ "caf\xc3\xa9", 1, "caf%C3%A9" },
		{ "", 0, "" },
	};
	char out[64], tiny[4];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(s3_encode(t[i].in, t[i].keep_slash, out,
				     sizeof(out)),
		    0);
		assert_string_equal(out, t[i].out);
	}
	assert_int_equal(s3_encode("abcd", 0, tiny, sizeof(tiny)), -1);
	assert_int_equal(s3_encode("a/", 0, tiny, sizeof(tiny)), -1);
	assert_int_equal(s3_encode("abc", 0, tiny, sizeof(tiny)), 0);
}

int
main(void)
{
	enum { N = sizeof(rows) / sizeof(rows[0]) };
	struct CMUnitTest tests[N + 2];

	for (size_t i = 0; i < N; i++)
		tests[i] = (struct CMUnitTest){ rows[i].name, test_row, NULL,
			NULL, (void *)&rows[i] };
	tests[N] = (struct CMUnitTest){ "signing limits", test_sign_limits,
		NULL, NULL, NULL };
	tests[N + 1] = (struct CMUnitTest){ "s3_encode", test_encode, NULL,
		NULL, NULL };
	return cmocka_run_group_tests_name("s3 signing (SigV4 vs botocore)",
	    tests, NULL, NULL);
}
