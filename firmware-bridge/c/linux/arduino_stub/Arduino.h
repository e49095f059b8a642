/* Just enough of Arduino.h to syntax-check the example sketch with the host's C++ compiler
 * (the AVR build itself is not part of this build). */
#ifndef ARDUINO_STUB_H
#define ARDUINO_STUB_H
#include <stdint.h>
#include <stddef.h>
#define HIGH 1
#define LOW 0
#define OUTPUT 1
#define A0 14
#define A1 15
#define A5 19
struct SerialStub { void begin(long) {} size_t write(const uint8_t *, size_t n) { return n; } int available() { return 0; } int read() { return -1; } };
static SerialStub Serial;
static inline unsigned long millis() { return 0; }
static inline unsigned long micros() { return 0; }
static inline int analogRead(int) { return 0; }
static inline void pinMode(int, int) {}
static inline void digitalWrite(int, int) {}
#endif
