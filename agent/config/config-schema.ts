// The schema of xiota.yaml, built with the DSL in schema.ts. Ranges marked `.clamp()` are
// harmless to correct (a ping interval of 2 s becomes 5 s, with a warning); the others
// (ports, deadbands, ids) fail, because guessing there would hide a real mistake.
import { isAbsolute, resolve } from 'node:path';
import { s, Schema, CheckContext, Path, INVALID, Invalid, error, warn, describe } from './schema';
import { alertsSchema, checkAlertFields } from '../alerts/schema';
import { historySchema } from '../history/schema';
import { driverEntry } from './drivers-schema';
import { accessSchema } from './access-schema';
import { apiSchema } from '../api/schema';
import { discoverySchema, provisioningSchema } from './iot-schema';
import { templateProblem } from '../xep/presence-status';
import {
  AccountConfig, Config, ScramKeys, ServerConfig, TlsConfig, SaslConfig, SessionConfig, ReconnectConfig,
  PresenceConfig, OutboxConfig, PubsubConfig, PublishDefaults, FieldPublishOverride, ThingPublishOverride,
  ThingPubsubOverride, ThingOverride, LogConfig, AccessModel, SendLastPublishedItem, SASL_MECHANISMS,
} from './types';

/** RFC 7622 3.3.1: these may not appear in a localpart. */
const JID_RE = /^([^@/\s"&'<>:]+)@([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?:\/(.+))?$/;
const HOST_RE = /^([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$|^\d{1,3}(\.\d{1,3}){3}$|^\[?[0-9A-Fa-f:]+\]?$/;
const DOMAIN_JID_RE = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+$/;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

const ACCESS_MODELS: readonly AccessModel[] = ['open', 'presence', 'roster', 'authorize', 'whitelist'];
const SEND_LAST: readonly SendLastPublishedItem[] = ['never', 'on_sub', 'on_sub_and_presence'];

/** Base64 that decodes to exactly `bytes` bytes (any length when undefined). */
function base64(what: string, bytes?: number): Schema<string> {
  return s.string().secret().validate((v) => {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(v) || v.length % 4 !== 0) return `expected ${what} in base64`;
    const n = Buffer.from(v, 'base64').length;
    if (bytes !== undefined && n !== bytes) return `expected ${what} of ${bytes} bytes, got ${n} bytes`;
    return undefined;
  });
}

const scramKeys = s.custom<ScramKeys>('SCRAM keys', (v, path, ctx) => {
  const base = s.object<ScramKeys>({
    hash: s.enum(['SHA-1', 'SHA-256'] as const),
    salt: base64('a salt'),
    iterations: s.integer().min(1),
    clientKey: base64('a client key'),
    serverKey: base64('a server key'),
  }).check(v, path, ctx);
  if (base === INVALID) return INVALID;
  // RFC 5802 3: key length is the hash output length.
  const len = base.hash === 'SHA-1' ? 20 : 32;
  let ok = true;
  for (const k of ['clientKey', 'serverKey'] as const) {
    const n = Buffer.from(base[k], 'base64').length;
    if (n !== len) { error(ctx, [...path, k === 'clientKey' ? 'client_key' : 'server_key'], `a ${base.hash} key is ${len} bytes, got ${n} bytes`); ok = false; }
  }
  // RFC 7677 4 asks for at least 4096 iterations.
  if (base.iterations < 4096) warn(ctx, [...path, 'iterations'], `${base.iterations} iterations is weak; RFC 7677 asks for at least 4096`);
  return ok ? base : INVALID;
});

// May hold `${VAR}` (expanded when the password is read); a plain relative path is taken
// relative to the config file, like every other path in it.
const passwordFile = s.custom<string>('a file path', (v, path, ctx) => {
  if (typeof v !== 'string' || v.trim() === '') { error(ctx, path, `expected a file path, got ${describe(v)}`); return INVALID; }
  return v.startsWith('$') || isAbsolute(v) ? v : resolve(ctx.baseDir, v);
});

type RawAccount = Omit<AccountConfig, 'resource'> & { resource?: string };
const account = s.object<RawAccount>({
  jid: s.string().match(JID_RE, 'a JID like gateway@example.org'),
  resource: s.string().optional(),
  passwordFile: passwordFile.optional(),
  passwordEnv: s.string().match(ENV_NAME_RE, 'an environment variable name').optional(),
  password: s.string().secret().optional(),
  scramKeys: s.array(scramKeys).nonEmpty().optional(),
}).refine((a, path, ctx) => {
  const given = (['passwordFile', 'passwordEnv', 'password'] as const).filter((k) => a[k] !== undefined);
  if (given.length > 1) {
    const keys = given.map((k) => k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase()));
    error(ctx, [...path, keys[1]], `set only one of password_file, password_env, password (found ${keys.join(', ')})`);
  }
  if (a.password !== undefined) {
    warn(ctx, [...path, 'password'], 'the password is written in the config; password_file (mode 600) or password_env keeps it out of it');
  }
});

const server = s.object<ServerConfig>({
  host: s.string().match(HOST_RE, 'a host name or IP address').optional(),
  port: s.integer().min(1).max(65535).optional(),
  directTls: s.boolean().default(false),
});

type RawTls = Omit<TlsConfig, 'servername'> & { servername?: string };
const tls = s.object<RawTls>({
  caFile: s.file().mustExist().optional(),
  // A SHA-256 digest is 32 bytes (RFC 7469 2.4 uses the same pin format).
  pinSha256: s.array(base64('a SHA-256 digest', 32)).default(() => []),
  servername: s.string().match(HOST_RE, 'a host name').optional(),
  clientCert: s.file().mustExist().optional(),
  clientKey: s.file().mustExist().optional(),
}).refine((t, path, ctx) => {
  if ((t.clientCert === undefined) !== (t.clientKey === undefined)) {
    error(ctx, [...path, t.clientCert === undefined ? 'client_key' : 'client_cert'], 'client_cert and client_key go together (SASL EXTERNAL needs both)');
  }
});

const sasl = s.object<SaslConfig>({
  allowPlain: s.boolean().default(false),
  mechanisms: s.array(s.enum(SASL_MECHANISMS)).nonEmpty().optional(),
}).refine((c, path, ctx) => {
  if (c.mechanisms?.includes('PLAIN') && !c.allowPlain) {
    error(ctx, [...path, 'mechanisms'], 'PLAIN is listed but allow_plain is false; set sasl.allow_plain: true to use it (over TLS only)');
  }
});

const reconnect = s.object<ReconnectConfig>({
  initialDelayS: s.seconds().min(0.1).max(600).clamp().default(1),
  maxDelayS: s.seconds().min(1).max(3600).clamp().default(60),
  stableAfterS: s.seconds().min(1).max(86_400).clamp().default(60),
}).refine((r, path, ctx) => {
  if (r.initialDelayS > r.maxDelayS) error(ctx, [...path, 'initial_delay_s'], `${r.initialDelayS} is above max_delay_s (${r.maxDelayS})`);
});

const session = s.object<SessionConfig>({
  streamManagement: s.boolean().default(true),
  pingIntervalS: s.seconds().min(5).max(3600).clamp().default(60),
  pingTimeoutS: s.seconds().min(1).max(600).clamp().default(20),
  ackRequestEvery: s.integer().min(1).max(1000).clamp().default(32),
  ackIntervalS: s.seconds().min(1).max(3600).clamp().default(30),
  // RFC 6120 13.12: a server must accept stanzas of at least 10000 bytes, so a smaller limit
  // would reject legal traffic.
  maxStanzaBytes: s.integer().min(10_000).max(16 * 1024 * 1024).clamp().default(262_144),
  reconnect,
  connectTimeoutS: s.seconds().min(1).max(300).clamp().default(20),
});

const presence = s.object<PresenceConfig>({
  status: s.string().allowEmpty().default('online'),
  // RFC 6121 4.7.2.3
  priority: s.integer().min(-128).max(127).default(0),
  showReadings: s.boolean().default(true),
  statusTemplate: s.string().validate(templateProblem).optional(),
  // Each change wakes every follower's client; a phone's server holds presence while it
  // sleeps (XEP-0352), a desktop client shows each one.
  minIntervalS: s.seconds().min(0).max(86_400).clamp().default(60),
});

const outbox = s.object<OutboxConfig>({
  dir: s.file().default('/var/lib/xiota/outbox'),
  maxBytes: s.integer().min(1024 * 1024).clamp().default(64 * 1024 * 1024),
  flushIntervalMs: s.milliseconds().min(10).max(60_000).clamp().default(200),
});

const pubsubService = s.string().validate((v) =>
  v === 'pep' || DOMAIN_JID_RE.test(v) ? undefined : `expected "pep" or a PubSub service JID like pubsub.example.org, got ${JSON.stringify(v)}`);

const pubsub = s.object<PubsubConfig>({
  service: pubsubService.default('pep'),
  nodePrefix: s.string().allowEmpty().default('urn:xiota:'),
  // XEP-0060 16.4.3 pubsub#max_items; servers cap it themselves, so clamp rather than fail.
  maxItems: s.integer().min(1).max(10_000).clamp().default(100),
  persistItems: s.boolean().default(true),
  accessModel: s.enum(ACCESS_MODELS).default('presence'),
  sendLastPublishedItem: s.enum(SEND_LAST).default('on_sub_and_presence'),
});

function intervals<T extends FieldPublishOverride>(o: T, path: Path, ctx: CheckContext): void {
  if (o.minIntervalS !== undefined && o.maxIntervalS !== undefined && o.maxIntervalS !== 0 && o.minIntervalS > o.maxIntervalS) {
    error(ctx, [...path, 'min_interval_s'], `${o.minIntervalS} is above max_interval_s (${o.maxIntervalS})`);
  }
}

const deadband = () => s.number().min(0);
const minInterval = () => s.seconds().min(0).max(86_400);
const maxInterval = () => s.seconds().min(0).max(7 * 86_400);
// A reading waits at most an hour: longer would hold it from every watcher for no byte saved.
const batch = () => s.seconds().min(0).max(3600);
// 256 readings of a few fields stay far below the servers' stanza limits (ejabberd 64 KiB).
const perItem = () => s.integer().min(1).max(256);

const publish = s.object<PublishDefaults>({
  deadband: deadband().default(0),
  minIntervalS: minInterval().default(0),
  maxIntervalS: maxInterval().default(300),
  batchS: batch().default(0),
  maxReadingsPerItem: perItem().optional(),
}).refine(intervals);

const fieldPublish = s.object<FieldPublishOverride>({
  deadband: deadband().optional(),
  minIntervalS: minInterval().optional(),
  maxIntervalS: maxInterval().optional(),
}).refine(intervals);

const thingPublish = s.object<ThingPublishOverride>({
  deadband: deadband().optional(),
  minIntervalS: minInterval().optional(),
  maxIntervalS: maxInterval().optional(),
  batchS: batch().optional(),
  maxReadingsPerItem: perItem().optional(),
  fields: s.record(fieldPublish).optional(),
}).refine(intervals);

const thingPubsub = s.object<ThingPubsubOverride>({
  maxItems: s.integer().min(1).max(10_000).clamp().optional(),
  persistItems: s.boolean().optional(),
  accessModel: s.enum(ACCESS_MODELS).optional(),
  sendLastPublishedItem: s.enum(SEND_LAST).optional(),
});

const thing = s.object<ThingOverride>({
  node: s.string().optional(),
  service: pubsubService.optional(),
  publish: thingPublish.optional(),
  pubsub: thingPubsub.optional(),
});

const log = s.object<LogConfig>({
  level: s.enum(['debug', 'info', 'warn', 'error'] as const).default('info'),
  format: s.enum(['auto', 'json', 'text'] as const).default('auto'),
});

type RawConfig = Omit<Config, 'account' | 'tls'> & { account: RawAccount; tls: RawTls };

const configObject = s.object<RawConfig>({
  account,
  server,
  tls,
  sasl,
  session,
  presence,
  alerts: alertsSchema,
  outbox,
  history: historySchema.hint('write history: { enabled: true } to keep it with the defaults or history: { enabled: false } to turn it off; its other keys are retention, rollups and max_bytes'),
  pubsub,
  publish,
  drivers: s.array(driverEntry).unique('id').default(() => []),
  things: s.record(thing, (k) => (/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(k) ? undefined : `"${k}" is not a thing id (letters, digits, ".", "_", "-")`)).default(() => ({})),
  access: accessSchema,
  provisioning: provisioningSchema.optional(),
  discovery: discoverySchema.optional(),
  api: apiSchema,
  log,
}).refine((c, path, ctx) => {
  if (c.server.port !== undefined && c.server.host === undefined) {
    warn(ctx, [...path, 'server', 'port'], 'has no effect without server.host: the SRV lookup picks the port');
  }
  if (c.session.pingTimeoutS >= c.session.pingIntervalS) {
    warn(ctx, [...path, 'session', 'ping_timeout_s'], `${c.session.pingTimeoutS} is not below ping_interval_s (${c.session.pingIntervalS}); a dead link is noticed late`);
  }
  checkAlertFields(c.alerts, c.drivers, [...path, 'alerts'], ctx);
});

/** The whole config: checks, applies defaults, splits the JID's resource, fills servername. */
export const configSchema: Schema<Config> = s.custom<Config>('a mapping', (v, path, ctx): Config | Invalid => {
  if (v === null || v === undefined) {
    error(ctx, path, 'the config is empty; it needs at least account.jid');
    return INVALID;
  }
  const raw = configObject.check(v, path, ctx);
  if (raw === INVALID) return INVALID;
  const m = JID_RE.exec(raw.account.jid);
  if (!m) return INVALID; // already reported by the jid schema
  const [, local, domain, jidResource] = m;
  if (jidResource !== undefined && raw.account.resource !== undefined && jidResource !== raw.account.resource) {
    error(ctx, [...path, 'account', 'resource'], `"${raw.account.resource}" differs from the JID's resource "${jidResource}"; give it in one place`);
    return INVALID;
  }
  // Unset: the server picks the resource (XEP-0386 Bind 2) where it can (agent/session/client.ts).
  const resource = raw.account.resource ?? jidResource;
  return {
    ...raw,
    account: { ...raw.account, jid: `${local}@${domain}`, resource },
    tls: { ...raw.tls, servername: raw.tls.servername ?? domain.replace(/^\[|\]$/g, '') },
  };
});
