// Pure mappings between Node-RED messages and the agent's readings and sets: what each node
// sends and accepts, testable without Node-RED or an agent. Conventions (README, help text):
// topic = field, payload = value, protocol details under msg.xiota; a node's config field wins
// over the message when it is set, a blank one reads the message.
import type { FieldSpec, FieldType, ItemNote, Reading, ThingSpec, Value } from './protocol';

export type OutputMode = 'field' | 'reading';

export interface XiotaDetails {
  thing?: string;
  field?: string;
  timestamp?: number;
  unit?: string;
  jid?: string;
  node?: string;
  item?: string;
  values?: Reading['values'];
  readings?: Reading[];
  from?: string;
  [key: string]: unknown;
}

export interface OutMessage {
  topic: string;
  payload: unknown;
  xiota: XiotaDetails;
  [key: string]: unknown;
}

export interface Mapped {
  messages: OutMessage[];
  /** Fields that reported an error instead of a value (`field: error`). */
  errors: string[];
}

/**
 * One reading to messages: `field` mode sends one message per field (topic = field, payload =
 * value), `reading` mode one message for the whole reading (topic = thing, payload = {field:
 * value}). Fields with an error are left out of the payload and listed in `errors`.
 */
export function readingToMessages(r: Reading, mode: OutputMode, extra: XiotaDetails = {}, onlyField?: string): Mapped {
  const values = onlyField ? r.values.filter((v) => v.field === onlyField) : r.values;
  const errors = values.filter((v) => v.error !== undefined || v.value === undefined).map((v) => `${v.field}: ${v.error ?? 'no value'}`);
  const ok = values.filter((v) => v.error === undefined && v.value !== undefined);
  const base = { ...(r.jid ? { jid: r.jid } : {}), ...extra, thing: r.thing, timestamp: r.timestamp };
  if (mode === 'reading') {
    if (!ok.length) return { messages: [], errors };
    const payload: Record<string, Value> = {};
    for (const v of ok) payload[v.field] = v.value!;
    return { messages: [{ topic: r.thing, payload, xiota: { ...base, values: values } }], errors };
  }
  const messages = ok.map((v) => ({ topic: v.field, payload: v.value, xiota: { ...base, field: v.field, ...(v.unit ? { unit: v.unit } : {}) } }));
  return { messages, errors };
}

/** A PubSub item of any JID: its XEP-0323 readings when it carries them, else the raw XML. */
export function itemToMessages(n: ItemNote, mode: OutputMode, onlyField?: string): Mapped {
  const extra = { jid: n.jid, node: n.node, item: n.id };
  if (n.readings?.length) {
    const all: Mapped = { messages: [], errors: [] };
    for (const r of n.readings) {
      const m = readingToMessages(r, mode, extra, onlyField);
      all.messages.push(...m.messages);
      all.errors.push(...m.errors);
    }
    return all;
  }
  return { messages: [{ topic: n.node, payload: n.xml, xiota: { ...extra, ...(n.timestamp ? { timestamp: n.timestamp } : {}) } }], errors: [] };
}

/**
 * A readout's payload: `{field: value}` when every reading is of one thing, else
 * `{thing: {field: value}}`. Later readings of a field overwrite earlier ones.
 */
export function readoutPayload(readings: Reading[]): Record<string, unknown> {
  const things = new Set(readings.map((r) => r.thing));
  const byThing: Record<string, Record<string, Value>> = {};
  for (const r of readings) {
    const t = (byThing[r.thing] ??= {});
    for (const v of r.values) if (v.error === undefined && v.value !== undefined) t[v.field] = v.value;
  }
  return things.size === 1 ? byThing[[...things][0]!]! : byThing;
}

/** Config wins where set; a blank config field reads the message's value (when it is a non-empty string). */
export function pick(config: string | undefined, fromMsg: unknown): string | undefined {
  if (typeof config === 'string' && config.trim() !== '') return config.trim();
  if (typeof fromMsg === 'string' && fromMsg.trim() !== '') return fromMsg.trim();
  return undefined;
}

/** "a, b ,c" -> ["a","b","c"]; blank -> []. */
export function parseList(s: string | undefined): string[] {
  return (s ?? '').split(',').map((p) => p.trim()).filter(Boolean);
}

const TRUE = new Set(['true', 'on', '1', 'yes']);
const FALSE = new Set(['false', 'off', '0', 'no']);

/** A message value as a field's type, or a sentence saying what was wrong. */
export function coerceValue(raw: unknown, f: FieldSpec): { value: Value } | { error: string } {
  const bad = (want: string) => ({ error: `${f.name}: ${describe(raw)} is not ${want}` });
  switch (f.type) {
    case 'numeric':
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(n)) return bad(f.type === 'int' ? 'an integer' : 'a number');
      if (f.type === 'int' && !Number.isInteger(n)) return bad('an integer');
      return { value: n };
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return { value: raw };
      const s = String(raw).trim().toLowerCase();
      if ((typeof raw === 'string' || typeof raw === 'number') && TRUE.has(s)) return { value: true };
      if ((typeof raw === 'string' || typeof raw === 'number') && FALSE.has(s)) return { value: false };
      return bad('a boolean (true/false, on/off, 1/0)');
    }
    case 'enum': {
      const s = typeof raw === 'string' ? raw : typeof raw === 'number' ? String(raw) : undefined;
      if (s === undefined || !(f.values ?? []).includes(s)) return bad(`one of ${(f.values ?? []).join(', ')}`);
      return { value: s };
    }
    case 'string':
      if (typeof raw === 'string') return { value: raw };
      if (typeof raw === 'number' || typeof raw === 'boolean') return { value: String(raw) };
      return bad('a string');
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'no value (msg.payload is missing)';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (typeof v === 'object') return v === null ? 'null' : Array.isArray(v) ? 'an array' : 'an object';
  return String(v);
}

/**
 * A message for a flow-defined thing to the values of one reading: `payload` an object of
 * declared fields, or a single value with `topic` naming the field (or the thing's only field).
 */
export function messageToValues(payload: unknown, topic: unknown, spec: ThingSpec): { values: Record<string, Value> } | { error: string } {
  const fields = new Map(spec.fields.map((f) => [f.name, f]));
  const out: Record<string, Value> = {};
  if (typeof payload === 'object' && payload !== null && !Array.isArray(payload)) {
    const entries = Object.entries(payload as Record<string, unknown>);
    if (!entries.length) return { error: `msg.payload is an empty object: give values of ${[...fields.keys()].join(', ')}` };
    for (const [k, v] of entries) {
      const f = fields.get(k);
      if (!f) return { error: `thing ${spec.id} has no field ${JSON.stringify(k)}: declared are ${[...fields.keys()].join(', ')}` };
      const c = coerceValue(v, f);
      if ('error' in c) return c;
      out[k] = c.value;
    }
    return { values: out };
  }
  const name = typeof topic === 'string' && topic.trim() ? topic.trim() : spec.fields.length === 1 ? spec.fields[0]!.name : undefined;
  if (!name) return { error: `set msg.topic to the field (${[...fields.keys()].join(', ')}), or send msg.payload as {field: value}` };
  const f = fields.get(name);
  if (!f) return { error: `thing ${spec.id} has no field ${JSON.stringify(name)} (msg.topic): declared are ${[...fields.keys()].join(', ')}` };
  const c = coerceValue(payload, f);
  if ('error' in c) return c;
  out[name] = c.value;
  return { values: out };
}

/** msg.payload as a value the agent can set: JSON scalars only. */
export function payloadValue(p: unknown): { value: Value } | { error: string } {
  if (typeof p === 'number' && Number.isFinite(p)) return { value: p };
  if (typeof p === 'boolean' || typeof p === 'string') return { value: p };
  return { error: `msg.payload must be a number, boolean or string to set a field, not ${describe(p)}` };
}

export const FIELD_TYPES: readonly FieldType[] = ['numeric', 'int', 'boolean', 'string', 'enum'];
/** The agent's rules (drivers/api.ts checkThingSpec): a thing id becomes a PubSub node suffix and a chat word. */
export const THING_ID_RE = /^(?=.{1,64}$)[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const FIELD_NAME_RE = /^(?=.{1,64}$)[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** The field rows of a xiota-thing node's config as FieldSpecs, or what is wrong with them. */
export function fieldsFromConfig(rows: unknown): { fields: FieldSpec[] } | { error: string } {
  if (!Array.isArray(rows) || !rows.length) return { error: 'declare at least one field in the node' };
  const fields: FieldSpec[] = [];
  const seen = new Set<string>();
  for (const [i, r] of rows.entries()) {
    const row = (r ?? {}) as Record<string, unknown>;
    const name = typeof row.name === 'string' ? row.name.trim() : '';
    if (!FIELD_NAME_RE.test(name)) return { error: `field ${i + 1}: name ${JSON.stringify(row.name ?? '')} must be letters, digits, _ or - (starting with a letter or digit, at most 64)` };
    if (seen.has(name)) return { error: `field ${name} is declared twice` };
    seen.add(name);
    const type = row.type as FieldType;
    if (!FIELD_TYPES.includes(type)) return { error: `field ${name}: type ${JSON.stringify(row.type)} is not one of ${FIELD_TYPES.join(', ')}` };
    const f: FieldSpec = { name, type };
    if (typeof row.unit === 'string' && row.unit.trim()) f.unit = row.unit.trim();
    if (row.writable === true || row.writable === 'true') f.writable = true;
    if (type === 'enum') {
      const values = Array.isArray(row.values) ? row.values.map(String) : parseList(typeof row.values === 'string' ? row.values : '');
      if (!values.length) return { error: `field ${name}: an enum needs its values (comma separated)` };
      f.values = values;
    }
    for (const k of ['min', 'max', 'precision'] as const) {
      const v = row[k];
      if (v === undefined || v === null || v === '') continue;
      const n = Number(v);
      if (!Number.isFinite(n)) return { error: `field ${name}: ${k} ${JSON.stringify(v)} is not a number` };
      f[k] = n;
    }
    if (f.min !== undefined && f.max !== undefined && f.min > f.max) return { error: `field ${name}: min ${f.min} is above max ${f.max}` };
    fields.push(f);
  }
  return { fields };
}

/** A value for a node's status line: under 20 characters (nodered.org/docs/creating-nodes/status). */
export function statusValue(v: unknown, unit?: string): string {
  let s = typeof v === 'number' ? String(Math.round(v * 1000) / 1000) : typeof v === 'string' ? v : typeof v === 'boolean' ? String(v) : v === undefined ? '' : JSON.stringify(v);
  if (unit) s += ` ${unit}`;
  return short(s);
}

/** Any text cut to 19 characters with an ellipsis. */
export function short(s: string, max = 19): string {
  return s.length <= max ? s : s.slice(0, max - 1) + '…';
}
