// The agent: one XMPP session, the drivers, and the pipeline from readings to PubSub items,
// wired from a validated Config. The CLI daemon and the Node-RED nodes both use this class.
import { FileFastStore } from './session/fast-token';
import type { Driver, Reading, ThingSpec } from '../drivers/types';
import { DriverHost } from '../drivers/host';
import type { Config } from './config/types';
import type { ResolvedCredentials } from './config/secrets';
import { batchingFor, publishPolicyFor, pubsubFor } from './config/thing-settings';
import { silentLogger, type Logger } from './log';
import { Outbox } from './outbox/outbox';
import { ReadingPipeline, type ThingTarget } from './publish/pipeline';
import { XmppClient, type ClientOptions } from './session/client';
import { EventEmitter } from 'node:events';
import { dirname } from 'node:path';
import { AccessStore } from './access-store';
import { ModuleHost } from './module';
import { MODULES, type AgentDeps, type AgentEvents, type AgentModule } from './modules';
import { packageVersion } from './xep/basic';
import { Disco } from './xep/disco';
import { ApiDriver } from '../drivers/api';
import { ApiService } from './api/service';
import { ApiSocketServer } from './api/socket';
import { daemonSocketPath } from './api/paths';

export function clientOptionsFromConfig(config: Config, creds: ResolvedCredentials, log: Logger): ClientOptions {
  const s = config.session;
  return {
    jid: config.account.jid,
    resource: config.account.resource,
    credentials: { username: config.account.jid.split('@')[0] ?? '', password: creds.password, scramKeys: creds.scramKeys },
    server: { host: config.server.host, port: config.server.port, directTls: config.server.directTls },
    tls: {
      caFile: config.tls.caFile,
      pins: config.tls.pinSha256.length ? config.tls.pinSha256 : undefined,
      servername: config.tls.servername,
      clientCert: config.tls.clientCert,
      clientKey: config.tls.clientKey,
    },
    allowPlain: config.sasl.allowPlain,
    mechanisms: config.sasl.mechanisms,
    streamManagement: s.streamManagement,
    pingIntervalMs: s.pingIntervalS * 1000,
    pingTimeoutMs: s.pingTimeoutS * 1000,
    ackEvery: s.ackRequestEvery,
    ackIntervalMs: s.ackIntervalS * 1000,
    maxStanzaBytes: s.maxStanzaBytes,
    connectTimeoutMs: s.connectTimeoutS * 1000,
    reconnect: { initialDelayMs: s.reconnect.initialDelayS * 1000, maxDelayMs: s.reconnect.maxDelayS * 1000, stableAfterMs: s.reconnect.stableAfterS * 1000 },
    log: log.child({ component: 'session' }),
  };
}

export function targetFor(config: Config, thingId: string): ThingTarget {
  const p = pubsubFor(config, thingId);
  return {
    service: p.service,
    node: p.node,
    config: { maxItems: p.maxItems, persistItems: p.persistItems, accessModel: p.accessModel, sendLastPublishedItem: p.sendLastPublishedItem },
  };
}

export interface AgentOptions {
  config: Config;
  credentials: ResolvedCredentials;
  drivers: Driver[];
  log?: Logger;
  /** Extra session options (tests: faster timers). */
  client?: Partial<ClientOptions>;
  /** Called for every reading a driver produced (before the publish policy). */
  onReading?: (r: Reading) => void;
  /** Pause before resending after a failed publish (tests: shorter). Default 1000 ms. */
  retryDelayMs?: number;
  /** The modules to install (default: MODULES, agent/modules.ts). */
  modules?: readonly AgentModule[];
  /** The clock modules use (tests inject one). */
  now?: () => number;
  /** Serve the local API socket when config.api.enabled (default true); false: in-process attach only. */
  apiSocket?: boolean;
}

export class Agent {
  readonly client: XmppClient;
  readonly disco = new Disco();
  readonly drivers: DriverHost;
  outbox?: Outbox;
  pipeline?: ReadingPipeline;
  private readonly log: Logger;
  readonly access: AccessStore;
  /** Readings and faults for modules (presence status, alerts). */
  readonly events = new EventEmitter<AgentEvents>();
  readonly modules: ModuleHost;
  private thingIndex = new Map<string, ThingSpec>();
  /** Things declared by local API clients (driver kind `api`). */
  readonly flows: ApiDriver;
  /** The local API (agent/api/PROTOCOL.md): `api.attach(send)` serves one client in-process. */
  readonly api: ApiService;
  private apiSocket?: ApiSocketServer;
  private startedAt = Date.now();

  constructor(private readonly o: AgentOptions) {
    this.log = o.log ?? silentLogger;
    // XEP-0484 tokens live in the state directory; XEP-0352: the agent needs no contact presence.
    this.client = new XmppClient({ ...clientOptionsFromConfig(o.config, o.credentials, this.log), fast: new FileFastStore(dirname(o.config.outbox.dir)), csiInactive: true, ...o.client });
    this.flows = new ApiDriver({ stateDir: dirname(o.config.outbox.dir) });
    this.drivers = new DriverHost({
      drivers: [...o.drivers, this.flows],
      log: this.log.child({ component: 'drivers' }),
      onReading: (r, driverId) => {
        o.onReading?.(r);
        // Local listeners (the API's subscribers, alerts, presence) first: the pipeline's
        // serialization, outbox append and publish need not sit in their latency.
        // (Per reading: the emitter called directly, not through emit()'s rest arguments.)
        try {
          this.events.emit('reading', r, driverId);
        } catch (e) {
          this.log.error('module listener threw', { event: 'reading', error: e as Error });
        }
        const accepted = this.pipeline?.offer(r);
        // thing.publish answers once its reading is in the outbox.
        if (driverId === this.flows.id) this.flows.lastAccepted = accepted;
      },
      // DriverHost logs each fault itself; here it only reaches the modules.
      onFault: (f) => this.emit('fault', f),
      // A driver's things changed at run time: the pipeline maps new things to their nodes,
      // modules (presence, readouts, control, concentrator) read deps.things() afresh.
      onThingsChanged: (c) => {
        this.thingIndex.clear();
        for (const id of [...c.added, ...c.changed]) this.pipeline?.registerTarget(id);
        this.emit('things', c);
      },
    });
    const now = o.now ?? Date.now;
    const stateDir = dirname(o.config.outbox.dir);
    const apiConfig = o.config.api ?? { role: 'owner', queue: 1000, maxSubscriptions: 10_000 };
    this.api = new ApiService({
      drivers: this.drivers,
      flows: this.flows,
      events: this.events,
      role: apiConfig.role,
      queue: apiConfig.queue,
      maxSubscriptions: apiConfig.maxSubscriptions,
      log: this.log.child({ component: 'api' }),
      now,
      status: () => ({
        jid: this.client.bare,
        resource: this.client.jid.includes('/') ? this.client.jid.slice(this.client.jid.indexOf('/') + 1) : o.config.account.resource ?? '',
        state: this.client.state,
        online: this.client.state === 'online',
        sm: this.client.info?.sm,
        tls: this.client.info ? `${this.client.info.tls.version} ${this.client.info.tls.cipher}` : undefined,
        startedAt: this.startedAt,
        queued: this.outbox?.pending ?? 0,
      }),
    });
    this.access = new AccessStore({
      policy: o.config.access,
      self: this.client.bare,
      dir: stateDir,
      log: this.log.child({ component: 'access' }),
      now,
    });
    const deps: AgentDeps = {
      client: this.client,
      disco: this.disco,
      config: o.config,
      drivers: this.drivers,
      access: this.access,
      log: this.log,
      stateDir,
      software: { name: 'xiota', version: packageVersion(), os: `${process.platform} ${process.arch}` },
      events: this.events,
      latest: () => this.drivers.latestReadings(),
      things: () => this.drivers.things(),
      now,
      api: this.api,
    };
    this.modules = new ModuleHost(this.client, this.disco, this.log);
    try {
      for (const mod of o.modules ?? MODULES) this.modules.load(mod.name, (m) => mod.install(m, deps));
    } catch (e) {
      this.modules.unloadAll();
      throw e;
    }
  }

  /** A module's listener must not break the driver host's loop. */
  private emit<K extends keyof AgentEvents>(event: K, ...args: AgentEvents[K]): void {
    try {
      (this.events as unknown as EventEmitter).emit(event, ...args);
    } catch (e) {
      this.log.error('module listener threw', { event, error: e as Error });
    }
  }

  private thing(id: string): ThingSpec | undefined {
    let t = this.thingIndex.get(id);
    if (!t) {
      for (const spec of this.drivers.things()) this.thingIndex.set(spec.id, spec);
      t = this.thingIndex.get(id);
    }
    return t;
  }

  /** Where the local API socket listens, while it does. */
  get apiSocketPath(): string | undefined {
    return this.apiSocket?.path;
  }

  /** Opens the outbox, starts the session (reconnecting for ever) and the drivers. */
  async start(): Promise<void> {
    const cfg = this.o.config;
    this.startedAt = Date.now();
    // The socket first: a second daemon on the same config stops here, before touching the outbox.
    if (cfg.api?.enabled && this.o.apiSocket !== false) {
      const socket = new ApiSocketServer(this.api, {
        path: daemonSocketPath(cfg),
        mode: cfg.api.mode,
        group: cfg.api.group,
        maxLineBytes: cfg.api.maxLineBytes,
        log: this.log.child({ component: 'api' }),
      });
      await socket.claim();
      this.apiSocket = socket;
    }
    this.outbox = await Outbox.open({
      dir: cfg.outbox.dir,
      maxBytes: cfg.outbox.maxBytes,
      flushIntervalMs: cfg.outbox.flushIntervalMs,
      logger: this.log,
    });
    this.pipeline = new ReadingPipeline({
      session: this.client,
      outbox: this.outbox,
      thing: (id) => this.thing(id),
      policyFor: (id) => publishPolicyFor(cfg, id),
      batchingFor: (id) => batchingFor(cfg, id),
      targetFor: (id) => targetFor(cfg, id),
      log: this.log.child({ component: 'publish' }),
      retryDelayMs: this.o.retryDelayMs,
    });
    if (this.outbox.pending > 0) this.log.info('readings waiting in the outbox from before', { pending: this.outbox.pending });
    // The owners' decisions, before the session: a subscription request may be waiting.
    await this.access.load();
    // Drivers first, so every thing's node config is known before the outbox replays.
    await this.drivers.start();
    for (const spec of this.drivers.things()) {
      this.thingIndex.set(spec.id, spec);
      this.pipeline.registerTarget(spec.id);
    }
    // Clients that connect now find every driver's things.
    try {
      await this.apiSocket?.listen();
    } catch (e) {
      // Nothing may keep the process alive behind the error (a driver's poll timer, the outbox).
      this.apiSocket = undefined;
      await this.drivers.stop();
      this.pipeline.stop();
      await this.outbox.close();
      throw e;
    }
    this.client.start();
  }

  /** Stops the drivers, writes what is pending to disk, ends the session politely. */
  async stop(): Promise<void> {
    await this.apiSocket?.close();
    this.apiSocket = undefined;
    await this.drivers.stop();
    this.pipeline?.stop();
    await this.outbox?.flush();
    await this.client.stop();
    await this.outbox?.close();
    this.modules.unloadAll();
  }
}
