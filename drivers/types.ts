// The driver interface. Drivers know nothing of XMPP: a driver declares things and their
// fields, produces timestamped readings, accepts sets for writable fields and reports faults.
// The agent maps things to PubSub nodes and the IoT XEPs.

export type FieldType = 'numeric' | 'int' | 'boolean' | 'string' | 'enum';
export type Value = number | boolean | string;

export interface FieldSpec {
  /** Field name, unique within its thing (`temperature`, `relay`). */
  name: string;
  type: FieldType;
  /** Unit as written in XEP-0323 `unit` (`°C`, `%`, `hPa`, `B`, `s`). */
  unit?: string;
  /** Decimals kept for numeric fields. */
  precision?: number;
  /** True when the field accepts sets (an actuator). */
  writable?: boolean;
  /** Allowed values of an enum field. */
  values?: string[];
  /**
   * Range of a writable numeric or int field, inclusive: DriverHost.set refuses a value
   * outside it, chat and ad-hoc commands (XEP-0122 <range/>) offer it. Readings are not
   * checked against it: a sensor may report beyond what may be set.
   */
  min?: number;
  max?: number;
}

export interface ThingSpec {
  /** Stable id, unique across the agent; becomes the PubSub node name suffix. */
  id: string;
  /** Human name (optional). */
  name?: string;
  fields: FieldSpec[];
}

/** One field's value in a reading; `error` set (and `value` absent) marks a failed sensor. */
export interface FieldValue {
  field: string;
  value?: Value;
  error?: string;
}

/** Fields of one thing sampled together: they travel in one PubSub item. */
export interface Reading {
  thing: string;
  /** Milliseconds since the epoch, when the sample was taken. */
  timestamp: number;
  values: FieldValue[];
}

export interface DriverContext {
  /** Push a reading (event-driven drivers). */
  emit(reading: Reading): void;
  /** Report a fault that is not tied to a reading (a lost connection, a bad line). */
  fault(message: string, detail?: Record<string, unknown>): void;
  /**
   * The driver's things() changed at run time (a thing added, removed, or its fields changed:
   * a board's new schema, a flow declaring a thing). The host reads things() again and tells
   * the agent, so publishing, presence, readouts and control see the new set. Call it after
   * things() returns the new list; readings for a new thing are accepted from then on.
   */
  thingsChanged(): void;
  log: { debug(m: string, f?: Record<string, unknown>): void; info(m: string, f?: Record<string, unknown>): void; warn(m: string, f?: Record<string, unknown>): void; error(m: string, f?: Record<string, unknown>): void };
}

export interface Driver {
  /** Driver kind (`simulated`, `linux`, `w1`, `iio`, `serial`, `mqtt`). */
  readonly kind: string;
  /** Instance id from config (unique). */
  readonly id: string;
  /** Things and fields; known after start(). */
  things(): ThingSpec[];
  start(ctx: DriverContext): Promise<void>;
  stop(): Promise<void>;
  /** Polled drivers: sample every thing once now. */
  sample?(): Promise<Reading[]>;
  /** Poll interval in ms for drivers with sample(); absent for push-only drivers. */
  readonly pollIntervalMs?: number;
  /** Writable fields: apply a set; rejects with a clear error when the value is wrong.
   *  `from`: who asked (the controller's JID), when the caller knows it. */
  set?(thing: string, field: string, value: Value, from?: string): Promise<void>;
}
