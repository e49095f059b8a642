// Per-JID rate limits for the chat interface: a token bucket per key, with the number of keys
// bounded (least recently seen goes first), so a flood from many forged or throwaway JIDs
// cannot grow memory. Pure apart from the injected clock.

export interface RateLimitOptions {
  /** Tokens a key starts with (the burst it may send at once). */
  burst: number;
  /** Tokens regained per second. */
  perSecond: number;
  /** Keys remembered at most (default 1000). */
  maxKeys?: number;
  now?: () => number;
}

interface Bucket { tokens: number; at: number }

export class RateLimit {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(private readonly o: RateLimitOptions) {
    this.now = o.now ?? Date.now;
    this.maxKeys = o.maxKeys ?? 1000;
  }

  /** Takes one token for `key`; false when it has none left. */
  take(key: string): boolean {
    const t = this.now();
    let b = this.buckets.get(key);
    if (b) {
      this.buckets.delete(key); // re-inserted below: Map order is recency order
      b.tokens = Math.min(this.o.burst, b.tokens + ((t - b.at) / 1000) * this.o.perSecond);
      b.at = t;
    } else {
      b = { tokens: this.o.burst, at: t };
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    }
    this.buckets.set(key, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }
}
