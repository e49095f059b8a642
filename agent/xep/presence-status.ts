// The presence status line (RFC 6121 4.7.2.2 <status/>) built from readings, and the faults
// that turn <show/> to `away` (agent/faults.ts). Pure: readings, specs and faults in, text out.
//
//   default:   22.5 °C · 41 % · fan off           (every field, in declared order, trimmed)
//   template:  "{greenhouse.temperature} inside, fan {greenhouse.fan}"
import type { FieldSpec, Reading, ThingSpec, Value } from '../../drivers/types';
import { formatValue } from '../format';

/** Longer status lines are cut at a field boundary: clients show one line. */
export const MAX_STATUS_CHARS = 100;
const SEP = ' · ';
const TOKEN = /\{([A-Za-z0-9][A-Za-z0-9._-]*)\.([A-Za-z0-9_][A-Za-z0-9_-]*)\}/g;

/** Why a template is wrong, or undefined. A `{` must open a `{thing.field}` reference. */
export function templateProblem(template: string): string | undefined {
  const stripped = template.replace(TOKEN, '');
  const bad = /\{[^}]*\}?|\}/.exec(stripped);
  if (bad) return `"${bad[0]}" is not a reference: write {thing.field}, for example {greenhouse.temperature}`;
  return undefined;
}

/** `thing.field` references of a template. */
export function templateRefs(template: string): string[] {
  return [...template.matchAll(TOKEN)].map((m) => `${m[1]}.${m[2]}`);
}

type Latest = Map<string, { value: Value; spec?: FieldSpec }>;

function latestValues(readings: readonly Reading[], things: readonly ThingSpec[]): Latest {
  const specs = new Map<string, FieldSpec>();
  for (const t of things) for (const f of t.fields) specs.set(`${t.id}.${f.name}`, f);
  const out: Latest = new Map();
  for (const r of readings) {
    for (const v of r.values) {
      if (v.error !== undefined || v.value === undefined) continue;
      const key = `${r.thing}.${v.field}`;
      out.set(key, { value: v.value, spec: specs.get(key) });
    }
  }
  return out;
}

/** One field for the default line: a number with a unit speaks for itself, others need their name. */
function part(name: string, value: Value, spec?: FieldSpec): string {
  const text = formatValue(value, spec?.unit, spec?.precision);
  if (typeof value === 'number' && spec?.unit) return text;
  return `${name} ${text}`;
}

/** Joins parts until MAX_STATUS_CHARS, ending in `…` when some were left out. */
function joinCapped(parts: string[], max = MAX_STATUS_CHARS): string {
  let s = '';
  for (const p of parts) {
    const next = s ? s + SEP + p : p;
    if (next.length > max) return s ? s + ' …' : p.slice(0, max - 1) + '…';
    s = next;
  }
  return s;
}

/**
 * The status text for the latest readings: the template with each `{thing.field}` replaced
 * (`?` while it has no value), or by default every field in declared order. Empty when there
 * is nothing to show yet.
 */
export function readingsText(readings: readonly Reading[], things: readonly ThingSpec[], template?: string): string {
  const latest = latestValues(readings, things);
  if (template !== undefined) {
    const text = template.replace(TOKEN, (_m, thing: string, field: string) => {
      const v = latest.get(`${thing}.${field}`);
      return v ? formatValue(v.value, v.spec?.unit, v.spec?.precision) : '?';
    });
    return text.length > MAX_STATUS_CHARS * 2 ? text.slice(0, MAX_STATUS_CHARS * 2 - 1) + '…' : text;
  }
  const parts: string[] = [];
  for (const t of things) {
    for (const f of t.fields) {
      const v = latest.get(`${t.id}.${f.name}`);
      if (v) parts.push(part(f.name, v.value, f));
    }
  }
  return joinCapped(parts);
}

export interface PresenceState { show?: 'away'; status: string }

/** The presence to show: `away` naming the fault while something fails, else the readings. */
export function presenceState(o: { staticStatus: string; readings: string; faults: string; showReadings: boolean }): PresenceState {
  const base = o.showReadings && o.readings ? o.readings : o.staticStatus;
  if (o.faults) return { show: 'away', status: `⚠ ${o.faults}${base && base !== o.staticStatus ? SEP + base : ''}` };
  return { status: base };
}
