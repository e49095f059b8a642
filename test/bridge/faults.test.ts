// xiota-test: exclusive (timing/CPU sensitive: test/run.ts runs it with nothing beside it)
// The bridge under a hostile line: a fault injector sits between two socat pty pairs (board ↔
// injector ↔ driver) and drops, flips, inserts and duplicates bytes, replays old frames and
// reorders frames in both directions; the board is reset in the middle of a frame; the
// session is re-keyed on the way. Every accepted reading must be genuine and in order, every
// set acknowledged or reported failed, and nothing may crash. Then a stale key is refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import type { SerialPort } from 'serialport';
import { createDriver } from '../../drivers';
import type { Reading } from '../../drivers/types';
import { pairBoard, readKeys } from '../../firmware-bridge/host/keys';
import { mulberry32 } from '../../drivers/prng';
import { recorder } from '../drivers/_fixtures';
import { buildFirmware, kill, ptyPair, refusal, sleep, startBoard, until, workDir } from './_board';

const build = buildFirmware().dir;
const keysFile = join(workDir, 'keys.json');
pairBoard(keysFile, 'field-7');
const key = Buffer.from(readKeys(keysFile).get('field-7')!).toString('hex');

interface Tally { dropped: number; flipped: number; inserted: number; duplicated: number; replayed: number; reordered: number; frames: number }

/** Forwards frames between two ports, damaging some of them. */
function injector(from: SerialPort, to: SerialPort, rnd: () => number, rate: number): Tally {
  const t: Tally = { dropped: 0, flipped: 0, inserted: 0, duplicated: 0, replayed: 0, reordered: 0, frames: 0 };
  const old: Buffer[] = [];
  let held: Buffer | undefined;
  let cur: number[] = [];
  const out = (b: Buffer) => { if (to.isOpen) to.write(b); };
  from.on('data', (chunk: Buffer) => {
    for (const byte of chunk) {
      cur.push(byte);
      if (byte !== 0) continue;
      let f: Buffer = Buffer.from(cur);
      cur = [];
      t.frames++;
      if (old.length < 50) old.push(f); else old[Math.floor(rnd() * 50)] = f;
      const r = rnd();
      if (r < rate) { const i = Math.floor(rnd() * (f.length - 1)); f = Buffer.concat([f.subarray(0, i), f.subarray(i + 1)]); t.dropped++; }
      else if (r < 2 * rate) { f = Buffer.from(f); f[Math.floor(rnd() * (f.length - 1))] ^= 1 << Math.floor(rnd() * 8); t.flipped++; }
      else if (r < 3 * rate) { const i = Math.floor(rnd() * f.length); f = Buffer.concat([f.subarray(0, i), Buffer.of(Math.floor(rnd() * 256)), f.subarray(i)]); t.inserted++; }
      else if (r < 4 * rate) { const i = Math.floor(rnd() * f.length); f = Buffer.concat([f.subarray(0, i + 1), f.subarray(i)]); t.duplicated++; }
      else if (r < 5 * rate) { out(f); f = old[Math.floor(rnd() * old.length)]; t.replayed++; }
      else if (r < 6 * rate && !held) { held = f; t.reordered++; continue; }
      out(f);
      if (held) { out(held); held = undefined; }
    }
  });
  return t;
}

async function openPort(path: string): Promise<SerialPort> {
  const { SerialPort: Port } = require('serialport') as typeof import('serialport');
  const p = new Port({ path, baudRate: 115200, autoOpen: false, lock: false });
  await new Promise<void>((res, rej) => p.open((e) => (e ? rej(e) : res())));
  return p;
}

test('under dropped, flipped, inserted, duplicated bytes, replays, reordering, a reset and a re-key: readings genuine and in order, sets acked or failed', async () => {
  const boardSide = await ptyPair('inj-board');
  const hostSide = await ptyPair('inj-host');
  const board = startBoard(build, ['--port', boardSide.b, '--id', 'field-7', '--key', key, '--period', '20']);
  const toBoard = await openPort(hostSide.b);
  const fromBoard = await openPort(boardSide.a);
  const rnd = mulberry32(20261202);
  const up = injector(fromBoard, toBoard, rnd, 0.02); // 12% of frames damaged each way
  const down = injector(toBoard, fromBoard, rnd, 0.02);
  const readings: Reading[] = [];
  const rec = recorder((r) => readings.push(r));
  const infos: string[] = [];
  const t0 = Date.now();
  const timeline: string[] = [];
  rec.ctx.log.info = (m: string) => { infos.push(m); timeline.push(`${Date.now() - t0} info ${m}`); };
  const fault = rec.ctx.fault;
  rec.ctx.fault = (m, dt) => { timeline.push(`${Date.now() - t0} fault ${m.slice(0, 150)}`); fault(m, dt); };
  const d = createDriver('bridge', 'field', { path: hostSide.a, board: 'field-7', keysFile, handshakeTimeoutMs: 1000, pingMs: 50, deadAfterMs: 1200, setTimeoutMs: 800, retryMs: 100, rekeyAt: 64 });
  let acked = 0, failed = 0;
  const failures: string[] = [];
  try {
    for (let attempt = 0; ; attempt++) {
      try { await d.start(rec.ctx); break; } catch (e) { if (attempt > 5) throw e; await d.stop(); }
    }
    const runFor = Date.now() + 6000;
    let i = 0, reset = false;
    while (Date.now() < runFor) {
      const v = 5 + (i++ % 20);
      if (v === 13) continue;
      const guard = sleep(5000).then(() => 'hung');
      const r = await Promise.race([d.set!('field-7.11', 'value', v).then(() => 'ok', (e: Error) => e.message), guard]);
      assert.is.not(r, 'hung', 'a set neither acknowledged nor reported failed');
      if (r === 'ok') acked++; else { failed++; failures.push(r); }
      if (/not connected/.test(r)) await sleep(100); // between sessions: no use hammering
      if (!reset && Date.now() > runFor - 3500) { kill(board.proc, 'SIGUSR1'); reset = true; }
      await sleep(30);
    }
    await sleep(300);
  } finally {
    await d.stop();
    toBoard.close(); fromBoard.close();
  }
  const accepted = readings.filter((r) => r.thing === 'field-7.1' && r.values[0].value !== undefined);
  const temps = accepted.map((r) => Math.round((r.values[0].value as number) * 10));
  const tally = (t: Tally) => Object.entries(t).map(([k, v]) => `${k} ${v}`).join(', ');
  console.log(`  board→host: ${tally(up)}\n  host→board: ${tally(down)}\n  ${temps.length} temperatures accepted, sets ${acked} acked / ${failed} failed; board: ${board.log.filter((l) => l === 'reset').length} reset`);
  const why = new Map<string, number>();
  for (const f of failures) { const k = f.replace(/.*failed: /, '').replace(/set \d+/, 'set N').slice(0, 70); why.set(k, (why.get(k) ?? 0) + 1); }
  console.log(`  set failures: ${[...why].map(([k, n]) => `${n}× ${k}`).join(' | ')}`);
  if (process.env.XIOTA_BRIDGE_TIMELINE) console.log(timeline.join('\n'));
  console.log(`  re-keys: ${infos.filter((m) => /re-keying/.test(m)).length}, sessions up: ${infos.filter((m) => /board field-7 up/.test(m)).length}`);
  assert.ok(infos.some((m) => /re-keying the session/.test(m)), 'the session was re-keyed before its counters reached rekeyAt');
  assert.ok(temps.length > 30, `readings kept flowing (${temps.length})`);
  for (let k = 1; k < temps.length; k++) {
    // The state dump after a reconnect may repeat the latest sample: same value, same age-based time.
    const same = temps[k] === temps[k - 1] && Math.abs(accepted[k].timestamp - accepted[k - 1].timestamp) < 50;
    assert.ok(temps[k] > temps[k - 1] || same, `reading ${k} out of order or replayed: ${temps[k - 1]} then ${temps[k]}`);
  }
  assert.ok(temps.every((t) => t >= 200 && t <= 1200), 'every value is one the board produced (raw 200+n)');
  assert.ok(acked >= 8, `sets acknowledged (${acked})`);
  // A set the driver calls acknowledged was applied by the board: the board logged each one.
  await until(() => board.sets().length >= acked, 2000, 'the board to log its sets').catch(() => undefined);
  const applied = board.sets().length;
  assert.ok(applied >= acked, `board applied ${applied} sets, driver saw ${acked} acks`);
  for (const f of failures) assert.match(f, /did not acknowledge|ended before it acknowledged|not connected|restarted before|refused the set/);
  assert.ok(board.log.includes('reset'), 'the board was reset mid-frame');
  assert.ok(infos.filter((m) => /board field-7 up/.test(m)).length >= 2, 'the session came back after the reset');
  assert.ok(rec.faults.some((f) => /dropped frames from board "field-7"/.test(f)), 'damaged frames were counted and reported');
  assert.is(board.proc.exitCode, null, 'the board is still running');
  kill(board.proc);
});

test('a stale key on the board: refused with the fix, nothing accepted', async () => {
  const { a, b } = await ptyPair('stale');
  const wrong = '11'.repeat(32);
  const board = startBoard(build, ['--port', b, '--id', 'field-7', '--key', wrong, '--period', '20']);
  const readings: Reading[] = [];
  const rec = recorder((r) => readings.push(r));
  const err = await refusal(createDriver('bridge', 'field', { path: a, board: 'field-7', keysFile: join(workDir, 'keys.json'), handshakeTimeoutMs: 1000, retryMs: 100 }), rec);
  kill(board.proc);
  assert.match(err, /answered under a key that does not match the paired one \(stale key\?\): pair it again/);
  assert.ok(readings.every((r) => r.values.every((v) => v.value === undefined)), 'no reading accepted from it');
});

test.run();
