/* unit.c -- table-driven cmocka tests of the pure parts at the edge:
 * the validators (validate.c) and the path router (router.c).  Every row
 * is one input and the answer the spec's grammar demands
 * (oci-spec.md 2.1-2.3, 4.3, 8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "router.h"
#include "validate.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char SHA256_OK[] =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char SHA512_OK[] =
    "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

static void
test_names(void **state)
{
	static char long_ok[256], long_bad[257];
	static const struct { const char *in; int ok; } rows[] = {
		{ "a", 1 }, { "library/debian", 1 }, { "a.b_c__d-e--f", 1 },
		{ "a/b/c/d", 1 }, { "0/9", 1 }, { "foo/blobs/uploads", 1 },
		{ "", 0 }, { "A", 0 }, { "Library/debian", 0 }, { "a//b", 0 },
		{ "/a", 0 }, { "a/", 0 }, { "..", 0 }, { "a/../b", 0 },
		{ "a..b", 0 }, { "a___b", 0 }, { "_a", 0 }, { "a_", 0 },
		{ "a-", 0 }, { "-a", 0 }, { "a.-b", 0 }, { "a b", 0 },
		{ "a:b", 0 }, { "a%2fb", 0 }, { "_catalog", 0 },
	};

	(void)state;
	for (size_t i = 0; i < LEN(rows); i++) {
		if (valid_name(rows[i].in, strlen(rows[i].in)) != rows[i].ok)
			fail_msg("valid_name(\"%s\") should be %d", rows[i].in,
			    rows[i].ok);
	}
	memset(long_ok, 'a', 255);
	memset(long_bad, 'a', 256);
	assert_true(valid_name(long_ok, 255));
	assert_false(valid_name(long_bad, 256));
}

static void
test_tags(void **state)
{
	static char t128[129], t129[130];
	static const struct { const char *in; int ok; } rows[] = {
		{ "latest", 1 }, { "v1.0.0-rc_1", 1 }, { "_x", 1 }, { "0", 1 },
		{ "UPPER", 1 }, { "", 0 }, { ".hidden", 0 }, { "-x", 0 },
		{ "a:b", 0 }, { "a/b", 0 }, { "a b", 0 }, { "a+b", 0 },
		{ ".INVALID_MANIFEST_NAME", 0 },
	};

	(void)state;
	for (size_t i = 0; i < LEN(rows); i++)
		if (valid_tag(rows[i].in, strlen(rows[i].in)) != rows[i].ok)
			fail_msg("valid_tag(\"%s\") should be %d", rows[i].in,
			    rows[i].ok);
	memset(t128, 'a', 128);
	memset(t129, 'a', 129);
	assert_true(valid_tag(t128, 128));
	assert_false(valid_tag(t129, 129));
}

static void
test_digests(void **state)
{
	static const struct { const char *in; enum digest_check want; } rows[] = {
		{ SHA256_OK, DIGEST_OK },
		{ SHA512_OK, DIGEST_OK },
		{ "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
		  DIGEST_BAD },
		{ "sha256:e3b0", DIGEST_BAD },
		{ "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550",
		  DIGEST_BAD },
		{ "sha256:totallywrong", DIGEST_BAD },
		{ "sha256:", DIGEST_BAD }, { ":abc", DIGEST_BAD }, { "sha256", DIGEST_BAD },
		{ "", DIGEST_BAD }, { "SHA256:abc", DIGEST_BAD },
		{ "sha256:zzb0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		  DIGEST_BAD },
		{ "md5:d41d8cd98f00b204e9800998ecf8427e", DIGEST_UNSUPPORTED },
		{ "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
		  DIGEST_UNSUPPORTED },
		{ "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
		  DIGEST_UNSUPPORTED },
		{ "sha256.:abc", DIGEST_BAD }, { "a..b:abc", DIGEST_BAD },
		{ "sha256:a/b", DIGEST_BAD },
	};

	(void)state;
	for (size_t i = 0; i < LEN(rows); i++)
		if (check_digest(rows[i].in, strlen(rows[i].in)) != rows[i].want)
			fail_msg("check_digest(\"%s\") should be %d", rows[i].in,
			    rows[i].want);
}

static void
test_upload_ids(void **state)
{
	static const struct { const char *in; int ok; } rows[] = {
		{ "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9", 1 },
		{ "0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9", 0 },
		{ "0f1e2d3c4b5a49788695a4b3c2d1e0f91234", 0 },
		{ "../../../../../../../../etc/passwd/xx", 0 },
		{ "", 0 }, { "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f", 0 },
	};

	(void)state;
	for (size_t i = 0; i < LEN(rows); i++)
		if (valid_upload_id(rows[i].in, strlen(rows[i].in)) != rows[i].ok)
			fail_msg("valid_upload_id(\"%s\") should be %d", rows[i].in,
			    rows[i].ok);
}

static void
test_content_range(void **state)
{
	static const struct {
		const char *in; int ok; uint64_t a, b;
	} rows[] = {
		{ "0-0", 1, 0, 0 }, { "0-21", 1, 0, 21 }, { "22-41", 1, 22, 41 },
		{ "bytes 5-9", 1, 5, 9 }, { "bytes=5-9", 1, 5, 9 },
		{ "18446744073709551614-18446744073709551615", 1,
		  18446744073709551614ULL, 18446744073709551615ULL },
		{ "18446744073709551616-1", 0, 0, 0 }, { "5-4", 0, 0, 0 },
		{ "-5", 0, 0, 0 }, { "5-", 0, 0, 0 }, { "a-b", 0, 0, 0 },
		{ "", 0, 0, 0 }, { "1-2 ", 0, 0, 0 }, { " 1-2", 0, 0, 0 },
		{ "1--2", 0, 0, 0 }, { "1-2/3", 0, 0, 0 },
	};
	uint64_t a, b;

	(void)state;
	for (size_t i = 0; i < LEN(rows); i++) {
		bool ok = parse_content_range(rows[i].in, &a, &b);

		if (ok != (bool)rows[i].ok || (ok && (a != rows[i].a || b != rows[i].b)))
			fail_msg("parse_content_range(\"%s\") wrong", rows[i].in);
	}
	assert_false(parse_content_range(NULL, &a, &b));
}

static void
test_range(void **state)
{
	static const struct {
		const char *in; uint64_t size; enum range_result want;
		uint64_t first, last;
	} rows[] = {
		{ "bytes=0-9", 2048, RANGE_PART, 0, 9 },
		{ "bytes=10-", 2048, RANGE_PART, 10, 2047 },
		{ "bytes=-100", 2048, RANGE_PART, 1948, 2047 },
		{ "bytes=-5000", 2048, RANGE_PART, 0, 2047 },
		{ "bytes=2000-5000", 2048, RANGE_PART, 2000, 2047 },
		{ "bytes=5000-10000", 2048, RANGE_UNSATISFIABLE, 0, 0 },
		{ "bytes=2048-", 2048, RANGE_UNSATISFIABLE, 0, 0 },
		{ "bytes=500-0", 2048, RANGE_UNSATISFIABLE, 0, 0 },
		{ "bytes=-0", 2048, RANGE_UNSATISFIABLE, 0, 0 },
		{ "bytes=0-", 0, RANGE_UNSATISFIABLE, 0, 0 },
		{ "bytes=0-1,5-6", 2048, RANGE_NONE, 0, 0 },
		{ "items=0-1", 2048, RANGE_NONE, 0, 0 },
		{ "bytes=x-1", 2048, RANGE_NONE, 0, 0 },
	};
	uint64_t f, l;

	(void)state;
	for (size_t i = 0; i < LEN(rows); i++) {
		enum range_result got = parse_range(rows[i].in, rows[i].size, &f, &l);

		if (got != rows[i].want ||
		    (got == RANGE_PART && (f != rows[i].first || l != rows[i].last)))
			fail_msg("parse_range(\"%s\", %llu) wrong", rows[i].in,
			    (unsigned long long)rows[i].size);
	}
	assert_int_equal(parse_range(NULL, 10, &f, &l), RANGE_NONE);
}

static void
test_count(void **state)
{
	unsigned long n;

	(void)state;
	assert_true(parse_count("0", 100, &n));
	assert_int_equal(n, 0);
	assert_true(parse_count("100", 100, &n));
	assert_int_equal(n, 100);
	assert_false(parse_count("101", 100, &n));
	assert_false(parse_count("-1", 100, &n));
	assert_false(parse_count("", 100, &n));
	assert_false(parse_count("1a", 100, &n));
	assert_false(parse_count("99999999999999999999999", 100, &n));
}

static void
test_router(void **state)
{
	static const struct {
		const char *path; enum route_id want; const char *name;
		const char *arg;
	} rows[] = {
		{ "/v2/", ROUTE_BASE, "", "" },
		{ "/v2", ROUTE_BASE, "", "" },
		{ "/v2/_catalog", ROUTE_CATALOG, "", "" },
		{ "/v2/a/tags/list", ROUTE_TAGS, "a", "list" },
		{ "/v2/a/b/manifests/latest", ROUTE_MANIFEST, "a/b", "latest" },
		{ "/v2/a/manifests/sha256:abc", ROUTE_MANIFEST, "a", "sha256:abc" },
		{ "/v2/a/blobs/sha256:abc", ROUTE_BLOB, "a", "sha256:abc" },
		{ "/v2/a/blobs/uploads/", ROUTE_UPLOAD_START, "a", "" },
		{ "/v2/a/blobs/uploads/x-y", ROUTE_UPLOAD, "a", "x-y" },
		{ "/v2/a/referrers/sha256:abc", ROUTE_REFERRERS, "a", "sha256:abc" },
		/* Names that contain the endpoint words: matched from the right. */
		{ "/v2/manifests/manifests/x", ROUTE_MANIFEST, "manifests", "x" },
		{ "/v2/blobs/uploads/blobs/uploads/", ROUTE_UPLOAD_START,
		  "blobs/uploads", "" },
		{ "/v2/x/blobs/uploads/blobs/d", ROUTE_BLOB, "x/blobs/uploads", "d" },
		{ "/v2/tags/list/tags/list", ROUTE_TAGS, "tags/list", "list" },
		{ "/v2/a/manifests/x/blobs/y", ROUTE_BLOB, "a/manifests/x", "y" },
		/* Not endpoints. */
		{ "/", ROUTE_NONE, NULL, NULL },
		{ "/v1/a/manifests/x", ROUTE_NONE, NULL, NULL },
		{ "/v2x/a/manifests/x", ROUTE_NONE, NULL, NULL },
		{ "/v2/a", ROUTE_NONE, NULL, NULL },
		{ "/v2/manifests/x", ROUTE_NONE, NULL, NULL },
		{ "/v2/blobs/uploads/", ROUTE_NONE, NULL, NULL },
		{ "/v2/a/other/x", ROUTE_NONE, NULL, NULL },
		{ "/v2/a/tags/other", ROUTE_NONE, NULL, NULL },
		{ "/v2/_catalog/x", ROUTE_NONE, NULL, NULL },
	};
	struct route_match m;

	(void)state;
	for (size_t i = 0; i < LEN(rows); i++) {
		const struct route *r = route_match(rows[i].path, &m);
		enum route_id got = r ? r->id : ROUTE_NONE;

		if (got != rows[i].want)
			fail_msg("route_match(\"%s\") = %d, want %d", rows[i].path,
			    got, rows[i].want);
		if (rows[i].name != NULL && *rows[i].name != '\0' &&
		    (m.name_len != strlen(rows[i].name) ||
		    memcmp(m.name, rows[i].name, m.name_len) != 0 ||
		    m.arg_len != strlen(rows[i].arg) ||
		    memcmp(m.arg, rows[i].arg, m.arg_len) != 0))
			fail_msg("route_match(\"%s\") split wrong: %.*s | %.*s",
			    rows[i].path, (int)m.name_len, m.name, (int)m.arg_len,
			    m.arg);
	}
	assert_int_equal(method_bit("GET"), M_GET);
	assert_int_equal(method_bit("PATCH"), M_PATCH);
	assert_int_equal(method_bit("get"), M_OTHER);
	assert_int_equal(method_bit(NULL), M_OTHER);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_digests),
		cmocka_unit_test(test_upload_ids),
		cmocka_unit_test(test_content_range),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_router),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
