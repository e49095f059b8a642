// Driver kinds → factories, for the config loader and `xiota run`. Each factory requires its
// driver's file on first use, so a daemon loads only the kinds its config names: a
// simulated-only agent never loads the serial, MQTT or bridge code (tweetnacl, framing), which
// `node dist/bench/rss.js` counts in its peak RSS. drivers/index.ts re-exports all of this with
// every driver's own exports for library users.
// Options arrive already checked against the kind's schema (agent/config); a factory may still
// refuse them (a missing field mapping) with XIOTA_E_CONFIG, and the caller reports that driver
// and runs the others.
import type { Driver } from './types';
import { XiotaError } from '../agent/errors';
import type { SimulatedOptions } from './simulated';
import type { LinuxOptions } from './linux';
import type { W1Options } from './w1';
import type { IioOptions } from './iio';
import type { SerialOptions } from './serial';
import type { MqttOptions } from './mqtt';
import type { BridgeOptions } from './bridge';

export interface DriverOptionsByKind {
  simulated: SimulatedOptions;
  linux: LinuxOptions;
  w1: W1Options;
  iio: IioOptions;
  serial: SerialOptions;
  mqtt: MqttOptions;
  bridge: BridgeOptions;
}
export type DriverKind = keyof DriverOptionsByKind;

export interface DriverDeps {
  /** Clock for reading timestamps (tests, replay). */
  now?: () => number;
}

type Factory<K extends DriverKind> = (id: string, o: DriverOptionsByKind[K], deps?: DriverDeps) => Driver;

const FACTORIES: { [K in DriverKind]: Factory<K> } = {
  simulated: (id, o, d) => (require('./simulated') as typeof import('./simulated')).createSimulatedDriver(id, o, d),
  linux: (id, o, d) => (require('./linux') as typeof import('./linux')).createLinuxDriver(id, o, d),
  w1: (id, o, d) => (require('./w1') as typeof import('./w1')).createW1Driver(id, o, d),
  iio: (id, o, d) => (require('./iio') as typeof import('./iio')).createIioDriver(id, o, d),
  serial: (id, o, d) => (require('./serial') as typeof import('./serial')).createSerialDriver(id, o, d),
  mqtt: (id, o, d) => (require('./mqtt') as typeof import('./mqtt')).createMqttDriver(id, o, d),
  bridge: (id, o, d) => (require('./bridge') as typeof import('./bridge')).createBridgeDriver(id, o, d),
};

// Fields without which a factory cannot even describe its things.
const REQUIRED: Partial<Record<DriverKind, string[]>> = { simulated: ['things'], serial: ['path', 'protocol'], mqtt: ['url', 'things'], bridge: ['path', 'board'] };

export const DRIVER_KINDS = Object.keys(FACTORIES) as DriverKind[];

export function createDriver<K extends DriverKind>(kind: K, id: string, options: DriverOptionsByKind[K], deps?: DriverDeps): Driver;
export function createDriver(kind: string, id: string, options: unknown, deps?: DriverDeps): Driver;
export function createDriver(kind: string, id: string, options: unknown, deps?: DriverDeps): Driver {
  if (!Object.prototype.hasOwnProperty.call(FACTORIES, kind)) {
    throw new XiotaError('XIOTA_E_CONFIG', `unknown driver kind "${kind}" for driver ${id}: use one of ${DRIVER_KINDS.join(', ')}`, { kind, driver: id });
  }
  const opts = options ?? {};
  if (typeof opts !== 'object' || Array.isArray(opts)) {
    throw new XiotaError('XIOTA_E_CONFIG', `driver ${id} (${kind}): options must be a mapping`, { kind, driver: id });
  }
  const missing = (REQUIRED[kind as DriverKind] ?? []).filter((k) => (opts as Record<string, unknown>)[k] === undefined);
  if (missing.length) {
    throw new XiotaError('XIOTA_E_CONFIG', `driver ${id} (${kind}): options need ${missing.join(', ')}`, { kind, driver: id, missing });
  }
  const factory = FACTORIES[kind as DriverKind] as (id: string, o: unknown, deps?: DriverDeps) => Driver;
  return factory(id, opts, deps);
}
