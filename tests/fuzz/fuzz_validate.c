/* fuzz_validate.c -- libFuzzer target: every validator on arbitrary
 * bytes (validate.c), with the invariants they promise: a parsed
 * Content-Range has start <= end.  (A blob GET's Range is parsed in
 * cgi/request.c: fuzz_router.c.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	uint64_t a, b;
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
	free(s);
	return 0;
}
