/* errors.h -- the one mapping from the store's errors to registry errors.
 *
 * Each seam has its own error enum (store/blob.h, store/meta.h,
 * store/upload.h); a handler turns one into an enum reg_err only through
 * these functions, so that every endpoint answers a store failure alike:
 * no space is 507, an unreachable backend is 503 UNAVAILABLE (clients
 * retry it, oci-spec.md 9), anything else unexpected is 500.  What "not
 * found" means depends on what was looked up, so the caller names it. */
#ifndef BERTH_ERRORS_H
#define BERTH_ERRORS_H

#include "blob.h"
#include "meta.h"
#include "reg_err.h"
#include "upload.h"

/* reg_err_of_blob -- a blob handler's result.  BLOB_NOTFOUND becomes
 * `notfound`; BLOB_REDIRECT is no error (E_OK). */
enum reg_err reg_err_of_blob(enum blob_err e, enum reg_err notfound);

/* reg_err_of_meta -- a metadata result.  META_NOTFOUND becomes
 * `notfound` (BLOB_UNKNOWN, MANIFEST_UNKNOWN, NAME_UNKNOWN, ...). */
enum reg_err reg_err_of_meta(enum meta_err e, enum reg_err notfound);

/* reg_err_of_upload -- an upload session's result. */
enum reg_err reg_err_of_upload(enum upload_err e);

#endif
