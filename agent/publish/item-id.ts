// Stable PubSub item ids. An id is assigned ONCE, when a reading is accepted (before it goes
// to the outbox), and is stored with it; every later attempt to publish that reading, a
// retry after a timeout or a replay from the outbox after a reboot, reuses the same id, so
// the service overwrites the item instead of keeping a duplicate (XEP-0060 7.1.2: publishing
// an existing item id replaces that item). Never derive an id again at send time.
//
// Shape: `<timestamp in base36>-<seq in base36>`. The timestamp part sorts roughly by sample
// time and tells a reader when; the sequence part counts every id this allocator made, so two
// readings never share an id even when stamps repeat or go backwards (a driver that delivers
// a reading sampled earlier after a later one). The prefix (`instance`) separates two agent
// processes that publish to one node, e.g. after a restart whose sequence began at 0 again.

export class ItemIdAllocator {
  private seq = 0;
  private readonly prefix: string;

  /**
   * `instance`: a short string unique per agent start (e.g. start time in base36); may be ''.
   * `startSeq`: where the sequence resumes (the outbox may persist it instead of an instance).
   */
  constructor(instance = '', startSeq = 0) {
    this.prefix = instance ? `${instance}-` : '';
    this.seq = Number.isSafeInteger(startSeq) && startSeq >= 0 ? startSeq : 0;
  }

  /** The sequence the next id will carry (to persist across restarts). */
  get nextSeq(): number {
    return this.seq;
  }

  /** A new id for a reading sampled at `timestampMs`. */
  next(timestampMs: number): string {
    const ts = Number.isFinite(timestampMs) && timestampMs >= 0 ? Math.floor(timestampMs) : 0;
    // Never reset: a per-millisecond sequence would repeat when stamps interleave. Base36
    // keeps it short (a million ids is 4 characters).
    const id = `${this.prefix}${ts.toString(36)}-${this.seq.toString(36)}`;
    this.seq += 1;
    return id;
  }
}

/** The sample time encoded in an id made by ItemIdAllocator, or undefined for other ids. */
export function itemIdTimestamp(id: string): number | undefined {
  const m = /(?:^|-)([0-9a-z]+)-([0-9a-z]+)$/.exec(id);
  if (!m) return undefined;
  const n = Number.parseInt(m[1]!, 36);
  return Number.isFinite(n) ? n : undefined;
}
