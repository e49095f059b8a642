/* Runs the AVR build in simavr with its USART0 on a pty, so the host driver talks to the real
 * firmware image as it would to a board on /dev/ttyUSB0. Also: the key written to EEPROM (what
 * avrdude would do), voltages on ADC0/ADC1 (a TMP36 drifting around 25 °C, a light sensor),
 * the relay pin PD7 watched, and at exit (SIGTERM/SIGINT) the cycles the CPU was awake and the
 * deepest stack seen, instruction by instruction.
 *   simpty -m atmega328p -l /tmp/board-pty [-k 64-hex-key] firmware.elf
 * stderr lines: "pty PATH", "relay 0|1", at exit "cycles TOTAL awake AWAKE stack BYTES ramend R". */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include "sim_avr.h"
#include "sim_elf.h"
#include "avr_adc.h"
#include "avr_eeprom.h"
#include "avr_ioport.h"
#include "uart_pty.h"

static volatile sig_atomic_t stop;
static void on_signal(int s) { (void)s; stop = 1; }

static void relay_changed(struct avr_irq_t *irq, uint32_t value, void *param) {
  (void)irq; (void)param;
  fprintf(stderr, "relay %u\n", value ? 1u : 0u);
}

static int unhex(const char *s, uint8_t *out, size_t n) {
  size_t i;
  if (strlen(s) != 2 * n) return -1;
  for (i = 0; i < n; i++) { unsigned v; if (sscanf(s + 2 * i, "%2x", &v) != 1) return -1; out[i] = (uint8_t)v; }
  return 0;
}

static double now_s(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return (double)t.tv_sec + t.tv_nsec / 1e9; }

int main(int argc, char **argv) {
  const char *mcu = "atmega328p", *link = 0, *elf = 0;
  uint8_t key[32];
  int have_key = 0, i;
  elf_firmware_t fw;
  avr_t *avr;
  uart_pty_t pty;
  uint16_t min_sp = 0xFFFF;
  avr_cycle_count_t awake = 0, last_tick = 0, last_adc = 0;
  double t0;
  prctl(PR_SET_PDEATHSIG, SIGTERM); /* ends with the test that started it */
  for (i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-m") && i + 1 < argc) mcu = argv[++i];
    else if (!strcmp(argv[i], "-l") && i + 1 < argc) link = argv[++i];
    else if (!strcmp(argv[i], "-k") && i + 1 < argc) {
      if (unhex(argv[++i], key, 32)) { fprintf(stderr, "simpty: -k takes the 32-byte key as 64 hex digits\n"); return 2; }
      have_key = 1;
    } else elf = argv[i];
  }
  if (!elf || !link) { fprintf(stderr, "usage: simpty [-m MCU] -l PTY-LINK [-k HEXKEY] firmware.elf\n"); return 2; }
  memset(&fw, 0, sizeof fw);
  if (elf_read_firmware(elf, &fw)) { fprintf(stderr, "simpty: cannot read %s\n", elf); return 2; }
  if (!fw.mmcu[0]) snprintf(fw.mmcu, sizeof fw.mmcu, "%s", mcu);
  if (!fw.frequency) fw.frequency = 16000000;
  avr = avr_make_mcu_by_name(fw.mmcu);
  if (!avr) { fprintf(stderr, "simpty: simavr does not know %s\n", fw.mmcu); return 2; }
  avr_init(avr);
  avr_load_firmware(avr, &fw);
  avr->avcc = avr->vcc = avr->aref = 5000;
  avr->log = 0;
  if (have_key) {
    avr_eeprom_desc_t d;
    d.ee = key; d.offset = 0; d.size = 32;
    avr_ioctl(avr, AVR_IOCTL_EEPROM_SET, &d);
  }
  uart_pty_init(avr, &pty);
  uart_pty_connect(&pty, '0');
  unlink(link);
  if (symlink(pty.pty.slavename, link)) { fprintf(stderr, "simpty: symlink %s: %s\n", link, strerror(errno)); return 2; }
  avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), 7), relay_changed, 0);
  signal(SIGTERM, on_signal); signal(SIGINT, on_signal);
  fprintf(stderr, "pty %s\n", link);
  t0 = now_s();
  while (!stop) {
    avr_cycle_count_t before = avr->cycle;
    int state = avr_run(avr);
    uint16_t sp;
    if (state == cpu_Done || state == cpu_Crashed) { fprintf(stderr, "simpty: the AVR stopped (state %d)\n", state); break; }
    if (state == cpu_Running) awake += avr->cycle - before;
    sp = (uint16_t)(avr->data[R_SPL] | avr->data[R_SPH] << 8);
    if (sp < min_sp && sp > 0x100) min_sp = sp;
    if (avr->cycle - last_adc >= fw.frequency / 10) { /* 10 Hz: TMP36 at 25 ± 2 °C, light 40 % */
      double s = (double)avr->cycle / fw.frequency;
      last_adc = avr->cycle;
      avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC0), (uint32_t)(750 + 20 * ((int)s % 3)));
      avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC1), 2000);
    }
    if (avr->cycle - last_tick >= fw.frequency / 1000) { /* never run ahead of the wall clock */
      double ahead = (double)avr->cycle / fw.frequency - (now_s() - t0);
      last_tick = avr->cycle;
      if (ahead > 0.002) usleep((useconds_t)(ahead * 1e6));
    }
  }
  fprintf(stderr, "cycles %llu awake %llu stack %u ramend %u\n", (unsigned long long)avr->cycle,
          (unsigned long long)awake, (unsigned)(avr->ramend - min_sp), (unsigned)avr->ramend);
  unlink(link);
  _exit(0); /* uart_pty_stop() in simavr 1.6 waits on a pty thread that never returns */
}
