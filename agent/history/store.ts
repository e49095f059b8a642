// The device's own history: every reading the agent accepts, per thing and field, in crc-framed
// append-only segments (agent/history/segments.ts), with rollups per minute, hour and day
// (count, errors, min/max/sum or the last value) so long ranges stay cheap, retention by age
// per level and by total bytes, and memory bounded by the open buckets and one batch.
//
// Crash safety. A reading is on disk once its batch's fdatasync returned (one write and one
// sync per flush interval, kind to SD cards). A rollup level writes each batch of closed buckets
// as ONE frame carrying the level's watermark (closedThrough): after a kill -9 the last whole
// frame says where that level stands, and the buckets still open are rebuilt from the level
// below (raw readings for minutes, minutes for hours, hours for days) at or after the watermark,
// so every accepted value lands in exactly one closed bucket per level. A reading older than
// the finest level's watermark (a late arrival) is kept raw only.
//
// Buckets close by the clock: [start, start + period) closes at start + period + graceMs.
import type { Reading, Value } from '../../drivers/types';
import type { Logger } from '../log';
import { nodeFs, type OutboxFs } from '../outbox/fs';
import type { Stored } from './codec';
import { LEVEL_MS, PERIODS, ROLLUP_LEVELS, addValue, emptyAgg, mergeAgg, periodEnd, periodStart, type Agg, type Level, type Period, type RollupLevel } from './rollup';
import { SegmentLevel, keyOf, type Decoded } from './segments';
import { DEFAULT_HISTORY_MAX_BYTES, DEFAULT_RETENTION_MS } from './defaults';

export interface HistoryStoreOptions {
  dir: string;
  /** Rollup levels kept (default all: minute, hour, day). */
  rollups?: readonly RollupLevel[];
  /** How long each level is kept, ms (defaults: raw 2 d, minute 30 d, hour 1 y, day 10 y). */
  retentionMs?: Partial<Record<Level, number>>;
  /** Bound on all files together; the finest, oldest data goes first. Default 128 MiB. */
  maxBytes?: number;
  /** Batch window of appends (one write + fdatasync each). Default 1000 ms. */
  flushIntervalMs?: number;
  /** A bucket closes this long after its end (readings a little late still count). Default 2000 ms. */
  graceMs?: number;
  segmentBytes?: number;
  now?: () => number;
  fs?: OutboxFs;
  log?: Pick<Logger, 'warn' | 'info' | 'debug'>;
  /** Start the flush/close timer (default true; tests drive flush() and tick() themselves). */
  timers?: boolean;
}

export { DEFAULT_RETENTION_MS, DEFAULT_HISTORY_MAX_BYTES };
/** Readings kept in memory while the disk is slower than the sensors; past it the newest are dropped. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;
/** Raw readings may arrive this much out of order across a segment boundary. */
const RAW_SLACK_MS = 60_000;

export interface HistoryQuery {
  thing: string;
  field: string;
  /** Undefined: raw readings. Else buckets of this period (XEP-0323 historicalMinute ... historicalYear). */
  period?: Period;
  /** Inclusive bounds on the reading time or the bucket start. */
  from?: number;
  to?: number;
  /** Most rows returned, newest first. */
  limit: number;
}

export interface HistoryRow {
  /** Reading time, or bucket start. */
  ts: number;
  value?: Value;
  error?: string;
  /** A bucket's aggregate (period queries). */
  agg?: Agg;
}

export interface HistoryAnswer {
  /** Newest first. */
  rows: HistoryRow[];
  /** More rows matched than `limit`: the oldest were left out. */
  truncated: boolean;
  /** The level the rows were read from. */
  source: Level;
}

/** What readers of the history need (readout, chat, commands). */
export interface HistoryReader {
  query(q: HistoryQuery): Promise<HistoryAnswer>;
  /** Rollup levels kept. */
  readonly rollups: readonly RollupLevel[];
}

export class HistoryStore implements HistoryReader {
  readonly rollups: readonly RollupLevel[];
  private readonly levels = new Map<Level, SegmentLevel>();
  private readonly watermark = new Map<RollupLevel, number>();
  /** Open buckets: level -> bucket start -> key -> aggregate. */
  private readonly open = new Map<RollupLevel, Map<number, Map<string, Agg>>>();
  private readonly retention: Record<Level, number>;
  private readonly maxBytes: number;
  private readonly graceMs: number;
  private readonly now: () => number;
  private readonly log: NonNullable<HistoryStoreOptions['log']>;
  private timer?: ReturnType<typeof setInterval>;
  private lastRetention = 0;
  private failing = false;
  /** Counters for tests, benches and `xiota check`. */
  readonly stats = { readings: 0, late: 0, dropped: 0, flushes: 0 };

  private constructor(private readonly o: HistoryStoreOptions) {
    this.rollups = ROLLUP_LEVELS.filter((l) => (o.rollups ?? ROLLUP_LEVELS).includes(l));
    this.retention = { ...DEFAULT_RETENTION_MS, ...o.retentionMs };
    this.maxBytes = o.maxBytes ?? DEFAULT_HISTORY_MAX_BYTES;
    this.graceMs = o.graceMs ?? 2000;
    this.now = o.now ?? Date.now;
    this.log = o.log ?? { warn() {}, info() {}, debug() {} };
    const fs = o.fs ?? nodeFs;
    // 256 KiB: a query of the newest values decodes one segment (about 9,000 readings of one field).
    const seg = o.segmentBytes ?? 256 * 1024;
    this.levels.set('raw', new SegmentLevel(fs, o.dir, 'raw', seg));
    for (const l of this.rollups) {
      this.levels.set(l, new SegmentLevel(fs, o.dir, l, Math.max(4096, seg >> 2)));
      this.open.set(l, new Map());
    }
  }

  /** Opens (or creates) the store: cuts torn tails, finds each level's watermark, rebuilds open buckets. */
  static async open(o: HistoryStoreOptions): Promise<HistoryStore> {
    const s = new HistoryStore(o);
    await (o.fs ?? nodeFs).mkdirp(o.dir);
    const warn = (m: string, f: Record<string, unknown>) => s.log.warn(m, f);
    await s.levels.get('raw')!.open(warn);
    for (const l of s.rollups) {
      const last = await s.levels.get(l)!.open(warn);
      for (let i = last.length - 1; i >= 0; i--) {
        const b = last[i]!;
        if (b.type === 'rollups') { s.watermark.set(l, b.closedThrough); break; }
      }
    }
    for (const l of s.rollups) await s.rebuild(l);
    if (o.timers !== false) {
      s.timer = setInterval(() => { void s.flush().then(() => s.tick()).catch(() => undefined); }, o.flushIntervalMs ?? 1000);
      s.timer.unref?.();
    }
    return s;
  }

  private sourceOf(l: RollupLevel): Level {
    const i = this.rollups.indexOf(l);
    return i > 0 ? this.rollups[i - 1]! : 'raw';
  }

  private nextOf(l: RollupLevel): RollupLevel | undefined {
    return this.rollups[this.rollups.indexOf(l) + 1];
  }

  /** The open buckets of `l` from what its source level holds at or after l's watermark. */
  private async rebuild(l: RollupLevel): Promise<void> {
    const src = this.sourceOf(l);
    const level = this.levels.get(src)!;
    // A level that never closed a bucket has source data of at most about one of its periods
    // (had the agent run past a bucket's end, it would have closed it), so it starts two periods
    // before the newest source segment, whatever the clock says now: a store reopened days later
    // loses nothing, and a level enabled on a long history does not roll all of it up at startup.
    const newest = level.segments[level.segments.length - 1]?.start;
    const wm = this.watermark.get(l) ?? (newest === undefined ? -Infinity : periodStart(l, newest) - 2 * LEVEL_MS[l]);
    const slack = src === 'raw' ? RAW_SLACK_MS : LEVEL_MS[src];
    for (const { seg } of level.covering(wm, Infinity, slack)) {
      for (const b of await level.read(seg)) this.feed(l, b, wm);
    }
  }

  private feed(l: RollupLevel, b: Decoded, wm: number): void {
    if (b.type === 'reading') {
      if (b.ts < wm) return;
      for (const v of b.values) addValue(this.bucket(l, periodStart(l, b.ts), v.key), v.v);
    } else {
      for (const r of b.rows) if (r.start >= wm) mergeAgg(this.bucket(l, periodStart(l, r.start), r.key), r.agg);
    }
  }

  private bucket(l: RollupLevel, start: number, key: string): Agg {
    const byStart = this.open.get(l)!;
    let byKey = byStart.get(start);
    if (!byKey) byStart.set(start, (byKey = new Map()));
    let a = byKey.get(key);
    if (!a) byKey.set(key, (a = emptyAgg()));
    return a;
  }

  /** Records one reading (queued for the next batched write). */
  append(r: Reading): void {
    const raw = this.levels.get('raw')!;
    let pending = raw.pendingBytes;
    for (const l of this.rollups) pending += this.levels.get(l)!.pendingBytes;
    if (pending > MAX_PENDING_BYTES) {
      if (this.stats.dropped++ === 0) this.log.warn('history: the disk is not keeping up; new readings are not recorded until it does', { pendingBytes: pending });
      return;
    }
    const values: { key: string; v: Stored }[] = [];
    for (const v of r.values) {
      const key = keyOf(r.thing, v.field);
      if (v.error !== undefined || v.value === undefined) values.push({ key, v: { error: v.error ?? 'no value' } });
      else values.push({ key, v: { value: v.value } });
    }
    if (!values.length || !Number.isFinite(r.timestamp)) return;
    this.stats.readings++;
    raw.add({ type: 'reading', ts: r.timestamp, values }, r.timestamp, this.now());
    const first = this.rollups[0];
    if (!first) return;
    const wm = this.watermark.get(first);
    if (wm !== undefined && r.timestamp < wm) { this.stats.late++; return; }
    for (const v of values) addValue(this.bucket(first, periodStart(first, r.timestamp), v.key), v.v);
  }

  /** Writes every level's queued frames (one write and fdatasync per level touched). */
  async flush(): Promise<void> {
    try {
      for (const lv of this.levels.values()) await lv.flush();
      this.stats.flushes++;
      if (this.failing) { this.failing = false; this.log.info('history: writing again', {}); }
    } catch (e) {
      // Kept queued (bounded): the next flush tries again.
      if (!this.failing) this.log.warn('history: cannot write; readings stay in memory (bounded) until the disk answers', { error: e as Error });
      this.failing = true;
      throw e;
    }
  }

  /** Closes the buckets that are due (finest level first, feeding the next), applies retention. */
  async tick(): Promise<void> {
    const now = this.now();
    for (const l of this.rollups) {
      const byStart = this.open.get(l)!;
      const due = [...byStart.keys()].filter((s) => periodEnd(l, s) + this.graceMs <= now).sort((a, b) => a - b);
      if (!due.length) continue;
      const rows: { start: number; key: string; agg: Agg }[] = [];
      for (const s of due) {
        for (const [key, agg] of byStart.get(s)!) rows.push({ start: s, key, agg });
        byStart.delete(s);
      }
      const closedThrough = Math.max(this.watermark.get(l) ?? -Infinity, periodEnd(l, due[due.length - 1]!));
      this.watermark.set(l, closedThrough);
      this.levels.get(l)!.add({ type: 'rollups', closedThrough, rows }, due[0]!, now);
      const next = this.nextOf(l);
      if (next) {
        const nwm = this.watermark.get(next) ?? -Infinity;
        for (const r of rows) if (r.start >= nwm) mergeAgg(this.bucket(next, periodStart(next, r.start), r.key), r.agg);
      }
    }
    if (now - this.lastRetention >= 60_000) {
      this.lastRetention = now;
      await this.applyRetention(now);
    }
  }

  /** Drops whole segments older than each level's retention, then the finest oldest until under maxBytes. */
  async applyRetention(now = this.now()): Promise<void> {
    for (const [l, lv] of this.levels) {
      while (await lv.dropOldest(now - this.retention[l]) > 0) { /* next */ }
    }
    const order: Level[] = ['raw', ...this.rollups];
    for (const l of order) {
      const lv = this.levels.get(l)!;
      while (this.bytes > this.maxBytes && await lv.dropOldest() > 0) { /* next */ }
    }
  }

  /** Bytes on disk and queued. */
  get bytes(): number {
    let n = 0;
    for (const lv of this.levels.values()) n += lv.bytes;
    return n;
  }

  /** Past values of one field, newest first, at most q.limit (the rest reported as truncated). */
  async query(q: HistoryQuery): Promise<HistoryAnswer> {
    await this.flush().catch(() => undefined);
    const from = q.from ?? -Infinity;
    const to = q.to ?? Infinity;
    const key = keyOf(q.thing, q.field);
    const limit = Math.max(0, Math.floor(q.limit));
    let source: Level = 'raw';
    // The coarsest level kept whose buckets tile the period (minute, hour, day: PERIODS order).
    if (q.period) for (const l of this.rollups) if (PERIODS.indexOf(l) <= PERIODS.indexOf(q.period)) source = l;
    const level = this.levels.get(source)!;
    const slack = source === 'raw' ? RAW_SLACK_MS : LEVEL_MS[source];
    if (!q.period) {
      let rows: HistoryRow[] = [];
      for (const { seg, upper } of level.covering(from, to, slack)) {
        if (rows.length > limit && upper < rows[limit]!.ts) break;
        // Segments come newest first and readings are appended in time order (late ones aside):
        // a segment's rows reversed are (nearly) newest first, which the sort then finds cheap.
        const got = await level.readRaw(seg, key, from, to);
        for (let i = got.length - 1; i >= 0; i--) rows.push(got[i]!);
        rows.sort((a, b) => b.ts - a.ts);
        if (rows.length > limit + 1) rows = rows.slice(0, limit + 1);
      }
      return { rows: rows.slice(0, limit), truncated: rows.length > limit, source };
    }
    // Buckets of q.period, merged from the source level's rows (or raw readings).
    const p = q.period;
    const buckets = new Map<number, Agg>();
    let dropped = false;
    const kth = () => [...buckets.keys()].sort((a, b) => b - a)[limit];
    for (const { seg, upper } of level.covering(from, periodEnd(p, periodStart(p, to === Infinity ? 8.64e15 : to)), slack)) {
      if (buckets.size > limit && upper < kth()!) break;
      for (const b of await level.read(seg, key)) {
        if (b.type === 'reading') {
          for (const v of b.values) if (v.key === key) this.into(buckets, p, b.ts, from, to, (a) => addValue(a, v.v));
        } else {
          for (const r of b.rows) if (r.key === key) this.into(buckets, p, r.start, from, to, (a) => mergeAgg(a, r.agg));
        }
      }
      if (buckets.size > 2 * limit + 16) {
        for (const s of [...buckets.keys()].sort((a, b) => b - a).slice(limit + 1)) buckets.delete(s);
        dropped = true;
      }
    }
    const starts = [...buckets.keys()].sort((a, b) => b - a);
    const rows = starts.slice(0, limit).map((ts): HistoryRow => {
      const agg = buckets.get(ts)!;
      const row: HistoryRow = { ts, agg };
      if (agg.last !== undefined) row.value = agg.last;
      return row;
    });
    return { rows, truncated: dropped || starts.length > limit, source };
  }

  private into(buckets: Map<number, Agg>, p: Period, ts: number, from: number, to: number, add: (a: Agg) => void): void {
    const s = periodStart(p, ts);
    if (s < from || s > to) return;
    let a = buckets.get(s);
    if (!a) buckets.set(s, (a = emptyAgg()));
    add(a);
  }

  /** Writes what is queued and stops the timer. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const lv of this.levels.values()) await lv.close();
  }
}
