/* validate.c -- validators for client input; see validate.h.
 *
 * Hand-written scanners rather than regular expressions: each grammar is
 * small, and a scanner over (pointer, length) cannot run away on hostile
 * input.  Called by the request parser and the router; fuzzed by
 * tests/fuzz. */
#include "validate.h"

#include <string.h>

static bool
is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool
is_lower_hex(char c)
{
	return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool
valid_component(const char *s, size_t len)
{
	size_t i = 0;

	for (;;) {
		size_t run = 0;

		while (i < len && is_lower_alnum(s[i])) {
			i++;
			run++;
		}
		if (run == 0)
			return false;
		if (i == len)
			return true;
		/* A separator, then another alphanumeric run must follow. */
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < len && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < len && s[i] == '-')
				i++;
		} else {
			return false;
		}
	}
}

bool
valid_name(const char *s, size_t len)
{
	size_t start = 0;

	if (len == 0 || len > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '/') {
			if (!valid_component(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

bool
valid_tag(const char *s, size_t len)
{
	if (len == 0 || len > TAG_MAX_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    is_digit(c) || c == '_';

		if (!word && (i == 0 || (c != '.' && c != '-')))
			return false;
	}
	return true;
}

enum digest_check
check_digest(const char *s, size_t len)
{
	const char *colon = memchr(s, ':', len);
	size_t alen, elen;

	if (colon == NULL)
		return DIGEST_BAD;
	alen = (size_t)(colon - s);
	elen = len - alen - 1;
	if (alen == 0 || elen == 0)
		return DIGEST_BAD;
	/* algorithm: [a-z0-9]+([+._-][a-z0-9]+)* */
	for (size_t i = 0; i < alen; i++) {
		bool sep = s[i] == '+' || s[i] == '.' || s[i] == '_' ||
		    s[i] == '-';

		if (sep &&
		    (i == 0 || i + 1 == alen || !is_lower_alnum(s[i - 1])))
			return DIGEST_BAD;
		if (!sep && !is_lower_alnum(s[i]))
			return DIGEST_BAD;
	}
	/* encoded: [a-zA-Z0-9=_-]+ */
	for (size_t i = alen + 1; i < len; i++) {
		char c = s[i];

		if (!(is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '=' ||
			c == '_' || c == '-'))
			return DIGEST_BAD;
	}
	if ((alen == 6 && memcmp(s, "sha256", 6) == 0 && elen == 64) ||
	    (alen == 6 && memcmp(s, "sha512", 6) == 0 && elen == 128)) {
		for (size_t i = alen + 1; i < len; i++)
			if (!is_lower_hex(s[i]))
				return DIGEST_BAD;
		return DIGEST_OK;
	}
	if (alen == 6 &&
	    (memcmp(s, "sha256", 6) == 0 || memcmp(s, "sha512", 6) == 0))
		return DIGEST_BAD; /* known algorithm, wrong length */
	return DIGEST_UNSUPPORTED;
}

bool
valid_upload_id(const char *s, size_t len)
{
	if (len != UPLOAD_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !is_lower_hex(s[i]))
			return false;
	}
	return true;
}

bool
parse_u64(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (!is_digit(*s))
		return false;
	while (is_digit(*s)) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
		s++;
	}
	*p = s;
	*out = v;
	return true;
}

bool
parse_content_range(const char *s, uint64_t *start, uint64_t *end)
{
	uint64_t a, b;

	if (s == NULL)
		return false;
	if (strncmp(s, "bytes ", 6) == 0 || strncmp(s, "bytes=", 6) == 0)
		s += 6;
	if (!parse_u64(&s, &a) || *s++ != '-' || !parse_u64(&s, &b) ||
	    *s != '\0')
		return false;
	if (a > b)
		return false;
	*start = a;
	*end = b;
	return true;
}

bool
parse_count(const char *s, unsigned long max, unsigned long *out)
{
	uint64_t v;

	if (s == NULL || !parse_u64(&s, &v) || *s != '\0' || v > max)
		return false;
	*out = (unsigned long)v;
	return true;
}
