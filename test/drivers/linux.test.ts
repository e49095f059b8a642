import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdtempSync, rmSync, writeFileSync, unlinkSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLinuxDriver, parseLoadavg, parseMeminfo, parseNetDev, parseUptime, parseMilliCelsius } from '../../drivers/linux';
import { fixtures, recorder } from './_fixtures';

test('pure parsers on /proc text', () => {
  assert.equal(parseLoadavg('0.52 0.58 0.59 1/389 12345\n'), { load1: 0.52, load5: 0.58, load15: 0.59 });
  assert.throws(() => parseLoadavg('garbage'), /unreadable \/proc\/loadavg/);
  const m = parseMeminfo('MemTotal:        3884076 kB\nHugePages_Total:       0\nbad line\n');
  assert.is(m.get('MemTotal'), 3884076 * 1024);
  assert.is(m.get('HugePages_Total'), 0);
  assert.is(parseUptime('183245.67 712345.12\n'), 183245.67);
  assert.throws(() => parseUptime('x'));
  assert.is(parseMilliCelsius('48312\n'), 48.312);
  assert.is(parseMilliCelsius('-1500'), -1.5);
  assert.throws(() => parseMilliCelsius('48.3'), /not a millidegree/);
  const net = parseNetDev('h1\nh2\n  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n  bad: 1 2\n');
  assert.equal(net.get('eth0'), { rxBytes: 1, rxPackets: 2, rxErrors: 3, txBytes: 9, txPackets: 10, txErrors: 11 });
  assert.is(net.has('bad'), false);
});

test('reads a Raspberry Pi fixture tree', async () => {
  const root = fixtures('rpi');
  const d = createLinuxDriver('pi', { root, thing: 'gateway', disks: [{ name: 'root', path: root }] }, { now: () => 1000 });
  await d.start(recorder().ctx);
  const names = d.things()[0].fields.map((f) => f.name);
  assert.equal(names, [
    'cpu_temperature', 'load1', 'load5', 'load15', 'memory_total', 'memory_available', 'memory_used_percent', 'uptime',
    'disk_root_free', 'disk_root_used_percent',
    'net_eth0_rx_bytes', 'net_eth0_tx_bytes', 'net_eth0_rx_errors', 'net_eth0_tx_errors',
    'net_wlan0_rx_bytes', 'net_wlan0_tx_bytes', 'net_wlan0_rx_errors', 'net_wlan0_tx_errors',
  ]);
  assert.is(d.things()[0].id, 'gateway');
  const [r] = await d.sample!();
  assert.is(r.timestamp, 1000);
  const v = Object.fromEntries(r.values.map((x) => [x.field, x.value]));
  assert.is(v.cpu_temperature, 48.3);
  assert.is(v.load1, 0.52);
  assert.is(v.load15, 0.59);
  assert.is(v.memory_total, 3884076 * 1024);
  assert.is(v.memory_available, 3331828 * 1024);
  assert.is(v.memory_used_percent, 14.2);
  assert.is(v.uptime, 183245);
  assert.is(v.net_eth0_rx_bytes, 987654321);
  assert.is(v.net_eth0_tx_bytes, 123456789);
  assert.is(v.net_wlan0_rx_errors, 3);
  // The disk is the machine's own and others write to it between the sample and this check:
  // free space is the statfs bavail (not bfree: the reserved blocks are not ours), give or
  // take 64 MiB of churn, in whole blocks.
  const s = statfsSync(root);
  const free = Number(v.disk_root_free);
  assert.ok(Math.abs(free - s.bavail * s.bsize) <= 64 * 2 ** 20, `disk_root_free ${free} vs statfs ${s.bavail * s.bsize}`);
  assert.is(free % s.bsize, 0, 'whole blocks');
  assert.ok(typeof v.disk_root_used_percent === 'number' && v.disk_root_used_percent >= 0 && v.disk_root_used_percent <= 100);
  assert.ok(r.values.every((x) => x.error === undefined));
});

test('a missing or garbled file marks only its fields; a missing disk is an error field', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'xiota-linux-'));
  try {
    cpSync(fixtures('rpi'), tmp, { recursive: true });
    const d = createLinuxDriver('pi', { root: tmp, disks: [{ name: 'data', path: join(tmp, 'no-such-mount') }], interfaces: ['eth0', 'usb0'] });
    await d.start(recorder().ctx);
    writeFileSync(join(tmp, 'sys/class/thermal/thermal_zone0/temp'), 'garbage\n');
    unlinkSync(join(tmp, 'proc/loadavg'));
    const [r] = await d.sample!();
    const by = Object.fromEntries(r.values.map((x) => [x.field, x]));
    assert.match(by.cpu_temperature.error!, /not a millidegree value: "garbage"/);
    assert.match(by.load1.error!, /ENOENT/);
    assert.match(by.disk_data_free.error!, /ENOENT/);
    assert.match(by.net_usb0_rx_bytes.error!, /interface usb0 is not in \/proc\/net\/dev/);
    assert.is(by.memory_total.value, 3884076 * 1024);
    assert.is(by.net_eth0_rx_bytes.value, 987654321);
    assert.is(by.id, undefined);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('reads this machine’s real /proc (the default root)', async () => {
  const d = createLinuxDriver('host', {});
  await d.start(recorder().ctx);
  const [r] = await d.sample!();
  const by = Object.fromEntries(r.values.map((x) => [x.field, x]));
  assert.ok((by.memory_total.value as number) > 0);
  assert.ok((by.uptime.value as number) > 0);
  assert.type(by.load1.value, 'number');
});

test.run();
