// The bridge driver against the C fake board over a socat pty pair: pairing, the handshake,
// readings with the board's own ages, sets acknowledged (or refused, or failed) by the board,
// the schema cache, and the refusals that must be loud: an unpaired board, a board with no key,
// the wrong board id, a plaintext board when the config wants authentication.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { createDriver } from '../../drivers';
import type { Driver, Reading } from '../../drivers/types';
import { pairBoard, readKeys, schemaCachePath } from '../../firmware-bridge/host/keys';
import { recorder } from '../drivers/_fixtures';
import { buildFirmware, kill, ptyPair, refusal, sleep, startBoard, until, workDir } from './_board';

const build = buildFirmware().dir;
const keysFile = join(workDir, 'bridge-keys.json');
const hexKey = (id: string) => Buffer.from(readKeys(keysFile).get(id)!).toString('hex');

const bridge = (path: string, board: string, extra: Record<string, unknown> = {}): Driver =>
  createDriver('bridge', 'mcu', { path, board, keysFile, handshakeTimeoutMs: 1500, retryMs: 100, ...extra });

test('pairing writes a 0600 keys file and refuses to replace a key without force', () => {
  const key = pairBoard(keysFile, 'greenhouse-1');
  assert.is(key.length, 32);
  assert.is(statSync(keysFile).mode & 0o777, 0o600);
  assert.throws(() => pairBoard(keysFile, 'greenhouse-1'), /already paired .*--force/);
  assert.throws(() => pairBoard(keysFile, 'bad id!'), /not a board id/);
  pairBoard(keysFile, 'other-board');
  assert.is(readKeys(keysFile).size, 2);
});

test('a paired board: things by board id and key, readings in order with true timestamps, sets acked', async () => {
  const { a, b } = await ptyPair('ok');
  const board = startBoard(build, ['--port', b, '--id', 'greenhouse-1', '--key', hexKey('greenhouse-1'), '--period', '50']);
  const readings: Reading[] = [];
  const rec = recorder((r) => readings.push(r));
  const d = bridge(a, 'greenhouse-1');
  const t0 = Date.now();
  try {
    await d.start(rec.ctx);
    assert.equal(d.things().map((t) => [t.id, t.name, t.fields[0].type, t.fields[0].unit, !!t.fields[0].writable]), [
      ['greenhouse-1.1', 'temperature', 'numeric', '°C', false],
      ['greenhouse-1.2', 'humidity', 'numeric', '%', false],
      ['greenhouse-1.10', 'relay', 'boolean', undefined, true],
      ['greenhouse-1.11', 'setpoint', 'int', '°C', true],
    ]);
    await until(() => readings.filter((r) => r.thing === 'greenhouse-1.1').length >= 5, 5000, 'temperature readings');
    // The state dump: relay and setpoint reported by the board at boot, dated by their age.
    const relay = readings.find((r) => r.thing === 'greenhouse-1.10')!;
    assert.equal(relay.values, [{ field: 'value', value: false }]);
    assert.ok(relay.timestamp < Date.now() && relay.timestamp >= t0 - 5000, 'dated by age_ms, not arrival');
    const temps = readings.filter((r) => r.thing === 'greenhouse-1.1').map((r) => r.values[0].value as number);
    // A re-handshake (a slow host under load retries its hello) makes the board dump its state
    // again: the same value may come twice, never an older one.
    for (let i = 1; i < temps.length; i++) assert.ok(temps[i] >= temps[i - 1], `in order: ${temps.join(' ')}`);
    assert.ok(temps.every((t) => Math.round(t * 10) >= 200), 'scaled by the entity decimals (raw 200+n → 20.0+n/10)');

    await d.set!('greenhouse-1.10', 'value', true);
    // The board's stderr is a pipe of its own: its line may trail the ack on the pty.
    await until(() => board.sets().includes('set key=10 value=1'), 2000, 'the board to log the set');
    assert.equal(readings[readings.length - 1], { thing: 'greenhouse-1.10', timestamp: readings[readings.length - 1].timestamp, values: [{ field: 'value', value: true }] }, 'the ack value is the newest reading');
    await d.set!('greenhouse-1.11', 'value', 22);
    let err = '';
    try { await d.set!('greenhouse-1.11', 'value', 13); } catch (e) { err = (e as Error).message; }
    assert.match(err, /refused the set: the board failed to apply it \(value now 22\)/);
    err = '';
    try { await d.set!('greenhouse-1.11', 'value', 99); } catch (e) { err = (e as Error).message; }
    assert.match(err, /99 is outside 5\.\.30 °C/, 'range checked on the host before sending');
    err = '';
    try { await d.set!('greenhouse-1.1', 'value', 5); } catch (e) { err = (e as Error).message; }
    assert.match(err, /not writable/);
    await until(() => board.sets().length >= 3, 2000, 'the board to log three sets');
    assert.equal(board.sets(), ['set key=10 value=1', 'set key=11 value=22', 'set key=11 value=13']);
    assert.ok(existsSync(schemaCachePath(keysFile)), 'the schema is cached for the next connect');
    assert.equal(rec.faults, []);
  } finally {
    await d.stop();
    kill(board.proc);
  }
});

test('with the schema cached, the driver starts before the board is there; the board coming and going is a fault, not silence', async () => {
  const { a, b } = await ptyPair('late');
  const readings: Reading[] = [];
  const rec = recorder((r) => readings.push(r));
  const d = bridge(a, 'greenhouse-1', { pingMs: 200, deadAfterMs: 700 });
  await d.start(rec.ctx);
  try {
    assert.is(d.things().length, 4, 'things from the schema cache');
    await until(() => rec.faults.length >= 1, 3000, 'a fault for the missing board');
    assert.match(rec.faults[0], /did not complete the handshake .*no answer to hello/);
    assert.ok(readings.some((r) => r.thing === 'greenhouse-1.1' && /offline/.test(r.values[0].error ?? '')), 'its things read as failed');
    const faultsBefore = rec.faults.length;
    await sleep(600);
    assert.is(rec.faults.length, faultsBefore, 'the same outage is logged once, not at every retry');
    const board = startBoard(build, ['--port', b, '--id', 'greenhouse-1', '--key', hexKey('greenhouse-1'), '--period', '50']);
    await until(() => readings.filter((r) => r.thing === 'greenhouse-1.1' && r.values[0].value !== undefined).length >= 3, 8000, 'readings once the board is up');
    kill(board.proc);
    const n = rec.faults.length;
    await until(() => rec.faults.length > n, 3000, 'a fault for the board going away');
    assert.match(rec.faults[rec.faults.length - 1], /went silent|did not complete the handshake/);
  } finally {
    await d.stop();
  }
});

test('the port going away (unplugged) is one fault; the driver reopens it with backoff and the board is back', async () => {
  const first = await ptyPair('unplug');
  let board = startBoard(build, ['--port', first.b, '--id', 'greenhouse-1', '--key', hexKey('greenhouse-1'), '--period', '50']);
  const readings: Reading[] = [];
  const rec = recorder((r) => readings.push(r));
  const d = bridge(first.a, 'greenhouse-1', { retryMs: 200 });
  try {
    await d.start(rec.ctx);
    await until(() => readings.filter((r) => r.thing === 'greenhouse-1.1').length >= 2, 5000, 'readings');
    kill(first.proc); // the pty pair disappears, as a USB adapter pulled out
    kill(board.proc);
    await until(() => rec.faults.length >= 1, 5000, 'a fault for the lost port');
    assert.match(rec.faults[0], /closed \(unplugged\?\)|cannot open|went silent/);
    await sleep(1000);
    const faults = rec.faults.length;
    const again = await ptyPair('unplug'); // plugged back in: same path
    board = startBoard(build, ['--port', again.b, '--id', 'greenhouse-1', '--key', hexKey('greenhouse-1'), '--period', '50']);
    const n = readings.length;
    await until(() => readings.slice(n).filter((r) => r.thing === 'greenhouse-1.1' && r.values[0].value !== undefined).length >= 2, 15_000, 'readings after replugging');
    assert.is(rec.faults.length, faults, `one fault for the outage, none for each retry: ${rec.faults.join(' | ')}`);
    console.log(`  faults while unplugged and back: ${rec.faults.map((f) => f.slice(0, 90)).join(' | ')}`);
  } finally {
    await d.stop();
    kill(board.proc);
  }
});

test('refusals are loud and name the fix: unpaired, no key on the board, wrong board id, plaintext board', async () => {
  const cases: { name: string; board: string[]; expect: string; config?: Record<string, unknown>; boardId: string }[] = [
    { name: 'unpaired', boardId: 'stranger-1', board: ['--id', 'stranger-1', '--no-key'], expect: 'board "stranger-1" is not paired: run `xiota bridge pair stranger-1`' },
    { name: 'nokey', boardId: 'other-board', board: ['--id', 'other-board', '--no-key'], expect: 'board "other-board" has no key stored: run `xiota bridge pair other-board`' },
    { name: 'wrongid', boardId: 'greenhouse-1', board: ['--id', 'other-board', '--key', hexKey('other-board')], expect: 'the board on this port says it is "other-board", the config expects "greenhouse-1"' },
    { name: 'plain', boardId: 'other-board', board: ['--id', 'other-board', '--no-key', '--plaintext-ok'], expect: 'has no key stored' },
  ];
  for (const c of cases) {
    const { a, b } = await ptyPair(c.name);
    const board = startBoard(build, ['--port', b, '--period', '50', ...c.board]);
    const rec = recorder();
    const err = await refusal(bridge(a, c.boardId, c.config), rec);
    kill(board.proc);
    assert.ok(err.includes(c.expect), `${c.name}: ${err}`);
  }
});

test('plaintext only when both ends say so; an authenticated board is never downgraded', async () => {
  const { a, b } = await ptyPair('dev');
  let board = startBoard(build, ['--port', b, '--id', 'dev-board', '--no-key', '--plaintext-ok', '--period', '50']);
  const readings: Reading[] = [];
  const d = bridge(a, 'dev-board', { plaintext: true });
  try {
    await d.start(recorder((r) => readings.push(r)).ctx);
    await until(() => readings.length >= 3, 3000, 'plaintext readings');
    await d.set!('dev-board.10', 'value', true);
  } finally {
    await d.stop();
    kill(board.proc);
  }
  const second = await ptyPair('dev2');
  board = startBoard(build, ['--port', second.b, '--id', 'greenhouse-1', '--key', hexKey('greenhouse-1'), '--period', '50']);
  const err = await refusal(bridge(second.a, 'greenhouse-1', { plaintext: true }), recorder());
  kill(board.proc);
  assert.match(err, /refuses the plaintext mode \(board requires authentication\)/);
});

test.run();
