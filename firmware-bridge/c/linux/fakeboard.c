/* A fake board for the tests: the portable library driving a pty (or any tty) on Linux.
 *   fakeboard --port PATH --id BOARD_ID (--key HEX64 | --no-key) [--plaintext-ok] [--pairable] [--period MS]
 * --no-x25519: answers without an ephemeral key, as an AVR (built here with XB_X25519=1).
 * --pairable: an unpaired board takes the key the host sends once the owner approved (TOFU).
 * Every period it reports temperature = 20.0 + n/10 °C (raw 200 + n: a counter, so a test can
 * tell every reading is genuine and in order) and humidity = n % 101. Sets are logged on stderr
 * as "set key=K value=V"; setpoint 13 fails (to test failed acks).
 * --firmware 2 is the same board after a firmware update: humidity (2) gone, pressure (3, hPa)
 * added, temperature renamed "air temperature". --stamp (bench/bridge.ts, built as benchboard
 * with XB_BATCH_MS=0) reports temperature = the wall clock in µs mod 2^30, so the host can
 * tell each reading's latency. SIGUSR1 resets the board in
 * the middle of its next frame, as a watchdog or a brown-out would.
 * Built with -DFAKEBOARD_MQTT (make mqttboard, Debian libmosquitto-dev) it is a Wi-Fi board
 * instead: --mqtt HOST:PORT [--prefix P] in place of --port; each frame one QoS 1 payload on
 * P/ID/up, frames from P/ID/down (default prefix xiota/bridge). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "xiota_bridge.h"
#include "demo_entities.h"
#ifdef FAKEBOARD_MQTT
#include <mosquitto.h>
static struct mosquitto *mq;
static char topic_up[160], topic_down[160];
#endif

static int fd = -1;
static uint8_t psk[32];
static int have_key;
static volatile sig_atomic_t reset_requested, stop_requested;
static int cut_after = -1; /* bytes still written before a reset cuts the frame */
static int32_t relay, setpoint = 20;

static void hal_write(void *ctx, const uint8_t *p, size_t n) {
  (void)ctx;
#ifdef FAKEBOARD_MQTT
  mosquitto_publish(mq, NULL, topic_up, (int)n, p, 1, false); /* one frame per write */
  return;
#endif
  if (reset_requested && cut_after < 0) cut_after = 5;
  if (cut_after >= 0) { /* resetting: only the first bytes of this frame get out */
    size_t k = n < (size_t)cut_after ? n : (size_t)cut_after;
    cut_after -= (int)k;
    n = k;
  }
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) { if (errno == EINTR || errno == EAGAIN) continue; return; }
    p += w; n -= (size_t)w;
  }
}
static uint32_t hal_millis(void *ctx) {
  struct timespec t;
  (void)ctx;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint32_t)(t.tv_sec * 1000u + t.tv_nsec / 1000000);
}
static void hal_random(void *ctx, uint8_t *p, size_t n) {
  FILE *f = fopen("/dev/urandom", "rb");
  (void)ctx;
  if (!f || fread(p, 1, n, f) != n) { fprintf(stderr, "fakeboard: no /dev/urandom\n"); exit(1); }
  fclose(f);
}
static int hal_key(void *ctx, uint8_t k[32]) { (void)ctx; if (have_key) memcpy(k, psk, 32); return have_key; }
static int hal_store_key(void *ctx, const uint8_t k[32]) { (void)ctx; memcpy(psk, k, 32); have_key = 1; fprintf(stderr, "paired\n"); return 1; }

static uint8_t apply(void *ctx, uint16_t key, int32_t value, int32_t *result) {
  (void)ctx;
  fprintf(stderr, "set key=%u value=%ld\n", key, (long)value);
  if (key == 10) { relay = value ? 1 : 0; *result = relay; return XB_ACK_OK; }
  if (key == 11) {
    if (value == 13) { *result = setpoint; return XB_ACK_FAILED; }
    setpoint = value; *result = setpoint; return XB_ACK_OK;
  }
  return XB_ACK_UNKNOWN_KEY;
}

static xb_board b;
static const xb_entity FIRMWARE2[] = {
  { 1, "air temperature", "\xc2\xb0" "C", XB_KIND_NUMERIC, 1, -400, 1250, 0 },
  { 3, "pressure", "hPa", XB_KIND_NUMERIC, 1, 8000, 11000, 0 },
  { 10, "relay", "", XB_KIND_BOOL, 0, 0, 1, 1 },
  { 11, "setpoint", "\xc2\xb0" "C", XB_KIND_INT, 0, 5, 30, 1 },
};
static const xb_entity *entities = DEMO_ENTITIES;
static const char *fw_version = "1.0.0";
#ifdef FAKEBOARD_MQTT
static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg) {
  (void)m; (void)obj;
  if (!strcmp(msg->topic, topic_down)) xb_feed_frame(&b, (const uint8_t *)msg->payload, (size_t)msg->payloadlen);
}
#endif

/* The board as it powers up (at start, and after a reset that cut a frame): the actuators
 * report their state first. */
static void board_up(const xb_hal *hal, const char *id, int plaintext_ok, int pairable, int no_fs) {
  xb_init(&b, hal, id, "xiota-fake", fw_version, entities, DEMO_N, apply, NULL);
  b.plaintext_ok = (uint8_t)plaintext_ok;
  b.pairable = (uint8_t)pairable;
#if XB_X25519
  b.forward_secrecy = (uint8_t)!no_fs;
#else
  (void)no_fs;
#endif
#ifdef FAKEBOARD_MQTT
  b.datagram = 1;
#endif
  xb_report(&b, 10, relay);
  xb_report(&b, 11, setpoint);
}

static void on_signal(int sig) { if (sig == SIGUSR1) reset_requested = 1; else stop_requested = 1; }

int main(int argc, char **argv) {
  const char *port = NULL, *id = NULL;
#ifdef FAKEBOARD_MQTT
  const char *prefix = "xiota/bridge";
  char host[128];
  int mport;
#endif
  int plaintext_ok = 0, period = 200, stamp = 0, i;
  uint32_t n = 0, last = 0;
#ifndef FAKEBOARD_MQTT
  struct termios tio;
#endif
  xb_hal hal = { NULL, hal_write, hal_millis, hal_random, hal_key, hal_store_key };
  int pairable = 0, no_fs = 0;
  for (i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--port") && i + 1 < argc) port = argv[++i];
    else if (!strcmp(argv[i], "--id") && i + 1 < argc) id = argv[++i];
    else if (!strcmp(argv[i], "--key") && i + 1 < argc) {
      const char *h = argv[++i];
      int j;
      if (strlen(h) != 64) { fprintf(stderr, "fakeboard: --key takes 64 hex digits\n"); return 2; }
      for (j = 0; j < 32; j++) { unsigned v; sscanf(h + 2 * j, "%2x", &v); psk[j] = (uint8_t)v; }
      have_key = 1;
    } else if (!strcmp(argv[i], "--no-key")) have_key = 0;
    else if (!strcmp(argv[i], "--plaintext-ok")) plaintext_ok = 1;
    else if (!strcmp(argv[i], "--pairable")) pairable = 1;
    else if (!strcmp(argv[i], "--no-x25519")) no_fs = 1;
    else if (!strcmp(argv[i], "--period") && i + 1 < argc) period = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--stamp")) stamp = 1;
    else if (!strcmp(argv[i], "--firmware") && i + 1 < argc) { if (atoi(argv[++i]) == 2) { entities = FIRMWARE2; fw_version = "2.0.0"; } }
#ifdef FAKEBOARD_MQTT
    else if (!strcmp(argv[i], "--mqtt") && i + 1 < argc) port = argv[++i];
    else if (!strcmp(argv[i], "--prefix") && i + 1 < argc) prefix = argv[++i];
#endif
    else { fprintf(stderr, "fakeboard: unknown argument %s\n", argv[i]); return 2; }
  }
  if (!port || !id) { fprintf(stderr, "usage: fakeboard --port PATH --id BOARD_ID (--key HEX64 | --no-key) [--plaintext-ok] [--period MS]\n"); return 2; }
#ifdef FAKEBOARD_MQTT
  if (sscanf(port, "%127[^:]:%d", host, &mport) != 2) { fprintf(stderr, "fakeboard: --mqtt takes HOST:PORT\n"); return 2; }
  snprintf(topic_up, sizeof topic_up, "%s/%s/up", prefix, id);
  snprintf(topic_down, sizeof topic_down, "%s/%s/down", prefix, id);
  mosquitto_lib_init();
  mq = mosquitto_new(id, true, NULL);
  mosquitto_message_callback_set(mq, on_message);
  if (!mq || mosquitto_connect(mq, host, mport, 30) != MOSQ_ERR_SUCCESS) { fprintf(stderr, "fakeboard: no MQTT broker at %s\n", port); return 1; }
  mosquitto_subscribe(mq, NULL, topic_down, 1);
  fd = -1;
#else
  fd = open(port, O_RDWR | O_NOCTTY);
  if (fd < 0) { perror(port); return 1; }
  if (tcgetattr(fd, &tio) == 0) { /* raw, no flow control: bytes are binary */
    cfmakeraw(&tio);
    tio.c_cflag |= CLOCAL | CREAD;
    tio.c_cflag &= ~(tcflag_t)CRTSCTS;
    tio.c_cc[VMIN] = 1; tio.c_cc[VTIME] = 0;
    tcsetattr(fd, TCSANOW, &tio);
  }
#endif
  prctl(PR_SET_PDEATHSIG, SIGTERM); /* a test runner killed hard takes its boards with it */
  signal(SIGUSR1, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  board_up(&hal, id, plaintext_ok, pairable, no_fs);
  fprintf(stderr, "fakeboard %s ready on %s\n", id, port);
  while (!stop_requested) {
#ifdef FAKEBOARD_MQTT
    if (mosquitto_loop(mq, 5, 1) != MOSQ_ERR_SUCCESS) { fprintf(stderr, "fakeboard: lost the broker\n"); return 1; }
#else
    struct pollfd pfd = { fd, POLLIN, 0 };
    uint8_t buf[256];
    int r = poll(&pfd, 1, period < 5 ? 0 : 5);
    if (r > 0 && (pfd.revents & POLLIN)) {
      ssize_t got = read(fd, buf, sizeof buf);
      if (got > 0) xb_feed(&b, buf, (size_t)got);
    }
#endif
    if ((int32_t)(hal_millis(NULL) - last) >= period) {
      last = hal_millis(NULL);
      if (stamp) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        xb_report(&b, 1, (int32_t)((t.tv_sec * 1000000LL + t.tv_nsec / 1000) & 0x3FFFFFFF));
      } else xb_report(&b, 1, (int32_t)(200 + n));
      xb_report(&b, 2, (int32_t)(n % 101));
      xb_report(&b, 3, (int32_t)(10130 + n % 10)); /* firmware 2 only: unknown keys are ignored */
      n++;
      if (n > 1000) n = 0;
    }
    xb_poll(&b);
    if (reset_requested && cut_after == 0) { /* the frame was cut: come back up blank */
      board_up(&hal, id, plaintext_ok, pairable, no_fs);
      reset_requested = 0; cut_after = -1;
      fprintf(stderr, "reset\n");
    }
  }
  if (fd >= 0) close(fd);
  return 0;
}
