// The ack log (acks.log): acked seq ranges appended per flush, no fsync. At-least-once with
// stable item ids makes that safe: an ack lost to a power cut only means that item is
// published again after the restart, to the same item id. When the log outgrows its bound it
// is rewritten (write tmp, fdatasync, rename, fsync dir) to hold only what still matters: the
// next seq, and the acked ranges inside segments still on disk.
import { join } from 'node:path';
import type { Logger } from '../log';
import type { OutboxFile, OutboxFs } from './fs';
import { DONE, Segment } from './queue';
import { AckRange, encodeAckBase, encodeAckRanges, toRanges } from './record';
import { ACK_LOG } from './recover';

const RANGES_PER_FRAME = 65536;

export class AckLog {
  private file?: OutboxFile;

  constructor(
    private readonly fs: OutboxFs,
    private readonly dir: string,
    private readonly log: Logger,
    private readonly maxBytes: number,
    private bytes: number,
  ) {}

  /** Appends acks for seqs; compacts past maxBytes. Failures are logged, never thrown. */
  async record(seqs: number[], segments: Segment[], nextSeq: number): Promise<void> {
    const ranges = toRanges(seqs);
    try {
      if (!this.file) this.file = await this.fs.openAppend(join(this.dir, ACK_LOG));
      for (let i = 0; i < ranges.length; i += RANGES_PER_FRAME) {
        const buf = encodeAckRanges(ranges.slice(i, i + RANGES_PER_FRAME));
        await this.file.append(buf);
        this.bytes += buf.length;
      }
      if (this.bytes > this.maxBytes) await this.compact(segments, nextSeq);
    } catch (e) {
      this.log.debug('outbox could not record acks; those items would be sent again after a restart', { err: e });
    }
  }

  private async compact(segments: Segment[], nextSeq: number): Promise<void> {
    const ranges: AckRange[] = [];
    for (const seg of segments) {
      for (const e of seg.entries) {
        if (e.state !== DONE) continue;
        const last = ranges[ranges.length - 1];
        if (last && e.seq === last.start + last.count) last.count++;
        else ranges.push({ start: e.seq, count: 1 });
      }
    }
    const frames = [encodeAckBase(nextSeq)];
    for (let i = 0; i < ranges.length; i += RANGES_PER_FRAME) frames.push(encodeAckRanges(ranges.slice(i, i + RANGES_PER_FRAME)));
    const buf = Buffer.concat(frames);
    const tmp = join(this.dir, 'acks.tmp');
    await this.fs.unlink(tmp).catch(() => undefined);
    const f = await this.fs.openAppend(tmp);
    try {
      await f.append(buf);
      await f.datasync();
    } finally {
      await f.close();
    }
    await this.close();
    await this.fs.rename(tmp, join(this.dir, ACK_LOG));
    await this.fs.syncDir(this.dir);
    this.bytes = buf.length;
  }

  get size(): number { return this.bytes; }

  /** On a clean stop the acks are synced, so a restart does not republish them. */
  async close(sync = false): Promise<void> {
    const f = this.file;
    this.file = undefined;
    if (!f) return;
    if (sync) await f.datasync().catch(() => undefined);
    await f.close().catch(() => undefined);
  }
}
