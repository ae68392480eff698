/* h_base.c -- GET /v2/: the API version check (oci-spec.md end-1).
 * 200 with "{}"; the version header is added to every response by
 * response.c. */
#include "handlers.h"

enum reg_err
h_base(struct req *r)
{
	resp_header(r, "Content-Type", "application/json");
	resp_send(r, 200, "{}", 2);
	return E_OK;
}
