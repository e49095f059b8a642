/* Compact NaCl secretbox (XSalsa20-Poly1305) and SHA-512 for the xiota firmware bridge.
 * Byte-compatible with nacl.secretbox / nacl.hash of tweetnacl-js (checked against the shared
 * vectors in firmware-bridge/vectors/crypto.json). Written for size, not speed: frames are at
 * most 256 bytes and SHA-512 runs once per handshake. C99, no allocation. */
#ifndef XB_CRYPTO_H
#define XB_CRYPTO_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

#define XB_KEY_BYTES 32
#define XB_NONCE_BYTES 24
#define XB_TAG_BYTES 16

/* out = tag(16) ‖ ciphertext(len); out may not overlap m. */
void xb_secretbox(uint8_t *out, const uint8_t *m, size_t len, const uint8_t nonce[24], const uint8_t key[32]);
/* in = tag ‖ ciphertext (inlen >= 16); writes inlen-16 bytes to out. 0 when the tag verifies,
 * -1 otherwise (out then holds nothing useful). */
int xb_secretbox_open(uint8_t *out, const uint8_t *in, size_t inlen, const uint8_t nonce[24], const uint8_t key[32]);

/* State as little-endian bytes (no 64-bit arithmetic on 8-bit cores); messages < 512 MiB. */
typedef struct { uint8_t h[64]; uint8_t buf[128]; uint32_t len; uint8_t fill; } xb_sha512_ctx;
void xb_sha512_init(xb_sha512_ctx *c);
void xb_sha512_update(xb_sha512_ctx *c, const uint8_t *p, size_t n);
void xb_sha512_final(xb_sha512_ctx *c, uint8_t out[64]);

/* Constant-time comparison: 0 when equal. */
int xb_verify16(const uint8_t *a, const uint8_t *b);
#ifdef __cplusplus
}
#endif
#endif
