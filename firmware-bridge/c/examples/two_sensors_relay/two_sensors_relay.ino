// Two sensors and one relay on a xiota gateway over the USB serial port.
// 1. On the gateway: xiota bridge pair greenhouse-1   (prints the key as a C array)
// 2. Paste it below as XIOTA_BRIDGE_KEY, flash, and add a `bridge` driver with board: greenhouse-1.
#include <xiota_bridge.h>

static const uint8_t XIOTA_BRIDGE_KEY[32] = { 0 }; // replace with the key `xiota bridge pair` printed

static const int RELAY_PIN = 7;
static const xb_entity ENTITIES[] = {
  // key (stable, never reuse), name, unit, kind, decimals, min, max, writable
  { 1, "temperature", "\xc2\xb0" "C", XB_KIND_NUMERIC, 1, -400, 1250, 0 },
  { 2, "light", "%", XB_KIND_NUMERIC, 0, 0, 100, 0 },
  { 10, "relay", "", XB_KIND_BOOL, 0, 0, 1, 1 },
};

static void hal_write(void *, const uint8_t *p, size_t n) { Serial.write(p, n); }
static uint32_t hal_millis(void *) { return millis(); }
static void hal_random(void *, uint8_t *p, size_t n) {
  // Low bits of a floating analog pin and timing jitter; a board with a hardware RNG
  // (ESP32: esp_random(), RP2040: get_rand_32()) should use it instead.
  for (size_t i = 0; i < n; i++) {
    uint8_t b = 0;
    for (int k = 0; k < 8; k++) b = (uint8_t)((b << 1) ^ (analogRead(A5) & 1) ^ (micros() & 1));
    p[i] = b;
  }
}
static int hal_load_key(void *, uint8_t key[32]) {
  uint8_t any = 0;
  for (int i = 0; i < 32; i++) { key[i] = XIOTA_BRIDGE_KEY[i]; any |= key[i]; }
  return any != 0; // all zeros: not paired, the gateway is told so
}
static const xb_hal HAL = { 0, hal_write, hal_millis, hal_random, hal_load_key, 0 }; // the key is in flash: no trust-on-first-use pairing

static uint8_t apply(void *, uint16_t key, int32_t value, int32_t *result) {
  if (key == 10) { digitalWrite(RELAY_PIN, value ? HIGH : LOW); *result = value ? 1 : 0; return XB_ACK_OK; }
  return XB_ACK_UNKNOWN_KEY;
}

static xb_board board;
static uint32_t last;

void setup() {
  pinMode(RELAY_PIN, OUTPUT);
  Serial.begin(115200);
  xb_init(&board, &HAL, "greenhouse-1", "greenhouse", "1.0.0", ENTITIES, 3, apply, 0);
  xb_report(&board, 10, 0);
}

void loop() {
  while (Serial.available()) { uint8_t c = (uint8_t)Serial.read(); xb_feed(&board, &c, 1); }
  if (millis() - last >= 1000) {
    last = millis();
    int32_t raw = analogRead(A0);                     // a TMP36: 10 mV/°C, 500 mV at 0 °C
    xb_report(&board, 1, (int32_t)((raw * 5000L / 1023 - 500)));  // tenths of °C
    xb_report(&board, 2, (int32_t)(analogRead(A1) * 100L / 1023));
  }
  xb_poll(&board);
}
