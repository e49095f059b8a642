/* XSalsa20 (Bernstein, "Extending the Salsa20 nonce", 2008), Poly1305 (RFC 8439 §2.5, same
 * function as NaCl's crypto_onetimeauth) and SHA-512 (FIPS 180-4 §6.4), composed as NaCl's
 * crypto_secretbox_xsalsa20poly1305: the first 32 keystream bytes key Poly1305, the message is
 * XORed with the keystream from byte 32 on, the tag covers the ciphertext.
 *
 * Written for an 8-bit core's 2 KiB of RAM and 16 KiB of flash: Poly1305 in radix 2^8 on bytes
 * (8x8-bit products, the AVR's MUL), SHA-512 on little-endian byte arrays (no 64-bit integer
 * arithmetic, which avr-gcc inlines at great length), constant tables in flash, small stacks. */
#include "xb_crypto.h"
#include <string.h>

#if defined(__AVR__)
/* On an AVR, const tables would be copied to RAM at boot: keep them in flash. */
#include <avr/pgmspace.h>
#define XB_ROM PROGMEM
#define rom8(p) pgm_read_byte(p)
#else
#define XB_ROM
#define rom8(p) (*(p))
#endif

static uint32_t ld32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static void st32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24); }
#if defined(__AVR__)
/* An 8-bit core shifts one bit at a time: rotate whole bytes, then at most 4 single bits
 * (7 = 8 - 1, 9 = 8 + 1, 13 = 16 - 3, 18 = 16 + 2). */
static uint32_t rotl(uint32_t x, uint8_t c) {
  for (; c >= 5; c = (uint8_t)(c - 8)) {
    x = x << 8 | x >> 24;
    if (c < 8) { for (; c < 8; c++) x = x >> 1 | x << 31; return x; }
  }
  for (; c; c--) x = x << 1 | x >> 31;
  return x;
}
#else
static uint32_t rotl(uint32_t x, int c) { return (x << c) | (x >> (32 - c)); }
#endif

static const uint8_t SIGMA[16] XB_ROM = { 'e','x','p','a','n','d',' ','3','2','-','b','y','t','e',' ','k' };
/* column round, then row round: (a, b, c, d) index quadruples */
static const uint8_t QR[8][4] XB_ROM = { {0,4,8,12}, {5,9,13,1}, {10,14,2,6}, {15,3,7,11},
                                         {0,1,2,3}, {5,6,7,4}, {10,11,8,9}, {15,12,13,14} };
static const uint8_t HPICK[8] XB_ROM = { 0, 5, 10, 15, 6, 7, 8, 9 };

/* Word i of the Salsa20 input matrix: constants on the diagonal, key, then the 16 input bytes. */
static uint32_t salsa_word(uint8_t i, const uint8_t in[16], const uint8_t k[32]) {
  uint8_t b[4], j;
  const uint8_t *p;
  if (i % 5 == 0) { for (j = 0; j < 4; j++) b[j] = rom8(&SIGMA[i / 5 * 4 + j]); return ld32(b); }
  p = i < 5 ? k + 4 * (i - 1) : i > 10 ? k + 16 + 4 * (i - 11) : in + 4 * (i - 6);
  return ld32(p);
}

/* Salsa20/20 core; hsalsa != 0 gives HSalsa20 (32 bytes, no feed-forward). The feed-forward
 * recomputes the input words rather than keeping a 64-byte copy on the stack. */
static void salsa_core(uint8_t *out, const uint8_t in[16], const uint8_t k[32], int hsalsa) {
  uint32_t x[16];
  uint8_t i, r;
  for (i = 0; i < 16; i++) x[i] = salsa_word(i, in, k);
  for (i = 0; i < 20; i += 2) {
    for (r = 0; r < 8; r++) {
      uint32_t *a = &x[rom8(&QR[r][0])], *b = &x[rom8(&QR[r][1])], *c = &x[rom8(&QR[r][2])], *d = &x[rom8(&QR[r][3])];
      *b ^= rotl(*a + *d, 7); *c ^= rotl(*b + *a, 9); *d ^= rotl(*c + *b, 13); *a ^= rotl(*d + *c, 18);
    }
  }
  if (hsalsa) {
    for (i = 0; i < 8; i++) st32(out + 4 * i, x[rom8(&HPICK[i])]);
  } else {
    for (i = 0; i < 16; i++) st32(out + 4 * i, x[i] + salsa_word(i, in, k));
  }
  memset(x, 0, sizeof x);
}

/* XOR m with the XSalsa20 keystream from keystream byte 32 on; block 0's first 32 bytes are the
 * Poly1305 key. len 0 just gives that key. */
static void xsalsa_xor32(uint8_t *out, const uint8_t *m, size_t len, const uint8_t subkey[32], const uint8_t nonce[24], uint8_t polykey[32]) {
  uint8_t ks[64], in[16];
  uint32_t block = 0;
  size_t off = 32, i;
  memcpy(in, nonce + 16, 8);
  memset(in + 8, 0, 8);
  salsa_core(ks, in, subkey, 0);
  memcpy(polykey, ks, 32);
  for (i = 0; i < len; i++) {
    if (off == 64) { st32(in + 8, ++block); salsa_core(ks, in, subkey, 0); off = 0; }
    out[i] = m[i] ^ ks[off++];
  }
  memset(ks, 0, sizeof ks);
}

/* Poly1305 in radix 2^8 (17 byte limbs, as TweetNaCl's crypto_onetimeauth), products 8x8 bits. */
static void add1305(uint8_t h[17], const uint8_t c[17]) {
  uint16_t u = 0;
  uint8_t j;
  for (j = 0; j < 17; j++) { u = (uint16_t)(u + h[j] + c[j]); h[j] = (uint8_t)u; u >>= 8; }
}

static void poly1305(uint8_t out[16], const uint8_t *m, size_t n, const uint8_t k[32]) {
  uint8_t r[17], h[17], c[17];
  uint8_t i, j;
  uint32_t u;
  memset(h, 0, 17);
  memcpy(r, k, 16);
  r[16] = 0;
  r[3] &= 15; r[4] &= 252; r[7] &= 15; r[8] &= 252; r[11] &= 15; r[12] &= 252; r[15] &= 15; /* clamp, RFC 8439 §2.5.1 */
  while (n > 0) {
    uint8_t take = n < 16 ? (uint8_t)n : 16;
    memset(c, 0, 17);
    memcpy(c, m, take);
    c[take] = 1;
    m += take; n -= take;
    add1305(h, c);
    /* c = h * r mod 2^130 - 5, partly reduced: limbs past 17 wrap around times 5·2^6 = 320 */
    u = 0;
    for (i = 0; i < 17; i++) {
      uint32_t lo = 0, hi = 0;
      for (j = 0; j < 17; j++) {
        uint16_t p = (uint16_t)((uint16_t)h[j] * (j <= i ? r[i - j] : r[i + 17 - j]));
        if (j <= i) lo += p; else hi += p;
      }
      u += lo + hi * 320;
      if (i < 16) { c[i] = (uint8_t)u; u >>= 8; }
    }
    c[16] = (uint8_t)(u & 3);
    u = 5 * (u >> 2);
    for (j = 0; j < 16; j++) { u += c[j]; c[j] = (uint8_t)u; u >>= 8; }
    c[16] = (uint8_t)(c[16] + u);
    memcpy(h, c, 17);
  }
  /* h mod p: subtract p (add 2^130 - p = 5, top limb 252) and keep that when it did not borrow */
  memcpy(r, h, 17);
  memset(c, 0, 17);
  c[0] = 5; c[16] = 252;
  add1305(h, c);
  j = (uint8_t)-(h[16] >> 7); /* 0xFF when h < p: keep the original */
  for (i = 0; i < 17; i++) h[i] ^= j & (r[i] ^ h[i]);
  memcpy(c, k + 16, 16);
  c[16] = 0;
  add1305(h, c);
  memcpy(out, h, 16);
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
  uint8_t subkey[32], polykey[32], tag[16];
  int ok;
  if (inlen < XB_TAG_BYTES) return -1;
  salsa_core(subkey, nonce, key, 1);
  xsalsa_xor32(0, 0, 0, subkey, nonce, polykey);
  poly1305(tag, in + XB_TAG_BYTES, inlen - XB_TAG_BYTES, polykey);
  ok = xb_verify16(tag, in) == 0;
  if (ok) xsalsa_xor32(out, in + XB_TAG_BYTES, inlen - XB_TAG_BYTES, subkey, nonce, polykey);
  memset(subkey, 0, sizeof subkey); memset(polykey, 0, sizeof polykey);
  return ok ? 0 : -1;
}

/* SHA-512, FIPS 180-4 §5.3.5 (initial hash) and §4.2.3 (constants). */
static const uint64_t K[80] XB_ROM = {
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
static const uint64_t H0[8] XB_ROM = {
  0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
  0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};


/* 64-bit words as 8 little-endian bytes. */
static void ld_const(uint8_t out[8], const uint64_t *p) {
#if defined(__AVR__)
  memcpy_P(out, p, 8); /* AVR memory is little-endian */
#else
  uint64_t v = *p;
  uint8_t i;
  for (i = 0; i < 8; i++) out[i] = (uint8_t)(v >> (8 * i));
#endif
}

static void add64(uint8_t *a, const uint8_t *b) {
  uint16_t c = 0;
  uint8_t i;
  for (i = 0; i < 8; i++) { c = (uint16_t)(c + a[i] + b[i]); a[i] = (uint8_t)c; c >>= 8; }
}

/* out ^= x rotated right by n bits, or shifted right when `shift`. */
static void xor_ror(uint8_t *out, const uint8_t *x, uint8_t n, uint8_t shift) {
  uint8_t q = n >> 3, s = n & 7, k;
  for (k = 0; k < 8; k++) {
    uint8_t i = (uint8_t)(k + q);
    uint8_t lo = shift && i > 7 ? 0 : x[i & 7];
    uint8_t hi = shift && i >= 7 ? 0 : x[(i + 1) & 7];
    out[k] ^= (uint8_t)((lo >> s) | (uint8_t)(hi << (8 - s)));
  }
}

/* Σ and σ of FIPS 180-4 §4.1.3: out = ROTR^a(x) ^ ROTR^b(x) ^ (ROTR or SHR)^c(x). */
static void big_sigma(uint8_t out[8], const uint8_t *x, uint8_t a, uint8_t b, uint8_t c, uint8_t shift) {
  memset(out, 0, 8);
  xor_ror(out, x, a, 0); xor_ror(out, x, b, 0); xor_ror(out, x, c, shift);
}

/* One block from c->buf (consumed: it becomes the message schedule, 16 words in a ring). */
static void sha512_block(xb_sha512_ctx *c) {
  uint8_t v[64], t1[8], t2[8], tmp[8];
  uint8_t *w = c->buf, i, k;
  for (i = 0; i < 128; i += 8) for (k = 0; k < 4; k++) { uint8_t t = w[i + k]; w[i + k] = w[i + 7 - k]; w[i + 7 - k] = t; }
  memcpy(v, c->h, 64);
  for (i = 0; i < 80; i++) {
    uint8_t *wi = w + 8 * (i & 15), *e = v + 32, *a = v;
    if (i >= 16) { /* §6.4.2 step 1 */
      big_sigma(tmp, w + 8 * ((i + 1) & 15), 1, 8, 7, 1); add64(wi, tmp);
      add64(wi, w + 8 * ((i + 9) & 15));
      big_sigma(tmp, w + 8 * ((i + 14) & 15), 19, 61, 6, 1); add64(wi, tmp);
    }
    memcpy(t1, v + 56, 8);
    big_sigma(tmp, e, 14, 18, 41, 0); add64(t1, tmp);
    for (k = 0; k < 8; k++) tmp[k] = (uint8_t)((e[k] & e[8 + k]) ^ (~e[k] & e[16 + k])); /* Ch */
    add64(t1, tmp);
    ld_const(tmp, &K[i]); add64(t1, tmp);
    add64(t1, wi);
    big_sigma(t2, a, 28, 34, 39, 0);
    for (k = 0; k < 8; k++) tmp[k] = (uint8_t)((a[k] & a[8 + k]) ^ (a[k] & a[16 + k]) ^ (a[8 + k] & a[16 + k])); /* Maj */
    add64(t2, tmp);
    memmove(v + 8, v, 56);
    add64(v + 32, t1);
    memcpy(v, t1, 8);
    add64(v, t2);
  }
  for (i = 0; i < 64; i += 8) add64(c->h + i, v + i);
}

void xb_sha512_init(xb_sha512_ctx *c) {
  uint8_t i;
  for (i = 0; i < 8; i++) ld_const(c->h + 8 * i, &H0[i]);
  c->len = 0; c->fill = 0;
}

void xb_sha512_update(xb_sha512_ctx *c, const uint8_t *p, size_t n) {
  while (n--) {
    c->buf[c->fill++] = *p++;
    c->len++;
    if (c->fill == 128) { sha512_block(c); c->fill = 0; }
  }
}

void xb_sha512_final(xb_sha512_ctx *c, uint8_t out[64]) {
  uint32_t len = c->len;
  uint8_t i;
  c->buf[c->fill++] = 0x80;
  if (c->fill > 112) { while (c->fill < 128) c->buf[c->fill++] = 0; sha512_block(c); c->fill = 0; }
  while (c->fill < 123) c->buf[c->fill++] = 0;
  /* the length in bits, a 128-bit big-endian field (§5.1.2) */
  c->buf[123] = (uint8_t)(len >> 29); c->buf[124] = (uint8_t)(len >> 21); c->buf[125] = (uint8_t)(len >> 13);
  c->buf[126] = (uint8_t)(len >> 5); c->buf[127] = (uint8_t)(len << 3);
  sha512_block(c);
  for (i = 0; i < 64; i++) out[i] = c->h[(i & ~7) + 7 - (i & 7)];
  memset(c, 0, sizeof *c);
}
