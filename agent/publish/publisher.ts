// Publishes items to PubSub/PEP nodes, creating and configuring each node on first use.
//
// First publish to a node (XEP-0060 7.1.5 publish-options are preconditions):
//   1. publish with publish-options = the wanted config. A service with auto-create makes a
//      missing node with that config (PEP always does, XEP-0163 3), an existing matching node
//      just takes the item: one round trip in the common case.
//   2. conflict + precondition-not-met: the node exists with other settings. Reconfigure it as
//      its owner (XEP-0060 8.2.4) and publish without options. Servers differ on what they
//      compare (DESIGN.md: ejabberd issues 3044, 3664, 4106), so this is the normal path
//      whenever the config in the YAML changes.
//   3. item-not-found (a PubSub service without auto-create): create it with the config
//      (XEP-0060 8.1.3), then publish. Prosody's component lets only admins create nodes:
//      a forbidden create says exactly that.
//   4. publish-options not supported at all (feature-not-implemented / bad-request):
//      publish plain, then configure, best effort.
// After that a node is "ready" and later publishes go out plain, one round trip, with no
// precondition to trip over. forget() clears that (after a reconnect to another server, or
// when the config changes); an item-not-found on a ready node clears it too.
import { Element } from '../xml/element';
import { XiotaError } from '../errors';
import { silentLogger, type Logger } from '../log';
import {
  classifyPublishError, configureNodeIq, createNodeIq, publishIq, type ClassifiedError, type NodeConfig,
} from '../xep/pubsub';

/**
 * The session's request/response: sends an iq (the session adds `id`), resolves with the
 * `type='result'` answer, rejects on `type='error'` with an error whose `.stanza` or
 * `.detail.stanza` is the error iq Element. Any other rejection (timeout, disconnect) is a
 * transport failure and is passed through untouched, so the outbox retries it later.
 */
export type IqSender = (request: Element, timeoutMs?: number) => Promise<Element>;

export interface NodePublisherOptions {
  iq: IqSender;
  /** PubSub service JID; undefined = the account's own PEP service. */
  service?: string;
  /** The config every node should have. */
  config: NodeConfig;
  /** Per-iq timeout handed to `iq`. */
  timeoutMs?: number;
  log?: Logger;
}

/** The error iq carried by a rejection of IqSender, or undefined for transport failures. */
export function errorStanzaOf(e: unknown): Element | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const o = e as { stanza?: unknown; detail?: { stanza?: unknown } };
  if (o.stanza instanceof Element) return o.stanza;
  if (o.detail && typeof o.detail === 'object' && o.detail.stanza instanceof Element) return o.detail.stanza;
  return undefined;
}

type Attempt = { ok: true } | { ok: false; error: ClassifiedError; stanza: Element };

export class NodePublisher {
  private readonly ready = new Set<string>();
  private readonly preparing = new Map<string, Promise<void>>();
  private readonly log: Logger;
  /** What the service did with publish-options on the last first-publish (for status/tests). */
  lastSetupPath: 'publish-options' | 'configure' | 'create' | 'plain-then-configure' | undefined;

  constructor(private readonly opts: NodePublisherOptions) {
    this.log = opts.log ?? silentLogger;
  }

  get serviceName(): string {
    return this.opts.service ?? 'PEP';
  }

  isReady(node: string): boolean {
    return this.ready.has(node);
  }

  /** Forget which nodes are set up (one node, or all): the next publish checks again. */
  forget(node?: string): void {
    if (node === undefined) this.ready.clear();
    else this.ready.delete(node);
  }

  /** Publishes `payload` as item `itemId` of `node`. Resolves when the service accepted it. */
  async publish(node: string, itemId: string, payload: Element): Promise<void> {
    const setup = this.preparing.get(node);
    if (setup) await setup.catch(() => undefined);
    if (this.ready.has(node)) {
      const r = await this.attempt(publishIq({ service: this.opts.service, node, itemId, payload }));
      if (r.ok) return;
      if (r.error.kind !== 'item-not-found') throw this.fail('publish to', node, r);
      // The node went away (deleted by an admin, server data reset): set it up again.
      this.ready.delete(node);
      this.log.info('pubsub node vanished, setting it up again', { node, service: this.serviceName });
    }
    if (!this.preparing.has(node)) {
      // The first publish carries the item itself; concurrent ones wait and then go plain.
      const p = this.firstPublish(node, itemId, payload);
      this.preparing.set(node, p);
      try {
        await p;
      } finally {
        this.preparing.delete(node);
      }
      return;
    }
    return this.publish(node, itemId, payload);
  }

  private async firstPublish(node: string, itemId: string, payload: Element): Promise<void> {
    const { service, config } = this.opts;
    const withOptions = await this.attempt(publishIq({ service, node, itemId, payload, publishOptions: config }));
    if (withOptions.ok) return this.markReady(node, 'publish-options');
    const e = withOptions.error;
    if (e.kind === 'precondition-not-met') {
      this.log.info('pubsub node config differs, reconfiguring', { node, service: this.serviceName, error: e.message });
      const conf = await this.attempt(configureNodeIq(service, node, config));
      if (!conf.ok) throw this.fail('configure', node, conf);
      return this.plainThenReady(node, itemId, payload, 'configure');
    }
    if (e.kind === 'item-not-found') {
      const created = await this.attempt(createNodeIq(service, node, config));
      if (!created.ok) {
        if (created.error.condition === 'conflict') {
          // Created meanwhile by someone else: make its settings ours.
          const conf = await this.attempt(configureNodeIq(service, node, config));
          if (!conf.ok) throw this.fail('configure', node, conf);
        } else {
          throw this.fail('create', node, created);
        }
      }
      return this.plainThenReady(node, itemId, payload, 'create');
    }
    if (e.condition === 'feature-not-implemented' || e.condition === 'bad-request') {
      // XEP-0060 7.1.5: publish-options support is optional (feature
      // http://jabber.org/protocol/pubsub#publish-options).
      const plain = await this.attempt(publishIq({ service, node, itemId, payload }));
      if (!plain.ok) throw this.fail('publish to', node, plain);
      const conf = await this.attempt(configureNodeIq(service, node, config));
      if (!conf.ok) this.log.warn('pubsub node published but not configured', { node, service: this.serviceName, error: conf.error.message });
      return this.markReady(node, 'plain-then-configure');
    }
    throw this.fail('publish to', node, withOptions);
  }

  private async plainThenReady(node: string, itemId: string, payload: Element, path: 'configure' | 'create'): Promise<void> {
    const r = await this.attempt(publishIq({ service: this.opts.service, node, itemId, payload }));
    if (!r.ok) throw this.fail('publish to', node, r);
    this.markReady(node, path);
  }

  private markReady(node: string, path: NonNullable<NodePublisher['lastSetupPath']>): void {
    this.ready.add(node);
    this.lastSetupPath = path;
    this.log.debug('pubsub node ready', { node, service: this.serviceName, path });
  }

  /** One iq: resolves with ok, or the classified stanza error; transport failures throw. */
  private async attempt(request: Element): Promise<Attempt> {
    try {
      await this.opts.iq(request, this.opts.timeoutMs);
      return { ok: true };
    } catch (e) {
      const stanza = errorStanzaOf(e);
      if (!stanza) throw e;
      return { ok: false, error: classifyPublishError(stanza), stanza };
    }
  }

  private fail(action: 'publish to' | 'create' | 'configure', node: string, r: Attempt & { ok: false }): XiotaError {
    const svc = this.opts.service;
    const where = svc ? `the PubSub service ${svc}` : 'the account\'s PEP service';
    const { kind, message } = r.error;
    let todo: string;
    if (action === 'create' && (kind === 'forbidden' || kind === 'not-allowed' || r.error.condition === 'feature-not-implemented')) {
      todo = `${where} lets only its admins create nodes: create node ${node} there (or make this account an admin), or use PEP by leaving the pubsub service unset`;
    } else if (action === 'configure' && (kind === 'forbidden' || kind === 'not-allowed' || kind === 'item-not-found')) {
      todo = `node ${node} exists on ${where} with other settings and this account may not reconfigure it: make this account its owner, change the node's settings by hand, or change the publish settings in the config to match the node`;
    } else if (kind === 'forbidden' && svc && !this.ready.has(node)) {
      // Prosody's component answers a publish to a missing node it would auto-create with
      // `forbidden` when the account may not create nodes (only admins may), not item-not-found.
      todo = `this account may not publish to node ${node} on ${where}, or the node does not exist and the service lets only its admins create nodes: create node ${node} there and make this account a publisher, or use PEP by leaving the pubsub service unset`;
    } else if (kind === 'forbidden') {
      todo = `this account may not publish to node ${node} on ${where}: make it a publisher or owner of the node`;
    } else if (kind === 'policy-violation') {
      todo = `${where} refused the item by policy (size or rate limit?): check the server's pubsub limits`;
    } else if (kind === 'resource-constraint') {
      todo = `${where} is out of resources (max nodes or items?): lower max_items or ask its admin`;
    } else if (kind === 'item-not-found') {
      todo = `node ${node} does not exist on ${where} and was not created: create it by hand`;
    } else {
      todo = `check the node settings in the config and the server's pubsub support`;
    }
    return new XiotaError('XIOTA_E_PUBSUB', `could not ${action} node ${node} (${message}): ${todo}`, {
      node, service: svc ?? null, action, kind, condition: r.error.condition,
      pubsubCondition: r.error.pubsubCondition, stanza: r.stanza,
    });
  }
}
