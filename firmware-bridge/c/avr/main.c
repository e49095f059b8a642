/* The library on a bare ATmega328P (no Arduino core): USART0 at 115200 baud with a receive
 * interrupt and a 64-byte ring (bytes keep arriving while the board seals a frame), Timer0 for
 * milliseconds, idle sleep between events, ADC noise for the session nonce, the key in EEPROM.
 * Two sensors (ADC0: a TMP36, ADC1: a light sensor) and one relay (PD7): the size target
 * is this build under 16 KiB of flash and 1 KiB of RAM.
 *   make -C firmware-bridge/c/avr                 (gcc-avr, avr-libc)
 * Pairing: `xiota bridge pair BOARD_ID` prints the key; write it to EEPROM bytes 0-31
 * (avrdude ... -U eeprom:w:0x..,0x..,...:m). Erased EEPROM (all 0xFF) is an unpaired board,
 * which asks to pair: the owner's `xiota bridge approve BOARD_ID` sends it its key (TOFU). */
#include <avr/io.h>
#include <avr/interrupt.h>
#include <avr/eeprom.h>
#include <avr/sleep.h>
#include "xiota_bridge.h"

#ifndef F_CPU
#define F_CPU 16000000UL
#endif
#define BAUD 115200UL
#ifndef BOARD_ID
#define BOARD_ID "greenhouse-1"
#endif

static volatile uint32_t ms;
ISR(TIMER0_COMPA_vect) { ms++; }

/* Received bytes wait here while the main loop is busy (a sealed frame takes ~10 ms). */
#define RING 64
static volatile uint8_t ring[RING], head, tail;
ISR(USART_RX_vect) {
  uint8_t c = UDR0, next = (uint8_t)((head + 1) & (RING - 1));
  if (next != tail) { ring[head] = c; head = next; } /* full: the byte is lost, the CRC tells */
}

static void hal_write(void *ctx, const uint8_t *p, size_t n) {
  (void)ctx;
  while (n--) { while (!(UCSR0A & _BV(UDRE0))) {} UDR0 = *p++; }
}
static uint32_t hal_millis(void *ctx) { uint32_t v; (void)ctx; cli(); v = ms; sei(); return v; }
static uint16_t adc(uint8_t ch) { ADMUX = _BV(REFS0) | ch; ADCSRA |= _BV(ADSC); while (ADCSRA & _BV(ADSC)) {} return ADC; }
static void hal_random(void *ctx, uint8_t *p, size_t n) {
  (void)ctx;
  while (n--) { uint8_t b = 0, k; for (k = 0; k < 8; k++) b = (uint8_t)((b << 1) ^ (adc(5) & 1) ^ (TCNT0 & 1)); *p++ = b; }
}
static int hal_load_key(void *ctx, uint8_t key[32]) {
  uint8_t i, any = 0, all = 0xFF;
  (void)ctx;
  eeprom_read_block(key, (const void *)0, 32);
  for (i = 0; i < 32; i++) { any |= key[i]; all &= key[i]; }
  return any && all != 0xFF;
}
/* Trust on first use: a board with erased EEPROM takes the key the gateway sends once its owner
 * approved it (xiota bridge approve); a paired board never replaces its key this way. */
static int hal_store_key(void *ctx, const uint8_t key[32]) {
  (void)ctx;
  eeprom_update_block(key, (void *)0, 32);
  return 1;
}
static const xb_hal HAL = { 0, hal_write, hal_millis, hal_random, hal_load_key, hal_store_key };

static const xb_entity ENTITIES[] = {
  { 1, "temperature", "\xc2\xb0" "C", XB_KIND_NUMERIC, 1, -400, 1250, 0 },
  { 2, "light", "%", XB_KIND_NUMERIC, 0, 0, 100, 0 },
  { 10, "relay", "", XB_KIND_BOOL, 0, 0, 1, 1 },
};

static uint8_t apply(void *ctx, uint16_t key, int32_t value, int32_t *result) {
  (void)ctx;
  if (key != 10) return XB_ACK_UNKNOWN_KEY;
  if (value) PORTD |= _BV(PD7); else PORTD &= (uint8_t)~_BV(PD7);
  *result = value ? 1 : 0;
  return XB_ACK_OK;
}

static xb_board board;

int main(void) {
  uint32_t last = 0;
  DDRD |= _BV(PD7);
  UBRR0 = (uint16_t)((F_CPU / 8 / BAUD) - 1); UCSR0A = _BV(U2X0);
  UCSR0B = _BV(RXEN0) | _BV(TXEN0) | _BV(RXCIE0); UCSR0C = _BV(UCSZ01) | _BV(UCSZ00);
  TCCR0A = _BV(WGM01); TCCR0B = _BV(CS01) | _BV(CS00); OCR0A = (uint8_t)(F_CPU / 64 / 1000 - 1); TIMSK0 = _BV(OCIE0A);
  ADCSRA = _BV(ADEN) | _BV(ADPS2) | _BV(ADPS1) | _BV(ADPS0);
  set_sleep_mode(SLEEP_MODE_IDLE);
  sei();
  xb_init(&board, &HAL, BOARD_ID, "greenhouse", "1.0.0", ENTITIES, 3, apply, 0);
  { uint8_t k[32]; board.pairable = (uint8_t)!hal_load_key(0, k); }
  xb_report(&board, 10, 0);
  for (;;) {
    while (tail != head) { uint8_t c = ring[tail]; tail = (uint8_t)((tail + 1) & (RING - 1)); xb_feed(&board, &c, 1); }
    if (hal_millis(0) - last >= 1000) {
      last = hal_millis(0);
      xb_report(&board, 1, (int32_t)adc(0) * 5000L / 1023 - 500); /* TMP36, tenths of °C */
      xb_report(&board, 2, (int32_t)adc(1) * 100L / 1023);
    }
    xb_poll(&board);
    cli(); /* sleep until the next byte or millisecond tick, without missing one that just came */
    if (tail == head) { sleep_enable(); sei(); sleep_cpu(); sleep_disable(); }
    sei();
  }
}
