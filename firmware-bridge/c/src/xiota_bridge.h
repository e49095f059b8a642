/* xiota firmware bridge, board side: a microcontroller's sensors and actuators reach the xiota
 * gateway over a serial line, authenticated with a key shared with the gateway
 * (`xiota bridge pair BOARD_ID`). Protocol: firmware-bridge/proto/bridge.proto.
 *
 *   xb_board b;
 *   xb_init(&b, &hal, "greenhouse-1", "greenhouse", "1.0.0", entities, 3, apply, NULL);
 *   loop: feed received bytes with xb_feed(), report values with xb_report(), call xb_poll().
 */
#ifndef XIOTA_BRIDGE_H
#define XIOTA_BRIDGE_H
#include "xb_msg.h"
#include "xb_crypto.h"
#ifndef XB_X25519
#define XB_X25519 0 /* 1 (32-bit boards, with xb_x25519.c): answer a host's X25519 key, forward secrecy */
#endif
#if XB_X25519
#include "xb_x25519.h"
#endif
#ifdef __cplusplus
extern "C" {
#endif

#ifndef XB_MAX_ENTITIES
#define XB_MAX_ENTITIES 16
#endif
#ifndef XB_ERROR_TEXTS
#define XB_ERROR_TEXTS 1 /* 0 saves ~150 bytes of AVR RAM: ERROR frames then carry codes only */
#endif
/* Frame buffers. The host's frames are short (HELLO_REQ 32 bytes on the wire, SET about 40), so
 * a small board can take XB_RX_MAX 80; XB_TX_MAX bounds what the board sends in one frame (an
 * entity's description with its name and unit, or a batch of readings: batches split to fit). */
#ifndef XB_RX_MAX
#define XB_RX_MAX (XB_MAX_FRAME + 2) /* COBS adds at most 2 bytes to 256 */
#endif
#ifndef XB_TX_MAX
#define XB_TX_MAX XB_MAX_FRAME
#endif
#ifndef XB_DATAGRAM
#define XB_DATAGRAM 1 /* 0 leaves out datagram (MQTT) support: ~300 bytes of AVR flash */
#endif
#ifndef XB_BATCH_MS
#define XB_BATCH_MS 100 /* readings wait at most this long to travel together */
#endif

/* The hardware layer: four functions and a context pointer. */
typedef struct {
  void *ctx;
  void (*write)(void *ctx, const uint8_t *p, size_t n);  /* bytes to the host */
  uint32_t (*millis)(void *ctx);                           /* monotonic milliseconds */
  void (*random)(void *ctx, uint8_t *p, size_t n);         /* unpredictable bytes (session nonce) */
  int (*load_key)(void *ctx, uint8_t key[32]);             /* 1 and the key when paired, else 0 */
  /* Optional, for trust on first use: keeps a key sent by the host (PAIR) and returns 1. Only
   * called while the board has no key and `pairable` is set; NULL: the board never pairs so. */
  int (*store_key)(void *ctx, const uint8_t key[32]);
} xb_hal;

/* Applies a set; returns an XB_ACK_* status and the value now in force in *result. */
typedef uint8_t (*xb_apply_fn)(void *ctx, uint16_t key, int32_t value, int32_t *result);

typedef struct {
  const xb_hal *hal;
  const char *board_id, *fw_name, *fw_version;
  const xb_entity *entities;
  uint8_t n_entities;
  xb_apply_fn apply;
  void *apply_ctx;
  uint8_t plaintext_ok;          /* development only: answer a host that asks for plaintext */
#if XB_X25519
  uint8_t forward_secrecy;       /* 1 after xb_init: answer a host's ephemeral key (0: as an AVR) */
#endif
  uint8_t pairable;              /* accept a key from the host (PAIR) while unpaired: set it from
                                    a button held at boot, or for a fresh board (trust on first use) */
  uint8_t datagram;              /* frames travel whole (MQTT): one write() per frame, no COBS,
                                    input through xb_feed_frame(), a 32-frame replay window */
  uint32_t schema_hash;
  /* current values */
  int32_t value[XB_MAX_ENTITIES];
  uint32_t stamp[XB_MAX_ENTITIES];
  uint8_t err[XB_MAX_ENTITIES], dirty[XB_MAX_ENTITIES], known[XB_MAX_ENTITIES];
  uint8_t batch_open;            /* changes wait since batch_at, at most XB_BATCH_MS */
  uint32_t batch_at;
  /* link */
  uint8_t rx[XB_RX_MAX];
  uint16_t rx_len;
  uint8_t rx_over;
  uint8_t tx[XB_TX_MAX];
  /* session */
  uint8_t session, auth;
  uint8_t k_rx[32], k_tx[32];
  uint32_t ctr_rx, ctr_tx;
  uint32_t rx_window;            /* datagram: bit d-1 set = ctr_rx - d accepted already */
#if XB_DATAGRAM
  uint8_t host_nonce[16];        /* datagram: a duplicated HELLO_REQ must not restart the session */
#endif
  uint64_t host_time_ms;         /* host's clock at host_time_at, 0 = unknown */
  uint32_t host_time_at;
  uint32_t dropped;              /* frames refused (CRC, MAC, replay): for diagnostics */
} xb_board;

void xb_init(xb_board *b, const xb_hal *hal, const char *board_id, const char *fw_name, const char *fw_version,
             const xb_entity *entities, uint8_t n, xb_apply_fn apply, void *apply_ctx);
void xb_feed(xb_board *b, const uint8_t *p, size_t n);
/* One whole frame (header, body, CRC; no COBS) from a datagram link such as an MQTT payload. */
void xb_feed_frame(xb_board *b, const uint8_t *p, size_t n);
void xb_report(xb_board *b, uint16_t key, int32_t value);
void xb_report_error(xb_board *b, uint16_t key, uint8_t code);
/* Sends batched readings when due; call it from the main loop. */
void xb_poll(xb_board *b);
void xb_log(xb_board *b, uint8_t level, const char *text);
/* Unix time in ms from the host's TIME message, 0 while unknown. */
uint64_t xb_time_ms(xb_board *b);
#ifdef __cplusplus
}
#endif
#endif
