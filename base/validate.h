/* validate.h -- the one validator for each kind of client input.
 *
 * Every string that arrives from a client -- repository name, tag,
 * digest, upload id, Content-Range, Range, pagination numbers -- is
 * checked here, once, at the edge.  Handlers only see values that
 * passed.  All functions are pure: no allocation, no I/O.  Tested
 * table-driven in tests/unit and fuzzed. */
#ifndef BERTH_VALIDATE_H
#define BERTH_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NAME_MAX_LEN   255 /* distribution/reference, oci-spec.md 2.1 */
#define TAG_MAX_LEN    128 /* oci-spec.md 2.2 */
#define DIGEST_MAX_LEN (6 + 1 + 128) /* "sha512:" + 128 hex */
#define UPLOAD_ID_LEN  36	     /* a UUID in its 8-4-4-4-12 text form */

/* valid_name -- is s[0..len) a repository name by the OCI v1.1 grammar
 * [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
 * and at most NAME_MAX_LEN bytes (oci-spec.md 2.1)? */
bool valid_name(const char *s, size_t len);

/* valid_tag -- is s[0..len) a tag: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
 * (oci-spec.md 2.2)? */
bool valid_tag(const char *s, size_t len);

enum digest_check {
	DIGEST_OK,  /* sha256:<64 lower hex> or sha512:<128 lower hex> */
	DIGEST_BAD, /* does not fit the digest grammar, or wrong length */
	DIGEST_UNSUPPORTED /* fits the grammar, but an algorithm we lack */
};

/* check_digest -- classify s[0..len) as a digest (image-spec descriptor.md
 * grammar; encoded part of sha256/sha512 is lowercase hex of the exact
 * length).  Both DIGEST_BAD and DIGEST_UNSUPPORTED are answered with 400
 * DIGEST_INVALID by the callers. */
enum digest_check check_digest(const char *s, size_t len);

/* valid_upload_id -- is s[0..len) an upload session id as berth issues
 * them: 36 characters, lowercase hex and '-' in UUID layout? */
bool valid_upload_id(const char *s, size_t len);

/* parse_content_range -- parse an upload Content-Range "<start>-<end>"
 * (inclusive byte offsets, no unit; oci-spec.md 4.3).  A leading "bytes "
 * or "bytes=" is tolerated.  Fails when not of that form, on overflow,
 * or when start > end.  On success sets *start and *end. */
bool parse_content_range(const char *s, uint64_t *start, uint64_t *end);

/* parse_u64 -- the decimal digits at *p into *out, advancing *p past
 * them; what follows is the caller's to check.  False (nothing moved)
 * when there is no digit or the value overflows 64 bits. */
bool parse_u64(const char **p, uint64_t *out);

/* parse_count -- parse a pagination count `n`: decimal digits only, at
 * most `max`.  Returns false when malformed or over max. */
bool parse_count(const char *s, unsigned long max, unsigned long *out);

#endif
