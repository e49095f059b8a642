// Schemas for each driver kind's `options`, matching the option types the drivers export, so a
// typo in a driver option is reported with its line at startup instead of surfacing as an
// undefined deep inside a driver. YAML keys are snake_case (`period_s`), the driver gets the
// camelCase object its factory expects (`periodS`).
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { DriverKind, DriverOptionsByKind } from '../../drivers';
import type { SimulatedOptions, SimulatedFieldOptions, SimulatedThingOptions, SimulatedFault, Waveform } from '../../drivers/simulated';
import type { LinuxOptions, LinuxDiskOptions } from '../../drivers/linux';
import type { W1Options } from '../../drivers/w1';
import type { IioOptions, IioDeviceOptions } from '../../drivers/iio';
import type { SerialOptions, SerialProtocol } from '../../drivers/serial';
import type { MqttOptions, MqttThingOptions, MqttFieldOptions } from '../../drivers/mqtt';
import type { MappedField } from '../../drivers/lines';
import type { BridgeOptions } from '../../drivers/bridge';
import type { FieldType, Value } from '../../drivers/types';
import { s, Schema, INVALID, Invalid, CheckContext, Path, error, warn, describe, pathToString } from './schema';
import { expandEnv } from './secrets';

export type { DriverKind, DriverOptionsByKind, SimulatedOptions, LinuxOptions, W1Options, IioOptions, SerialOptions, MqttOptions };

export const DRIVER_KINDS = ['simulated', 'linux', 'w1', 'iio', 'serial', 'mqtt', 'bridge'] as const satisfies readonly DriverKind[];

interface DriverEntry<K extends DriverKind> {
  /** Unique instance id. */
  id: string;
  kind: K;
  enabled: boolean;
  /** Poll interval of polled drivers; also passed in options as pollIntervalMs. */
  pollIntervalS?: number;
  options: DriverOptionsByKind[K];
}

export type DriverConfig = { [K in DriverKind]: DriverEntry<K> }[DriverKind];

const FIELD_TYPES: readonly FieldType[] = ['numeric', 'int', 'boolean', 'string', 'enum'];
const WAVEFORMS: readonly Waveform[] = ['sine', 'ramp', 'random', 'constant', 'step'];
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const id = () => s.string().match(ID_RE, 'an id of letters, digits, ".", "_" or "-"');

const value: Schema<Value> = s.custom<Value>('a number, boolean or string', (v, path, ctx) => {
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
  error(ctx, path, `expected a number, boolean or string, got ${describe(v)}`);
  return INVALID;
});

/**
 * A field's `min`/`max` (FieldSpec: the range a writable numeric field's sets must fall in):
 * numbers only, min below max, the starting value inside. `rangeIsBounds`: the simulated
 * driver's read-only fields use them as waveform bounds, so they mean something there too.
 */
function checkFieldRange(f: { type: FieldType; writable?: boolean; min?: number; max?: number; initial?: Value }, path: Path, ctx: CheckContext, rangeIsBounds: boolean): void {
  if (f.min === undefined && f.max === undefined) return;
  const key = f.min !== undefined ? 'min' : 'max';
  if (f.type !== 'numeric' && f.type !== 'int') {
    error(ctx, [...path, key], `min and max apply to numeric and int fields; this field is ${f.type}: remove them`);
    return;
  }
  if (f.min !== undefined && f.max !== undefined && !(f.min < f.max)) {
    error(ctx, [...path, 'min'], `min ${f.min} must be below max ${f.max}`);
    return;
  }
  if (!f.writable && !rangeIsBounds) {
    warn(ctx, [...path, key], 'min and max are the range of sets and this field is not writable: they have no effect');
    return;
  }
  if (f.writable && typeof f.initial === 'number' && ((f.min !== undefined && f.initial < f.min) || (f.max !== undefined && f.initial > f.max))) {
    error(ctx, [...path, 'initial'], `initial ${f.initial} is outside min ${f.min ?? '-∞'} to max ${f.max ?? '∞'}`);
  }
}

/** What every configured field has (drivers/types.ts FieldSpec), whichever driver reads it. */
const fieldShape = {
  name: id(),
  type: s.enum(FIELD_TYPES),
  unit: s.string().optional(),
  precision: s.integer().min(0).max(12).optional(),
  writable: s.boolean().optional(),
  values: s.array(s.string()).nonEmpty().optional(),
  min: s.number().optional(),
  max: s.number().optional(),
};

/** An enum field's values, and its range (see checkFieldRange). */
function checkField(f: Parameters<typeof checkFieldRange>[0] & { values?: string[] }, path: Path, ctx: CheckContext, rangeIsBounds: boolean): void {
  if (f.type === 'enum' && !f.values) error(ctx, [...path, 'values'], 'an enum field needs its list of values');
  checkFieldRange(f, path, ctx, rangeIsBounds);
}

const simulatedField = s.object<SimulatedFieldOptions>({
  ...fieldShape,
  waveform: s.enum(WAVEFORMS).optional(),
  periodS: s.seconds().min(0.001).optional(),
  noise: s.number().min(0).optional(),
  initial: value.optional(),
}).refine((f, path, ctx) => checkField(f, path, ctx, true));

const simulatedThing = s.object<SimulatedThingOptions>({
  id: id(),
  name: s.string().optional(),
  fields: s.array(simulatedField).nonEmpty().unique('name'),
});

/** drivers/lines.ts: a field read from a JSON or key=value message. */
const mappedShape = {
  ...fieldShape,
  path: s.string().optional(),
  scale: s.number().optional(),
  offset: s.number().optional(),
};
const mappedField = s.object<MappedField>(mappedShape).refine((f, path, ctx) => checkField(f, path, ctx, false));

const simulatedFault = s.object<SimulatedFault>({
  thing: s.string(),
  field: s.string(),
  mode: s.enum(['throw', 'hang', 'garbage', 'error'] as const),
  onSet: s.boolean().optional(),
});

const mqttField = s.object<MqttFieldOptions>({
  ...mappedShape,
  topic: s.string().optional(),
  commandTopic: s.string().optional(),
  commandKey: s.string().optional(),
  payloadOn: s.string().optional(),
  payloadOff: s.string().optional(),
}).refine((f, path, ctx) => {
  if (f.writable && !f.commandTopic) error(ctx, [...path, 'command_topic'], 'a writable field needs the command_topic its sets are published to');
  checkField(f, path, ctx, false);
});

const mqttThing = s.object<MqttThingOptions>({
  id: id(),
  name: s.string().optional(),
  topic: s.string().optional(),
  fields: s.array(mqttField).nonEmpty().unique('name'),
}).refine((t, path, ctx) => {
  t.fields.forEach((f, i) => {
    if (f.topic === undefined && t.topic === undefined) error(ctx, [...path, 'fields', i, 'topic'], `field ${f.name} has no topic, and the thing has none either`);
  });
});

// The broker password may come from a file (like the account's); it is read here so the
// driver gets the plain MqttOptions it expects. An inline password is accepted with a warning.
type RawMqtt = MqttOptions & { passwordFile?: string };
const mqttRaw = s.object<RawMqtt>({
  url: s.string().match(/^(mqtts?|wss?|tcp|ssl):\/\/[^\s]+$/, 'an mqtt://host:port or mqtts:// URL'),
  username: s.string().optional(),
  password: s.string().secret().optional(),
  passwordFile: s.string().optional(),
  clientId: s.string().optional(),
  connectTimeoutMs: s.milliseconds().min(100).max(300_000).clamp().optional(),
  reconnectMs: s.milliseconds().min(100).max(3_600_000).clamp().optional(),
  things: s.array(mqttThing).nonEmpty().unique('id'),
});
const mqttOptions = s.custom<MqttOptions>('a mapping', (v, path, ctx) => {
  const o = mqttRaw.check(v, path, ctx);
  if (o === INVALID) return INVALID;
  const { passwordFile, ...rest } = o;
  if (passwordFile !== undefined && rest.password !== undefined) {
    error(ctx, [...path, 'password_file'], 'set password or password_file, not both');
    return INVALID;
  }
  if (rest.password !== undefined) warn(ctx, [...path, 'password'], 'the broker password is written in the config; password_file keeps it out of it');
  if (passwordFile !== undefined && ctx.checkFiles) {
    try {
      const file = expandEnv(passwordFile, process.env, pathToString([...path, 'password_file']));
      rest.password = readFileSync(isAbsolute(file) ? file : resolve(ctx.baseDir, file), 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      error(ctx, [...path, 'password_file'], code ? `cannot read ${passwordFile} (${code})` : (e as Error).message);
      return INVALID;
    }
  }
  return rest;
});

const pollMs = () => s.milliseconds().min(100).clamp().optional();

export const driverOptionSchemas: { [K in DriverKind]: Schema<DriverOptionsByKind[K]> } = {
  simulated: s.object<SimulatedOptions>({
    seed: s.integer().optional(),
    pollIntervalMs: pollMs(),
    things: s.array(simulatedThing).nonEmpty().unique('id'),
    faults: s.array(simulatedFault).optional(),
  }),
  linux: s.object<LinuxOptions>({
    root: s.string().optional(),
    thing: id().optional(),
    pollIntervalMs: pollMs(),
    disks: s.array(s.object<LinuxDiskOptions>({ name: id(), path: s.string() })).optional(),
    interfaces: s.array(s.string()).optional(),
  }),
  w1: s.object<W1Options>({
    root: s.string().optional(),
    pollIntervalMs: pollMs(),
    // Family codes of w1_therm thermometers (see drivers/w1.ts).
    devices: s.array(s.string().match(/^(10|22|28|3b|42)-[0-9a-f]{12}$/, 'a 1-Wire thermometer id like 28-0316a2795bff')).optional(),
    names: s.record(id()).optional(),
    accept85: s.boolean().optional(),
  }),
  iio: s.object<IioOptions>({
    root: s.string().optional(),
    pollIntervalMs: pollMs(),
    devices: s.array(s.object<IioDeviceOptions>({
      device: s.string(),
      thing: id().optional(),
      channels: s.array(s.string()).optional(),
      fieldNames: s.record(id()).optional(),
    })).optional(),
  }),
  serial: s.object<SerialOptions>({
    path: s.string(),
    baudRate: s.integer().min(50).max(4_000_000).optional(),
    protocol: s.enum(['nmea', 'json', 'kv'] as const satisfies readonly SerialProtocol[]),
    thing: id().optional(),
    fields: s.array(mappedField).nonEmpty().unique('name').optional(),
    maxLineLength: s.integer().min(64).max(1024 * 1024).clamp().optional(),
    reopenMs: s.milliseconds().min(10).max(60_000).clamp().optional(),
  }).refine((o, path, ctx) => {
    // drivers/serial.ts: json and kv lines are mapped by `fields`; nmea has fixed fields.
    if (o.protocol !== 'nmea' && !o.fields) error(ctx, [...path, 'fields'], `the ${o.protocol} protocol needs a fields mapping (name, type, path)`);
  }),
  mqtt: mqttOptions,
  // drivers/bridge.ts: a board running the firmware-bridge library (firmware-bridge/proto/bridge.proto).
  bridge: s.object<BridgeOptions>({
    path: s.string(),
    baudRate: s.integer().min(50).max(4_000_000).optional(),
    board: s.string().match(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, 'a board id of 1-32 letters, digits, "_" or "-" (the one given to xiota bridge pair)'),
    keysFile: s.file().optional(), // relative: to the config file's directory, for the agent and `xiota bridge` alike
    plaintext: s.boolean().optional(),
    handshakeTimeoutMs: s.milliseconds().min(100).max(120_000).clamp().optional(),
    pingMs: s.milliseconds().min(100).max(600_000).clamp().optional(),
    deadAfterMs: s.milliseconds().min(200).max(3_600_000).clamp().optional(),
    setTimeoutMs: s.milliseconds().min(50).max(120_000).clamp().optional(),
    retryMs: s.milliseconds().min(10).max(60_000).clamp().optional(),
    rekeyAt: s.integer().min(64).max(0xffff0000).optional(),
    topicPrefix: s.string().match(/^[^#+\0]+$/, 'an MQTT topic prefix without wildcards').optional(),
    replayWindow: s.integer().min(0).max(1024).optional(),
    pairing: s.enum(['preshared', 'tofu'] as const).optional(),
    forwardSecrecy: s.boolean().optional(),
  }).refine((o, path, ctx) => {
    if (o.replayWindow !== undefined && o.replayWindow % 32 !== 0) error(ctx, [...path, 'replay_window'], `replay_window ${o.replayWindow}: use 0 or a multiple of 32 (up to 1024)`);
    if (o.plaintext) warn(ctx, [...path, 'plaintext'], 'plaintext bridge frames are not authenticated: anyone on the line can forge readings and sets; for development only');
  }),
};

const KINDS_WITH_POLL: ReadonlySet<DriverKind> = new Set(['simulated', 'linux', 'w1', 'iio']);

/** One `drivers:` entry: id and kind first, then `options` by the schema of that kind. */
export const driverEntry: Schema<DriverConfig> = s.custom<DriverConfig>('a driver entry', (v, path, ctx) => {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    error(ctx, path, `expected a mapping with id, kind and options, got ${describe(v)}`);
    return INVALID;
  }
  const head = s.object<{ id: string; kind: DriverKind; enabled: boolean; pollIntervalS?: number; options: unknown }>({
    id: id(),
    kind: s.enum(DRIVER_KINDS),
    enabled: s.boolean().default(true),
    pollIntervalS: s.seconds().min(0.1).max(86_400).clamp().optional(),
    options: s.custom<unknown>('a mapping', (o) => o).optional(),
  });
  const h = head.check(v, path, ctx);
  if (h === INVALID) return INVALID;
  const raw = (v as Record<string, unknown>).options ?? {};
  const opts = checkOptions(h.kind, raw, [...path, 'options'], ctx);
  if (opts === INVALID) return INVALID;
  if (h.pollIntervalS !== undefined) {
    if (KINDS_WITH_POLL.has(h.kind)) (opts as { pollIntervalMs?: number }).pollIntervalMs = Math.round(h.pollIntervalS * 1000);
    else ctx.issues.push({ path: [...path, 'poll_interval_s'], message: `has no effect on a ${h.kind} driver (it pushes readings)`, severity: 'warning', at: 'key' });
  }
  const entry = { id: h.id, kind: h.kind, enabled: h.enabled, options: opts } as DriverConfig;
  if (h.pollIntervalS !== undefined) entry.pollIntervalS = h.pollIntervalS;
  return entry;
});

function checkOptions(kind: DriverKind, raw: unknown, path: Path, ctx: CheckContext): DriverOptionsByKind[DriverKind] | Invalid {
  return (driverOptionSchemas[kind] as Schema<DriverOptionsByKind[DriverKind]>).check(raw, path, ctx);
}
