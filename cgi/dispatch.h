/* dispatch.h -- from a parsed request to a handler. */
#ifndef BERTH_DISPATCH_H
#define BERTH_DISPATCH_H

#include "request.h"

/* dispatch -- answer r: refuse what req_init() could not read, route
 * it, apply the generic rules its route declares (method allowed, name
 * and argument valid, read-only, deletes enabled, query values well
 * formed), run the handler and write any error -- the one place that
 * writes error responses.  Always answers exactly once. */
void dispatch(struct req *r);

#endif
