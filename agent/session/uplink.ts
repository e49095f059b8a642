// How long our own bytes may still be queued on the way to the server, so a keepalive probe
// written behind a burst is not declared unanswered before it can even have arrived. On a
// slow link (8 KB/s) a window of publishes is seconds of queue: without this, the probe's
// timeout ran out while the link was busy, the agent dropped a healthy connection, resent the
// window on the next one, and did it again (measured: a reconnect every ~9 s, nothing drained).
//
// The uplink rate is learned from XEP-0198 acks: when the server acknowledges stanza h, every
// byte written up to that stanza has crossed the link. Bytes acknowledged between two acks,
// while the link stayed busy, over the time between them, is a sample of the rate. Before the
// first sample, the login's own bytes over its duration stand in: a floor (logins wait on
// round trips, not bandwidth), so the allowance errs long, never short.
import { forward } from './stream-management';

interface Mark { count: number; bytes: number }

export class UplinkEstimate {
  private marks: Mark[] = [];
  private ackedBytes = 0;
  private lastAckAt = 0;
  /** Bytes per second; 0 = nothing known yet. */
  rate = 0;

  /** A new connection: what was written on it so far (the login) and how long that took. */
  reset(bytesOut: number, loginMs: number): void {
    this.marks = [];
    this.ackedBytes = bytesOut;
    this.lastAckAt = 0;
    if (!this.rate && loginMs > 0) this.rate = Math.max(256, (bytesOut * 1000) / loginMs);
  }

  /** Stanza number `count` (XEP-0198 outbound counter) was written; `bytesOut` counts everything written so far. */
  sent(count: number, bytesOut: number): void {
    this.marks.push({ count, bytes: bytesOut });
    if (this.marks.length > 4096) this.marks.shift();
  }

  /** The server acknowledged up to `h` at `now`. */
  acked(h: number, now: number): void {
    let last: Mark | undefined;
    while (this.marks.length && forward(this.marks[0]!.count, h) < 2 ** 31) last = this.marks.shift();
    if (!last) return;
    const bytes = last.bytes - this.ackedBytes;
    // A sample only when the link was busy the whole time (more was queued behind), and big
    // enough that one round trip does not dominate it.
    if (this.lastAckAt && this.marks.length > 0 && bytes >= 2048) {
      const sample = (bytes * 1000) / Math.max(1, now - this.lastAckAt);
      this.rate = this.rate ? Math.max(this.rate * 0.5 + sample * 0.5, sample * 0.5) : sample;
    }
    this.ackedBytes = last.bytes;
    this.lastAckAt = now;
  }

  /** Time the bytes written but not yet acknowledged may still need on the link. */
  drainMs(bytesOut: number): number {
    if (!this.rate) return 0;
    return (Math.max(0, bytesOut - this.ackedBytes) * 1000) / this.rate;
  }
}
