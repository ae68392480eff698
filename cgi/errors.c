/* errors.c -- store errors to registry errors; see errors.h.  Called by
 * the handlers. */
#include "errors.h"

enum reg_err
reg_err_of_blob(enum blob_err e, enum reg_err notfound)
{
	switch (e) {
	case BLOB_OK:
	case BLOB_REDIRECT:
		return E_OK;
	case BLOB_NOTFOUND:
		return notfound;
	case BLOB_NOSPC:
		return E_STORAGE_FULL;
	case BLOB_NOTSUP:
		return E_UNSUPPORTED;
	case BLOB_UNAVAILABLE:
		return E_UNAVAILABLE;
	case BLOB_IO:
		break;
	}
	return E_INTERNAL;
}

enum reg_err
reg_err_of_meta(enum meta_err e, enum reg_err notfound)
{
	switch (e) {
	case META_OK:
		return E_OK;
	case META_NOTFOUND:
		return notfound;
	case META_CONFLICT:
		/* The one conflict: an upload session moved on under us. */
		return E_RANGE_INVALID;
	case META_MISSING:
		return E_MANIFEST_BLOB_UNKNOWN;
	case META_FULL:
		return E_STORAGE_FULL;
	case META_UNAVAILABLE:
		return E_UNAVAILABLE;
	case META_ERR:
		break;
	}
	return E_INTERNAL;
}

enum reg_err
reg_err_of_upload(enum upload_err e)
{
	switch (e) {
	case UP_OK:
		return E_OK;
	case UP_UNKNOWN:
		return E_BLOB_UPLOAD_UNKNOWN;
	case UP_SHORT:
	case UP_SIZE:
		return E_SIZE_INVALID;
	case UP_DIGEST:
		return E_DIGEST_INVALID;
	case UP_NOSPC:
		return E_STORAGE_FULL;
	case UP_READONLY:
		return E_UNSUPPORTED;
	case UP_UNAVAILABLE:
		return E_UNAVAILABLE;
	case UP_IO:
		break;
	}
	return E_INTERNAL;
}
