/* digest.h -- content digests (sha256, sha512) through OpenSSL.
 *
 * An upload session may span many requests served by different worker
 * processes, and every byte must be hashed once, as it arrives
 * (a registry invariant).  So the running hash state can be saved to
 * bytes and restored in another process: digest_save()/digest_load().
 * That needs OpenSSL's low-level SHA256_CTX/SHA512_CTX, whose layout is
 * plain data; the saved form is only read back by the same build of
 * berth against the same libcrypto (a mismatch is detected by size and
 * a magic number, and the session is then re-hashed from its staging
 * file).  Called by store/upload.c and the manifest handler. */
#ifndef BERTH_DIGEST_H
#define BERTH_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>

#define DIGEST_STR_MAX	 (7 + 128 + 1) /* "sha512:" + hex + NUL */
#define DIGEST_STATE_MAX 512	       /* bytes, upper bound of a saved state */

enum digest_alg { DIGEST_SHA256, DIGEST_SHA512 };

struct digest_ctx {
	enum digest_alg alg;
	union {
		SHA256_CTX sha256;
		SHA512_CTX sha512;
	} u;
};

/* digest_alg_of -- the algorithm of a validated digest string
 * ("sha256:..." or "sha512:..."). */
enum digest_alg digest_alg_of(const char *digest);

/* digest_alg_name -- "sha256" or "sha512". */
const char *digest_alg_name(enum digest_alg alg);

/* digest_alg_parse -- "sha256"/"sha512" to alg; false for anything else. */
bool digest_alg_parse(const char *name, enum digest_alg *alg);

void digest_init(struct digest_ctx *ctx, enum digest_alg alg);
void digest_update(struct digest_ctx *ctx, const void *buf, size_t len);

/* digest_final -- finish and write "<alg>:<lowercase hex>" into out
 * (DIGEST_STR_MAX bytes).  ctx is spent afterwards. */
void digest_final(struct digest_ctx *ctx, char out[DIGEST_STR_MAX]);

/* digest_buf -- one-shot digest of buf[0..len) into out. */
void digest_buf(enum digest_alg alg, const void *buf, size_t len,
    char out[DIGEST_STR_MAX]);

/* digest_save -- serialise ctx into buf (DIGEST_STATE_MAX bytes); returns
 * the number of bytes written. */
size_t digest_save(const struct digest_ctx *ctx, unsigned char *buf);

/* digest_load -- restore a state saved by digest_save for algorithm alg.
 * Returns false when buf is not such a state (other build, corruption). */
bool digest_load(struct digest_ctx *ctx, enum digest_alg alg,
    const unsigned char *buf, size_t len);

/* digest_update_fd -- feed `len` bytes of fd from offset 0 into ctx, as
 * digest_fd() reads them.  Returns 0, or -1 with errno set (EIO for a
 * short file); ctx is then partly fed. */
int digest_update_fd(struct digest_ctx *ctx, int fd, uint64_t len);

/* digest_fd -- hash `len` bytes of fd from offset 0 (pread; the file
 * offset is unchanged) into out; a pipe or socket is read in order
 * instead.  Returns 0, or -1 with errno set on a read error or short
 * file (EIO). */
int digest_fd(int fd, enum digest_alg alg, uint64_t len,
    char out[DIGEST_STR_MAX]);

#endif
