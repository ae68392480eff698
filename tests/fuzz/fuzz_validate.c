/* fuzz_validate.c -- libFuzzer target: every validator on arbitrary
 * bytes (validate.c), with the invariants they promise: a parsed
 * Content-Range has start <= end; a Range part lies inside the blob. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	uint64_t a, b, blob = 0;
	unsigned long n;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)valid_name(s, size);
	(void)valid_tag(s, size);
	(void)check_digest(s, size);
	(void)valid_upload_id(s, size);
	(void)parse_count(s, 100000, &n);
	if (parse_content_range(s, &a, &b) && a > b)
		abort();
	if (size >= 8)
		memcpy(&blob, data, 8);
	blob %= (1ULL << 40);
	if (parse_range(s, blob, &a, &b) == RANGE_PART && (a > b || b >= blob))
		abort();
	free(s);
	return 0;
}
