/* Board side of the bridge session (firmware-bridge/proto/bridge.proto). The host starts a
 * session with HELLO_REQ; the board answers HELLO (plaintext, ctr 0) and INFO (the first frame
 * under the new keys), then serves DESCRIBE_REQ, STATE_REQ, SET, TIME and PING. Frames are
 * refused (and counted) for a bad CRC, a bad tag, a counter not above the last one accepted,
 * or the wrong mode: never a fallback to plaintext. */
#include "xiota_bridge.h"
#include <string.h>

#define BODY_AT (XB_HEADER + XB_TAG_BYTES) /* bodies are built where sealing leaves them */
#define BODY_CAP (XB_TX_MAX - BODY_AT - XB_CRC)
#define CTR_LIMIT 0xFFFFFF00u               /* past this the board waits for a re-key */

#define DATAGRAM(b) (XB_DATAGRAM && (b)->datagram)

#if XB_TX_MAX < 96 || XB_RX_MAX < 48
#error "XB_TX_MAX must be at least 96 (the key derivation borrows tx) and XB_RX_MAX at least 48"
#endif

static const char LABEL[] = "xiota-bridge-v1";

static int find(const xb_board *b, uint32_t key) {
  int i;
  for (i = 0; i < b->n_entities; i++) if (b->entities[i].key == key) return i;
  return -1;
}

void xb_init(xb_board *b, const xb_hal *hal, const char *board_id, const char *fw_name, const char *fw_version,
             const xb_entity *entities, uint8_t n, xb_apply_fn apply, void *apply_ctx) {
  memset(b, 0, sizeof *b);
  b->hal = hal; b->board_id = board_id; b->fw_name = fw_name; b->fw_version = fw_version;
  b->entities = entities; b->n_entities = n > XB_MAX_ENTITIES ? XB_MAX_ENTITIES : n;
  b->apply = apply; b->apply_ctx = apply_ctx;
  b->schema_hash = xb_schema_hash(entities, b->n_entities);
#if XB_X25519
  b->forward_secrecy = 1;
#endif
}

static void put(void *ctx, const uint8_t *p, size_t n) { const xb_hal *h = (const xb_hal *)ctx; h->write(h->ctx, p, n); }

static xb_pbw body(xb_board *b) { xb_pbw w; w.p = b->tx + BODY_AT; w.len = 0; w.cap = BODY_CAP; w.err = 0; return w; }

static void nonce_for(uint8_t n[24], uint8_t dir, uint8_t vf, uint8_t type, uint32_t ctr) {
  memset(n, 0, 24);
  n[0] = dir; n[1] = vf; n[2] = type;
  n[3] = (uint8_t)ctr; n[4] = (uint8_t)(ctr >> 8); n[5] = (uint8_t)(ctr >> 16); n[6] = (uint8_t)(ctr >> 24);
}

/* Frames the body in b->tx + BODY_AT: sealed and numbered in a session unless `plain`. */
static void send(xb_board *b, uint8_t type, const xb_pbw *w, int plain) {
  uint8_t *f = b->tx;
  uint8_t sealed = !plain && b->session && b->auth;
  uint32_t ctr = 0;
  uint16_t len;
  uint16_t crc;
  if (w->err) return; /* did not fit: a bug in the firmware's entity table, never half a frame */
  if (!plain && b->session) {
    if (b->ctr_tx >= CTR_LIMIT) return; /* the host re-keys before this */
    ctr = ++b->ctr_tx;
  }
  f[0] = (uint8_t)(XB_VERSION << 4 | (sealed ? XB_FLAG_AUTH : 0));
  f[1] = type;
  f[2] = (uint8_t)ctr; f[3] = (uint8_t)(ctr >> 8); f[4] = (uint8_t)(ctr >> 16); f[5] = (uint8_t)(ctr >> 24);
  if (sealed) {
    uint8_t n[24];
    nonce_for(n, 2, f[0], type, ctr);
    /* ciphertext lands where the body is (same index), the tag in front of it */
    xb_secretbox(f + XB_HEADER, f + BODY_AT, w->len, n, b->k_tx);
    len = (uint16_t)(XB_HEADER + XB_TAG_BYTES + w->len);
  } else {
    memmove(f + XB_HEADER, f + BODY_AT, w->len);
    len = (uint16_t)(XB_HEADER + w->len);
  }
  crc = xb_crc16(f, len);
  f[len++] = (uint8_t)(crc >> 8); f[len++] = (uint8_t)crc;
  if (DATAGRAM(b)) b->hal->write(b->hal->ctx, f, len);
  else xb_cobs_write(f, len, put, (void *)b->hal);
}

static void send_error(xb_board *b, uint8_t code, const char *text, int plain) {
  xb_pbw w = body(b);
#if !XB_ERROR_TEXTS
  text = 0; /* the code alone: the host words the advice */
#endif
  xb_enc_error(&w, code, text);
  send(b, XB_ERROR, &w, plain);
}

static void derive(xb_board *b, const uint8_t key[32], const uint8_t hn[16], const uint8_t bn[16], const uint8_t *shared) {
  xb_sha512_ctx c;
  uint8_t *h = b->tx, idlen = (uint8_t)strlen(b->board_id); /* tx is free here: no stack for the digest */
  xb_sha512_init(&c);
  xb_sha512_update(&c, (const uint8_t *)LABEL, sizeof LABEL - 1);
  xb_sha512_update(&c, key, 32);
  xb_sha512_update(&c, hn, 16);
  xb_sha512_update(&c, bn, 16);
  xb_sha512_update(&c, &idlen, 1);
  xb_sha512_update(&c, (const uint8_t *)b->board_id, idlen);
  if (shared) xb_sha512_update(&c, shared, 32); /* the ephemeral exchange: forward secrecy */
  xb_sha512_final(&c, h);
  memcpy(b->k_rx, h, 32);      /* host → board */
  memcpy(b->k_tx, h + 32, 32); /* board → host */
  memset(h, 0, 64);
}

static void on_hello_req(xb_board *b, const uint8_t *p, uint16_t n) {
  xb_hello_req hr;
  uint8_t key[32], bn[16], eph[32], has_eph = 0;
  int paired;
  xb_pbw w;
  if (xb_dec_hello_req(p, n, &hr) || hr.nonce_len != 16) { b->session = 0; send_error(b, XB_E_BAD_FRAME, "hello without a 16-byte nonce", 1); return; }
#if XB_DATAGRAM
  if (DATAGRAM(b) && b->session && !memcmp(hr.host_nonce, b->host_nonce, 16)) { b->dropped++; return; } /* MQTT redelivery */
  memcpy(b->host_nonce, hr.host_nonce, 16);
#endif
  b->session = 0;
  paired = b->hal->load_key(b->hal->ctx, key);
  if (hr.auth && !paired) { send_error(b, XB_E_UNPAIRED, "board has no key: pair it", 1); return; }
  if (!hr.auth && (paired || !b->plaintext_ok)) { send_error(b, XB_E_AUTH_MODE, "board requires authentication", 1); return; }
  b->hal->random(b->hal->ctx, bn, 16);
  b->auth = (uint8_t)hr.auth;
#if XB_X25519
  if (b->auth && hr.has_eph && b->forward_secrecy) {
    uint8_t secret[32], shared[32];
    b->hal->random(b->hal->ctx, secret, 32);
    xb_x25519_base(eph, secret);
    xb_x25519(shared, secret, hr.eph_pub);
    derive(b, key, hr.host_nonce, bn, shared);
    memset(secret, 0, sizeof secret); memset(shared, 0, sizeof shared);
    has_eph = 1;
  } else
#endif
  if (b->auth) derive(b, key, hr.host_nonce, bn, 0);
  memset(key, 0, sizeof key);
  b->ctr_rx = 0; b->ctr_tx = 0; b->rx_window = 0;
  w = body(b);
  xb_enc_hello(&w, b->board_id, bn, b->auth, has_eph ? eph : 0);
  send(b, XB_HELLO, &w, 1);
  b->session = 1;
  w = body(b);
  xb_enc_info(&w, b->fw_name, b->fw_version, b->schema_hash, 0x2 /* buffers readings */, b->n_entities);
  send(b, XB_INFO, &w, 0);
}

static void send_values(xb_board *b, int full) {
  uint32_t now = b->hal->millis(b->hal->ctx);
  int i = 0;
  b->batch_open = 0;
  while (i < b->n_entities) {
    xb_pbw w = body(b);
    int any = 0;
    for (; i < b->n_entities; i++) {
      xb_value v;
      uint16_t before = w.len;
      if (!b->known[i] || (!full && !b->dirty[i])) continue;
      v.key = b->entities[i].key; v.value = b->value[i]; v.age_ms = now - b->stamp[i]; v.error = b->err[i];
      xb_enc_value(&w, &v);
      if (w.len > BODY_CAP - 4 || w.err) { w.len = before; w.err = 0; break; } /* room for `full` */
      b->dirty[i] = 0;
      any = 1;
    }
    if (full) xb_enc_readings_full(&w, 1);
    if (any || full) send(b, XB_READINGS, &w, 0);
    if (!any) break;
  }
}

static void on_set(xb_board *b, const uint8_t *p, uint16_t n) {
  xb_set s;
  xb_pbw w;
  int i;
  uint8_t status;
  int32_t result = 0;
  if (xb_dec_set(p, n, &s)) { send_error(b, XB_E_BAD_FRAME, "malformed SET", 0); return; }
  i = find(b, s.key);
  if (i < 0) status = XB_ACK_UNKNOWN_KEY;
  else {
    const xb_entity *e = &b->entities[i];
    result = b->value[i];
    if (!e->writable) status = XB_ACK_READ_ONLY;
    else if ((e->min || e->max) && (s.value < e->min || s.value > e->max)) status = XB_ACK_OUT_OF_RANGE;
    else {
      status = b->apply ? b->apply(b->apply_ctx, e->key, s.value, &result) : XB_ACK_FAILED;
      if (status == XB_ACK_OK) {
        b->value[i] = result; b->stamp[i] = b->hal->millis(b->hal->ctx); b->known[i] = 1; b->err[i] = 0;
      }
    }
  }
  w = body(b);
  xb_enc_ack(&w, s.request_id, status, result);
  send(b, XB_ACK, &w, 0);
}

/* Over a serial line only ctr > last passes. A datagram link (MQTT) may duplicate and reorder:
 * a counter up to 32 below the highest passes once (RFC 6347 4.1.2.6's sliding window). */
static int fresh(const xb_board *b, uint32_t ctr) {
  uint32_t d = b->ctr_rx - ctr;
  if (ctr > b->ctr_rx) return 1;
  return DATAGRAM(b) && ctr && d >= 1 && d <= 32 && !(b->rx_window >> (d - 1) & 1);
}
static void accept_ctr(xb_board *b, uint32_t ctr) {
  if (!DATAGRAM(b)) { b->ctr_rx = ctr; return; }
  if (ctr > b->ctr_rx) {
    uint32_t shift = ctr - b->ctr_rx;
    b->rx_window = shift >= 32 ? 0 : b->rx_window << shift;
    if (b->ctr_rx && shift <= 32) b->rx_window |= 1UL << (shift - 1); /* the old highest */
    b->ctr_rx = ctr;
  } else b->rx_window |= 1UL << (b->ctr_rx - ctr - 1);
}

static void on_frame(xb_board *b, uint8_t *f, uint16_t len) {
  uint8_t vf, type, *payload;
  uint32_t ctr;
  uint16_t plen;
  if (len < XB_HEADER + XB_CRC || xb_crc16(f, len - 2) != (uint16_t)(f[len - 2] << 8 | f[len - 1])) { b->dropped++; return; }
  vf = f[0]; type = f[1];
  ctr = (uint32_t)f[2] | (uint32_t)f[3] << 8 | (uint32_t)f[4] << 16 | (uint32_t)f[5] << 24;
  payload = f + XB_HEADER; plen = (uint16_t)(len - XB_HEADER - XB_CRC);
  if (vf >> 4 != XB_VERSION || (vf & 0x0E)) { b->dropped++; return; }
  if (type == XB_PAIR) { /* trust on first use: plaintext, ctr 0, only while unpaired and allowed */
    uint8_t key[32];
    if (vf & XB_FLAG_AUTH || ctr != 0 || !b->pairable || !b->hal->store_key || b->hal->load_key(b->hal->ctx, key)
        || xb_dec_pair(payload, plen, key) || !b->hal->store_key(b->hal->ctx, key)) b->dropped++; /* never replaces a key */
    memset(key, 0, sizeof key);
    return;
  }
  if (type == XB_HELLO_REQ) {
    if (vf & XB_FLAG_AUTH || ctr != 0) { b->dropped++; return; }
    on_hello_req(b, payload, plen);
    return;
  }
  if (!b->session) { send_error(b, XB_E_NO_SESSION, "no session: send HELLO_REQ", 1); return; }
  if ((vf & XB_FLAG_AUTH) != (b->auth ? XB_FLAG_AUTH : 0) || !fresh(b, ctr)) { b->dropped++; return; }
  if (b->auth) {
    uint8_t n[24];
    nonce_for(n, 1, vf, type, ctr);
    if (xb_secretbox_open(payload, payload, plen, n, b->k_rx)) { b->dropped++; return; } /* the frame, not the session */
    plen -= XB_TAG_BYTES;
  }
  accept_ctr(b, ctr); /* only once the frame proved genuine */
  switch (type) {
    case XB_DESCRIBE_REQ: {
      uint8_t i;
      for (i = 0; i < b->n_entities; i++) { xb_pbw w = body(b); xb_enc_describe(&w, &b->entities[i], i, b->n_entities); send(b, XB_DESCRIBE, &w, 0); }
      break;
    }
    case XB_STATE_REQ: send_values(b, 1); break;
    case XB_SET: on_set(b, payload, plen); break;
    case XB_TIME: {
      uint64_t t;
      if (!xb_dec_time(payload, plen, &t) && t) { b->host_time_ms = t; b->host_time_at = b->hal->millis(b->hal->ctx); }
      break;
    }
    case XB_PING: {
      uint32_t seq;
      xb_pbw w = body(b);
      if (xb_dec_ping(payload, plen, &seq)) seq = 0;
      xb_enc_pong(&w, seq, b->hal->millis(b->hal->ctx));
      send(b, XB_PONG, &w, 0);
      break;
    }
    default: send_error(b, XB_E_UNKNOWN_TYPE, "unknown frame type", 0);
  }
}

void xb_feed(xb_board *b, const uint8_t *p, size_t n) {
  while (n--) {
    uint8_t c = *p++;
    if (c == 0) { /* delimiter: decode what came since the last one */
      if (!b->rx_over && b->rx_len) {
        int len = xb_cobs_decode(b->rx, b->rx_len);
        if (len > 0 && len <= XB_MAX_FRAME) on_frame(b, b->rx, (uint16_t)len); else b->dropped++;
      } else if (b->rx_over) b->dropped++;
      b->rx_len = 0; b->rx_over = 0;
    } else if (b->rx_len < sizeof b->rx) b->rx[b->rx_len++] = c;
    else b->rx_over = 1; /* garbage or a lost delimiter: skip to the next 0x00 */
  }
}

void xb_feed_frame(xb_board *b, const uint8_t *p, size_t n) {
  if (n > sizeof b->rx || n > XB_MAX_FRAME) { b->dropped++; return; }
  memcpy(b->rx, p, n);
  on_frame(b, b->rx, (uint16_t)n);
}

static void mark(xb_board *b, int i) {
  b->dirty[i] = 1; b->known[i] = 1;
  b->stamp[i] = b->hal->millis(b->hal->ctx);
  if (!b->batch_open) { b->batch_open = 1; b->batch_at = b->stamp[i]; }
}

void xb_report(xb_board *b, uint16_t key, int32_t value) {
  int i = find(b, key);
  if (i < 0) return;
  b->value[i] = value; b->err[i] = 0;
  mark(b, i);
}

void xb_report_error(xb_board *b, uint16_t key, uint8_t code) {
  int i = find(b, key);
  if (i < 0) return;
  b->err[i] = code ? code : 1;
  mark(b, i);
}

void xb_poll(xb_board *b) {
  int i, count = 0;
  if (!b->session || !b->batch_open) return; /* kept dirty: the state dump after the next HELLO carries them */
  for (i = 0; i < b->n_entities; i++) count += b->dirty[i];
  if (count >= 8 || (uint32_t)(b->hal->millis(b->hal->ctx) - b->batch_at) + 1 > XB_BATCH_MS) send_values(b, 0);
}

void xb_log(xb_board *b, uint8_t level, const char *text) {
  xb_pbw w = body(b);
  xb_enc_log(&w, level, text);
  send(b, XB_LOG, &w, !b->session);
}

uint64_t xb_time_ms(xb_board *b) {
  if (!b->host_time_ms) return 0;
  return b->host_time_ms + (uint32_t)(b->hal->millis(b->hal->ctx) - b->host_time_at);
}
