// Schemas for each driver kind's `options`, matching the option types the drivers export, so a
// typo in a driver option is reported with its line at startup instead of surfacing as an
// undefined deep inside a driver. YAML keys are snake_case (`period_s`), the driver gets the
// camelCase object its factory expects (`periodS`).
import type { SimulatedOptions, SimulatedFieldOptions, SimulatedThingOptions, SimulatedFault, Waveform } from '../../drivers/simulated';
import type { FieldType, Value } from '../../drivers/types';
import { s, Schema, INVALID, Invalid, CheckContext, Path, error, describe } from './schema';

import type { LinuxOptions, LinuxDiskOptions } from '../../drivers/linux';
import type { W1Options } from '../../drivers/w1';
import type { IioOptions, IioDeviceOptions } from '../../drivers/iio';

export type { SimulatedOptions, LinuxOptions, W1Options, IioOptions };

import type { SerialOptions, SerialProtocol } from '../../drivers/serial';
import type { MappedField } from '../../drivers/lines';

export type { SerialOptions };

// mqtt: its driver module had not landed when this was written; this shape is this module's
// guess, to be replaced by the driver's exported type when it lands.
export interface MqttOptions {
  /** mqtt://host:port or mqtts://... */
  url: string;
  /** Topic filters to subscribe to. */
  topics: string[];
  username?: string;
  passwordFile?: string;
  clientId?: string;
}

export const DRIVER_KINDS = ['simulated', 'linux', 'w1', 'iio', 'serial', 'mqtt'] as const;
export type DriverKind = (typeof DRIVER_KINDS)[number];

export interface DriverOptionsByKind {
  simulated: SimulatedOptions;
  linux: LinuxOptions;
  w1: W1Options;
  iio: IioOptions;
  serial: SerialOptions;
  mqtt: MqttOptions;
}

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

const simulatedField = s.object<SimulatedFieldOptions>({
  name: id(),
  type: s.enum(FIELD_TYPES),
  unit: s.string().optional(),
  precision: s.integer().min(0).max(12).optional(),
  writable: s.boolean().optional(),
  values: s.array(s.string()).nonEmpty().optional(),
  waveform: s.enum(WAVEFORMS).optional(),
  min: s.number().optional(),
  max: s.number().optional(),
  periodS: s.seconds().min(0.001).optional(),
  noise: s.number().min(0).optional(),
  initial: value.optional(),
}).refine((f, path, ctx) => {
  if (f.type === 'enum' && !f.values) error(ctx, [...path, 'values'], 'an enum field needs its list of values');
  if (f.min !== undefined && f.max !== undefined && f.min > f.max) error(ctx, [...path, 'min'], `min ${f.min} is above max ${f.max}`);
});

const simulatedThing = s.object<SimulatedThingOptions>({
  id: id(),
  name: s.string().optional(),
  fields: s.array(simulatedField).nonEmpty().unique('name'),
});

/** drivers/lines.ts: a field read from a JSON or key=value message. */
const mappedField = s.object<MappedField>({
  name: id(),
  type: s.enum(FIELD_TYPES),
  unit: s.string().optional(),
  precision: s.integer().min(0).max(12).optional(),
  writable: s.boolean().optional(),
  values: s.array(s.string()).nonEmpty().optional(),
  path: s.string().optional(),
  scale: s.number().optional(),
  offset: s.number().optional(),
}).refine((f, path, ctx) => {
  if (f.type === 'enum' && !f.values) error(ctx, [...path, 'values'], 'an enum field needs its list of values');
});

const simulatedFault = s.object<SimulatedFault>({
  thing: s.string(),
  field: s.string(),
  mode: s.enum(['throw', 'hang', 'garbage', 'error'] as const),
  onSet: s.boolean().optional(),
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
  mqtt: s.object<MqttOptions>({
    url: s.string().match(/^(mqtts?|wss?|tcp|ssl):\/\/[^\s]+$/, 'an mqtt://host:port or mqtts:// URL'),
    topics: s.array(s.string()).nonEmpty(),
    username: s.string().optional(),
    passwordFile: s.file().optional(),
    clientId: s.string().optional(),
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
