// The address of a provisioning server (XEP-0324) or Thing Registry (XEP-0347) the device talks
// to: an XEP-0114 component (a domain: iqs go straight to it, no friendship, XEP-0324 'Provisioning
// server hosted as a component') or an ordinary account (a bare JID). An account must be
// befriended first (XEP-0324 'Provisioning server hosted as a client', XEP-0347 'JID vs Component
// Thing Registries'): the device asks to follow it and approves its request to follow back, and
// sends its iqs to the full JID its presence comes from (an iq to a bare account JID is answered
// by that account's server, RFC 6121 8.5.3.1, not by the service). Until its presence has come,
// iqs go to the bare JID and the server's error makes the question unanswered (the fallback).
//
// The subscriptions module must not treat the service as a stranger (ask it about itself, or
// withdraw its subscription at the next session): `isServicePeer` tells it.
import { bareOf } from '../access';
import type { ModuleContext } from '../module';
import { x } from '../xml/element';

const PEERS = new WeakMap<object, Set<string>>();

/** True when `jid` is a provisioning server or registry account befriended for `owner` (the Access object). */
export function isServicePeer(owner: object, jid: string): boolean {
  return PEERS.get(owner)?.has(bareOf(jid)) ?? false;
}

export interface ServicePeer {
  /** Where an iq goes now: the component, the account's full JID once its presence came, else its bare JID. */
  address(): string;
  /** Whether a stanza's `from` is this service (any resource). */
  is(from: string | undefined): boolean;
  /** A client account (needs the friendship), not a component. */
  readonly account: boolean;
  readonly bare: string;
  /** Resolves once an account's presence has come (at once for a component), or after `ms`. */
  ready(ms: number): Promise<void>;
}

/** `what` names it in logs ("provisioning server", "Thing Registry"); `owner` is the Access object the subscriptions module checks. */
export function servicePeer(m: ModuleContext, jid: string, what: string, owner: object): ServicePeer {
  const bare = bareOf(jid).toLowerCase();
  const account = bare.includes('@');
  const is = (from: string | undefined) => !!from && bareOf(from).toLowerCase() === bare;
  if (!account) return { address: () => bare, is, account, bare, ready: () => Promise.resolve() };

  let full: string | undefined;
  let waiters: Array<() => void> = [];
  let set = PEERS.get(owner);
  if (!set) PEERS.set(owner, (set = new Set()));
  set.add(bare);
  m.onUnload(() => set!.delete(bare));

  // Before the subscriptions module (priority 10): the service is neither a stranger nor asked about.
  m.hook('presence', (p) => {
    const from = p.attrs.from;
    if (!is(from)) return undefined;
    const type = p.attrs.type;
    if (type === 'subscribe') {
      // RFC 6121 3.1.4: approve its request to follow the device, the other half of the friendship.
      m.send(x('presence', { to: bare, type: 'subscribed' }));
      m.log.info(`${what} befriended: its subscription approved`, { jid: bare });
      return true;
    }
    if (type === undefined && from!.includes('/')) {
      if (full !== from) m.log.info(`${what} online`, { jid: from });
      full = from;
      for (const w of waiters.splice(0)) w();
      return true;
    }
    if (type === 'unavailable') {
      if (full === from) { full = undefined; m.log.warn(`${what} offline: its questions go unanswered until it is back`, { jid: from }); }
      return true;
    }
    if (type === 'unsubscribed') {
      m.log.warn(`${what} refused the friendship: it cannot be reached as an account`, { jid: bare });
      return true;
    }
    return type === 'subscribed' || type === 'unsubscribe' ? true : undefined;
  }, 20);

  m.onSession((info) => {
    if (info.resumed) return;
    full = undefined;
    // RFC 6121 3.1.1: ask to follow it; a server that already has the subscription answers with
    // its presence at once (and the device's initial presence probes it anyway, RFC 6121 4.2.1).
    m.send(x('presence', { to: bare, type: 'subscribe' }));
  });

  const ready = (ms: number) => (full ? Promise.resolve() : new Promise<void>((resolve) => {
    const timer = setTimeout(() => { waiters = waiters.filter((w) => w !== done); resolve(); }, ms);
    const done = () => { clearTimeout(timer); resolve(); };
    waiters.push(done);
  }));
  return { address: () => full ?? bare, is, account, bare, ready };
}
