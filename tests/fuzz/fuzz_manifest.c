/* fuzz_manifest.c -- libFuzzer target: the manifest parser (manifest.c).
 * The first byte picks the Content-Type the body is pushed with. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = {
		NULL,
		MT_OCI_MANIFEST,
		MT_OCI_INDEX,
		MT_DOCKER_V2,
		MT_DOCKER_LIST,
		"application/json; charset=utf-8",
		"",
	};
	struct manifest m;

	if (size == 0)
		return 0;
	if (manifest_parse(data + 1, size - 1,
		types[data[0] % (sizeof(types) / sizeof(types[0]))],
		&m) == E_OK) {
		for (size_t i = 0; i < m.nrefs; i++)
			if (check_digest(m.refs[i].digest,
				strlen(m.refs[i].digest)) != DIGEST_OK)
				abort();
	}
	manifest_free(&m);
	return 0;
}
