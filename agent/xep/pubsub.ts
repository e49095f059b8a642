// XEP-0060 PubSub (and XEP-0163 PEP) stanza builders and parsers. Pure: no socket, no ids.
// The session's iq() adds the `id`; `to` is the PubSub service, or absent for PEP, where the
// account's own bare JID is the service (XEP-0163 4: the user's server acts for the account).
import { Element, x } from '../xml/element';
import { NS_DISCO_INFO } from './disco';
import { NS_DATA, submitForm } from './forms';

export { NS_DATA };

export const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';
export const NS_PUBSUB_OWNER = 'http://jabber.org/protocol/pubsub#owner';
export const NS_PUBSUB_EVENT = 'http://jabber.org/protocol/pubsub#event';
export const NS_PUBSUB_ERRORS = 'http://jabber.org/protocol/pubsub#errors';
export const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
export const FORM_PUBLISH_OPTIONS = 'http://jabber.org/protocol/pubsub#publish-options';
export const FORM_NODE_CONFIG = 'http://jabber.org/protocol/pubsub#node_config';

/** The node settings the agent cares about (XEP-0060 16.4.3 pubsub#node_config). */
export interface NodeConfig {
  /** History depth; 'max' = as many as the service allows (XEP-0060 12.12). */
  maxItems?: number | 'max';
  persistItems?: boolean;
  accessModel?: 'open' | 'presence' | 'roster' | 'authorize' | 'whitelist';
  sendLastPublishedItem?: 'never' | 'on_sub' | 'on_sub_and_presence';
  notifyRetract?: boolean;
  title?: string;
}

/** NodeConfig as `[var, value]` pairs in a stable order (the order of the interface). */
export function nodeConfigFields(config: NodeConfig): [string, string][] {
  const f: [string, string][] = [];
  // XEP-0004 3.3: boolean values are "1"/"0" (or "true"/"false"); "1"/"0" is what XEP-0060 examples use.
  const b = (v: boolean): string => (v ? '1' : '0');
  if (config.maxItems !== undefined) f.push(['pubsub#max_items', String(config.maxItems)]);
  if (config.persistItems !== undefined) f.push(['pubsub#persist_items', b(config.persistItems)]);
  if (config.accessModel !== undefined) f.push(['pubsub#access_model', config.accessModel]);
  if (config.sendLastPublishedItem !== undefined) f.push(['pubsub#send_last_published_item', config.sendLastPublishedItem]);
  if (config.notifyRetract !== undefined) f.push(['pubsub#notify_retract', b(config.notifyRetract)]);
  if (config.title !== undefined) f.push(['pubsub#title', config.title]);
  return f;
}

/** A submitted data form (XEP-0004 3.1) with a hidden FORM_TYPE (XEP-0068): agent/xep/forms.ts. */
export { submitForm };

// The iq itself stays namespace-less: the session serializes it in the stream's jabber:client.
function iqSet(to: string | undefined, child: Element): Element {
  return x('iq', { type: 'set', ...(to ? { to } : {}) }, child);
}
function iqGet(to: string | undefined, child: Element): Element {
  return x('iq', { type: 'get', ...(to ? { to } : {}) }, child);
}

export interface PublishRequest {
  /** PubSub service JID; undefined = PEP (no 'to', the account's own service). */
  service?: string;
  node: string;
  itemId: string;
  payload: Element;
  /** Preconditions (XEP-0060 7.1.5); also the config of an auto-created node. */
  publishOptions?: NodeConfig;
}

/** XEP-0060 7.1.1 publish, with 7.1.5 publish-options when given. */
export function publishIq(req: PublishRequest): Element {
  // One per item (every reading passes here): the tree made directly, without x()'s attribute
  // copies and namespace walks; the same elements and attribute order as x() gives.
  const item = new Element('item', NS_PUBSUB, { id: req.itemId }, [req.payload]);
  const pubsub = new Element('pubsub', NS_PUBSUB, {}, [new Element('publish', NS_PUBSUB, { node: req.node }, [item])]);
  if (req.publishOptions) {
    const fields = nodeConfigFields(req.publishOptions);
    if (fields.length) pubsub.append(x('publish-options', null, submitForm(FORM_PUBLISH_OPTIONS, fields)));
  }
  return new Element('iq', '', req.service ? { type: 'set', to: req.service } : { type: 'set' }, [pubsub]);
}

/** XEP-0060 8.1.1 create, with 8.1.3 create-and-configure when a config is given. */
export function createNodeIq(service: string | undefined, node: string, config?: NodeConfig): Element {
  const pubsub = x('pubsub', { xmlns: NS_PUBSUB }, x('create', { node }));
  if (config) {
    const fields = nodeConfigFields(config);
    if (fields.length) pubsub.append(x('configure', null, submitForm(FORM_NODE_CONFIG, fields)));
  }
  return iqSet(service, pubsub);
}

/** XEP-0060 8.2.4 configure (owner namespace). Only the given fields change. */
export function configureNodeIq(service: string | undefined, node: string, config: NodeConfig): Element {
  return iqSet(service, x('pubsub', { xmlns: NS_PUBSUB_OWNER },
    x('configure', { node }, submitForm(FORM_NODE_CONFIG, nodeConfigFields(config)))));
}

/** XEP-0060 8.2.1 request the node configuration form. */
export function getNodeConfigIq(service: string | undefined, node: string): Element {
  return iqGet(service, x('pubsub', { xmlns: NS_PUBSUB_OWNER }, x('configure', { node })));
}

/** XEP-0060 6.1.1 subscribe `jid` (a bare JID for a normal subscription). */
export function subscribeIq(service: string | undefined, node: string, jid: string): Element {
  return iqSet(service, x('pubsub', { xmlns: NS_PUBSUB }, x('subscribe', { node, jid })));
}

/** XEP-0060 6.2.1 unsubscribe. */
export function unsubscribeIq(service: string | undefined, node: string, jid: string): Element {
  return iqSet(service, x('pubsub', { xmlns: NS_PUBSUB }, x('unsubscribe', { node, jid })));
}

/** XEP-0060 6.5.2 all items, 6.5.7 the most recent `max`. */
export function itemsIq(service: string | undefined, node: string, max?: number): Element {
  return iqGet(service, x('pubsub', { xmlns: NS_PUBSUB },
    x('items', { node, ...(max !== undefined ? { max_items: String(max) } : {}) })));
}

/** XEP-0060 8.4 delete a node (tests and `xiota` cleanup). */
export function deleteNodeIq(service: string | undefined, node: string): Element {
  return iqSet(service, x('pubsub', { xmlns: NS_PUBSUB_OWNER }, x('delete', { node })));
}

export interface PubSubItem { id: string; payload?: Element; publisher?: string }

/**
 * Items of an items result (`<pubsub><items>`) or of an event (`<event><items>`), or of the
 * `<items>` element itself. Returns [] when there are none.
 */
export function parseItems(el: Element): PubSubItem[] {
  let items: Element | undefined;
  if (el.name === 'items') items = el;
  else {
    const holder = el.name === 'pubsub' || el.name === 'event' ? el
      : el.getChild('pubsub', NS_PUBSUB) ?? el.getChild('event', NS_PUBSUB_EVENT);
    items = holder?.getChild('items');
  }
  if (!items) return [];
  return items.getChildren('item').map((it) => {
    const item: PubSubItem = { id: it.attrs.id ?? '' };
    const payload = it.elements[0];
    if (payload) item.payload = payload;
    if (it.attrs.publisher) item.publisher = it.attrs.publisher;
    return item;
  });
}

export interface PubSubEvent {
  /** Sender of the notification: the pubsub service, or the PEP account's bare JID. */
  service: string;
  node: string;
  items: { id: string; payload?: Element }[];
  retracts: string[];
}

/** XEP-0060 7.1.2.1 / 7.2.2.1: a notification message, or undefined if it is not one. */
export function parsePubSubEvent(message: Element): PubSubEvent | undefined {
  if (message.name !== 'message') return undefined;
  const event = message.getChild('event', NS_PUBSUB_EVENT);
  const items = event?.getChild('items');
  if (!items || items.attrs.node === undefined) return undefined;
  return {
    service: message.attrs.from ?? '',
    node: items.attrs.node,
    items: parseItems(items).map((i) => (i.payload ? { id: i.id, payload: i.payload } : { id: i.id })),
    retracts: items.getChildren('retract').map((r) => r.attrs.id ?? ''),
  };
}

/** Reads a node_config form (result of getNodeConfigIq) into var -> values. */
export function parseNodeConfig(result: Element): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const form = result.getChild('pubsub', NS_PUBSUB_OWNER)?.getChild('configure')?.getChild('x', NS_DATA);
  for (const f of form?.getChildren('field') ?? []) {
    if (f.attrs.var) out.set(f.attrs.var, f.getChildren('value').map((v) => v.text()));
  }
  return out;
}

export type PublishErrorKind = 'precondition-not-met' | 'item-not-found' | 'forbidden' | 'not-allowed'
  | 'policy-violation' | 'resource-constraint' | 'other';

export interface ClassifiedError {
  kind: PublishErrorKind;
  /** RFC 6120 8.3.3 condition (`conflict`, `forbidden`...), '' when absent. */
  condition: string;
  /** XEP-0060 pubsub#errors condition (`precondition-not-met`...), '' when absent. */
  pubsubCondition: string;
  text?: string;
  /** One line for logs and XiotaError messages. */
  message: string;
}

/** Classifies an `<iq type='error'>` answer to a publish/create/configure (XEP-0060 7.1.3, 8.1.2, 8.2.2). */
export function classifyPublishError(errorIq: Element): ClassifiedError {
  const err = errorIq.getChild('error');
  let condition = '';
  let pubsubCondition = '';
  let text: string | undefined;
  for (const c of err?.elements ?? []) {
    if (c.xmlns === NS_STANZAS) {
      if (c.name === 'text') text = c.text();
      else if (!condition) condition = c.name;
    } else if (c.xmlns === NS_PUBSUB_ERRORS && !pubsubCondition) {
      pubsubCondition = c.name;
    }
  }
  let kind: PublishErrorKind;
  // XEP-0060 7.1.5: a failed precondition is conflict + precondition-not-met. Some servers
  // send only the pubsub condition under another stanza error, so the pubsub one decides.
  if (pubsubCondition === 'precondition-not-met') kind = 'precondition-not-met';
  else if (condition === 'item-not-found') kind = 'item-not-found';
  else if (condition === 'forbidden') kind = 'forbidden';
  else if (condition === 'not-allowed') kind = 'not-allowed';
  else if (condition === 'policy-violation') kind = 'policy-violation';
  else if (condition === 'resource-constraint') kind = 'resource-constraint';
  else kind = 'other';
  const what = [condition || 'unknown-condition', pubsubCondition].filter(Boolean).join('/');
  const message = `${what}${text ? `: ${text}` : ''}${errorIq.attrs.from ? ` (from ${errorIq.attrs.from})` : ''}`;
  const out: ClassifiedError = { kind, condition, pubsubCondition, message };
  if (text !== undefined) out.text = text;
  return out;
}

// --- What a PubSub service says it supports (XEP-0030 disco#info, XEP-0060 10) -------------

/** XEP-0060 10 feature names the node setup reads. */
export const FEATURE = {
  publishOptions: `${NS_PUBSUB}#publish-options`,
  configNode: `${NS_PUBSUB}#config-node`,
  createAndConfigure: `${NS_PUBSUB}#create-and-configure`,
  createNodes: `${NS_PUBSUB}#create-nodes`,
  autoCreate: `${NS_PUBSUB}#auto-create`,
  configNodeMax: `${NS_PUBSUB}#config-node-max`,
} as const;

/** XEP-0030 3.1 disco#info to the service (PEP: the account's own bare JID, XEP-0163 4). */
export function discoInfoIq(to: string): Element {
  return iqGet(to, x('query', { xmlns: NS_DISCO_INFO }));
}

/** The features of a disco#info result; undefined when the result holds no query (nothing learnt). */
export function parseDiscoFeatures(result: Element): Set<string> | undefined {
  const q = result.getChild('query', NS_DISCO_INFO);
  if (!q) return undefined;
  return new Set(q.getChildren('feature').map((f) => f.attrs.var ?? '').filter(Boolean));
}

/**
 * Does this error to a publish WITH publish-options possibly mean "I do not take these
 * publish-options" rather than "your item or node is wrong"? Servers pick different errors
 * for it: ejabberd 23.01 answers resource-constraint "Unknown field 'pubsub#max_items' of type
 * ...publish-options"; others not-acceptable, bad-request, feature-not-implemented, or
 * pubsub#errors unsupported/invalid-options. Only a retry without options can tell for sure,
 * so this only decides whether that retry is worth making. Returns the option field the
 * server named, '' when it named none, or undefined when the error is not such a refusal.
 */
export function publishOptionsRefusal(e: ClassifiedError): string | undefined {
  const text = e.text ?? '';
  const named = /pubsub#([a-z_]+)/i.exec(text)?.[1];
  const mentionsOptions = /publish-options|unknown field|publish_options|precondition/i.test(text);
  const refusingCondition = ['resource-constraint', 'not-acceptable', 'bad-request', 'feature-not-implemented', 'not-allowed', 'conflict'].includes(e.condition);
  const refusingPubsub = ['unsupported', 'invalid-options', 'unsupported-access-model'].includes(e.pubsubCondition);
  if (mentionsOptions || refusingPubsub || (refusingCondition && e.kind !== 'precondition-not-met')) return named ?? '';
  return undefined;
}
