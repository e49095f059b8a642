// XEP-0347 discovery, thing side: find the Thing Registry (config, or the server's components
// by disco: XEP-0347 'Finding Thing Registry' 5 and 'Determining Support'), register with the
// configured meta tags and a KEY kept in the state directory, and follow what the registry
// says: claimed (the claimer becomes an owner in the access store, persisted), removed (no more
// updates), disowned (the owner goes, a new KEY, registered again to be re-claimed). A public
// claimed thing updates its tags and empties its KEY (XEP-0347 'KEY tag'); a self-owned one
// registers with selfOwned='true'. Only the registry's own address is obeyed.
//
// Also: tags changed in the config are sent at the next start (a claimed thing updates only
// when they changed); `discovery.enabled: false` unregisters once (XEP-0347 'Unregistering
// Thing from Registry') and stays out; `register_things` registers each thing behind the
// gateway with nodeId/sourceId ('Registering Thing behind Concentrator'), claimed, removed and
// disowned on its own (its owner, in access.json, may read and control that thing only:
// Access.check gives it as a partial grant; nothing else of the gateway). The registry is a component or an account
// befriended first (agent/iot/service-peer.ts, 'JID vs Component Thing Registries'). Anything
// else the registry says is logged and refused, never acted on. The pure parts are
// agent/iot/discovery-meta.ts and agent/iot/discovery-things.ts.
import { bareOf } from '../access';
import type { Access } from '../access-store';
import type { DiscoveryConfig } from '../config/iot-schema';
import type { ModuleContext } from '../module';
import { StanzaError } from '../session/stanza';
import { x, type Element } from '../xml/element';
import {
  NS_DISCOVERY, loadOrCreateState, metaTags, newKey, parseRegistryPush, registerElement, unregisterElement, updateElement, writeDiscoveryState,
  type RegistryPush,
} from '../iot/discovery-meta';
import { nodeRefOf, reconcileThings, tagsHash, thingTags, withNode, type DiscoveryStateExt, type NodeRef, type ThingEntry } from '../iot/discovery-things';
import { servicePeer, type ServicePeer } from '../iot/service-peer';
import type { DriverHost } from '../../drivers/host';
import { NS_DISCO_INFO, NS_DISCO_ITEMS } from './disco';

export { NS_DISCOVERY };

export interface DiscoveryDeps {
  config: DiscoveryConfig;
  access: Pick<Access, 'addOwner' | 'removeOwner' | 'addThingOwner' | 'removeThingOwner'>;
  /** Where discovery.json lives (beside the outbox and access.json). */
  stateDir: string;
  /** How long to wait for the registry and for each component's disco (default 10 s). */
  timeoutMs?: number;
  /** discovery.register_things: the things behind the gateway (nodeId = thing id, sourceId = driver id). */
  drivers?: Pick<DriverHost, 'drivers' | 'things'>;
  /** Subscribes to changes of the things (a bridge board describing itself later): returns the unsubscribe. */
  onThingsChanged?: (fn: () => void) => () => void;
}

export interface Discovery {
  state(): DiscoveryStateExt;
  /** The registry's address once known. */
  registry(): string | undefined;
  /** Resolves when the current session's registration round is over (tests). */
  settled(): Promise<void>;
}

/** XEP-0347 'Determining Support': the server's items, the first that says urn:xmpp:iot:discovery. */
async function findRegistry(m: ModuleContext, timeoutMs: number): Promise<string | undefined> {
  const domain = m.jid.slice(m.jid.indexOf('@') + 1);
  const items = await m.iq(x('iq', { type: 'get', to: domain }, x('query', { xmlns: NS_DISCO_ITEMS })), timeoutMs);
  const jids = (items.getChild('query', NS_DISCO_ITEMS)?.getChildren('item') ?? []).map((i) => i.attrs.jid ?? '').filter((j) => j && !j.includes('@'));
  for (const jid of jids.slice(0, 50)) {
    try {
      const info = await m.iq(x('iq', { type: 'get', to: jid }, x('query', { xmlns: NS_DISCO_INFO })), timeoutMs);
      if (info.getChild('query', NS_DISCO_INFO)?.getChildren('feature').some((f) => f.attrs.var === NS_DISCOVERY)) return jid;
    } catch {
      // a component that does not answer disco is not the registry
    }
  }
  return undefined;
}

export function install(m: ModuleContext, deps: DiscoveryDeps): Discovery {
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const cfg = deps.config;
  let st: DiscoveryStateExt = loadOrCreateState(deps.stateDir);
  // A configured registry (component or account) is befriended now, so its presence is caught.
  let peer: ServicePeer | undefined = cfg.registry === 'auto' ? undefined : servicePeer(m, cfg.registry, 'Thing Registry', deps.access);
  let round: Promise<void> = Promise.resolve();

  const save = (next: Partial<DiscoveryStateExt>) => {
    st = { ...st, ...next };
    try {
      writeDiscoveryState(deps.stateDir, st);
    } catch (e) {
      m.log.error('discovery state not saved; it holds until a restart', { dir: deps.stateDir, error: (e as Error).message });
    }
  };
  const registry = () => peer?.bare;
  const tags = () => metaTags(cfg.tags, st.key);
  const hash = tagsHash(metaTags(cfg.tags, ''));
  const send = (payload: Element) => m.iq(x('iq', { type: 'set', to: peer!.address() }, payload), timeoutMs);
  /** What a register/update result holds besides nothing: a push, or something to log. */
  const resultPush = (res: Element, what: string): RegistryPush | undefined => {
    const el = res.elements[0];
    const push = parseRegistryPush(el);
    if (el && !push) m.log.warn(`the Thing Registry answered the ${what} with something XEP-0347 does not define; taken as an empty result`, { registry: registry(), element: `<${el.name.slice(0, 64)} xmlns='${(el.xmlns ?? '').slice(0, 100)}'>` });
    return push;
  };

  /** A claim: the owner joins the access store (persisted) and is befriended (XEP-0347: "it can
   *  also safely send a friendship request to the owner"). */
  const claimed = async (owner: string, isPublic: boolean) => {
    await deps.access.addOwner(owner, registry());
    save({ state: 'claimed', owner, public: isPublic });
    m.send(x('presence', { to: owner, type: 'subscribed' }));
    m.send(x('presence', { to: owner, type: 'subscribe' }));
    m.log.info('claimed through the Thing Registry: a new owner', { owner, public: isPublic, registry: registry() });
  };

  const disowned = async () => {
    const old = st.owner;
    if (old) {
      await deps.access.removeOwner(old, registry());
      m.send(x('presence', { to: old, type: 'unsubscribed' }));
    }
    // The old owner knew the KEY: a new one, so only who holds the new claim string can claim.
    save({ state: 'unregistered', owner: undefined, public: undefined, key: newKey(), keyCleared: undefined });
    m.log.info('disowned in the Thing Registry; registering again to be claimed (new KEY: see `xiota claim`)', { formerOwner: old });
  };

  const act = async (p: RegistryPush) => {
    if (p.kind === 'claimed') await claimed(p.owner, p.public);
    else if (p.kind === 'removed') {
      save({ state: 'removed' });
      m.log.info('removed from the Thing Registry by the owner; no more meta data updates', { registry: registry() });
    } else await disowned();
  };

  /** XEP-0347 'Registering Thing': answered empty, or <claimed/> when already claimed. */
  const register = async () => {
    const res = await send(registerElement(tags(), cfg.selfOwned));
    const push = resultPush(res, 'registration');
    if (push?.kind === 'claimed') return act(push);
    save({ state: cfg.selfOwned ? 'self-owned' : 'registered', tagsHash: hash });
    m.log.info(cfg.selfOwned ? 'registered as a self-owned public thing' : 'registered with the Thing Registry; waiting to be claimed (`xiota claim` shows the code)', { registry: registry(), tags: tags().length });
  };

  /** XEP-0347 'Update Meta Information': a public claimed thing empties its KEY; any claimed one sends changed tags. */
  const update = async () => {
    const out = st.public === false ? metaTags(cfg.tags, '').filter((t) => t.name !== 'KEY') : metaTags(cfg.tags, '');
    try {
      const res = await send(updateElement(out));
      const push = resultPush(res, 'update');
      // XEP-0347: <disowned/> in the result: "the Thing can assume it has been disowned".
      if (push?.kind === 'disowned') { await disowned(); return register(); }
      save({ keyCleared: st.public === false ? st.keyCleared : true, tagsHash: hash });
      m.log.info('meta data updated in the Thing Registry', { registry: registry(), tags: out.length });
    } catch (e) {
      // XEP-0347: item-not-found = the owner removed it; "further meta data updates are not desired".
      if (e instanceof StanzaError && e.condition === 'item-not-found') return act({ kind: 'removed' });
      throw e;
    }
  };

  // -- things behind the gateway (XEP-0347 'Registering Thing behind Concentrator') --
  const refOf = (nodeId: string, e: ThingEntry): NodeRef => ({ nodeId, sourceId: e.sourceId });
  const saveThing = (nodeId: string, e: ThingEntry | undefined) => {
    const things = { ...(st.things ?? {}) };
    if (e) things[nodeId] = e; else delete things[nodeId];
    save({ things });
  };
  const registerThing = async (nodeId: string, e: ThingEntry) => {
    const spec: { id: string; name?: string } = deps.drivers?.things().find((t) => t.id === nodeId) ?? { id: nodeId };
    const res = await send(withNode(registerElement(thingTags(cfg.tags, spec, e.key), cfg.selfOwned), refOf(nodeId, e)));
    const push = resultPush(res, `registration of ${nodeId}`);
    if (push?.kind === 'claimed') return actThing(nodeId, push);
    saveThing(nodeId, { ...e, state: cfg.selfOwned ? 'self-owned' : 'registered', ...(spec.name ? { name: spec.name } : {}) });
  };
  const actThing = async (nodeId: string, p: RegistryPush) => {
    const e = st.things?.[nodeId];
    if (!e) return;
    if (p.kind === 'claimed') {
      // access.json first (as for the device's own claim): the claimer reads and controls this thing only.
      await deps.access.addThingOwner(p.owner, nodeId, registry());
      saveThing(nodeId, { ...e, state: 'claimed', owner: p.owner, public: p.public });
      m.log.info('a thing behind the gateway was claimed; its owner may read and control that thing only (no access to the rest of the gateway)', { nodeId, owner: p.owner });
      // XEP-0347 'KEY tag': a public claim empties the KEY in the registry (the thing's own update).
      if (p.public) {
        m.after(0, () => {
          round = round.then(async () => {
            await send(withNode(updateElement([{ name: 'KEY', value: '' }]), refOf(nodeId, e)));
            m.log.info('KEY emptied in the Thing Registry after a public claim', { nodeId });
          }).catch((err: Error) => m.log.warn('meta data update failed', { nodeId, error: err.message }));
        });
      }
    } else if (p.kind === 'removed') {
      saveThing(nodeId, { ...e, state: 'removed' });
      m.log.info('a thing behind the gateway was removed from the Thing Registry by its owner', { nodeId });
    } else {
      await deps.access.removeThingOwner(nodeId, registry());
      saveThing(nodeId, { sourceId: e.sourceId, key: newKey(), state: 'unregistered' });
      m.log.info('a thing behind the gateway was disowned; registering it again with a new KEY', { nodeId, formerOwner: e.owner });
    }
  };
  /** At a session every unclaimed thing (a registration refresh); on a change only the new ones. */
  const registerThings = async (onlyNew = false) => {
    const now = (deps.drivers?.drivers() ?? []).flatMap((d) => d.things.map((nodeId) => ({ nodeId, sourceId: d.id })));
    const next = reconcileThings(st.things, now);
    for (const [nodeId, e] of Object.entries(st.things ?? {})) {
      if (next[nodeId] || e.state === 'unregistered' || e.state === 'removed') continue;
      await send(withNode(unregisterElement(), refOf(nodeId, e))); // gone from the gateway: out of the registry
      await deps.access.removeThingOwner(nodeId);
      m.log.info('a thing no longer behind the gateway unregistered', { nodeId });
    }
    save({ things: next });
    let n = 0;
    for (const [nodeId, e] of Object.entries(next)) {
      if (e.state === 'removed' || e.state === 'claimed' || (onlyNew && e.state !== 'unregistered')) continue;
      await registerThing(nodeId, e);
      n++;
    }
    m.log.info('things behind the gateway registered (nodeId, sourceId)', { registry: registry(), things: n });
  };

  /** `discovery.enabled: false`: once unregistered, nothing more is sent. */
  const unregisterAll = async () => {
    const live = (s: string | undefined) => s === 'registered' || s === 'self-owned' || s === 'claimed';
    const things = Object.entries(st.things ?? {}).filter(([, e]) => live(e.state));
    if (!live(st.state) && !things.length) return;
    if (!peer && st.registry) peer = servicePeer(m, st.registry, 'Thing Registry', deps.access);
    if (!peer) { m.log.warn('discovery.enabled is false but the registry this device registered with is unknown; nothing unregistered', {}); return; }
    if (peer.account) await peer.ready(timeoutMs);
    for (const [nodeId, e] of things) await send(withNode(unregisterElement(), refOf(nodeId, e)));
    if (live(st.state)) await send(unregisterElement());
    save({ state: 'unregistered', owner: undefined, public: undefined, keyCleared: undefined, tagsHash: undefined, things: {} });
    m.log.info('unregistered from the Thing Registry (discovery.enabled: false)', { registry: registry(), things: things.length });
  };

  const onSession = async () => {
    if (!cfg.enabled) return unregisterAll();
    if (!peer) {
      const found = await findRegistry(m, timeoutMs);
      if (!found) {
        m.log.warn('no Thing Registry found among the server\'s components; set discovery.registry to its address', { server: m.jid.slice(m.jid.indexOf('@') + 1) });
        return;
      }
      peer = servicePeer(m, found, 'Thing Registry', deps.access);
      m.log.info('Thing Registry found by disco', { registry: found });
    }
    if (peer.account) await peer.ready(timeoutMs);
    if (st.registry !== peer.bare) save({ registry: peer.bare });
    if (st.state === 'claimed') {
      // Changed tags (or a public claim's KEY not yet emptied) are sent; otherwise nothing.
      if (st.tagsHash !== hash || (st.public !== false && !st.keyCleared)) await update();
    } else if (st.state !== 'removed') {
      await register();
    }
    if (cfg.registerThings) await registerThings(false);
  };

  // XEP-0347: claimed / removed / disowned, as iq sets from the registry; acknowledged empty.
  m.hook(`iq/set/${NS_DISCOVERY}`, async (iq) => {
    if (!peer || !peer.is(iq.attrs.from)) throw new StanzaError('forbidden', 'only the Thing Registry this device registered with may say that');
    const el = iq.elements.find((e) => e.xmlns === NS_DISCOVERY);
    const push = parseRegistryPush(el);
    if (!push) {
      m.log.warn('the Thing Registry sent something this device does not understand; refused', { element: `<${(el?.name ?? '').slice(0, 64)}/>`, jid: (el?.attrs.jid ?? '').slice(0, 200) });
      throw new StanzaError('bad-request', `<${el?.name}/> is not claimed (with an owner's bare JID), removed or disowned (XEP-0347)`);
    }
    const ref = nodeRefOf(el);
    if (ref) {
      if (!st.things?.[ref.nodeId]) throw new StanzaError('item-not-found', `no thing "${ref.nodeId}" is registered behind this gateway`);
      await actThing(ref.nodeId, push);
      if (push.kind === 'disowned') {
        m.after(0, () => { round = round.then(() => registerThing(ref.nodeId, st.things![ref.nodeId]!)).catch((e: Error) => m.log.error('registration after disown failed', { nodeId: ref.nodeId, error: e.message })); });
      }
    } else if (push.kind === 'disowned') {
      await disowned();
      // Acknowledged first (the registry waits for it before it answers the owner), then registered again.
      m.after(0, () => { round = round.then(register).catch((e: Error) => m.log.error('registration after disown failed', { registry: registry(), error: e.message })); });
    } else {
      await act(push);
      if (push.kind === 'claimed' && push.public) m.after(0, () => { round = round.then(update).catch((e: Error) => m.log.warn('meta data update failed', { registry: registry(), error: e.message })); });
    }
    return x('iq', { type: 'result', id: iq.attrs.id ?? '', to: iq.attrs.from });
  });

  // Things that appear or go while the device runs are registered or unregistered (coalesced).
  let sessions = 0;
  let pending: (() => void) | undefined;
  if (cfg.enabled && cfg.registerThings && deps.onThingsChanged) {
    m.onUnload(deps.onThingsChanged(() => {
      if (!sessions || pending) return;
      pending = m.after(500, () => {
        pending = undefined;
        if (peer) round = round.then(() => registerThings(true)).catch((e: Error) => m.log.error('things behind the gateway not registered', { registry: registry(), error: e.message }));
      });
    }));
  }

  m.onSession((info) => {
    if (info.resumed) return;
    sessions++;
    round = round.then(onSession).catch((e: Error) => {
      const refused = e instanceof StanzaError && !/timed? ?out/i.test(e.message);
      m.log.error(refused ? 'the Thing Registry refused the request; trying again at the next session' : 'Thing Registry not reached; registering again at the next session', { registry: registry(), error: e.message });
    });
  });

  return { state: () => st, registry, settled: () => round };
}
