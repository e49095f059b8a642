// Stable PubSub item ids. An id is assigned ONCE, when a reading is accepted (before it goes
// to the outbox), and is stored with it; every later attempt to publish that reading, a
// retry after a timeout or a replay from the outbox after a reboot, reuses the same id, so
// the service overwrites the item instead of keeping a duplicate (XEP-0060 7.1.2: publishing
// an existing item id replaces that item). Never derive an id again at send time.
//
// Shape: `<instance>-<seq in base36>`, e.g. `mx5na0gx-1c`. The instance (the pipeline uses its
// start time in ms, base36) separates two agent processes that publish to one node, e.g. after
// a restart whose sequence began at 0 again; the sequence counts every id this allocator made,
// so two readings never share an id. The sample time is not in the id: the payload carries it
// (XEP-0323 `<timestamp value>`), and the id travels twice per reading (our publish and the
// server's result echo it), so every character counts on a metered link (10 characters here
// instead of 19 with a base36 sample time).

export class ItemIdAllocator {
  private seq = 0;
  private readonly prefix: string;

  /**
   * `instance`: a short string unique per agent start (e.g. start time in base36); may be ''
   * (then ids are unique only within this allocator).
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

  /** A new id. */
  next(): string {
    // Never reset. Base36 keeps it short (a million ids is 4 characters).
    const id = `${this.prefix}${this.seq.toString(36)}`;
    this.seq += 1;
    return id;
  }
}
