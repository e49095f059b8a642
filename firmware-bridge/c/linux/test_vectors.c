/* Checks the C library byte for byte against the shared vectors (firmware-bridge/vectors):
 * secretbox and SHA-512 against tweetnacl-js, CRC-16, COBS, key derivation, and the whole
 * board session transcript. Prints one line per group and exits non-zero on any mismatch.
 *   test_vectors VECTORS_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json_scan.h"
#include "xiota_bridge.h"
#include "xb_x25519.h"
#include "demo_entities.h"

static int failures, checks;
#define CHECK(cond, ...) do { checks++; if (!(cond)) { failures++; fprintf(stderr, "FAIL: " __VA_ARGS__); fputc('\n', stderr); } } while (0)

static size_t unhex(const char *h, uint8_t *out, size_t cap) {
  size_t n = strlen(h) / 2, i;
  if (n > cap) { fprintf(stderr, "hex too long\n"); exit(2); }
  for (i = 0; i < n; i++) { unsigned v; sscanf(h + 2 * i, "%2x", &v); out[i] = (uint8_t)v; }
  return n;
}
static void tohex(const uint8_t *p, size_t n, char *out) { size_t i; for (i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", p[i]); out[2 * n] = 0; }

/* Session transcript: a fake HAL with the vector's nonce, key and clock. */
typedef struct { uint8_t out[4096]; size_t len; uint32_t now; uint8_t psk[32], nonce[16]; } fake;
static void f_write(void *ctx, const uint8_t *p, size_t n) { fake *f = (fake *)ctx; memcpy(f->out + f->len, p, n); f->len += n; }
static uint32_t f_millis(void *ctx) { return ((fake *)ctx)->now; }
static void f_random(void *ctx, uint8_t *p, size_t n) { memcpy(p, ((fake *)ctx)->nonce, n); }
static int f_key(void *ctx, uint8_t k[32]) { memcpy(k, ((fake *)ctx)->psk, 32); return 1; }
static uint8_t apply(void *ctx, uint16_t key, int32_t value, int32_t *result) { (void)ctx; (void)key; *result = value; return XB_ACK_OK; }

static fake F;

static int n_box, n_sha, n_crc, n_cobs, n_kdf;
static void on_crypto(const js_object *o, void *ctx) {
  static uint8_t a[1024], b[1024], c[1024], d[1024];
  (void)ctx;
  if (js_get(o, "box")) {
    size_t kl = unhex(js_get(o, "key"), a, 32), nl = unhex(js_get(o, "nonce"), b, 24), ml = unhex(js_get(o, "msg"), c, sizeof c);
    size_t bl = unhex(js_get(o, "box"), d, sizeof d);
    uint8_t out[1024], back[1024];
    (void)kl; (void)nl;
    xb_secretbox(out, c, ml, b, a);
    CHECK(bl == ml + 16 && !memcmp(out, d, bl), "secretbox of %zu bytes differs from tweetnacl", ml);
    CHECK(xb_secretbox_open(back, d, bl, b, a) == 0 && !memcmp(back, c, ml), "secretbox_open of %zu bytes", ml);
    d[bl - 1] ^= 1;
    CHECK(xb_secretbox_open(back, d, bl, b, a) == -1, "secretbox_open accepted a flipped byte (%zu)", ml);
    n_box++;
  } else if (js_get(o, "hash")) {
    size_t ml = unhex(js_get(o, "msg"), c, sizeof c);
    uint8_t h[64];
    xb_sha512_ctx x;
    unhex(js_get(o, "hash"), d, 64);
    xb_sha512_init(&x); xb_sha512_update(&x, c, ml); xb_sha512_final(&x, h);
    CHECK(!memcmp(h, d, 64), "sha512 of %zu bytes", ml);
    n_sha++;
  } else if (js_get(o, "crc")) {
    size_t n = unhex(js_get(o, "data"), c, sizeof c);
    CHECK(xb_crc16(c, n) == (uint16_t)strtoul(js_get(o, "crc"), NULL, 16), "crc16 of %zu bytes", n);
    n_crc++;
  } else if (js_get(o, "encoded")) {
    size_t n = unhex(js_get(o, "data"), c, sizeof c), en = unhex(js_get(o, "encoded"), d, sizeof d);
    int dn;
    F.len = 0;
    xb_cobs_write(c, n, f_write, &F);
    CHECK(F.len == en + 1 && !memcmp(F.out, d, en) && F.out[en] == 0, "cobs encode of %zu bytes", n);
    F.len = 0;
    CHECK((dn = xb_cobs_decode(d, en)) == (int)n && !memcmp(d, c, n), "cobs decode of %zu bytes", n);
    n_cobs++;
  } else if (js_get(o, "host_to_board")) {
    /* the board derives its keys inside the session; checked by the transcript below */
    n_kdf++;
  }
}

static xb_hal HAL = { &F, f_write, f_millis, f_random, f_key, 0 };
static xb_board B;
static int steps;

static void expect(const char *what, const char *hexp) {
  static char got[8200];
  tohex(F.out, F.len, got);
  CHECK(!strcmp(got, hexp), "session step %d (%s):\n  want %s\n  got  %s", steps, what, hexp, got);
  F.len = 0;
}

static void on_session(const js_object *o, void *ctx) {
  const char *d = js_get(o, "do");
  (void)ctx;
  if (js_get(o, "board_nonce") && js_get(o, "board_id")) {
    unhex(js_get(o, "psk"), F.psk, 32); unhex(js_get(o, "board_nonce"), F.nonce, 16);
    xb_init(&B, &HAL, "greenhouse-1", "xiota-fake", "1.0.0", DEMO_ENTITIES, DEMO_N, apply, NULL);
    return;
  }
  if (!d) return;
  steps++;
  if (!strcmp(d, "clock")) F.now = (uint32_t)atol(js_get(o, "ms"));
  else if (!strcmp(d, "report")) xb_report(&B, (uint16_t)atoi(js_get(o, "key")), atoi(js_get(o, "value")));
  else if (!strcmp(d, "host")) {
    static uint8_t w[2048];
    size_t n = unhex(js_get(o, "wire"), w, sizeof w);
    F.len = 0;
    xb_feed(&B, w, n);
    expect(js_get(o, "note"), js_get(o, "expect"));
  } else if (!strcmp(d, "poll")) { F.len = 0; xb_poll(&B); expect("poll", js_get(o, "expect")); }
  else if (!strcmp(d, "log")) { F.len = 0; xb_log(&B, (uint8_t)atoi(js_get(o, "level")), js_get(o, "text")); expect("log", js_get(o, "expect")); }
}

/* Differential mode: lines "box KEY NONCE MSG", "sha MSG" or "x25519 SCALAR POINT" (hex) on stdin, the result in hex
 * on stdout, for a test that compares random inputs against tweetnacl-js. */
static int differential(void) {
  static char line[4200], out[4200];
  static uint8_t k[32], n[24], m[2048], r[2048 + 16];
  while (fgets(line, sizeof line, stdin)) {
    char *op = strtok(line, " \n"), *a = strtok(NULL, " \n"), *b = strtok(NULL, " \n"), *c = strtok(NULL, " \n");
    if (op && !strcmp(op, "box") && a && b) {
      size_t ml = c ? unhex(c, m, sizeof m) : 0;
      unhex(a, k, 32); unhex(b, n, 24);
      xb_secretbox(r, m, ml, n, k);
      tohex(r, ml + 16, out);
    } else if (op && !strcmp(op, "sha")) {
      size_t ml = a ? unhex(a, m, sizeof m) : 0;
      xb_sha512_ctx x;
      xb_sha512_init(&x); xb_sha512_update(&x, m, ml); xb_sha512_final(&x, r);
      tohex(r, 64, out);
    } else if (op && !strcmp(op, "x25519") && a && b) {
      uint8_t s[32], p[32];
      unhex(a, s, 32); unhex(b, p, 32);
      xb_x25519(r, s, p);
      tohex(r, 32, out);
    } else strcpy(out, "?");
    puts(out);
  }
  return 0;
}

int main(int argc, char **argv) {
  char path[1024];
  if (argc > 1 && !strcmp(argv[1], "--differential")) return differential();
  const char *dir = argc > 1 ? argv[1] : "../../vectors";
  snprintf(path, sizeof path, "%s/crypto.json", dir);
  if (js_scan_file(path, on_crypto, NULL)) { fprintf(stderr, "cannot read %s\n", path); return 2; }
  printf("crypto: %d secretbox, %d sha512, %d crc16, %d cobs vectors\n", n_box, n_sha, n_crc, n_cobs);
  snprintf(path, sizeof path, "%s/session.json", dir);
  if (js_scan_file(path, on_session, NULL)) { fprintf(stderr, "cannot read %s\n", path); return 2; }
  printf("session: %d steps, board dropped %u frames\n", steps, (unsigned)B.dropped);
  printf("%d checks, %d failed\n", checks, failures);
  return failures ? 1 : (n_box && n_sha && n_crc && n_cobs && steps ? 0 : 3);
}
