// The drivers package: every driver's exports, and the registry (kind name → factory, loaded
// per kind on first use: drivers/registry.ts).

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

export { createDriver, DRIVER_KINDS, type DriverDeps, type DriverKind, type DriverOptionsByKind } from './registry';
