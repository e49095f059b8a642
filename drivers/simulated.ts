// Simulated things for the demo and for tests: seeded, deterministic waveforms and actuators
// that hold state. Same seed and same clock → identical readings. Faults can be injected per
// field (throw, hang, garbage, error) so the DriverHost's fault handling is tested on a driver.
import type { Driver, DriverContext, FieldSpec, Reading, ThingSpec, Value, FieldValue } from './types';
import { XiotaError } from '../agent/errors';
import { mulberry32 } from './prng';
import { checkRange, checkValue, roundTo } from './values';

export type Waveform = 'sine' | 'ramp' | 'random' | 'constant' | 'step';

/** A field as configured: its declaration (FieldSpec) and how the simulation moves it. */
export interface SimulatedFieldOptions extends FieldSpec {
  /** How a read-only field moves (default sine for numbers, step for booleans and enums). */
  waveform?: Waveform;
  /**
   * A read-only field: the waveform's bounds (values never leave them). A writable field has
   * no waveform (it holds what was set), so the same keys are its valid range: declared in
   * its FieldSpec, a set outside them is refused.
   */
  min?: number;
  max?: number;
  /** Period of sine, ramp and step, in seconds (default 60). */
  periodS?: number;
  /** Peak-to-peak noise added to sine and ramp, in field units (default 0). */
  noise?: number;
  /** Starting value of an actuator, or the value of a string / constant field. */
  initial?: Value;
}

export interface SimulatedThingOptions {
  id: string;
  name?: string;
  fields: SimulatedFieldOptions[];
}

/** Injected fault: `throw` makes sample() reject, `hang` makes it never settle, `garbage`
 *  puts a value of the wrong kind (NaN, a string for a number) in the reading, `error` marks
 *  the field failed the way a real sensor driver does. */
export interface SimulatedFault {
  thing: string;
  field: string;
  mode: 'throw' | 'hang' | 'garbage' | 'error';
  /** Set a writable field fails too (throw) — default false. */
  onSet?: boolean;
}

export interface SimulatedOptions {
  seed?: number;
  pollIntervalMs?: number;
  things: SimulatedThingOptions[];
  faults?: SimulatedFault[];
}

export interface SimulatedDeps {
  /** Clock in ms since the epoch; injected so waveforms are reproducible. */
  now?: () => number;
}

export class SimulatedDriver implements Driver {
  readonly kind = 'simulated';
  readonly pollIntervalMs: number;
  private readonly rand: () => number;
  private readonly now: () => number;
  private readonly state = new Map<string, Value>();
  private readonly specs: ThingSpec[];
  private readonly faults: SimulatedFault[];
  private ctx?: DriverContext;

  constructor(readonly id: string, private readonly opts: SimulatedOptions, deps: SimulatedDeps = {}) {
    this.rand = mulberry32(opts.seed ?? 1);
    this.now = deps.now ?? Date.now;
    this.pollIntervalMs = opts.pollIntervalMs ?? 10_000;
    this.faults = opts.faults ?? [];
    this.specs = opts.things.map((t) => ({
      id: t.id,
      ...(t.name !== undefined ? { name: t.name } : {}),
      fields: t.fields.map((f): FieldSpec => {
        const s: FieldSpec = { name: f.name, type: f.type };
        if (f.unit !== undefined) s.unit = f.unit;
        if (f.precision !== undefined) s.precision = f.precision;
        if (f.writable) s.writable = true;
        if (f.values !== undefined) s.values = f.values;
        if (f.writable && f.min !== undefined) s.min = f.min;
        if (f.writable && f.max !== undefined) s.max = f.max;
        return s;
      }),
    }));
    for (const t of opts.things) {
      for (const f of t.fields) if (f.writable) this.state.set(key(t.id, f.name), initialState(f));
    }
  }

  things(): ThingSpec[] {
    return this.specs;
  }

  async start(ctx: DriverContext): Promise<void> {
    this.ctx = ctx;
  }

  async stop(): Promise<void> {
    this.ctx = undefined;
  }

  async sample(): Promise<Reading[]> {
    const ts = this.now();
    const out: Reading[] = [];
    for (const t of this.opts.things) {
      const values: FieldValue[] = [];
      for (const f of t.fields) {
        const fault = this.faults.find((x) => x.thing === t.id && x.field === f.name && !x.onSet);
        if (fault?.mode === 'throw') throw new Error(`simulated fault: ${t.id}/${f.name} throws`);
        if (fault?.mode === 'hang') return new Promise<Reading[]>(() => undefined);
        if (fault?.mode === 'garbage') {
          values.push({ field: f.name, value: (f.type === 'numeric' || f.type === 'int' ? NaN : 42) as Value });
          continue;
        }
        if (fault?.mode === 'error') {
          values.push({ field: f.name, error: 'simulated sensor failure' });
          continue;
        }
        values.push({ field: f.name, value: this.valueOf(t.id, f, ts) });
      }
      out.push({ thing: t.id, timestamp: ts, values });
    }
    return out;
  }

  async set(thing: string, field: string, value: Value): Promise<void> {
    const t = this.opts.things.find((x) => x.id === thing);
    const f = t?.fields.find((x) => x.name === field);
    if (!t || !f || !f.writable) {
      throw new XiotaError('XIOTA_E_DRIVER', `simulated driver ${this.id}: ${thing}/${field} is not a writable field`, { thing, field });
    }
    if (this.faults.some((x) => x.thing === thing && x.field === field && x.onSet)) {
      throw new Error(`simulated fault: set ${thing}/${field} fails`);
    }
    const spec = this.specs.find((x) => x.id === thing)!.fields.find((x) => x.name === field)!;
    const typed = checkValue(value, spec);
    const c = typed.ok ? checkRange(typed.value, spec) : typed;
    if (!c.ok) throw new XiotaError('XIOTA_E_DRIVER', `simulated driver ${this.id}: ${thing}/${field} ${c.error}`, { thing, field });
    this.state.set(key(thing, field), c.value);
    this.ctx?.log.debug('simulated actuator set', { thing, field, value: c.value });
  }

  private valueOf(thing: string, f: SimulatedFieldOptions, ts: number): Value {
    const held = this.state.get(key(thing, f.name));
    if (held !== undefined) return held;
    const periodMs = Math.max(1, (f.periodS ?? 60) * 1000);
    const phase = (((ts % periodMs) + periodMs) % periodMs) / periodMs;
    // Noise is drawn for every numeric field on every sample, so the sequence depends only
    // on the seed and the number of samples taken, not on which waveform a field uses.
    const r = this.rand();
    switch (f.type) {
      case 'boolean':
        return f.waveform === 'random' ? r < 0.5 : phase < 0.5;
      case 'enum': {
        const vals = f.values ?? [];
        if (vals.length === 0) return '';
        if (f.waveform === 'random') return vals[Math.floor(r * vals.length)];
        return vals[Math.floor(phase * vals.length) % vals.length];
      }
      case 'string':
        return typeof f.initial === 'string' ? f.initial : String(f.initial ?? '');
      default: {
        const min = f.min ?? 0;
        const max = f.max ?? 100;
        const noise = ((r - 0.5) * (f.noise ?? 0));
        let v: number;
        switch (f.waveform ?? 'sine') {
          case 'constant': v = typeof f.initial === 'number' ? f.initial : min; break;
          case 'ramp': v = min + (max - min) * phase + noise; break;
          case 'random': v = min + (max - min) * r; break;
          case 'step': v = phase < 0.5 ? min : max; break;
          default: v = (min + max) / 2 + ((max - min) / 2) * Math.sin(2 * Math.PI * phase) + noise;
        }
        v = Math.min(max, Math.max(min, v));
        return f.type === 'int' ? Math.round(v) : roundTo(v, f.precision);
      }
    }
  }
}

function key(thing: string, field: string): string {
  return `${thing}\u0000${field}`;
}

function initialState(f: SimulatedFieldOptions): Value {
  if (f.initial !== undefined) return f.initial;
  switch (f.type) {
    case 'boolean': return false;
    case 'enum': return f.values?.[0] ?? '';
    case 'string': return '';
    default: return f.min ?? 0;
  }
}

export function createSimulatedDriver(id: string, options: SimulatedOptions, deps?: SimulatedDeps): Driver {
  return new SimulatedDriver(id, options, deps);
}
