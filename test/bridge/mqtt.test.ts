// The bridge over MQTT against a real Mosquitto: the C fake board built as a Wi-Fi board
// (libmosquitto) publishes each frame as one QoS 1 payload, the host side subscribes. Between
// them a relay client re-publishes every frame in both directions with faults MQTT can really
// produce: duplicates (QoS 1 redelivery) and reordering. Readings accepted are genuine and never
// go backwards, every set is applied once and acked, duplicates are dropped by the replay window
// and reordered frames within it are accepted (test/bridge/replay.test.ts: a strict window
// loses them).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { createDriver } from '../../drivers';
import type { Reading } from '../../drivers/types';
import { pairBoard, readKeys } from '../../firmware-bridge/host/keys';
import { openMqtt } from '../../firmware-bridge/host/links';
import { HostSession } from '../../firmware-bridge/host/session';
import { recorder } from '../drivers/_fixtures';
import { startMosquitto, type MosquittoServer } from '../servers/mosquitto';
import { buildFirmware, kill, repoPath, startBoard, until, workDir, type FakeBoard } from './_board';

const BOARD = 'greenhouse-1';
const keysFile = join(workDir, 'mqtt-keys.json');
pairBoard(keysFile, BOARD);
const key = Buffer.from(readKeys(keysFile).get(BOARD)!).toString('hex');
const build = buildFirmware().dir;
const mk = spawnSync('make', ['-C', repoPath('firmware-bridge/c/linux'), `BUILD=${build}`, join(build, 'mqttboard')], { encoding: 'utf8' });
if (mk.status !== 0) throw new Error(`make mqttboard failed (needs Debian libmosquitto-dev):\n${mk.stdout}${mk.stderr}`);

interface Relay { stats: { up: number; down: number; duplicated: number; reordered: number }; close(): Promise<void> }

/** Relays board-side topics (lab/board/...) and host-side ones (xiota/bridge/...), duplicating
 *  `dup` of the frames and holding `hold` of them back behind the next frame (or 150 ms). */
async function relay(url: string, dup: number, hold: number): Promise<Relay> {
  const c = await mqtt.connectAsync(url, { clientId: 'fault-relay' });
  const stats = { up: 0, down: 0, duplicated: 0, reordered: 0 };
  let seed = 1202;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
  const held = new Map<string, { payload: Buffer; timer: NodeJS.Timeout }>();
  const pass = (to: string, payload: Buffer) => {
    c.publish(to, payload, { qos: 1 });
    if (rnd() < dup) { stats.duplicated++; c.publish(to, payload, { qos: 1 }); }
  };
  c.on('message', (topic, payload) => {
    const upward = topic.startsWith('lab/');
    const to = upward ? `xiota/bridge/${BOARD}/up` : `lab/board/${BOARD}/down`;
    if (upward) stats.up++; else stats.down++;
    const h = held.get(to);
    if (h) { // this frame overtakes the held one
      clearTimeout(h.timer);
      held.delete(to);
      pass(to, payload);
      pass(to, h.payload);
      stats.reordered++;
      return;
    }
    if (rnd() < hold) held.set(to, { payload, timer: setTimeout(() => { held.delete(to); pass(to, payload); }, 150) });
    else pass(to, payload);
  });
  await c.subscribeAsync([`lab/board/${BOARD}/up`, `xiota/bridge/${BOARD}/down`], { qos: 1 });
  return { stats, close: async () => { for (const h of held.values()) clearTimeout(h.timer); await c.endAsync(); } };
}

let broker: MosquittoServer;
let board: FakeBoard;

test.before(async () => { broker = await startMosquitto(); });
test.after(async () => { await broker.stop(); });

function startMqttBoard(): FakeBoard {
  return startBoard(build, ['--mqtt', `127.0.0.1:${broker.port}`, '--prefix', 'lab/board', '--id', BOARD, '--key', key, '--period', '40'], 'mqttboard');
}

test('driver over MQTT with duplicates and reordering both ways: readings genuine and never backwards, each set applied once and acked', async () => {
  const r = await relay(broker.url, 0.15, 0.2);
  board = startMqttBoard();
  const readings: Reading[] = [];
  const rec = recorder((x) => readings.push(x));
  const d = createDriver('bridge', 'wifi', { path: broker.url, board: BOARD, keysFile, handshakeTimeoutMs: 3000, retryMs: 100 });
  try {
    await d.start(rec.ctx);
    assert.equal(d.things().map((t) => t.id), [`${BOARD}.1`, `${BOARD}.2`, `${BOARD}.10`, `${BOARD}.11`]);
    await until(() => readings.filter((x) => x.thing === `${BOARD}.1`).length >= 40, 10_000, '40 temperature readings');
    const values: boolean[] = [];
    for (let i = 0; i < 12; i++) {
      const v = i % 2 === 0;
      await d.set!(`${BOARD}.10`, 'value', v);
      values.push(v);
    }
    await until(() => board.sets().length >= 12, 3000, 'the board to log 12 sets');
    await new Promise((res) => setTimeout(res, 300)); // a duplicated SET, if accepted, would log a 13th
    assert.equal(board.sets(), values.map((v) => `set key=10 value=${v ? 1 : 0}`), 'each set applied exactly once, in order');
    const temps = readings.filter((x) => x.thing === `${BOARD}.1`).map((x) => Math.round((x.values[0].value as number) * 10));
    // A handshake makes the board dump its current state, so a value may come twice (the relay
    // duplicates the host's hello, or a slow host under load retries it: CI saw "205 205"); a
    // replayed frame would bring an older value, which fails here.
    for (let i = 1; i < temps.length; i++) assert.ok(temps[i] >= temps[i - 1], `temperatures never go backwards: ${temps.join(' ')}`);
    assert.ok(new Set(temps).size >= 30, `the board's values advance: ${temps.join(' ')}`);
    assert.ok(temps.every((t) => t >= 200 && t <= 1200), 'genuine board values (raw 200 + n)');
    assert.ok(r.stats.duplicated >= 5 && r.stats.reordered >= 5, `faults injected: ${JSON.stringify(r.stats)}`);
    assert.not.ok(rec.faults.some((f) => /mac|crc|went silent|offline/.test(f)), rec.faults.join(' | '));
    console.log(`  relay: ${JSON.stringify(r.stats)}; ${temps.length} temperatures, 12 sets`);
  } finally {
    await d.stop();
    await r.close();
    kill(board.proc);
  }
});

test('the window in numbers: reordered frames accepted once, duplicates refused, nothing else dropped', async () => {
  const run = async (replayWindow: number) => {
    const r = await relay(broker.url, 0.2, 0.25);
    board = startMqttBoard();
    const drops = { duplicate: 0, old: 0, unexpected: 0, other: 0 };
    let frames = 0, late = 0, maxCtr = 0, up = false;
    const events = { data: (b: Uint8Array) => session.feedFrame(b), closed: () => undefined, error: () => undefined };
    const link = await openMqtt(broker.url, 'xiota/bridge', BOARD, 3000, events);
    const session: HostSession = new HostSession({ boardId: BOARD, plaintext: false, keyFor: () => readKeys(keysFile).get(BOARD), send: (b) => link.write(b), datagram: true, replayWindow, handshakeTimeoutMs: 3000 }, {
      up: () => { up = true; },
      readings: (_v, _at, _full, ctr) => { frames++; if (ctr < maxCtr) late++; maxCtr = Math.max(maxCtr, ctr); },
      down: () => undefined,
      log: () => undefined,
      // 'unexpected': a frame of a session the host just restarted (a late HELLO), harmless
      dropped: (reason, detail) => { if (reason === 'unexpected') drops.unexpected++; else if (reason !== 'replay') { drops.other++; console.log(`  dropped ${reason}: ${detail}`); } else if (/seen already/.test(detail)) drops.duplicate++; else drops.old++; },
    });
    try {
      session.start();
      await until(() => up, 5000, 'the session');
      await until(() => frames >= 60, 10_000, '60 READINGS frames');
      return { drops, late, frames, stats: { ...r.stats } };
    } finally {
      session.stop();
      await link.close();
      await r.close();
      kill(board.proc);
    }
  };
  const windowed = await run(64);
  console.log(`  window 64: ${JSON.stringify(windowed)}`);
  assert.ok(windowed.late >= 3, `reordered frames accepted: ${windowed.late}`);
  assert.ok(windowed.drops.duplicate >= 3, `duplicates refused: ${windowed.drops.duplicate}`);
  assert.is(windowed.drops.old, 0);
  assert.is(windowed.drops.other, 0);
});

test.run();
