// DriverHost: runs a set of drivers so that one broken driver cannot stop the others. It
// starts each (retrying a failed start with backoff), polls sample() with a timeout (a hung
// driver is reported and its fields marked failed; polls never stack on a hung one), checks
// every reading against the declared ThingSpec, routes sets to the owning driver, and never
// throws from a driver's fault.
import type { Driver, DriverContext, Reading, ThingSpec, Value, FieldValue, FieldSpec } from './types';
import { XiotaError } from '../agent/errors';
import { silentLogger, type Logger } from '../agent/log';
import { checkRange, checkValue, describe, errorText } from './values';

export interface DriverFault {
  driver: string;
  thing?: string;
  field?: string;
  message: string;
  timestamp: number;
}

/** What changed when a running driver's things() changed (DriverContext.thingsChanged). */
export interface ThingsChange {
  driver: string;
  /** Ids of things that are new. */
  added: string[];
  /** Ids of things that are gone. */
  removed: string[];
  /** Ids of things whose spec (name or fields) changed. */
  changed: string[];
}

export interface HostTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface DriverHostOptions {
  drivers: Driver[];
  onReading?: (reading: Reading, driverId: string) => void;
  onFault?: (fault: DriverFault) => void;
  /** A running driver's things changed (added, removed, new fields); things() already shows it. */
  onThingsChanged?: (change: ThingsChange) => void;
  log?: Logger;
  /** How long sample() may take before the driver counts as hung (default: the smaller of
   *  its poll interval and 10 s). */
  sampleTimeoutMs?: number;
  /** How long start() and set() may take (default 15 s / 10 s). */
  startTimeoutMs?: number;
  setTimeoutMs?: number;
  /** Backoff after a failed start: doubles from initial up to max (default 1 s → 60 s). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  timers?: HostTimers;
  now?: () => number;
}

export type DriverState = 'idle' | 'starting' | 'running' | 'retrying' | 'stopped';

/** One driver as the host runs it: for views that group things by driver (XEP-0326 data sources). */
export interface DriverInfo {
  id: string;
  kind: string;
  state: DriverState;
  /** Ids of the things it declared (empty until it has started). */
  things: string[];
}

interface Slot {
  driver: Driver;
  state: DriverState;
  things: ThingSpec[];
  pollTimer?: unknown;
  retryTimer?: unknown;
  retryMs: number;
  inFlight: boolean;
  /** The sample under way, until its result (or our timeout) is in: `xiota read` shares it. */
  current?: Promise<Reading[]>;
  hungReported: boolean;
  startAttempt: number;
}

const realTimers: HostTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

class Timeout extends Error {}

export class DriverHost {
  private readonly slots: Slot[] = [];
  private readonly owner = new Map<string, { slot: Slot; spec: ThingSpec }>();
  private readonly latest = new Map<string, Reading>();
  private readonly log: Logger;
  private readonly timers: HostTimers;
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly opts: DriverHostOptions) {
    this.log = opts.log ?? silentLogger;
    this.timers = opts.timers ?? realTimers;
    this.now = opts.now ?? Date.now;
    const ids = new Set<string>();
    for (const d of opts.drivers) {
      if (ids.has(d.id)) throw new XiotaError('XIOTA_E_CONFIG', `two drivers have the id "${d.id}": give each driver a unique id`, { driver: d.id });
      ids.add(d.id);
      this.slots.push({ driver: d, state: 'idle', things: [], retryMs: opts.retryInitialMs ?? 1000, inFlight: false, hungReported: false, startAttempt: 0 });
    }
  }

  /** Starts every driver; resolves once each has started or failed its first attempt. */
  async start(): Promise<void> {
    this.stopped = false;
    await Promise.all(this.slots.map((s) => this.startSlot(s)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.slots.map(async (s) => {
      if (s.pollTimer !== undefined) this.timers.clearTimeout(s.pollTimer);
      if (s.retryTimer !== undefined) this.timers.clearTimeout(s.retryTimer);
      s.pollTimer = s.retryTimer = undefined;
      const wasUp = s.state === 'running' || s.state === 'starting';
      s.state = 'stopped';
      if (wasUp) {
        try {
          await this.withTimeout(s.driver.stop(), this.opts.setTimeoutMs ?? 10_000);
        } catch (e) {
          this.fault(s, `driver ${s.driver.id} failed to stop: ${errorText(e)}`);
        }
      }
    }));
  }

  /** Things of every running driver. */
  things(): ThingSpec[] {
    return [...this.owner.values()].map((o) => o.spec);
  }

  /** Every driver, in config order, with its state and the ids of its things. */
  drivers(): DriverInfo[] {
    return this.slots.map((s) => ({ id: s.driver.id, kind: s.driver.kind, state: s.state, things: s.things.map((t) => t.id) }));
  }

  state(driverId: string): DriverState | undefined {
    return this.slots.find((s) => s.driver.id === driverId)?.state;
  }

  /** The last reading of each thing (pushed or polled), merged field by field. */
  latestReadings(): Reading[] {
    return [...this.latest.values()];
  }

  /** Samples every running polled driver once now (for `xiota read`); push-only drivers
   *  contribute their latest reading. Never rejects. */
  async readOnce(): Promise<Reading[]> {
    const out: Reading[] = [];
    await Promise.all(this.slots.map(async (s) => {
      if (s.state !== 'running') return;
      if (s.driver.sample) {
        if (s.inFlight) {
          // A scheduled poll is under way (right after start, often): its result is as fresh.
          if (s.current) { out.push(...(await s.current)); return; }
          out.push(...this.failAll(s, `driver ${s.driver.id} is still busy with an earlier sample`));
          return;
        }
        out.push(...(await this.sampleSlot(s, false)));
      } else {
        for (const t of s.things) {
          const r = this.latest.get(t.id);
          if (r) out.push(r);
        }
      }
    }));
    return out;
  }

  /**
   * One thing's values now (XEP-0323 momentary readout, XEP-0325 read-back): samples the driver
   * owning it, joining a sample under way unless `fresh` asks for one started after this call
   * (a read-back after a set). `deliver` passes the sample on like a scheduled poll (PubSub,
   * modules). A push-only driver gives its latest reading. Undefined when the thing is unknown,
   * its driver is not running, or the driver gave no reading for it. Never rejects.
   */
  async readThing(thing: string, o: { deliver?: boolean; fresh?: boolean } = {}): Promise<Reading | undefined> {
    const owner = this.owner.get(thing);
    if (!owner || owner.slot.state !== 'running') return undefined;
    const s = owner.slot;
    if (!s.driver.sample) return this.latest.get(thing);
    let readings: Reading[] | undefined;
    if (s.inFlight) {
      const cur = s.current;
      if (!cur) return undefined; // hung in an earlier sample: the caller falls back
      readings = await cur;
      if (o.fresh) readings = s.inFlight ? undefined : await this.sampleSlot(s, o.deliver ?? false);
    } else {
      readings = await this.sampleSlot(s, o.deliver ?? false);
    }
    return readings?.find((r) => r.thing === thing);
  }

  /** Routes a set to the driver owning the thing, after checking the field and value.
   *  `from` (who asked, when known) is passed on to the driver. */
  async set(thing: string, field: string, value: Value, from?: string): Promise<void> {
    const o = this.owner.get(thing);
    if (!o) throw new XiotaError('XIOTA_E_DRIVER', `no thing "${thing}": known things are ${[...this.owner.keys()].join(', ') || 'none'}`, { thing });
    const spec = o.spec.fields.find((f) => f.name === field);
    if (!spec) throw new XiotaError('XIOTA_E_DRIVER', `thing "${thing}" has no field "${field}"`, { thing, field });
    if (!spec.writable || !o.slot.driver.set) throw new XiotaError('XIOTA_E_DRIVER', `field "${thing}/${field}" is read-only`, { thing, field });
    const typed = checkValue(value, spec);
    const c = typed.ok ? checkRange(typed.value, spec) : typed;
    if (!c.ok) throw new XiotaError('XIOTA_E_DRIVER', `cannot set "${thing}/${field}": ${c.error}`, { thing, field });
    if (o.slot.state !== 'running') throw new XiotaError('XIOTA_E_DRIVER', `cannot set "${thing}/${field}": driver ${o.slot.driver.id} is ${o.slot.state}`, { thing, field });
    try {
      await this.withTimeout(o.slot.driver.set(thing, field, c.value, from), this.opts.setTimeoutMs ?? 10_000);
    } catch (e) {
      const msg = e instanceof Timeout
        ? `driver ${o.slot.driver.id} did not finish setting "${thing}/${field}" within ${this.opts.setTimeoutMs ?? 10_000} ms`
        : `driver ${o.slot.driver.id} failed to set "${thing}/${field}": ${errorText(e)}`;
      this.fault(o.slot, msg, thing, field);
      throw new XiotaError('XIOTA_E_DRIVER', msg, { thing, field, driver: o.slot.driver.id }, { cause: e });
    }
  }

  private async startSlot(s: Slot): Promise<void> {
    if (this.stopped) return;
    s.state = 'starting';
    s.startAttempt++;
    const d = s.driver;
    try {
      await this.withTimeout(Promise.resolve().then(() => d.start(this.contextFor(s))), this.opts.startTimeoutMs ?? 15_000);
      if (this.stopped) { await d.stop().catch(() => undefined); return; }
      this.adoptThings(s, d.things());
      s.state = 'running';
      s.retryMs = this.opts.retryInitialMs ?? 1000;
      this.log.info('driver started', { driver: d.id, kind: d.kind, things: s.things.length });
      if (d.sample) this.schedulePoll(s);
    } catch (e) {
      const wait = s.retryMs;
      s.retryMs = Math.min(s.retryMs * 2, this.opts.retryMaxMs ?? 60_000);
      const why = e instanceof Timeout ? `did not start within ${this.opts.startTimeoutMs ?? 15_000} ms` : `failed to start: ${errorText(e)}`;
      this.fault(s, `driver ${d.id} (${d.kind}) ${why}; retrying in ${wait} ms`);
      // A half-started driver may hold a port or a socket: release it before retrying.
      await this.withTimeout(Promise.resolve().then(() => d.stop()), 5000).catch(() => undefined);
      if (this.stopped) return;
      s.state = 'retrying';
      s.retryTimer = this.timers.setTimeout(() => { s.retryTimer = undefined; void this.startSlot(s); }, wait);
    }
  }

  private adoptThings(s: Slot, specs: unknown): void {
    for (const t of s.things) if (this.owner.get(t.id)?.slot === s) this.owner.delete(t.id);
    s.things = [];
    if (!Array.isArray(specs)) {
      this.fault(s, `driver ${s.driver.id} declared its things as ${describe(specs)}, not a list`);
      return;
    }
    for (const t of specs as ThingSpec[]) {
      if (!t || typeof t.id !== 'string' || !Array.isArray(t.fields)) {
        this.fault(s, `driver ${s.driver.id} declared a thing without an id or fields`);
        continue;
      }
      const other = this.owner.get(t.id);
      if (other && other.slot !== s) {
        this.fault(s, `thing "${t.id}" of driver ${s.driver.id} is already declared by driver ${other.slot.driver.id}; ignoring it (give things unique ids)`, t.id);
        continue;
      }
      s.things.push(t);
      this.owner.set(t.id, { slot: s, spec: t });
    }
  }

  private schedulePoll(s: Slot): void {
    if (this.stopped || s.state !== 'running') return;
    const every = Math.max(10, s.driver.pollIntervalMs ?? 10_000);
    s.pollTimer = this.timers.setTimeout(() => {
      s.pollTimer = undefined;
      if (s.inFlight) {
        // Never stack a poll on a hung one: the driver is still inside the earlier sample().
        if (!s.hungReported) {
          s.hungReported = true;
          this.fault(s, `driver ${s.driver.id} is still inside an earlier sample(); skipping polls until it returns`);
        }
        this.failAll(s, `driver ${s.driver.id} is not answering`).forEach((r) => this.deliver(s, r));
        this.schedulePoll(s);
        return;
      }
      void this.sampleSlot(s, true).finally(() => this.schedulePoll(s));
    }, every);
  }

  /** One sample with a timeout; returns checked readings and delivers them when `deliver`. */
  private sampleSlot(s: Slot, deliver: boolean): Promise<Reading[]> {
    const p = this.sampleSlotNow(s, deliver);
    s.current = p;
    void p.finally(() => { if (s.current === p) s.current = undefined; });
    return p;
  }

  private async sampleSlotNow(s: Slot, deliver: boolean): Promise<Reading[]> {
    const d = s.driver;
    const limit = this.opts.sampleTimeoutMs ?? Math.min(d.pollIntervalMs ?? 10_000, 10_000);
    s.inFlight = true;
    const call = Promise.resolve().then(() => d.sample!());
    // inFlight clears only when the driver's own promise settles, not at our timeout.
    call.then(() => undefined, () => undefined).finally(() => { s.inFlight = false; s.hungReported = false; });
    let readings: Reading[];
    try {
      const raw = await this.withTimeout(call, limit);
      if (!Array.isArray(raw)) {
        readings = this.failAll(s, `driver ${d.id} returned ${describe(raw)} from sample(), not a list of readings`);
        this.fault(s, `driver ${d.id} returned ${describe(raw)} from sample(), not a list of readings`);
      } else {
        readings = [];
        for (const r of raw as unknown[]) {
          const c = this.check(s, r);
          if (c) readings.push(c);
        }
      }
    } catch (e) {
      const msg = e instanceof Timeout
        ? `driver ${d.id} did not return from sample() within ${limit} ms`
        : `driver ${d.id} failed to sample: ${errorText(e)}`;
      if (e instanceof Timeout) s.hungReported = true;
      this.fault(s, msg);
      readings = this.failAll(s, msg);
    }
    if (deliver) for (const r of readings) this.deliver(s, r);
    else for (const r of readings) this.remember(r);
    return readings;
  }

  /** A reading with every field of every thing of the driver marked failed. */
  private failAll(s: Slot, message: string): Reading[] {
    const ts = this.now();
    return s.things.map((t) => ({ thing: t.id, timestamp: ts, values: t.fields.map((f) => ({ field: f.name, error: message })) }));
  }

  /** Checks one reading against the declared spec; bad fields get `error`, never a throw. */
  private check(s: Slot, r: unknown): Reading | undefined {
    const d = s.driver;
    if (!r || typeof r !== 'object') {
      this.fault(s, `driver ${d.id} produced ${describe(r)} instead of a reading`);
      return undefined;
    }
    const rr = r as Partial<Reading>;
    const o = typeof rr.thing === 'string' ? this.owner.get(rr.thing) : undefined;
    if (!o || o.slot !== s) {
      this.fault(s, `driver ${d.id} produced a reading for unknown thing ${describe(rr.thing)}; it declares ${s.things.map((t) => t.id).join(', ') || 'none'}`);
      return undefined;
    }
    let ts = rr.timestamp;
    if (typeof ts !== 'number' || !Number.isFinite(ts) || ts <= 0) {
      this.fault(s, `driver ${d.id} gave thing "${o.spec.id}" a bad timestamp ${describe(ts)}; using the current time`, o.spec.id);
      ts = this.now();
    }
    const values: FieldValue[] = [];
    // Per reading (lite mode interprets each allocation): no closure per field, and a set of
    // seen names only when a reading has more than one value.
    const list = Array.isArray(rr.values) ? (rr.values as unknown[]) : [];
    const seen = list.length > 1 ? new Set<string>() : undefined;
    const fields = o.spec.fields;
    for (let i = 0; i < list.length; i++) {
      const v = list[i] as Partial<FieldValue> | null;
      const name = v && typeof v === 'object' ? v.field : undefined;
      let spec: FieldSpec | undefined;
      if (typeof name === 'string') for (let j = 0; j < fields.length; j++) if (fields[j]!.name === name) { spec = fields[j]; break; }
      if (!spec || !name) {
        this.fault(s, `driver ${d.id} sent unknown field ${describe(name)} for thing "${o.spec.id}"; it is not declared, dropped`, o.spec.id);
        continue;
      }
      if (seen) {
        if (seen.has(name)) continue;
        seen.add(name);
      }
      if (v!.error !== undefined) {
        values.push({ field: name, error: typeof v!.error === 'string' && v!.error ? v!.error : 'sensor error' });
        continue;
      }
      const c = checkValue(v!.value, spec);
      if (c.ok) values.push({ field: name, value: c.value });
      else {
        const msg = `driver ${d.id}: field "${o.spec.id}/${name}" ${c.error}`;
        this.fault(s, msg, o.spec.id, name);
        values.push({ field: name, error: msg });
      }
    }
    if (!Array.isArray(rr.values)) this.fault(s, `driver ${d.id} sent a reading for "${o.spec.id}" without a values list`, o.spec.id);
    return { thing: o.spec.id, timestamp: ts, values };
  }

  private deliver(s: Slot, r: Reading): void {
    this.remember(r);
    try {
      this.opts.onReading?.(r, s.driver.id);
    } catch (e) {
      this.log.error('reading consumer threw', { driver: s.driver.id, thing: r.thing, error: errorText(e) });
    }
  }

  private remember(r: Reading): void {
    const prev = this.latest.get(r.thing);
    if (prev && sameFields(prev.values, r.values)) {
      // The usual case, a thing reporting the same fields each time: the merge below gives r's values in r's order.
      this.latest.set(r.thing, { thing: r.thing, timestamp: r.timestamp, values: r.values.slice() });
      return;
    }
    const merged = new Map((prev?.values ?? []).map((v) => [v.field, v] as const));
    for (const v of r.values) merged.set(v.field, v);
    this.latest.set(r.thing, { thing: r.thing, timestamp: r.timestamp, values: [...merged.values()] });
  }

  private contextFor(s: Slot): DriverContext {
    const log = this.log.child({ driver: s.driver.id });
    return {
      emit: (r: Reading) => {
        // Pushed readings go through the same checks; a stopped driver's late pushes are dropped.
        if (s.state !== 'running' && s.state !== 'starting') return;
        const c = this.check(s, r);
        if (c) this.deliver(s, c);
      },
      fault: (message: string, detail?: Record<string, unknown>) => {
        this.fault(s, typeof message === 'string' ? message : describe(message), undefined, undefined, detail);
      },
      thingsChanged: () => this.thingsChanged(s),
      log,
    };
  }

  /** Re-reads a running driver's things and reports the difference. While the driver is
   *  starting, its things are read once start() returns, so nothing is to do yet. */
  private thingsChanged(s: Slot): void {
    if (s.state !== 'running') return;
    let specs: unknown;
    try {
      specs = s.driver.things();
    } catch (e) {
      this.fault(s, `driver ${s.driver.id} failed to list its things: ${errorText(e)}`);
      return;
    }
    const before = new Map(s.things.map((t) => [t.id, JSON.stringify(t)] as const));
    this.adoptThings(s, specs);
    const after = new Map(s.things.map((t) => [t.id, t] as const));
    const change: ThingsChange = { driver: s.driver.id, added: [], removed: [], changed: [] };
    for (const [id, t] of after) {
      const old = before.get(id);
      if (old === undefined) change.added.push(id);
      else if (old !== JSON.stringify(t)) change.changed.push(id);
    }
    for (const id of before.keys()) if (!after.has(id)) change.removed.push(id);
    if (!change.added.length && !change.removed.length && !change.changed.length) return;
    for (const id of change.removed) this.latest.delete(id);
    for (const id of change.changed) {
      // Keep the latest values of fields that still exist, so `read` does not show a dropped one.
      const prev = this.latest.get(id);
      const names = new Set(after.get(id)!.fields.map((f) => f.name));
      if (prev) this.latest.set(id, { ...prev, values: prev.values.filter((v) => names.has(v.field)) });
    }
    this.log.info('driver things changed', { ...change, things: s.things.length });
    try {
      this.opts.onThingsChanged?.(change);
    } catch (e) {
      this.log.error('things consumer threw', { driver: s.driver.id, error: errorText(e) });
    }
  }

  private fault(s: Slot, message: string, thing?: string, field?: string, detail?: Record<string, unknown>): void {
    const f: DriverFault = { driver: s.driver.id, message, timestamp: this.now() };
    if (thing !== undefined) f.thing = thing;
    if (field !== undefined) f.field = field;
    this.log.warn(message, { driver: s.driver.id, ...(thing ? { thing } : {}), ...(field ? { field } : {}), ...(detail ?? {}) });
    try {
      this.opts.onFault?.(f);
    } catch (e) {
      this.log.error('fault consumer threw', { error: errorText(e) });
    }
  }

  private withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const h = this.timers.setTimeout(() => reject(new Timeout()), ms);
      p.then(
        (v) => { this.timers.clearTimeout(h); resolve(v); },
        (e) => { this.timers.clearTimeout(h); reject(e); },
      );
    });
  }
}

/** Both lists name the same fields in the same order (checked readings hold no duplicates). */
function sameFields(a: readonly FieldValue[], b: readonly FieldValue[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.field !== b[i]!.field) return false;
  return true;
}
