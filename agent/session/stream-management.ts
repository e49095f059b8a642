// XEP-0198 stream management, as pure state: counters, the queue of unacknowledged stanzas,
// and what to resend after a resumption or a new session. The session drives the wire.
// Counters are unsigned 32-bit and wrap (XEP-0198 4: "MUST wrap to zero at 2^32").
import { XiotaError } from '../errors';
import { Element, x } from '../xml/element';

export const NS_SM = 'urn:xmpp:sm:3';
const MOD = 2 ** 32;

export function wrap(n: number): number {
  return ((n % MOD) + MOD) % MOD;
}

/** Distance from a to b going forward in 32-bit arithmetic. */
export function forward(a: number, b: number): number {
  return wrap(b - a);
}

export class StreamManagement {
  /** Resumption id from <enabled/>, when the server allows resumption. */
  id?: string;
  /** Server's preferred reconnect location (XEP-0198 5), host[:port]. */
  location?: string;
  /** Seconds the server keeps the session for resumption. */
  max?: number;
  enabled = false;
  /** Last h the server acknowledged. */
  private ackedH = 0;
  /** Inbound stanzas handled by us (the h we report). */
  inbound = 0;
  /** Stanzas sent and not yet acknowledged, oldest first; unacked[i] is number ackedH+i+1. */
  private unacked: Element[] = [];
  /** Unacked stanzas of a session that was given up, not yet resent (see resetForNewSession). */
  private orphaned: Element[] = [];
  /** Stanzas counted since the last ack request (to request after bursts). */
  sinceRequest = 0;

  constructor(initialOutbound = 0) {
    this.ackedH = wrap(initialOutbound);
  }

  get pending(): number {
    return this.unacked.length;
  }

  get outbound(): number {
    return wrap(this.ackedH + this.unacked.length);
  }

  /** Called when <enabled/> arrives: counting starts now (XEP-0198 4). */
  onEnabled(el: Element): void {
    this.enabled = true;
    const resume = el.attrs.resume;
    this.id = resume === 'true' || resume === '1' ? el.attrs.id : undefined;
    this.location = el.attrs.location;
    const max = Number(el.attrs.max);
    this.max = Number.isFinite(max) && max > 0 ? max : undefined;
    this.ackedH = 0;
    this.inbound = 0;
    this.sinceRequest = 0;
  }

  /** A stanza left for the server: keep it until acknowledged. */
  sent(stanza: Element): void {
    this.unacked.push(stanza);
    this.sinceRequest++;
  }

  /** An inbound stanza was handled. */
  received(): void {
    this.inbound = wrap(this.inbound + 1);
  }

  /**
   * Applies an h from <a/>, <resumed/> or <failed/>: drops what it acknowledges and returns
   * those stanzas. An h beyond what we sent is a protocol violation (XEP-0198 4:
   * handled-count-too-high), raised as an error the session turns into a stream error.
   */
  ack(hAttr: string | undefined): Element[] {
    const h = Number(hAttr);
    if (hAttr === undefined || !/^\d+$/.test(hAttr) || h >= MOD) {
      throw new XiotaError('XIOTA_E_STREAM', `the server sent an ack with an invalid h='${hAttr}'`, { condition: 'undefined-condition' });
    }
    const n = forward(this.ackedH, h);
    if (n > this.unacked.length) {
      throw new XiotaError('XIOTA_E_STREAM', `the server acknowledged ${n} stanzas but only ${this.unacked.length} were unacknowledged (h=${h}, sent=${this.outbound})`, {
        condition: 'undefined-condition',
        smError: 'handled-count-too-high',
        h,
        sendCount: this.outbound,
      });
    }
    this.ackedH = h;
    return this.unacked.splice(0, n);
  }

  /** The unacked of a session given up by resetForNewSession(), and nothing else. */
  takeOrphaned(): Element[] {
    const out = this.orphaned;
    this.orphaned = [];
    return out;
  }

  /** Everything not acknowledged, oldest first: resend after <resumed/> or in a new session. */
  takeUnacked(): Element[] {
    const out = this.unacked;
    this.unacked = [];
    return out;
  }

  /**
   * Resumption failed or was never possible: a new session will start from zero. The
   * stanzas handed out stay in `orphaned` until takeOrphaned(): if the new session never
   * comes up, the client still holds them for the next one (nothing sent may be lost).
   */
  resetForNewSession(): Element[] {
    this.orphaned.push(...this.takeUnacked());
    const left = this.orphaned.slice();
    this.enabled = false;
    this.id = undefined;
    this.ackedH = 0;
    this.inbound = 0;
    this.sinceRequest = 0;
    return left;
  }

  enableElement(): Element {
    return x('enable', { xmlns: NS_SM, resume: 'true' });
  }

  resumeElement(): Element {
    return x('resume', { xmlns: NS_SM, previd: this.id ?? '', h: String(this.inbound) });
  }

  ackElement(): Element {
    return x('a', { xmlns: NS_SM, h: String(this.inbound) });
  }

  /** ackElement() serialized, without building an element (answered once per server request). */
  ackString(): string {
    return `<a xmlns='${NS_SM}' h='${this.inbound}'/>`;
  }

  requestElement(): Element {
    this.sinceRequest = 0;
    return x('r', { xmlns: NS_SM });
  }
}

/** True for elements XEP-0198 counts: stanzas (RFC 6120 8), not nonzas. */
export function isStanza(el: Element): boolean {
  return el.name === 'message' || el.name === 'presence' || el.name === 'iq';
}
