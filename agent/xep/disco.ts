// XEP-0030 service discovery: what this entity is and what it supports. Modules add their
// features here; entity capabilities (XEP-0115) hash the same data.
import { createHash } from 'node:crypto';
import type { ModuleContext } from '../module';
import { StanzaError } from '../session/stanza';
import { Element, x } from '../xml/element';

export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
export const NS_CAPS = 'http://jabber.org/protocol/caps';
export const CAPS_NODE = 'https://xiota.dev/caps';

export interface Identity { category: string; type: string; name?: string; lang?: string }
export interface DiscoItem { jid: string; node?: string; name?: string }

export class Disco {
  identities: Identity[] = [{ category: 'client', type: 'bot', name: 'xiota' }];
  private features = new Set<string>([NS_DISCO_INFO, NS_DISCO_ITEMS, NS_CAPS]);
  private itemSources: ((asker: string) => DiscoItem[])[] = [];
  private cachedVer?: string;

  addFeature(ns: string): () => void {
    this.features.add(ns);
    this.cachedVer = undefined;
    return () => {
      this.features.delete(ns);
      this.cachedVer = undefined;
    };
  }

  /** A source of root disco#items, asked with the asker's full JID (so lists can depend on who asks). */
  addItems(source: (asker: string) => DiscoItem[]): () => void {
    this.itemSources.push(source);
    return () => {
      const i = this.itemSources.indexOf(source);
      if (i >= 0) this.itemSources.splice(i, 1);
    };
  }

  featureList(): string[] {
    return [...this.features].sort();
  }

  infoElement(node?: string): Element {
    const q = x('query', { xmlns: NS_DISCO_INFO, node });
    for (const i of this.identities) q.append(x('identity', { category: i.category, type: i.type, name: i.name, 'xml:lang': i.lang }));
    for (const f of this.featureList()) q.append(x('feature', { var: f }));
    return q;
  }

  /** XEP-0115 5.1: the verification string over identities and features (no forms). */
  ver(): string {
    if (this.cachedVer) return this.cachedVer;
    const ids = this.identities.map((i) => `${i.category}/${i.type}/${i.lang ?? ''}/${i.name ?? ''}`).sort();
    const s = ids.map((i) => i + '<').join('') + this.featureList().map((f) => f + '<').join('');
    this.cachedVer = createHash('sha1').update(s, 'utf8').digest('base64');
    return this.cachedVer;
  }

  /** The <c/> element for presence (XEP-0115 4). */
  capsElement(): Element {
    return x('c', { xmlns: NS_CAPS, hash: 'sha-1', node: CAPS_NODE, ver: this.ver() });
  }

  itemsElement(asker: string, node?: string): Element {
    const q = x('query', { xmlns: NS_DISCO_ITEMS, node });
    if (!node) for (const src of this.itemSources) for (const it of src(asker)) q.append(x('item', { jid: it.jid, node: it.node, name: it.name }));
    return q;
  }
}

/** The disco module: answers disco#info (also at the caps node) and root disco#items. */
export function install(m: ModuleContext, deps: { disco: Disco }): void {
  const disco = deps.disco;
  m.hook(`iq/get/${NS_DISCO_INFO}`, (iq) => {
    const node = iq.getChild('query', NS_DISCO_INFO)?.attrs.node;
    // XEP-0115 6.2: the caps node#ver must answer like the plain query.
    if (node && node !== `${CAPS_NODE}#${disco.ver()}`) throw new StanzaError('item-not-found');
    return disco.infoElement(node);
  });
  // XEP-0030 4: items of the root node come from the modules' sources; no other node has items.
  m.hook(`iq/get/${NS_DISCO_ITEMS}`, (iq) => disco.itemsElement(iq.attrs.from ?? '', iq.getChild('query', NS_DISCO_ITEMS)?.attrs.node));
}
