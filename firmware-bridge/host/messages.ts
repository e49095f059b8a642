// The bridge's messages (firmware-bridge/proto/bridge.proto) as typed values, with their
// protobuf encoders and decoders. Decoding is strict where a wrong value would mislead (a
// string that is not UTF-8, an out-of-range number) and lenient where protobuf is (unknown
// fields are skipped, so a newer board can add fields).
import { PbError, PbWriter, readFields, unzigzag32, WT_FIXED32, WT_LEN, WT_VARINT, type PbField } from './pb';

export const FrameType = {
  HELLO_REQ: 1, HELLO: 2, INFO: 3, DESCRIBE_REQ: 4, DESCRIBE: 5, STATE_REQ: 6, READINGS: 7,
  SET: 8, ACK: 9, TIME: 10, PING: 11, PONG: 12, LOG: 13, ERROR: 14, PAIR: 15,
} as const;
export type FrameTypeName = keyof typeof FrameType;
export type FrameTypeCode = (typeof FrameType)[FrameTypeName];
export const FRAME_TYPE_NAMES: Record<number, FrameTypeName> = Object.fromEntries(Object.entries(FrameType).map(([k, v]) => [v, k])) as Record<number, FrameTypeName>;

export const EntityKind = { NUMERIC: 0, INT: 1, BOOL: 2 } as const;
export const AckStatus = { OK: 0, UNKNOWN_KEY: 1, READ_ONLY: 2, OUT_OF_RANGE: 3, FAILED: 4 } as const;
export const ErrorCode = { NO_SESSION: 1, BAD_FRAME: 2, UNPAIRED: 3, AUTH_MODE: 4, UNKNOWN_TYPE: 5 } as const;
export const ACK_STATUS_TEXT: Record<number, string> = { 0: 'ok', 1: 'unknown key', 2: 'read-only', 3: 'out of range', 4: 'the board failed to apply it' };

/** `ephPub`: the host's ephemeral X25519 key when it asks for forward secrecy. */
export interface HelloRequest { hostNonce: Uint8Array; version: number; auth: boolean; ephPub?: Uint8Array }
/** `ephPub`: the board's ephemeral X25519 key, answering the host's. */
export interface Hello { boardId: string; boardNonce: Uint8Array; version: number; auth: boolean; ephPub?: Uint8Array }
export interface Info { fwName: string; fwVersion: string; schemaHash: number; capabilities: number; entityCount: number }
export interface Entity { key: number; name: string; unit: string; kind: number; decimals: number; min: number; max: number; writable: boolean }
export interface Describe { entity: Entity; index: number; count: number }
export interface BoardValue { key: number; value: number; ageMs: number; error: number }
export interface Readings { values: BoardValue[]; full: boolean }
export interface SetRequest { requestId: number; key: number; value: number }
export interface Ack { requestId: number; status: number; value: number }
export interface Time { unixMs: number }
export interface Ping { seq: number }
export interface Pong { seq: number; uptimeMs: number }
export interface Log { level: number; text: string }
export interface ErrorMsg { code: number; text: string }
/** Trust on first use: the key for an unpaired board, sent once the owner approved it. */
export interface PairKey { key: Uint8Array }
export type Empty = Record<string, never>;

/** Frame type → its body. */
export interface Bodies {
  HELLO_REQ: HelloRequest; HELLO: Hello; INFO: Info; DESCRIBE_REQ: Empty; DESCRIBE: Describe;
  STATE_REQ: Empty; READINGS: Readings; SET: SetRequest; ACK: Ack; TIME: Time; PING: Ping;
  PONG: Pong; LOG: Log; ERROR: ErrorMsg; PAIR: PairKey;
}
export type Message = { [K in FrameTypeName]: { type: K; body: Bodies[K] } }[FrameTypeName];

const utf8 = new TextDecoder('utf-8', { fatal: true });

function encodeEntity(e: Entity): Uint8Array {
  return new PbWriter().uint(1, e.key).string(2, e.name).string(3, e.unit).uint(4, e.kind).uint(5, e.decimals)
    .sint32(6, e.min).sint32(7, e.max).bool(8, e.writable).finish();
}

function encodeValue(v: BoardValue): Uint8Array {
  return new PbWriter().uint(1, v.key).sint32(2, v.value).uint(3, v.ageMs).uint(4, v.error).finish();
}

export function encodeBody(m: Message): Uint8Array {
  const w = new PbWriter();
  switch (m.type) {
    case 'HELLO_REQ': return w.bytesField(1, m.body.hostNonce).uint(2, m.body.version).bool(3, m.body.auth).bytesField(4, m.body.ephPub ?? new Uint8Array(0)).finish();
    case 'HELLO': return w.string(1, m.body.boardId).bytesField(2, m.body.boardNonce).uint(3, m.body.version).bool(4, m.body.auth).bytesField(5, m.body.ephPub ?? new Uint8Array(0)).finish();
    case 'INFO': return w.string(1, m.body.fwName).string(2, m.body.fwVersion).fixed32(3, m.body.schemaHash).uint(4, m.body.capabilities).uint(5, m.body.entityCount).finish();
    case 'DESCRIBE_REQ': case 'STATE_REQ': return w.finish();
    case 'DESCRIBE': return w.message(1, encodeEntity(m.body.entity)).uint(2, m.body.index).uint(3, m.body.count).finish();
    case 'READINGS': for (const v of m.body.values) w.message(1, encodeValue(v)); return w.bool(2, m.body.full).finish();
    case 'SET': return w.uint(1, m.body.requestId).uint(2, m.body.key).sint32(3, m.body.value).finish();
    case 'ACK': return w.uint(1, m.body.requestId).uint(2, m.body.status).sint32(3, m.body.value).finish();
    case 'TIME': return w.uint(1, m.body.unixMs).finish();
    case 'PING': return w.uint(1, m.body.seq).finish();
    case 'PONG': return w.uint(1, m.body.seq).uint(2, m.body.uptimeMs).finish();
    case 'LOG': return w.uint(1, m.body.level).string(2, m.body.text).finish();
    case 'ERROR': return w.uint(1, m.body.code).string(2, m.body.text).finish();
    case 'PAIR': return w.bytesField(1, m.body.key).finish();
  }
}

/** Field accessors over one decoded message: the last occurrence wins (protobuf's rule). */
class Fields {
  constructor(private readonly fs: PbField[], private readonly what: string) {}
  private last(n: number, wt: number): PbField | undefined {
    let f: PbField | undefined;
    for (const x of this.fs) if (x.field === n) {
      if (x.wt !== wt) throw new PbError(`${this.what} field ${n} has wire type ${x.wt}, expected ${wt}`);
      f = x;
    }
    return f;
  }
  uint32(n: number): number {
    const v = this.last(n, WT_VARINT)?.n ?? 0;
    if (v > 0xffffffff) throw new PbError(`${this.what} field ${n}: ${v} does not fit 32 bits`);
    return v;
  }
  uint64(n: number): number { return this.last(n, WT_VARINT)?.n ?? 0; }
  sint32(n: number): number {
    const v = this.uint32(n);
    return unzigzag32(v);
  }
  bool(n: number): boolean { return this.uint64(n) !== 0; }
  fixed32(n: number): number { return this.last(n, WT_FIXED32)?.n ?? 0; }
  bytes(n: number): Uint8Array { return this.last(n, WT_LEN)?.b ?? new Uint8Array(0); }
  string(n: number): string {
    try { return utf8.decode(this.bytes(n)); } catch { throw new PbError(`${this.what} field ${n} is not UTF-8`); }
  }
  all(n: number): Uint8Array[] {
    return this.fs.filter((x) => x.field === n).map((x) => {
      if (x.wt !== WT_LEN) throw new PbError(`${this.what} field ${n} has wire type ${x.wt}, expected 2`);
      return x.b!;
    });
  }
}

const fields = (b: Uint8Array, what: string) => new Fields(readFields(b), what);

function decodeEntity(b: Uint8Array): Entity {
  const f = fields(b, 'Entity');
  return { key: f.uint32(1), name: f.string(2), unit: f.string(3), kind: f.uint32(4), decimals: f.uint32(5), min: f.sint32(6), max: f.sint32(7), writable: f.bool(8) };
}

/** Value, the hot path (every reading): one pass, no intermediate field objects, since the
 *  agent runs without a JIT. Same rules and errors as Fields: the last occurrence wins, fields 1-4
 *  are 32-bit varints, unknown fields are skipped (readFields checks them). */
function decodeValue(b: Uint8Array): BoardValue {
  const v = [0, 0, 0, 0];
  let i = 0, plain = true;
  while (i < b.length && plain) {
    const key = b[i];
    const field = key >> 3;
    if (key & 0x80 || field < 1 || field > 4) { plain = false; break; } // rare: the general reader
    if ((key & 7) !== WT_VARINT) throw new PbError(`Value field ${field} has wire type ${key & 7}, expected 0`);
    let n = 0, mul = 1, k = i + 1;
    for (;;) {
      if (k >= b.length) throw new PbError('truncated varint');
      const c = b[k++];
      n += (c & 0x7f) * mul;
      if (!(c & 0x80)) break;
      mul *= 0x80;
      if (mul > 0x80 ** 5) { plain = false; break; }
    }
    if (!plain) break;
    if (n > 0xffffffff) throw new PbError(`Value field ${field}: ${n} does not fit 32 bits`);
    v[field - 1] = n;
    i = k;
  }
  if (!plain) {
    const f = fields(b, 'Value');
    return { key: f.uint32(1), value: f.sint32(2), ageMs: f.uint32(3), error: f.uint32(4) };
  }
  return { key: v[0], value: unzigzag32(v[1]), ageMs: v[2], error: v[3] };
}

const eph = (b: Uint8Array): { ephPub?: Uint8Array } => {
  if (!b.length) return {};
  if (b.length !== 32) throw new PbError(`an X25519 key is 32 bytes, got ${b.length}`);
  return { ephPub: b.slice() };
};

/** Body bytes of a frame type → the typed message; throws PbError saying what is wrong. */
export function decodeBody(type: number, b: Uint8Array): Message {
  const name = FRAME_TYPE_NAMES[type];
  if (!name) throw new PbError(`unknown frame type ${type}`);
  const f = fields(b, name);
  switch (name) {
    case 'HELLO_REQ': return { type: name, body: { hostNonce: f.bytes(1).slice(), version: f.uint32(2), auth: f.bool(3), ...eph(f.bytes(4)) } };
    case 'HELLO': return { type: name, body: { boardId: f.string(1), boardNonce: f.bytes(2).slice(), version: f.uint32(3), auth: f.bool(4), ...eph(f.bytes(5)) } };
    case 'INFO': return { type: name, body: { fwName: f.string(1), fwVersion: f.string(2), schemaHash: f.fixed32(3), capabilities: f.uint32(4), entityCount: f.uint32(5) } };
    case 'DESCRIBE_REQ': case 'STATE_REQ': return { type: name, body: {} };
    case 'DESCRIBE': {
      const e = f.all(1);
      if (!e.length) throw new PbError('DESCRIBE without an entity');
      return { type: name, body: { entity: decodeEntity(e[e.length - 1]), index: f.uint32(2), count: f.uint32(3) } };
    }
    case 'READINGS': return { type: name, body: { values: f.all(1).map(decodeValue), full: f.bool(2) } };
    case 'SET': return { type: name, body: { requestId: f.uint32(1), key: f.uint32(2), value: f.sint32(3) } };
    case 'ACK': return { type: name, body: { requestId: f.uint32(1), status: f.uint32(2), value: f.sint32(3) } };
    case 'TIME': return { type: name, body: { unixMs: f.uint64(1) } };
    case 'PING': return { type: name, body: { seq: f.uint32(1) } };
    case 'PONG': return { type: name, body: { seq: f.uint32(1), uptimeMs: f.uint32(2) } };
    case 'LOG': return { type: name, body: { level: f.uint32(1), text: f.string(2) } };
    case 'ERROR': return { type: name, body: { code: f.uint32(1), text: f.string(2) } };
    case 'PAIR': {
      const key = f.bytes(1);
      if (key.length !== 32) throw new PbError(`PAIR with a ${key.length}-byte key, expected 32`);
      return { type: name, body: { key: key.slice() } };
    }
  }
}

/** FNV-1a 32 over the encoded entities in order: the schema hash a board reports in INFO. */
export function schemaHash(entities: Entity[]): number {
  let h = 0x811c9dc5;
  for (const e of entities) for (const b of encodeEntity(e)) { h ^= b; h = Math.imul(h, 0x01000193) >>> 0; }
  return h >>> 0;
}
