// XEP-0347 for the things behind the gateway ('Registering Thing behind Concentrator'): each thing
// registers with nodeId (the thing's id, the XEP-0326 node of agent/xep/concentrator.ts) and
// sourceId (its driver's id, the data source), its own KEY and NAME, and is claimed, removed and
// disowned on its own. Also what the device remembers of its last registration (a hash of the
// tags, so a changed config is sent at the next start). Pure, plus the state shape kept in
// discovery.json beside agent/iot/discovery-meta.ts's fields.
import { createHash } from 'node:crypto';
import type { MetaValue } from '../config/iot-schema';
import type { Element } from '../xml/element';
import { metaTags, newKey, type DiscoveryState, type MetaTag, type RegistryState } from './discovery-meta';

/** XEP-0347: "those of the attributes nodeId, sourceId and cacheType that are required to access the Thing". */
export interface NodeRef { nodeId: string; sourceId?: string }

/** One thing behind the gateway as the registry knows it. */
export interface ThingEntry {
  sourceId: string;
  key: string;
  state: RegistryState;
  owner?: string;
  public?: boolean;
  /** The thing's name as registered (its NAME tag; the id when it has none), so `xiota claim --thing` prints the same tags. */
  name?: string;
}

/** discovery.json with what this file adds (older files lack them: read as absent). */
export type DiscoveryStateExt = DiscoveryState & {
  /** sha256 of the tags last registered or updated, KEY left out. */
  tagsHash?: string;
  /** discovery.register_things: per nodeId. */
  things?: Record<string, ThingEntry>;
};

/** The node a registry's stanza is about, or undefined for the gateway itself. */
export function nodeRefOf(el: Element | undefined): NodeRef | undefined {
  const nodeId = el?.attrs.nodeId;
  if (!nodeId) return undefined;
  return el.attrs.sourceId ? { nodeId, sourceId: el.attrs.sourceId } : { nodeId };
}

/** The element with the node's attributes added (register, update, unregister). */
export function withNode(el: Element, ref: NodeRef | undefined): Element {
  if (ref) {
    el.attrs.nodeId = ref.nodeId;
    if (ref.sourceId !== undefined) el.attrs.sourceId = ref.sourceId;
  }
  return el;
}

/** A thing's tags: the gateway's configured ones with NAME the thing's own (so an owner tells them apart), then its KEY. */
export function thingTags(configured: Record<string, MetaValue>, thing: { id: string; name?: string }, key: string): MetaTag[] {
  const own = Object.fromEntries(Object.entries(configured).filter(([n]) => n.toUpperCase() !== 'NAME'));
  return metaTags({ ...own, NAME: thing.name ?? thing.id }, key);
}

/** The tags' identity, KEY left out (it changes on its own: disowned, emptied after a public claim). */
export function tagsHash(tags: readonly MetaTag[]): string {
  const h = createHash('sha256');
  for (const t of tags) if (t.name !== 'KEY') h.update(`${t.name}\u0000${typeof t.value}\u0000${String(t.value)}\u0001`);
  return h.digest('hex').slice(0, 32);
}

/** The entries for the things now behind the gateway: kept ones keep their KEY and state, new ones get a KEY. */
export function reconcileThings(prev: Record<string, ThingEntry> | undefined, now: ReadonlyArray<{ nodeId: string; sourceId: string }>): Record<string, ThingEntry> {
  const out: Record<string, ThingEntry> = {};
  for (const t of now) {
    const p = prev?.[t.nodeId];
    out[t.nodeId] = p && p.sourceId === t.sourceId ? p : { sourceId: t.sourceId, key: newKey(), state: 'unregistered' };
  }
  return out;
}
