/* Cycle counts of the board's work on an ATmega328P, run in simavr: the handshake (HELLO_REQ in,
 * key derivation, HELLO and sealed INFO out), one sealed SET in with its sealed ACK out, and a
 * sealed READINGS batch. Timer1 counts CPU cycles (prescaler 1) with an overflow counter; the
 * results go out on USART0, which simavr prints.   make -C firmware-bridge/c/avr cycles */
#include <avr/io.h>
#include <avr/interrupt.h>
#include <avr/sleep.h>
#include <string.h>
#include "xiota_bridge.h"

static volatile uint16_t ovf;
ISR(TIMER1_OVF_vect) { ovf++; }
static uint32_t cycles(void) { uint16_t lo, hi; cli(); lo = TCNT1; hi = ovf; if ((TIFR1 & _BV(TOV1)) && lo < 0x8000) hi++; sei(); return (uint32_t)hi << 16 | lo; }

static void uart_put(char c) { while (!(UCSR0A & _BV(UDRE0))) {} UDR0 = (uint8_t)c; }
static void print(const char *s, uint32_t v) {
  char d[11]; int i = 0;
  while (*s) uart_put(*s++);
  do { d[i++] = (char)('0' + v % 10); v /= 10; } while (v);
  while (i) uart_put(d[--i]);
  uart_put('\n');
}

static uint16_t out_bytes;
static void hal_write(void *c, const uint8_t *p, size_t n) { (void)c; (void)p; out_bytes += (uint16_t)n; }
static uint32_t now_ms = 1000;
static uint32_t hal_millis(void *c) { (void)c; return now_ms; }
static void hal_random(void *c, uint8_t *p, size_t n) { (void)c; memset(p, 0x5a, n); }
static int hal_key(void *c, uint8_t k[32]) { (void)c; memset(k, 7, 32); return 1; }
static uint8_t apply(void *c, uint16_t key, int32_t v, int32_t *r) { (void)c; (void)key; *r = v; return XB_ACK_OK; }
static const xb_hal HAL = { 0, hal_write, hal_millis, hal_random, hal_key, 0 };
static const xb_entity ENTITIES[] = {
  { 1, "temperature", "C", XB_KIND_NUMERIC, 1, -400, 1250, 0 },
  { 2, "light", "%", XB_KIND_NUMERIC, 0, 0, 100, 0 },
  { 10, "relay", "", XB_KIND_BOOL, 0, 0, 1, 1 },
};
static xb_board board;
static uint8_t wire[128];
static uint16_t wire_len;
static void w_put(void *c, const uint8_t *p, size_t n) { (void)c; memcpy(wire + wire_len, p, n); wire_len = (uint16_t)(wire_len + n); }

static void host_frame(uint8_t type, uint32_t ctr, const uint8_t *body, uint16_t len, int sealed) {
  static uint8_t f[96];
  uint16_t n, crc;
  f[0] = (uint8_t)(XB_VERSION << 4 | (sealed ? XB_FLAG_AUTH : 0)); f[1] = type;
  f[2] = (uint8_t)ctr; f[3] = (uint8_t)(ctr >> 8); f[4] = (uint8_t)(ctr >> 16); f[5] = (uint8_t)(ctr >> 24);
  if (sealed) {
    uint8_t nonce[24];
    memset(nonce, 0, 24); nonce[0] = 1; nonce[1] = f[0]; nonce[2] = type; memcpy(nonce + 3, f + 2, 4);
    xb_secretbox(f + XB_HEADER, body, len, nonce, board.k_rx);
    n = (uint16_t)(XB_HEADER + XB_TAG_BYTES + len);
  } else { memcpy(f + XB_HEADER, body, len); n = (uint16_t)(XB_HEADER + len); }
  crc = xb_crc16(f, n);
  f[n++] = (uint8_t)(crc >> 8); f[n++] = (uint8_t)crc;
  wire_len = 0;
  xb_cobs_write(f, n, w_put, 0);
}

int main(void) {
  uint8_t body[40], nonce[16];
  uint32_t t0, t1;
  xb_pbw w = { body, 0, sizeof body, 0 };
  UBRR0 = 8; UCSR0B = _BV(TXEN0); UCSR0C = _BV(UCSZ01) | _BV(UCSZ00);
  TCCR1A = 0; TCCR1B = _BV(CS10); TIMSK1 = _BV(TOIE1);
  sei();
  xb_init(&board, &HAL, "greenhouse-1", "greenhouse", "1.0.0", ENTITIES, 3, apply, 0);
  memset(nonce, 0x33, 16);
  xb_pb_bytes(&w, 1, nonce, 16, 0); xb_pb_uint(&w, 2, 1); xb_pb_uint(&w, 3, 1);
  host_frame(XB_HELLO_REQ, 0, body, w.len, 0);
  t0 = cycles(); xb_feed(&board, wire, wire_len); t1 = cycles();
  print("handshake cycles (HELLO_REQ in; SHA-512 keys; HELLO + sealed INFO out): ", t1 - t0);
  print("session up: ", board.session);
  w.len = 0; xb_pb_uint(&w, 1, 7); xb_pb_uint(&w, 2, 10); xb_pb_sint(&w, 3, 1);
  host_frame(XB_SET, 1, body, w.len, 1);
  out_bytes = 0;
  t0 = cycles(); xb_feed(&board, wire, wire_len); t1 = cycles();
  print("sealed SET in + sealed ACK out, cycles: ", t1 - t0);
  print("ack bytes out: ", out_bytes);
  xb_report(&board, 1, 215); xb_report(&board, 2, 40);
  now_ms += 200;
  out_bytes = 0;
  t0 = cycles(); xb_poll(&board); t1 = cycles();
  print("sealed READINGS (2 values) out, cycles: ", t1 - t0);
  print("readings bytes out: ", out_bytes);
  print("frames dropped: ", board.dropped);
  while (!(UCSR0A & _BV(TXC0))) {}
  cli(); sleep_enable(); sleep_cpu(); /* simavr ends here */
  return 0;
}
