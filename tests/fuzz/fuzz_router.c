/* fuzz_router.c -- libFuzzer target: the path router and, on what it
 * matches, the validators the dispatcher applies (router.c, validate.c).
 * Checks that the split always points inside the path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = malloc(size + 1);
	struct route_match m;

	if (path == NULL)
		return 0;
	memcpy(path, data, size);
	path[size] = '\0';
	if (route_match(path, &m) != ROUTE_NONE && m.name != NULL) {
		size_t len = strlen(path);

		if (m.name < path || m.name + m.name_len > path + len ||
		    m.arg < path || m.arg + m.arg_len > path + len)
			abort();
		(void)valid_name(m.name, m.name_len);
		(void)valid_tag(m.arg, m.arg_len);
		(void)check_digest(m.arg, m.arg_len);
		(void)valid_upload_id(m.arg, m.arg_len);
	}
	free(path);
	return 0;
}
