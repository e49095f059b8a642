// XEP-0388 Extensible SASL Profile (SASL2) with what rides inside it in one round trip:
// XEP-0386 Bind 2 (bind, XEP-0198 enable, XEP-0352 inactive), XEP-0198 resume, and XEP-0484
// FAST (authenticate with a token, ask for one, take a rotated one, invalidate one).
// No stream restart follows success (XEP-0388 2.6.1). Straight-line async over a Connection,
// like negotiate.ts; the mechanisms themselves are the pure ones in agent/sasl/.
import { hostname } from 'node:os';
import { XiotaError } from '../errors';
import type { Logger } from '../log';
import { chooseHtMechanism, HtMechanism, htBindingData, saslFailureError, selectMechanism } from '../sasl';
import type { ChannelBindingInfo, Credentials, SaslMechanism, ScramKeyCacheLike } from '../sasl/types';
import type { TlsInfo } from '../transport/tls';
import { Element, x } from '../xml/element';
import type { Connection } from './connection';
import type { FastStore } from './fast-token';
import { NS_SM, StreamManagement } from './stream-management';

export const NS_SASL2 = 'urn:xmpp:sasl:2';
export const NS_BIND2 = 'urn:xmpp:bind:0';
export const NS_FAST = 'urn:xmpp:fast:0';
export const NS_CSI = 'urn:xmpp:csi:0';
const NS_SASL_CB = 'urn:xmpp:sasl-cb:0';

/** What the server's <authentication xmlns='urn:xmpp:sasl:2'/> feature offers (XEP-0388 2.1). */
export interface Sasl2Offer {
  mechanisms: string[];
  /** XEP-0484 3.1: FAST mechanisms, empty when FAST is not offered. */
  fast: string[];
  /** XEP-0386 2: Bind 2 offered, and the features it can enable inline. */
  bind2?: { features: string[] };
  /** XEP-0198 resume inline (an <sm/> among the SASL2 inline features). */
  smInline: boolean;
}

export function parseSasl2Offer(features: Element): Sasl2Offer | undefined {
  const auth = features.getChild('authentication', NS_SASL2);
  if (!auth) return undefined;
  const inline = auth.getChild('inline');
  const bind = inline?.getChild('bind', NS_BIND2);
  return {
    mechanisms: auth.getChildren('mechanism').map((m) => m.text().trim()).filter(Boolean),
    fast: inline?.getChild('fast', NS_FAST)?.getChildren('mechanism').map((m) => m.text().trim()) ?? [],
    bind2: bind ? { features: bind.getChild('inline')?.getChildren('feature').map((f) => f.attrs.var ?? '') ?? [] } : undefined,
    smInline: !!inline?.getChild('sm', NS_SM),
  };
}

export interface Sasl2Options {
  bareJid: string;
  credentials: Credentials;
  allowPlain: boolean;
  mechanisms?: string[];
  keyCache: ScramKeyCacheLike;
  hasClientCert: boolean;
  timeoutMs: number;
  log: Logger;
  /** Token storage; without it FAST is neither used nor requested. */
  fast?: FastStore;
  /** XEP-0386 tag (the server makes the resource from it); undefined: no Bind 2, bind the RFC 6120 way after success. */
  bind2Tag?: string;
  useSm: boolean;
  /** The previous session's stream management state, resumed inline when it has an id. */
  sm?: StreamManagement;
  /** XEP-0352: ask Bind 2 to start the session inactive when the server offers it inline. */
  csiInactive?: boolean;
  /** Logout: authenticate with the token only to invalidate it (XEP-0484 3.6); no bind, no resume. */
  invalidateOnly?: boolean;
}

export interface Sasl2Outcome {
  mechanism: string;
  /** From <authorization-identifier/>: the full JID when bound, else the bare one. */
  jid: string;
  /** Bind 2 bound a resource (or the session was resumed): no RFC 6120 bind needed. */
  bound: boolean;
  smState?: 'resumed' | 'enabled' | 'failed';
  sm?: StreamManagement;
  orphaned: Element[];
  /** 'used': logged in with a token; 'issued': a new token came (requested or rotated). */
  fast: { used: boolean; issued: boolean };
  /** Bind 2 started the session inactive (XEP-0352 inline). */
  inactive: boolean;
}

function serverCbTypes(features: Element): string[] | undefined {
  const el = features.getChild('sasl-channel-binding', NS_SASL_CB);
  return el ? el.getChildren('channel-binding').map((c) => c.attrs.type ?? '') : undefined;
}

/** XEP-0388 2.6.3: the condition is a RFC 6120 SASL condition; reuse the SASL failure advice. */
function failureError(r: Element, mechanism: string): XiotaError {
  const text = r.getChildText('text', NS_SASL2);
  const shaped = x('failure', null, ...r.elements.filter((c) => c.name !== 'text'), text ? x('text', null, text) : null);
  return saslFailureError(shaped, mechanism);
}

export async function negotiateSasl2(conn: Connection, features: Element, offer: Sasl2Offer, tls: TlsInfo, o: Sasl2Options): Promise<Sasl2Outcome> {
  const cb: ChannelBindingInfo = { ...tls.cb, serverCbTypes: serverCbTypes(features) };
  const token = o.fast?.get(o.bareJid);
  const tokenUsable = !!token && offer.fast.includes(token.mechanism) && htBindingData(token.mechanism, cb) !== undefined;
  if (tokenUsable) {
    try {
      return await attempt(conn, offer, cb, o, true);
    } catch (e) {
      // XEP-0484 4.1: a refused token is discarded and the client falls back to the password,
      // on the same stream (the server waits for a new <authenticate/>).
      if (!(e instanceof XiotaError) || e.code !== 'XIOTA_E_SASL_AUTH' || o.invalidateOnly) throw e;
      o.fast!.clear();
      o.log.info('the server refused the FAST token; logging in with the password and asking for a new token', { condition: e.detail.condition });
    }
  } else if (o.invalidateOnly) {
    // Not a refusal of the token: this stream cannot present it (the server offers no FAST, or
    // not its mechanism, or the TLS session lacks its channel binding). It may still be valid.
    const why = !token ? 'there is no FAST token for this account'
      : !offer.fast.includes(token.mechanism) ? `the server offers ${offer.fast.length ? `FAST with ${offer.fast.join(', ')} only` : 'no FAST (XEP-0484) now'}, not the token's ${token.mechanism}`
      : `this TLS session has no channel binding for ${token.mechanism}`;
    throw new XiotaError('XIOTA_E_SASL_MECH', `cannot present the FAST token to invalidate it: ${why}`);
  }
  return attempt(conn, offer, cb, o, false);
}

async function attempt(conn: Connection, offer: Sasl2Offer, cb: ChannelBindingInfo, o: Sasl2Options, withToken: boolean): Promise<Sasl2Outcome> {
  const token = withToken ? o.fast!.get(o.bareJid)! : undefined;
  let mech: SaslMechanism;
  if (token) {
    mech = new HtMechanism(token.mechanism, o.credentials.username, token.token, cb);
  } else {
    mech = selectMechanism(offer.mechanisms, o.credentials, {
      secure: true, allowPlain: o.allowPlain, hasClientCert: o.hasClientCert, cb, keyCache: o.keyCache, preferred: o.mechanisms, log: o.log,
      // XEP-0474 4.1: with SASL2 the list that counts is SASL2's own.
      advertised: { mechanisms: offer.mechanisms, cbTypes: cb.serverCbTypes },
    });
  }
  const initial = await mech.initialResponse();
  const auth = x('authenticate', { xmlns: NS_SASL2, mechanism: mech.name });
  if (initial) auth.append(x('initial-response', null, initial.toString('base64')));
  // XEP-0388 2.2 / XEP-0484 4.1: FAST needs a stable user-agent id (tokens are bound to it).
  auth.append(x('user-agent', { id: o.fast?.userAgentId() ?? undefined }, x('software', null, 'xiota'), x('device', null, hostname())));
  const askFor = !token && o.fast && !o.invalidateOnly ? chooseHtMechanism(offer.fast, cb) : undefined;
  if (token) auth.append(x('fast', { xmlns: NS_FAST, ...(o.invalidateOnly ? { invalidate: 'true' } : {}) }));
  if (askFor) auth.append(x('request-token', { xmlns: NS_FAST, mechanism: askFor }));

  let orphaned: Element[] = [];
  const prev = o.sm;
  const resuming = !o.invalidateOnly && o.useSm && offer.smInline && !!prev?.id;
  if (resuming) auth.append(prev!.resumeElement()); // XEP-0198 / XEP-0388 2.3: tried before Bind 2
  else if (prev && !o.invalidateOnly) orphaned = prev.resetForNewSession();
  let fresh: StreamManagement | undefined;
  let inactive = false;
  if (!o.invalidateOnly && offer.bind2 && o.bind2Tag !== undefined) {
    const bind = x('bind', { xmlns: NS_BIND2 }, x('tag', null, o.bind2Tag));
    if (o.useSm && offer.bind2.features.includes(NS_SM)) bind.append((fresh = new StreamManagement()).enableElement());
    if (o.csiInactive && offer.bind2.features.includes(NS_CSI)) {
      bind.append(x('inactive', { xmlns: NS_CSI }));
      inactive = true;
    }
    auth.append(bind);
  }
  conn.send(auth);

  let success: Element;
  for (;;) {
    const r = await conn.next(o.timeoutMs, 'a SASL2 answer');
    if (r.xmlns !== NS_SASL2) throw new XiotaError('XIOTA_E_SASL_AUTH', `unexpected <${r.name}/> during SASL2`);
    if (r.name === 'challenge') {
      const data = r.text().trim();
      let answer: Buffer;
      try {
        answer = await mech.challenge(data ? Buffer.from(data, 'base64') : Buffer.alloc(0));
      } catch (e) {
        conn.send(x('abort', { xmlns: NS_SASL2 })); // XEP-0388 2.6.4
        throw e;
      }
      conn.send(x('response', { xmlns: NS_SASL2 }, answer.toString('base64')));
    } else if (r.name === 'success') {
      success = r;
      break;
    } else if (r.name === 'failure') {
      throw failureError(r, mech.name);
    } else if (r.name === 'continue') {
      // XEP-0388 2.6.2 tasks (e.g. XEP-0480 upgrades, 2FA): none is asked for by us.
      conn.send(x('abort', { xmlns: NS_SASL2 }));
      throw new XiotaError('XIOTA_E_SASL_AUTH', `the server asks for extra SASL2 tasks (${r.getChild('tasks')?.getChildren('task').map((t) => t.text()).join(', ') || 'unnamed'}), which xiota does not perform; turn them off for this account or set sasl.sasl2: false`);
    } else {
      throw new XiotaError('XIOTA_E_SASL_AUTH', `unexpected <${r.name}/> during SASL2`);
    }
  }

  const extra = success.getChildText('additional-data')?.trim();
  mech.success(extra ? Buffer.from(extra, 'base64') : null); // throws when the server's proof is wrong
  const jid = success.getChildText('authorization-identifier')?.trim() || o.bareJid;

  // XEP-0484 3.3/3.5: a token comes when we asked for one, or when the server rotates ours.
  const issued = success.getChild('token', NS_FAST);
  if (issued?.attrs.token && o.fast) {
    o.fast.set({ mechanism: askFor ?? token?.mechanism ?? mech.name, token: issued.attrs.token, expiry: issued.attrs.expiry ?? '', jid: o.bareJid });
  } else if (token && o.invalidateOnly) {
    o.fast!.clear();
  }
  const outcome: Sasl2Outcome = { mechanism: mech.name, jid, bound: false, orphaned, fast: { used: !!token, issued: !!issued?.attrs.token }, inactive: false };
  if (o.invalidateOnly) return outcome;

  if (resuming) {
    const resumed = success.getChild('resumed', NS_SM);
    if (resumed) {
      prev!.ack(resumed.attrs.h);
      return { ...outcome, jid: '', bound: true, smState: 'resumed', sm: prev };
    }
    const failed = success.getChild('failed', NS_SM);
    if (failed?.attrs.h !== undefined) {
      try { prev!.ack(failed.attrs.h); } catch { /* an impossible h on a failed resume: resend everything */ }
    }
    outcome.orphaned = prev!.resetForNewSession();
    o.log.info('stream resumption failed; starting a new session', { condition: failed?.elements[0]?.name });
  }
  const bound = success.getChild('bound', NS_BIND2);
  if (!bound) return outcome;
  outcome.bound = true;
  outcome.inactive = inactive;
  if (fresh) {
    const enabled = bound.getChild('enabled', NS_SM);
    if (enabled) {
      fresh.onEnabled(enabled);
      outcome.sm = fresh;
      outcome.smState = 'enabled';
    } else {
      outcome.smState = 'failed';
    }
  }
  return outcome;
}
