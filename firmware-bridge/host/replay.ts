// Anti-replay for frame counters. Over a serial line frames arrive in order, so the window is 0
// and only `ctr > highest` passes. Over MQTT a broker may deliver QoS 1 messages twice and, across
// reconnects, out of order: a sliding window as DTLS keeps (RFC 6347 4.1.2.6, after RFC 4303
// 3.4.3) accepts a counter up to `size - 1` below the highest seen, once. The bitmap is a ring
// indexed by `ctr % size`: bits between the old and the new highest are cleared as it slides.
// check() never changes state; commit() is called only after the frame's MAC verified, so a
// forgery cannot move the window (flynn/noise GHSA-g9mp-8g3h-3c5c is that failure).

export type ReplayVerdict = 'ok' | 'old' | 'duplicate';

export class ReplayWindow {
  private highest = 0;
  private readonly bits: Uint32Array;

  /** `size`: 0 (strictly increasing) or a multiple of 32 up to 1024. */
  constructor(readonly size = 0) {
    if (size !== 0 && (size % 32 !== 0 || size > 1024)) throw new RangeError(`replay window ${size}: use 0 or a multiple of 32 up to 1024`);
    this.bits = new Uint32Array(Math.max(1, size / 32));
  }

  get last(): number { return this.highest; }

  /** Counter 0 is never valid after the handshake (frames are numbered from 1). */
  check(ctr: number): ReplayVerdict {
    if (ctr > this.highest) return 'ok';
    if (this.size === 0 || ctr === 0 || this.highest - ctr >= this.size) return 'old';
    return this.bit(ctr) ? 'duplicate' : 'ok';
  }

  commit(ctr: number): void {
    if (this.size === 0) { if (ctr > this.highest) this.highest = ctr; return; }
    if (ctr > this.highest) {
      if (ctr - this.highest >= this.size) this.bits.fill(0);
      else for (let c = this.highest + 1; c < ctr; c++) this.setBit(c, false);
      this.highest = ctr;
    }
    this.setBit(ctr, true);
  }

  reset(): void { this.highest = 0; this.bits.fill(0); }

  private bit(ctr: number): boolean { const i = ctr % this.size; return (this.bits[i >>> 5] & (1 << (i & 31))) !== 0; }
  private setBit(ctr: number, on: boolean): void {
    const i = ctr % this.size;
    if (on) this.bits[i >>> 5] |= 1 << (i & 31); else this.bits[i >>> 5] &= ~(1 << (i & 31));
  }
}
