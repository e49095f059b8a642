// The agent: one XMPP session, the drivers, and the pipeline from readings to PubSub items,
// wired from a validated Config. The CLI daemon and the Node-RED nodes both use this class.
import type { Driver, Reading, ThingSpec } from '../drivers/types';
import { DriverHost } from '../drivers/host';
import type { Config } from './config/types';
import type { ResolvedCredentials } from './config/secrets';
import { publishPolicyFor, pubsubFor } from './config/thing-settings';
import { silentLogger, type Logger } from './log';
import { Outbox } from './outbox/outbox';
import { ReadingPipeline, type ThingTarget } from './publish/pipeline';
import { XmppClient, type ClientOptions } from './session/client';
import { installBasics, packageVersion } from './xep/basic';
import { Disco } from './xep/disco';
import { installPresence } from './xep/presence';

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
}

export class Agent {
  readonly client: XmppClient;
  readonly disco = new Disco();
  readonly drivers: DriverHost;
  outbox?: Outbox;
  pipeline?: ReadingPipeline;
  private readonly log: Logger;
  private thingIndex = new Map<string, ThingSpec>();
  private unloads: (() => void)[] = [];

  constructor(private readonly o: AgentOptions) {
    this.log = o.log ?? silentLogger;
    this.client = new XmppClient({ ...clientOptionsFromConfig(o.config, o.credentials, this.log), ...o.client });
    this.unloads.push(this.disco.install(this.client.router));
    this.unloads.push(installBasics(this.client.router, this.disco, { name: 'xiota', version: packageVersion(), os: `${process.platform} ${process.arch}` }));
    this.unloads.push(installPresence(this.client, this.disco, { status: o.config.presence.status, priority: o.config.presence.priority }));
    this.drivers = new DriverHost({
      drivers: o.drivers,
      log: this.log.child({ component: 'drivers' }),
      onReading: (r) => {
        o.onReading?.(r);
        void this.pipeline?.offer(r);
      },
      onFault: (f) => this.log.warn('driver fault', { ...f }),
    });
  }

  private thing(id: string): ThingSpec | undefined {
    let t = this.thingIndex.get(id);
    if (!t) {
      for (const spec of this.drivers.things()) this.thingIndex.set(spec.id, spec);
      t = this.thingIndex.get(id);
    }
    return t;
  }

  /** Opens the outbox, starts the session (reconnecting for ever) and the drivers. */
  async start(): Promise<void> {
    const cfg = this.o.config;
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
      targetFor: (id) => targetFor(cfg, id),
      log: this.log.child({ component: 'publish' }),
      retryDelayMs: this.o.retryDelayMs,
    });
    if (this.outbox.pending > 0) this.log.info('readings waiting in the outbox from before', { pending: this.outbox.pending });
    // Drivers first, so every thing's node config is known before the outbox replays.
    await this.drivers.start();
    for (const spec of this.drivers.things()) {
      this.thingIndex.set(spec.id, spec);
      this.pipeline.registerTarget(spec.id);
    }
    this.client.start();
  }

  /** Stops the drivers, writes what is pending to disk, ends the session politely. */
  async stop(): Promise<void> {
    await this.drivers.stop();
    this.pipeline?.stop();
    await this.outbox?.flush();
    await this.client.stop();
    await this.outbox?.close();
    for (const u of this.unloads.splice(0)) u();
  }
}
