// One XML stream over one socket (RFC 6120 4): writes our stream header, parses the
// server's stream with a fresh parser at every restart, hands top-level elements to the
// session, and ends the stream with the right stream error when the peer misbehaves.
import type { Socket } from 'node:net';
import { XiotaError } from '../errors';
import { Element, escapeAttr, x } from '../xml/element';
import { StreamParser } from '../xml/parser';

/** Data this close behind the previous data means the server is busy sending (see nudge()). */
const NUDGE_BUSY_MS = 200;

export const NS_STREAM = 'http://etherx.jabber.org/streams';
export const NS_STREAMS_ERR = 'urn:ietf:params:xml:ns:xmpp-streams';
export const NS_CLIENT = 'jabber:client';

export interface ConnectionOptions {
  domain: string;
  maxStanzaBytes: number;
  maxDepth?: number;
}

type Waiter = { resolve: (el: Element) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

export class Connection {
  socket: Socket;
  private parser: StreamParser;
  private queue: Element[] = [];
  private waiters: Waiter[] = [];
  private headerWaiter?: { resolve: (a: Record<string, string>) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };
  /** Push mode (see deliverTo): elements go here instead of the queue. */
  private onElement?: (el: Element) => void;

  /**
   * Switches to push mode once the session is online: first every element that arrived
   * during negotiation without being asked for, in order, then each as it arrives. A server
   * may send stanzas in the same segment as <resumed/> or <enabled/> (Prosody resends its
   * unacked queue right there); leaving them in the queue lost iq results for good.
   */
  deliverTo(fn: (el: Element) => void): void {
    this.onElement = fn;
    for (const el of this.queue.splice(0)) fn(el);
  }
  /** Called once when the stream or socket is gone, with the reason. */
  onClose?: (err: XiotaError) => void;
  private closed = false;
  /** Our stream header went out on the socket this connection holds (reset when the socket goes to a TLS upgrade). */
  private streamOpen = false;
  streamAttrs: Record<string, string> = {};
  bytesIn = 0;
  bytesOut = 0;
  lastReceived = Date.now();

  constructor(socket: Socket, private readonly opts: ConnectionOptions) {
    this.socket = socket;
    this.parser = this.makeParser();
    this.attach(socket);
  }

  private makeParser(): StreamParser {
    return new StreamParser(
      {
        onStreamStart: (attrs, xmlns) => {
          // RFC 6120 4.9.3.10: the content namespace of a client stream is jabber:client.
          if (xmlns !== NS_CLIENT) return this.fail('invalid-namespace', `the server's stream content namespace is '${xmlns}', not jabber:client`);
          this.streamAttrs = attrs;
          const w = this.headerWaiter;
          if (w) {
            this.headerWaiter = undefined;
            clearTimeout(w.timer);
            w.resolve(attrs);
          }
        },
        onStanza: (el) => this.receive(el),
        onStreamEnd: () => this.terminate(new XiotaError('XIOTA_E_DISCONNECTED', 'the server closed the stream'), true),
        onError: (err) => this.fail(String(err.detail.condition ?? 'not-well-formed'), err.message),
      },
      { maxStanzaBytes: this.opts.maxStanzaBytes, maxDepth: this.opts.maxDepth },
    );
  }

  private readonly onData = (chunk: Buffer) => {
    this.bytesIn += chunk.length;
    this.prevReceived = this.lastReceived;
    this.lastReceived = Date.now();
    if (!this.inReadTurn) {
      this.inReadTurn = true;
      setImmediate(this.endReadTurn); // the check phase of this turn: after the data's promise jobs
    }
    this.parser.write(chunk);
  };
  private readonly onSocketClose = () => this.terminate(new XiotaError('XIOTA_E_DISCONNECTED', 'the connection was closed'));
  private readonly onSocketError = (err: Error & { code?: string }) =>
    this.terminate(new XiotaError('XIOTA_E_DISCONNECTED', `connection error: ${err.code ?? err.message}`, { sysCode: err.code }, { cause: err }));

  private attach(s: Socket): void {
    s.on('data', this.onData);
    s.on('close', this.onSocketClose);
    s.on('error', this.onSocketError);
  }

  private detach(s: Socket): void {
    s.off('data', this.onData);
    s.off('close', this.onSocketClose);
    s.off('error', this.onSocketError);
  }

  /** Hands the raw socket to a TLS upgrade: no more reading from it here. */
  releaseSocket(): Socket {
    this.streamOpen = false; // the next stream is opened on the TLS socket
    this.flushWrites(); // <starttls/> goes out on the plain socket, before the handshake
    this.detach(this.socket);
    return this.socket;
  }

  /** After STARTTLS: continue on the TLS socket. */
  adoptSocket(s: Socket): void {
    this.socket = s;
    this.attach(s);
  }

  private receive(el: Element): void {
    if (el.is('error', NS_STREAM)) {
      const cond = el.elements.find((c) => c.xmlns === NS_STREAMS_ERR && c.name !== 'text')?.name ?? 'undefined-condition';
      const text = el.getChildText('text', NS_STREAMS_ERR);
      this.terminate(new XiotaError('XIOTA_E_STREAM', `the server ended the stream: ${cond}${text ? ` (${text})` : ''}`, { condition: cond, remote: true }), true);
      return;
    }
    if (this.onElement) {
      this.onElement(el);
      return;
    }
    const w = this.waiters.shift();
    if (w) {
      clearTimeout(w.timer);
      w.resolve(el);
    } else {
      this.queue.push(el);
    }
  }

  /**
   * RFC 6120 4.7: opens (or, after TLS or SASL, restarts) our stream; resolves with the server's
   * header. `from` (our bare JID) only inside TLS (4.7.1): XEP-0388 servers offer SASL2 on it.
   */
  open(timeoutMs: number, from?: string): Promise<Record<string, string>> {
    // Ended already (stop() as the socket connected): no 20 s timer that nothing would clear.
    if (this.closed) return Promise.reject(new XiotaError('XIOTA_E_DISCONNECTED', 'the connection is closed'));
    this.parser.reset();
    this.queue = [];
    const p = new Promise<Record<string, string>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.headerWaiter = undefined;
        reject(new XiotaError('XIOTA_E_TIMEOUT', `the server did not open its stream within ${timeoutMs} ms`));
        this.destroy();
      }, timeoutMs);
      this.headerWaiter = { resolve, reject, timer };
    });
    this.streamOpen = true;
    this.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='${NS_STREAM}' to='${escapeAttr(this.opts.domain)}'${from ? ` from='${escapeAttr(from)}'` : ''} version='1.0' xml:lang='en'>`);
    return p;
  }

  /** Next top-level element during negotiation. */
  next(timeoutMs: number, what = 'a reply'): Promise<Element> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    if (this.closed) return Promise.reject(new XiotaError('XIOTA_E_DISCONNECTED', 'the connection is closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new XiotaError('XIOTA_E_TIMEOUT', `the server did not send ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push({ resolve, reject, timer });
    });
  }

  send(el: Element): void {
    this.write(el.toString());
  }

  write(s: string): void {
    if (this.closed) return;
    this.bytesOut += Buffer.byteLength(s);
    // What we write together goes out as one string: one socket write, one TLS record, one
    // syscall, one write callback (per-write cost dominates at small stanzas,
    // bench/publish-cpu.js; one string, not cork(), which keeps a request and a callback per
    // chunk). While the server's data is handled (see onData) that is everything until the
    // turn's check phase: the SM <a/> for its <r/> and the publishes its iq results made room
    // for, written from promise jobs. Otherwise (a timer's publish and our <r/>) it is the
    // rest of this tick: no extra loop turn for a write nobody will join.
    if (this.pending === undefined) {
      this.pending = s;
      if (!this.inReadTurn) process.nextTick(this.flushWrites);
    } else {
      this.pending += s;
    }
  }

  /**
   * Makes this read turn write something, if nothing else does, while the server is sending
   * busily (the previous data came within NUDGE_BUSY_MS). For what we answer with nothing (the
   * server's XEP-0198 <a/>): our kernel would hold its TCP ACK for that segment for its
   * delayed-ACK time (40 ms on Linux), and a server with Nagle on (Prosody) holds its next
   * small segment, say the next readout request, until that ACK comes. A single space, allowed
   * between stanzas (RFC 6120 4.6.1), carries the ACK now: momentary readout p99 at a slixmpp
   * reader 49 -> 4 ms (bench/readout.js). On a quiet link nothing is sent.
   */
  nudge(): void {
    if (this.inReadTurn && this.lastReceived - this.prevReceived <= NUDGE_BUSY_MS) this.nudgeWanted = true;
  }
  private prevReceived = 0;
  private nudgeWanted = false;

  /** What write() gathered, not yet handed to the socket. */
  private pending?: string;
  /** Set by onData until this loop turn's check phase: writes wait for endReadTurn. */
  private inReadTurn = false;
  private readonly flushWrites = (): void => {
    const s = this.pending;
    this.pending = undefined;
    if (s !== undefined && !this.socket.destroyed) this.socket.write(s);
  };
  private readonly endReadTurn = (): void => {
    this.inReadTurn = false;
    if (this.nudgeWanted) {
      this.nudgeWanted = false;
      if (this.pending === undefined && !this.closed) this.pending = ' ';
    }
    this.flushWrites();
  };

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Ends the stream with a stream error (RFC 6120 4.9) and closes; `appCondition` is an
   * application-specific condition (4.9.4), e.g. XEP-0198's <handled-count-too-high/>.
   */
  fail(condition: string, text: string, appCondition?: Element): void {
    if (this.closed) return;
    const err = x('stream:error', null, x(condition, { xmlns: NS_STREAMS_ERR }), x('text', { xmlns: NS_STREAMS_ERR }, text), appCondition ?? null);
    // The stream prefix is declared in our header; serialize by hand so no xmlns is emitted on stream:error.
    this.write(err.toString() + '</stream:stream>');
    this.terminate(new XiotaError('XIOTA_E_STREAM', `stream ended by us: ${condition}: ${text}`, { condition, remote: false }), true);
  }

  /** Graceful close (RFC 6120 4.4). */
  close(): void {
    if (this.closed) return;
    this.write('</stream:stream>');
    this.terminate(new XiotaError('XIOTA_E_DISCONNECTED', 'closed by the agent'), true);
  }

  /**
   * Ends a login in progress (stop() during negotiation): a stream we opened on a socket we still
   * hold is closed politely (RFC 6120 4.4); otherwise (nothing sent yet, or the socket is in a
   * TLS handshake) the socket is dropped.
   */
  abandon(): void {
    if (this.streamOpen) this.close();
    else this.destroy();
  }

  destroy(): void {
    this.terminate(new XiotaError('XIOTA_E_DISCONNECTED', 'connection dropped by the agent'));
  }

  private terminate(err: XiotaError, endSocket = false): void {
    if (this.closed) return;
    this.closed = true;
    // Format the stack now: until then V8 holds the frames' receivers (the parser mid-attack,
    // with all it had read), and this error lives on in 'offline' handlers and logs.
    void err.stack;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.waiters = [];
    if (this.headerWaiter) {
      clearTimeout(this.headerWaiter.timer);
      this.headerWaiter.reject(err);
      this.headerWaiter = undefined;
    }
    this.queue = [];
    this.onElement = undefined;
    const s = this.socket;
    if (endSocket) {
      this.flushWrites(); // the closing </stream:stream> or stream error goes before the FIN
      s.end();
      setTimeout(() => s.destroy(), 1000).unref();
    } else {
      this.pending = undefined;
      s.destroy();
    }
    this.onClose?.(err);
  }
}
