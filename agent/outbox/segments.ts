// The outbox's segment files: which exist, which one is being appended to, how many bytes
// they hold. A new segment starts once the active one passes segmentBytes, and after every
// open: files from a previous run are never appended to (their tail may have been cut).
import { join } from 'node:path';
import type { OutboxFs } from './fs';
import type { Segment } from './queue';
import { segmentName } from './recover';

export class SegmentStore {
  readonly list: Segment[] = [];
  active?: Segment;
  /** Good bytes in all segments: what the size bound counts. */
  bytes = 0;

  constructor(private readonly fs: OutboxFs, private readonly dir: string, private readonly segmentBytes: number) {}

  /** Registers a segment found at open (never active). */
  adopt(seg: Segment): void {
    this.list.push(seg);
    this.bytes += seg.size;
  }

  /**
   * Appends buf to the active segment (starting one named after firstSeq if needed) and
   * fdatasyncs it. Returns the segment and the offset buf landed at. On failure the file is
   * cut back to its last frame boundary, or closed if even that fails.
   */
  async append(buf: Buffer, firstSeq: number): Promise<{ seg: Segment; off: number }> {
    const seg = await this.activeFor(firstSeq);
    const off = seg.size;
    try {
      await seg.file!.append(buf);
      await seg.file!.datasync();
    } catch (e) {
      try {
        await seg.file!.truncate(off);
      } catch {
        await this.closeActive();
      }
      throw e;
    }
    seg.size += buf.length;
    this.bytes += buf.length;
    return { seg, off };
  }

  private async activeFor(firstSeq: number): Promise<Segment> {
    if (this.active && this.active.size < this.segmentBytes) return this.active;
    await this.closeActive();
    const name = segmentName(firstSeq);
    const clash = this.list.find((s) => s.name === name);
    // Same first seq means that file's first write never succeeded: nothing good is in it.
    if (clash) await this.remove(clash);
    const seg: Segment = { name, path: join(this.dir, name), size: 0, live: 0, entries: [] };
    seg.file = await this.fs.openAppend(seg.path);
    this.list.push(seg);
    this.active = seg;
    await this.fs.syncDir(this.dir); // the new name must survive a power cut too
    return seg;
  }

  async closeActive(): Promise<void> {
    const seg = this.active;
    this.active = undefined;
    if (seg?.file) await seg.file.close().catch(() => undefined);
    if (seg) seg.file = undefined;
  }

  async remove(seg: Segment): Promise<void> {
    if (seg === this.active) await this.closeActive();
    try {
      await this.fs.unlink(seg.path);
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
    }
    const k = this.list.indexOf(seg);
    if (k >= 0) this.list.splice(k, 1);
    this.bytes -= seg.size;
  }
}
