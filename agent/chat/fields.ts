// Names and values typed in chat, checked against the device's things: `greenhouse.fan`,
// `fan`, `Greenhouse.Fan` -> one thing and field, or an error naming what exists; `on`,
// `21,5`, `auto` -> a typed value within the field's type, range and allowed values. Pure.
import type { FieldSpec, ThingSpec, Value } from '../../drivers/types';
import { coerceValue } from '../../drivers/values';
import { shown } from './parse';

/** A field as chat sees it: the driver's declaration (type, unit, writable, values, range). */
export type ChatField = FieldSpec;
export type ChatThing = ThingSpec;

export interface Target { thing: ChatThing; field?: ChatField }

const MAX_LISTED = 8;

function listNames(names: string[]): string {
  return names.length > MAX_LISTED ? `${names.slice(0, MAX_LISTED).join(', ')} and ${names.length - MAX_LISTED} more` : names.join(', ');
}

export function pathOf(t: ChatThing, f: ChatField): string {
  return `${t.id}.${f.name}`;
}

function find(things: readonly ChatThing[], text: string, same: (a: string, b: string) => boolean): Target[] {
  const exact = things.filter((t) => same(t.id, text));
  if (exact.length) return exact.map((thing) => ({ thing }));
  // thing.field: the longest thing id wins (thing ids may hold dots).
  const dotted: Target[] = [];
  for (const t of things) {
    if (text.length <= t.id.length + 1 || !same(text.slice(0, t.id.length), t.id) || text[t.id.length] !== '.') continue;
    const f = t.fields.find((ff) => same(ff.name, text.slice(t.id.length + 1)));
    if (f) dotted.push({ thing: t, field: f });
  }
  if (dotted.length) {
    const longest = Math.max(...dotted.map((d) => d.thing.id.length));
    return dotted.filter((d) => d.thing.id.length === longest);
  }
  // A bare field name, when it is one thing's only.
  return things.flatMap((t) => t.fields.filter((f) => same(f.name, text)).map((field) => ({ thing: t, field })));
}

/**
 * Resolves a typed name: exact first, then ignoring case (a phone capitalises words).
 * `needField`: a thing alone is an error (set, history).
 */
export function resolveTarget(things: readonly ChatThing[], text: string, needField = false): Target | string {
  let hits = find(things, text, (a, b) => a === b);
  if (!hits.length) hits = find(things, text, (a, b) => a.toLowerCase() === b.toLowerCase());
  if (hits.length > 1) {
    return `\`${shown(text)}\` is in ${listNames(hits.map((h) => h.thing.id))}: type one of ${listNames(hits.map((h) => (h.field ? pathOf(h.thing, h.field) : h.thing.id)))}`;
  }
  const hit = hits[0];
  if (!hit) {
    if (!things.length) return 'this device has no things yet (its drivers have not started)';
    return `no thing or field \`${shown(text)}\`; things here: ${listNames(things.map((t) => t.id))} (type \`read\` to see every field)`;
  }
  if (needField && !hit.field) {
    return `\`${hit.thing.id}\` is a thing: name one of its fields, e.g. ${listNames(hit.thing.fields.map((f) => pathOf(hit.thing, f)))}`;
  }
  return hit;
}

/** What a field takes, in words: "on or off", "a number in °C from 5 to 30". */
export function describeField(f: ChatField): string {
  switch (f.type) {
    case 'boolean': return 'on or off';
    case 'enum': return `one of ${(f.values ?? []).join(', ') || '(no values declared)'}`;
    case 'string': return 'text';
    default: {
      const kind = f.type === 'int' ? 'a whole number' : 'a number';
      const unit = f.unit ? ` in ${f.unit}` : '';
      const range = f.min !== undefined && f.max !== undefined ? ` from ${f.min} to ${f.max}`
        : f.min !== undefined ? ` of at least ${f.min}` : f.max !== undefined ? ` of at most ${f.max}` : '';
      return `${kind}${unit}${range}`;
    }
  }
}

export type SetValue = { ok: true; value: Value } | { ok: false; error: string };

/**
 * A typed value for a set: lenient on the words (on/off/yes/no, a decimal comma, a unit
 * typed after the number, enum case), strict on the result (type, range, allowed values).
 */
export function parseSetValue(thing: ChatThing, f: ChatField, text: string): SetValue {
  const path = pathOf(thing, f);
  if (!f.writable) {
    const writable = thing.fields.filter((x) => x.writable).map((x) => pathOf(thing, x));
    return { ok: false, error: `${path} is read-only${writable.length ? `; writable here: ${listNames(writable)}` : ''}` };
  }
  let raw = text.trim();
  if (f.type === 'numeric' || f.type === 'int') {
    // "21,5" (a European keypad) and "21.5 °C" / "21.5°C" (the unit typed along).
    if (f.unit && raw.toLowerCase().endsWith(f.unit.toLowerCase())) raw = raw.slice(0, raw.length - f.unit.length).trim();
    if (/^[+-]?\d+,\d+$/.test(raw)) raw = raw.replace(',', '.');
  }
  const c = coerceValue(raw, f);
  if (!c.ok) return { ok: false, error: `${path} takes ${describeField(f)}, not \`${shown(text)}\`: type \`set ${path} ${example(f)}\`` };
  if (typeof c.value === 'number' && ((f.min !== undefined && c.value < f.min) || (f.max !== undefined && c.value > f.max))) {
    return { ok: false, error: `${path} takes ${describeField(f)}; ${c.value} is out of range` };
  }
  return c;
}

function example(f: ChatField): string {
  switch (f.type) {
    case 'boolean': return 'on';
    case 'enum': return f.values?.[0] ?? 'VALUE';
    case 'string': return 'TEXT';
    default: return String(f.min !== undefined ? f.min : f.max !== undefined ? f.max : f.type === 'int' ? 1 : 1.5);
  }
}
