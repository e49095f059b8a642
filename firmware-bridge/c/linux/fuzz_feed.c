/* Fuzzing the board's input path (xb_feed: COBS, CRC, header, MAC, counters, protobuf, the
 * session): arbitrary bytes must never crash the board, and everything it sends back must be
 * a well-formed frame. Two builds of this file:
 *   libFuzzer:  clang -fsanitize=fuzzer,address,undefined -DXB_LIBFUZZER ...
 *   CI (gcc):   -fsanitize=address,undefined, with its own mutator over valid sealed frames:
 *               fuzz_feed ITERATIONS SEED      (prints "N inputs, 0 bad frames")
 * Each input starts from a board in an authenticated session, so the paths after the
 * handshake are reached, not only the CRC check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "xiota_bridge.h"
#include "demo_entities.h"

static uint8_t out[1 << 16];
static size_t out_len;
static uint32_t now_ms = 1000;
static const uint8_t PSK[32] = { 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7 };
static xb_board board;
static int datagram_bad;
static void f_write(void *c, const uint8_t *p, size_t n) {
  (void)c;
  if (board.datagram) { /* one call, one whole frame: check it here */
    if (n < XB_HEADER + XB_CRC || n > XB_MAX_FRAME || xb_crc16(p, n - 2) != (uint16_t)(p[n - 2] << 8 | p[n - 1])) datagram_bad++;
    return;
  }
  if (out_len + n <= sizeof out) { memcpy(out + out_len, p, n); out_len += n; }
}
static uint32_t f_millis(void *c) { (void)c; return now_ms; }
static void f_random(void *c, uint8_t *p, size_t n) { (void)c; memset(p, 0x5a, n); }
static int f_key(void *c, uint8_t k[32]) { (void)c; memcpy(k, PSK, 32); return 1; }
static uint8_t apply(void *c, uint16_t key, int32_t v, int32_t *r) { (void)c; (void)key; *r = v; return XB_ACK_OK; }
static const xb_hal HAL = { 0, f_write, f_millis, f_random, f_key, 0 };

static uint8_t wire[1024];
static size_t wire_len;
static void w_put(void *c, const uint8_t *p, size_t n) { (void)c; memcpy(wire + wire_len, p, n); wire_len += n; }

/* A host frame, sealed under the board's receive key when `sealed`, COBS-encoded into wire[]. */
static size_t host_frame(uint8_t type, uint32_t ctr, const uint8_t *body, uint16_t len, int sealed) {
  uint8_t f[XB_MAX_FRAME];
  uint16_t n;
  uint16_t crc;
  f[0] = (uint8_t)(XB_VERSION << 4 | (sealed ? XB_FLAG_AUTH : 0)); f[1] = type;
  f[2] = (uint8_t)ctr; f[3] = (uint8_t)(ctr >> 8); f[4] = (uint8_t)(ctr >> 16); f[5] = (uint8_t)(ctr >> 24);
  if (sealed) {
    uint8_t nonce[24] = { 0 };
    nonce[0] = 1; nonce[1] = f[0]; nonce[2] = type; memcpy(nonce + 3, f + 2, 4);
    xb_secretbox(f + XB_HEADER, body, len, nonce, board.k_rx);
    n = (uint16_t)(XB_HEADER + XB_TAG_BYTES + len);
  } else { memcpy(f + XB_HEADER, body, len); n = (uint16_t)(XB_HEADER + len); }
  crc = xb_crc16(f, n);
  f[n++] = (uint8_t)(crc >> 8); f[n++] = (uint8_t)crc;
  wire_len = 0;
  xb_cobs_write(f, n, w_put, NULL);
  return wire_len;
}

/* The same handshake every time: run once, then restore the board from a snapshot (the key
 * derivation would otherwise dominate each input's time). */
static void start_session(void) {
  static xb_board snapshot;
  static int have_snapshot;
  uint8_t body[40], nonce[16];
  xb_pbw w = { body, 0, sizeof body, 0 };
  if (have_snapshot) { board = snapshot; return; }
  memset(nonce, 0x33, 16);
  xb_init(&board, &HAL, "fuzz-1", "fuzz", "1", DEMO_ENTITIES, DEMO_N, apply, NULL);
  xb_report(&board, 1, 215);
  xb_pb_bytes(&w, 1, nonce, 16, 0); xb_pb_uint(&w, 2, 1); xb_pb_uint(&w, 3, 1);
  host_frame(XB_HELLO_REQ, 0, body, w.len, 0);
  xb_feed(&board, wire, wire_len);
  if (!board.session) { fprintf(stderr, "fuzz: no session after HELLO_REQ\n"); abort(); }
  snapshot = board; have_snapshot = 1;
}

/* Every frame the board sent must be COBS-valid (or, in datagram mode, a bare frame), at most
 * 256 bytes, with a right CRC. */
static long frames_out;
static int check_output(void) {
  if (board.datagram) { int bad = datagram_bad; datagram_bad = 0; return bad; }
  size_t i = 0, start = 0;
  int bad = 0;
  for (; i < out_len; i++) {
    if (out[i] != 0) continue;
    frames_out++;
    {
      uint8_t tmp[600];
      size_t n = i - start;
      int dn;
      if (n > sizeof tmp) { bad++; start = i + 1; continue; }
      memcpy(tmp, out + start, n);
      dn = xb_cobs_decode(tmp, n);
      if (dn < XB_HEADER + XB_CRC || dn > XB_MAX_FRAME || xb_crc16(tmp, (size_t)dn - 2) != (uint16_t)(tmp[dn - 2] << 8 | tmp[dn - 1])) bad++;
    }
    start = i + 1;
  }
  if (start != out_len) bad++; /* a frame left unterminated */
  out_len = 0;
  return bad;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  start_session();
  out_len = 0;
  if (size && data[0] == 0xD6) { /* the datagram (MQTT) path: whole frames, the replay window */
    board.datagram = 1;
    xb_feed_frame(&board, data + 1, size - 1);
  } else xb_feed(&board, data, size);
  now_ms += 150;
  xb_poll(&board);
  if (check_output()) abort();
  return 0;
}

#ifndef XB_LIBFUZZER
static uint32_t rng = 1;
static unsigned long dropped_total;
static uint32_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5; return rng; }

int main(int argc, char **argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 100000, it;
  int bad = 0;
  rng = argc > 2 ? (uint32_t)atol(argv[2]) : 1;
  if (!rng) rng = 1;
  for (it = 0; it < iterations; it++) {
    static uint8_t input[2048];
    size_t len = 0;
    int frames = 1 + (int)(rnd() % 4), k;
    start_session();
    out_len = 0;
    for (k = 0; k < frames && len < 1500; k++) {
      /* a valid sealed frame of a random type and counter, then damaged or not */
      uint8_t body[64];
      xb_pbw w = { body, 0, sizeof body, 0 };
      uint8_t type = (uint8_t)(1 + rnd() % 15);
      size_t n, m;
      xb_pb_uint(&w, 1, rnd() % 1000); xb_pb_uint(&w, 2, rnd() % 16); xb_pb_sint(&w, 3, (int32_t)rnd());
      if (rnd() % 4 == 0) { w.len = (uint16_t)(rnd() % sizeof body); for (m = 0; m < w.len; m++) body[m] = (uint8_t)rnd(); }
      n = host_frame(type, 1 + rnd() % 8, body, w.len, rnd() % 8 != 0);
      switch (rnd() % 6) {
        case 0: break;
        case 1: wire[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8)); break;
        case 2: if (n > 2) { m = rnd() % (n - 1); memmove(wire + m, wire + m + 1, n - m - 1); n--; } break;
        case 3: m = rnd() % n; memmove(wire + m + 1, wire + m, n - m); wire[m] = (uint8_t)rnd(); n++; break;
        case 4: n = rnd() % n; break; /* truncated: the next frame's delimiter ends it */
        default: for (m = 0; m < n; m++) wire[m] = (uint8_t)rnd(); break;
      }
      memcpy(input + len, wire, n);
      len += n;
    }
    xb_feed(&board, input, len);
    now_ms += 150;
    xb_poll(&board);
    dropped_total += board.dropped;
    bad += check_output();
  }
  printf("%ld inputs, %ld frames answered, %u frames dropped by the board, %d bad frames\n", iterations, frames_out, (unsigned)dropped_total, bad);
  return bad ? 1 : 0;
}
#endif
