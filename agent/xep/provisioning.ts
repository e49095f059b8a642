// XEP-0324 provisioning, thing side: the device delegates the trust decisions its own `access:`
// block cannot make to a provisioning server (XEP-0324 3.1 'Delegating trust'). The decision
// stays one function (agent/access.ts): it marks what it cannot decide as `delegate`, and
// Access.check asks through this module, which registers itself as the access store's Delegate.
//
// - isFriend before a presence subscription is approved (XEP-0324 'Friendships'), canRead
//   before a readout or a chat read ('Device Read-out'), canControl before a set ('Device
//   Control'), with the partial grants the answers may carry (node, field, parameter lists).
// - Answers are cached (XEP-0324 'Caching and cache time': least recently used go first) until
//   the server sends clearCache ('Clear cache'); only the server's own address is obeyed.
// - `friend` and `unfriend` messages from the server are acted on ('Recommending friendships',
//   'Unfriending existing friends'); from anyone else they are ignored (XEP-0324 says so).
// - A server that errs or does not answer within timeout_s: `provisioning.fallback` decides
//   (refuse, the default: fails closed; local: the access: block's own decision stands), logged
//   with the question, and not cached (the next question asks again).
// - The server is a component or an ordinary account befriended first (agent/iot/service-peer.ts,
//   XEP-0324 'Provisioning server hosted as a client'): questions go to its full JID.
//
// Slips in XEP-0324 0.5.1 (the examples are followed where they are right):
// - 'Rejecting control action' answers with an iq error holding only <setResponse/>; RFC 6120
//   8.3 requires an <error/> child: agent/xep/control.ts sends both.
// - 'Restricting nodes during control' says a refusal lets the device "reject the read-out
//   request" (the read-out text copied); for control it is the set that is refused.
// - The CanRead schema carries `historical` only, not XEP-0323's historicalSecond...Year:
//   questionElement folds them into `historical`.
// Tokens (getToken, serviceToken/userToken/deviceToken) are not built: questions carry none.
import type { AccessScope, DelegatedAnswer } from '../access';
import { bareOf } from '../access';
import type { Access, Delegate } from '../access-store';
import type { ProvisioningConfig } from '../config/iot-schema';
import { servicePeer } from '../iot/service-peer';
import type { ModuleContext } from '../module';
import { StanzaError } from '../session/stanza';
import { Element, x } from '../xml/element';
import { NS_DISCO_INFO } from './disco';

export const NS_PROVISIONING = 'urn:xmpp:iot:provisioning';

/** XEP-0323 field-type flags a canRead may carry (the schema's sn:fieldTypes, plus all and historical). */
const READ_FLAGS = ['momentary', 'peak', 'status', 'computed', 'identity', 'historical', 'all'] as const;

type Question = 'friend' | 'read' | 'control';
const REQUEST: Record<Question, string> = { friend: 'isFriend', read: 'canRead', control: 'canControl' };
const RESPONSE: Record<Question, string> = { friend: 'isFriendResponse', read: 'canReadResponse', control: 'canControlResponse' };

/** The question as the server gets it: XEP-0324 examples 'Friendship request accepted',
 *  'Restricting nodes/fields during read-out', 'Restricting parameters during control'. Pure. */
export function questionElement(jid: string, scope: AccessScope): Element {
  const q: Question = scope.question ?? 'read';
  const el = x(REQUEST[q], { xmlns: NS_PROVISIONING, jid: bareOf(jid) });
  if (q === 'friend') return el;
  if (q === 'read') {
    const kinds = new Set(scope.kinds ?? []);
    // historicalSecond... are one flag to the server: its schema knows only `historical`.
    if ([...kinds].some((k) => k.startsWith('historical'))) kinds.add('historical');
    for (const f of READ_FLAGS) if (kinds.has(f)) el.attrs[f] = 'true';
  }
  for (const n of scope.nodes ?? []) el.append(x('node', { nodeId: n }));
  const child = q === 'control' ? 'parameter' : 'field';
  for (const f of scope.fields ?? []) el.append(x(child, { name: f }));
  return el;
}

/**
 * The server's answer (isFriendResponse, canReadResponse, canControlResponse). A partial grant
 * is narrowed to what was asked: XEP-0324 'Restricting nodes during read-out', "other nodes
 * available in the request should be ignored". A grant that leaves nothing is a refusal (the
 * server "must respond with result='false'" then; one that does not is taken as refusing). Pure.
 */
export function parseAnswer(payload: Element | undefined, scope: AccessScope): DelegatedAnswer | StanzaError {
  const q: Question = scope.question ?? 'read';
  if (!payload || payload.name !== RESPONSE[q] || payload.xmlns !== NS_PROVISIONING) {
    return new StanzaError('bad-request', `expected <${RESPONSE[q]} xmlns='${NS_PROVISIONING}'/>, got ${payload ? `<${payload.name}/>` : 'an empty result'}`);
  }
  const result = payload.attrs.result;
  if (result !== 'true' && result !== 'false' && result !== '1' && result !== '0') {
    return new StanzaError('bad-request', `<${payload.name}/> has result=${JSON.stringify(result ?? null)}; XEP-0324 needs true or false`);
  }
  if (result === 'false' || result === '0' || q === 'friend') return { allowed: result === 'true' || result === '1' };
  const out: DelegatedAnswer = { allowed: true };
  const nodes = payload.getChildren('node', NS_PROVISIONING).map((n) => n.attrs.nodeId ?? '').filter(Boolean);
  const fields = payload.getChildren(q === 'control' ? 'parameter' : 'field', NS_PROVISIONING).map((f) => f.attrs.name ?? '').filter(Boolean);
  const narrow = (granted: string[], asked: string[] | undefined) => (asked?.length ? granted.filter((g) => asked.includes(g)) : granted);
  if (nodes.length) out.nodes = narrow(nodes, scope.nodes);
  if (fields.length) out.fields = narrow(fields, scope.fields);
  if (out.nodes?.length === 0 || out.fields?.length === 0) return { allowed: false };
  return out;
}

/** The cache key: the question and everything it was about, order-free. */
export function cacheKey(jid: string, scope: AccessScope): string {
  const sorted = (a?: string[]) => [...(a ?? [])].sort().join('\u0001');
  return [scope.question ?? 'read', bareOf(jid), sorted(scope.nodes), sorted(scope.fields), sorted(scope.kinds)].join('\u0000');
}

/** Answers by question, least recently used first out (XEP-0324 'Caching and cache time'). */
export class AnswerCache {
  private readonly map = new Map<string, DelegatedAnswer>();
  constructor(private readonly max: number) {}
  get(key: string): DelegatedAnswer | undefined {
    const a = this.map.get(key);
    if (a) { this.map.delete(key); this.map.set(key, a); }
    return a;
  }
  set(key: string, a: DelegatedAnswer): void {
    this.map.delete(key);
    this.map.set(key, a);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
  /** Everything (clearCache), or what concerns one JID (unfriend). */
  clear(jid?: string): void {
    if (jid === undefined) { this.map.clear(); return; }
    const bare = bareOf(jid);
    for (const k of [...this.map.keys()]) if (k.split('\u0000')[1] === bare) this.map.delete(k);
  }
  get size(): number { return this.map.size; }
}

export interface ProvisioningDeps {
  config: ProvisioningConfig;
  access: Pick<Access, 'delegateTo'>;
  /** Questions on their way at once, at most (default 64): a flood of strangers cannot flood
   *  the provisioning server through the device; beyond it, refused like an unanswered one. */
  maxInFlight?: number;
}

export interface Provisioning {
  cache: AnswerCache;
  /** Questions sent to the server so far (answered or not). */
  asked(): number;
}

export function install(m: ModuleContext, deps: ProvisioningDeps): Provisioning {
  const peer = servicePeer(m, deps.config.service, 'provisioning server', deps.access);
  const service = peer.bare;
  const local = deps.config.fallback === 'local';
  const fallback = (): DelegatedAnswer => ({ allowed: false, unanswered: true, ...(local ? { local: true } : {}) });
  const outcome = local ? 'the access: block decides (fallback: local)' : 'refused (fails closed)';
  const cache = new AnswerCache(deps.config.cacheSize);
  const inFlight = new Map<string, Promise<DelegatedAnswer>>();
  let asked = 0;
  const maxInFlight = deps.maxInFlight ?? 64;
  let overflowLogged = 0;
  const fromService = (from: string | undefined) => peer.is(from);

  const askServer = async (jid: string, scope: AccessScope, key: string): Promise<DelegatedAnswer> => {
    asked++;
    const question = REQUEST[scope.question ?? 'read'];
    let res: Element;
    try {
      res = await m.iq(x('iq', { type: 'get', to: peer.address() }, questionElement(jid, scope)), deps.config.timeoutS * 1000);
    } catch (e) {
      // XEP-0324 gives no fallback: the configured one, and say so (refuse: a device that guessed would leak).
      m.log.error(`provisioning server did not answer; ${outcome}`, { service: peer.address(), question, jid: bareOf(jid), error: (e as Error).message });
      return fallback();
    }
    const a = parseAnswer(res.elements.find((e) => e.xmlns === NS_PROVISIONING) ?? res.elements[0], scope);
    if (a instanceof StanzaError) {
      m.log.error(`provisioning server answered something else; ${outcome}`, { service: peer.address(), question, jid: bareOf(jid), error: a.message });
      return fallback();
    }
    cache.set(key, a);
    m.log.info('provisioning answered', { question, jid: bareOf(jid), allowed: a.allowed, ...(a.nodes ? { nodes: a.nodes } : {}), ...(a.fields ? { fields: a.fields } : {}) });
    return a;
  };

  const delegate: Delegate = {
    cached: (jid, scope) => cache.get(cacheKey(jid, scope)),
    ask: (jid, scope) => {
      const key = cacheKey(jid, scope);
      const hit = cache.get(key);
      if (hit) return Promise.resolve(hit);
      // The same question while one is on the way: one iq.
      let p = inFlight.get(key);
      if (!p && inFlight.size >= maxInFlight) {
        if (Date.now() - overflowLogged > 60_000) {
          overflowLogged = Date.now();
          m.log.warn('too many provisioning questions on their way; refused until some are answered', { max: maxInFlight, jid: bareOf(jid) });
        }
        return Promise.resolve(fallback());
      }
      if (!p) {
        p = askServer(jid, scope, key).finally(() => inFlight.delete(key));
        inFlight.set(key, p);
      }
      return p;
    },
  };
  m.onUnload(deps.access.delegateTo(delegate));

  // XEP-0324 'Clear cache': only from the server we trust.
  m.hook(`iq/set/${NS_PROVISIONING}`, (iq) => {
    const el = iq.elements.find((e) => e.xmlns === NS_PROVISIONING)!;
    if (!fromService(iq.attrs.from)) throw new StanzaError('forbidden', `only the provisioning server ${service} may change this device's cache`);
    if (el.name !== 'clearCache') throw new StanzaError('feature-not-implemented', `<${el.name}/> is not handled by this device; it answers clearCache`);
    const n = cache.size;
    cache.clear();
    m.log.info('provisioning cache cleared by the server', { answers: n });
    return x('clearCacheResponse', { xmlns: NS_PROVISIONING });
  });

  // XEP-0324 'Unfriending existing friends', 'Recommending friendships'.
  m.hook(`message/${NS_PROVISIONING}`, (msg) => {
    if (msg.attrs.type === 'error') return true;
    if (!fromService(msg.attrs.from)) {
      m.log.info('provisioning message from someone else ignored', { from: msg.attrs.from });
      return true;
    }
    for (const el of msg.elements.filter((e) => e.xmlns === NS_PROVISIONING)) {
      const jid = el.attrs.jid ? bareOf(el.attrs.jid) : '';
      if (el.name !== 'friend' && el.name !== 'unfriend') {
        m.log.warn('provisioning message not understood; ignored (XEP-0324 knows friend, unfriend)', { element: el.name.slice(0, 64) });
        continue;
      }
      if (!jid.includes('@')) {
        m.log.warn(`provisioning <${el.name}/> without an account JID; ignored`, { jid: (el.attrs.jid ?? '').slice(0, 200) });
        continue;
      }
      if (el.name === 'unfriend') {
        cache.clear(jid);
        m.send(x('presence', { to: jid, type: 'unsubscribed' }));
        m.send(x('presence', { to: jid, type: 'unsubscribe' }));
        m.log.info('unfriended on the provisioning server\'s word', { jid });
      } else if (el.name === 'friend') {
        // XEP-0324: "the receptor can still ask ... using the isFriend command": their
        // subscription, when it comes, is decided like any other.
        m.send(x('presence', { to: jid, type: 'subscribe' }));
        m.log.info('friendship requested on the provisioning server\'s recommendation', { jid });
      }
    }
    return true;
  });

  // XEP-0324 'Determining Support': a server that does not say it provisions is still asked
  // (it may answer anyway), but the log says why everything may be refused.
  m.onSession((info) => {
    if (info.resumed) return;
    void peer.ready(deps.config.timeoutS * 1000).then(() => m.iq(x('iq', { type: 'get', to: peer.address() }, x('query', { xmlns: NS_DISCO_INFO })), deps.config.timeoutS * 1000)).then(
      (res) => {
        const ok = res.getChild('query', NS_DISCO_INFO)?.getChildren('feature').some((f) => f.attrs.var === NS_PROVISIONING);
        if (!ok) m.log.warn('the provisioning server does not advertise urn:xmpp:iot:provisioning; its answers may all be refusals', { service });
        else m.log.info('provisioning server found', { service });
      },
      (e: Error) => m.log.error(`provisioning server unreachable: questions it should answer get the fallback (${deps.config.fallback}) until it answers`, { service: peer.address(), error: e.message }),
    );
  });

  return { cache, asked: () => asked };
}
