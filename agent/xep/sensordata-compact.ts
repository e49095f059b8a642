// The compact XEP-0323 payload of a PubSub item, built as text: the same bytes as
// `readingToFields(reading, thing, { compact: true }).toString()` (test/pubsub/sensordata-compact
// checks that on generated readings), without the element tree, the per-reading Map of field
// specs, the attribute objects and the Date formatting. Every reading a driver emits goes
// through here (pipeline accept), and in lite mode (the CLI's shebang) each object and call is
// interpreted, so the per-thing constant parts are made once:
//   - per field: `<numeric name="temperature" value="` and `" unit="°C"/>` (name and unit escaped once);
//   - per minute: the timestamp's `YYYY-MM-DDTHH:MM:` (XEP-0323 'timestamp' is xs:dateTime; ISO UTC with ms).
// Readings the fast path does not cover (a failed field, a field the thing does not declare, an
// enum, a numeric sent as text) take readingToFields itself, so both always agree.
import type { FieldSpec, Reading, ThingSpec } from '../../drivers/types';
import { escapeAttr } from '../xml/element';
import { formatNumber, isoUtc, NS_SENSORDATA, readingToFields } from './sensordata-fields';

const FIELDS_OPEN = `<fields xmlns="${NS_SENSORDATA}"><node nodeId="`;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
/** 10000-01-01T00:00:00Z: from there on toISOString() writes a 6-digit signed year. */
const YEAR_10000 = 253402300800000;

/** One declared field's constant text, and the spec values it was made from (checked on use). */
interface FieldPart {
  spec: FieldSpec;
  type: FieldSpec['type'];
  unit: string | undefined;
  precision: number | undefined;
  writable: boolean | undefined;
  /** ` name="..."` */
  nameAttr: string;
  /** After the value: `" unit="..."` for numeric, `"`, then ` writable="true"` when writable, `/>`. */
  tail: string;
}

interface ThingParts { length: number; byName: Map<string, FieldPart>; id?: string; nodeOpen?: string }

/** Per fields array of a ThingSpec (drivers give a new spec when a thing changes). */
const cache = new WeakMap<FieldSpec[], ThingParts>();

function makePart(spec: FieldSpec): FieldPart {
  const writable = spec.writable ? ' writable="true"' : '';
  // Attribute order as readingToFields writes them: name, value, unit (numeric), writable.
  const tail = spec.type === 'numeric' ? `" unit="${escapeAttr(spec.unit ?? '')}"${writable}/>` : `"${writable}/>`;
  return { spec, type: spec.type, unit: spec.unit, precision: spec.precision, writable: spec.writable, nameAttr: ` name="${escapeAttr(spec.name)}"`, tail };
}

function partsOf(fields: FieldSpec[]): ThingParts {
  let p = cache.get(fields);
  if (!p || p.length !== fields.length) {
    p = { length: fields.length, byName: new Map() };
    // The last of two same-named specs wins, as in readingToFields' Map.
    for (const f of fields) p.byName.set(f.name, makePart(f));
    cache.set(fields, p);
  }
  return p;
}

/** The part for `name`, or undefined when the thing does not declare it (or it changed in place: remade). */
function partFor(parts: ThingParts, fields: FieldSpec[], name: string): FieldPart | undefined {
  const part = parts.byName.get(name);
  if (!part) return undefined;
  const s = part.spec;
  if (s.name === name && s.type === part.type && s.unit === part.unit && s.precision === part.precision && s.writable === part.writable) return part;
  // A spec edited in place: forget this thing's parts and make them again.
  cache.delete(fields);
  return partsOf(fields).byName.get(name);
}

let minuteOf = NaN;
let minutePrefix = '';

/**
 * `new Date(ms).toISOString()` (isoUtc), the date and minute made once a minute.
 * `shortWhole`: a whole second without `.000` (history's rollups: 5 bytes a value less).
 */
export function isoStamp(ms: number, shortWhole = false): string {
  if (!(ms >= 0 && ms < YEAR_10000)) {
    const iso = isoUtc(ms);
    return shortWhole && iso.endsWith('.000Z') ? iso.slice(0, -5) + 'Z' : iso;
  }
  const t = Math.floor(ms); // Date's TimeClip truncates; the same for ms >= 0
  const m = Math.floor(t / 60000);
  if (m !== minuteOf) {
    minutePrefix = new Date(m * 60000).toISOString().slice(0, 17);
    minuteOf = m;
  }
  const r = t - m * 60000;
  const s = Math.floor(r / 1000);
  const f = r - s * 1000;
  if (shortWhole && f === 0) return minutePrefix + (s < 10 ? '0' : '') + s + 'Z';
  return minutePrefix + (s < 10 ? '0' : '') + s + (f < 10 ? '.00' : f < 100 ? '.0' : '.') + f + 'Z';
}

/** The value text of a field the fast path covers, or undefined (then readingToFields decides). */
function valueText(part: FieldPart, value: unknown): string | undefined {
  switch (part.type) {
    case 'numeric':
      return typeof value === 'number' ? formatNumber(value, part.precision) : undefined;
    case 'boolean':
      return value === true || value === 'true' || value === 1 ? 'true' : 'false';
    case 'string':
      return escapeAttr(String(value));
    default:
      return undefined;
  }
}

/** What the text path does not cover (an error, an unknown field, an unusual value) goes the general way. */
function general(reading: Reading, thing: ThingSpec): string {
  return readingToFields(reading, thing, { compact: true }).toString();
}

/**
 * `readingToFields(reading, thing, { compact: true }).toString()`, built as text. XEP-0323
 * 'Schema': `<fields xmlns><node nodeId><timestamp value>` then one element per field.
 */
export function compactFieldsXml(reading: Reading, thing: ThingSpec): string {
  const values = reading.values;
  if (values.length === 0) return general(reading, thing);
  const parts = partsOf(thing.fields);
  let body = '';
  for (let i = 0; i < values.length; i++) {
    const fv = values[i]!;
    if (fv.error !== undefined || fv.value === undefined) return general(reading, thing);
    const part = partFor(parts, thing.fields, fv.field);
    if (!part) return general(reading, thing);
    let el: string;
    let v: string | undefined;
    if (part.type === 'int') {
      // int beyond xs:int's 32 bits goes as long (see readingToFields).
      if (typeof fv.value !== 'number') return general(reading, thing);
      const n = Math.trunc(fv.value);
      if (!Number.isFinite(n)) return general(reading, thing);
      el = n < INT32_MIN || n > INT32_MAX ? '<long' : '<int';
      v = String(n);
    } else {
      v = valueText(part, fv.value);
      if (v === undefined) return general(reading, thing);
      el = part.type === 'numeric' ? '<numeric' : part.type === 'boolean' ? '<boolean' : '<string';
    }
    body += el + part.nameAttr + ' value="' + v + part.tail;
  }
  if (parts.id !== thing.id) {
    parts.id = thing.id;
    parts.nodeOpen = FIELDS_OPEN + escapeAttr(thing.id) + '"><timestamp value="';
  }
  return parts.nodeOpen + isoStamp(reading.timestamp) + '">' + body + '</timestamp></node></fields>';
}
