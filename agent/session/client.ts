// The long-lived client session: connects, negotiates, stays online, notices dead links,
// resumes or starts over, and reconnects with capped exponential backoff and full jitter.
// Every state change is an event. Sockets and timers live here; protocol logic lives in
// negotiate.ts, stream-management.ts and router.ts.
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { XiotaError } from '../errors';
import { silentLogger, type Logger } from '../log';
import { ScramKeyCache } from '../sasl';
import type { Credentials } from '../sasl/types';
import { resolveEndpoints, type EndpointConfig, type SrvResolver } from '../transport/endpoints';
import type { TlsInfo, TlsOptions } from '../transport/tls';
import { Element, x } from '../xml/element';
import type { Connection } from './connection';
import { Backoff } from './backoff';
import { negotiate, type Negotiated, type NegotiateOptions } from './negotiate';
import { Router } from './router';
import { bareJid, parseJid, StanzaError } from './stanza';
import { isStanza, NS_SM, StreamManagement } from './stream-management';
import { NS_STREAM } from './connection';
import { UplinkEstimate } from './uplink';
import type { FastStore } from './fast-token';
import { NS_CSI } from './sasl2';

/** An <r/> this long after the previous one finds a quiet link: its <a/> may wait (answerAckRequest). */
const ACK_QUIET_MS = 250;
/** How long a deferred <a/> that is due waits for a stanza of ours to ride with, before it goes alone. */
const ACK_DEFER_MS = 2000;
/**
 * On a quiet link the <a/> is not due at our next stanza but after this many more stanzas
 * from the server, or ACK_LAZY_MS: servers ask again only once answered (ejabberd and
 * Prosody alike), so one <r/>/<a/> pair covers up to this many readings at 1/s instead of one
 * each (bench/wire.js, ejabberd: the <r/> is a TLS record of its own, 48 bytes down).
 */
const ACK_LAZY_STANZAS = 16;
/** The longest a quiet link's <a/> waits before it is due (Prosody's smacks_max_ack_delay is 30 s, ejabberd's ack_timeout 60 s). */
const ACK_LAZY_MS = 15_000;
/**
 * A stanza of ours this soon after the deferred <r/> takes the <a/> along: the server's <r/>
 * may not be TCP-acknowledged yet, and with Nagle its answer to us would wait behind our
 * delayed ACK (about 40 ms).
 */
const ACK_RIDE_MS = 50;
/**
 * A server that pushed us stanzas (not answers to our iqs) more often than this on average
 * since its previous <r/> is streaming to us: its next segment would come within our delayed
 * TCP ACK time, so the <a/> goes at once (answerAckRequest).
 */
const ACK_PUSH_GAP_MS = 50;

export type SessionState = 'offline' | 'connecting' | 'securing' | 'authenticating' | 'binding' | 'online' | 'waiting' | 'stopped';

export interface ClientOptions {
  jid: string;
  resource?: string;
  credentials: Credentials;
  server?: EndpointConfig;
  tls?: Omit<TlsOptions, 'servername'> & { servername?: string };
  allowPlain?: boolean;
  mechanisms?: string[];
  streamManagement?: boolean;
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
  /** Request an SM ack after this many stanzas in a burst. */
  ackEvery?: number;
  /** Request an SM ack at least this often while stanzas are unacknowledged. */
  ackIntervalMs?: number;
  /** On a quiet link, the longest our <a/> to the server's <r/> waits before it is due (default 15 s, under Prosody's 30 s and ejabberd's 60 s). */
  ackLazyMs?: number;
  maxStanzaBytes?: number;
  connectTimeoutMs?: number;
  iqTimeoutMs?: number;
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number; stableAfterMs?: number };
  /** Stanzas kept in memory while offline (beyond that the oldest are dropped, with a warning). */
  maxOfflineQueue?: number;
  log?: Logger;
  random?: () => number;
  resolveSrv?: SrvResolver;
  keyCache?: ScramKeyCache;
  /** XEP-0388 SASL2 when the server offers it (default true). */
  sasl2?: boolean;
  /**
   * XEP-0386 Bind 2 with SASL2: the server picks the resource from a tag (`resource` when
   * given, else `xiota`; ejabberd: `xiota.XXXX`, stable per user-agent id). Default: only when
   * no resource was given explicitly, so a configured
   * resource stays exactly what it says (SASL2 then binds the RFC 6120 way, one round trip more).
   */
  bind2?: boolean;
  /** XEP-0484 FAST: where tokens live (FileFastStore in the state directory). Without it FAST is off. */
  fast?: FastStore;
  /** XEP-0352: tell the server this client is inactive (it needs no contact presence pushed at once). */
  csiInactive?: boolean;
}

export interface OnlineInfo {
  jid: string;
  resumed: boolean;
  tls: TlsInfo;
  mechanism: string;
  sm: Negotiated['smState'];
  endpoint: string;
  features: Element;
  /** Authenticated with XEP-0388 SASL2; `fast.used`: with a XEP-0484 token, no password. */
  sasl2: boolean;
  fast: { used: boolean; issued: boolean };
}

/** `deadline` (Date.now() ms) is set only while online: see iq(). */
interface PendingIq { resolve: (el: Element) => void; reject: (e: Error) => void; to?: string; timeoutMs: number; deadline?: number }

export interface ClientEvents {
  state: [state: SessionState, detail: Record<string, unknown>];
  online: [info: OnlineInfo];
  offline: [err: XiotaError];
  error: [err: XiotaError];
  stanza: [stanza: Element];
  acked: [stanza: Element];
}

export class XmppClient extends EventEmitter<ClientEvents> {
  readonly router: Router;
  readonly log: Logger;
  readonly domain: string;
  readonly bare: string;
  jid = '';
  state: SessionState = 'offline';
  info?: OnlineInfo;
  private conn?: Connection;
  private sm?: StreamManagement;
  private readonly o: Required<Pick<ClientOptions, 'pingIntervalMs' | 'pingTimeoutMs' | 'ackEvery' | 'ackIntervalMs' | 'maxStanzaBytes' | 'connectTimeoutMs' | 'iqTimeoutMs' | 'maxOfflineQueue'>> & ClientOptions;
  private readonly backoff: Backoff;
  private readonly keyCache: ScramKeyCache;
  private iqs = new Map<string, PendingIq>();
  private offlineQueue: Element[] = [];
  private running = false;
  /** Bumped by start(), connectOnce() and stop(): a loop or login of an older generation ends and never goes online. */
  private gen = 0;
  /** The connection of a login in progress (negotiate), so stop() can end it. */
  private negotiating?: Connection;
  private loop?: Promise<void>;
  private wake?: () => void;
  private keepaliveTimer?: NodeJS.Timeout;
  private probeSentAt = 0;
  /** A deferred XEP-0198 <a/> (see answerAckRequest): until it is due, then waiting to ride with our next stanza. */
  private ackTimer?: NodeJS.Timeout;
  /** The deferred <a/> is due: it goes with our next stanza (or alone within ACK_DEFER_MS). */
  private ackDue = false;
  /** Stanzas the server sent (of any kind) since its last <r/>. */
  private receivedSinceAckRequest = 0;
  private lastAckRequestAt = 0;
  /** Stanzas the server pushed (anything but iq answers) since its last <r/>. */
  private pushedSinceAckRequest = 0;
  /** The probe's extra allowance: how long what we wrote before it may still be on the way. */
  private probeAllowanceMs = 0;
  private readonly uplink = new UplinkEstimate();
  private attemptStartedAt = 0;
  private onlineAt = 0;
  /** Resumed streams in a row that died with none of our <r/> answered after <resumed/> (see keepalive). */
  private silentResumes = 0;
  /** The server answered one of our <r/> (an <a/>) on the current connection (see keepalive). */
  private answeredSinceOnline = false;
  private sessionEnded: Promise<void> = Promise.resolve();
  private endSession: () => void = () => {};
  private nextId = 1;
  private readonly idPrefix = Math.random().toString(36).slice(2, 7);
  /** XEP-0386 Bind 2 tag; undefined: bind `resource` the RFC 6120 way. */
  private readonly bind2Tag?: string;
  /** Cleared when a server ended the stream over a pipelined <enable/> (it has no XEP-0198). */
  private speculateSm = true;
  /** XEP-0352 <inactive/> already said on the current connection. */
  private csiSent = false;

  constructor(opts: ClientOptions) {
    super();
    const j = parseJid(opts.jid);
    this.domain = j.domain;
    this.bare = bareJid(opts.jid);
    this.o = {
      pingIntervalMs: 60_000,
      pingTimeoutMs: 20_000,
      ackEvery: 32,
      ackIntervalMs: 30_000,
      maxStanzaBytes: 256 * 1024,
      connectTimeoutMs: 20_000,
      iqTimeoutMs: 30_000,
      maxOfflineQueue: 10_000,
      ...opts,
      resource: opts.resource ?? j.resource ?? `xiota-${hostname()}`,
    };
    // XEP-0386 5: the tag shows in the full JID, so no hostname in it unless the user chose it.
    if (opts.bind2 ?? (opts.resource === undefined && j.resource === undefined)) this.bind2Tag = opts.resource ?? j.resource ?? 'xiota';
    this.log = opts.log ?? silentLogger;
    this.keyCache = opts.keyCache ?? new ScramKeyCache();
    this.backoff = new Backoff({ ...opts.reconnect, random: opts.random });
    this.router = new Router((el) => this.send(el), this.log);
    this.on('error', () => {}); // an unwatched error event must not crash the agent
  }

  private setState(s: SessionState, detail: Record<string, unknown> = {}): void {
    if (this.state === s) return;
    this.state = s;
    this.emit('state', s, detail);
  }

  /** One attempt: resolves when online, rejects with the reason (for `xiota check`). */
  async connectOnce(): Promise<OnlineInfo> {
    this.running = false;
    return this.attempt(++this.gen);
  }

  /** Stays online until stop(): reconnects with backoff after every failure. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.runLoop(++this.gen);
  }

  private async runLoop(gen: number): Promise<void> {
    while (this.running && gen === this.gen) {
      try {
        // start() after connectOnce(): keep the session that is up, do not open a second one
        // (that would resume it from a new socket while the old one still delivers).
        if (!this.conn) await this.attempt(gen);
        // Wait for this session to end. A promise made in goOnline, not an 'offline'
        // listener added here: a drop right after 'online' (before this line runs) must
        // not be missed.
        await Promise.race([this.sessionEnded, new Promise<void>((resolve) => (this.wake = resolve))]);
      } catch (e) {
        // An attempt that stop() ended (it ends a login in progress) failed by our own hand:
        // not an error to report (the hostile test saw XIOTA_E_DISCONNECTED after stop()).
        if (!this.running || gen !== this.gen) break;
        const err = e instanceof XiotaError ? e : new XiotaError('XIOTA_E_CONNECT', String((e as Error)?.message ?? e));
        this.emit('error', err);
        this.log.warn('connection attempt failed', { code: err.code, error: err.message });
      }
      if (!this.running || gen !== this.gen) break;
      // Reset the backoff after a stable period online (a flapping link keeps backing off).
      if (this.onlineAt && Date.now() - this.onlineAt >= this.backoff.stableAfterMs) this.backoff.reset();
      this.onlineAt = 0;
      const delay = this.backoff.next();
      this.setState('waiting', { delayMs: Math.round(delay) });
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    if (gen === this.gen) this.setState('stopped');
  }

  private async attempt(gen: number): Promise<OnlineInfo> {
    this.setState('connecting');
    this.attemptStartedAt = Date.now();
    const endpoints = await resolveEndpoints(this.domain, this.o.server ?? {}, this.o.resolveSrv);
    let lastErr: unknown;
    for (const ep of endpoints) {
      try {
        const n = await negotiate(ep, this.negotiateOptions(gen));
        return this.goOnline(n, gen);
      } catch (e) {
        lastErr = e;
        if (e instanceof XiotaError && e.detail.smUnsupported) {
          this.speculateSm = false;
          this.log.info('the server has no stream management: no more <enable/> ahead of its features');
        }
        this.keepOrphans();
        // Authentication and certificate failures will not differ on the next SRV target.
        if (e instanceof XiotaError && /SASL|TLS/.test(e.code)) break;
      }
    }
    throw lastErr;
  }

  /** `gen`: the start the login belongs to; a stop() since then ends its connection at once. */
  private negotiateOptions(gen?: number): NegotiateOptions {
    return {
      domain: this.domain,
      resource: this.o.resource!,
      credentials: this.o.credentials,
      tls: { servername: this.o.tls?.servername ?? this.domain, ...this.o.tls },
      allowPlain: this.o.allowPlain ?? false,
      mechanisms: this.o.mechanisms,
      keyCache: this.keyCache,
      maxStanzaBytes: this.o.maxStanzaBytes,
      timeoutMs: this.o.connectTimeoutMs,
      sm: this.sm,
      useSm: this.o.streamManagement ?? true,
      log: this.log,
      step: (s) => this.setState(s),
      bareJid: this.bare,
      sasl2: this.o.sasl2,
      bind2Tag: this.bind2Tag,
      fast: this.o.fast,
      csiInactive: this.o.csiInactive,
      speculateSm: this.speculateSm,
      onConnection: gen === undefined ? undefined : (c) => {
        this.negotiating = c;
        if (gen !== this.gen) c.destroy();
      },
    };
  }

  /**
   * Ends the session and logs this installation out: the XEP-0484 token is invalidated on the
   * server (4.4: authenticate with it once more, `invalidate='true'`) and forgotten here.
   * Resolves true when the server confirmed. The password still works afterwards.
   */
  async logout(): Promise<boolean> {
    await this.stop();
    const store = this.o.fast;
    if (!store?.get(this.bare)) return false;
    try {
      for (const ep of await resolveEndpoints(this.domain, this.o.server ?? {}, this.o.resolveSrv)) {
        try {
          const n = await negotiate(ep, { ...this.negotiateOptions(), sm: undefined, step: undefined, invalidateFastOnly: true });
          n.conn.close();
          return true;
        } catch (e) {
          this.log.warn('could not invalidate the FAST token on the server; forgetting it here', { error: (e as Error).message });
          if (e instanceof XiotaError && /SASL|TLS/.test(e.code)) break;
        }
      }
      return false;
    } finally {
      store.clear();
    }
  }

  // negotiate() gives up the previous SM session (<failed/>, or not resumable) before it
  // binds, and hands its unacked stanzas over only with a new session. When the attempt dies
  // in between, they would be lost with it: queue them ahead of anything sent since, and
  // forget the dead session so the next attempt starts a new one (XEP-0198 5).
  private keepOrphans(): void {
    const sm = this.sm;
    if (!sm || sm.enabled) return;
    this.sm = undefined;
    const left = sm.takeOrphaned();
    if (left.length) {
      this.offlineQueue.unshift(...left);
      this.log.info('kept unacknowledged stanzas for the next session', { count: left.length });
    }
  }

  private goOnline(n: Negotiated, gen: number): OnlineInfo {
    const conn = n.conn;
    this.negotiating = undefined;
    if (gen !== this.gen) {
      // stop() came while the login finished: end it instead of going online.
      conn.close();
      throw new XiotaError('XIOTA_E_DISCONNECTED', 'the agent is stopping');
    }
    this.conn = conn;
    // A deferred <a/> belonged to the previous stream (a resumption tells the server our h).
    this.cancelAck();
    this.lastAckRequestAt = 0;
    this.pushedSinceAckRequest = 0;
    if (n.jid) this.jid = n.jid;
    const resumed = n.smState === 'resumed';
    if (!resumed) this.silentResumes = 0;
    this.sm = n.sm;
    this.sessionEnded = new Promise<void>((resolve) => (this.endSession = resolve));
    conn.onClose = (err) => this.onConnClose(conn, err);
    this.onlineAt = Date.now();
    this.uplink.reset(conn.bytesOut, this.onlineAt - this.attemptStartedAt);
    const info: OnlineInfo = {
      jid: this.jid,
      resumed,
      tls: n.tls,
      mechanism: n.mechanism,
      sm: n.smState,
      endpoint: `${n.endpoint.host}:${n.endpoint.port}${n.endpoint.directTls ? ' (direct TLS)' : ''}`,
      features: n.features,
      sasl2: n.sasl2,
      fast: n.fast,
    };
    this.info = info;
    this.csiSent = n.inactive;
    if (n.smOffered !== undefined) this.speculateSm = n.smOffered;
    this.setState('online', { jid: this.jid, resumed, sm: n.smState, tls: n.tls.version, mechanism: n.mechanism });
    this.scheduleKeepalive();
    // XEP-0198 5: after <resumed/>, resend what the server did not get, in order.
    const resend = resumed ? this.sm!.takeUnacked() : n.orphaned.filter((s) => !(s.name === 'presence' && !s.attrs.to));
    // A resumed session continues the old stream: its backlog goes first, so nothing an
    // 'online' handler sends overtakes older stanzas. A new session announces itself first
    // ('online' handlers send initial presence), then the backlog.
    if (resumed) for (const s of resend) this.write(s);
    else this.rejectLostIqs([...resend, ...this.offlineQueue]);
    this.emit('online', info);
    for (const p of this.iqs.values()) this.armIq(p);
    if (!resumed) for (const s of resend) this.write(s);
    const queued = this.offlineQueue.splice(0);
    for (const s of queued) this.write(s);
    this.maybeRequestAck();
    this.maybeInactive(n.features);
    // Inbound from here on, starting with what the server sent right behind <resumed/> or
    // <enabled/> (its resent backlog), after our own backlog went out. Only the current
    // connection speaks for the session: a superseded socket can still deliver what was in
    // flight, and counting it would over-report h (XEP-0198 4).
    this.answeredSinceOnline = false;
    conn.deliverTo((el) => {
      if (this.conn === conn) this.onElement(el);
    });
    return info;
  }

  /**
   * A new session (not resumed): requests the old server acknowledged but never answered
   * will get no answer now (the session that owed it is gone), and nothing resends them.
   * Fail them at once so callers retry, instead of waiting for their timeouts.
   */
  private rejectLostIqs(willSend: Element[]): void {
    const keep = new Set(willSend.filter((s) => s.name === 'iq').map((s) => s.attrs.id));
    for (const [id, p] of this.iqs) {
      if (keep.has(id)) continue;
      this.iqs.delete(id);
      p.reject(new XiotaError('XIOTA_E_DISCONNECTED', 'the session that owed this reply ended (new session after a failed resumption)'));
    }
    this.iqSettled();
  }

  private onConnClose(conn: Connection, err: XiotaError): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    // The server answered on this stream: not a stuck parser (keepalive).
    if (this.answeredSinceOnline) this.silentResumes = 0;
    this.endSession();
    this.clearKeepalive();
    this.clearIqTimer();
    for (const [id, p] of this.iqs) {
      p.deadline = undefined;
      if (!this.sm) {
        // Without stream management nothing is resent, so these replies will never come.
        // (With it, the request is resent on resumption or in the new session.)
        this.iqs.delete(id);
        p.reject(new XiotaError('XIOTA_E_DISCONNECTED', 'the connection dropped before the reply arrived', { reason: err.message }));
      }
    }
    this.log.info('offline', { reason: err.message, code: err.code, unacked: this.sm?.pending ?? 0 });
    this.setState('offline', { reason: err.message, condition: err.detail.condition });
    this.emit('offline', err);
  }

  private onElement(el: Element): void {
    const sm = this.sm;
    if (el.xmlns === NS_SM) {
      if (!sm) return;
      // XEP-0198 4: answered in this loop turn while an iq of ours is unanswered or the
      // server streams pushes to us (it shares a socket write with whatever else we send in
      // the turn: Connection gathers a turn's writes); deferring then cost latency, since the
      // server's next segment waits behind a delayed TCP ACK and Nagle (p50 2 -> 15 ms,
      // bench/publish-cpu.js). Otherwise it rides with our next stanza, and on a quiet link
      // one answers many requests: answerAckRequest.
      if (el.name === 'r') this.answerAckRequest(sm);
      else if (el.name === 'a') {
        try {
          for (const s of sm.ack(el.attrs.h)) this.emit('acked', s);
          this.uplink.acked(Number(el.attrs.h), Date.now());
          this.probeSentAt = 0;
          this.answeredSinceOnline = true;
          this.conn?.nudge(); // our TCP ACK for it leaves now, not after the delayed-ACK time
        } catch (e) {
          const err = e as XiotaError;
          this.log.warn('bad ack from the server', { error: err.message });
          this.failStream(err);
        }
      }
      return;
    }
    if (el.is('features', NS_STREAM)) {
      // XEP-0388 2.6.1: after SASL2 with Bind 2 the server may still send its features.
      this.maybeInactive(el);
      return;
    }
    if (!isStanza(el)) {
      this.log.debug('ignoring unknown top-level element', { name: el.name, xmlns: el.xmlns });
      return;
    }
    // RFC 6120 4.9.3.10 / 4.8.3: stanzas on a client stream are in jabber:client.
    if (el.xmlns !== 'jabber:client') {
      this.failStream(new XiotaError('XIOTA_E_STREAM', `a <${el.name}/> in namespace '${el.xmlns}' on a client stream`, { condition: 'invalid-namespace' }));
      return;
    }
    sm?.received();
    this.emit('stanza', el);
    const answer = el.name === 'iq' && (el.attrs.type === 'result' || el.attrs.type === 'error');
    if (!answer) this.pushedSinceAckRequest++;
    if (this.ackTimer && !this.ackDue) this.lazyAckCheck();
    if (answer) {
      this.onIqResponse(el);
      return;
    }
    void this.router.dispatch(el);
  }

  /** XEP-0352 3: a nonza, sent once per connection, only where the server offers CSI. */
  private maybeInactive(features: Element): void {
    if (!this.o.csiInactive || this.csiSent || !this.conn || !features.getChild('csi', NS_CSI)) return;
    this.csiSent = true;
    this.conn.send(x('inactive', { xmlns: NS_CSI }));
  }

  private failStream(err: XiotaError): void {
    const cond = String(err.detail.condition ?? 'undefined-condition');
    const conn = this.conn;
    if (!conn) return;
    if (err.detail.smError === 'handled-count-too-high') {
      // XEP-0198 4: undefined-condition with <handled-count-too-high/>.
      // Through fail(): the offline event then names the condition, and the socket is ended
      // (not destroyed), so the error reaches the server before the close.
      conn.fail('undefined-condition', err.message, x('handled-count-too-high', { xmlns: NS_SM, h: String(err.detail.h), 'send-count': String(err.detail.sendCount) }));
      return;
    }
    conn.fail(cond, err.message);
  }

  private onIqResponse(el: Element): void {
    const id = el.attrs.id;
    const p = id !== undefined ? this.iqs.get(id) : undefined;
    if (!p) {
      // A response to nothing we sent: dropped (RFC 6120 8.2.3 gives it no meaning).
      this.log.debug('iq response with an unknown id ignored', { id, from: el.attrs.from });
      return;
    }
    // RFC 6120 10.1 / 8.1.2.1: only the entity we asked may answer (an absent 'to' means our
    // account, which answers as our bare JID, the domain, or with no 'from'; so does a request
    // sent to our own bare JID, e.g. our PEP service: Prosody answers it with no 'from').
    const from = el.attrs.from;
    const ok = p.to ? from === p.to || (from === undefined && p.to === this.bare) || (from !== undefined && bareJid(from) === bareJid(p.to) && !p.to.includes('/')) : from === undefined || from === this.bare || from === this.domain || from === this.jid;
    if (!ok) {
      this.log.warn('iq response from an unexpected sender ignored', { id, from, expected: p.to ?? this.bare });
      return;
    }
    this.iqs.delete(id!);
    this.iqSettled();
    if (el.attrs.type === 'result') p.resolve(el);
    else p.reject(StanzaError.fromStanza(el));
  }

  /** Sends a stanza now, or keeps it until the session is back (bounded). */
  send(el: Element): void {
    if (this.conn && this.state === 'online') {
      this.write(el);
      return;
    }
    this.offlineQueue.push(el);
    if (this.offlineQueue.length > this.o.maxOfflineQueue) {
      this.offlineQueue.shift();
      this.log.warn('offline queue full: dropped the oldest stanza', { max: this.o.maxOfflineQueue });
    }
  }

  private write(el: Element): void {
    const conn = this.conn;
    if (!conn) {
      this.offlineQueue.push(el);
      return;
    }
    if (this.ackTimer && (this.ackDue || Date.now() - this.lastAckRequestAt < ACK_RIDE_MS)) this.flushAck();
    if (this.sm && isStanza(el)) this.sm.sent(el);
    conn.send(el);
    if (this.sm && isStanza(el)) this.uplink.sent(this.sm.outbound, conn.bytesOut);
    this.maybeRequestAck();
  }

  private maybeRequestAck(): void {
    const sm = this.sm;
    if (!sm || !this.conn) return;
    if (sm.sinceRequest >= this.o.ackEvery) {
      this.conn.send(sm.requestElement());
      if (!this.probeSentAt) this.markProbe(this.conn);
    }
  }

  /** RFC 6120 8.2.3: sends an iq get/set and resolves with the result (rejects with StanzaError). */
  iq(req: Element, timeoutMs = this.o.iqTimeoutMs): Promise<Element> {
    if (!req.attrs.id) req.attrs.id = `${this.idPrefix}${(this.nextId++).toString(36)}`;
    const id = req.attrs.id;
    return new Promise((resolve, reject) => {
      // The timeout runs only while online: with stream management a request survives a
      // drop (it is resent on resumption or in the new session), so time offline is not
      // the peer's fault, and a timeout there would make callers send it twice.
      const p: PendingIq = { resolve, reject, to: req.attrs.to, timeoutMs };
      this.iqs.set(id, p);
      if (this.state === 'online') this.armIq(p);
      this.send(req);
    });
  }

  // One timer for every pending iq, due at the earliest deadline, not a timer per request:
  // a publisher sends an iq per item, and creating and clearing a timer for each cost about
  // as much as parsing its result (bench/publish-cpu.js, lite mode). An answered request
  // just leaves the map; the timer finds nothing due and moves on to the next deadline.
  private iqTimer?: NodeJS.Timeout;
  private iqTimerDue = 0;
  private iqTimerRefed = false;

  private armIq(p: PendingIq): void {
    const due = Date.now() + p.timeoutMs;
    p.deadline = due;
    if (this.iqTimer === undefined || due < this.iqTimerDue) this.scheduleIqTimer(due);
    else if (!this.iqTimerRefed) {
      this.iqTimerRefed = true;
      this.iqTimer.ref();
    }
  }

  /** A request left the map: with none pending, the timer must not keep the process alive. */
  private iqSettled(): void {
    if (this.iqs.size === 0 && this.iqTimerRefed && this.iqTimer) {
      this.iqTimerRefed = false;
      this.iqTimer.unref();
    }
  }

  private scheduleIqTimer(due: number): void {
    if (this.iqTimer !== undefined) clearTimeout(this.iqTimer);
    this.iqTimerDue = due;
    this.iqTimerRefed = true;
    this.iqTimer = setTimeout(this.onIqTimer, Math.max(0, due - Date.now()));
  }

  private clearIqTimer(): void {
    if (this.iqTimer !== undefined) clearTimeout(this.iqTimer);
    this.iqTimer = undefined;
  }

  private readonly onIqTimer = (): void => {
    this.iqTimer = undefined;
    const now = Date.now();
    let next = Infinity;
    for (const [id, p] of this.iqs) {
      const d = p.deadline;
      if (d === undefined) continue;
      if (d > now) {
        if (d < next) next = d;
        continue;
      }
      this.iqs.delete(id);
      p.reject(new XiotaError('XIOTA_E_TIMEOUT', `no reply to iq ${id}${p.to ? ` to ${p.to}` : ''} within ${p.timeoutMs} ms`));
    }
    if (next !== Infinity) this.scheduleIqTimer(next);
  };

  get pendingIqs(): number {
    return this.iqs.size;
  }

  get unackedCount(): number {
    return this.sm?.pending ?? 0;
  }

  /** XEP-0199 ping round trip in ms (to the server by default). */
  async ping(to?: string, timeoutMs = this.o.pingTimeoutMs): Promise<number> {
    const t0 = process.hrtime.bigint();
    await this.iq(x('iq', { type: 'get', to: to ?? this.domain }, x('ping', { xmlns: 'urn:xmpp:ping' })), timeoutMs);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  }

  // Dead link detection: when nothing arrived for pingInterval, probe (SM <r/>, else a
  // XEP-0199 ping); when the probe gets no byte back within pingTimeout, the link is dead.
  // Unacknowledged stanzas older than ackInterval also trigger an <r/>.
  private scheduleKeepalive(): void {
    this.clearKeepalive();
    const tick = Math.max(250, Math.min(this.o.pingTimeoutMs, this.o.pingIntervalMs, this.o.ackIntervalMs) / 4);
    this.keepaliveTimer = setInterval(() => this.keepalive(), tick);
    this.keepaliveTimer.unref();
    this.probeSentAt = 0;
  }

  /** A probe goes out now: its deadline is pingTimeout after the bytes ahead of it can have crossed the link. */
  private markProbe(conn: Connection): void {
    this.probeSentAt = Date.now();
    this.probeAllowanceMs = this.sm ? this.uplink.drainMs(conn.bytesOut) : 0;
  }

  /**
   * XEP-0198 4: an <r/> is answered with <a/>, in one of three ways:
   * - at once, while an iq of ours is unanswered or the server streams pushes to us (more
   *   than one per ACK_PUSH_GAP_MS on average since its previous <r/>): with no data of ours
   *   the server's next segment would wait for our delayed TCP ACK under Nagle (about 40 ms a
   *   result; measured here as a publish backlog that never drained, and as a subscriber
   *   stalled 35 ms every 2 s);
   * - with our next stanza, in its TLS record and write, when neither holds but requests come
   *   often (100 readings/s): the server has nothing to send before that stanza arrives;
   * - on a quiet link (the previous <r/> more than ACK_QUIET_MS ago), not before the server
   *   has sent ACK_LAZY_STANZAS more stanzas or ackLazyMs passed, then with our next stanza:
   *   servers ask nothing more until answered, so one <r/>/<a/> pair covers many readings.
   * A due <a/> that finds no stanza to ride with goes alone after ACK_DEFER_MS. Servers allow
   * far longer: Prosody fires smacks-ack-delayed after 30 s, ejabberd's ack_timeout is 60 s.
   */
  private answerAckRequest(sm: StreamManagement): void {
    const conn = this.conn;
    const now = Date.now();
    const since = now - this.lastAckRequestAt;
    // A steady stream of pushes (a subscriber's notifications) is not a quiet link, even when
    // this <r/> comes long after the previous one: that is the case when the previous <a/> was
    // deferred (Prosody asks again only once answered). Deferring there held the server's next
    // notification behind our delayed TCP ACK under Nagle: 35 ms every 2 s at 100 items/s
    // (bench/publish.js, BENCH_LAT_DUMP), p99 17 ms where ejabberd's stream gave 5.
    const idle = this.iqs.size === 0 && this.pushedSinceAckRequest * ACK_PUSH_GAP_MS <= since;
    const quiet = idle && since > ACK_QUIET_MS;
    this.lastAckRequestAt = now;
    this.pushedSinceAckRequest = 0;
    this.receivedSinceAckRequest = 0;
    if (!conn) return;
    if (!idle) {
      // One <a/> with the current h answers this request and a deferred one alike.
      if (this.ackTimer) this.flushAck();
      else conn.write(sm.ackString());
      return;
    }
    // Nothing of ours unanswered and no push stream, but readings come often (100/s): the
    // server has nothing to send until our next stanza, which carries the <a/> in its TLS
    // record and write: one write, record and server read less per reading.
    if (!quiet) return this.ackIsDue(conn, sm);
    if (this.ackTimer) return;
    // Not due yet: the server asks nothing more meanwhile, so the pair is paid once for up to
    // ACK_LAZY_STANZAS of its stanzas (lazyAckCheck), or once in ACK_LAZY_MS.
    this.ackDue = false;
    this.ackTimer = setTimeout(() => this.ackIsDue(conn, sm), this.o.ackLazyMs ?? ACK_LAZY_MS);
    this.ackTimer.unref();
  }

  /** While an <a/> is deferred and not due: a stanza from the server arrived. */
  private lazyAckCheck(): void {
    // A server that starts streaming pushes to us: answer now (see answerAckRequest).
    if (this.pushedSinceAckRequest * ACK_PUSH_GAP_MS > Date.now() - this.lastAckRequestAt) return this.flushAck();
    if (++this.receivedSinceAckRequest >= ACK_LAZY_STANZAS && this.conn && this.sm) this.ackIsDue(this.conn, this.sm);
  }

  /** The deferred <a/> rides with our next stanza, or goes alone after ACK_DEFER_MS. */
  private ackIsDue(conn: Connection, sm: StreamManagement): void {
    this.cancelAck();
    this.ackDue = true;
    this.ackTimer = setTimeout(() => {
      if (this.conn === conn && this.sm === sm) this.flushAck();
      else this.cancelAck();
    }, ACK_DEFER_MS);
    this.ackTimer.unref();
  }

  /** Forgets a deferred <a/>; true when there was one. */
  private cancelAck(): boolean {
    if (!this.ackTimer) return false;
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    this.ackDue = false;
    return true;
  }

  /** Sends a deferred <a/> now (ahead of a stanza, in the same TLS record); h is current. */
  private flushAck(): void {
    if (this.cancelAck() && this.sm) this.conn?.write(this.sm.ackString());
  }

  private clearKeepalive(): void {
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
  }

  private keepalive(): void {
    const conn = this.conn;
    if (!conn) return;
    const now = Date.now();
    if (this.probeSentAt && conn.lastReceived < this.probeSentAt && now - this.probeSentAt > this.o.pingTimeoutMs + this.probeAllowanceMs) {
      this.log.warn('link dead: no answer to a keepalive probe', { waitedMs: now - this.probeSentAt });
      // A resumed stream on which the server never answered anything is poisoned, not slow:
      // Prosody 0.12 keeps parsing a resumed session with the old connection's parser, and
      // when a cut left it inside an unfinished stanza, everything we send nests in there
      // and is never handled. Resuming again lands in the same parser; a new session (which
      // resends what is unacknowledged) does not.
      // One silent resumed stream is not proof: a link that stalls right after <resumed/>,
      // before the server's first answer, looks the same, and a new session then delivers
      // every unacked stanza twice (XEP-0198 5: the old session handled them). So resume
      // once more; only a second silent resumed stream in a row gives the session up (a
      // stuck parser swallows that one too; a stall's next resumption is answered).
      // Judged by an <a/> to our <r/>, not by any byte after going online: a stuck parser
      // still lets the server talk (Prosody 0.12 and ejabberd both send an <r/> right behind
      // <resumed/>), it only never answers what we send.
      if (this.info?.resumed && !this.answeredSinceOnline && this.sm?.id) {
        this.silentResumes++;
        if (this.silentResumes >= 2) {
          this.log.warn('the server answered nothing on two resumed streams in a row: the next connection starts a new session', { unacked: this.sm.pending });
          this.sm.id = undefined;
        } else {
          this.log.warn('the server answered nothing on the resumed stream: resuming once more', { unacked: this.sm.pending });
        }
      }
      conn.destroy();
      return;
    }
    if (this.probeSentAt && conn.lastReceived >= this.probeSentAt) this.probeSentAt = 0;
    const idle = now - conn.lastReceived;
    const needAck = this.sm && this.sm.pending > 0 && idle > this.o.ackIntervalMs;
    if (!this.probeSentAt && (idle > this.o.pingIntervalMs || needAck)) {
      this.markProbe(conn);
      if (this.sm) conn.send(this.sm.requestElement());
      else this.iq(x('iq', { type: 'get', to: this.domain }, x('ping', { xmlns: 'urn:xmpp:ping' })), this.o.pingTimeoutMs).catch(() => {});
    }
  }

  /** Drops the current connection as if the link died (tests, and `SIGUSR2` in the daemon). */
  dropConnection(): void {
    this.conn?.destroy();
  }

  /** Wakes a waiting reconnect loop now (e.g. the network came back). */
  reconnectNow(): void {
    if (this.state === 'online') return;
    this.wake?.();
  }

  /** Ends the session politely; no reconnect. */
  async stop(): Promise<void> {
    this.running = false;
    this.gen++;
    // A login in progress ends now rather than at its timeout (SIGTERM during a slow connect).
    this.negotiating?.abandon();
    const conn = this.conn;
    if (conn) {
      // XEP-0198: a clean </stream:stream> ends the session; nothing to resume.
      if (this.sm) this.sm.id = undefined;
      this.flushAck();
      conn.write("<presence type='unavailable'/>");
      conn.close();
    }
    this.wake?.();
    // A TCP or TLS connect still under way (no connection yet) is not waited for beyond 3 s:
    // its socket is refused by goOnline when it completes.
    await Promise.race([this.loop, new Promise<void>((r) => setTimeout(r, 3000).unref())]);
    this.clearKeepalive();
    this.clearIqTimer();
    for (const p of this.iqs.values()) {
      p.reject(new XiotaError('XIOTA_E_DISCONNECTED', 'the agent is stopping'));
    }
    this.iqs.clear();
    this.setState('stopped');
  }
}
