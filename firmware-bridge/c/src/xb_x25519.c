/* X25519 (RFC 7748 §5) for boards that can afford it (32-bit cores: ESP32, RP2040; not an AVR,
 * where it takes seconds and ~2 KB of stack): the Montgomery ladder of TweetNaCl's
 * crypto_scalarmult (Bernstein et al., public domain), radix 2^16 in 64-bit limbs, constant
 * time. Byte-compatible with nacl.scalarMult of tweetnacl-js (checked by the differential test). */
#include "xb_x25519.h"
#include <string.h>

typedef int64_t gf[16];

static void car(gf o) {
  int i;
  for (i = 0; i < 16; i++) {
    int64_t c;
    o[i] += (int64_t)1 << 16;
    c = o[i] >> 16;
    o[(i + 1) * (i < 15)] += c - 1 + 37 * (c - 1) * (i == 15);
    o[i] -= c * 65536;
  }
}

static void sel(gf p, gf q, int b) {
  int64_t c = ~((int64_t)b - 1);
  int i;
  for (i = 0; i < 16; i++) { int64_t t = c & (p[i] ^ q[i]); p[i] ^= t; q[i] ^= t; }
}

static void pack(uint8_t o[32], const gf n) {
  int i, j;
  gf m, t;
  for (i = 0; i < 16; i++) t[i] = n[i];
  car(t); car(t); car(t);
  for (j = 0; j < 2; j++) {
    int b;
    m[0] = t[0] - 0xffed;
    for (i = 1; i < 15; i++) { m[i] = t[i] - 0xffff - ((m[i - 1] >> 16) & 1); m[i - 1] &= 0xffff; }
    m[15] = t[15] - 0x7fff - ((m[14] >> 16) & 1);
    b = (int)((m[15] >> 16) & 1);
    m[14] &= 0xffff;
    sel(t, m, 1 - b);
  }
  for (i = 0; i < 16; i++) { o[2 * i] = (uint8_t)(t[i] & 0xff); o[2 * i + 1] = (uint8_t)(t[i] >> 8); }
}

static void unpack(gf o, const uint8_t n[32]) {
  int i;
  for (i = 0; i < 16; i++) o[i] = n[2 * i] + ((int64_t)n[2 * i + 1] << 8);
  o[15] &= 0x7fff;
}

static void add(gf o, const gf a, const gf b) { int i; for (i = 0; i < 16; i++) o[i] = a[i] + b[i]; }
static void sub(gf o, const gf a, const gf b) { int i; for (i = 0; i < 16; i++) o[i] = a[i] - b[i]; }
static void mul(gf o, const gf a, const gf b) {
  int64_t t[31];
  int i, j;
  for (i = 0; i < 31; i++) t[i] = 0;
  for (i = 0; i < 16; i++) for (j = 0; j < 16; j++) t[i + j] += a[i] * b[j];
  for (i = 0; i < 15; i++) t[i] += 38 * t[i + 16];
  for (i = 0; i < 16; i++) o[i] = t[i];
  car(o); car(o);
}
static void sqr(gf o, const gf a) { mul(o, a, a); }
static void inv(gf o, const gf in) {
  gf c;
  int a;
  for (a = 0; a < 16; a++) c[a] = in[a];
  for (a = 253; a >= 0; a--) { sqr(c, c); if (a != 2 && a != 4) mul(c, c, in); }
  for (a = 0; a < 16; a++) o[a] = c[a];
}

void xb_x25519(uint8_t out[32], const uint8_t scalar[32], const uint8_t point[32]) {
  static const gf k121665 = { 0xDB41, 1 };
  uint8_t z[32];
  gf x, a, b, c, d, e, f;
  int i;
  memcpy(z, scalar, 32);
  z[31] = (uint8_t)((z[31] & 127) | 64); z[0] &= 248; /* RFC 7748 §5 clamping */
  unpack(x, point);
  for (i = 0; i < 16; i++) { b[i] = x[i]; d[i] = a[i] = c[i] = 0; }
  a[0] = d[0] = 1;
  for (i = 254; i >= 0; --i) {
    int r = (z[i >> 3] >> (i & 7)) & 1;
    sel(a, b, r); sel(c, d, r);
    add(e, a, c); sub(a, a, c); add(c, b, d); sub(b, b, d); sqr(d, e); sqr(f, a);
    mul(a, c, a); mul(c, b, e); add(e, a, c); sub(a, a, c); sqr(b, a); sub(c, d, f);
    mul(a, c, k121665); add(a, a, d); mul(c, c, a); mul(a, d, f); mul(d, b, x); sqr(b, e);
    sel(a, b, r); sel(c, d, r);
  }
  inv(c, c);
  mul(a, a, c);
  pack(out, a);
  memset(z, 0, sizeof z);
}

void xb_x25519_base(uint8_t pub[32], const uint8_t secret[32]) {
  static const uint8_t nine[32] = { 9 };
  xb_x25519(pub, secret, nine);
}
