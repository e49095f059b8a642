// Publishes items to PubSub/PEP nodes, creating and configuring each node on first use.
//
// Servers read XEP-0060 differently, so the first publish to a node goes by what the service
// advertises (disco#info, asked once per service) and by what worked before on it:
//   1. publish with publish-options = the wanted config (XEP-0060 7.1.5), when the service
//      advertises #publish-options (or says nothing). A service with auto-create makes a
//      missing node with that config (PEP always does, XEP-0163 3); an existing matching node
//      just takes the item: one round trip in the common case (Prosody).
//   2. conflict + precondition-not-met: the node exists with other settings. Reconfigure it as
//      its owner (XEP-0060 8.2.4) and publish without options. Servers differ on what they
//      compare (DESIGN.md: ejabberd issues 3044, 3664, 4106).
//   3. item-not-found (a PubSub service without auto-create): create it with the config
//      (XEP-0060 8.1.3), then publish. Prosody's component lets only admins create nodes:
//      a forbidden create says exactly that.
//   4. the publish-options themselves refused, whatever error the server picks (ejabberd 23.01:
//      resource-constraint "Unknown field 'pubsub#max_items' ..."): set the node up explicitly
//      (configure it, or create it with its config when it does not exist) and publish
//      without options. Only when that works is it a refusal of the options: the service is
//      then remembered as one that takes none, and later first publishes there skip step 1.
//      When the explicit path fails too, its error is the true one (a full node still says so).
// After that a node is "ready" and later publishes go out plain, one round trip, with no
// precondition to trip over. forget() clears that (after a reconnect to another server, or
// when the config changes); an item-not-found on a ready node clears it too.
import { Element } from '../xml/element';
import { XiotaError } from '../errors';
import { silentLogger, type Logger } from '../log';
import {
  classifyPublishError, configureNodeIq, createNodeIq, discoInfoIq, FEATURE, nodeConfigFields, parseDiscoFeatures,
  publishIq, publishOptionsRefusal, type ClassifiedError, type NodeConfig,
} from '../xep/pubsub';

/**
 * What the agent learnt about one PubSub service (a PEP account or a component), shared by
 * every NodePublisher of that service so the probe is paid once per service, not per node.
 */
export class ServiceProfile {
  /** disco#info features; undefined until asked, or when the service did not say. */
  features?: Set<string>;
  /** true/false once known: does the service accept our publish-options? */
  acceptsPublishOptions?: boolean;
  /** Why publish-options are not used (for logs and `xiota check`). */
  publishOptionsNote?: string;
  private discovery?: Promise<void>;

  /** Asks disco#info once (concurrent callers share the answer). Transport failures propagate. */
  discover(iq: IqSender, to: string, timeoutMs?: number): Promise<void> {
    this.discovery ??= iq(discoInfoIq(to), timeoutMs).then(
      (r) => { this.features = parseDiscoFeatures(r); },
      (e: unknown) => {
        // A stanza error (the service does not answer disco) teaches nothing; a transport
        // failure must not be cached, so the next publish asks again.
        if (!errorStanzaOf(e)) { this.discovery = undefined; throw e; }
      },
    );
    return this.discovery;
  }

  /** Try publish-options first? Not when refused before, nor when disco lists features without it. */
  get tryPublishOptions(): boolean {
    if (this.acceptsPublishOptions !== undefined) return this.acceptsPublishOptions;
    return this.features === undefined || this.features.has(FEATURE.publishOptions);
  }

  has(feature: string): boolean | undefined {
    return this.features === undefined ? undefined : this.features.has(feature);
  }
}

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
  /** Shared knowledge of the service (one per service; the pipeline shares it between configs). */
  profile?: ServiceProfile;
  /** The JID disco#info goes to for PEP (the account's bare JID). Without it PEP is not probed. */
  accountJid?: string;
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
  lastSetupPath: 'publish-options' | 'configure' | 'create' | undefined;
  readonly profile: ServiceProfile;

  constructor(private readonly opts: NodePublisherOptions) {
    this.log = opts.log ?? silentLogger;
    this.profile = opts.profile ?? new ServiceProfile();
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
  publish(node: string, itemId: string, payload: Element): Promise<void> {
    // The steady state (node set up, nothing preparing), which every item takes: one iq and
    // its answer, without the general path's async frames. A failure goes the general way.
    if (this.ready.has(node) && !this.preparing.has(node)) {
      try {
        return this.opts.iq(publishIq({ service: this.opts.service, node, itemId, payload }), this.opts.timeoutMs)
          .then(() => undefined, (e: unknown) => this.readyPublishFailed(node, itemId, payload, e));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return this.publishGeneral(node, itemId, payload);
  }

  /** What publishGeneral does when its publish to a ready node fails (see there). */
  private readyPublishFailed(node: string, itemId: string, payload: Element, e: unknown): Promise<void> {
    const stanza = errorStanzaOf(e);
    if (!stanza) throw e;
    this.vanished(node, { ok: false, error: classifyPublishError(stanza), stanza });
    return this.publishGeneral(node, itemId, payload);
  }

  /** A publish to a ready node failed: item-not-found means the node went away (deleted by an
   *  admin, server data reset) and is set up again; anything else is thrown. */
  private vanished(node: string, r: Attempt & { ok: false }): void {
    if (r.error.kind !== 'item-not-found') throw this.fail('publish to', node, r);
    this.ready.delete(node);
    this.log.info('pubsub node vanished, setting it up again', { node, service: this.serviceName });
  }

  private async publishGeneral(node: string, itemId: string, payload: Element): Promise<void> {
    const setup = this.preparing.get(node);
    if (setup) await setup.catch(() => undefined);
    if (this.ready.has(node)) {
      const r = await this.attempt(publishIq({ service: this.opts.service, node, itemId, payload }));
      if (r.ok) return;
      this.vanished(node, r);
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
    const profile = this.profile;
    const discoTo = service ?? this.opts.accountJid;
    if (discoTo && profile.features === undefined) await profile.discover(this.opts.iq, discoTo, this.opts.timeoutMs);
    if (!profile.tryPublishOptions) {
      if (profile.acceptsPublishOptions === undefined && profile.features !== undefined && !profile.publishOptionsNote) {
        profile.publishOptionsNote = `${this.serviceName} does not advertise publish-options`;
        this.log.info(`${profile.publishOptionsNote}; configuring nodes explicitly`, { service: this.serviceName });
      }
      return this.setUpExplicitly(node, itemId, payload);
    }
    const withOptions = await this.attempt(publishIq({ service, node, itemId, payload, publishOptions: config }));
    if (withOptions.ok) {
      profile.acceptsPublishOptions = true;
      return this.markReady(node, 'publish-options');
    }
    const e = withOptions.error;
    if (e.kind === 'precondition-not-met') {
      // The options were understood: the node simply has other settings.
      profile.acceptsPublishOptions = true;
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
    const field = publishOptionsRefusal(e);
    if (field === undefined) throw this.fail('publish to', node, withOptions);
    // Maybe the options, maybe the item: the explicit path tells. If it fails, its error is
    // the real one and nothing is remembered.
    await this.setUpExplicitly(node, itemId, payload);
    profile.acceptsPublishOptions = false;
    profile.publishOptionsNote = `${this.serviceName} does not accept publish-options${field ? ` for ${field}` : ''} (${e.message})`;
    this.log.info(`${profile.publishOptionsNote}; configured the node instead, and will for its other nodes`, { node, service: this.serviceName });
  }

  /**
   * Without publish-options: configure the node as its owner (XEP-0060 8.2.4); when it does
   * not exist, create it with its config (8.1.3, when create-and-configure is not ruled out)
   * or create it and then configure it; then publish plain.
   */
  private async setUpExplicitly(node: string, itemId: string, payload: Element): Promise<void> {
    const { service, config } = this.opts;
    if (nodeConfigFields(config).length === 0) {
      // Nothing to configure: publish, and create the node if the service does not auto-create.
      const r = await this.attempt(publishIq({ service, node, itemId, payload }));
      if (r.ok) return this.markReady(node, 'configure');
      if (r.error.kind !== 'item-not-found') throw this.fail('publish to', node, r);
      const created = await this.attempt(createNodeIq(service, node));
      if (!created.ok && created.error.condition !== 'conflict') throw this.fail('create', node, created);
      return this.plainThenReady(node, itemId, payload, 'create');
    }
    const conf = await this.attempt(configureNodeIq(service, node, config));
    if (conf.ok) return this.plainThenReady(node, itemId, payload, 'configure');
    if (conf.error.kind !== 'item-not-found') throw this.fail('configure', node, conf);
    let created: Attempt = { ok: false, error: conf.error, stanza: conf.stanza };
    if (this.profile.has(FEATURE.createAndConfigure) !== false) {
      created = await this.attempt(createNodeIq(service, node, config));
      if (created.ok) return this.plainThenReady(node, itemId, payload, 'create');
      if (created.error.condition === 'conflict') {
        // Created meanwhile (or by our own auto-create): make its settings ours.
        const again = await this.attempt(configureNodeIq(service, node, config));
        if (!again.ok) throw this.fail('configure', node, again);
        return this.plainThenReady(node, itemId, payload, 'create');
      }
      if (created.error.kind === 'forbidden') throw this.fail('create', node, created);
    }
    // Create bare, then configure (a service that does not take a config on create).
    const bare = await this.attempt(createNodeIq(service, node));
    if (!bare.ok && bare.error.condition !== 'conflict') throw this.fail('create', node, bare);
    const after = await this.attempt(configureNodeIq(service, node, config));
    if (!after.ok) throw this.fail('configure', node, after);
    return this.plainThenReady(node, itemId, payload, 'create');
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
    // ejabberd names a config value it refuses: "Bad value of field 'pubsub#max_items' ..."
    const badField = /bad value of field '?pubsub#([a-z_]+)/i.exec(r.error.text ?? '')?.[1];
    const fields = new Map(nodeConfigFields(this.opts.config));
    if (badField && (action === 'configure' || action === 'create')) {
      const value = fields.get(`pubsub#${badField}`);
      const limits = badField === 'max_items'
        ? ' (the server caps it: Prosody pep_max_items, default 256; ejabberd mod_pubsub max_items_node, default 1000)'
        : '';
      todo = `${where} does not take ${badField}=${value ?? '?'}${limits}: change pubsub.${badField} in the config, or the server's limit`;
    } else if (action === 'create' && (kind === 'forbidden' || kind === 'not-allowed' || r.error.condition === 'feature-not-implemented')) {
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
