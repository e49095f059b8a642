// Golden vectors shared by the TypeScript and C tests (firmware-bridge/vectors/*.json). The
// crypto vectors come from tweetnacl-js (the reference); the message and session vectors pin
// the bytes this protocol puts on the wire. Regenerate only on a deliberate protocol change:
//   node dist/firmware-bridge/host/vectors.js --write
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import nacl from 'tweetnacl';
import { cobsEncode, wireFrame } from './cobs';
import { crc16 } from './crc16';
import { deriveKeys, DIR_BOARD_TO_HOST, DIR_HOST_TO_BOARD } from './crypto';
import { sealFrame } from './frame';
import { encodeBody, FrameType, schemaHash, type Entity, type Message } from './messages';

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
/** Deterministic bytes for vectors (not random: the files must not change between runs). */
export const pattern = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 17 + 7) & 0xff);

export const VECTOR_BOARD = {
  boardId: 'greenhouse-1',
  fwName: 'xiota-fake',
  fwVersion: '1.0.0',
  psk: pattern(32, 1),
  hostNonce: pattern(16, 2),
  boardNonce: pattern(16, 3),
  entities: [
    { key: 1, name: 'temperature', unit: '°C', kind: 0, decimals: 1, min: -400, max: 1250, writable: false },
    { key: 2, name: 'humidity', unit: '%', kind: 0, decimals: 0, min: 0, max: 100, writable: false },
    { key: 10, name: 'relay', unit: '', kind: 2, decimals: 0, min: 0, max: 1, writable: true },
    { key: 11, name: 'setpoint', unit: '°C', kind: 1, decimals: 0, min: 5, max: 30, writable: true },
  ] as Entity[],
};

/** One sample per message type (and edge values), in both frame forms. */
export function messageVectors(): unknown[] {
  const keys = deriveKeys(VECTOR_BOARD.psk, VECTOR_BOARD.hostNonce, VECTOR_BOARD.boardNonce, VECTOR_BOARD.boardId);
  const samples: { name: string; dir: 'h2b' | 'b2h'; ctr: number; m: Message }[] = [
    { name: 'hello_req', dir: 'h2b', ctr: 0, m: { type: 'HELLO_REQ', body: { hostNonce: VECTOR_BOARD.hostNonce, version: 1, auth: true } } },
    { name: 'hello', dir: 'b2h', ctr: 0, m: { type: 'HELLO', body: { boardId: VECTOR_BOARD.boardId, boardNonce: VECTOR_BOARD.boardNonce, version: 1, auth: true } } },
    { name: 'info', dir: 'b2h', ctr: 1, m: { type: 'INFO', body: { fwName: 'xiota-fake', fwVersion: '1.0.0', schemaHash: schemaHash(VECTOR_BOARD.entities), capabilities: 2, entityCount: 4 } } },
    { name: 'describe_req', dir: 'h2b', ctr: 1, m: { type: 'DESCRIBE_REQ', body: {} } },
    { name: 'describe', dir: 'b2h', ctr: 2, m: { type: 'DESCRIBE', body: { entity: VECTOR_BOARD.entities[0], index: 0, count: 4 } } },
    { name: 'describe_writable', dir: 'b2h', ctr: 3, m: { type: 'DESCRIBE', body: { entity: VECTOR_BOARD.entities[3], index: 3, count: 4 } } },
    { name: 'state_req', dir: 'h2b', ctr: 2, m: { type: 'STATE_REQ', body: {} } },
    { name: 'readings', dir: 'b2h', ctr: 4, m: { type: 'READINGS', body: { values: [{ key: 1, value: 215, ageMs: 250, error: 0 }, { key: 2, value: -1, ageMs: 0, error: 0 }, { key: 11, value: 0, ageMs: 70000, error: 3 }], full: false } } },
    { name: 'readings_full', dir: 'b2h', ctr: 5, m: { type: 'READINGS', body: { values: [{ key: 10, value: 1, ageMs: 1, error: 0 }], full: true } } },
    { name: 'set', dir: 'h2b', ctr: 3, m: { type: 'SET', body: { requestId: 7, key: 10, value: 1 } } },
    { name: 'set_negative', dir: 'h2b', ctr: 4, m: { type: 'SET', body: { requestId: 0xffffffff, key: 11, value: -2147483648 } } },
    { name: 'ack', dir: 'b2h', ctr: 6, m: { type: 'ACK', body: { requestId: 7, status: 0, value: 1 } } },
    { name: 'ack_out_of_range', dir: 'b2h', ctr: 7, m: { type: 'ACK', body: { requestId: 8, status: 3, value: 20 } } },
    { name: 'time', dir: 'h2b', ctr: 5, m: { type: 'TIME', body: { unixMs: 1_796_169_600_000 } } },
    { name: 'ping', dir: 'h2b', ctr: 6, m: { type: 'PING', body: { seq: 300 } } },
    { name: 'pong', dir: 'b2h', ctr: 8, m: { type: 'PONG', body: { seq: 300, uptimeMs: 4_000_000_000 } } },
    { name: 'log', dir: 'b2h', ctr: 9, m: { type: 'LOG', body: { level: 2, text: 'sensor 2 slow: 1200 µs' } } },
    { name: 'error', dir: 'b2h', ctr: 0, m: { type: 'ERROR', body: { code: 1, text: 'no session: send HELLO_REQ' } } },
    { name: 'pair', dir: 'h2b', ctr: 0, m: { type: 'PAIR', body: { key: VECTOR_BOARD.psk } } },
  ];
  return samples.map(({ name, dir, ctr, m }) => {
    const body = encodeBody(m);
    const direction = dir === 'h2b' ? DIR_HOST_TO_BOARD : DIR_BOARD_TO_HOST;
    const key = dir === 'h2b' ? keys.hostToBoard : keys.boardToHost;
    const type = FrameType[m.type];
    const plain = sealFrame(type, ctr, body, direction, undefined);
    const sealed = sealFrame(type, ctr, body, direction, key);
    return { name, dir, ctr, type, message: toJson(m.body), body: hex(body), frame_plain: hex(plain), frame_auth: hex(sealed), wire_auth: hex(wireFrame(sealed)) };
  });
}

/** Uint8Array fields as hex so the JSON stays readable. */
function toJson(v: unknown): unknown {
  if (v instanceof Uint8Array) return hex(v);
  if (Array.isArray(v)) return v.map(toJson);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]));
  return v;
}

export function cryptoVectors(): Record<string, unknown> {
  const secretbox = [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 200, 234].map((len, i) => {
    const key = pattern(32, 10 + i), nonce = pattern(24, 40 + i), msg = pattern(len, 70 + i);
    return { key: hex(key), nonce: hex(nonce), msg: hex(msg), box: hex(nacl.secretbox(msg, nonce, key)) };
  });
  const sha512 = [0, 3, 111, 112, 127, 128, 129, 300].map((len, i) => {
    const msg = len === 3 ? new TextEncoder().encode('abc') : pattern(len, 90 + i);
    return { msg: hex(msg), hash: hex(nacl.hash(msg)) };
  });
  const b = VECTOR_BOARD;
  const k = deriveKeys(b.psk, b.hostNonce, b.boardNonce, b.boardId);
  const crc = ['', '313233343536373839', '00', 'ff', hex(pattern(100, 5))].map((h) => ({ data: h, crc: crc16(unhex(h)).toString(16).padStart(4, '0') }));
  const cobs = ['', '00', '0000', '11', '112200', '1122003300', hex(pattern(254, 8).map((x) => x || 1)), hex(pattern(255, 9).map((x) => x || 1)), hex(pattern(256, 6))]
    .map((h) => ({ data: h, encoded: hex(cobsEncode(unhex(h))) }));
  return {
    note: 'secretbox and sha512 from tweetnacl-js 1.0.3; crc16 is CRC-16/CCITT-FALSE (check 29b1); kdf: firmware-bridge/proto/bridge.proto',
    secretbox, sha512, crc16: crc, cobs,
    kdf: [{ psk: hex(b.psk), host_nonce: hex(b.hostNonce), board_nonce: hex(b.boardNonce), board_id: b.boardId, host_to_board: hex(k.hostToBoard), board_to_host: hex(k.boardToHost) }],
  };
}

export function vectorsDir(): string {
  // dist/firmware-bridge/host → repo/firmware-bridge/vectors, or from the repo root.
  for (const c of [resolve(__dirname, '../../../firmware-bridge/vectors'), resolve(process.cwd(), 'firmware-bridge/vectors')]) {
    try { require('node:fs').statSync(c); return c; } catch { /* next */ }
  }
  throw new Error('firmware-bridge/vectors not found: run from the repository root');
}

if (require.main === module && process.argv.includes('--write')) {
  const dir = vectorsDir();
  writeFileSync(join(dir, 'crypto.json'), JSON.stringify(cryptoVectors(), null, 1) + '\n');
  writeFileSync(join(dir, 'messages.json'), JSON.stringify({ board: { board_id: VECTOR_BOARD.boardId, psk: hex(VECTOR_BOARD.psk), host_nonce: hex(VECTOR_BOARD.hostNonce), board_nonce: hex(VECTOR_BOARD.boardNonce) }, messages: messageVectors() }, null, 1) + '\n');
  const { sessionVectors } = require('./vectors-session') as typeof import('./vectors-session');
  writeFileSync(join(dir, 'session.json'), JSON.stringify(sessionVectors(), null, 1) + '\n');
  process.stdout.write(`wrote ${dir}/{crypto,messages,session}.json\n`);
}
