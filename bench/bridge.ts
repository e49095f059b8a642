// Firmware bridge, host side: CPU per received frame (COBS + CRC + MAC + protobuf decode),
// authenticated vs plaintext vs the JSON-lines `serial` driver parsing the same two values; and
// the set round trip (driver → pty → C fake board → ack → driver), authenticated vs plaintext;
// and readings board → driver over a pty: latency and frames/s, authenticated vs plaintext vs
// the JSON-lines serial driver fed by a writer process (each reading carries its send time).
//   npm run build && node dist/bench/bridge.js [sets]
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cobsDecode, wireFrame } from '../firmware-bridge/host/cobs';
import { DIR_BOARD_TO_HOST } from '../firmware-bridge/host/crypto';
import { openFrame, parseFrame, sealFrame } from '../firmware-bridge/host/frame';
import { decodeBody, encodeBody, FrameType } from '../firmware-bridge/host/messages';
import { pairBoard, readKeys } from '../firmware-bridge/host/keys';
import { parseSerialLine } from '../drivers/serial';
import { createDriver } from '../drivers';
import type { DriverContext } from '../drivers/types';
import { spawn, spawnSync } from 'node:child_process';
import { buildFirmware, kill, ptyPair, repoPath, sleep, startBoard, workDir } from '../test/bridge/_board';

const nowUs = () => Math.floor((performance.timeOrigin + performance.now()) * 1000) & 0x3fffffff;

/** Readings for `seconds` from a board (or JSON-lines writer) sending every `periodMs` (0: as
 *  fast as it can): latency from its wall-clock stamp to the driver's emit, and readings/s. */
async function linkLatency(mode: 'authenticated' | 'plaintext' | 'json-lines', periodMs: number, seconds: number): Promise<{ lat: number[]; perSec: number }> {
  const build = buildFirmware().dir;
  const mk = spawnSync('make', ['-C', repoPath('firmware-bridge/c/linux'), `BUILD=${build}`, join(build, 'benchboard')], { encoding: 'utf8' });
  if (mk.status !== 0) throw new Error(mk.stdout + mk.stderr);
  const { a, b } = await ptyPair(`lat-${mode}-${periodMs}`);
  const lat: number[] = [];
  const record = (stampUs: number) => { const d = (nowUs() - stampUs) & 0x3fffffff; if (d < 1e7) lat.push(d / 1000); };
  const ctx: DriverContext = {
    emit: (r) => { const v = r.values[0]; if (r.thing.endsWith('.1') || mode === 'json-lines') if (typeof v.value === 'number') record(mode === 'json-lines' ? v.value : Math.round(v.value * 10)); },
    fault: () => undefined, thingsChanged: () => undefined, log: { debug() {}, info() {}, warn() {}, error() {} },
  };
  let board: ReturnType<typeof startBoard> | undefined;
  let writer: ReturnType<typeof spawn> | undefined;
  let d;
  if (mode === 'json-lines') {
    const py = `import os,time
fd=os.open(${JSON.stringify(b)},os.O_WRONLY)
while True:
  os.write(fd,('{"t":%d}\\n'%((time.time_ns()//1000)&0x3FFFFFFF)).encode())
  ${periodMs ? `time.sleep(${periodMs / 1000})` : 'pass'}
`;
    writer = spawn('/usr/bin/python3', ['-c', py], { stdio: 'ignore' });
    d = createDriver('serial', 'bench', { path: a, protocol: 'json', thing: 'json', fields: [{ name: 't', type: 'numeric', path: 't' }] });
  } else {
    const dir = join(workDir, `lat-${mode}`);
    mkdirSync(dir, { recursive: true });
    const keysFile = join(dir, 'keys.json');
    pairBoard(keysFile, 'bench-1', { force: true });
    const hexKey = Buffer.from(readKeys(keysFile).get('bench-1')!).toString('hex');
    board = startBoard(build, ['--port', b, '--id', 'bench-1', '--period', String(periodMs), '--stamp', ...(mode === 'plaintext' ? ['--no-key', '--plaintext-ok'] : ['--key', hexKey])], 'benchboard');
    d = createDriver('bridge', 'bench', { path: a, board: 'bench-1', keysFile, plaintext: mode === 'plaintext' });
  }
  await d.start(ctx);
  await sleep(500);
  lat.length = 0;
  await sleep(seconds * 1000);
  const perSec = lat.length / seconds;
  await d.stop();
  if (board) kill(board.proc);
  if (writer) kill(writer);
  return { lat: lat.sort((x, y) => x - y), perSec };
}

const N = 50_000;
const key = new Uint8Array(32).fill(9);

function perFrameUs(label: string, fn: (i: number) => void): [string, string] {
  for (let i = 0; i < 2000; i++) fn(i); // warm up
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) fn(i);
  const d = process.cpuUsage(t0);
  return [label, ((d.user + d.system) / N).toFixed(2)];
}

function cpuTable(): [string, string][] {
  const frames = (auth: boolean) => Array.from({ length: 256 }, (_, i) => wireFrame(sealFrame(FrameType.READINGS, i + 1, encodeBody({ type: 'READINGS', body: { values: [{ key: 1, value: 215 + i, ageMs: 3, error: 0 }, { key: 2, value: 40, ageMs: 3, error: 0 }], full: false } }), DIR_BOARD_TO_HOST, auth ? key : undefined)));
  const plain = frames(false), sealed = frames(true);
  const decode = (w: Uint8Array, auth: boolean) => {
    const f = parseFrame(cobsDecode(w.subarray(0, w.length - 1))!);
    if (typeof f === 'string') throw new Error(f);
    const body = auth ? openFrame(f, DIR_BOARD_TO_HOST, key) : f.payload;
    return decodeBody(f.type, body!);
  };
  const fields = [{ name: 'temperature', type: 'numeric' as const, path: 't' }, { name: 'humidity', type: 'numeric' as const, path: 'h' }];
  return [
    perFrameUs('bridge frame, authenticated', (i) => decode(sealed[i & 255], true)),
    perFrameUs('bridge frame, plaintext', (i) => decode(plain[i & 255], false)),
    perFrameUs('serial JSON line (same two values)', (i) => parseSerialLine('json', `{"t":${21.5 + (i & 255) / 10},"h":40}`, fields)),
  ];
}

async function setRoundTrips(plaintext: boolean, sets: number): Promise<number[]> {
  const build = buildFirmware().dir;
  const dir = join(workDir, plaintext ? 'plain' : 'auth'); // own schema cache: start() waits for the board
  mkdirSync(dir, { recursive: true });
  const keysFile = join(dir, 'keys.json');
  pairBoard(keysFile, 'bench-1', { force: true });
  const hexKey = Buffer.from(readKeys(keysFile).get('bench-1')!).toString('hex');
  const { a, b } = await ptyPair(`bench-${plaintext}`);
  const board = startBoard(build, ['--port', b, '--id', 'bench-1', '--period', '1000', ...(plaintext ? ['--no-key', '--plaintext-ok'] : ['--key', hexKey])]);
  const ctx: DriverContext = { emit: () => undefined, fault: () => undefined, thingsChanged: () => undefined, log: { debug() {}, info() {}, warn() {}, error() {} } };
  const d = createDriver('bridge', 'bench', { path: a, board: 'bench-1', keysFile, plaintext });
  await d.start(ctx);
  const times: number[] = [];
  try {
    for (let i = 0; i < sets; i++) {
      const t0 = process.hrtime.bigint();
      await d.set!('bench-1.10', 'value', i % 2 === 0);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  } finally {
    await d.stop();
    kill(board.proc);
  }
  return times.sort((x, y) => x - y);
}

const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))].toFixed(2);

async function main(): Promise<void> {
  const sets = Number(process.argv[2] ?? 500);
  console.log('host CPU per received frame (µs), 50,000 frames');
  for (const [l, v] of cpuTable()) console.log(`  ${l.padEnd(38)} ${v}`);
  console.log('readings board → driver emit over a socat pty: latency (ms) and readings/s, 3 s each');
  for (const period of [5, 0]) {
    for (const mode of ['authenticated', 'plaintext', 'json-lines'] as const) {
      const r = await linkLatency(mode, period, 3);
      console.log(`  ${(period ? `every ${period} ms` : 'flat out').padEnd(11)} ${mode.padEnd(14)} ${r.perSec.toFixed(0).padStart(6)}/s  p50 ${pct(r.lat, 50)}  p99 ${pct(r.lat, 99)}`);
    }
  }
  console.log(`set round trip over a socat pty to the C fake board (ms), ${sets} sets`);
  for (const plaintext of [false, true]) {
    const t = await setRoundTrips(plaintext, sets);
    console.log(`  ${(plaintext ? 'plaintext' : 'authenticated').padEnd(38)} p50 ${pct(t, 50)}  p99 ${pct(t, 99)}  max ${t[t.length - 1].toFixed(2)}`);
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
