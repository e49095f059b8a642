// Firmware bridge, host side: CPU per received frame (COBS + CRC + MAC + protobuf decode),
// authenticated vs plaintext vs the JSON-lines `serial` driver parsing the same two values; and
// the set round trip (driver → pty → C fake board → ack → driver), authenticated vs plaintext.
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
import { buildFirmware, kill, ptyPair, startBoard, workDir } from '../test/bridge/_board';

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
  console.log(`set round trip over a socat pty to the C fake board (ms), ${sets} sets`);
  for (const plaintext of [false, true]) {
    const t = await setRoundTrips(plaintext, sets);
    console.log(`  ${(plaintext ? 'plaintext' : 'authenticated').padEnd(38)} p50 ${pct(t, 50)}  p99 ${pct(t, 99)}  max ${t[t.length - 1].toFixed(2)}`);
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
