// The TypeScript side of the bridge protocol against the shared golden vectors
// (firmware-bridge/vectors, also checked by the C library), plus fast-check properties of the
// decoder: arbitrary bytes never throw, COBS round-trips, garbage never hides the next frame,
// and no single-byte change to an authenticated frame is accepted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { cobsDecode, cobsEncode, FrameSplitter, wireFrame } from '../../firmware-bridge/host/cobs';
import { crc16 } from '../../firmware-bridge/host/crc16';
import { deriveKeys, DIR_BOARD_TO_HOST, DIR_HOST_TO_BOARD, open } from '../../firmware-bridge/host/crypto';
import { openFrame, parseFrame, sealFrame } from '../../firmware-bridge/host/frame';
import { decodeBody, encodeBody, FRAME_TYPE_NAMES, schemaHash, type Message } from '../../firmware-bridge/host/messages';
import { cryptoVectors, hex, messageVectors, unhex, vectorsDir, VECTOR_BOARD } from '../../firmware-bridge/host/vectors';
import { sessionVectors } from '../../firmware-bridge/host/vectors-session';

const load = (name: string) => JSON.parse(readFileSync(join(vectorsDir(), name), 'utf8'));

test('CRC-16/CCITT-FALSE check value and the crypto vectors (secretbox, SHA-512 from tweetnacl-js)', () => {
  assert.is(crc16(new TextEncoder().encode('123456789')), 0x29b1);
  const v = load('crypto.json');
  assert.ok(v.secretbox.length >= 10 && v.sha512.length >= 5);
  for (const s of v.secretbox) assert.is(hex(nacl.secretbox(unhex(s.msg), unhex(s.nonce), unhex(s.key))), s.box);
  for (const s of v.sha512) assert.is(hex(nacl.hash(unhex(s.msg))), s.hash);
  for (const c of v.crc16) assert.is(crc16(unhex(c.data)).toString(16).padStart(4, '0'), c.crc);
  for (const c of v.cobs) {
    assert.is(hex(cobsEncode(unhex(c.data))), c.encoded);
    assert.is(hex(cobsDecode(unhex(c.encoded))!), c.data);
  }
  const k = v.kdf[0];
  const keys = deriveKeys(unhex(k.psk), unhex(k.host_nonce), unhex(k.board_nonce), k.board_id);
  assert.is(hex(keys.hostToBoard), k.host_to_board);
  assert.is(hex(keys.boardToHost), k.board_to_host);
  // The file is what the generator makes today: nothing drifted.
  assert.equal(cryptoVectors(), v);
});

test('every message type: body, plaintext and authenticated frames match the vectors and decode back', () => {
  const v = load('messages.json');
  assert.equal(messageVectors(), v.messages, 'encoders still produce the pinned bytes');
  const types = new Set<number>();
  const keys = deriveKeys(VECTOR_BOARD.psk, VECTOR_BOARD.hostNonce, VECTOR_BOARD.boardNonce, VECTOR_BOARD.boardId);
  for (const m of v.messages) {
    types.add(m.type);
    const decoded = decodeBody(m.type, unhex(m.body));
    assert.is(hex(encodeBody(decoded)), m.body, `${m.name} re-encodes to the same bytes`);
    const plain = parseFrame(unhex(m.frame_plain));
    assert.ok(typeof plain !== 'string' && plain.ctr === m.ctr && hex(plain.payload) === m.body, m.name);
    const sealed = parseFrame(cobsDecode(unhex(m.wire_auth).subarray(0, -1))!);
    assert.ok(typeof sealed !== 'string', m.name);
    if (typeof sealed === 'string') continue;
    const dir = m.dir === 'h2b' ? DIR_HOST_TO_BOARD : DIR_BOARD_TO_HOST;
    const body = openFrame(sealed, dir, m.dir === 'h2b' ? keys.hostToBoard : keys.boardToHost);
    assert.is(body && hex(body), m.body, `${m.name} opens under its direction's key`);
    assert.is(openFrame(sealed, dir === 1 ? 2 : 1, m.dir === 'h2b' ? keys.hostToBoard : keys.boardToHost), null, `${m.name}: a frame does not open as the other direction`);
  }
  assert.equal([...types].sort((a, b) => a - b), Object.keys(FRAME_TYPE_NAMES).map(Number), 'a vector for every frame type');
  const info = v.messages.find((m: { name: string }) => m.name === 'info');
  assert.is(info.message.schemaHash, schemaHash(VECTOR_BOARD.entities));
});

test('the session transcript vector decodes frame by frame (the C board produces exactly these bytes)', () => {
  const v = load('session.json');
  assert.equal(sessionVectors(), v);
  const keys = deriveKeys(VECTOR_BOARD.psk, VECTOR_BOARD.hostNonce, VECTOR_BOARD.boardNonce, VECTOR_BOARD.boardId);
  const seen: string[] = [];
  for (const s of v.steps) {
    if (!s.expect) continue;
    new FrameSplitter((enc) => {
      const f = parseFrame(cobsDecode(enc)!);
      if (typeof f === 'string') throw new Error(`bad frame in ${s.note}: ${f}`);
      const body = f.verFlags & 1 ? openFrame(f, DIR_BOARD_TO_HOST, keys.boardToHost) : f.payload;
      assert.ok(body, `board frame in step "${s.note ?? s.do}" opens`);
      seen.push(decodeBody(f.type, body!).type);
    }, () => assert.unreachable('overflow')).push(unhex(s.expect));
  }
  assert.equal(seen, ['ERROR', 'HELLO', 'INFO', 'DESCRIBE', 'DESCRIBE', 'DESCRIBE', 'DESCRIBE', 'READINGS', 'ACK', 'ACK', 'ACK', 'ACK', 'PONG', 'PONG', 'ERROR', 'LOG', 'READINGS']);
});

test('property: COBS round-trips and never yields a zero byte', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (data) => {
    const enc = cobsEncode(data);
    assert.ok(!enc.includes(0));
    assert.equal(cobsDecode(enc), data);
  }), { numRuns: 3000 });
});

test('property: the decoder never throws on arbitrary bytes; what it accepts re-encodes', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 20 }), (data, type) => {
    const raw = cobsDecode(data);
    if (raw) parseFrame(raw); // returns a reason, never throws
    try {
      const m = decodeBody(type, data);
      decodeBody(type, encodeBody(m)); // a decoded message is a valid message
    } catch (e) {
      assert.ok((e as Error).name === 'Error' || /PbError|RangeError/.test((e as Error).constructor.name), String(e));
    }
  }), { numRuns: 5000 });
});

test('property: garbage before a frame costs at most that garbage; the frame after it is recovered', () => {
  const m: Message = { type: 'READINGS', body: { values: [{ key: 1, value: 215, ageMs: 3, error: 0 }], full: false } };
  const good = wireFrame(sealFrame(7, 9, encodeBody(m), DIR_BOARD_TO_HOST, new Uint8Array(32).fill(7)));
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (garbage) => {
    const got: Uint8Array[] = [];
    const sp = new FrameSplitter((f) => got.push(f), () => undefined);
    sp.push(garbage);
    sp.push(Uint8Array.of(0)); // the delimiter that ends whatever the garbage started
    sp.push(good);
    const last = got[got.length - 1];
    assert.equal(last, good.subarray(0, good.length - 1));
  }), { numRuns: 2000 });
});

test('property: no single-byte change or truncation of an authenticated frame is accepted', () => {
  const key = new Uint8Array(32).fill(3);
  const body = encodeBody({ type: 'SET', body: { requestId: 5, key: 10, value: 1 } });
  const frame = sealFrame(8, 42, body, DIR_HOST_TO_BOARD, key);
  fc.assert(fc.property(fc.nat(frame.length - 1), fc.integer({ min: 1, max: 255 }), fc.boolean(), (at, xor, truncate) => {
    if (!truncate && at >= frame.length - 2) return; // a CRC byte: made right again below, i.e. the original frame
    const f = truncate ? frame.slice(0, at) : frame.slice();
    if (!truncate) f[at] ^= xor;
    // Even with the CRC made right again, only the MAC stands between a change and acceptance.
    if (f.length >= 8) { const c = crc16(f.subarray(0, f.length - 2)); f[f.length - 2] = c >> 8; f[f.length - 1] = c & 0xff; }
    const p = parseFrame(f);
    if (typeof p === 'string') return;
    if (!(p.verFlags & 1)) return; // flipped the auth flag: a plaintext frame, refused by the session's mode check
    assert.is(openFrame(p, DIR_HOST_TO_BOARD, key), null);
  }), { numRuns: 5000 });
});

test('open() (one HSalsa20, one keystream pass) equals nacl.secretbox.open, and refuses every flipped bit', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 24, maxLength: 24 }), fc.uint8Array({ maxLength: 300 }), fc.nat(), (key, nonce, msg, flip) => {
    const box = nacl.secretbox(msg, nonce, key);
    if (hex(open(key, nonce, box)!) !== hex(nacl.secretbox.open(box, nonce, key)!)) return false;
    box[flip % box.length] ^= 1 << (flip % 8);
    return open(key, nonce, box) === null && open(key, nonce, box.subarray(0, 15)) === null;
  }), { numRuns: 1500, seed: 1202 });
});

test('READINGS round trip through the one-pass Value decoder: any 32-bit values, extra unknown fields skipped', () => {
  const value = fc.record({ key: fc.integer({ min: 0, max: 0xffff }), value: fc.integer({ min: -0x80000000, max: 0x7fffffff }), ageMs: fc.integer({ min: 0, max: 0xffffffff }), error: fc.integer({ min: 0, max: 255 }) });
  fc.assert(fc.property(fc.array(value, { maxLength: 12 }), fc.boolean(), (values, full) => {
    const vs = values.map((v) => (v.error ? { ...v, value: 0 } : v));
    const m = decodeBody(7, encodeBody({ type: 'READINGS', body: { values: vs, full } }));
    return JSON.stringify(m.body) === JSON.stringify({ values: vs, full });
  }), { numRuns: 3000, seed: 1202 });
  // an unknown field 9 (a string) inside the Value: the general reader's path
  const odd = Uint8Array.of(0x0a, 0x0b, 0x08, 0x05, 0x4a, 0x02, 0x68, 0x69, 0x18, 0x87, 0x01, 0x10, 0x02);
  assert.equal(decodeBody(7, odd).body, { values: [{ key: 5, value: 1, ageMs: 135, error: 0 }], full: false });
});

test.run();
