// On-disk bodies of the history store's frames. The framing itself (length, crc32 over length
// and body, torn-tail scan) is the outbox's (agent/outbox/record.ts): one format, one scanner.
//
//   dict    := 0 u8 | index varint | thing str | field str       -- names a key in this segment
//   reading := 1 u8 | ts f64 | n varint | (index varint | value)*  -- one Reading, as sampled
//   rollups := 2 u8 | closedThrough f64 | n varint | (start f64 | index varint | agg)*
//   value   := 0 u8 f64 | 1 u8 (false) | 2 u8 (true) | 3 u8 str | 4 u8 str (the sensor's error)
//   agg     := count varint | errors varint | kind u8 (0: min f64 max f64 sum f64 | 1: last value | 2: -)
//   str     := len varint | utf8
//
// A segment is self-contained: a key's dict frame precedes its first use in that segment, so
// a torn tail can cut a use but never leave one without its name. A rollups frame is one
// closing batch of one level: it is there whole or not at all (crc), which is what makes the
// rollups exactly-once across a crash: its closedThrough is the level's watermark.
import type { Value } from '../../drivers/types';
import { FRAME_HEADER, seal } from '../outbox/record';
import type { Agg } from './rollup';

export type Stored = { value: Value } | { error: string };

export type Body =
  | { type: 'dict'; index: number; thing: string; field: string }
  | { type: 'reading'; ts: number; values: { index: number; v: Stored }[] }
  | { type: 'rollups'; closedThrough: number; rows: { start: number; index: number; agg: Agg }[] };

/** Longest string kept (an error text, a string value): the store is for values, not essays. */
export const MAX_STRING = 200;

class Writer {
  private buf = Buffer.allocUnsafe(256);
  len = FRAME_HEADER;
  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(b, 0, 0, this.len);
    this.buf = b;
  }
  u8(v: number): void { this.room(1); this.buf[this.len++] = v; }
  f64(v: number): void { this.room(8); this.buf.writeDoubleBE(v, this.len); this.len += 8; }
  varint(v: number): void {
    // LEB128 of a non-negative integer below 2^53.
    this.room(8);
    while (v >= 0x80) { this.buf[this.len++] = (v % 0x80) | 0x80; v = Math.floor(v / 0x80); }
    this.buf[this.len++] = v;
  }
  str(s: string): void {
    const b = Buffer.from(s.length > MAX_STRING ? s.slice(0, MAX_STRING) : s, 'utf8');
    this.varint(b.length);
    this.room(b.length);
    b.copy(this.buf, this.len);
    this.len += b.length;
  }
  frame(): Buffer { return seal(Buffer.from(this.buf.subarray(0, this.len))); }
}

class Reader {
  off = 0;
  constructor(private readonly b: Buffer) {}
  need(n: number): void { if (this.off + n > this.b.length) throw new RangeError('short body'); }
  u8(): number { this.need(1); return this.b[this.off++]!; }
  f64(): number { this.need(8); const v = this.b.readDoubleBE(this.off); this.off += 8; return v; }
  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      const c = this.u8();
      v += (c & 0x7f) * mul;
      if (c < 0x80) return v;
      mul *= 0x80;
    }
    throw new RangeError('varint too long');
  }
  str(): string { const n = this.varint(); this.need(n); const s = this.b.toString('utf8', this.off, this.off + n); this.off += n; return s; }
  done(): boolean { return this.off === this.b.length; }
}

function writeStored(w: Writer, v: Stored): void {
  if ('error' in v) { w.u8(4); w.str(v.error); return; }
  const x = v.value;
  if (typeof x === 'number') { w.u8(0); w.f64(x); } else if (typeof x === 'boolean') w.u8(x ? 2 : 1);
  else { w.u8(3); w.str(x); }
}

function readStored(r: Reader): Stored {
  const tag = r.u8();
  switch (tag) {
    case 0: return { value: r.f64() };
    case 1: return { value: false };
    case 2: return { value: true };
    case 3: return { value: r.str() };
    case 4: return { error: r.str() };
    default: throw new RangeError(`value tag ${tag}`);
  }
}

function writeAgg(w: Writer, a: Agg): void {
  w.varint(a.count);
  w.varint(a.errors);
  if (a.min !== undefined) { w.u8(0); w.f64(a.min); w.f64(a.max!); w.f64(a.sum!); } else if (a.last !== undefined) { w.u8(1); writeStored(w, { value: a.last }); } else w.u8(2);
}

function readAgg(r: Reader): Agg {
  const a: Agg = { count: r.varint(), errors: r.varint() };
  const kind = r.u8();
  if (kind === 0) { a.min = r.f64(); a.max = r.f64(); a.sum = r.f64(); } else if (kind === 1) {
    const s = readStored(r);
    if (!('value' in s)) throw new RangeError('agg last is an error');
    a.last = s.value;
  } else if (kind !== 2) throw new RangeError(`agg kind ${kind}`);
  return a;
}

/** One whole frame (header and body) for the body. */
export function encodeBody(b: Body): Buffer {
  const w = new Writer();
  switch (b.type) {
    case 'dict': w.u8(0); w.varint(b.index); w.str(b.thing); w.str(b.field); break;
    case 'reading':
      w.u8(1); w.f64(b.ts); w.varint(b.values.length);
      for (const v of b.values) { w.varint(v.index); writeStored(w, v.v); }
      break;
    case 'rollups':
      w.u8(2); w.f64(b.closedThrough); w.varint(b.rows.length);
      for (const row of b.rows) { w.f64(row.start); w.varint(row.index); writeAgg(w, row.agg); }
      break;
  }
  return w.frame();
}

/**
 * The body, or undefined when it does not parse (corruption the crc did not catch). With `keep`,
 * values and rows of other key indices are checked but not kept (a query for one series reads
 * segments holding many: nothing is allocated for the rest).
 */
export function decodeBody(body: Buffer, keep?: (index: number) => boolean): Body | undefined {
  const r = new Reader(body);
  try {
    let out: Body;
    const type = r.u8();
    if (type === 0) out = { type: 'dict', index: r.varint(), thing: r.str(), field: r.str() };
    else if (type === 1) {
      const ts = r.f64();
      const n = r.varint();
      const values: { index: number; v: Stored }[] = [];
      for (let i = 0; i < n; i++) {
        const index = r.varint();
        const v = readStored(r);
        if (!keep || keep(index)) values.push({ index, v });
      }
      out = { type: 'reading', ts, values };
    } else if (type === 2) {
      const closedThrough = r.f64();
      const n = r.varint();
      const rows: { start: number; index: number; agg: Agg }[] = [];
      for (let i = 0; i < n; i++) {
        const start = r.f64();
        const index = r.varint();
        const agg = readAgg(r);
        if (!keep || keep(index)) rows.push({ start, index, agg });
      }
      out = { type: 'rollups', closedThrough, rows };
    } else return undefined;
    return r.done() ? out : undefined;
  } catch {
    return undefined;
  }
}
