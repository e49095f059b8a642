// Opening an outbox directory after a clean stop, a kill -9 or a power cut: read the ack log,
// scan every segment, cut torn tails, and hand back the records still owed to the server.
import { join } from 'node:path';
import type { Logger } from '../log';
import type { OutboxFs } from './fs';
import {
  AckRange, FRAME_HEADER, OutboxRecord, RECORD_HEADER, decodeAck, decodeRecord, scanFrames,
} from './record';

export const ACK_LOG = 'acks.log';
const SEGMENT_RE = /^seg-(\d{16})\.log$/;

export function segmentName(firstSeq: number): string {
  return `seg-${String(firstSeq).padStart(16, '0')}.log`;
}

export interface RecoveredFrame {
  off: number;
  /** Whole frame length on disk (header + body). */
  len: number;
  record: OutboxRecord;
}

export interface RecoveredSegment {
  name: string;
  firstSeq: number;
  /** Bytes of good frames (the file was cut to this). */
  size: number;
  /** Every good record in the file, in order; acked ones included, with acked: true. */
  frames: Array<RecoveredFrame & { acked: boolean }>;
}

export interface Recovered {
  segments: number;
  nextSeq: number;
  ackLogBytes: number;
  /** Records dropped from the middle of a file because their crc failed. */
  corrupt: number;
  /** Bytes cut from torn tails. */
  tornBytes: number;
}

/** Sorted, merged acked ranges with binary-search lookup. */
class AckedSet {
  private readonly ranges: AckRange[];
  constructor(ranges: AckRange[]) {
    ranges.sort((a, b) => a.start - b.start);
    const merged: AckRange[] = [];
    for (const r of ranges) {
      const last = merged[merged.length - 1];
      if (last && r.start <= last.start + last.count) {
        last.count = Math.max(last.count, r.start + r.count - last.start);
      } else merged.push({ ...r });
    }
    this.ranges = merged;
  }
  has(seq: number): boolean {
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.ranges[mid];
      if (seq < r.start) hi = mid - 1;
      else if (seq >= r.start + r.count) lo = mid + 1;
      else return true;
    }
    return false;
  }
  maxEnd(): number {
    const last = this.ranges[this.ranges.length - 1];
    return last ? last.start + last.count : 0;
  }
}

function isNotFound(e: unknown): boolean {
  return (e as { code?: unknown })?.code === 'ENOENT';
}

const validRecord = (body: Buffer) => decodeRecord(body) !== undefined;
const validAck = (body: Buffer) => decodeAck(body) !== undefined;

/**
 * Scans dir and calls onSegment for each segment in order, one at a time, so that at most one
 * segment's bytes are held here; the caller decides which payloads to keep in memory.
 */
export async function recover(
  fs: OutboxFs, dir: string, log: Logger, onSegment: (seg: RecoveredSegment) => void,
): Promise<Recovered> {
  await fs.mkdirp(dir);
  let corrupt = 0;
  let tornBytes = 0;
  let nextSeq = 0;

  // Ack log: a lost or torn tail only means those records are published again (at-least-once).
  const ackPath = join(dir, ACK_LOG);
  let ackBuf: Buffer = Buffer.alloc(0);
  try {
    ackBuf = await fs.readFile(ackPath);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  const ackScan = scanFrames(ackBuf, validAck);
  const ranges: AckRange[] = [];
  for (const f of ackScan.frames) {
    const a = decodeAck(f.body);
    if (a?.type === 'base') nextSeq = Math.max(nextSeq, a.nextSeq);
    else if (a?.type === 'acks') ranges.push(...a.ranges);
  }
  if (ackScan.end < ackBuf.length) {
    log.warn('outbox ack log had a torn tail; those acks are lost and their records will be sent again', {
      path: ackPath, droppedBytes: ackBuf.length - ackScan.end,
    });
    await fs.truncate(ackPath, ackScan.end);
  }
  const acked = new AckedSet(ranges);
  nextSeq = Math.max(nextSeq, acked.maxEnd());

  const names = (await fs.list(dir)).filter((n) => SEGMENT_RE.test(n)).sort();
  for (const name of names) {
    const path = join(dir, name);
    const firstSeq = Number(SEGMENT_RE.exec(name)![1]);
    nextSeq = Math.max(nextSeq, firstSeq);
    const buf = await fs.readFile(path);
    const scan = scanFrames(buf, validRecord);
    if (scan.corrupt) {
      corrupt += scan.corrupt;
      log.warn('outbox segment has corrupt records (crc mismatch); they are dropped, the records around them are kept', {
        path, corruptRecords: scan.corrupt,
      });
    }
    if (scan.end < buf.length) {
      tornBytes += buf.length - scan.end;
      log.warn('outbox segment had a torn tail (a write cut short by a crash or power loss); cut it off', {
        path, droppedBytes: buf.length - scan.end, keptRecords: scan.frames.length,
      });
      await fs.truncate(path, scan.end);
    }
    const frames: RecoveredSegment['frames'] = [];
    for (const f of scan.frames) {
      const record = decodeRecord(f.body)!;
      nextSeq = Math.max(nextSeq, record.seq + 1);
      frames.push({ off: f.off, len: FRAME_HEADER + f.body.length, record, acked: acked.has(record.seq) });
    }
    onSegment({ name, firstSeq, size: scan.end, frames });
  }
  return { segments: names.length, nextSeq, ackLogBytes: ackScan.end, corrupt, tornBytes };
}

export const RECORD_OVERHEAD = FRAME_HEADER + RECORD_HEADER;
