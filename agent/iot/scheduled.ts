// Scheduled XEP-0323 readouts (`when`, answered with queued='true') kept in the state directory,
// so a readout promised before a restart is still carried out after it (XEP-0323 'Read-out all':
// the device answers `started` when the time comes). One small JSON file, written atomically
// (temporary file, fdatasync, rename, directory fsync) on every change, one write at a time; a
// file that does not parse is set aside with a warning rather than stopping the agent.
import { readFileSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { FIELD_KINDS, type FieldKind, type ReadoutRequest } from './readout';

export const SCHEDULED_FILE = 'readouts.json';

export interface ScheduledReadout {
  requester: string;
  seqnr: string;
  kinds: FieldKind[];
  nodes: string[];
  fields: string[];
  from?: number;
  to?: number;
  when: number;
  /** The request named history itself (agent/iot/history-readout.ts namesHistory). */
  explicit: boolean;
}

export function toScheduled(requester: string, r: ReadoutRequest, explicit: boolean): ScheduledReadout {
  return { requester, seqnr: r.seqnr, kinds: [...r.kinds], nodes: r.nodes, fields: r.fields, from: r.from, to: r.to, when: r.when ?? 0, explicit };
}

export function toRequest(s: ScheduledReadout): ReadoutRequest {
  const r: ReadoutRequest = { seqnr: s.seqnr, kinds: new Set(s.kinds), nodes: s.nodes, fields: s.fields, when: s.when };
  if (s.from !== undefined) r.from = s.from;
  if (s.to !== undefined) r.to = s.to;
  return r;
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

function valid(v: unknown): v is ScheduledReadout {
  const o = v as Partial<ScheduledReadout> | null;
  return !!o && typeof o.requester === 'string' && typeof o.seqnr === 'string' && typeof o.when === 'number'
    && isStrings(o.kinds) && o.kinds.every((k) => (FIELD_KINDS as readonly string[]).includes(k))
    && isStrings(o.nodes) && isStrings(o.fields) && typeof o.explicit === 'boolean'
    && (o.from === undefined || typeof o.from === 'number') && (o.to === undefined || typeof o.to === 'number');
}

export class ScheduledReadouts {
  readonly file: string;
  private readonly list = new Map<string, ScheduledReadout>();
  private writing: Promise<void> = Promise.resolve();

  constructor(stateDir: string, private readonly warn: (msg: string, f: Record<string, unknown>) => void) {
    this.file = join(stateDir, SCHEDULED_FILE);
  }

  private static key(requester: string, seqnr: string): string {
    return `${requester}\u0000${seqnr}`;
  }

  /** The readouts queued before the last stop (read once, at start). */
  load(): ScheduledReadout[] {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'ENOENT') this.warn('cannot read the scheduled readouts; they are not carried out', { file: this.file, error: e as Error });
      return [];
    }
    let parsed: unknown;
    try { parsed = JSON.parse(text); } catch { parsed = undefined; }
    if (!Array.isArray(parsed)) {
      this.warn('the scheduled readouts file does not parse; set aside, its readouts are not carried out', { file: this.file });
      void rename(this.file, `${this.file}.bad`).catch(() => undefined);
      return [];
    }
    const good = parsed.filter(valid);
    for (const s of good) this.list.set(ScheduledReadouts.key(s.requester, s.seqnr), s);
    return good;
  }

  add(s: ScheduledReadout): Promise<void> {
    this.list.set(ScheduledReadouts.key(s.requester, s.seqnr), s);
    return this.save();
  }

  remove(requester: string, seqnr: string): Promise<void> {
    if (!this.list.delete(ScheduledReadouts.key(requester, seqnr))) return this.writing;
    return this.save();
  }

  get size(): number {
    return this.list.size;
  }

  private save(): Promise<void> {
    const text = JSON.stringify([...this.list.values()]);
    const write = async () => {
      const tmp = `${this.file}.tmp`;
      const f = await open(tmp, 'w', 0o600);
      try {
        await f.writeFile(text);
        await f.datasync();
      } finally {
        await f.close();
      }
      await rename(tmp, this.file);
      const d = await open(dirname(this.file), 'r');
      try { await d.sync(); } finally { await d.close(); }
    };
    this.writing = this.writing.then(write, write).catch((e: Error) => {
      this.warn('cannot save the scheduled readouts; they are carried out unless the agent restarts first', { file: this.file, error: e });
    });
    return this.writing;
  }
}
