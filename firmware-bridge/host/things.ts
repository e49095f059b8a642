// A board's entities as the agent's things: one thing per entity, its id made of the board id
// and the entity's key (`greenhouse-1.10`), so a renamed sensor keeps its PubSub node; one
// field, `value`. Raw integers are scaled by the entity's decimals both ways. Pure.
import type { FieldSpec, ThingSpec, Value } from '../../drivers/types';
import { EntityKind, type Entity } from './messages';

export const VALUE_FIELD = 'value';
export const thingId = (boardId: string, key: number): string => `${boardId}.${key}`;

export function entityThing(boardId: string, e: Entity): ThingSpec {
  const field: FieldSpec = { name: VALUE_FIELD, type: e.kind === EntityKind.BOOL ? 'boolean' : e.kind === EntityKind.INT ? 'int' : 'numeric' };
  if (e.unit) field.unit = e.unit;
  if (e.kind === EntityKind.NUMERIC) field.precision = e.decimals;
  if (e.writable) field.writable = true;
  return { id: thingId(boardId, e.key), name: e.name, fields: [field] };
}

export function rawToValue(e: Entity, raw: number): Value {
  if (e.kind === EntityKind.BOOL) return raw !== 0;
  if (e.kind === EntityKind.INT) return raw;
  const v = raw / 10 ** e.decimals;
  return Number(v.toFixed(e.decimals));
}

/** A value from the agent → the board's raw integer, or why it cannot be sent. */
export function valueToRaw(e: Entity, v: Value): { ok: true; raw: number } | { ok: false; error: string } {
  let raw: number;
  if (e.kind === EntityKind.BOOL) {
    if (typeof v !== 'boolean') return { ok: false, error: `expected a boolean, got ${JSON.stringify(v)}` };
    raw = v ? 1 : 0;
  } else {
    if (typeof v !== 'number' || !Number.isFinite(v)) return { ok: false, error: `expected a number, got ${JSON.stringify(v)}` };
    raw = Math.round(e.kind === EntityKind.INT ? v : v * 10 ** e.decimals);
    if (e.kind === EntityKind.INT && !Number.isInteger(v)) return { ok: false, error: `expected an integer, got ${v}` };
  }
  if (raw < -0x80000000 || raw > 0x7fffffff) return { ok: false, error: `${v} does not fit the board's 32-bit value` };
  if ((e.min !== 0 || e.max !== 0) && (raw < e.min || raw > e.max) && e.kind !== EntityKind.BOOL) {
    return { ok: false, error: `${v} is outside ${rawToValue(e, e.min)}..${rawToValue(e, e.max)}${e.unit ? ' ' + e.unit : ''}` };
  }
  return { ok: true, raw };
}

/** What changed between two schemas, by key (a firmware update). Empty when nothing did. */
export function diffSchema(before: Entity[], after: Entity[]): string[] {
  const out: string[] = [];
  const old = new Map(before.map((e) => [e.key, e]));
  const now = new Map(after.map((e) => [e.key, e]));
  for (const e of after) {
    const o = old.get(e.key);
    if (!o) out.push(`added ${e.key} (${e.name})`);
    else {
      const changed = (['name', 'unit', 'kind', 'decimals', 'min', 'max', 'writable'] as const).filter((k) => o[k] !== e[k]);
      if (changed.length) out.push(`changed ${e.key} (${changed.map((k) => `${k} ${JSON.stringify(o[k])} → ${JSON.stringify(e[k])}`).join(', ')})`);
    }
  }
  for (const e of before) if (!now.has(e.key)) out.push(`removed ${e.key} (${e.name})`);
  return out;
}
