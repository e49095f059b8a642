// The typed configuration the agent runs on: camelCase here, snake_case in YAML (the schema
// derives one from the other). Every default is already applied; paths are absolute.
import type { DriverConfig } from './drivers-schema';
import type { Level } from '../log';
import type { AccessPolicy } from '../access';
import type { DiscoveryConfig, ProvisioningConfig } from './iot-schema';

export type { DriverConfig, DriverKind, DriverOptionsByKind } from './drivers-schema';

// The same shapes the SASL layer uses (RFC 5802 3 keys): one definition.
export type { ScramHash, ScramKeys } from '../sasl/types';
import type { ScramKeys } from '../sasl/types';

// Alert rules and the `alerts:` section (agent/alerts/): one definition.
export type { AlertRule } from '../alerts/rules';
export type { AlertsConfig } from '../alerts/schema';
import type { AlertsConfig } from '../alerts/schema';

// The `history:` section (agent/history/): one definition.
export type { HistoryConfig } from '../history/schema';
import type { HistoryConfig } from '../history/schema';

// The local API socket (agent/api/): one definition.
export type { ApiConfig, ApiRole } from '../api/schema';
import type { ApiConfig } from '../api/schema';

export interface AccountConfig {
  /** Bare JID (localpart@domain); a resource given in the YAML moves to `resource`. */
  jid: string;
  /**
   * A fixed resource, bound the RFC 6120 way. Undefined: the server picks it where it offers
   * XEP-0386 Bind 2 (one round trip less for a new session; tag `xiota`), else `xiota-<hostname>`.
   */
  resource?: string;
  /** May hold `${VAR}` (systemd's `${CREDENTIALS_DIRECTORY}`), expanded by resolvePassword. */
  passwordFile?: string;
  passwordEnv?: string;
  password?: string;
  scramKeys?: ScramKeys[];
}

export interface ServerConfig {
  /** Without it: SRV lookup on the JID's domain (RFC 6120 3.2.1, XEP-0368). */
  host?: string;
  port?: number;
  /** XEP-0368: TLS from the first byte instead of STARTTLS. */
  directTls: boolean;
}

export interface TlsConfig {
  caFile?: string;
  /** Base64 SHA-256 of the server certificate's SubjectPublicKeyInfo; any one may match. */
  pinSha256: string[];
  /** SNI and certificate name; defaults to the JID's domain (RFC 6120 13.7.2.1). */
  servername: string;
  clientCert?: string;
  clientKey?: string;
}

export type SaslMechanism = 'SCRAM-SHA-256-PLUS' | 'SCRAM-SHA-256' | 'SCRAM-SHA-1-PLUS' | 'SCRAM-SHA-1' | 'PLAIN' | 'EXTERNAL';
export const SASL_MECHANISMS: readonly SaslMechanism[] = ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-1', 'PLAIN', 'EXTERNAL'];

export interface SaslConfig {
  allowPlain: boolean;
  /** Preference order; absent = the client's own order (strongest first). */
  mechanisms?: SaslMechanism[];
}

export interface ReconnectConfig {
  initialDelayS: number;
  maxDelayS: number;
  /** A session that stayed up this long resets the backoff. */
  stableAfterS: number;
}

export interface SessionConfig {
  /** XEP-0198 */
  streamManagement: boolean;
  /** XEP-0199 ping when the link was quiet this long. */
  pingIntervalS: number;
  pingTimeoutS: number;
  /** XEP-0198 4: ask for an ack after this many unacked stanzas... */
  ackRequestEvery: number;
  /** ...or after this long with unacked stanzas. */
  ackIntervalS: number;
  maxStanzaBytes: number;
  reconnect: ReconnectConfig;
  connectTimeoutS: number;
}

export interface PresenceConfig {
  status: string;
  /** RFC 6121 4.7.2.3: -128..127. */
  priority: number;
  /** Put the latest readings in the presence status text. */
  showReadings: boolean;
  /** The status text with `{thing.field}` references; absent: every field (`22.5 °C · 41 % · fan off`). */
  statusTemplate?: string;
  /** At most one presence update per this many seconds; only changes are sent. */
  minIntervalS: number;
}

export interface OutboxConfig {
  dir: string;
  maxBytes: number;
  flushIntervalMs: number;
}

export type AccessModel = 'open' | 'presence' | 'roster' | 'authorize' | 'whitelist';
export type SendLastPublishedItem = 'never' | 'on_sub' | 'on_sub_and_presence';

export interface PubsubConfig {
  /** 'pep' = the account's own PEP service (XEP-0163), else a PubSub service JID. */
  service: string;
  nodePrefix: string;
  maxItems: number;
  persistItems: boolean;
  accessModel: AccessModel;
  sendLastPublishedItem: SendLastPublishedItem;
}

export interface PublishDefaults {
  /** Absolute change below which a numeric value is not "changed". */
  deadband: number;
  minIntervalS: number;
  /** Heartbeat: republish unchanged after this long; 0 = never. */
  maxIntervalS: number;
  /** Readings may wait up to this long and travel in one item (bytes for delay); 0 = off. */
  batchS: number;
  /** At most this many waiting readings of one thing in one item (XEP-0323 timestamps). Unset: 16, or 64 with batch_s; 1: one reading per item. */
  maxReadingsPerItem?: number;
}

export interface FieldPublishOverride {
  deadband?: number;
  minIntervalS?: number;
  maxIntervalS?: number;
}

export interface ThingPublishOverride extends FieldPublishOverride {
  batchS?: number;
  maxReadingsPerItem?: number;
  fields?: Record<string, FieldPublishOverride>;
}

export interface ThingPubsubOverride {
  maxItems?: number;
  persistItems?: boolean;
  accessModel?: AccessModel;
  sendLastPublishedItem?: SendLastPublishedItem;
}

export interface ThingOverride {
  /** Full node name instead of node_prefix + thing id. */
  node?: string;
  service?: string;
  publish?: ThingPublishOverride;
  pubsub?: ThingPubsubOverride;
}

/** Who may do what (agent/access.ts): bare JIDs or `@domain`, roles nest owner ⊃ controller ⊃ reader. */
export type AccessConfig = AccessPolicy;

export type LogFormat = 'auto' | 'json' | 'text';

export interface LogConfig {
  level: Level;
  /** auto = JSON lines when stdout is not a TTY (journald), text otherwise. */
  format: LogFormat;
}

export interface Config {
  account: AccountConfig;
  server: ServerConfig;
  tls: TlsConfig;
  sasl: SaslConfig;
  session: SessionConfig;
  presence: PresenceConfig;
  alerts: AlertsConfig;
  outbox: OutboxConfig;
  /** The device's own history store, beside the outbox. */
  history: HistoryConfig;
  pubsub: PubsubConfig;
  publish: PublishDefaults;
  drivers: DriverConfig[];
  things: Record<string, ThingOverride>;
  access: AccessConfig;
  /** XEP-0324: a provisioning server decides what the access lists do not. */
  provisioning?: ProvisioningConfig;
  /** XEP-0347: register with a Thing Registry, to be claimed by an owner. */
  discovery?: DiscoveryConfig;
  /** The local API socket (agent/api/PROTOCOL.md). */
  api: ApiConfig;
  log: LogConfig;
}

/** One problem found in a config, located in the YAML when it came from a file. */
export interface ConfigIssue {
  /** YAML path, `session.ping_interval_s`, `drivers[0].kind`; '' for the whole file. */
  path: string;
  line?: number;
  col?: number;
  message: string;
}

export interface LoadResult {
  /** Present only when there are no errors. */
  config?: Config;
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
}
