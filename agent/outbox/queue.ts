// In-memory bookkeeping of the outbox's unacked records: append order, which are in flight,
// lookup by item id for out-of-order acks. No I/O here; outbox.ts owns the disk.
import type { OutboxFile } from './fs';
import type { OutboxRecord } from './record';

export const PENDING = 0;
export const IN_FLIGHT = 1;
export const DONE = 2;

export interface Segment {
  name: string;
  path: string;
  /** Bytes of good frames in the file. */
  size: number;
  /** Entries neither acked nor dropped. 0 on a segment that is not active: delete it. */
  live: number;
  /** Every record in the file, done ones too (ack log compaction needs their seqs). */
  entries: Entry[];
  file?: OutboxFile;
}

export interface Entry {
  seq: number;
  id: string;
  state: number;
  /** Where the frame is on disk; undefined while the record is only in memory. */
  seg?: Segment;
  off: number;
  len: number;
  /** The decoded record, when held in memory. */
  rec?: OutboxRecord;
  /** Counted against the outbox's cache budget. */
  cached?: boolean;
  /** Encoded frame while the record lives only in memory (disk failing). */
  frame?: Buffer;
  /** Acked with others in one call before its frame was written: their acks wait for it (Outbox.ack). */
  ackWith?: AckGroup;
}

/** Seqs acknowledged together, recorded in the ack log only once `left` unwritten ones are written. */
export interface AckGroup { seqs: number[]; left: number }

export class RecordQueue {
  private queue: Entry[] = [];
  private head = 0;
  /** No PENDING entry lies before this index. */
  private cursor = 0;
  private readonly byId = new Map<string, Entry[]>();
  pending = 0;
  inFlight = 0;

  /** Entries must be added in seq order. */
  add(e: Entry): void {
    this.queue.push(e);
    const list = this.byId.get(e.id);
    if (list) list.push(e);
    else this.byId.set(e.id, [e]);
    if (e.state === PENDING) this.pending++;
    else if (e.state === IN_FLIGHT) this.inFlight++;
  }

  /** Up to n pending entries, oldest first, now marked in flight. */
  take(n: number): Entry[] {
    const picked: Entry[] = [];
    let i = Math.max(this.cursor, this.head);
    for (; i < this.queue.length && picked.length < n; i++) {
      const e = this.queue[i];
      if (e.state !== PENDING) continue;
      e.state = IN_FLIGHT;
      this.pending--;
      this.inFlight++;
      picked.push(e);
    }
    this.cursor = i;
    return picked;
  }

  unflight(e: Entry): void {
    if (e.state !== IN_FLIGHT) return;
    e.state = PENDING;
    this.inFlight--;
    this.pending++;
    this.cursor = this.head;
  }

  requeueInFlight(): number {
    let n = 0;
    for (let i = this.head; i < this.queue.length; i++) {
      if (this.queue[i].state === IN_FLIGHT) {
        this.unflight(this.queue[i]);
        n++;
      }
    }
    return n;
  }

  /** The entry an ack for this item id settles: the one in flight, else the oldest pending. */
  forAck(id: string): Entry | undefined {
    const list = this.byId.get(id);
    return list && (list.find((x) => x.state === IN_FLIGHT) ?? list[0]);
  }

  /** Marks e done; false when it already was. */
  finish(e: Entry): boolean {
    if (e.state === DONE) return false;
    if (e.state === IN_FLIGHT) this.inFlight--;
    else this.pending--;
    e.state = DONE;
    const list = this.byId.get(e.id);
    if (list) {
      const k = list.indexOf(e);
      if (k >= 0) list.splice(k, 1);
      if (!list.length) this.byId.delete(e.id);
    }
    while (this.head < this.queue.length && this.queue[this.head].state === DONE) this.head++;
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.cursor = Math.max(0, this.cursor - this.head);
      this.head = 0;
    }
    return true;
  }
}
