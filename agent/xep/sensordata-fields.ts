// XEP-0323 field payloads: a driver Reading <-> `<fields xmlns='urn:xmpp:iot:sensordata'>`.
// This is the payload of every PubSub item the agent publishes (one item = one Reading, i.e.
// the fields of one thing sampled together) and of readout answers. Pure functions only.
//
// Choices, each checked against the XEP-0323 schema (section 'Schema'):
// - Field element names follow the schema's choice list: boolean, date, dateTime, duration,
//   enum, int, long, numeric, string, time. A driver `int` beyond xs:int's 32 bits is sent as
//   `long`; an enum carries the required `dataType` (we use `xiota.<thing>.<field>`).
// - `numeric` requires `unit`; a field without one gets `unit=''` so strict parsers accept it.
// - QoS (XEP-0323 'Field Quality of Service Values'): a good value is
//   `momentary='true' automaticReadout='true'` in readout answers; PubSub items (compact) carry
//   neither (both optional in the schema): a node's items hold nothing but momentary automatic
//   samples, and a subscriber needs name, value, unit and timestamp. A field whose sensor failed
//   (FieldValue.error) is sent as `momentary='true' missing='true' error='true'` (compact:
//   `missing='true' error='true'`) WITHOUT a value attribute: the
//   schema marks `value` required, but inventing one (0, false, '') would show a fake reading
//   to any client that ignores QoS flags, which is worse than a relaxed attribute. The error
//   text travels in a sibling `<error nodeId= timestamp= field=>text</error>` after the node,
//   modelled on the schema's `failure/error` element (nodeId and timestamp required) plus a
//   `field` attribute; schema-strict readers skip the unknown child.
// - The parser is liberal (RFC 1122 robustness): `identity` and `identification` both read,
//   XEP-0323 example 5 uses the latter; `timeSpan` (slixmpp's early-draft name) reads like
//   `duration`; a missing timestamp zone is read as UTC.
import { Element, x } from '../xml/element';
import type { FieldSpec, FieldValue, Reading, ThingSpec, Value } from '../../drivers/types';

export const NS_SENSORDATA = 'urn:xmpp:iot:sensordata';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** Formats a number for an xs:double attribute: fixed decimals when given, else no float noise. */
export function formatNumber(v: number, precision?: number): string {
  // XML Schema Part 2 3.2.5: xs:double spells the specials NaN, INF, -INF.
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'INF';
  if (v === -Infinity) return '-INF';
  let s: string;
  if (precision !== undefined && Number.isInteger(precision) && precision >= 0 && precision <= 20) {
    s = v.toFixed(precision);
  } else {
    // 15 significant digits are exact for any double that came from a decimal of <= 15
    // digits, so 21.499999999999996 becomes 21.5 while 1/3 keeps its digits.
    s = String(Number(v.toPrecision(15)));
  }
  // toFixed(-0.04, 1) gives "-0.0": a sign on zero only confuses readers.
  if (/^-0(\.0*)?$/.test(s)) s = s.slice(1);
  return s;
}

/** ISO 8601 UTC with ms (XEP-0323 timestamps); epoch 0 for a garbage time. */
export function isoUtc(ms: number): string {
  const d = new Date(ms);
  // A reading with a garbage timestamp must not throw while building a stanza.
  return Number.isFinite(d.getTime()) ? d.toISOString() : new Date(0).toISOString();
}

interface Encoded { element: string; value: string; extra?: Record<string, string> }

function encodeValue(spec: FieldSpec | undefined, value: Value, thingId: string, fieldName: string): Encoded {
  const type = spec?.type ?? (typeof value === 'boolean' ? 'boolean' : typeof value === 'number' ? 'numeric' : 'string');
  switch (type) {
    case 'boolean':
      return { element: 'boolean', value: value === true || value === 'true' || value === 1 ? 'true' : 'false' };
    case 'int': {
      const n = typeof value === 'number' ? Math.trunc(value) : Number.parseInt(String(value), 10);
      if (!Number.isFinite(n)) return { element: 'string', value: String(value) };
      return { element: n < INT32_MIN || n > INT32_MAX ? 'long' : 'int', value: String(n) };
    }
    case 'numeric': {
      const n = typeof value === 'number' ? value : Number(value);
      if (typeof value !== 'number' && !Number.isFinite(n)) return { element: 'string', value: String(value) };
      return { element: 'numeric', value: formatNumber(n, spec?.precision), extra: { unit: spec?.unit ?? '' } };
    }
    case 'enum':
      return { element: 'enum', value: String(value), extra: { dataType: `xiota.${thingId}.${fieldName}` } };
    default:
      return { element: 'string', value: String(value) };
  }
}

function fieldElementName(spec: FieldSpec | undefined): string {
  switch (spec?.type) {
    case 'boolean': return 'boolean';
    case 'int': return 'int';
    case 'enum': return 'enum';
    case 'string': return 'string';
    default: return 'numeric';
  }
}

/**
 * Builds `<fields xmlns='urn:xmpp:iot:sensordata' seqnr?><node nodeId><timestamp value>...`.
 * Fields keep the reading's order; values for fields the thing does not declare are still
 * sent, typed from their JS type, so a driver bug shows up at the subscriber rather than vanishing.
 */
export function readingToFields(reading: Reading, thing: ThingSpec, opts: { nodeId?: string; seqnr?: string; compact?: boolean } = {}): Element {
  const nodeId = opts.nodeId ?? thing.id;
  const stamp = isoUtc(reading.timestamp);
  const specs = new Map(thing.fields.map((f) => [f.name, f]));
  const ts = x('timestamp', { value: stamp });
  const errors: Element[] = [];
  for (const fv of reading.values) {
    const spec = specs.get(fv.field);
    const writable: Record<string, string> = spec?.writable ? { writable: 'true' } : {};
    if (fv.error !== undefined || fv.value === undefined) {
      const attrs: Record<string, string> = { name: fv.field, ...(opts.compact ? {} : { momentary: 'true' }), missing: 'true', error: 'true', ...writable };
      if ((spec?.type ?? 'numeric') === 'numeric' && spec) attrs.unit = spec.unit ?? '';
      if (spec?.type === 'enum') attrs.dataType = `xiota.${thing.id}.${fv.field}`;
      ts.append(x(fieldElementName(spec), attrs));
      errors.push(x('error', { nodeId, timestamp: stamp, field: fv.field }, fv.error ?? 'no value'));
      continue;
    }
    const enc = encodeValue(spec, fv.value, thing.id, fv.field);
    // compact (PubSub items, which only ever hold momentary automatic samples): without the
    // field-type and QoS flags (momentary, automaticReadout: 41 bytes a field on every item; both
    // optional in the schema); readout answers, where a client asked for field types, keep them.
    const kind: Record<string, string> = opts.compact ? {} : { momentary: 'true', automaticReadout: 'true' };
    ts.append(x(enc.element, { name: fv.field, ...kind, value: enc.value, ...enc.extra, ...writable }));
  }
  const fields = x('fields', { xmlns: NS_SENSORDATA, ...(opts.seqnr !== undefined ? { seqnr: opts.seqnr } : {}) },
    x('node', { nodeId }, ts));
  for (const e of errors) fields.append(e);
  return fields;
}

/** One parsed field, with the flags and unit a watcher may want to show. */
export interface ParsedField extends FieldValue {
  type: string;
  unit?: string;
  flags: string[];
}

const FIELD_TYPES = new Set(['numeric', 'boolean', 'string', 'int', 'long', 'date', 'time', 'dateTime', 'duration', 'timeSpan', 'enum']);
const QOS_AND_KIND = ['momentary', 'peak', 'status', 'computed', 'identity', 'identification', 'historicalSecond',
  'historicalMinute', 'historicalHour', 'historicalDay', 'historicalWeek', 'historicalMonth', 'historicalQuarter',
  'historicalYear', 'historicalOther', 'missing', 'inProgress', 'automaticEstimate', 'manualEstimate', 'manualReadout',
  'automaticReadout', 'timeOffset', 'warning', 'error', 'signed', 'invoiced', 'endOfSeries', 'powerFailure',
  'invoiceConfirmed', 'writable'];

function isTrue(v: string | undefined): boolean {
  return v === 'true' || v === '1';
}

/** Parses an ISO-8601 timestamp; a stamp without a zone (XEP-0323's own examples) is UTC. */
export function parseTimestamp(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const hasZone = /(Z|[+-]\d\d:?\d\d)$/i.test(s.trim());
  const ms = Date.parse(hasZone ? s.trim() : s.trim() + 'Z');
  return Number.isFinite(ms) ? ms : undefined;
}

function parseValue(type: string, raw: string): Value {
  switch (type) {
    case 'numeric': {
      if (raw === 'INF') return Infinity;
      if (raw === '-INF') return -Infinity;
      return Number(raw);
    }
    case 'int':
    case 'long': {
      const n = Number(raw);
      return Number.isFinite(n) ? n : raw;
    }
    case 'boolean':
      return isTrue(raw.trim());
    default:
      return raw;
  }
}

/** Parses one `<fields>` element into the fields of every node/timestamp, with units and flags. */
export function parseFields(el: Element): { thing: string; timestamp: number; fields: ParsedField[] }[] {
  const out: { thing: string; timestamp: number; fields: ParsedField[] }[] = [];
  // `<error field=...>` siblings carry the text of fields flagged missing/error.
  const errText = new Map<string, string>();
  for (const e of el.getChildren('error')) {
    errText.set(`${e.attrs.nodeId ?? ''}\u0000${e.attrs.field ?? ''}`, e.text());
  }
  for (const node of el.getChildren('node')) {
    const thing = node.attrs.nodeId ?? '';
    for (const ts of node.getChildren('timestamp')) {
      const timestamp = parseTimestamp(ts.attrs.value) ?? 0;
      const fields: ParsedField[] = [];
      for (const f of ts.elements) {
        if (!FIELD_TYPES.has(f.name) || f.attrs.name === undefined) continue;
        const type = f.name === 'timeSpan' ? 'duration' : f.name;
        const flags = QOS_AND_KIND.filter((k) => isTrue(f.attrs[k])).map((k) => (k === 'identification' ? 'identity' : k));
        const pf: ParsedField = { field: f.attrs.name, type, flags };
        if (f.attrs.unit !== undefined && f.attrs.unit !== '') pf.unit = f.attrs.unit;
        const missing = flags.includes('missing') || f.attrs.value === undefined;
        if (missing) {
          pf.error = errText.get(`${thing}\u0000${f.attrs.name}`) ?? (flags.includes('error') ? 'error' : 'missing');
        } else {
          pf.value = parseValue(type, f.attrs.value!);
        }
        fields.push(pf);
      }
      out.push({ thing, timestamp, fields });
    }
  }
  return out;
}

/** The reverse of readingToFields: one Reading per node/timestamp pair. */
export function fieldsToReadings(el: Element): Reading[] {
  return parseFields(el).map((p) => ({
    thing: p.thing,
    timestamp: p.timestamp,
    values: p.fields.map((f): FieldValue => (f.error !== undefined ? { field: f.field, error: f.error } : { field: f.field, value: f.value! })),
  }));
}

/** The first `<timestamp value>` of a serialized payload readingToFields made (ms), or undefined. */
export function payloadTimestamp(payload: string): number | undefined {
  const m = /<timestamp value="([^"]+)"/.exec(payload);
  return m ? parseTimestamp(m[1]) : undefined;
}

const FIELDS_OPEN = `<fields xmlns="${NS_SENSORDATA}">`;
const FIELDS_CLOSE = '</fields>';
const NODE_OPEN = /^<node nodeId="([^"]*)">/;

/**
 * Several readings of one thing as ONE `<fields>` payload: XEP-0323 lets a `<node>` hold one
 * `<timestamp>` per sample time, so waiting readings share an item (and its stanza, ids and
 * TLS record) while a subscriber still sees each reading with its own time. Works on the
 * serialized payloads readingToFields made (the outbox stores those); readings of different
 * nodes go as sibling `<node>` elements, which XEP-0323 allows as well. Undefined when a
 * payload has another shape (the caller then publishes them one by one).
 */
export function mergeFieldsPayloads(payloads: string[]): string | undefined {
  if (payloads.length === 1) return payloads[0]!;
  const inner = payloads.map((p) => (p.startsWith(FIELDS_OPEN) && p.endsWith(FIELDS_CLOSE) ? p.slice(FIELDS_OPEN.length, -FIELDS_CLOSE.length) : undefined));
  const parts = inner.map((i) => {
    if (i === undefined) return undefined;
    const m = NODE_OPEN.exec(i);
    const end = i.indexOf('</node>');
    if (!m || end < 0) return undefined;
    return { nodeId: m[1]!, stamps: i.slice(m[0].length, end), tail: i.slice(end + '</node>'.length) };
  });
  const first = parts[0];
  if (first && parts.every((p) => p !== undefined && p.nodeId === first.nodeId)) {
    const ps = parts as { nodeId: string; stamps: string; tail: string }[];
    return `${FIELDS_OPEN}<node nodeId="${first.nodeId}">${ps.map((p) => p.stamps).join('')}</node>${ps.map((p) => p.tail).join('')}${FIELDS_CLOSE}`;
  }
  if (parts.some((p) => p === undefined)) return undefined;
  return FIELDS_OPEN + inner.join('') + FIELDS_CLOSE;
}
