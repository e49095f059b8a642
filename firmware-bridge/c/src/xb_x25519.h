/* X25519 (RFC 7748) for the bridge's forward-secret handshake on 32-bit boards. C99. */
#ifndef XB_X25519_H
#define XB_X25519_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
void xb_x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32]);
void xb_x25519_base(uint8_t pub[32], const uint8_t secret[32]);
#ifdef __cplusplus
}
#endif
#endif
