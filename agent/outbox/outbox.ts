// The outbox: a durable on-disk queue of readings the server has not yet acknowledged.
//
// Contract
// - append() resolves once the record is on the medium (write + fdatasync). That is the moment
//   a reading is "accepted"; it then leaves the outbox only through ack() (the server answered
//   the publish) or the size bound below. Until then it survives kill -9 and power loss.
// - Delivery is at-least-once, made idempotent by stable item ids: each record carries the id
//   the publisher uses as the PubSub item id (XEP-0060 7.1.2), so a record sent twice (an ack
//   lost in a crash, a reconnect mid-publish) overwrites the same item instead of adding one.
//   That is why acks are written without fsync: losing one costs a republish, never a reading.
// - take(n) hands the sender up to n records in append order that are neither acked nor in
//   flight and marks them in flight; requeueInFlight() (on disconnect) puts them back in
//   front, same order. ack() may come in any order (publishes to different nodes are answered
//   out of order); replay after a restart yields only unacked records, in append order.
//
// On disk (dir/)
// - seg-<firstSeq>.log: append-only segments of framed records (see record.ts). A new segment
//   starts after segmentBytes and on every open (old files are never appended to again).
// - acks.log: acked seq ranges, compacted by rewrite-and-rename when it grows.
// - Opening scans every segment; a torn tail is cut at the last good frame (logged with the
//   byte count); a record with a bad crc in the middle is dropped and the ones after it kept.
// - A segment whose records are all acked (or dropped) is deleted.
//
// Kind to SD cards: appends arriving within flushIntervalMs (or until maxBatch) go out as one
// write and one fdatasync, and all their promises resolve together. Flash erases whole blocks,
// so a sync per reading would rewrite the same 4 KiB page for every 300-byte reading.
//
// Not on the latency path: take() hands out a record as soon as append() is called, before its
// batch is on disk, so the publish and the fdatasync run side by side. An ack that arrives
// before the write is remembered and goes to the ack log right after the record's frame. A
// crash in between leaves an item on the server for a reading never reported accepted: extra,
// never lost, and its id is never reused (nextSeq recovery is above every acked seq).
//
// Bounded: when the segments pass maxBytes the oldest segment is dropped (policy: drop
// oldest), its unacked records counted, logged at warn and reported to onDrop. The producer
// never waits for space.
//
// Disk trouble (ENOSPC, EIO, EROFS...): append() rejects with XIOTA_E_OUTBOX naming the path,
// errno and what to do, with detail.heldInMemory = true: the record is kept in a bounded
// memory queue (memoryMaxBytes, drop oldest) and take() still hands it out, so the agent keeps
// publishing. The caller must not append it again. Every diskRetryMs the outbox tries the
// disk again and, once it works, writes the memory queue to it and says so (onRecovered).
import { join } from 'node:path';
import { XiotaError } from '../errors';
import { Logger, silentLogger } from '../log';
import { diskError } from './disk-error';
import { AckLog } from './ack-log';
import { OutboxFs, nodeFs } from './fs';
import { DONE, Entry, IN_FLIGHT, PENDING, RecordQueue, Segment, type AckGroup } from './queue';
import { OutboxRecord, decodeRecord, encodeRecordText, scanFrames } from './record';
import { recover } from './recover';
import { SegmentStore } from './segments';

export type { OutboxRecord } from './record';

export interface AppendRecord {
  /** Where the record goes, e.g. the PubSub node name. */
  key: string;
  /** Stable item id: a replay publishes the same id again. */
  id: string;
  payload: Buffer | string;
}

export interface DropInfo { records: number; bytes: number; reason: 'size-bound' | 'memory-bound' }

export interface OutboxOptions {
  dir: string;
  /** Bound on segment bytes on disk; oldest segments are dropped past it. Default 64 MiB. */
  maxBytes?: number;
  /** Segment size at which a new one starts. Default min(4 MiB, maxBytes / 4). */
  segmentBytes?: number;
  /** How long appends gather before one write + fdatasync. Default 200 ms; 0: next tick. */
  flushIntervalMs?: number;
  /** A batch this large is written at once without waiting. Default 1024. */
  maxBatch?: number;
  /** Bound on records held in memory while the disk fails. Default 4 MiB. */
  memoryMaxBytes?: number;
  /** Record bytes kept in memory so take() need not read the disk. Default 8 MiB. */
  cacheBytes?: number;
  /** How often to try the disk again after a failure. Default 5000 ms. */
  diskRetryMs?: number;
  /** The ack log is compacted past this size. Default 256 KiB. */
  ackLogMaxBytes?: number;
  fs?: OutboxFs;
  logger?: Logger;
  onDrop?: (info: DropInfo) => void;
  onError?: (err: XiotaError) => void;
  onRecovered?: () => void;
}

export interface OutboxStatus {
  disk: 'ok' | 'failing';
  lastError?: XiotaError;
  pending: number;
  inFlight: number;
  memoryRecords: number;
  diskBytes: number;
  segments: number;
  /** Records dropped by the size or memory bound since open. */
  dropped: number;
  /** Records found corrupt (bad crc) since open. */
  corrupt: number;
  /** Torn-tail bytes cut at open. */
  tornBytes: number;
}

interface Item { rec: OutboxRecord; frame: Buffer; entry: Entry }
interface Waiter { resolve: () => void; reject: (e: unknown) => void }

const MAX_ID = 65535;
const MAX_PAYLOAD = 1024 * 1024;

export class Outbox {
  private readonly fs: OutboxFs;
  private readonly log: Logger;
  private readonly dir: string;
  private readonly maxBytes: number;
  private readonly flushIntervalMs: number;
  private readonly maxBatch: number;
  private readonly memoryMaxBytes: number;
  private readonly cacheBytes: number;
  private readonly diskRetryMs: number;
  private readonly q = new RecordQueue();
  private readonly store: SegmentStore;
  private acks!: AckLog;
  private nextSeq = 0;
  private firstNew = 0;
  private batch: Item[] = [];
  private waiters: Waiter[] = [];
  /** The promise every append since the last cycle() returned (see appendMany). */
  private batchDone?: Promise<void>;
  private ackQueue: number[] = [];
  private memEntries: Entry[] = [];
  private memoryBytes = 0;
  private cachedBytes = 0;
  private timer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private failing?: XiotaError;
  private retryAt = 0;
  private closed = false;
  private dropped = 0;
  private corrupt = 0;
  private tornBytes = 0;

  private constructor(private readonly opts: OutboxOptions) {
    this.fs = opts.fs ?? nodeFs;
    this.log = (opts.logger ?? silentLogger).child({ component: 'outbox' });
    this.dir = opts.dir;
    this.maxBytes = Math.max(64 * 1024, opts.maxBytes ?? 64 * 1024 * 1024);
    if (opts.maxBytes !== undefined && opts.maxBytes < this.maxBytes) this.log.warn('outbox maxBytes raised to the 64 KiB minimum', { asked: opts.maxBytes });
    const segmentBytes = Math.max(4096, Math.min(opts.segmentBytes ?? 4 * 1024 * 1024, Math.floor(this.maxBytes / 4)));
    this.store = new SegmentStore(this.fs, this.dir, segmentBytes);
    this.flushIntervalMs = Math.max(0, opts.flushIntervalMs ?? 200);
    this.maxBatch = Math.max(1, opts.maxBatch ?? 1024);
    this.memoryMaxBytes = Math.max(0, opts.memoryMaxBytes ?? 4 * 1024 * 1024);
    this.cacheBytes = Math.max(0, opts.cacheBytes ?? 8 * 1024 * 1024);
    this.diskRetryMs = Math.max(10, opts.diskRetryMs ?? 5000);
  }

  /** Opens (creating if needed) the outbox in opts.dir, recovering what a crash left. */
  static async open(opts: OutboxOptions): Promise<Outbox> {
    const ob = new Outbox(opts);
    try {
      await ob.load();
    } catch (e) {
      throw diskError(e, opts.dir, 'open', 0);
    }
    return ob;
  }

  private async load(): Promise<void> {
    const r = await recover(this.fs, this.dir, this.log, (rs) => {
      const seg: Segment = { name: rs.name, path: join(this.dir, rs.name), size: rs.size, live: 0, entries: [] };
      for (const f of rs.frames) {
        const e: Entry = { seq: f.record.seq, id: f.record.id, state: f.acked ? DONE : PENDING, seg, off: f.off, len: f.len };
        seg.entries.push(e);
        if (f.acked) continue;
        seg.live++;
        this.keep(e, f.record);
        this.q.add(e);
      }
      this.store.adopt(seg);
    });
    this.nextSeq = r.nextSeq;
    this.firstNew = r.nextSeq;
    this.corrupt = r.corrupt;
    this.tornBytes = r.tornBytes;
    this.acks = new AckLog(this.fs, this.dir, this.log, Math.max(4096, this.opts.ackLogMaxBytes ?? 256 * 1024), r.ackLogBytes);
    await this.deleteFinished();
    if (this.q.pending) this.log.info('outbox recovered unacknowledged records', { records: this.q.pending, segments: this.store.list.length });
  }

  /** Keeps a disk entry's decoded record in memory if the cache budget allows. */
  private keep(e: Entry, rec: OutboxRecord): void {
    if (this.cachedBytes + e.len > this.cacheBytes) return;
    e.rec = rec;
    e.cached = true;
    this.cachedBytes += e.len;
  }

  /** Resolves once the record is on disk. See the header for the disk-failure rejection. */
  append(rec: AppendRecord): Promise<void> {
    return this.appendMany([rec]);
  }

  /** Appends several records in order; resolves once all are on disk. */
  appendMany(recs: AppendRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(new XiotaError('XIOTA_E_OUTBOX', 'outbox is closed: open it again before appending', { dir: this.dir }));
    // Each field is measured, checked, then written once, straight into its frame.
    const sizes: number[] = [];
    for (const r of recs) {
      const id = String(r?.id ?? '');
      const idLen = Buffer.byteLength(id);
      const keyLen = this.keyBytes(String(r?.key ?? '')).length;
      const payloadLen = Buffer.isBuffer(r?.payload) ? r.payload.length : Buffer.byteLength(String(r?.payload ?? ''));
      if (!idLen || keyLen > MAX_ID || idLen > MAX_ID || payloadLen > MAX_PAYLOAD) {
        return Promise.reject(new XiotaError('XIOTA_E_OUTBOX',
          'outbox record rejected: it needs a non-empty id, a key and id under 64 KiB and a payload under 1 MiB',
          { id: id.slice(0, 80), payloadBytes: payloadLen }));
      }
      sizes.push(idLen, payloadLen);
    }
    const items: Item[] = [];
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i]!;
      const seq = this.nextSeq++;
      const keyText = String(r.key ?? '');
      const key = this.keyBytes(keyText);
      let id = String(r.id);
      const idLen = sizes[2 * i]!;
      // The record in memory says what a replay would read back (UTF-8 round trip).
      if (idLen !== id.length) id = Buffer.from(id, 'utf8').toString('utf8');
      const payloadIn = Buffer.isBuffer(r.payload) ? r.payload : String(r.payload ?? '');
      const { frame, payloadAt } = encodeRecordText(seq, key, id, idLen, payloadIn, sizes[2 * i + 1]!);
      const rec = { seq, key: this.lastKeyText!, id, payload: frame.subarray(payloadAt) };
      // In the queue at once (see "Not on the latency path"); seg is set once it is written.
      const entry: Entry = { seq, id, state: PENDING, off: 0, len: frame.length, rec };
      this.q.add(entry);
      items.push({ rec, frame, entry });
    }
    if (this.failing && Date.now() < this.retryAt) {
      const failing = this.failing;
      return new Promise<void>((resolve, reject) => this.holdInMemory(items, [{ resolve, reject }], failing));
    }
    for (const it of items) this.batch.push(it);
    // Every append of one batch is settled together (cycle(): one write and fdatasync, or one
    // failure), so they share one promise: none made per reading.
    let p = this.batchDone;
    if (!p) {
      p = this.batchDone = new Promise<void>((resolve, reject) => { this.waiters.push({ resolve, reject }); });
    }
    this.schedule();
    return p;
  }

  // The key repeats (one per node): its bytes, and the text a replay reads back, are kept.
  private lastKey?: string;
  private lastKeyBuf?: Buffer;
  private lastKeyText?: string;
  private keyBytes(key: string): Buffer {
    if (key !== this.lastKey || !this.lastKeyBuf) {
      this.lastKey = key;
      this.lastKeyBuf = Buffer.from(key, 'utf8');
      this.lastKeyText = this.lastKeyBuf.toString('utf8');
    }
    return this.lastKeyBuf;
  }

  /** Up to n records, oldest first, neither acked nor in flight; they become in flight. */
  take(n: number): Promise<OutboxRecord[]> {
    const picked = this.q.take(n);
    // The pump takes after every reading: when all are in memory (the usual case), no disk
    // read and no async function frame.
    for (const e of picked) if (!e.rec && e.seg) return this.readMissing(picked).then(() => recordsOf(picked));
    return Promise.resolve(recordsOf(picked));
  }

  /** Reads what take() did not have in memory, one read per run of adjacent frames. */
  private async readMissing(picked: Entry[]): Promise<void> {
    for (let a = 0; a < picked.length;) {
      const first = picked[a];
      const seg = first.seg;
      if (first.rec || !seg) { a++; continue; }
      let b = a + 1;
      while (b < picked.length && !picked[b].rec && picked[b].seg === seg && picked[b].off === picked[b - 1].off + picked[b - 1].len) b++;
      const run = picked.slice(a, b);
      a = b;
      const last = run[run.length - 1];
      let buf: Buffer;
      try {
        buf = await this.fs.readRange(seg.path, first.off, last.off + last.len - first.off);
      } catch (e) {
        if (run.every((x) => x.state === DONE)) continue; // its segment was dropped meanwhile
        for (const x of picked) this.q.unflight(x);
        throw diskError(e, seg.path, 'read', this.memoryMaxBytes);
      }
      const bodies = new Map(scanFrames(buf).frames.map((f) => [f.off + first.off, f.body]));
      for (const x of run) {
        const body = bodies.get(x.off);
        const rec = body && decodeRecord(body);
        // Not cached: once acked it is never needed again; if requeued it is read again.
        if (rec && rec.seq === x.seq) x.rec = rec;
        else if (x.state !== DONE) {
          this.corrupt++;
          this.log.warn('outbox record became unreadable on disk (crc mismatch); dropped', { path: seg.path, seq: x.seq });
          this.done(x);
        }
      }
    }
  }

  /** Puts every in-flight record back in front of the queue (after a disconnect). */
  requeueInFlight(): number {
    return this.q.requeueInFlight();
  }

  /**
   * Settles records by item id, in any order. Returns how many were found. The ids of one call
   * reach the ack log together (one frame, one write): an item of several readings is then
   * acknowledged on disk whole or not at all, even when some of its records were handed out
   * before their frame was written, so a replay after a crash finds either all of its readings
   * or none (what the pipeline's crash-safe grouping relies on).
   */
  ack(ids: string[]): number {
    const found: Entry[] = [];
    const unwritten: Entry[] = [];
    let again = 0;
    for (const id of ids) {
      const e = this.q.forAck(id);
      if (!e) continue;
      if (e.state === DONE) {
        again++; // acked before: its ack is recorded or on its way
        continue;
      }
      // Not on disk yet, and going to be (a record held in memory while the disk fails is
      // not written once acked: nothing to wait for).
      if (!e.seg && !e.frame) unwritten.push(e);
      this.done(e);
      found.push(e);
    }
    if (!found.length) return again;
    const written = found.filter((e) => e.seg).map((e) => e.seq);
    if (!unwritten.length) this.ackQueue.push(...written);
    else {
      const g: AckGroup = { seqs: written, left: unwritten.length };
      for (const e of unwritten) e.ackWith = g;
    }
    this.schedule();
    return found.length + again;
  }

  /** One unwritten member of an ack group is written (`seq`) or never will be (undefined). */
  private settleAck(e: Entry, seq: number | undefined): void {
    const g = e.ackWith!;
    e.ackWith = undefined;
    if (seq !== undefined) g.seqs.push(seq);
    if (--g.left === 0 && g.seqs.length) this.ackQueue.push(...g.seqs);
  }

  private done(e: Entry): boolean {
    if (!this.q.finish(e)) return false;
    if (e.cached) this.cachedBytes -= e.len;
    e.cached = false;
    e.rec = undefined;
    if (e.frame) {
      this.memoryBytes -= e.frame.length;
      e.frame = undefined;
    }
    if (e.seg) e.seg.live--;
    return true;
  }

  get pending(): number { return this.q.pending; }
  /** Records with a lower seq were recovered from disk: an earlier process may have sent them. */
  get firstNewSeq(): number { return this.firstNew; }
  get inFlight(): number { return this.q.inFlight; }

  status(): OutboxStatus {
    return {
      disk: this.failing ? 'failing' : 'ok',
      lastError: this.failing,
      pending: this.q.pending,
      inFlight: this.q.inFlight,
      memoryRecords: this.memEntries.filter((e) => e.state !== DONE).length,
      diskBytes: this.store.bytes,
      segments: this.store.list.length,
      dropped: this.dropped,
      corrupt: this.corrupt,
      tornBytes: this.tornBytes,
    };
  }

  // ---- writing -------------------------------------------------------------------------

  private schedule(): void {
    if (this.closed) return;
    if (this.batch.length >= this.maxBatch) this.kick();
    else if (!this.timer) this.timer = setTimeout(() => this.kick(), this.flushIntervalMs);
  }

  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.cycle().catch((e) => this.log.error('outbox flush failed', { err: e })).finally(() => {
      this.running = undefined;
      const again = this.again;
      this.again = false;
      if (again || this.batch.length >= this.maxBatch) this.kick();
      else if (this.batch.length || this.ackQueue.length) this.schedule();
    });
  }

  /** Writes everything queued so far; resolves when it is on disk (or held in memory). */
  async flush(): Promise<void> {
    while (this.running || this.batch.length || this.ackQueue.length) {
      if (!this.running) this.kick();
      await this.running;
    }
  }

  private async cycle(): Promise<void> {
    const items = this.batch;
    const waiters = this.waiters;
    this.batch = [];
    this.waiters = [];
    this.batchDone = undefined;
    const retryDue = !this.failing || Date.now() >= this.retryAt;
    if (items.length || (retryDue && this.memEntries.length)) {
      if (!retryDue) this.holdInMemory(items, waiters, this.failing!);
      else {
        try {
          await this.writeRecords(items);
          for (const w of waiters) w.resolve();
          if (this.failing) this.recovered();
        } catch (e) {
          const err = diskError(e, this.store.active?.path ?? this.dir, 'write', this.memoryMaxBytes);
          this.holdInMemory(items, waiters, err);
          this.fail(err);
        }
      }
    }
    const acks = this.ackQueue;
    this.ackQueue = [];
    if (acks.length) await this.acks.record(acks, this.store.list, this.nextSeq);
    await this.deleteFinished();
    await this.enforceBound();
  }

  private async writeRecords(items: Item[]): Promise<void> {
    const mem = this.memEntries.filter((e) => e.state !== DONE);
    const firstSeq = mem.length ? mem[0].seq : items[0].rec.seq;
    const frames = mem.map((e) => e.frame!).concat(items.map((i) => i.frame));
    const { seg, off: base } = await this.store.append(frames.length === 1 ? frames[0] : Buffer.concat(frames), firstSeq);
    let off = base;
    for (const e of mem.concat(items.map((i) => i.entry))) {
      this.placed(e, seg, off);
      off += e.len;
    }
    this.memEntries = this.memEntries.filter((e) => !e.seg && e.state !== DONE);
  }

  /**
   * A record's frame is on disk at seg/off now. Records written from the memory queue drop
   * their frame (done() already did if the record was acknowledged during the write); a
   * record acknowledged before its frame reached the disk has its ack logged after it.
   */
  private placed(e: Entry, seg: Segment, off: number): void {
    e.seg = seg;
    e.off = off;
    seg.entries.push(e);
    if (e.frame) {
      this.memoryBytes -= e.frame.length;
      e.frame = undefined;
    }
    if (e.state === DONE) {
      if (e.ackWith) this.settleAck(e, e.seq);
      else this.ackQueue.push(e.seq);
      return;
    }
    seg.live++;
    const rec = e.rec!;
    e.rec = undefined;
    this.keep(e, rec);
    if (!e.rec && e.state === IN_FLIGHT) e.rec = rec; // the sender holds it anyway
  }

  private holdInMemory(items: Item[], waiters: Waiter[], err: XiotaError): void {
    for (const it of items) {
      const e = it.entry;
      if (e.state === DONE) {
        // Already acknowledged by the server: nothing to keep, nothing to wait for.
        if (e.ackWith) this.settleAck(e, undefined);
        continue;
      }
      e.frame = it.frame;
      this.memEntries.push(e);
      this.memoryBytes += it.frame.length;
    }
    let records = 0;
    let bytes = 0;
    for (const e of this.memEntries) {
      if (this.memoryBytes <= this.memoryMaxBytes) break;
      if (e.state === DONE) continue;
      bytes += e.len;
      if (this.done(e)) records++;
    }
    if (records) {
      this.memEntries = this.memEntries.filter((e) => e.state !== DONE);
      this.reportDrop({ records, bytes, reason: 'memory-bound' });
    }
    for (const w of waiters) w.reject(err);
  }

  private fail(err: XiotaError): void {
    this.retryAt = Date.now() + this.diskRetryMs;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.retryAt = 0; // timers may fire a hair before Date.now() says the time is up
      this.kick();
    }, this.diskRetryMs);
    this.retryTimer.unref();
    const first = !this.failing || this.failing.detail.errno !== err.detail.errno;
    this.failing = err;
    if (!first) {
      this.log.debug('outbox disk still failing', { errno: err.detail.errno });
      return;
    }
    this.log.error(err.message, { path: err.detail.path, errno: err.detail.errno });
    this.opts.onError?.(err);
  }

  private recovered(): void {
    this.failing = undefined;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.log.info('outbox disk writable again; records held in memory are on disk now', { dir: this.dir });
    this.opts.onRecovered?.();
  }

  private reportDrop(info: DropInfo): void {
    this.dropped += info.records;
    this.log.warn(info.reason === 'size-bound'
      ? 'outbox full: dropped the oldest unacknowledged readings (raise outbox.maxBytes to keep more)'
      : 'outbox disk failing and memory queue full: dropped the oldest readings held in memory', { ...info });
    this.opts.onDrop?.(info);
  }

  // ---- acks, deletion, the size bound ----------------------------------------------------

  private async deleteFinished(): Promise<void> {
    for (const seg of this.store.list.slice()) {
      if (seg.live === 0 && seg !== this.store.active) await this.store.remove(seg).catch(() => undefined);
    }
  }

  /** Drop oldest: whole segments go, oldest first, until the outbox is within maxBytes. */
  private async enforceBound(): Promise<void> {
    let records = 0;
    let bytes = 0;
    const list = this.store.list;
    while (this.store.bytes > this.maxBytes && list.length > 1 && list[0] !== this.store.active) {
      const seg = list[0];
      for (const e of seg.entries) {
        if (e.state === DONE) continue;
        bytes += e.len;
        if (this.done(e)) records++;
      }
      try {
        await this.store.remove(seg);
      } catch (e) {
        this.log.warn('outbox could not delete an old segment', { path: seg.path, err: e });
        break;
      }
    }
    if (records) this.reportDrop({ records, bytes, reason: 'size-bound' });
  }

  /** Writes what is queued, records acks, closes files. Records still only in memory are lost. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const inMemory = this.memEntries.filter((e) => e.state !== DONE).length;
    if (inMemory) this.log.warn('outbox closed with readings held only in memory (disk failing); they are lost', { records: inMemory });
    await this.acks.close(true);
    await this.store.closeActive();
  }
}

/** The records of taken entries that are still wanted and in memory, in order. */
function recordsOf(picked: Entry[]): OutboxRecord[] {
  const out: OutboxRecord[] = [];
  for (const e of picked) if (e.state !== DONE && e.rec) out.push(e.rec);
  return out;
}
