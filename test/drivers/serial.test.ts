// Serial driver over a real pty pair from socat: the driver opens one end with serialport,
// the test writes lines (good, bad checksum, split across writes, binary noise) on the other.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, openSync, writeSync, closeSync, readSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSerialDriver } from '../../drivers/serial';
import type { Reading } from '../../drivers/types';
import { recorder } from './_fixtures';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(join(tmpdir(), 'xiota-serial-'));
const procs: ChildProcess[] = [];
// Even if the test process dies mid-test, no socat is left behind.
process.on('exit', () => procs.forEach(kill));

async function ptyPair(name: string): Promise<{ a: string; b: string; proc: ChildProcess }> {
  const a = join(dir, `${name}-a`), b = join(dir, `${name}-b`);
  const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
  procs.push(proc);
  for (let i = 0; i < 100 && !(existsSync(a) && existsSync(b)); i++) await sleep(20);
  if (!existsSync(a) || !existsSync(b)) throw new Error('socat did not create the pty pair');
  return { a, b, proc };
}

function kill(p: ChildProcess): void {
  if (p.pid !== undefined && p.exitCode === null && p.signalCode === null) {
    try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> { // bounded, generous: CI runs two files at once
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await sleep(10);
  }
}

test('NMEA over a pty: fixes, bad checksum, split line, binary noise', async () => {
  const { a, b } = await ptyPair('nmea');
  const readings: Reading[] = [];
  const rec = recorder((r) => readings.push(r));
  const d = createSerialDriver('gps', { path: a, protocol: 'nmea', thing: 'gps', maxLineLength: 200 });
  await d.start(rec.ctx);
  const fd = openSync(b, 'w');
  try {
    writeSync(fd, '$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n');
    writeSync(fd, '$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48\r\n'); // bad checksum
    writeSync(fd, '$GPRMC,123519,A,4807.038,N,011');
    await sleep(50);
    writeSync(fd, '31.000,E,022.4,084.4,230394,003.1,W*6A\r\n'); // split across writes
    writeSync(fd, Buffer.from([0x00, 0xff, 0x13, 0x37, 0x80, 0x0a])); // binary noise
    writeSync(fd, Buffer.alloc(500, 0x55)); // noise with no line end, longer than the cap
    writeSync(fd, '\n$GPGSV,1,1,00*79\r\n$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48\r\n');
    await until(() => readings.length >= 3);
  } finally {
    closeSync(fd);
    await d.stop();
  }
  assert.is(readings.length, 3, 'GGA, RMC, VTG; GSV has no mapped fields');
  const [gga, rmc, vtg] = readings;
  assert.equal(gga.values.find((v) => v.field === 'latitude'), { field: 'latitude', value: 48.1173 });
  assert.equal(gga.values.find((v) => v.field === 'fix'), { field: 'fix', value: 'gps' });
  assert.equal(gga.values.find((v) => v.field === 'satellites'), { field: 'satellites', value: 8 });
  assert.equal(rmc.values.find((v) => v.field === 'speed'), { field: 'speed', value: 41.5 });
  assert.equal(vtg.values.find((v) => v.field === 'speed'), { field: 'speed', value: 10.2 });
  assert.ok(rec.faults.some((f) => /checksum mismatch: sentence says 48, computed 47/.test(f)), rec.faults.join('\n'));
  assert.ok(rec.faults.some((f) => /not an NMEA sentence/.test(f)), 'binary noise line reported');
  assert.ok(rec.faults.some((f) => /dropped a \d+-byte line longer than 200 bytes/.test(f)), 'overlong noise reported');
});

test('JSON and key=value lines with mapping; sets are written back to the device', async () => {
  const fields = [
    { name: 'temperature', type: 'numeric' as const, path: 'env.t', precision: 1, unit: '°C' },
    { name: 'humidity', type: 'numeric' as const, path: 'env.h' },
    { name: 'relay', type: 'boolean' as const, writable: true },
  ];
  const { a, b } = await ptyPair('json');
  const readings: Reading[] = [];
  const rec = recorder((r) => readings.push(r));
  const d = createSerialDriver('esp', { path: a, protocol: 'json', fields });
  await d.start(rec.ctx);
  const fd = openSync(b, 'r+');
  try {
    writeSync(fd, '{"env":{"t":21.46,"h":40},"relay":false}\n{"env":{"t":"hot"}}\nnot json at all\n{"env":');
    await sleep(30);
    writeSync(fd, '{"t":22,"h":41}}\n');
    await until(() => readings.length >= 3);
    await d.set!('esp', 'relay', true);
    const buf = Buffer.alloc(100);
    await sleep(50);
    const n = readSync(fd, buf, 0, 100, null);
    assert.is(buf.subarray(0, n).toString(), '{"relay":true}\n');
  } finally {
    closeSync(fd);
    await d.stop();
  }
  assert.equal(readings[0].values, [{ field: 'temperature', value: 21.5 }, { field: 'humidity', value: 40 }, { field: 'relay', value: false }]);
  assert.equal(readings[1].values, [{ field: 'temperature', error: 'env.t: expected a number, got "hot"' }]);
  assert.equal(readings[2].values, [{ field: 'temperature', value: 22 }, { field: 'humidity', value: 41 }]);
  assert.ok(rec.faults.some((f) => /line is not JSON/.test(f)));

  const kv = await ptyPair('kv');
  const kvReadings: Reading[] = [];
  const d2 = createSerialDriver('mcu', { path: kv.a, protocol: 'kv', fields: [{ name: 'temperature', type: 'numeric', path: 't' }, { name: 'door', type: 'boolean' }] });
  const rec2 = recorder((r) => kvReadings.push(r));
  await d2.start(rec2.ctx);
  const fd2 = openSync(kv.b, 'w');
  try {
    writeSync(fd2, 't=19.5 door=OPEN\r\nhello world\nt=20,door=closed\n');
    await until(() => kvReadings.length >= 2);
  } finally {
    closeSync(fd2);
    await d2.stop();
  }
  assert.equal(kvReadings.map((r) => r.values), [
    [{ field: 'temperature', value: 19.5 }, { field: 'door', value: true }],
    [{ field: 'temperature', value: 20 }, { field: 'door', value: false }],
  ]);
  assert.ok(rec2.faults.some((f) => /not a key=value line: "hello world"/.test(f)));
});

test('a missing port fails start clearly; a vanished port is reopened when it comes back', async () => {
  const missing = createSerialDriver('x', { path: join(dir, 'nope'), protocol: 'nmea' });
  try { await missing.start(recorder().ctx); assert.unreachable(); } catch (e) { assert.match((e as Error).message, /cannot open .*nope/); }
  await missing.stop();

  const first = await ptyPair('flaky');
  const readings: Reading[] = [];
  const rec = recorder((r) => readings.push(r));
  const d = createSerialDriver('mcu', { path: first.a, protocol: 'kv', fields: [{ name: 't', type: 'numeric' }], reopenMs: 50 });
  await d.start(rec.ctx);
  try {
    kill(first.proc);
    await until(() => rec.faults.some((f) => /closed; reopening/.test(f)));
    await sleep(100);
    // socat again with the same link names: the driver reopens the new pty.
    const again = await ptyPair('flaky');
    let sent = 0;
    await until(() => {
      if (readings.length) return true;
      if (sent++ % 20 === 0) { const fd = openSync(again.b, 'w'); writeSync(fd, 't=5\n'); closeSync(fd); }
      return false;
    }, 5000);
    assert.equal(readings[0].values, [{ field: 't', value: 5 }]);
  } finally {
    await d.stop();
  }
});

test.after(() => {
  for (const p of procs) kill(p);
  rmSync(dir, { recursive: true, force: true });
});

test.run();
