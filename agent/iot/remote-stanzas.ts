// The client side of the IoT XEPs, the pure half: what the agent sends to read (XEP-0323) and
// set (XEP-0325) another thing, and what it makes of the answers; the typed errors callers get.
// agent/iot/remote.ts keeps the pending requests, the timers and the PubSub watches.
//
// Liberal in what we accept (RFC 1122 1.2.2), as the thing side is: a readout ends on `<done/>`,
// on `<fields done='true'>` (slixmpp 1.8.3's device never sends `<done/>`) or on
// `<failure done='true'>`; a refusal is an RFC 6120 `<error/>` or slixmpp's draft
// `<rejected seqnr><error>text</error></rejected>` (which it sends without any `<error/>`);
// a refused set carries `<paramError/>`s (XEP-0325 'Control failure response') or slixmpp's
// `<setResponse responseCode='NotFound'><error var>text</error></setResponse>`.
// Field payloads are read by agent/xep/sensordata-fields.ts, the parser the thing side uses.
import type { Reading, Value } from '../../drivers/types';
import { XiotaError } from '../errors';
import { NS_STANZAS, StanzaError } from '../session/stanza';
import { Element, x } from '../xml/element';
import { formatNumber } from '../xep/sensordata-fields';
import { parseFields, parseTimestamp, type ParsedField } from '../xep/sensordata-fields';
import { NS_CONTROL, PARAM_TYPES, parseParamValue, type ParamError, type ParamType } from './control-params';
import { FIELD_KINDS, NS_SENSORDATA } from './readout';

export { NS_CONTROL, NS_SENSORDATA };

/** A node behind a concentrator (XEP-0323 and XEP-0325 `<node nodeId sourceId cacheType/>`). */
export interface RemoteNode { nodeId: string; sourceId?: string; cacheType?: string }

/** A reading from another thing: the XEP-0323 fields with their type, unit and flags. */
export interface RemoteReading extends Reading {
  /** Who answered (the thing's JID, or the PubSub service / PEP account of an item). */
  jid: string;
  /** The XEP-0323 nodeId the values belong to, when the answer named one. */
  node?: string;
  values: ParsedField[];
  /** The thing reported a `<failure>` for this node (values is then empty). */
  error?: string;
}

/** Field types a readout may ask for: XEP-0323 'Field Types', plus `all` and `historical`. */
export const READ_TYPES: readonly string[] = [...FIELD_KINDS, 'all', 'historical'];

export interface ReadoutQuery {
  nodes?: RemoteNode[];
  fields?: string[];
  types?: string[];
  from?: number;
  to?: number;
}

function invalid(field: string, message: string): XiotaError {
  return new XiotaError('XIOTA_E_INVALID', message, { field });
}

function listOf<T>(v: readonly T[] | undefined, field: string, example: string): readonly T[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid(field, `${field} must be a list, like ${example}`);
  return v;
}

function nodeElements(nodes: readonly RemoteNode[] | undefined, field: string): Element[] {
  return listOf(nodes, field, '[{"nodeId": "greenhouse"}]').map((n, i) => {
    if (!n || typeof n.nodeId !== 'string' || !n.nodeId) throw invalid(field, `${field}[${i}] needs a nodeId (a non-empty string), like {"nodeId": "greenhouse"}`);
    return x('node', { nodeId: n.nodeId, sourceId: n.sourceId, cacheType: n.cacheType });
  });
}

function isoOf(ms: number, field: string): string {
  const d = new Date(ms);
  if (typeof ms !== 'number' || !Number.isFinite(d.getTime())) throw invalid(field, `${field} is not a time: give milliseconds since 1970 (Date.now() style)`);
  return d.toISOString();
}

/**
 * XEP-0323 'Request Read-out of momentary values': the `<iq type='get'><req/>` to send.
 * Without types the request asks for momentary values (the cheap, common case; XEP-0323 reads
 * no flag as "all", which on a thing with history could be years of values). Pure; throws
 * XIOTA_E_INVALID naming the bad option.
 */
export function readoutRequest(to: string, seqnr: string, q: ReadoutQuery): Element {
  const asked = listOf(q.types, 'types', '["momentary"]');
  const types = asked.length ? asked : ['momentary'];
  const attrs: Record<string, string> = { seqnr };
  for (const t of types) {
    if (!READ_TYPES.includes(t)) throw invalid('types', `"${t}" is not a XEP-0323 field type: use ${READ_TYPES.join(', ')}`);
    attrs[t] = 'true';
  }
  if (q.from !== undefined) attrs.from = isoOf(q.from, 'from');
  if (q.to !== undefined) attrs.to = isoOf(q.to, 'to');
  if (q.from !== undefined && q.to !== undefined && q.from > q.to) throw invalid('from', 'from is after to: swap them');
  const fields = listOf(q.fields, 'fields', '["temperature"]').map((f, i) => {
    if (typeof f !== 'string' || !f) throw invalid('fields', `fields[${i}] must be a field name (a non-empty string)`);
    return x('field', { name: f });
  });
  return x('iq', { type: 'get', to }, x('req', { xmlns: NS_SENSORDATA, ...attrs }, ...nodeElements(q.nodes, 'nodes'), ...fields));
}

/** XEP-0323 'Cancelling a scheduled read-out request' (sent when we give up waiting). */
export function cancelRequest(to: string, seqnr: string): Element {
  return x('iq', { type: 'get', to }, x('cancel', { xmlns: NS_SENSORDATA, seqnr }));
}

/** One `<failure><error nodeId timestamp>text</error>` entry. */
export interface ReadoutFailure { node?: string; timestamp?: number; text: string }

/** What one child of a readout message means for the readout it names. */
export type ReadoutEvent =
  | { seqnr: string; kind: 'started' }
  | { seqnr: string; kind: 'fields'; readings: RemoteReading[]; done: boolean }
  | { seqnr: string; kind: 'failure'; failures: ReadoutFailure[]; done: boolean }
  | { seqnr: string; kind: 'done' };

function isTrue(v: string | undefined): boolean {
  return v === 'true' || v === '1';
}

/** `<fields>` -> one RemoteReading per node and timestamp. Pure. */
export function fieldsToRemoteReadings(fields: Element, jid: string): RemoteReading[] {
  return parseFields(fields).map((p) => {
    const r: RemoteReading = { jid, thing: p.thing || jid, timestamp: p.timestamp, values: p.fields };
    if (p.thing) r.node = p.thing;
    return r;
  });
}

/** The XEP-0323 children of a message, in order, each with the seqnr it answers. Pure. */
export function readoutEvents(message: Element, jid: string): ReadoutEvent[] {
  const out: ReadoutEvent[] = [];
  for (const el of message.elements) {
    if (el.xmlns !== NS_SENSORDATA) continue;
    const seqnr = el.attrs.seqnr?.trim();
    if (!seqnr) continue;
    switch (el.name) {
      case 'started': out.push({ seqnr, kind: 'started' }); break;
      case 'done': out.push({ seqnr, kind: 'done' }); break;
      case 'fields': out.push({ seqnr, kind: 'fields', readings: fieldsToRemoteReadings(el, jid), done: isTrue(el.attrs.done) }); break;
      case 'failure': {
        const failures = el.getChildren('error').map((e): ReadoutFailure => {
          const f: ReadoutFailure = { text: e.text().trim() || 'failed (no reason given)' };
          if (e.attrs.nodeId) f.node = e.attrs.nodeId;
          const ts = parseTimestamp(e.attrs.timestamp);
          if (ts !== undefined) f.timestamp = ts;
          return f;
        });
        if (!failures.length) failures.push({ text: 'failed (no reason given)' });
        out.push({ seqnr, kind: 'failure', failures, done: isTrue(el.attrs.done) });
        break;
      }
      default: break;
    }
  }
  return out;
}

/** A failed node as a reading with no values and the thing's reason. */
export function failureReading(jid: string, f: ReadoutFailure, now: number): RemoteReading {
  const r: RemoteReading = { jid, thing: f.node ?? jid, timestamp: f.timestamp ?? now, values: [], error: f.text };
  if (f.node) r.node = f.node;
  return r;
}

// --- Errors ------------------------------------------------------------------------------

export type RemoteStage = 'readout' | 'set' | 'subscribe';

/** Another entity answered a request of ours with an error: what it said, typed. */
export class RemoteError extends XiotaError {
  readonly jid: string;
  readonly stage: RemoteStage;
  /** RFC 6120 condition (`forbidden`, `item-not-found`...), or `failure` for a XEP-0323 `<failure>`. */
  readonly condition: string;
  /** The entity's own words, when it gave any. */
  readonly text?: string;
  /** XEP-0325 paramError: the parameters that were not set, and why. */
  readonly params: ParamError[];
  constructor(o: { jid: string; stage: RemoteStage; condition: string; text?: string; params?: ParamError[]; message: string; pubsubCondition?: string }, options?: { cause?: unknown }) {
    super('XIOTA_E_REMOTE', o.message, {
      jid: o.jid, stage: o.stage, condition: o.condition,
      ...(o.text !== undefined ? { text: o.text } : {}),
      ...(o.params?.length ? { params: o.params } : {}),
      ...(o.pubsubCondition ? { pubsubCondition: o.pubsubCondition } : {}),
    }, options);
    this.name = 'RemoteError';
    this.jid = o.jid;
    this.stage = o.stage;
    this.condition = o.condition;
    this.text = o.text;
    this.params = o.params ?? [];
  }
}

/** What to do about a refusal, by condition (the text the thing gave comes first). */
const ADVICE: Record<string, string> = {
  forbidden: 'ask the owner of that thing to give this account the right (a xiota device: access.readers or access.controllers)',
  'not-authorized': 'ask the owner of that thing to give this account the right',
  'item-not-found': 'check the node and field names (a XEP-0326 browse or a readout without filters lists them)',
  'service-unavailable': 'nothing at that JID answers this protocol: the resource may be offline (take the thing\'s current full JID from its presence), or the thing does not support it (see its disco#info)',
  'feature-not-implemented': 'the thing does not implement this part of the protocol',
  'recipient-unavailable': 'the thing is offline: try again when it is back',
  'remote-server-not-found': 'the thing\'s server cannot be reached from ours: check the domain',
  'remote-server-timeout': 'the thing\'s server did not answer: try again later',
  'bad-request': 'the thing did not understand the request: check the names, types and values',
  'resource-constraint': 'the thing is busy: try again in a moment',
  conflict: 'a request with the same sequence number is still running there: try again',
};

/** An XEP-0323 refusal (iq error) as a RemoteError: RFC 6120 condition and text, or slixmpp's `<rejected>`. */
export function readoutRefusal(jid: string, err: StanzaError): RemoteError {
  const rejected = err.stanza?.getChild('rejected', NS_SENSORDATA);
  const text = err.text ?? rejected?.getChildText('error')?.trim() ?? undefined;
  return new RemoteError({ jid, stage: 'readout', condition: err.condition, text, message: `${jid} refused the readout (${err.condition})${text ? `: ${text}` : ''}${ADVICE[err.condition] ? `; ${ADVICE[err.condition]}` : ''}` }, { cause: err });
}

/** A readout that ended in `<failure>` with nothing read. */
export function readoutFailed(jid: string, failures: readonly ReadoutFailure[]): RemoteError {
  const text = failures.map((f) => (f.node ? `${f.node}: ${f.text}` : f.text)).join('; ');
  return new RemoteError({ jid, stage: 'readout', condition: 'failure', text, message: `${jid} could not read its values: ${text}` });
}

// --- XEP-0325 set ---------------------------------------------------------------------------

/** The parameter type a JS value sets when the caller names none. */
export function inferParamType(value: Value): ParamType {
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isInteger(value) ? (Math.abs(value) <= 2147483647 ? 'int' : 'long') : 'double';
  return 'string';
}

/** The value attribute of a typed parameter (XML Schema lexical forms), or what is wrong. Pure. */
export function paramText(type: ParamType, value: Value): string {
  let text: string;
  if (typeof value === 'boolean') {
    if (type !== 'boolean' && type !== 'string') throw invalid('value', `a boolean cannot be sent as ${type}: give ${type === 'int' || type === 'long' ? 'a number' : 'a string'}, or type boolean`);
    text = value ? 'true' : 'false';
  } else if (typeof value === 'number') {
    if (type === 'boolean') text = value === 1 ? 'true' : value === 0 ? 'false' : String(value);
    else if (type === 'double') text = formatNumber(value);
    else text = String(value);
  } else if (typeof value === 'string') {
    text = value;
  } else {
    throw invalid('value', 'value must be a boolean, a number or a string');
  }
  const ok = parseParamValue(type, text);
  if (!ok.ok) throw invalid('value', `${ok.error} (XEP-0325 ${type} parameter)`);
  return text;
}

export interface SetQuery {
  field: string;
  value: Value;
  type?: ParamType;
  nodes?: RemoteNode[];
}

/** XEP-0325 'IQ stanza for setting a value': the `<iq type='set'><set/>` to send. Throws XIOTA_E_INVALID. */
export function setRequest(to: string, q: SetQuery): Element {
  if (!q || typeof q !== 'object') throw invalid('field', 'a set needs {field, value}, like {"field": "fan", "value": true}');
  if (typeof q.field !== 'string' || !q.field) throw invalid('field', 'field must be the name of the parameter to set (a non-empty string)');
  if (q.type !== undefined && !(PARAM_TYPES as readonly string[]).includes(q.type)) throw invalid('type', `"${String(q.type)}" is not a XEP-0325 parameter type: use ${PARAM_TYPES.join(', ')}`);
  const type = q.type ?? inferParamType(q.value);
  const text = paramText(type, q.value);
  return x('iq', { type: 'set', to }, x('set', { xmlns: NS_CONTROL }, ...nodeElements(q.nodes, 'nodes'), x(type, { name: q.field, value: text })));
}

/** A `<setResponse>` in an iq result that still says no (slixmpp's responseCode), or undefined. */
export function setResultRefusal(jid: string, result: Element): RemoteError | undefined {
  const sr = result.getChild('setResponse', NS_CONTROL);
  const code = sr?.attrs.responseCode;
  if (!sr || code === undefined || code === 'OK') return undefined;
  const text = sr.getChildText('error')?.trim() || undefined;
  return new RemoteError({ jid, stage: 'set', condition: 'undefined-condition', text, message: `${jid} did not set the value (responseCode ${code})${text ? `: ${text}` : ''}` });
}

/** A refused set (iq error) as a RemoteError: condition, text, paramErrors (or slixmpp's setResponse). */
export function setRefusal(jid: string, err: StanzaError): RemoteError {
  const errEl = err.stanza?.getChild('error');
  const params: ParamError[] = (errEl?.getChildren('paramError', NS_CONTROL) ?? []).map((p) => ({ var: p.attrs.var ?? '', message: p.text().trim() }));
  const sr = err.stanza?.getChild('setResponse', NS_CONTROL);
  const srText = sr?.getChildText('error')?.trim() || undefined;
  if (!params.length && sr) {
    const named = sr.getChildren('parameter').map((p) => p.attrs.name ?? '').filter(Boolean);
    const errVar = sr.getChild('error')?.attrs.var;
    for (const n of named.length ? named : errVar ? [errVar] : []) params.push({ var: n, message: srText ?? sr.attrs.responseCode ?? 'not set' });
  }
  // slixmpp's device sends no RFC 6120 <error/>: its responseCode is the condition then.
  const noRfcError = !errEl?.elements.some((c) => c.xmlns === NS_STANZAS);
  const condition = noRfcError && sr?.attrs.responseCode ? ({ NotFound: 'item-not-found', InsufficientPrivileges: 'forbidden', FormError: 'bad-request' } as Record<string, string>)[sr.attrs.responseCode] ?? err.condition : err.condition;
  const text = err.text ?? srText ?? (params.length ? params.map((p) => `${p.var}: ${p.message}`).join('; ') : undefined);
  return new RemoteError({ jid, stage: 'set', condition, text, params, message: `${jid} refused the set (${condition})${text ? `: ${text}` : ''}${ADVICE[condition] ? `; ${ADVICE[condition]}` : ''}` }, { cause: err });
}
