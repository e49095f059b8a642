// Stable PubSub item ids. An id is assigned ONCE, when a reading is accepted (before it goes
// to the outbox), and is stored with it; every later attempt to publish that reading, a
// retry after a timeout or a replay from the outbox after a reboot, reuses the same id, so
// the service overwrites the item instead of keeping a duplicate (XEP-0060 7.1.2: publishing
// an existing item id replaces that item). Never derive an id again at send time.
//
// Shape: `<timestamp in base36>-<seq in base36>`. The timestamp part sorts roughly by sample
// time and tells a reader when; the sequence part separates readings sampled in the same
// millisecond (several things, or a burst). The prefix (`instance`) separates two agent
// processes that publish to one node, e.g. after a restart whose sequence began at 0 again.

export class ItemIdAllocator {
  private seq = 0;
  private lastTs = -1;
  private readonly prefix: string;

  /** `instance`: a short string unique per agent start (e.g. boot time in base36); may be ''. */
  constructor(instance = '') {
    this.prefix = instance ? `${instance}-` : '';
  }

  /** A new id for a reading sampled at `timestampMs`. */
  next(timestampMs: number): string {
    const ts = Number.isFinite(timestampMs) && timestampMs >= 0 ? Math.floor(timestampMs) : 0;
    // The sequence restarts per millisecond so ids stay short; within one ms it counts up.
    if (ts !== this.lastTs) {
      this.lastTs = ts;
      this.seq = 0;
    } else {
      this.seq += 1;
    }
    return `${this.prefix}${ts.toString(36)}-${this.seq.toString(36)}`;
  }
}

/** The sample time encoded in an id made by ItemIdAllocator, or undefined for other ids. */
export function itemIdTimestamp(id: string): number | undefined {
  const m = /(?:^|-)([0-9a-z]+)-([0-9a-z]+)$/.exec(id);
  if (!m) return undefined;
  const n = Number.parseInt(m[1]!, 36);
  return Number.isFinite(n) ? n : undefined;
}
