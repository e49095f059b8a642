/* The board session transcript (firmware-bridge/vectors/session.json) replayed on an
 * ATmega328P in simavr, the library built as for the board: every byte the board sends is
 * compared, as it is sent, with the vector. Passing it on the real 2 KiB part also shows the
 * handshake's stack fits beside the library's state.   make -C firmware-bridge/c/avr transcript */
#include <avr/io.h>
#include <avr/pgmspace.h>
#include <avr/sleep.h>
#include <avr/interrupt.h>
#include <string.h>
#include "xiota_bridge.h"

struct step { uint8_t kind; int32_t a, b; const uint8_t *wire; uint16_t wire_len; const uint8_t *expect; uint16_t expect_len; const char *text; };
#include "transcript.h"

static const xb_entity ENTITIES[] = {
  { 1, "temperature", "\xc2\xb0" "C", XB_KIND_NUMERIC, 1, -400, 1250, 0 },
  { 2, "humidity", "%", XB_KIND_NUMERIC, 0, 0, 100, 0 },
  { 10, "relay", "", XB_KIND_BOOL, 0, 0, 1, 1 },
  { 11, "setpoint", "\xc2\xb0" "C", XB_KIND_INT, 0, 5, 30, 1 },
};

static const uint8_t *exp_p;
static uint16_t exp_left, mismatches, extra;
static uint32_t now_ms;
static void hal_write(void *c, const uint8_t *p, size_t n) {
  (void)c;
  while (n--) {
    if (!exp_left) { extra++; p++; continue; }
    if (pgm_read_byte(exp_p++) != *p++) mismatches++;
    exp_left--;
  }
}
static uint32_t hal_millis(void *c) { (void)c; return now_ms; }
static void hal_random(void *c, uint8_t *p, size_t n) { (void)c; memcpy_P(p, BOARD_NONCE, n); }
static int hal_key(void *c, uint8_t k[32]) { (void)c; memcpy_P(k, PSK, 32); return 1; }
static uint8_t apply(void *c, uint16_t key, int32_t v, int32_t *r) { (void)c; (void)key; *r = v; return XB_ACK_OK; }
static const xb_hal HAL = { 0, hal_write, hal_millis, hal_random, hal_key, 0 };
static xb_board board;

static void put(char ch) { while (!(UCSR0A & _BV(UDRE0))) {} UDR0 = (uint8_t)ch; }
static void say(const char *s, uint16_t v) {
  char d[6]; int i = 0;
  while (*s) put(*s++);
  do { d[i++] = (char)('0' + v % 10); v /= 10; } while (v);
  while (i) put(d[--i]);
  put('\n');
}

extern uint8_t __heap_start;
int main(void) {
  uint16_t i, short_by = 0, failed_steps = 0;
  uint8_t *p;
  UBRR0 = 8; UCSR0B = _BV(TXEN0); UCSR0C = _BV(UCSZ01) | _BV(UCSZ00);
  /* paint the free RAM to find the deepest stack use afterwards */
  for (p = &__heap_start; p < (uint8_t *)SP - 16; p++) *p = 0xA5;
  xb_init(&board, &HAL, "greenhouse-1", "xiota-fake", "1.0.0", ENTITIES, 4, apply, 0);
  for (i = 0; i < sizeof STEPS / sizeof STEPS[0]; i++) {
    struct step st;
    const struct step *s = &st;
    uint16_t before = mismatches + extra;
    memcpy_P(&st, &STEPS[i], sizeof st);
    exp_p = s->expect; exp_left = s->expect_len; extra = 0;
    if (s->kind == 0) now_ms = (uint32_t)s->a;
    else if (s->kind == 1) xb_report(&board, (uint16_t)s->a, s->b);
    else if (s->kind == 2) { uint16_t k; for (k = 0; k < s->wire_len; k++) { uint8_t c = pgm_read_byte(s->wire + k); xb_feed(&board, &c, 1); } }
    else if (s->kind == 3) xb_poll(&board);
    else if (s->kind == 4) xb_log(&board, (uint8_t)s->a, s->text);
    short_by += exp_left;
    if (mismatches + extra != before || exp_left) failed_steps++;
  }
  for (p = &__heap_start; p < (uint8_t *)RAMEND && *p == 0xA5; p++) {}
  say("steps: ", (uint16_t)(sizeof STEPS / sizeof STEPS[0]));
  say("failed steps: ", failed_steps);
  say("byte mismatches: ", mismatches);
  say("bytes missing: ", short_by);
  say("static RAM end: ", (uint16_t)&__heap_start);
  say("free RAM never touched by the stack: ", (uint16_t)(p - &__heap_start));
  while (!(UCSR0A & _BV(TXC0))) {}
  cli(); sleep_enable(); sleep_cpu();
  return 0;
}
