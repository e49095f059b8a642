/* See xb_msg.h. COBS: Cheshire & Baker, IEEE/ACM ToN 1999. CRC-16/CCITT-FALSE: poly 0x1021,
 * init 0xFFFF, no reflection, check("123456789") = 0x29B1. Protobuf wire format: proto3 rules,
 * zero values omitted, fields in number order, so both ends produce the same bytes. */
#include "xb_msg.h"
#include <string.h>

uint16_t xb_crc16(const uint8_t *p, size_t n) {
  uint16_t crc = 0xFFFF;
  while (n--) {
    int i;
    crc ^= (uint16_t)(*p++) << 8;
    for (i = 0; i < 8; i++) crc = crc & 0x8000 ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
  }
  return crc;
}

int xb_cobs_decode(uint8_t *p, size_t n) {
  size_t i = 0, o = 0;
  while (i < n) {
    uint8_t code = p[i++];
    size_t end = i + code - 1;
    if (code == 0 || end > n) return -1;
    while (i < end) {
      if (p[i] == 0) return -1;
      p[o++] = p[i++];
    }
    if (code != 0xFF && i < n) p[o++] = 0;
  }
  return (int)o;
}

void xb_cobs_write(const uint8_t *p, size_t n, void (*put)(void *, const uint8_t *, size_t), void *ctx) {
  static const uint8_t zero = 0;
  size_t start = 0;
  for (;;) {
    size_t run = 0;
    uint8_t code;
    while (start + run < n && p[start + run] != 0 && run < 254) run++;
    code = (uint8_t)(run + 1);
    put(ctx, &code, 1);
    if (run) put(ctx, p + start, run);
    start += run;
    if (start >= n) { /* the implicit trailing zero ends the frame */
      if (run == 254) { code = 1; put(ctx, &code, 1); } /* as the host's encoder: a last, empty block */
      break;
    }
    if (run == 254) continue; /* 0xFF block: no zero consumed */
    start++; /* skip the zero this block stood for */
    if (start == n) { code = 1; put(ctx, &code, 1); break; } /* data ended with a zero */
  }
  put(ctx, &zero, 1);
}

static void put_byte(xb_pbw *w, uint8_t b) {
  if (w->len < w->cap) w->p[w->len++] = b; else w->err = 1;
}
static void put_varint(xb_pbw *w, uint32_t v) {
  while (v >= 0x80) { put_byte(w, (uint8_t)(v | 0x80)); v >>= 7; }
  put_byte(w, (uint8_t)v);
}
static void put_tag(xb_pbw *w, uint8_t field, uint8_t wt) { put_varint(w, (uint32_t)field << 3 | wt); }

void xb_pb_uint(xb_pbw *w, uint8_t field, uint32_t v) { if (v) { put_tag(w, field, 0); put_varint(w, v); } }
void xb_pb_sint(xb_pbw *w, uint8_t field, int32_t v) {
  if (v) { put_tag(w, field, 0); put_varint(w, ((uint32_t)v << 1) ^ (v < 0 ? 0xFFFFFFFFu : 0u)); }
}
void xb_pb_fixed32(xb_pbw *w, uint8_t field, uint32_t v) {
  if (v) { put_tag(w, field, 5); put_byte(w, (uint8_t)v); put_byte(w, (uint8_t)(v >> 8)); put_byte(w, (uint8_t)(v >> 16)); put_byte(w, (uint8_t)(v >> 24)); }
}
void xb_pb_bytes(xb_pbw *w, uint8_t field, const uint8_t *p, uint16_t n, int always) {
  if (!n && !always) return;
  put_tag(w, field, 2); put_varint(w, n);
  while (n--) put_byte(w, *p++);
}
void xb_pb_str(xb_pbw *w, uint8_t field, const char *s) { if (s) xb_pb_bytes(w, field, (const uint8_t *)s, (uint16_t)strlen(s), 0); }

void xb_enc_hello(xb_pbw *w, const char *board_id, const uint8_t nonce[16], uint8_t auth, const uint8_t *eph_pub) {
  xb_pb_str(w, 1, board_id); xb_pb_bytes(w, 2, nonce, 16, 0); xb_pb_uint(w, 3, XB_VERSION); xb_pb_uint(w, 4, auth);
  if (eph_pub) xb_pb_bytes(w, 5, eph_pub, 32, 1);
}
void xb_enc_info(xb_pbw *w, const char *fw_name, const char *fw_version, uint32_t schema_hash, uint32_t caps, uint32_t count) {
  xb_pb_str(w, 1, fw_name); xb_pb_str(w, 2, fw_version); xb_pb_fixed32(w, 3, schema_hash); xb_pb_uint(w, 4, caps); xb_pb_uint(w, 5, count);
}
void xb_enc_entity(xb_pbw *w, const xb_entity *e) {
  xb_pb_uint(w, 1, e->key); xb_pb_str(w, 2, e->name); xb_pb_str(w, 3, e->unit); xb_pb_uint(w, 4, e->kind);
  xb_pb_uint(w, 5, e->decimals); xb_pb_sint(w, 6, e->min); xb_pb_sint(w, 7, e->max); xb_pb_uint(w, 8, e->writable);
}
/* An embedded message, encoded in place after a one-byte length (moved up a byte in the rare
 * case it reaches 128 bytes): no scratch buffer on the stack. */
static void nested(xb_pbw *w, uint8_t field, void (*enc)(xb_pbw *, const void *), const void *arg) {
  xb_pbw inner;
  uint16_t at;
  put_tag(w, field, 2);
  at = w->len;
  put_byte(w, 0);
  if (w->err) return;
  inner.p = w->p + w->len; inner.len = 0; inner.cap = (uint16_t)(w->cap - w->len); inner.err = 0;
  enc(&inner, arg);
  if (inner.err) { w->err = 1; return; }
  if (inner.len >= 0x80) {
    if (inner.len >= inner.cap) { w->err = 1; return; }
    memmove(w->p + at + 2, w->p + at + 1, inner.len);
    w->p[at] = (uint8_t)(inner.len | 0x80); w->p[at + 1] = (uint8_t)(inner.len >> 7);
    w->len++;
  } else w->p[at] = (uint8_t)inner.len;
  w->len = (uint16_t)(w->len + inner.len);
}
static void enc_entity_v(xb_pbw *w, const void *e) { xb_enc_entity(w, (const xb_entity *)e); }
static void enc_value_v(xb_pbw *w, const void *p) {
  const xb_value *v = (const xb_value *)p;
  xb_pb_uint(w, 1, v->key); xb_pb_sint(w, 2, v->error ? 0 : v->value); xb_pb_uint(w, 3, v->age_ms); xb_pb_uint(w, 4, v->error);
}
void xb_enc_describe(xb_pbw *w, const xb_entity *e, uint32_t index, uint32_t count) {
  nested(w, 1, enc_entity_v, e); xb_pb_uint(w, 2, index); xb_pb_uint(w, 3, count);
}
void xb_enc_value(xb_pbw *w, const xb_value *v) { nested(w, 1, enc_value_v, v); }
void xb_enc_readings_full(xb_pbw *w, uint8_t full) { xb_pb_uint(w, 2, full); }
void xb_enc_ack(xb_pbw *w, uint32_t request_id, uint8_t status, int32_t value) { xb_pb_uint(w, 1, request_id); xb_pb_uint(w, 2, status); xb_pb_sint(w, 3, value); }
void xb_enc_pong(xb_pbw *w, uint32_t seq, uint32_t uptime_ms) { xb_pb_uint(w, 1, seq); xb_pb_uint(w, 2, uptime_ms); }
void xb_enc_log(xb_pbw *w, uint8_t level, const char *text) { xb_pb_uint(w, 1, level); xb_pb_str(w, 2, text); }
void xb_enc_error(xb_pbw *w, uint8_t code, const char *text) { xb_pb_uint(w, 1, code); xb_pb_str(w, 2, text); }

/* Reader: one field at a time. Returns 1 with a field, 0 at the end, -1 when malformed. Varints
 * are read as two 32-bit halves (64-bit shifts cost an 8-bit core dearly); only TIME's
 * milliseconds need the high half. */
typedef struct { const uint8_t *p; uint16_t n, i; } rd;
typedef struct { uint32_t lo, hi; } u64p;
static int get_varint(rd *r, u64p *v) {
  uint8_t s;
  v->lo = v->hi = 0;
  for (s = 0; s < 64; s += 7) {
    uint32_t bits;
    uint8_t b;
    if (r->i >= r->n) return -1;
    b = r->p[r->i++];
    bits = b & 0x7F;
    if (s < 32) { v->lo |= bits << s; if (s > 25) v->hi |= bits >> (32 - s); }
    else v->hi |= bits << (s - 32);
    if (!(b & 0x80)) return 0;
  }
  return -1;
}

static int next(rd *r, uint16_t *field, u64p *v, const uint8_t **b) {
  u64p key;
  if (r->i >= r->n) return 0;
  if (get_varint(r, &key) || key.hi || (key.lo >> 3) == 0 || (key.lo >> 3) > 0xFFFF) return -1;
  *field = (uint16_t)(key.lo >> 3);
  *b = 0; v->lo = v->hi = 0;
  switch (key.lo & 7) {
    case 0: return get_varint(r, v) ? -1 : 1;
    case 1: if (r->n - r->i < 8) return -1; r->i += 8; return 1;
    case 5: if (r->n - r->i < 4) return -1;
      v->lo = (uint32_t)r->p[r->i] | (uint32_t)r->p[r->i + 1] << 8 | (uint32_t)r->p[r->i + 2] << 16 | (uint32_t)r->p[r->i + 3] << 24;
      r->i += 4; return 1;
    case 2: if (get_varint(r, v) || v->hi || v->lo > (uint32_t)(r->n - r->i)) return -1;
      *b = r->p + r->i; r->i = (uint16_t)(r->i + v->lo); return 1;
    default: return -1;
  }
}
static int32_t unzigzag(uint32_t u) { return (int32_t)((u >> 1) ^ (0u - (u & 1))); }

/* The host's messages all have varint fields 1-4 (and HELLO_REQ a bytes field 1): one reader
 * for all of them keeps the AVR build small. Absent fields read as zero. */
static int dec(const uint8_t *p, uint16_t n, u64p v[4], const uint8_t **b1, uint16_t *b1len) {
  rd r;
  uint16_t f;
  u64p x;
  const uint8_t *b;
  int k;
  r.p = p; r.n = n; r.i = 0;
  memset(v, 0, 4 * sizeof v[0]);
  *b1 = 0; *b1len = 0;
  while ((k = next(&r, &f, &x, &b)) == 1) {
    if (f < 1 || f > 4) continue;
    if (b) { if (f == 1) { *b1 = b; *b1len = (uint16_t)x.lo; } }
    else v[f - 1] = x;
  }
  return k < 0 ? -1 : 0;
}

int xb_dec_hello_req(const uint8_t *p, uint16_t n, xb_hello_req *out) {
  u64p v[4];
  const uint8_t *b;
  uint16_t bl;
  memset(out, 0, sizeof *out);
  if (dec(p, n, v, &b, &bl)) return -1;
  if (b) { if (bl != 16) return -1; memcpy(out->host_nonce, b, 16); out->nonce_len = 16; }
  out->version = v[1].lo;
  out->auth = (v[2].lo | v[2].hi) != 0;
#if defined(XB_X25519) && XB_X25519
  { /* field 4: the host's ephemeral X25519 key, when it asks for forward secrecy */
    rd r;
    uint16_t f;
    u64p x;
    int k;
    r.p = p; r.n = n; r.i = 0;
    while ((k = next(&r, &f, &x, &b)) == 1) if (f == 4 && b) { if (x.lo != 32) return -1; memcpy(out->eph_pub, b, 32); out->has_eph = 1; }
    if (k < 0) return -1;
  }
#endif
  return 0;
}
int xb_dec_set(const uint8_t *p, uint16_t n, xb_set *out) {
  u64p v[4];
  const uint8_t *b;
  uint16_t bl;
  memset(out, 0, sizeof *out);
  if (dec(p, n, v, &b, &bl)) return -1;
  out->request_id = v[0].lo; out->key = v[1].lo; out->value = unzigzag(v[2].lo);
  return 0;
}
int xb_dec_time(const uint8_t *p, uint16_t n, uint64_t *unix_ms) {
  u64p v[4];
  const uint8_t *b;
  uint16_t bl;
  if (dec(p, n, v, &b, &bl)) return -1;
  *unix_ms = (uint64_t)v[0].hi << 32 | v[0].lo;
  return 0;
}
int xb_dec_ping(const uint8_t *p, uint16_t n, uint32_t *seq) {
  u64p v[4];
  const uint8_t *b;
  uint16_t bl;
  if (dec(p, n, v, &b, &bl)) return -1;
  *seq = v[0].lo;
  return 0;
}

int xb_dec_pair(const uint8_t *p, uint16_t n, uint8_t key[32]) {
  u64p v[4];
  const uint8_t *b;
  uint16_t bl;
  if (dec(p, n, v, &b, &bl) || !b || bl != 32) return -1;
  memcpy(key, b, 32);
  return 0;
}

uint32_t xb_schema_hash(const xb_entity *e, uint8_t n) {
  uint32_t h = 0x811C9DC5u;
  uint8_t tmp[96];
  uint8_t i;
  for (i = 0; i < n; i++) {
    xb_pbw w = { tmp, 0, sizeof tmp, 0 };
    uint16_t j;
    xb_enc_entity(&w, &e[i]);
    for (j = 0; j < w.len; j++) { h ^= tmp[j]; h *= 0x01000193u; }
  }
  return h;
}
