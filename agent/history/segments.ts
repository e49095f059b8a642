// One level of the history store on disk (raw readings, or one rollup level): its segment
// files `<level>-<start ms>.log`, the one being appended to, and the frames waiting for the next
// batched write. Like the outbox: a new segment after every open (a file from a previous run is
// never appended to: its tail may have been cut), a torn tail cut at open, one write and one
// fdatasync per batch. A segment's name is a lower bound of the times in it, and the next
// segment's name an upper bound (give or take late readings: `slackMs`), which is all the
// index the store keeps: retention drops whole segments, a query opens only the ones it needs.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutboxFile, OutboxFs } from '../outbox/fs';
import { crc32 } from '../outbox/crc32';
import { FRAME_HEADER, MAX_BODY, scanFrames } from '../outbox/record';
import { decodeBody, encodeBody, type Body, type Stored } from './codec';
import type { Agg } from './rollup';
import type { Value } from '../../drivers/types';

export interface SegmentInfo {
  name: string;
  path: string;
  /** Lower bound of the times in it (from its name). */
  start: number;
  size: number;
}

/** A frame body with its key resolved through the segment's dict frames. */
export type Decoded =
  | { type: 'reading'; ts: number; values: { key: string; v: Stored }[] }
  | { type: 'rollups'; closedThrough: number; rows: { start: number; key: string; agg: Agg }[] };

/** A key no series has (keyOf always holds a NUL): decodeSegment(buf, NO_SERIES) keeps no values. */
const NO_SERIES = '';

/** `thing\0field`: one name for one series. */
export function keyOf(thing: string, field: string): string {
  return `${thing}\u0000${field}`;
}

/**
 * Every frame of a segment file's bytes with keys resolved, in file order; a torn tail ends it.
 * With `key`, only that series' values and rows are kept, and readings without one are left out.
 * `frames`: the readings and rollups frames, kept or not (dict frames apart).
 */
export function decodeSegment(buf: Buffer, key?: string): { bodies: Decoded[]; end: number; frames: number } {
  // Each body is decoded once: the scan's validity check keeps what it decoded, by offset. A
  // key's dict frame precedes its first use (codec.ts), and the scan goes in file order.
  const decoded = new Map<number, Body>();
  let wanted = -1;
  const keep = key === undefined ? undefined : (i: number) => i === wanted;
  const scan = scanFrames(buf, (b) => {
    const d = decodeBody(b, keep);
    if (d?.type === 'dict' && key !== undefined && keyOf(d.thing, d.field) === key) wanted = d.index;
    if (d) decoded.set(b.byteOffset, d);
    return d !== undefined;
  });
  const dict = new Map<number, string>();
  const bodies: Decoded[] = [];
  let frames = 0;
  for (const f of scan.frames) {
    const b = decoded.get(f.body.byteOffset) ?? decodeBody(f.body)!;
    if (b.type === 'dict') { dict.set(b.index, keyOf(b.thing, b.field)); continue; }
    frames++;
    if (b.type === 'reading') {
      if (keep && !b.values.length) continue;
      const values = [];
      for (const v of b.values) { const key = dict.get(v.index); if (key !== undefined) values.push({ key, v: v.v }); }
      bodies.push({ type: 'reading', ts: b.ts, values });
    } else {
      const rows = [];
      for (const r of b.rows) { const key = dict.get(r.index); if (key !== undefined) rows.push({ start: r.start, key, agg: r.agg }); }
      bodies.push({ type: 'rollups', closedThrough: b.closedThrough, rows });
    }
  }
  return { bodies, end: scan.end, frames };
}

/** One stored value of one series: a reading's (raw) time and value or sensor error. */
export interface SeriesValue { ts: number; value?: Value; error?: string }

/**
 * The raw readings of one series in a segment, in file order, straight from the bytes: no frame
 * list, no body objects, nothing for the other series (a query of 10,000 values reads two 256 KiB
 * segments of every series). Anything unusual (a bad crc, a body that does not parse, a value
 * type it does not know) returns undefined, and the caller decodes the segment the general way
 * (decodeSegment: corrupt frames skipped, torn tail ends it).
 */
export function readSeries(buf: Buffer, key: string, from: number, to: number): SeriesValue[] | undefined {
  const out: SeriesValue[] = [];
  let wanted = -1;
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < FRAME_HEADER) return undefined;
    const len = buf.readUInt32BE(off);
    const end = off + FRAME_HEADER + len;
    if (len > MAX_BODY || end > buf.length) return undefined;
    const body = buf.subarray(off + FRAME_HEADER, end);
    if (crc32(body, crc32(buf.subarray(off, off + 4))) !== buf.readUInt32BE(off + 4)) return undefined;
    const type = body[0];
    if (type === 1) {
      // reading := 1 | ts f64 | n varint | (index varint | value)*  (codec.ts), small n and indices
      const ts = body.readDoubleBE(1);
      let p = 9;
      let n = body[p++]!;
      if (n >= 0x80) return undefined;
      while (n-- > 0) {
        const index = body[p++]!;
        if (index >= 0x80) return undefined;
        const tag = body[p++];
        let v: SeriesValue | undefined;
        if (tag === 0) { if (index === wanted) v = { ts, value: body.readDoubleBE(p) }; p += 8; } else if (tag === 1 || tag === 2) { if (index === wanted) v = { ts, value: tag === 2 }; } else return undefined;
        if (v && ts >= from && ts <= to) out.push(v);
      }
      if (p !== body.length) return undefined;
    } else if (type === 0) {
      const d = decodeBody(body);
      if (d?.type !== 'dict') return undefined;
      if (keyOf(d.thing, d.field) === key) wanted = d.index;
    } else if (type !== 2) return undefined; // rollups frames hold no raw readings
    off = end;
  }
  return out;
}

interface Pending { seg: SegmentInfo; fresh: boolean; bufs: Buffer[]; bytes: number }

export class SegmentLevel {
  readonly segments: SegmentInfo[] = [];
  private active?: { seg: SegmentInfo; file?: OutboxFile; dict: Map<string, number>; bytes: number };
  private pending: Pending[] = [];
  pendingBytes = 0;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly fs: OutboxFs, private readonly dir: string, readonly level: string, private readonly segmentBytes: number) {}

  private nameRe(): RegExp { return new RegExp(`^${this.level}-(\\d{15})\\.log$`); }

  /**
   * Lists the segments, cuts a torn tail off the last one; returns the last non-empty one's
   * frames: its rollups frames' watermarks, without their rows or any reading's values (a
   * store opening keeps nothing of them; NO_SERIES matches no key).
   */
  async open(warn: (msg: string, f: Record<string, unknown>) => void): Promise<Decoded[]> {
    const re = this.nameRe();
    for (const name of (await this.fs.list(this.dir)).filter((n) => re.test(n)).sort()) {
      const path = join(this.dir, name);
      // Sizes without reading the files: a torn tail can only be in the last one written.
      this.segments.push({ name, path, start: Number(re.exec(name)![1]), size: (await stat(path)).size });
    }
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const seg = this.segments[i]!;
      const buf = await this.fs.readFile(seg.path);
      const d = decodeSegment(buf, NO_SERIES);
      if (d.end < buf.length) {
        warn('history segment had a torn tail (a write cut short by a crash or power loss); cut it off', { path: seg.path, droppedBytes: buf.length - d.end });
        await this.fs.truncate(seg.path, d.end);
      }
      seg.size = d.end;
      if (d.frames) return d.bodies;
    }
    return [];
  }

  get bytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n + this.pendingBytes;
  }

  /** Queues a body (and the dict frames its keys need) for the next flush. */
  add(body: Decoded, at: number, now: number): void {
    if (!this.active || this.active.bytes >= this.segmentBytes) this.rotate(at, now);
    const a = this.active!;
    const p = this.pending[this.pending.length - 1]!;
    const index = (key: string): number => {
      let i = a.dict.get(key);
      if (i === undefined) {
        i = a.dict.size;
        a.dict.set(key, i);
        const [thing, field] = key.split('\u0000') as [string, string];
        this.push(p, encodeBody({ type: 'dict', index: i, thing, field }));
      }
      return i;
    };
    let frame: Buffer;
    if (body.type === 'reading') frame = encodeBody({ type: 'reading', ts: body.ts, values: body.values.map((v) => ({ index: index(v.key), v: v.v })) });
    else frame = encodeBody({ type: 'rollups', closedThrough: body.closedThrough, rows: body.rows.map((r) => ({ start: r.start, index: index(r.key), agg: r.agg })) });
    this.push(p, frame);
  }

  private push(p: Pending, frame: Buffer): void {
    p.bufs.push(frame);
    p.bytes += frame.length;
    this.active!.bytes += frame.length;
    this.pendingBytes += frame.length;
  }

  private rotate(at: number, now: number): void {
    // Names must grow in write order (open() finds the last one written by name), and a
    // reading stamped in the future must not push every later name past the present.
    const prev = this.segments[this.segments.length - 1];
    let start = Math.max(0, Math.floor(Math.min(at, now)), prev ? prev.start + 1 : 0);
    const old = this.active?.file;
    if (old) this.writing = this.writing.then(() => old.close().catch(() => undefined));
    const name = (s: number) => `${this.level}-${String(s).padStart(15, '0')}.log`;
    while (this.segments.some((s) => s.name === name(start))) start++;
    const seg: SegmentInfo = { name: name(start), path: join(this.dir, name(start)), start, size: 0 };
    this.segments.push(seg);
    this.active = { seg, dict: new Map(), bytes: 0 };
    this.pending.push({ seg, fresh: true, bufs: [], bytes: 0 });
  }

  /** Writes what is queued: one append and one fdatasync per segment touched. */
  flush(): Promise<void> {
    const run = async () => {
      const batch = this.pending;
      if (!batch.length || batch.every((p) => !p.bytes)) return;
      // The active segment keeps taking frames while this batch is written.
      const a = this.active!;
      this.pending = [{ seg: a.seg, fresh: false, bufs: [], bytes: 0 }];
      for (const p of batch) {
        if (!p.bytes) continue;
        const isActive = p.seg === a.seg;
        let file = isActive ? a.file : undefined;
        if (!file) file = await this.fs.openAppend(p.seg.path);
        await file.append(p.bufs.length === 1 ? p.bufs[0]! : Buffer.concat(p.bufs, p.bytes));
        await file.datasync();
        if (p.fresh) await this.fs.syncDir(this.dir); // the new name must survive a power cut too
        p.seg.size += p.bytes;
        this.pendingBytes -= p.bytes;
        if (isActive) a.file = file;
        else await file.close();
      }
      // Rotated while this batch was written: its handle is no longer the active one's.
      if (a !== this.active && a.file) { await a.file.close().catch(() => undefined); a.file = undefined; }
    };
    this.writing = this.writing.then(run, run);
    return this.writing;
  }

  async close(): Promise<void> {
    await this.flush().catch(() => undefined);
    await this.active?.file?.close().catch(() => undefined);
    this.active = undefined;
  }

  /**
   * The segments that may hold times in [from, to], newest first, each with the upper bound of
   * its times (the next one's start, plus slack for late arrivals; the newest: unbounded).
   */
  covering(from: number, to: number, slackMs: number): { seg: SegmentInfo; upper: number }[] {
    const out: { seg: SegmentInfo; upper: number }[] = [];
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const seg = this.segments[i]!;
      const next = this.segments[i + 1];
      const upper = next ? next.start + slackMs : Infinity;
      if (seg.size === 0 && seg !== this.active?.seg) continue;
      if (upper < from) break;
      if (seg.start - slackMs > to) continue;
      out.push({ seg, upper });
    }
    return out;
  }

  /** The raw readings of one series in [from, to], in file order (readSeries, else decodeSegment). */
  async readRaw(seg: SegmentInfo, key: string, from: number, to: number): Promise<SeriesValue[]> {
    const buf = await this.fs.readFile(seg.path);
    const fast = readSeries(buf, key, from, to);
    if (fast) return fast;
    const out: SeriesValue[] = [];
    for (const b of decodeSegment(buf, key).bodies) {
      if (b.type !== 'reading' || b.ts < from || b.ts > to) continue;
      for (const v of b.values) out.push('error' in v.v ? { ts: b.ts, error: v.v.error } : { ts: b.ts, value: v.v.value });
    }
    return out;
  }

  /** A segment's frames; with `key`, that series' only (see decodeSegment). */
  async read(seg: SegmentInfo, key?: string): Promise<Decoded[]> {
    return decodeSegment(await this.fs.readFile(seg.path), key).bodies;
  }

  /** Removes the oldest segment that is not being written to; its size, or 0 when none can go. */
  async dropOldest(olderThan = Infinity): Promise<number> {
    const seg = this.segments[0];
    const next = this.segments[1];
    if (!seg || seg === this.active?.seg || !next || next.start > olderThan) return 0;
    if (this.pending.some((p) => p.seg === seg && p.bytes)) return 0;
    try { await this.fs.unlink(seg.path); } catch (e) { if ((e as { code?: unknown }).code !== 'ENOENT') throw e; }
    this.segments.shift();
    return seg.size || 1;
  }
}
