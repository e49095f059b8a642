// XEP-0347 discovery, thing side: find the Thing Registry (config, or the server's components
// by disco: XEP-0347 'Finding Thing Registry' 5 and 'Determining Support'), register with the
// configured meta tags and a KEY kept in the state directory, and follow what the registry
// says: claimed (the claimer becomes an owner in the access store, persisted), removed (no more
// updates), disowned (the owner goes, a new KEY, registered again to be re-claimed). A public
// claimed thing updates its tags and empties its KEY (XEP-0347 'KEY tag'); a self-owned one
// registers with selfOwned='true'. Only the registry's own address is obeyed.
//
// The registry is taken as a component (XEP-0347 'JID vs Component Thing Registries': no
// friendship needed); the config refuses a JID. The pure parts are agent/iot/discovery-meta.ts.
import { bareOf } from '../access';
import type { Access } from '../access-store';
import type { DiscoveryConfig } from '../config/iot-schema';
import type { ModuleContext } from '../module';
import { StanzaError } from '../session/stanza';
import { x } from '../xml/element';
import {
  NS_DISCOVERY, loadOrCreateState, metaTags, newKey, parseRegistryPush, registerElement, updateElement, writeDiscoveryState,
  type DiscoveryState, type RegistryPush,
} from '../iot/discovery-meta';
import { NS_DISCO_INFO, NS_DISCO_ITEMS } from './disco';

export { NS_DISCOVERY };

export interface DiscoveryDeps {
  config: DiscoveryConfig;
  access: Pick<Access, 'addOwner' | 'removeOwner'>;
  /** Where discovery.json lives (beside the outbox and access.json). */
  stateDir: string;
  /** How long to wait for the registry and for each component's disco (default 10 s). */
  timeoutMs?: number;
}

export interface Discovery {
  state(): DiscoveryState;
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
  let st = loadOrCreateState(deps.stateDir);
  let registry: string | undefined = deps.config.registry === 'auto' ? undefined : deps.config.registry.toLowerCase();
  let round: Promise<void> = Promise.resolve();

  const save = (next: Partial<DiscoveryState>) => {
    st = { ...st, ...next };
    try {
      writeDiscoveryState(deps.stateDir, st);
    } catch (e) {
      m.log.error('discovery state not saved; it holds until a restart', { dir: deps.stateDir, error: (e as Error).message });
    }
  };
  const tags = () => metaTags(deps.config.tags, st.key);
  const fromRegistry = (from: string | undefined) => !!registry && !!from && bareOf(from) === registry;

  /** A claim: the owner joins the access store (persisted) and is befriended (XEP-0347: "it can
   *  also safely send a friendship request to the owner"). */
  const claimed = async (owner: string, isPublic: boolean) => {
    await deps.access.addOwner(owner, registry);
    save({ state: 'claimed', owner, public: isPublic });
    m.send(x('presence', { to: owner, type: 'subscribed' }));
    m.send(x('presence', { to: owner, type: 'subscribe' }));
    m.log.info('claimed through the Thing Registry: a new owner', { owner, public: isPublic, registry });
  };

  const disowned = async () => {
    const old = st.owner;
    if (old) {
      await deps.access.removeOwner(old, registry);
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
      m.log.info('removed from the Thing Registry by the owner; no more meta data updates', { registry });
    } else await disowned();
  };

  /** XEP-0347 'Registering Thing': answered empty, or <claimed/> when already claimed. */
  const register = async () => {
    const res = await m.iq(x('iq', { type: 'set', to: registry }, registerElement(tags(), deps.config.selfOwned)), timeoutMs);
    const push = parseRegistryPush(res.elements[0]);
    if (push?.kind === 'claimed') return act(push);
    save({ state: deps.config.selfOwned ? 'self-owned' : 'registered' });
    m.log.info(deps.config.selfOwned ? 'registered as a self-owned public thing' : 'registered with the Thing Registry; waiting to be claimed (`xiota claim` shows the code)', { registry, tags: tags().length });
  };

  /** XEP-0347 'Update Meta Information': a public claimed thing keeps its tags current and empties KEY. */
  const update = async () => {
    const out = [...metaTags(deps.config.tags, '')];
    try {
      const res = await m.iq(x('iq', { type: 'set', to: registry }, updateElement(out)), timeoutMs);
      const push = parseRegistryPush(res.elements[0]);
      // XEP-0347: <disowned/> in the result: "the Thing can assume it has been disowned".
      if (push?.kind === 'disowned') { await disowned(); return register(); }
      save({ keyCleared: true });
      m.log.debug('meta data updated in the Thing Registry', { registry });
    } catch (e) {
      // XEP-0347: item-not-found = the owner removed it; "further meta data updates are not desired".
      if (e instanceof StanzaError && e.condition === 'item-not-found') return act({ kind: 'removed' });
      throw e;
    }
  };

  const onSession = async () => {
    if (!registry) {
      registry = await findRegistry(m, timeoutMs);
      if (!registry) {
        m.log.warn('no Thing Registry found among the server\'s components; set discovery.registry to its address', { server: m.jid.slice(m.jid.indexOf('@') + 1) });
        return;
      }
      m.log.info('Thing Registry found by disco', { registry });
    }
    if (st.registry !== registry) save({ registry });
    if (st.state === 'removed') return;
    if (st.state === 'claimed') {
      if (st.public !== false) await update();
      return;
    }
    await register();
  };

  // XEP-0347: claimed / removed / disowned, as iq sets from the registry; acknowledged empty.
  m.hook(`iq/set/${NS_DISCOVERY}`, async (iq) => {
    if (!fromRegistry(iq.attrs.from)) throw new StanzaError('forbidden', 'only the Thing Registry this device registered with may say that');
    const push = parseRegistryPush(iq.elements[0]);
    if (!push) throw new StanzaError('bad-request', `<${iq.elements[0]?.name}/> is not claimed, removed or disowned (XEP-0347)`);
    if (push.kind === 'disowned') {
      await disowned();
      // Acknowledged first (the registry waits for it before it answers the owner), then registered again.
      m.after(0, () => { round = round.then(register).catch((e: Error) => m.log.error('registration after disown failed', { registry, error: e.message })); });
    } else {
      await act(push);
      if (push.kind === 'claimed' && push.public) m.after(0, () => { round = round.then(update).catch((e: Error) => m.log.warn('meta data update failed', { registry, error: e.message })); });
    }
    return x('iq', { type: 'result', id: iq.attrs.id ?? '', to: iq.attrs.from });
  });

  m.onSession((info) => {
    if (info.resumed) return;
    round = round.then(onSession).catch((e: Error) => m.log.error('Thing Registry not reached; registering again at the next session', { registry, error: e.message }));
  });

  return { state: () => st, registry: () => registry, settled: () => round };
}

