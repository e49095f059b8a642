// Stream negotiation as straight-line code (RFC 6120 4.3): features, STARTTLS (5), SASL (6),
// then XEP-0198 resumption or resource binding (7) and enabling stream management.
import { XiotaError } from '../errors';
import type { Logger } from '../log';
import { saslFailureError, selectMechanism } from '../sasl';
import type { Credentials, ScramKeyCacheLike } from '../sasl/types';
import { connectTcp, type Endpoint } from '../transport/endpoints';
import { connectDirectTls, startTls, type TlsInfo, type TlsOptions } from '../transport/tls';
import { Element, x } from '../xml/element';
import { Connection, NS_STREAM } from './connection';
import { StanzaError } from './stanza';
import type { FastStore } from './fast-token';
import { negotiateSasl2, parseSasl2Offer, type Sasl2Offer } from './sasl2';
import { NS_SM, StreamManagement } from './stream-management';

export const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
export const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
export const NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session';
export const NS_SASL_CB = 'urn:xmpp:sasl-cb:0';

export interface NegotiateOptions {
  domain: string;
  resource: string;
  credentials: Credentials;
  tls: TlsOptions;
  allowPlain: boolean;
  mechanisms?: string[];
  keyCache: ScramKeyCacheLike;
  maxStanzaBytes: number;
  timeoutMs: number;
  /** Stream management state from the previous connection, when it can be resumed. */
  sm?: StreamManagement;
  useSm: boolean;
  log: Logger;
  /** The account's bare JID: our stream's 'from' once inside TLS (RFC 6120 4.7.1, XEP-0388 2.1). */
  bareJid: string;
  /** XEP-0388 SASL2 when the server offers it (default true). */
  sasl2?: boolean;
  /** XEP-0386 Bind 2 tag (the server builds the resource from it); undefined: bind the RFC 6120 way. */
  bind2Tag?: string;
  /** XEP-0484 FAST token storage; without it FAST is not used. */
  fast?: FastStore;
  /** XEP-0352: start inactive where Bind 2 can say so inline. */
  csiInactive?: boolean;
  /** Logout: authenticate with the FAST token only to invalidate it (XEP-0484 3.6), then stop. */
  invalidateFastOnly?: boolean;
  /** Send <enable/> with the bind before seeing the features (default true; false once a server refused it). */
  speculateSm?: boolean;
  /** Called with the connection as soon as it exists, so the caller can end a login in progress (stop). */
  onConnection?: (conn: Connection) => void;
  /** Called as negotiation moves on (for state events). */
  step?: (state: 'securing' | 'authenticating' | 'binding') => void;
}

export interface Negotiated {
  conn: Connection;
  jid: string;
  tls: TlsInfo;
  mechanism: string;
  /** 'resumed': the old session continues; 'enabled': a new SM session; 'unsupported'/'failed'/'off'. */
  smState: 'resumed' | 'enabled' | 'unsupported' | 'failed' | 'off';
  sm?: StreamManagement;
  /** Stanzas the server never acknowledged on the previous session that could not be resumed. */
  orphaned: Element[];
  features: Element;
  endpoint: Endpoint;
  /** Authenticated with XEP-0388 SASL2. */
  sasl2: boolean;
  /** XEP-0484: a token was used to log in / a new one was issued. */
  fast: { used: boolean; issued: boolean };
  /** XEP-0352 inactive was set inline by Bind 2. */
  inactive: boolean;
  /** The post-authentication features offered XEP-0198 (undefined: not seen, e.g. after a resumption via SASL2). */
  smOffered?: boolean;
}

/**
 * Opens (or restarts) the stream and waits for the server's features. The features are asked
 * for before the header arrives, so a stream error right behind them (a server refusing what
 * we pipelined) cannot drop them before they are read. `beforeWait` runs between writing the
 * header and waiting: what it sends goes in the same flight.
 */
async function openStream(conn: Connection, timeoutMs: number, from?: string, beforeWait?: () => void): Promise<Element> {
  const header = conn.open(timeoutMs, from);
  const feats = features(conn, timeoutMs);
  feats.catch(() => undefined); // the header's failure is the one reported
  beforeWait?.();
  await header;
  return feats;
}

async function features(conn: Connection, timeoutMs: number): Promise<Element> {
  const f = await conn.next(timeoutMs, 'stream features');
  if (!f.is('features', NS_STREAM)) {
    conn.fail('not-authorized', 'expected stream features');
    throw new XiotaError('XIOTA_E_STREAM', `expected <stream:features/>, got <${f.name}/>`);
  }
  return f;
}

export async function negotiate(ep: Endpoint, o: NegotiateOptions): Promise<Negotiated> {
  o.step?.('securing');
  let conn: Connection;
  let tlsInfo: TlsInfo;
  if (ep.directTls) {
    const t = await connectDirectTls(ep.host, ep.port, o.tls, o.timeoutMs);
    conn = new Connection(t.socket, { domain: o.domain, maxStanzaBytes: o.maxStanzaBytes });
    o.onConnection?.(conn);
    tlsInfo = t.info;
  } else {
    const sock = await connectTcp(ep, o.timeoutMs);
    conn = new Connection(sock, { domain: o.domain, maxStanzaBytes: o.maxStanzaBytes });
    o.onConnection?.(conn);
    try {
      // Pipelined: <starttls/> goes with our stream header (one flight, not two). The server
      // handles it after sending its features, which are still checked before anything else.
      const feats = await openStream(conn, o.timeoutMs, undefined, () => conn.send(x('starttls', { xmlns: NS_TLS })));
      // RFC 6120 5.3.1 / 13.9: never continue in the clear. No STARTTLS offered is a refusal.
      if (!feats.getChild('starttls', NS_TLS)) {
        conn.close();
        throw new XiotaError('XIOTA_E_TLS_REQUIRED', `${ep.host}:${ep.port} does not offer STARTTLS; refusing to log in without encryption (enable TLS on the server, or use its direct TLS port with --direct-tls)`);
      }
      const r = await conn.next(o.timeoutMs, 'an answer to <starttls/>');
      if (!r.is('proceed', NS_TLS)) {
        conn.destroy();
        throw new XiotaError('XIOTA_E_TLS_REQUIRED', `the server refused STARTTLS (<${r.name}/>)`);
      }
    } catch (e) {
      conn.destroy();
      throw e;
    }
    let t;
    try {
      t = await startTls(conn.releaseSocket(), o.tls, o.timeoutMs);
    } catch (e) {
      conn.destroy();
      throw e;
    }
    conn.adoptSocket(t.socket);
    tlsInfo = t.info;
  }

  try {
    // RFC 6120 4.7.1: inside TLS the client names itself; XEP-0388 2.1 offers SASL2 only then.
    let feats = await openStream(conn, o.timeoutMs, o.bareJid);
    o.step?.('authenticating');
    const offer = o.sasl2 === false ? undefined : parseSasl2Offer(feats);
    if (offer) return await afterSasl2(conn, feats, offer, tlsInfo, ep, o);
    if (o.invalidateFastOnly) throw new XiotaError('XIOTA_E_SASL_MECH', 'the server no longer offers SASL2, so there is no FAST token to invalidate there');

    const mechanism = await authenticate(conn, feats, tlsInfo, o);
    // Pipelined: the restarted header and what follows it (resume, or bind with enable) go in
    // one flight. RFC 6120 7 always offers bind after SASL, and XEP-0198 enable is handled
    // after the bind before it, so nothing here waits for the features it would only confirm.
    const resuming = o.useSm && !!o.sm?.id;
    let pending: PendingBind | undefined;
    feats = await openStream(conn, o.timeoutMs, o.bareJid, () => {
      if (resuming) conn.send(o.sm!.resumeElement());
      else pending = sendBind(conn, o);
    });
    const base = { conn, tls: tlsInfo, mechanism, features: feats, endpoint: ep, sasl2: false, fast: { used: false, issued: false }, inactive: false };

    let orphaned: Element[] = [];
    // XEP-0198 5: resume instead of binding when the previous session allows it.
    const smOffered = !!feats.getChild('sm', NS_SM);
    if (resuming && !smOffered) {
      // Sent ahead, but this server (now) has no XEP-0198: nothing to wait for; start over.
      orphaned = o.sm!.resetForNewSession();
      o.log.info('the server no longer offers stream management; starting a new session');
    } else if (resuming) {
      const prev = o.sm!;
      const r = await conn.next(o.timeoutMs, 'an answer to <resume/>');
      if (r.is('resumed', NS_SM)) {
        prev.ack(r.attrs.h);
        return { ...base, jid: '', smState: 'resumed', sm: prev, orphaned: [] };
      }
      orphaned = failedResume(prev, r, o.log);
    } else if (o.sm) {
      orphaned = o.sm.resetForNewSession();
    }
    o.step?.('binding');
    const b = await finishBind(conn, feats, pending ?? sendBind(conn, { ...o, speculateSm: o.speculateSm !== false && smOffered }), o);
    return { ...base, ...b, orphaned };
  } catch (e) {
    conn.destroy();
    throw e;
  }
}

function negotiatedBase(conn: Connection, tls: TlsInfo, mechanism: string, features: Element, endpoint: Endpoint) {
  return { conn, tls, mechanism, features, endpoint, inactive: false };
}

/** XEP-0198 5 <failed h='...'/>: what the server did get is acknowledged; the rest go to the new session. */
function failedResume(prev: StreamManagement, r: Element, log: Logger): Element[] {
  if (r.attrs.h !== undefined) {
    try {
      prev.ack(r.attrs.h);
    } catch {
      /* an impossible h on a failed resume: resend everything */
    }
  }
  log.info('stream resumption failed; starting a new session', { condition: r.elements[0]?.name });
  return prev.resetForNewSession();
}

/** SASL2 (XEP-0388) with Bind 2, resume and FAST inline; the RFC 6120 bind when Bind 2 was not used. */
async function afterSasl2(conn: Connection, feats: Element, offer: Sasl2Offer, tls: TlsInfo, ep: Endpoint, o: NegotiateOptions): Promise<Negotiated> {
  const out = await negotiateSasl2(conn, feats, offer, tls, {
    bareJid: o.bareJid, credentials: o.credentials, allowPlain: o.allowPlain, mechanisms: o.mechanisms, keyCache: o.keyCache,
    hasClientCert: !!o.tls.clientCert, timeoutMs: o.timeoutMs, log: o.log, fast: o.fast, bind2Tag: o.bind2Tag,
    useSm: o.useSm, sm: o.sm, csiInactive: o.csiInactive, invalidateOnly: o.invalidateFastOnly,
  });
  if (o.invalidateFastOnly) return { ...negotiatedBase(conn, tls, out.mechanism, feats, ep), jid: out.jid, smState: 'off', orphaned: [], sasl2: true, fast: out.fast };
  const base = { conn, tls, mechanism: out.mechanism, features: feats, endpoint: ep, sasl2: true, fast: out.fast, inactive: out.inactive, orphaned: out.orphaned };
  if (out.bound) {
    o.step?.('binding'); // done inline (XEP-0386), but the states stay the same on every path
    return { ...base, jid: out.jid, smState: out.smState ?? (o.useSm ? 'unsupported' : 'off'), sm: out.sm };
  }
  // XEP-0388 2.6.1: no restart; the server sends the post-authentication features now, and
  // the bind (with enable) can go without waiting for them.
  o.step?.('binding');
  const pending = sendBind(conn, o);
  const post = await features(conn, o.timeoutMs);
  const b = await finishBind(conn, post, pending, o);
  return { ...base, ...b, features: post };
}

interface PendingBind { id: string; enable?: StreamManagement }

function sendBind(conn: Connection, o: NegotiateOptions): PendingBind {
  const id = 'bind-' + Math.random().toString(36).slice(2, 8);
  conn.send(x('iq', { type: 'set', id }, x('bind', { xmlns: NS_BIND }, x('resource', null, o.resource))));
  if (!o.useSm || o.speculateSm === false) return { id };
  const enable = new StreamManagement();
  conn.send(enable.enableElement());
  return { id, enable };
}

async function finishBind(conn: Connection, feats: Element, p: PendingBind, o: NegotiateOptions): Promise<Pick<Negotiated, 'jid' | 'smState' | 'sm' | 'smOffered'>> {
  if (!feats.getChild('bind', NS_BIND)) throw new XiotaError('XIOTA_E_BIND', 'the server offers no resource binding after authentication');
  const smOffered = !!feats.getChild('sm', NS_SM);
  let jid: string;
  try {
    jid = await bindResult(conn, feats, p.id, o);
  } catch (e) {
    // A server without XEP-0198 may end the stream over the <enable/> we sent ahead: say so,
    // so the next attempt does not send it again.
    if (p.enable && !smOffered && e instanceof XiotaError) throw new XiotaError(e.code, e.message, { ...e.detail, smUnsupported: true }, { cause: e });
    throw e;
  }
  if (!o.useSm) return { jid, smState: 'off', smOffered };
  // Sent ahead but not offered: the server answers <failed/> (ignored later), ends the stream
  // (the client then stops sending it ahead), or says nothing; do not wait for it.
  if (!smOffered) return { jid, smState: 'unsupported', smOffered };
  let sm = p.enable;
  if (!sm) {
    sm = new StreamManagement();
    conn.send(sm.enableElement());
  }
  const r = await conn.next(o.timeoutMs, 'an answer to <enable/>');
  if (r.is('enabled', NS_SM)) {
    sm.onEnabled(r);
    return { jid, smState: 'enabled', sm, smOffered };
  }
  return { jid, smState: 'failed', smOffered };
}

async function authenticate(conn: Connection, feats: Element, tls: TlsInfo, o: NegotiateOptions): Promise<string> {
  const offered = (feats.getChild('mechanisms', NS_SASL)?.getChildren('mechanism') ?? []).map((m) => m.text().trim());
  const cbEl = feats.getChild('sasl-channel-binding', NS_SASL_CB);
  const serverCbTypes = cbEl ? cbEl.getChildren('channel-binding').map((c) => c.attrs.type ?? '') : undefined;
  const mech = selectMechanism(offered, o.credentials, {
    secure: true,
    allowPlain: o.allowPlain,
    hasClientCert: !!o.tls.clientCert,
    cb: { ...tls.cb, serverCbTypes },
    keyCache: o.keyCache,
    preferred: o.mechanisms,
    log: o.log,
    advertised: { mechanisms: offered, cbTypes: serverCbTypes }, // XEP-0474
  });
  const initial = await mech.initialResponse();
  // RFC 6120 6.4.2: an empty initial response is "=".
  const auth = x('auth', { xmlns: NS_SASL, mechanism: mech.name });
  if (initial) auth.t(initial.length ? initial.toString('base64') : '=');
  conn.send(auth);
  for (;;) {
    const r = await conn.next(o.timeoutMs, 'a SASL answer');
    if (r.xmlns !== NS_SASL) throw new XiotaError('XIOTA_E_SASL_AUTH', `unexpected <${r.name}/> during SASL`);
    const data = r.text().trim();
    const bytes = data && data !== '=' ? Buffer.from(data, 'base64') : null;
    if (r.name === 'challenge') {
      let answer: Buffer;
      try {
        answer = await mech.challenge(bytes ?? Buffer.alloc(0));
      } catch (e) {
        conn.send(x('abort', { xmlns: NS_SASL })); // RFC 6120 6.4.4
        throw e;
      }
      conn.send(x('response', { xmlns: NS_SASL }, answer.length ? answer.toString('base64') : ''));
    } else if (r.name === 'success') {
      mech.success(bytes); // throws when the server's signature is wrong
      return mech.name;
    } else if (r.name === 'failure') {
      throw saslFailureError(r, mech.name);
    } else {
      throw new XiotaError('XIOTA_E_SASL_AUTH', `unexpected <${r.name}/> during SASL`);
    }
  }
}

async function bindResult(conn: Connection, feats: Element, id: string, o: NegotiateOptions): Promise<string> {
  let r = await conn.next(o.timeoutMs, 'the bind result');
  // An answer to a <resume/> sent ahead to a server without XEP-0198 may come first.
  while (r.xmlns === NS_SM) r = await conn.next(o.timeoutMs, 'the bind result');
  if (r.name !== 'iq' || r.attrs.id !== id) throw new XiotaError('XIOTA_E_BIND', `expected the bind result, got <${r.name}/>`);
  if (r.attrs.type === 'error') {
    const e = StanzaError.fromStanza(r);
    throw new XiotaError('XIOTA_E_BIND', `resource binding failed: ${e.condition}${e.text ? ` (${e.text})` : ''}`);
  }
  const jid = r.getChild('bind', NS_BIND)?.getChildText('jid')?.trim();
  if (!jid) throw new XiotaError('XIOTA_E_BIND', 'the bind result carries no JID');
  // RFC 3921 3 session establishment, only where the server still requires it.
  const sess = feats.getChild('session', NS_SESSION);
  if (sess && !sess.getChild('optional')) {
    conn.send(x('iq', { type: 'set', id: 'sess-1' }, x('session', { xmlns: NS_SESSION })));
    const s = await conn.next(o.timeoutMs, 'the session result');
    if (s.attrs.type === 'error') throw new XiotaError('XIOTA_E_BIND', 'session establishment failed');
  }
  return jid;
}
