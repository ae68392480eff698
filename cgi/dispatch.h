/* dispatch.h -- from a parsed request to a handler. */
#ifndef BERTH_DISPATCH_H
#define BERTH_DISPATCH_H

#include "request.h"

/* dispatch -- route r, apply the generic rules (method allowed, read-only,
 * deletes enabled, name and argument valid), run the handler and write
 * any error it returns.  Always answers exactly once. */
void dispatch(struct req *r);

#endif
