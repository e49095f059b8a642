// PubSub watches (XEP-0060 6.1 subscribe, 6.2 unsubscribe, 7.1.2.1 event notifications) over
// the agent's one session: a node of a PubSub service, or of another account's PEP
// (XEP-0163: the account's bare JID is the service). One server subscription per (service,
// node), shared by every watcher of it and removed with the last one; every event item goes
// to each watcher, with XEP-0323 `<fields>` payloads read into readings. A new session (not
// a resumed one, XEP-0198 5) subscribes again: a server restart or an in-memory PEP store may
// have forgotten us, and subscribing twice is harmless (XEP-0060 6.1.6 answers the existing one).
import type { Logger } from '../log';
import type { ModuleContext } from '../module';
import { bareJid, parseJid, StanzaError } from '../session/stanza';
import type { Element } from '../xml/element';
import { XiotaError } from '../errors';
import { classifyPublishError, NS_PUBSUB, NS_PUBSUB_EVENT, parsePubSubEvent, subscribeIq, unsubscribeIq } from '../xep/pubsub';
import { parseTimestamp } from '../xep/sensordata-fields';
import { fieldsToRemoteReadings, NS_SENSORDATA, RemoteError, type RemoteReading } from './remote-stanzas';

const NS_DELAY = 'urn:xmpp:delay';

/** One item of a watched node, as delivered. */
export interface RemoteItem {
  /** The service: a PubSub component's JID, or the PEP account's bare JID. */
  jid: string;
  node: string;
  id: string;
  /** When it was sampled (its readings), else when it was published (XEP-0203 delay), if known. */
  timestamp?: number;
  /** The readings, when the payload is XEP-0323 `<fields>`. */
  readings?: RemoteReading[];
  /** The payload as XML ('' for a notification without payload). */
  xml: string;
}

interface Watch {
  service: string;
  node: string;
  callbacks: Set<(item: RemoteItem) => void>;
  /** The server confirmed the subscription (so a new session renews it). */
  active: boolean;
  /** The first subscribe, which every watcher that comes meanwhile waits for. */
  ready: Promise<void>;
}

/** An event notification's items as RemoteItems. Pure. */
export function eventItems(message: Element): { service: string; node: string; items: RemoteItem[] } | undefined {
  const ev = parsePubSubEvent(message);
  if (!ev) return undefined;
  const service = bareJid(ev.service);
  const delayed = parseTimestamp(message.getChild('delay', NS_DELAY)?.attrs.stamp);
  const items = ev.items.map((it): RemoteItem => {
    const item: RemoteItem = { jid: service, node: ev.node, id: it.id, xml: it.payload ? it.payload.toString() : '' };
    if (it.payload?.name === 'fields' && it.payload.xmlns === NS_SENSORDATA) {
      item.readings = fieldsToRemoteReadings(it.payload, service);
    }
    const ts = item.readings?.[0]?.timestamp ?? delayed;
    if (ts !== undefined) item.timestamp = ts;
    return item;
  });
  return { service, node: ev.node, items };
}

/** The subscription state in a subscribe result (XEP-0060 6.1.2), if the server gave one. */
function subscriptionState(result: Element): string | undefined {
  return result.getChild('pubsub', NS_PUBSUB)?.getChild('subscription')?.attrs.subscription;
}

/** A refused subscription as a RemoteError that says what to do (XEP-0060 6.1.3). */
export function subscribeRefusal(service: string, node: string, me: string, err: StanzaError): RemoteError {
  const c = err.stanza ? classifyPublishError(err.stanza) : { condition: err.condition, pubsubCondition: '', text: err.text };
  const cond = c.condition || err.condition;
  const ps = c.pubsubCondition;
  let advice: string;
  if (ps === 'presence-subscription-required' || ps === 'not-in-roster-group' || ((cond === 'forbidden' || cond === 'not-authorized') && service.includes('@'))) {
    // XEP-0060 6.1.3.2 / XEP-0163 4: PEP's default access model is "presence".
    advice = `the node's access model needs a presence subscription: have ${me} send ${service} a presence subscription request and ${service} approve it (a xiota device approves its readers, controllers and owners), then watch again`;
  } else if (ps === 'closed-node' || cond === 'not-allowed') {
    advice = `the node is on a whitelist: ask the owner of ${service} to allow ${me}`;
  } else if (cond === 'item-not-found') {
    advice = `there is no such node: check its name (a xiota device publishes each thing at urn:xiota:<thing id>) and the JID`;
  } else if (ps === 'pending-subscription') {
    advice = 'a subscription request is waiting for the node owner\'s approval';
  } else if (cond === 'forbidden' || cond === 'not-authorized') {
    advice = `the service does not let ${me} subscribe: ask its administrator`;
  } else {
    advice = 'check the service JID and the node name';
  }
  const text = c.text ?? err.text;
  return new RemoteError({
    jid: service, stage: 'subscribe', condition: cond, text, pubsubCondition: ps,
    message: `${service} refused to subscribe ${me} to node ${node} (${[cond, ps].filter(Boolean).join('/')}${text ? `: ${text}` : ''}): ${advice}`,
  }, { cause: err });
}

export interface Watcher {
  watch(jid: string, node: string, cb: (item: RemoteItem) => void): Promise<() => Promise<void>>;
  /** Server subscriptions held now (tests, status). */
  count(): number;
}

export function createWatcher(m: ModuleContext, deps: { log: Logger; timeoutMs?: number; offline?: () => boolean }): Watcher {
  const log = deps.log;
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const watches = new Map<string, Watch>();
  const keyOf = (service: string, node: string) => `${service}\u0000${node}`;

  const subscribe = async (w: Watch): Promise<void> => {
    let result: Element;
    try {
      result = await m.iq(subscribeIq(w.service, w.node, m.jid), timeoutMs);
    } catch (e) {
      if (e instanceof StanzaError) throw subscribeRefusal(w.service, w.node, m.jid, e);
      if (e instanceof XiotaError && e.code === 'XIOTA_E_TIMEOUT') {
        throw new XiotaError('XIOTA_E_TIMEOUT', `${w.service} did not answer the subscription to node ${w.node} within ${timeoutMs} ms: check the JID, and that its server is reachable`, { timeout_ms: timeoutMs, jid: w.service, node: w.node }, { cause: e });
      }
      throw e;
    }
    const state = subscriptionState(result);
    // XEP-0060 6.1.2: 'pending' waits for the owner (authorize model); items follow once approved.
    if (state === 'pending') log.info('PubSub subscription waits for the node owner\'s approval', { service: w.service, node: w.node });
    w.active = true;
  };

  const unsubscribe = async (w: Watch): Promise<void> => {
    try {
      await m.iq(unsubscribeIq(w.service, w.node, m.jid), timeoutMs);
    } catch (e) {
      // Nothing a caller could do: the node may be gone, or the session.
      log.debug('PubSub unsubscribe failed', { service: w.service, node: w.node, error: (e as Error).message });
    }
  };

  // XEP-0060 7.1.2.1: events of watched nodes are ours; others pass on to other modules.
  m.hook(`message/${NS_PUBSUB_EVENT}`, (msg) => {
    if (msg.attrs.type === 'error') return undefined;
    const ev = eventItems(msg);
    if (!ev) return undefined;
    const w = watches.get(keyOf(ev.service, ev.node));
    if (!w) return undefined;
    for (const item of ev.items) {
      for (const cb of [...w.callbacks]) {
        try { cb(item); } catch (e) { log.warn('a PubSub watcher failed on an item', { service: w.service, node: w.node, error: e as Error }); }
      }
    }
    return true;
  });

  m.onSession((info) => {
    if (info.resumed) return;
    for (const w of watches.values()) {
      if (!w.active) continue;
      subscribe(w).catch((e: Error) => log.warn('could not renew a PubSub subscription after reconnecting', { service: w.service, node: w.node, error: e.message }));
    }
  });

  m.onUnload(() => {
    // Best effort: the session may be closing already.
    for (const w of watches.values()) if (w.active) void unsubscribe(w);
    watches.clear();
  });

  return {
    count: () => watches.size,
    async watch(jid, node, cb) {
      if (typeof node !== 'string' || !node) throw new XiotaError('XIOTA_E_INVALID', 'node must be a PubSub node name (a non-empty string), like urn:xiota:greenhouse', { field: 'node' });
      if (typeof cb !== 'function') throw new XiotaError('XIOTA_E_INVALID', 'watch needs a callback for the items', { field: 'cb' });
      let service: string;
      try {
        parseJid(jid);
        service = bareJid(jid);
      } catch {
        throw new XiotaError('XIOTA_E_INVALID', `'${jid}' is not a JID: give the PubSub service (pubsub.example.org) or the account whose PEP node to watch (thing@example.org)`, { field: 'jid' });
      }
      const key = keyOf(service, node);
      let w = watches.get(key);
      // Like a readout, a new subscription needs the session now (an answer, not a promise kept for later).
      if (!w?.active && deps.offline?.()) throw new XiotaError('XIOTA_E_DISCONNECTED', `the XMPP session is offline, so the subscription to node ${node} of ${service} cannot be made now: try again when it is back online`, { jid: service, node });
      // The callback is in before the subscribe goes out: the last item may come right behind it.
      if (w) {
        w.callbacks.add(cb);
      } else {
        const fresh: Watch = { service, node, callbacks: new Set([cb]), active: false, ready: Promise.resolve() };
        fresh.ready = subscribe(fresh);
        watches.set(key, fresh);
        w = fresh;
      }
      const mine = w;
      try {
        await mine.ready;
      } catch (e) {
        mine.callbacks.delete(cb);
        if (watches.get(key) === mine && !mine.active) watches.delete(key);
        throw e;
      }
      let done = false;
      return async () => {
        if (done) return;
        done = true;
        mine.callbacks.delete(cb);
        if (mine.callbacks.size > 0 || watches.get(key) !== mine) return;
        watches.delete(key);
        await unsubscribe(mine);
      };
    },
  };
}
