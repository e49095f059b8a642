/* Framing (COBS, CRC-16/CCITT-FALSE) and the protobuf bodies of the xiota firmware bridge
 * (firmware-bridge/proto/bridge.proto), hand-written for a few hundred bytes of flash: the
 * board encodes what it sends and decodes what the host sends. C99, no allocation. */
#ifndef XB_MSG_H
#define XB_MSG_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

#define XB_MAX_FRAME 256
#define XB_HEADER 6
#define XB_CRC 2
#define XB_VERSION 1
#define XB_FLAG_AUTH 0x01

enum { XB_HELLO_REQ = 1, XB_HELLO, XB_INFO, XB_DESCRIBE_REQ, XB_DESCRIBE, XB_STATE_REQ, XB_READINGS,
       XB_SET, XB_ACK, XB_TIME, XB_PING, XB_PONG, XB_LOG, XB_ERROR, XB_PAIR };
enum { XB_KIND_NUMERIC = 0, XB_KIND_INT = 1, XB_KIND_BOOL = 2 };
enum { XB_ACK_OK = 0, XB_ACK_UNKNOWN_KEY, XB_ACK_READ_ONLY, XB_ACK_OUT_OF_RANGE, XB_ACK_FAILED };
enum { XB_E_NO_SESSION = 1, XB_E_BAD_FRAME, XB_E_UNPAIRED, XB_E_AUTH_MODE, XB_E_UNKNOWN_TYPE };

uint16_t xb_crc16(const uint8_t *p, size_t n);
/* In-place COBS decode; returns the decoded length or -1 when malformed. */
int xb_cobs_decode(uint8_t *p, size_t n);
/* COBS-encodes `n` bytes and the 0x00 delimiter through `put` (no output buffer needed). */
void xb_cobs_write(const uint8_t *p, size_t n, void (*put)(void *ctx, const uint8_t *p, size_t n), void *ctx);

/* Protobuf writer over a caller's buffer; `err` is set when it would overflow. */
typedef struct { uint8_t *p; uint16_t len, cap; uint8_t err; } xb_pbw;
void xb_pb_uint(xb_pbw *w, uint8_t field, uint32_t v);
void xb_pb_sint(xb_pbw *w, uint8_t field, int32_t v);
void xb_pb_fixed32(xb_pbw *w, uint8_t field, uint32_t v);
void xb_pb_bytes(xb_pbw *w, uint8_t field, const uint8_t *p, uint16_t n, int always);
void xb_pb_str(xb_pbw *w, uint8_t field, const char *s);

typedef struct { uint16_t key; const char *name; const char *unit; uint8_t kind; uint8_t decimals; int32_t min, max; uint8_t writable; } xb_entity;
typedef struct { uint16_t key; int32_t value; uint32_t age_ms; uint8_t error; } xb_value;

/* eph_pub: the board's ephemeral X25519 key (forward secrecy), or NULL. */
void xb_enc_hello(xb_pbw *w, const char *board_id, const uint8_t nonce[16], uint8_t auth, const uint8_t *eph_pub);
void xb_enc_info(xb_pbw *w, const char *fw_name, const char *fw_version, uint32_t schema_hash, uint32_t caps, uint32_t count);
void xb_enc_entity(xb_pbw *w, const xb_entity *e);
void xb_enc_describe(xb_pbw *w, const xb_entity *e, uint32_t index, uint32_t count);
void xb_enc_value(xb_pbw *w, const xb_value *v); /* one Value field (1) of READINGS */
void xb_enc_readings_full(xb_pbw *w, uint8_t full);
void xb_enc_ack(xb_pbw *w, uint32_t request_id, uint8_t status, int32_t value);
void xb_enc_pong(xb_pbw *w, uint32_t seq, uint32_t uptime_ms);
void xb_enc_log(xb_pbw *w, uint8_t level, const char *text);
void xb_enc_error(xb_pbw *w, uint8_t code, const char *text);

typedef struct { uint8_t host_nonce[16]; uint8_t nonce_len; uint32_t version; uint8_t auth; uint8_t eph_pub[32]; uint8_t has_eph; } xb_hello_req;
typedef struct { uint32_t request_id; uint32_t key; int32_t value; } xb_set;
/* 0 on success, -1 on a malformed body. Unknown fields are skipped. */
int xb_dec_hello_req(const uint8_t *p, uint16_t n, xb_hello_req *out);
int xb_dec_set(const uint8_t *p, uint16_t n, xb_set *out);
int xb_dec_time(const uint8_t *p, uint16_t n, uint64_t *unix_ms);
int xb_dec_ping(const uint8_t *p, uint16_t n, uint32_t *seq);
/* PAIR (trust on first use): the 32-byte key; -1 when malformed. */
int xb_dec_pair(const uint8_t *p, uint16_t n, uint8_t key[32]);

/* FNV-1a 32 over the encoded entities: the schema hash sent in INFO. */
uint32_t xb_schema_hash(const xb_entity *e, uint8_t n);
#ifdef __cplusplus
}
#endif
#endif
