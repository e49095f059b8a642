// Presence subscriptions (RFC 6121 3) and the roster (RFC 6121 2), decided by access: this is
// what lets a person's client see the device's presence and, with PEP's default access_model
// `presence` (XEP-0163 4.1), its PubSub items.
//
// - subscribe from a reader or above: approved (`subscribed`) and answered with a subscription
//   back (`subscribe`, RFC 6121 3.1.5), unless we already have one;
// - owners: pre-approved at session start when the server offers it (RFC 6121 3.4), else
//   subscribed to (their client then asks back, and is approved as an owner);
// - a stranger: refused (`unsubscribed`, RFC 6121 3.2.1), or with `strangers: ask_owners` the
//   request is kept pending (persisted by the access store) and each owner gets one chat
//   message; the owner's `allow`/`deny` (chat or command, through Access) answers it;
// - deny or revoke: `unsubscribed` + `unsubscribe`, then the roster item is removed (RFC 6121 2.5);
// - roster pushes (RFC 6121 2.1.6) are acknowledged only from our own account.
// Refusals and owner notifications are rate-limited: a flood of requests costs a few stanzas.
import type { Access, AccessChange } from '../access-store';
import { bareOf } from '../access';
import { isServicePeer } from '../iot/service-peer';
import type { Logger } from '../log';
import type { ModuleContext } from '../module';
import type { OnlineInfo } from '../session/client';
import { StanzaError } from '../session/stanza';
import { Element, x } from '../xml/element';

export const NS_ROSTER = 'jabber:iq:roster';
export const NS_PRE_APPROVAL = 'urn:xmpp:features:pre-approval';

export type Subscription = 'none' | 'to' | 'from' | 'both' | 'remove';

export interface RosterItem {
  jid: string;
  subscription: Subscription;
  /** RFC 6121 2.1.2.2: our subscription request to them is pending. */
  ask: boolean;
  /** RFC 6121 3.4: we pre-approved their subscription. */
  approved: boolean;
}

const SUBSCRIPTIONS: readonly Subscription[] = ['none', 'to', 'from', 'both', 'remove'];

/** RFC 6121 2.1.2: the <item/> children of a roster query. Items without a usable JID are skipped. */
export function parseRosterItems(query: Element | undefined): RosterItem[] {
  if (!query) return [];
  const out: RosterItem[] = [];
  for (const it of query.getChildren('item')) {
    const jid = it.attrs.jid;
    if (!jid) continue;
    const sub = (SUBSCRIPTIONS as readonly string[]).includes(it.attrs.subscription ?? '') ? (it.attrs.subscription as Subscription) : 'none';
    out.push({ jid: bareOf(jid), subscription: sub, ask: it.attrs.ask === 'subscribe', approved: it.attrs.approved === 'true' || it.attrs.approved === '1' });
  }
  return out;
}

/** They receive our presence (RFC 6121 2.1.2.5). */
export function theyFollow(it: RosterItem | undefined): boolean {
  return it?.subscription === 'from' || it?.subscription === 'both';
}

/** We receive theirs, or asked to. */
export function weFollow(it: RosterItem | undefined): boolean {
  return it?.subscription === 'to' || it?.subscription === 'both' || it?.ask === true;
}

/** RFC 6121 2.1.6: a push is accepted only from our bare JID (or without `from`). */
export function isOwnPush(iq: Element, self: string): boolean {
  const from = iq.attrs.from;
  return from === undefined || from === '' || bareOf(from) === bareOf(self) && !from.includes('/');
}

/** At most `max` events per `windowMs` overall, and one per key per `perKeyMs`. Pure over a clock. */
export class RateLimit {
  private times: number[] = [];
  private lastByKey = new Map<string, number>();

  constructor(private readonly max: number, private readonly windowMs: number, private readonly perKeyMs: number, private readonly now: () => number) {}

  take(key: string): boolean {
    const t = this.now();
    this.times = this.times.filter((s) => t - s < this.windowMs);
    const last = this.lastByKey.get(key);
    if (last !== undefined && t - last < this.perKeyMs) return false;
    if (this.times.length >= this.max) return false;
    this.times.push(t);
    this.lastByKey.set(key, t);
    if (this.lastByKey.size > 1000) for (const [k, v] of this.lastByKey) if (t - v >= this.perKeyMs) this.lastByKey.delete(k);
    return true;
  }
}

/** The chat text owners get for a stranger's request (the chat module parses the replies). */
export function askOwnersText(jid: string): string {
  return `${jid} asks to follow the gateway: reply \`allow ${jid}\` or \`deny ${jid}\``;
}

export interface SubscriptionOptions {
  access: Access;
  log?: Logger;
  now?: () => number;
  /** Refusals (`unsubscribed` to strangers): at most this many a minute (default 5), one per JID per 10 min. */
  refusalsPerMinute?: number;
  /** Owner notifications of strangers' requests: at most this many an hour (default 10). */
  asksPerHour?: number;
}

const presence = (to: string, type: string) => x('presence', { to, type });

export function install(m: ModuleContext, o: SubscriptionOptions): void {
  const access = o.access;
  const log = o.log ?? m.log;
  const now = o.now ?? Date.now;
  const roster = new Map<string, RosterItem>();
  /** JIDs we asked back once already this run (a refusal must not make us ask again and again). */
  const askedBack = new Set<string>();
  const refusals = new RateLimit(o.refusalsPerMinute ?? 5, 60_000, 600_000, now);
  const asks = new RateLimit(o.asksPerHour ?? 10, 3_600_000, 0, now);

  const approve = (jid: string) => {
    m.send(presence(jid, 'subscribed'));
    // RFC 6121 3.1.5: subscribe back, so the person shows as a full contact in their client.
    if (!weFollow(roster.get(jid))) {
      askedBack.add(jid);
      m.send(presence(jid, 'subscribe'));
    }
  };

  const refuse = (jid: string, why: string) => {
    if (!refusals.take(jid)) {
      log.debug('subscription refusal not sent (rate limit)', { jid });
      return;
    }
    log.info('subscription refused', { jid, why });
    m.send(presence(jid, 'unsubscribed'));
  };

  /** Ends the relationship both ways and drops the roster item (RFC 6121 3.2, 3.3, 2.5). */
  const cut = (jid: string) => {
    m.send(presence(jid, 'unsubscribed'));
    const it = roster.get(jid);
    if (!it) return;
    m.send(presence(jid, 'unsubscribe'));
    askedBack.delete(jid);
    m.iq(x('iq', { type: 'set' }, x('query', { xmlns: NS_ROSTER }, x('item', { jid, subscription: 'remove' })))).then(
      () => roster.delete(jid),
      (e: Error) => log.warn('roster removal failed', { jid, error: e.message }),
    );
  };

  const askOwners = async (jid: string) => {
    let isNew: boolean;
    try {
      isNew = await access.request(jid);
    } catch (e) {
      log.warn('subscription request not recorded', { jid, error: (e as Error).message });
      isNew = true;
    }
    if (!isNew) return; // already asked; the server redelivers pending requests on each session
    const owners = access.ownerJids();
    if (!owners.length) {
      log.warn('a subscription request waits, but no owner JID is configured to ask', { jid });
      return;
    }
    if (!asks.take('owners')) {
      log.info('subscription request pending; owners not messaged (rate limit), see `pending`', { jid });
      return;
    }
    const body = askOwnersText(jid);
    for (const owner of owners) m.send(x('message', { to: owner, type: 'chat' }, x('body', null, body)));
    log.info('subscription request sent to the owners', { jid, owners: owners.length });
  };

  const onSubscribe = (from: string) => {
    const jid = bareOf(from);
    if (!jid.includes('@')) return refuse(jid, 'not an account');
    const d = access.decide(jid, 'read');
    if (d.allowed) {
      log.info('subscription approved', { jid, role: d.role });
      return approve(jid);
    }
    // XEP-0324 'Friendships': the provisioning server decides (isFriend); unreachable = refused.
    if (d.delegate) {
      void access.check(jid, 'read', { question: 'friend' }).then((g) => {
        // provisioning.fallback: local: an unanswered question goes the way of the access: block.
        if (!g.allowed && g.by === 'local' && access.policy.strangers === 'ask_owners') return void askOwners(jid);
        if (!g.allowed) return refuse(jid, g.by === 'local' ? 'provisioning server did not answer; not on the access lists' : 'refused by the provisioning server');
        log.info('subscription approved by the provisioning server', { jid });
        approve(jid);
      });
      return;
    }
    const explicitlyDenied = access.list().some((e) => e.source === 'denied' && e.jid === jid);
    if (access.policy.strangers === 'ask_owners' && !explicitlyDenied) return void askOwners(jid);
    refuse(jid, explicitlyDenied ? 'denied by an owner' : 'not on the access lists');
  };

  // RFC 6121 3: subscription stanzas arrive as presence with a type; other presence passes on.
  m.hook('presence', (p) => {
    const type = p.attrs.type;
    const from = p.attrs.from;
    if (!from || !type) return undefined;
    switch (type) {
      case 'subscribe':
        onSubscribe(from);
        return true;
      case 'unsubscribe': // they stop following us; the server updates the roster (RFC 6121 3.3.3)
      case 'subscribed':
      case 'unsubscribed':
        log.debug(`presence ${type}`, { jid: bareOf(from) });
        return true;
      default:
        return undefined;
    }
  }, 10);

  // RFC 6121 2.1.6: roster pushes, from our own account only.
  m.hook(`iq/set/${NS_ROSTER}`, (iq) => {
    if (!isOwnPush(iq, m.jid)) {
      log.info('roster push from someone else ignored', { from: iq.attrs.from });
      throw new StanzaError('service-unavailable');
    }
    for (const it of parseRosterItems(iq.getChild('query', NS_ROSTER))) {
      if (it.subscription === 'remove') {
        roster.delete(it.jid);
        continue;
      }
      roster.set(it.jid, it);
      // A pre-approved owner's subscription is approved by the server (RFC 6121 3.4) and never
      // reaches us as a subscribe: ask back when the push shows they now follow us.
      if (theyFollow(it) && !weFollow(it) && !askedBack.has(it.jid) && access.decide(it.jid, 'read').allowed) {
        askedBack.add(it.jid);
        m.send(presence(it.jid, 'subscribe'));
      }
    }
    return x('iq', { type: 'result', id: iq.attrs.id ?? '', to: iq.attrs.from });
  });

  const onSession = async (info: OnlineInfo) => {
    // XEP-0198: a resumed stream keeps the roster, our presence and what was agreed.
    if (info.resumed) return;
    let items: RosterItem[];
    try {
      const res = await m.iq(x('iq', { type: 'get' }, x('query', { xmlns: NS_ROSTER })));
      items = parseRosterItems(res.getChild('query', NS_ROSTER));
    } catch (e) {
      log.warn('roster not fetched', { error: (e as Error).message });
      return;
    }
    roster.clear();
    for (const it of items) roster.set(it.jid, it);
    // Owners: pre-approve (RFC 6121 3.4) or subscribe to them.
    const preApproval = info.features.getChild('sub', NS_PRE_APPROVAL) !== undefined;
    for (const owner of access.ownerJids()) {
      const it = roster.get(owner);
      if (preApproval) {
        if (!theyFollow(it) && !it?.approved) m.send(presence(owner, 'subscribed'));
      } else if (!weFollow(it)) {
        m.send(presence(owner, 'subscribe'));
      }
    }
    // Whoever follows us but may no longer read (the config changed, an owner revoked while we
    // were away) loses the subscription.
    for (const it of items) {
      if (!theyFollow(it) || isServicePeer(access, it.jid)) continue;
      const d = access.decide(it.jid, 'read');
      if (d.allowed) continue;
      const withdraw = () => {
        log.info('subscription withdrawn: no longer allowed to read', { jid: it.jid });
        m.send(presence(it.jid, 'unsubscribed'));
      };
      // A friend of the provisioning server's making is asked about again (isFriend), not dropped.
      if (d.delegate) void access.check(it.jid, 'read', { question: 'friend' }).then((g) => { if (!g.allowed && !g.unanswered) withdraw(); });
      else withdraw();
    }
  };
  m.onSession((info) => void onSession(info));

  // Owners' decisions, by chat or command, take effect here.
  const off = access.onChange((c: AccessChange) => {
    switch (c.kind) {
      case 'allowed':
        approve(c.jid);
        break;
      case 'denied':
      case 'revoked':
        cut(c.jid);
        break;
      default:
        break;
    }
  });
  m.onUnload(off);
}
