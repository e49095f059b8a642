// Driver registry for the config loader: kind name → factory. Options arrive already checked
// against the kind's schema (agent/config); a factory may still refuse them (a missing field
// mapping) with XIOTA_E_CONFIG, and the caller reports that driver and runs the others.
import type { Driver } from './types';
import { XiotaError } from '../agent/errors';
import { createSimulatedDriver, type SimulatedOptions } from './simulated';
import { createLinuxDriver, type LinuxOptions } from './linux';
import { createW1Driver, type W1Options } from './w1';
import { createIioDriver, type IioOptions } from './iio';
import { createSerialDriver, type SerialOptions } from './serial';
import { createMqttDriver, type MqttOptions } from './mqtt';
import { createBridgeDriver, type BridgeOptions } from './bridge';

export type * from './types';
export { DriverHost, type DriverHostOptions, type DriverFault, type DriverState, type HostTimers } from './host';
export { createSimulatedDriver, type SimulatedOptions, type SimulatedThingOptions, type SimulatedFieldOptions, type SimulatedFault, type Waveform } from './simulated';
export { createLinuxDriver, type LinuxOptions, type LinuxDiskOptions } from './linux';
export { createW1Driver, type W1Options } from './w1';
export { createIioDriver, type IioOptions, type IioDeviceOptions } from './iio';
export { createSerialDriver, type SerialOptions, type SerialProtocol } from './serial';
export { createMqttDriver, type MqttOptions, type MqttThingOptions, type MqttFieldOptions } from './mqtt';
export type { MappedField } from './lines';
export { createBridgeDriver, type BridgeOptions } from './bridge';

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

const FACTORIES: { [K in DriverKind]: (id: string, o: DriverOptionsByKind[K], deps?: DriverDeps) => Driver } = {
  simulated: createSimulatedDriver,
  linux: createLinuxDriver,
  w1: createW1Driver,
  iio: createIioDriver,
  serial: createSerialDriver,
  mqtt: createMqttDriver,
  bridge: createBridgeDriver,
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
