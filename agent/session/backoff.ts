// Reconnect delays: capped exponential backoff with full jitter (delay = random(0, min(cap,
// base * 2^attempt))), so a fleet of boards does not reconnect in lockstep after a server
// restart. Reset after the session has been stable for a while.

export interface BackoffOptions {
  initialDelayMs?: number;
  maxDelayMs?: number;
  stableAfterMs?: number;
  random?: () => number;
}

export class Backoff {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly stableAfterMs: number;
  private readonly random: () => number;
  attempt = 0;

  constructor(o: BackoffOptions = {}) {
    this.initialDelayMs = o.initialDelayMs ?? 1000;
    this.maxDelayMs = Math.max(o.maxDelayMs ?? 60_000, this.initialDelayMs);
    this.stableAfterMs = o.stableAfterMs ?? 60_000;
    this.random = o.random ?? Math.random;
  }

  /** The ceiling for the current attempt (before jitter). */
  ceiling(): number {
    return Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** Math.min(this.attempt, 30));
  }

  next(): number {
    const d = this.random() * this.ceiling();
    this.attempt++;
    return d;
  }

  reset(): void {
    this.attempt = 0;
  }
}
