// An experiment for agent/session (bench/readout.ts, XIOTA_BENCH_ACK_NUDGE=1): answer the
// server's XEP-0198 <a/> with a whitespace keepalive (RFC 6120 4.6.1). Our kernel then ACKs the
// segment that carried the <a/> at once, with data, instead of after its delayed-ACK timer
// (40 ms on Linux): Prosody keeps Nagle on, so its next stanza to us waits for that ACK.
import type { XmppClient } from '../agent/session/client';

/** One ' ' per <a/> received (the 'acked' events of one <a/> come in one tick). */
export function nudgeAcks(client: XmppClient): void {
  let queued = false;
  client.on('acked', () => {
    if (queued) return;
    queued = true;
    process.nextTick(() => {
      queued = false;
      (client as unknown as { conn?: { write(s: string): void } }).conn?.write(' ');
    });
  });
}
