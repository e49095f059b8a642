/* XSalsa20 (Bernstein, "Extending the Salsa20 nonce", 2008), Poly1305 (RFC 8439 §2.5, same
 * function as NaCl's crypto_onetimeauth) and SHA-512 (FIPS 180-4 §6.4), composed as NaCl's
 * crypto_secretbox_xsalsa20poly1305: the first 32 keystream bytes key Poly1305, the message is
 * XORed with the keystream from byte 32 on, the tag covers the ciphertext. */
#include "xb_crypto.h"
#include <string.h>

#if defined(__AVR__)
/* On an AVR, const tables would be copied to the 2 KiB of RAM at boot: keep SHA-512's in flash. */
#include <avr/pgmspace.h>
#define XB_CONST static const PROGMEM
static uint64_t rd64(const uint64_t *p) { uint64_t v; memcpy_P(&v, p, sizeof v); return v; }
#else
#define XB_CONST static const
#define rd64(p) (*(p))
#endif

static uint32_t ld32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static void st32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24); }
static uint32_t rotl(uint32_t x, int c) { return (x << c) | (x >> (32 - c)); }

/* Salsa20/20 core; hsalsa != 0 gives HSalsa20 (32 bytes, no feed-forward). */
static void salsa_core(uint8_t *out, const uint8_t in[16], const uint8_t k[32], int hsalsa) {
  static const uint8_t sigma[16] = { 'e','x','p','a','n','d',' ','3','2','-','b','y','t','e',' ','k' };
  uint32_t x[16], j[16];
  int i;
  x[0] = ld32(sigma); x[5] = ld32(sigma + 4); x[10] = ld32(sigma + 8); x[15] = ld32(sigma + 12);
  for (i = 0; i < 4; i++) { x[1 + i] = ld32(k + 4 * i); x[11 + i] = ld32(k + 16 + 4 * i); x[6 + i] = ld32(in + 4 * i); }
  memcpy(j, x, sizeof x);
  for (i = 0; i < 20; i += 2) {
    /* column round, then row round: (a, b, c, d) index quadruples */
    static const uint8_t q[8][4] = { {0,4,8,12}, {5,9,13,1}, {10,14,2,6}, {15,3,7,11},
                                     {0,1,2,3}, {5,6,7,4}, {10,11,8,9}, {15,12,13,14} };
    int r;
    for (r = 0; r < 8; r++) {
      uint32_t *a = &x[q[r][0]], *b = &x[q[r][1]], *c = &x[q[r][2]], *d = &x[q[r][3]];
      *b ^= rotl(*a + *d, 7); *c ^= rotl(*b + *a, 9); *d ^= rotl(*c + *b, 13); *a ^= rotl(*d + *c, 18);
    }
  }
  if (hsalsa) {
    static const uint8_t pick[8] = { 0, 5, 10, 15, 6, 7, 8, 9 };
    for (i = 0; i < 8; i++) st32(out + 4 * i, x[pick[i]]);
  } else {
    for (i = 0; i < 16; i++) st32(out + 4 * i, x[i] + j[i]);
  }
}

/* XSalsa20 keystream block `block` (64 bytes) for a 24-byte nonce, with the subkey given. */
static void xsalsa_block(uint8_t out[64], const uint8_t subkey[32], const uint8_t nonce[24], uint32_t block) {
  uint8_t in[16];
  memcpy(in, nonce + 16, 8);
  st32(in + 8, block);
  st32(in + 12, 0);
  salsa_core(out, in, subkey, 0);
}

/* XOR m with the keystream starting at keystream byte 32 (block 0's first half keys Poly1305). */
static void xsalsa_xor32(uint8_t *out, const uint8_t *m, size_t len, const uint8_t subkey[32], const uint8_t nonce[24], uint8_t polykey[32]) {
  uint8_t ks[64];
  uint32_t block = 0;
  size_t off = 32, i = 0;
  xsalsa_block(ks, subkey, nonce, 0);
  memcpy(polykey, ks, 32);
  while (i < len) {
    if (off == 64) { xsalsa_block(ks, subkey, nonce, ++block); off = 0; }
    out[i] = m[i] ^ ks[off++];
    i++;
  }
  memset(ks, 0, sizeof ks);
}

/* Poly1305 in radix 2^8 (17 limbs): small code, fine for frames of a few hundred bytes. */
static void add1305(uint32_t h[17], const uint32_t c[17]) {
  uint32_t u = 0;
  int j;
  for (j = 0; j < 17; j++) { u += h[j] + c[j]; h[j] = u & 255; u >>= 8; }
}

static void poly1305(uint8_t out[16], const uint8_t *m, size_t n, const uint8_t k[32]) {
  static const uint32_t minusp[17] = { 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 252 };
  uint32_t r[17], h[17], c[17], x[17], g[17], s, u;
  int i, j;
  for (j = 0; j < 17; j++) r[j] = h[j] = 0;
  for (j = 0; j < 16; j++) r[j] = k[j];
  r[3] &= 15; r[4] &= 252; r[7] &= 15; r[8] &= 252; r[11] &= 15; r[12] &= 252; r[15] &= 15; /* clamp, RFC 8439 §2.5.1 */
  while (n > 0) {
    size_t take = n < 16 ? n : 16;
    for (j = 0; j < 17; j++) c[j] = 0;
    for (j = 0; j < (int)take; j++) c[j] = m[j];
    c[take] = 1;
    m += take; n -= take;
    add1305(h, c);
    for (i = 0; i < 17; i++) {
      x[i] = 0;
      for (j = 0; j < 17; j++) x[i] += h[j] * (j <= i ? r[i - j] : 320 * r[i + 17 - j]);
    }
    memcpy(h, x, sizeof h);
    u = 0;
    for (j = 0; j < 16; j++) { u += h[j]; h[j] = u & 255; u >>= 8; }
    u += h[16]; h[16] = u & 3;
    u = 5 * (u >> 2);
    for (j = 0; j < 16; j++) { u += h[j]; h[j] = u & 255; u >>= 8; }
    u += h[16]; h[16] = u;
  }
  memcpy(g, h, sizeof g);
  add1305(h, minusp);
  s = (uint32_t)-(int32_t)(h[16] >> 7);
  for (j = 0; j < 17; j++) h[j] ^= s & (g[j] ^ h[j]);
  for (j = 0; j < 16; j++) c[j] = k[j + 16];
  c[16] = 0;
  add1305(h, c);
  for (j = 0; j < 16; j++) out[j] = (uint8_t)h[j];
}

int xb_verify16(const uint8_t *a, const uint8_t *b) {
  uint8_t d = 0;
  int i;
  for (i = 0; i < 16; i++) d |= a[i] ^ b[i];
  return d ? -1 : 0;
}

void xb_secretbox(uint8_t *out, const uint8_t *m, size_t len, const uint8_t nonce[24], const uint8_t key[32]) {
  uint8_t subkey[32], polykey[32];
  salsa_core(subkey, nonce, key, 1);
  xsalsa_xor32(out + XB_TAG_BYTES, m, len, subkey, nonce, polykey);
  poly1305(out, out + XB_TAG_BYTES, len, polykey);
  memset(subkey, 0, sizeof subkey); memset(polykey, 0, sizeof polykey);
}

int xb_secretbox_open(uint8_t *out, const uint8_t *in, size_t inlen, const uint8_t nonce[24], const uint8_t key[32]) {
  uint8_t subkey[32], polykey[32], tag[16], ks[64];
  int ok;
  if (inlen < XB_TAG_BYTES) return -1;
  salsa_core(subkey, nonce, key, 1);
  xsalsa_block(ks, subkey, nonce, 0);
  memcpy(polykey, ks, 32);
  poly1305(tag, in + XB_TAG_BYTES, inlen - XB_TAG_BYTES, polykey);
  ok = xb_verify16(tag, in) == 0;
  if (ok) xsalsa_xor32(out, in + XB_TAG_BYTES, inlen - XB_TAG_BYTES, subkey, nonce, polykey);
  memset(subkey, 0, sizeof subkey); memset(polykey, 0, sizeof polykey); memset(ks, 0, sizeof ks);
  return ok ? 0 : -1;
}

/* SHA-512, FIPS 180-4 §5.3.5 (initial hash) and §4.2.3 (constants). */
XB_CONST uint64_t K[80] = {
  0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL, 0xb5c0fbcfec4d3b2fULL, 0xe9b5dba58189dbbcULL,
  0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL, 0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL,
  0xd807aa98a3030242ULL, 0x12835b0145706fbeULL, 0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
  0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL, 0x9bdc06a725c71235ULL, 0xc19bf174cf692694ULL,
  0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL, 0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL,
  0x2de92c6f592b0275ULL, 0x4a7484aa6ea6e483ULL, 0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
  0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL, 0xb00327c898fb213fULL, 0xbf597fc7beef0ee4ULL,
  0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL, 0x06ca6351e003826fULL, 0x142929670a0e6e70ULL,
  0x27b70a8546d22ffcULL, 0x2e1b21385c26c926ULL, 0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
  0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL, 0x81c2c92e47edaee6ULL, 0x92722c851482353bULL,
  0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL, 0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL,
  0xd192e819d6ef5218ULL, 0xd69906245565a910ULL, 0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
  0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL, 0x2748774cdf8eeb99ULL, 0x34b0bcb5e19b48a8ULL,
  0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL, 0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL,
  0x748f82ee5defb2fcULL, 0x78a5636f43172f60ULL, 0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
  0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL, 0xbef9a3f7b2c67915ULL, 0xc67178f2e372532bULL,
  0xca273eceea26619cULL, 0xd186b8c721c0c207ULL, 0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL,
  0x06f067aa72176fbaULL, 0x0a637dc5a2c898a6ULL, 0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
  0x28db77f523047d84ULL, 0x32caab7b40c72493ULL, 0x3c9ebe0a15c9bebcULL, 0x431d67c49c100d4cULL,
  0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL, 0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL,
};
XB_CONST uint64_t H0[8] = {
  0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
  0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

#if defined(__GNUC__) && defined(__AVR__)
__attribute__((noinline)) /* 64-bit shifts inlined 24 times cost ~3 KB of AVR flash */
#endif
static uint64_t ror64(uint64_t x, int c) { return (x >> c) | (x << (64 - c)); }

static void sha512_block(uint64_t st[8], const uint8_t *p) {
  uint64_t w[16], a[8], t1, t2;
  int i, k;
  for (i = 0; i < 16; i++) {
    w[i] = 0;
    for (k = 0; k < 8; k++) w[i] = (w[i] << 8) | p[8 * i + k];
  }
  memcpy(a, st, sizeof a);
  for (i = 0; i < 80; i++) {
    if (i >= 16) { /* message schedule, 16 words kept in a ring */
      uint64_t w15 = w[(i + 1) & 15], w2 = w[(i + 14) & 15];
      w[i & 15] += (ror64(w15, 1) ^ ror64(w15, 8) ^ (w15 >> 7)) + w[(i + 9) & 15] + (ror64(w2, 19) ^ ror64(w2, 61) ^ (w2 >> 6));
    }
    t1 = a[7] + (ror64(a[4], 14) ^ ror64(a[4], 18) ^ ror64(a[4], 41)) + ((a[4] & a[5]) ^ (~a[4] & a[6])) + rd64(&K[i]) + w[i & 15];
    t2 = (ror64(a[0], 28) ^ ror64(a[0], 34) ^ ror64(a[0], 39)) + ((a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2]));
    memmove(a + 1, a, 7 * sizeof a[0]);
    a[4] += t1;
    a[0] = t1 + t2;
  }
  for (i = 0; i < 8; i++) st[i] += a[i];
}

void xb_sha512_init(xb_sha512_ctx *c) {
  int i;
  for (i = 0; i < 8; i++) c->h[i] = rd64(&H0[i]);
  c->len = 0; c->fill = 0;
}

void xb_sha512_update(xb_sha512_ctx *c, const uint8_t *p, size_t n) {
  while (n--) {
    c->buf[c->fill++] = *p++;
    c->len++;
    if (c->fill == 128) { sha512_block(c->h, c->buf); c->fill = 0; }
  }
}

void xb_sha512_final(xb_sha512_ctx *c, uint8_t out[64]) {
  uint64_t bits = c->len * 8;
  int i;
  c->buf[c->fill++] = 0x80;
  if (c->fill > 112) { while (c->fill < 128) c->buf[c->fill++] = 0; sha512_block(c->h, c->buf); c->fill = 0; }
  while (c->fill < 120) c->buf[c->fill++] = 0;
  for (i = 0; i < 8; i++) c->buf[120 + i] = (uint8_t)(bits >> (56 - 8 * i));
  sha512_block(c->h, c->buf);
  for (i = 0; i < 64; i++) out[i] = (uint8_t)(c->h[i / 8] >> (56 - 8 * (i % 8)));
  memset(c, 0, sizeof *c);
}
