// Alert rules over readings and driver faults: one small state machine per rule, pure, with
// the time passed in (the module gives its clock, tests give theirs). No timers here: the
// caller asks `nextDeadline()` and calls `tick(now)` then.
//
//   ok ──condition──> pending ──held for_s──> firing ──repeat_s──> firing (repeat) ...
//    ^                  │                       │
//    └──condition gone──┘                       └──back past the threshold by the hysteresis──> resolved (once) → ok
//
// Alertmanager's defaults are the model (shared/any-client.md 4): one alert per condition,
// repeats every 4 h while it lasts, one "resolved" at the end.
import type { Reading, Value } from '../../drivers/types';

/** One rule as written under `alerts.rules` (camelCase here, snake_case in YAML). */
export interface AlertRule {
  /** `thing.field`. */
  field: string;
  /** Fires while the numeric value is above this (strictly). */
  above?: number;
  /** Fires while the numeric value is below this (strictly). */
  below?: number;
  /** The condition must hold this long before the alert goes out (default 0). */
  forS?: number;
  /** Fires on every change of the value (booleans, enums, strings). */
  changes?: boolean;
  /** Fires while the thing's driver reports a fault for the field; resolves when values come back. */
  fault?: boolean;
  /** A firing threshold alert resolves only when the value is back past the threshold by this much (default 0). */
  hysteresis?: number;
  /** Repeat a firing alert this often while it lasts; 0 = never (default 4 h). */
  repeatS?: number;
  /** Bare JIDs to alert instead of the owners. */
  to?: string[];
  /** Shown in the alert text. */
  name?: string;
}

/** Alertmanager's repeat_interval default. */
export const DEFAULT_REPEAT_S = 4 * 3600;

export type AlertKind = 'firing' | 'repeat' | 'resolved' | 'changed';

/** What a rule produced; agent/alerts/format.ts turns it into text. */
export interface AlertEvent {
  /** Index of the rule in the list it was given. */
  rule: number;
  kind: AlertKind;
  /** `thing.field`. */
  key: string;
  thing: string;
  field: string;
  /** The value that made it fire or resolve (the last one seen); absent for a failed sensor. */
  value?: Value;
  /** `changed`: the value before. */
  previous?: Value;
  /** A fault rule: the driver's message. */
  fault?: string;
  /** When the condition started (pending began). */
  since: number;
  at: number;
}

/** A driver fault as the rules need it (drivers/host.ts DriverFault). */
export interface FaultInput {
  driver: string;
  thing?: string;
  field?: string;
  message: string;
}

type Phase = 'ok' | 'pending' | 'firing';

interface State {
  phase: Phase;
  /** When the current condition began (pending start). */
  since: number;
  /** When the last firing/repeat went out. */
  sentAt: number;
  value?: Value;
  fault?: string;
  /** changes: the value last reported (or first seen). */
  baseline?: Value;
  hasBaseline: boolean;
  /** changes with for_s: a new value waiting to hold. */
  candidate?: Value;
  hasCandidate: boolean;
}

/** `thing.field` split at the known thing id, or at the first dot. */
export function splitKey(key: string, thingIds: readonly string[] = []): { thing: string; field: string } | undefined {
  // Thing ids and field names may both contain dots: prefer a declared thing id.
  const known = thingIds.filter((t) => key.startsWith(t + '.') && key.length > t.length + 1).sort((a, b) => b.length - a.length)[0];
  if (known !== undefined) return { thing: known, field: key.slice(known.length + 1) };
  const dot = key.indexOf('.');
  if (dot <= 0 || dot === key.length - 1) return undefined;
  return { thing: key.slice(0, dot), field: key.slice(dot + 1) };
}

export function ruleKind(r: AlertRule): 'threshold' | 'changes' | 'fault' {
  if (r.fault) return 'fault';
  if (r.changes) return 'changes';
  return 'threshold';
}

/** "above 30", "below 5", "outside 5..30", "changes", "fault": how a rule reads in text. */
export function conditionText(r: AlertRule): string {
  switch (ruleKind(r)) {
    case 'fault': return 'sensor fault';
    case 'changes': return 'changed';
    default:
      if (r.above !== undefined && r.below !== undefined) return `outside ${r.below}..${r.above}`;
      return r.above !== undefined ? `above ${r.above}` : `below ${r.below}`;
  }
}

export class AlertRules {
  private readonly states: State[];
  /** thing id -> the driver that reads it (learned from readings), so driver-wide faults reach its things' rules. */
  private readonly driverOf = new Map<string, string>();
  /** `thing.field` -> the rules on it (a reading looks up its fields, not every rule). */
  private readonly byKey = new Map<string, number[]>();

  constructor(readonly rules: readonly AlertRule[]) {
    this.states = rules.map(() => ({ phase: 'ok', since: 0, sentAt: 0, hasBaseline: false, hasCandidate: false }));
    rules.forEach((r, i) => this.byKey.set(r.field, [...(this.byKey.get(r.field) ?? []), i]));
  }

  /** Runs every rule on `thing.field` over one reading. */
  reading(r: Reading, now: number, driverId?: string): AlertEvent[] {
    if (driverId !== undefined) this.driverOf.set(r.thing, driverId);
    const out: AlertEvent[] = [];
    for (const fv of r.values) {
      for (const i of this.byKey.get(`${r.thing}.${fv.field}`) ?? []) {
        const e = this.observe(i, r.thing, fv.field, fv.error !== undefined ? { error: fv.error } : { value: fv.value }, now);
        if (e) out.push(e);
      }
    }
    return out;
  }

  /** A driver fault: a fault rule on the field (or on every field of the thing, or of the driver's things) sees a failed sensor. */
  fault(f: FaultInput, now: number): AlertEvent[] {
    const out: AlertEvent[] = [];
    this.rules.forEach((rule, i) => {
      if (ruleKind(rule) !== 'fault') return;
      const parts = this.partsOf(rule);
      if (!parts) return;
      const hit = f.thing !== undefined
        ? f.thing === parts.thing && (f.field === undefined || f.field === parts.field)
        : this.driverOf.get(parts.thing) === f.driver;
      if (!hit) return;
      const e = this.observe(i, parts.thing, parts.field, { error: f.message }, now);
      if (e) out.push(e);
    });
    return out;
  }

  /** Pending conditions that held long enough fire; firing ones repeat when due. */
  tick(now: number): AlertEvent[] {
    const out: AlertEvent[] = [];
    this.rules.forEach((rule, i) => {
      const s = this.states[i]!;
      const parts = this.partsOf(rule);
      if (!parts) return;
      const forMs = (rule.forS ?? 0) * 1000;
      if (ruleKind(rule) === 'changes') {
        if (s.hasCandidate && now - s.since >= forMs) out.push(this.changed(i, parts, s.candidate as Value, now));
        return;
      }
      if (s.phase === 'pending' && now - s.since >= forMs) out.push(this.fire(i, parts, now, 'firing'));
      else if (s.phase === 'firing') {
        const repeatMs = (rule.repeatS ?? DEFAULT_REPEAT_S) * 1000;
        if (repeatMs > 0 && now - s.sentAt >= repeatMs) out.push(this.fire(i, parts, now, 'repeat'));
      }
    });
    return out;
  }

  /** The earliest time tick() has something to do; undefined when nothing waits. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    const at = (t: number) => { if (next === undefined || t < next) next = t; };
    this.rules.forEach((rule, i) => {
      const s = this.states[i]!;
      const forMs = (rule.forS ?? 0) * 1000;
      if (ruleKind(rule) === 'changes') {
        if (s.hasCandidate) at(s.since + forMs);
      } else if (s.phase === 'pending') at(s.since + forMs);
      else if (s.phase === 'firing') {
        const repeatMs = (rule.repeatS ?? DEFAULT_REPEAT_S) * 1000;
        if (repeatMs > 0) at(s.sentAt + repeatMs);
      }
    });
    return next;
  }

  /** Rules firing now (for the "suppressed" note and the status of `alerts`). */
  firing(): { rule: number; key: string; since: number; value?: Value }[] {
    const out: { rule: number; key: string; since: number; value?: Value }[] = [];
    this.states.forEach((s, i) => {
      if (s.phase === 'firing') out.push({ rule: i, key: this.rules[i]!.field, since: s.since, ...(s.value !== undefined ? { value: s.value } : {}) });
    });
    return out;
  }

  private partsOf(rule: AlertRule): { thing: string; field: string } | undefined {
    return splitKey(rule.field, [...this.driverOf.keys()]);
  }

  private observe(i: number, thing: string, field: string, v: { value?: Value; error?: string }, now: number): AlertEvent | undefined {
    const rule = this.rules[i]!;
    const s = this.states[i]!;
    const parts = { thing, field };
    switch (ruleKind(rule)) {
      case 'threshold': {
        // A failed sensor says nothing about the threshold: the state stays as it is.
        if (typeof v.value !== 'number') return undefined;
        const x = v.value;
        s.value = x;
        const bad = (rule.above !== undefined && x > rule.above) || (rule.below !== undefined && x < rule.below);
        if (s.phase === 'ok') return bad ? this.begin(i, parts, now) : undefined;
        if (s.phase === 'pending') {
          if (!bad) { s.phase = 'ok'; return undefined; }
          return now - s.since >= (rule.forS ?? 0) * 1000 ? this.fire(i, parts, now, 'firing') : undefined;
        }
        // Firing: resolve only past the threshold by the hysteresis (a Schmitt trigger), so a
        // value wobbling around the threshold does not resolve and fire again.
        const h = rule.hysteresis ?? 0;
        const clear = (rule.above === undefined || x <= rule.above - h) && (rule.below === undefined || x >= rule.below + h);
        return clear ? this.resolve(i, parts, now) : undefined;
      }
      case 'fault': {
        if (v.error !== undefined) {
          s.fault = v.error;
          if (s.phase === 'ok') return this.begin(i, parts, now);
          if (s.phase === 'pending' && now - s.since >= (rule.forS ?? 0) * 1000) return this.fire(i, parts, now, 'firing');
          return undefined;
        }
        if (v.value === undefined) return undefined;
        s.value = v.value;
        if (s.phase === 'pending') { s.phase = 'ok'; return undefined; }
        return s.phase === 'firing' ? this.resolve(i, parts, now) : undefined;
      }
      case 'changes': {
        if (v.value === undefined) return undefined;
        const x = v.value;
        if (!s.hasBaseline) { s.baseline = x; s.hasBaseline = true; return undefined; }
        if (x === s.baseline) { s.hasCandidate = false; s.candidate = undefined; return undefined; }
        const forMs = (rule.forS ?? 0) * 1000;
        if (forMs === 0) return this.changed(i, parts, x, now);
        if (!s.hasCandidate || s.candidate !== x) { s.candidate = x; s.hasCandidate = true; s.since = now; return undefined; }
        return now - s.since >= forMs ? this.changed(i, parts, x, now) : undefined;
      }
    }
  }

  private begin(i: number, parts: { thing: string; field: string }, now: number): AlertEvent | undefined {
    const s = this.states[i]!;
    s.phase = 'pending';
    s.since = now;
    return (this.rules[i]!.forS ?? 0) <= 0 ? this.fire(i, parts, now, 'firing') : undefined;
  }

  private fire(i: number, parts: { thing: string; field: string }, now: number, kind: 'firing' | 'repeat'): AlertEvent {
    const s = this.states[i]!;
    s.phase = 'firing';
    s.sentAt = now;
    return this.event(i, parts, kind, now);
  }

  private resolve(i: number, parts: { thing: string; field: string }, now: number): AlertEvent {
    const e = this.event(i, parts, 'resolved', now);
    const s = this.states[i]!;
    s.phase = 'ok';
    s.fault = undefined;
    return e;
  }

  private changed(i: number, parts: { thing: string; field: string }, x: Value, now: number): AlertEvent {
    const s = this.states[i]!;
    const e: AlertEvent = { rule: i, kind: 'changed', key: this.rules[i]!.field, ...parts, value: x, since: s.hasCandidate ? s.since : now, at: now };
    if (s.baseline !== undefined) e.previous = s.baseline;
    s.baseline = x;
    s.hasCandidate = false;
    s.candidate = undefined;
    return e;
  }

  private event(i: number, parts: { thing: string; field: string }, kind: AlertKind, now: number): AlertEvent {
    const s = this.states[i]!;
    const e: AlertEvent = { rule: i, kind, key: this.rules[i]!.field, ...parts, since: s.since, at: now };
    // A fault alert names the fault; its "resolved" names the value that came back.
    const fault = ruleKind(this.rules[i]!) === 'fault';
    if (s.value !== undefined && (!fault || kind === 'resolved')) e.value = s.value;
    if (fault && kind !== 'resolved' && s.fault !== undefined) e.fault = s.fault;
    return e;
  }
}
