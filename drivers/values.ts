// Values at the edge: drivers parse external text (sysfs files, serial lines, MQTT payloads)
// into typed field values here, and the DriverHost checks every reading against the declared
// FieldSpec with the same rules. Pure functions, no I/O.
import type { FieldSpec, Value } from './types';

export type Checked = { ok: true; value: Value } | { ok: false; error: string };

const MAX_STRING = 1024;

/** Round to `precision` decimals; leaves the number alone when precision is absent. */
export function roundTo(n: number, precision?: number): number {
  if (precision === undefined || !Number.isInteger(precision) || precision < 0 || precision > 15) return n;
  const f = 10 ** precision;
  const r = Math.round(n * f) / f;
  return Object.is(r, -0) ? 0 : r;
}

/** Strict check of a value a driver produced against its field spec (no coercion). */
export function checkValue(value: unknown, spec: FieldSpec): Checked {
  // The value is described only when refused: every reading of every field passes here.
  switch (spec.type) {
    case 'numeric':
      if (typeof value !== 'number') return { ok: false, error: `expected a number, got ${describe(value)}` };
      if (!Number.isFinite(value)) return { ok: false, error: `expected a finite number, got ${describe(value)}` };
      return { ok: true, value: roundTo(value, spec.precision) };
    case 'int':
      if (typeof value !== 'number' || !Number.isFinite(value)) return { ok: false, error: `expected an integer, got ${describe(value)}` };
      if (!Number.isSafeInteger(value)) return { ok: false, error: `expected an integer, got ${describe(value)}` };
      return { ok: true, value };
    case 'boolean':
      if (typeof value !== 'boolean') return { ok: false, error: `expected a boolean, got ${describe(value)}` };
      return { ok: true, value };
    case 'enum':
      if (typeof value !== 'string') return { ok: false, error: `expected one of ${listValues(spec)}, got ${describe(value)}` };
      if (spec.values && !spec.values.includes(value)) return { ok: false, error: `expected one of ${listValues(spec)}, got ${describe(value)}` };
      return { ok: true, value };
    case 'string':
      if (typeof value !== 'string') return { ok: false, error: `expected a string, got ${describe(value)}` };
      if (value.length > MAX_STRING) return { ok: false, error: `string longer than ${MAX_STRING} characters` };
      return { ok: true, value };
    default:
      return { ok: false, error: `unknown field type ${describe(spec.type)}` };
  }
}

/**
 * A set's value against the field's declared range (FieldSpec min/max, inclusive), after
 * checkValue. Only sets are checked: a reading beyond the range is still a reading.
 */
export function checkRange(value: Value, spec: FieldSpec): Checked {
  if (typeof value !== 'number' || (spec.min === undefined && spec.max === undefined)) return { ok: true, value };
  if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
    return { ok: false, error: `${value} is out of range: it takes ${rangeText(spec)}` };
  }
  return { ok: true, value };
}

/** "5 to 30", "at least 5", "at most 30" (with the unit when declared). */
export function rangeText(spec: Pick<FieldSpec, 'min' | 'max' | 'unit'>): string {
  const u = spec.unit ? ` ${spec.unit}` : '';
  if (spec.min !== undefined && spec.max !== undefined) return `${spec.min} to ${spec.max}${u}`;
  if (spec.min !== undefined) return `at least ${spec.min}${u}`;
  return spec.max !== undefined ? `at most ${spec.max}${u}` : 'any number';
}

const TRUE_WORDS = new Set(['true', 'on', 'yes', '1', 'open', 'high']);
const FALSE_WORDS = new Set(['false', 'off', 'no', '0', 'closed', 'low']);
const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Lenient conversion of parsed external data (a JSON value or a text token) to a field value:
 * "21.5" → 21.5, "ON" → true (Tasmota, zigbee2mqtt), 1 → true. Then the strict check applies.
 */
export function coerceValue(raw: unknown, spec: FieldSpec): Checked {
  let v: unknown = raw;
  if (typeof v === 'string') v = v.trim();
  switch (spec.type) {
    case 'numeric':
    case 'int':
      if (typeof v === 'string' && NUMBER_TEXT.test(v)) v = Number(v);
      else if (typeof v === 'boolean') v = v ? 1 : 0;
      if (spec.type === 'int' && typeof v === 'number' && Number.isFinite(v) && !Number.isInteger(v)) {
        return { ok: false, error: `expected an integer, got ${describe(raw)}` };
      }
      break;
    case 'boolean':
      if (typeof v === 'string' && TRUE_WORDS.has(v.toLowerCase())) v = true;
      else if (typeof v === 'string' && FALSE_WORDS.has(v.toLowerCase())) v = false;
      else if (v === 1 || v === 0) v = v === 1;
      break;
    case 'enum':
      if (typeof v === 'number' || typeof v === 'boolean') v = String(v);
      if (typeof v === 'string' && spec.values && !spec.values.includes(v)) {
        // Devices differ in case ("AUTO" vs "auto"): match case-insensitively.
        const hit = spec.values.find((x) => x.toLowerCase() === (v as string).toLowerCase());
        if (hit !== undefined) v = hit;
      }
      break;
    case 'string':
      if (typeof v === 'number' || typeof v === 'boolean') v = String(v);
      break;
  }
  const c = checkValue(v, spec);
  if (!c.ok && typeof raw === 'string') return { ok: false, error: c.error.replace(/got .*$/, `got ${describe(raw)}`) };
  return c;
}

/**
 * Dotted path lookup into parsed JSON: `StatusSNS.BME280.Temperature` (Tasmota),
 * `temperature` (zigbee2mqtt), `a.0.b` indexes arrays. An empty path is the value itself.
 */
export function getPath(obj: unknown, path: string | undefined): unknown {
  if (path === undefined || path === '') return obj;
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(part)) return undefined;
      cur = cur[Number(part)];
    } else {
      if (!Object.prototype.hasOwnProperty.call(cur, part)) return undefined;
      cur = (cur as Record<string, unknown>)[part];
    }
  }
  return cur;
}

/** Short, safe description of a value for error messages (never dumps a whole payload). */
export function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(v);
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function listValues(spec: FieldSpec): string {
  return spec.values ? spec.values.map((s) => JSON.stringify(s)).join(', ') : 'a string';
}

/** Error text of an unknown thrown value. */
export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return describe(e);
}
