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
  let feats: Element;
  if (ep.directTls) {
    const t = await connectDirectTls(ep.host, ep.port, o.tls, o.timeoutMs);
    conn = new Connection(t.socket, { domain: o.domain, maxStanzaBytes: o.maxStanzaBytes });
    tlsInfo = t.info;
    await conn.open(o.timeoutMs);
    feats = await features(conn, o.timeoutMs);
  } else {
    const sock = await connectTcp(ep, o.timeoutMs);
    conn = new Connection(sock, { domain: o.domain, maxStanzaBytes: o.maxStanzaBytes });
    try {
      await conn.open(o.timeoutMs);
      feats = await features(conn, o.timeoutMs);
      // RFC 6120 5.3.1 / 13.9: never continue in the clear. No STARTTLS offered is a refusal.
      if (!feats.getChild('starttls', NS_TLS)) {
        conn.close();
        throw new XiotaError('XIOTA_E_TLS_REQUIRED', `${ep.host}:${ep.port} does not offer STARTTLS; refusing to log in without encryption (enable TLS on the server, or use its direct TLS port with --direct-tls)`);
      }
      conn.send(x('starttls', { xmlns: NS_TLS }));
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
    await conn.open(o.timeoutMs);
    feats = await features(conn, o.timeoutMs);
  }

  try {
    o.step?.('authenticating');
    const mechanism = await authenticate(conn, feats, tlsInfo, o);
    await conn.open(o.timeoutMs);
    feats = await features(conn, o.timeoutMs);

    const smOffered = !!feats.getChild('sm', NS_SM);
    let orphaned: Element[] = [];
    // XEP-0198 5: resume instead of binding when the previous session allows it.
    if (o.useSm && smOffered && o.sm?.id) {
      const prev = o.sm;
      conn.send(prev.resumeElement());
      const r = await conn.next(o.timeoutMs, 'an answer to <resume/>');
      if (r.is('resumed', NS_SM)) {
        prev.ack(r.attrs.h);
        return { conn, jid: '', tls: tlsInfo, mechanism, smState: 'resumed', sm: prev, orphaned: [], features: feats, endpoint: ep };
      }
      // <failed h='...'/>: what the server did get is acknowledged; the rest go to the new session.
      if (r.attrs.h !== undefined) {
        try {
          prev.ack(r.attrs.h);
        } catch {
          /* an impossible h on a failed resume: resend everything */
        }
      }
      orphaned = prev.resetForNewSession();
      o.log.info('stream resumption failed; starting a new session', { condition: r.elements[0]?.name });
    } else if (o.sm) {
      orphaned = o.sm.resetForNewSession();
    }

    o.step?.('binding');
    const jid = await bind(conn, feats, o);
    let smState: Negotiated['smState'] = 'off';
    let sm: StreamManagement | undefined;
    if (o.useSm) {
      if (!smOffered) smState = 'unsupported';
      else {
        sm = new StreamManagement();
        conn.send(sm.enableElement());
        const r = await conn.next(o.timeoutMs, 'an answer to <enable/>');
        if (r.is('enabled', NS_SM)) {
          sm.onEnabled(r);
          smState = 'enabled';
        } else {
          smState = 'failed';
          sm = undefined;
        }
      }
    }
    return { conn, jid, tls: tlsInfo, mechanism, smState, sm, orphaned, features: feats, endpoint: ep };
  } catch (e) {
    conn.destroy();
    throw e;
  }
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

async function bind(conn: Connection, feats: Element, o: NegotiateOptions): Promise<string> {
  if (!feats.getChild('bind', NS_BIND)) throw new XiotaError('XIOTA_E_BIND', 'the server offers no resource binding after authentication');
  const id = 'bind-' + Math.random().toString(36).slice(2, 8);
  conn.send(x('iq', { type: 'set', id }, x('bind', { xmlns: NS_BIND }, x('resource', null, o.resource))));
  const r = await conn.next(o.timeoutMs, 'the bind result');
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
