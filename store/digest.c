/* digest.c -- sha256/sha512 with savable state; see digest.h. */
#include "digest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define STATE_MAGIC 0x62727468u /* "brth" */

struct saved_head {
	uint32_t magic;
	uint32_t alg;
	uint32_t size; /* sizeof the context that follows */
};

enum digest_alg
digest_alg_of(const char *digest)
{
	return strncmp(digest, "sha512:", 7) == 0 ? DIGEST_SHA512 :
						    DIGEST_SHA256;
}

const char *
digest_alg_name(enum digest_alg alg)
{
	return alg == DIGEST_SHA512 ? "sha512" : "sha256";
}

bool
digest_alg_parse(const char *name, enum digest_alg *alg)
{
	if (strcmp(name, "sha256") == 0)
		*alg = DIGEST_SHA256;
	else if (strcmp(name, "sha512") == 0)
		*alg = DIGEST_SHA512;
	else
		return false;
	return true;
}

void
digest_init(struct digest_ctx *ctx, enum digest_alg alg)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->alg = alg;
	if (alg == DIGEST_SHA512)
		SHA512_Init(&ctx->u.sha512);
	else
		SHA256_Init(&ctx->u.sha256);
}

void
digest_update(struct digest_ctx *ctx, const void *buf, size_t len)
{
	if (len == 0)
		return;
	if (ctx->alg == DIGEST_SHA512)
		SHA512_Update(&ctx->u.sha512, buf, len);
	else
		SHA256_Update(&ctx->u.sha256, buf, len);
}

void
digest_final(struct digest_ctx *ctx, char out[DIGEST_STR_MAX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA512_DIGEST_LENGTH];
	size_t n;
	char *p;

	if (ctx->alg == DIGEST_SHA512) {
		SHA512_Final(md, &ctx->u.sha512);
		n = SHA512_DIGEST_LENGTH;
	} else {
		SHA256_Final(md, &ctx->u.sha256);
		n = SHA256_DIGEST_LENGTH;
	}
	p = out +
	    snprintf(out, DIGEST_STR_MAX, "%s:", digest_alg_name(ctx->alg));
	for (size_t i = 0; i < n; i++) {
		*p++ = hex[md[i] >> 4];
		*p++ = hex[md[i] & 15];
	}
	*p = '\0';
}

void
digest_buf(enum digest_alg alg, const void *buf, size_t len,
    char out[DIGEST_STR_MAX])
{
	struct digest_ctx ctx;

	digest_init(&ctx, alg);
	digest_update(&ctx, buf, len);
	digest_final(&ctx, out);
}

static size_t
ctx_size(enum digest_alg alg)
{
	return alg == DIGEST_SHA512 ? sizeof(SHA512_CTX) : sizeof(SHA256_CTX);
}

size_t
digest_save(const struct digest_ctx *ctx, unsigned char *buf)
{
	struct saved_head h = { STATE_MAGIC, (uint32_t)ctx->alg,
		(uint32_t)ctx_size(ctx->alg) };

	_Static_assert(sizeof(struct saved_head) + sizeof(SHA512_CTX) <=
		DIGEST_STATE_MAX,
	    "DIGEST_STATE_MAX too small");
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), &ctx->u, h.size);
	return sizeof(h) + h.size;
}

bool
digest_load(struct digest_ctx *ctx, enum digest_alg alg,
    const unsigned char *buf, size_t len)
{
	struct saved_head h;

	if (buf == NULL || len < sizeof(h))
		return false;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != STATE_MAGIC || h.alg != (uint32_t)alg ||
	    h.size != ctx_size(alg) || len != sizeof(h) + h.size)
		return false;
	memset(ctx, 0, sizeof(*ctx));
	ctx->alg = alg;
	memcpy(&ctx->u, buf + sizeof(h), h.size);
	return true;
}

int
digest_update_fd(struct digest_ctx *ctx, int fd, uint64_t len)
{
	static unsigned char buf[1 << 16];
	uint64_t off = 0;
	bool seq = false;

	while (off < len) {
		size_t want = len - off < sizeof(buf) ? (size_t)(len - off) :
							sizeof(buf);
		ssize_t n = seq ? read(fd, buf, want) :
				  pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ESPIPE && !seq && off == 0) {
			seq = true; /* a pipe: read it in order */
			continue;
		}
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		digest_update(ctx, buf, (size_t)n);
		off += (uint64_t)n;
	}
	return 0;
}

int
digest_fd(int fd, enum digest_alg alg, uint64_t len, char out[DIGEST_STR_MAX])
{
	struct digest_ctx ctx;

	digest_init(&ctx, alg);
	if (digest_update_fd(&ctx, fd, len) != 0)
		return -1;
	digest_final(&ctx, out);
	return 0;
}
