// When to publish a thing's readings. Pure: the caller passes `now` and sets the timer that
// nextDueAt() asks for, so every rule is tested with a fake clock.
//
// Rules (per thing; fields of one thing sampled together travel in one item):
// - A field changed when |new - old| > deadband (numeric/int, deadband per field or default,
//   0 = any difference), or new !== old (boolean/string/enum). A field going into or out of
//   error, or to another error text, is a change; a field appearing or disappearing is too.
// - A change is published at once if min_interval has passed since the last publish; else
//   it is held, and published at lastPublish + min_interval with the LATEST reading (readings
//   replace one another while held; the comparison baseline stays the last published one,
//   so slow drifts under the deadband per step still add up to a change).
// - max_interval since the last publish: publish the latest reading even unchanged, a
//   heartbeat, so subscribers and the last-published item stay fresh.
// - The first reading of a thing is always published.
import type { FieldValue, Reading, Value } from '../../drivers/types';

export interface PolicyOptions {
  /** Default deadband for numeric fields (absolute, in the field's unit). Default 0. */
  deadband?: number;
  /** Per-field deadband overrides by field name. */
  deadbands?: Record<string, number>;
  /** Minimum ms between two publishes of this thing. Default 0. */
  minIntervalMs?: number;
  /** Maximum ms without a publish while readings arrive (heartbeat). Default: none. */
  maxIntervalMs?: number;
}

export type Decision =
  | { publish: true; reason: 'first' | 'changed' | 'heartbeat'; reading: Reading }
  | { publish: false; reason: 'unchanged' | 'held'; dueAt?: number };

export class PublishPolicy {
  private readonly opts: Required<Pick<PolicyOptions, 'deadband' | 'minIntervalMs'>> & PolicyOptions;
  private lastPublished: Reading | undefined;
  private lastPublishAt = -Infinity;
  private latest: Reading | undefined;
  private pending = false;

  constructor(opts: PolicyOptions = {}) {
    this.opts = { ...opts, deadband: Math.max(0, opts.deadband ?? 0), minIntervalMs: Math.max(0, opts.minIntervalMs ?? 0) };
  }

  /** A new reading arrived at `now`: publish it now, or not (maybe later, see nextDueAt). */
  offer(reading: Reading, now: number): Decision {
    this.latest = reading;
    if (!this.lastPublished) return this.publish('first', now);
    const sinceLast = now - this.lastPublishAt;
    const changed = this.pending || this.changed(this.lastPublished, reading);
    if (changed) {
      if (sinceLast >= this.opts.minIntervalMs) return this.publish('changed', now);
      this.pending = true;
      return { publish: false, reason: 'held', dueAt: this.lastPublishAt + this.opts.minIntervalMs };
    }
    if (this.opts.maxIntervalMs !== undefined && sinceLast >= this.opts.maxIntervalMs) return this.publish('heartbeat', now);
    const due = this.nextDueAt();
    return due === undefined ? { publish: false, reason: 'unchanged' } : { publish: false, reason: 'unchanged', dueAt: due };
  }

  /**
   * When the caller should call tick() next: the held change's min_interval deadline, or the
   * heartbeat deadline; undefined when nothing is due (no reading yet, or no max_interval).
   */
  nextDueAt(): number | undefined {
    if (!this.latest) return undefined;
    if (this.pending) return this.lastPublishAt + this.opts.minIntervalMs;
    if (this.opts.maxIntervalMs !== undefined && Number.isFinite(this.lastPublishAt)) return this.lastPublishAt + this.opts.maxIntervalMs;
    return undefined;
  }

  /** Timer fired at `now`: the reading to publish (the latest), or undefined if nothing is due. */
  tick(now: number): Decision {
    if (!this.latest) return { publish: false, reason: 'unchanged' };
    const sinceLast = now - this.lastPublishAt;
    if (this.pending) {
      if (sinceLast >= this.opts.minIntervalMs) return this.publish('changed', now);
      return { publish: false, reason: 'held', dueAt: this.lastPublishAt + this.opts.minIntervalMs };
    }
    if (this.opts.maxIntervalMs !== undefined && sinceLast >= this.opts.maxIntervalMs) return this.publish('heartbeat', now);
    const due = this.nextDueAt();
    return due === undefined ? { publish: false, reason: 'unchanged' } : { publish: false, reason: 'unchanged', dueAt: due };
  }

  /** True while a change waits for its min_interval deadline. */
  get hasPending(): boolean {
    return this.pending;
  }

  private publish(reason: 'first' | 'changed' | 'heartbeat', now: number): Decision {
    const reading = this.latest!;
    this.lastPublished = reading;
    this.lastPublishAt = now;
    this.pending = false;
    return { publish: true, reason, reading };
  }

  private deadbandOf(field: string): number {
    const d = this.opts.deadbands?.[field];
    return d !== undefined && Number.isFinite(d) && d >= 0 ? d : this.opts.deadband;
  }

  /** Whether `next` differs from `prev` enough to publish (see the rules above). */
  changed(prev: Reading, next: Reading): boolean {
    const before = new Map<string, FieldValue>(prev.values.map((v) => [v.field, v]));
    if (before.size !== next.values.length) return true;
    for (const n of next.values) {
      const p = before.get(n.field);
      if (!p) return true;
      if ((p.error !== undefined) !== (n.error !== undefined) || p.error !== n.error) return true;
      if (n.error !== undefined) continue;
      if (valueChanged(p.value, n.value, this.deadbandOf(n.field))) return true;
    }
    return false;
  }
}

function valueChanged(a: Value | undefined, b: Value | undefined, deadband: number): boolean {
  if (typeof a === 'number' && typeof b === 'number') {
    if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) !== Number.isNaN(b);
    if (!Number.isFinite(a) || !Number.isFinite(b)) return a !== b;
    // Strictly greater: a deadband of 0.5 ignores a step of exactly 0.5 (a sensor's LSB noise).
    return deadband === 0 ? a !== b : Math.abs(b - a) > deadband;
  }
  return a !== b;
}
