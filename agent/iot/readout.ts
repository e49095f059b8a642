// XEP-0323 readout, the pure half: a `<req>` -> a typed ReadoutRequest (or the StanzaError to
// answer with), and readings -> the `<fields>`/`<failure>`/`<done>` messages of the answer.
// agent/xep/sensordata.ts does the sampling, the timers and the sending.
//
// Liberal in what we accept (RFC 1122 1.2.2): `identification` reads as `identity` (XEP-0323
// example 5 vs the schema), a seqnr need not be an xs:int (slixmpp sends digits, others may
// not: we echo whatever token came), a timestamp without a zone is UTC, `req` arrives as iq
// get (the spec, slixmpp) or set. Compatible extras when answering, for slixmpp 1.8.3's
// xep_0323 client: the last `<fields>` carries done='true' (it ignores a separate `<done/>`,
// which we also send for spec readers), and a rejection carries
// `<rejected seqnr><error>text</error></rejected>` beside the iq's `<error/>`.
import { Element, x } from '../xml/element';
import { StanzaError, errorReply } from '../session/stanza';
import type { Reading, ThingSpec } from '../../drivers/types';
import { NS_SENSORDATA, parseTimestamp, readingToFields } from '../xep/sensordata-fields';

export { NS_SENSORDATA };

/** XEP-0323 'Field Types' (schema attribute group fieldTypes). */
export const FIELD_KINDS = ['momentary', 'peak', 'status', 'computed', 'identity', 'historicalSecond', 'historicalMinute',
  'historicalHour', 'historicalDay', 'historicalWeek', 'historicalMonth', 'historicalQuarter', 'historicalYear', 'historicalOther'] as const;
export type FieldKind = typeof FIELD_KINDS[number];
export const HISTORICAL_KINDS: readonly FieldKind[] = FIELD_KINDS.filter((k) => k.startsWith('historical'));

export interface ReadoutRequest {
  /** Echoed on every answer; unique per requester while the readout runs. */
  seqnr: string;
  /** The field types asked for; none given (or all='true') means every type. */
  kinds: Set<FieldKind>;
  /** Node (thing) ids asked for; empty means every thing. */
  nodes: string[];
  /** Field names asked for; empty means every field. */
  fields: string[];
  from?: number;
  to?: number;
  /** A scheduled readout (`when`), ms since the epoch. */
  when?: number;
}

export interface ReadoutLimits {
  /** Most `<node/>` and `<field/>` children a request may carry (each). */
  maxListed: number;
  /** Longest seqnr, node id or field name. */
  maxNameLength: number;
}

export const DEFAULT_READOUT_LIMITS: ReadoutLimits = { maxListed: 256, maxNameLength: 256 };

function isTrue(v: string | undefined): boolean {
  return v === 'true' || v === '1';
}

function isBool(v: string | undefined): boolean {
  return v === undefined || v === 'true' || v === 'false' || v === '1' || v === '0';
}

function bad(text: string): StanzaError {
  return new StanzaError('bad-request', text, { type: 'modify' });
}

/** XEP-0323 schema `req`: the typed request, or the bad-request to answer with. Pure. */
export function parseReq(req: Element, limits: ReadoutLimits = DEFAULT_READOUT_LIMITS): ReadoutRequest | StanzaError {
  const seqnr = req.attrs.seqnr?.trim();
  if (!seqnr) return bad('the req element needs a seqnr attribute (XEP-0323 schema): send <req seqnr=\'1\' momentary=\'true\'/>');
  if (seqnr.length > limits.maxNameLength) return bad(`seqnr is ${seqnr.length} characters long; use at most ${limits.maxNameLength}`);
  const kinds = new Set<FieldKind>();
  for (const k of FIELD_KINDS) {
    const v = req.attrs[k];
    if (!isBool(v)) return bad(`${k}='${v}' is not a boolean: use 'true' or 'false'`);
    if (isTrue(v)) kinds.add(k);
  }
  for (const a of ['all', 'historical', 'identification']) {
    if (!isBool(req.attrs[a])) return bad(`${a}='${req.attrs[a]}' is not a boolean: use 'true' or 'false'`);
  }
  if (isTrue(req.attrs.identification)) kinds.add('identity');
  if (isTrue(req.attrs.historical)) for (const k of HISTORICAL_KINDS) kinds.add(k);
  if (isTrue(req.attrs.all) || kinds.size === 0) for (const k of FIELD_KINDS) kinds.add(k);
  const out: ReadoutRequest = { seqnr, kinds, nodes: [], fields: [] };
  for (const a of ['from', 'to', 'when'] as const) {
    const raw = req.attrs[a];
    if (raw === undefined) continue;
    const ms = parseTimestamp(raw);
    if (ms === undefined) return bad(`${a}='${raw}' is not an xs:dateTime: write it like 2013-03-07T19:00:00Z`);
    out[a] = ms;
  }
  if (out.from !== undefined && out.to !== undefined && out.from > out.to) return bad('from is after to: swap them');
  const nodes = req.getChildren('node', NS_SENSORDATA);
  const fields = req.getChildren('field', NS_SENSORDATA);
  if (nodes.length > limits.maxListed) return bad(`the request lists ${nodes.length} nodes; ask for at most ${limits.maxListed} at a time`);
  if (fields.length > limits.maxListed) return bad(`the request lists ${fields.length} fields; ask for at most ${limits.maxListed} at a time (or none: every field)`);
  for (const n of nodes) {
    const id = n.attrs.nodeId;
    if (!id) return bad('a node element needs a nodeId attribute');
    if (id.length > limits.maxNameLength) return bad(`a nodeId is ${id.length} characters long; at most ${limits.maxNameLength}`);
    if (!out.nodes.includes(id)) out.nodes.push(id);
  }
  for (const f of fields) {
    const name = f.attrs.name;
    if (!name) return bad('a field element needs a name attribute');
    if (name.length > limits.maxNameLength) return bad(`a field name is ${name.length} characters long; at most ${limits.maxNameLength}`);
    if (!out.fields.includes(name)) out.fields.push(name);
  }
  return out;
}

/** The things a request selects, or item-not-found naming what does not exist. Pure. */
export function selectThings(r: ReadoutRequest, things: readonly ThingSpec[]): ThingSpec[] | StanzaError {
  const byId = new Map(things.map((t) => [t.id, t]));
  const unknown = r.nodes.filter((n) => !byId.has(n));
  if (unknown.length) {
    return new StanzaError('item-not-found', `no node ${unknown.map((u) => JSON.stringify(u)).join(', ')}: this device has ${things.map((t) => t.id).join(', ') || 'no things'}`);
  }
  const chosen = r.nodes.length ? r.nodes.map((n) => byId.get(n)!) : [...things];
  if (r.fields.length) {
    const known = new Set(chosen.flatMap((t) => t.fields.map((f) => f.name)));
    const missing = r.fields.filter((f) => !known.has(f));
    if (missing.length) {
      return new StanzaError('item-not-found', `no field ${missing.map((m) => JSON.stringify(m)).join(', ')} in ${r.nodes.length ? 'the nodes asked for' : 'any node'}: known fields are ${[...known].join(', ') || 'none'}`);
    }
  }
  return chosen;
}

/**
 * The iq error for a refused req: the RFC 6120 `<error/>` (XEP-0323 'Read-out rejected'), plus
 * slixmpp's early-draft `<rejected seqnr><error>text</error></rejected>` beside it.
 */
export function rejection(iq: Element, err: StanzaError, seqnr: string | undefined): Element {
  const reply = errorReply(iq, err);
  if (seqnr !== undefined) reply.append(x('rejected', { xmlns: NS_SENSORDATA, seqnr }, x('error', null, err.text ?? err.condition)));
  return reply;
}

/** What one thing gave for a readout: values sampled now, and values older than the request. */
export interface ThingReadout {
  thing: ThingSpec;
  /** Values sampled for this readout (momentary, automaticReadout). */
  fresh?: Reading;
  /** The last values known, for fields the fresh sample did not give in time: sent with their
   *  true timestamp and warning='true' (XEP-0323 'Field Quality of Service Values'). */
  stale?: Reading;
  /** Nothing at all could be read: the text goes into a `<failure>`. */
  failure?: string;
}

/** Most field elements in one `<fields>` message: a huge thing streams over several stanzas. */
export const MAX_FIELDS_PER_MESSAGE = 100;

function only(reading: Reading, names: ReadonlySet<string> | undefined): Reading {
  return names ? { ...reading, values: reading.values.filter((v) => names.has(v.field)) } : reading;
}

function chunks<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** One thing's reading as `<timestamp>` (and sibling `<error>`) elements; stale ones flagged. */
function timestampParts(reading: Reading, thing: ThingSpec, stale: boolean): { ts: Element[]; errors: Element[] } {
  const out = { ts: [] as Element[], errors: [] as Element[] };
  for (const part of chunks(reading.values, MAX_FIELDS_PER_MESSAGE)) {
    const f = readingToFields({ ...reading, values: part }, thing);
    const node = f.getChild('node')!;
    for (const ts of node.getChildren('timestamp')) {
      // XEP-0323 QoS: no flag says "cached"; the value is true at its own (older) timestamp and
      // warning='true' tells the reader the fresh sample failed.
      if (stale) for (const fe of ts.elements) if (fe.attrs.value !== undefined) fe.attrs.warning = 'true';
      out.ts.push(ts);
    }
    out.errors.push(...f.getChildren('error'));
  }
  return out;
}

/**
 * The messages' payloads that answer one readout, in order: `<fields>` (one per thing, more for
 * a thing with many fields), then a `<failure>` for things that could not be read, then
 * `<done>`. The last `<fields>` or the `<failure>` carries done='true' (the spec's examples and
 * slixmpp's end marker); `<done/>` follows for readers that wait for it. Pure.
 */
export function answerPayloads(seqnr: string, parts: readonly ThingReadout[], opts: { fields?: readonly string[]; momentary: boolean; now: number }): Element[] {
  const names = opts.fields && opts.fields.length ? new Set(opts.fields) : undefined;
  const fieldsMsgs: Element[] = [];
  const failures: Element[] = [];
  const stamp = new Date(opts.now).toISOString();
  for (const p of parts) {
    if (p.failure !== undefined && !p.fresh && !p.stale) {
      failures.push(x('error', { nodeId: p.thing.id, timestamp: stamp }, p.failure));
      continue;
    }
    if (!opts.momentary) continue; // the only field type the drivers give today
    const ts: Element[] = [];
    const errors: Element[] = [];
    for (const [r, stale] of [[p.fresh, false], [p.stale, true]] as const) {
      if (!r) continue;
      const sel = only(r, names);
      if (!sel.values.length) continue;
      const t = timestampParts(sel, p.thing, stale);
      ts.push(...t.ts);
      errors.push(...t.errors);
    }
    // Group timestamps into messages of at most MAX_FIELDS_PER_MESSAGE fields.
    let cur: Element[] = [];
    let count = 0;
    const flush = (withErrors: boolean) => {
      if (!cur.length) return;
      const msg = x('fields', { xmlns: NS_SENSORDATA, seqnr }, x('node', { nodeId: p.thing.id }, ...cur));
      if (withErrors) for (const e of errors) msg.append(e);
      fieldsMsgs.push(msg);
      cur = [];
      count = 0;
    };
    for (const t of ts) {
      const n = t.elements.length;
      if (count + n > MAX_FIELDS_PER_MESSAGE) flush(false);
      cur.push(t);
      count += n;
    }
    flush(true);
  }
  const out = [...fieldsMsgs];
  if (failures.length) out.push(x('failure', { xmlns: NS_SENSORDATA, seqnr, done: 'true' }, ...failures));
  else if (fieldsMsgs.length) fieldsMsgs[fieldsMsgs.length - 1]!.attrs.done = 'true';
  // Nothing to send (no field of the types asked for): the schema allows an empty <fields>, and
  // it is the only end marker slixmpp knows.
  else out.push(x('fields', { xmlns: NS_SENSORDATA, seqnr, done: 'true' }));
  out.push(x('done', { xmlns: NS_SENSORDATA, seqnr }));
  return out;
}

/** XEP-0323 schema `cancel`: its seqnr, or a bad-request. */
export function parseCancel(el: Element): string | StanzaError {
  const s = el.attrs.seqnr?.trim();
  return s ? s : bad('the cancel element needs the seqnr of the readout to cancel');
}
