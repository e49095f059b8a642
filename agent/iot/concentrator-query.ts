// XEP-0326 'Execute Node Query' and 'Query Events' for the Read command: a thing's values
// returned to the asker instead of only published. The request is answered at once with
// `executeNodeQueryResponse result='OK' queryId`; the values follow as `<message>`s holding a
// `queryProgress` (XEP-0326 'Query Events'): queryStarted, then one table (newTable with its
// columns, newRecords with one record per field, tableDone) and queryDone. 'Abort Node Query'
// stops a query still running (queryAborted); one that has ended is NotFound, as the spec's
// note on abort expects.
//
// The values are a momentary readout (XEP-0323 semantics): sampled fresh from the driver within
// a deadline, else the last known values with a queryMessage saying so. The form of the query
// (XEP-0326 'Get Node Query Parameters') lets the asker pick fields; with no form every field
// is read ('A Query with an empty parameter set is considered to be a simple query').
import type { Reading, ThingSpec } from '../../drivers/types';
import { x, type Element } from '../xml/element';
import { buildForm, readSubmission, type FormField } from '../xep/forms';
import { formatNumber } from '../xep/sensordata-fields';
import { NS_CONCENTRATOR, type NodeRef } from './concentrator';

/** The one table a Read query returns, and its columns (XEP-0326 'New Table'). */
export const VALUES_TABLE = { tableId: 'values', tableName: 'Values' } as const;
export const VALUE_COLUMNS = [
  { columnId: 'field', header: 'Field' },
  { columnId: 'value', header: 'Value' },
  { columnId: 'unit', header: 'Unit' },
  { columnId: 'timestamp', header: 'Timestamp' },
  { columnId: 'status', header: 'Status' },
] as const;

const FIELDS_VAR = 'fields';

/** XEP-0326 'Get Node Query Parameters' for Read: which fields (all by default). */
export function readQueryFields(thing: ThingSpec): FormField[] {
  const names = thing.fields.map((f) => f.name);
  return [{
    var: FIELDS_VAR, type: 'list-multi', label: 'Fields:', desc: 'The fields to read; all when none is sent.',
    values: names, options: names.map((n) => ({ value: n })),
  }];
}

export function readQueryForm(thing: ThingSpec): Element {
  return buildForm({ type: 'form', title: `Read ${thing.name ?? thing.id}`, fields: readQueryFields(thing) });
}

/** A submitted Read form (or none) -> the fields to read, or the errors per form field. Pure. */
export function parseReadQuery(thing: ThingSpec, submitted: Element | undefined): { fields: string[] } | { errors: { var: string; message: string }[] } {
  const all = thing.fields.map((f) => f.name);
  if (!submitted) return { fields: all };
  const sub = readSubmission(submitted, readQueryFields(thing));
  if (sub.errors.length) return { errors: sub.errors };
  const picked = sub.values.get(FIELDS_VAR);
  const fields = Array.isArray(picked) ? picked : all;
  if (!fields.length) return { errors: [{ var: FIELDS_VAR, message: `no field chosen: pick at least one of ${all.join(', ')}, or send no form to read all` }] };
  return { fields };
}

/** `<queryProgress sourceId nodeId queryId>` with its events, in order (XEP-0326 'Query Events'). */
export function queryProgress(ref: Required<NodeRef>, queryId: string, ...events: Element[]): Element {
  return x('queryProgress', { xmlns: NS_CONCENTRATOR, sourceId: ref.sourceId, nodeId: ref.nodeId, queryId }, ...events);
}

/** One record item per XEP-0326 'Record Item definitions' (the newRecords schema's element names). */
function valueItem(thing: ThingSpec, field: string, value: Reading['values'][number]['value']): Element {
  if (value === undefined) return x('void');
  const spec = thing.fields.find((f) => f.name === field);
  switch (spec?.type ?? (typeof value === 'boolean' ? 'boolean' : typeof value === 'number' ? 'numeric' : 'string')) {
    case 'boolean': return x('boolean', null, String(value === true || value === 'true' || value === 1));
    case 'int': {
      const n = typeof value === 'number' ? Math.trunc(value) : Number.parseInt(String(value), 10);
      if (!Number.isFinite(n)) return x('string', null, String(value));
      return x(n < -2147483648 || n > 2147483647 ? 'long' : 'int', null, String(n));
    }
    case 'numeric': {
      const n = typeof value === 'number' ? value : Number(value);
      return typeof value === 'number' || Number.isFinite(n) ? x('double', null, formatNumber(n, spec?.precision)) : x('string', null, String(value));
    }
    default: return x('string', null, String(value));
  }
}

/**
 * The table of a Read query: newTable, newRecords (one record per asked field, in the thing's
 * order; a field without a value has <void/> and its error as status), tableDone. `stale`: the
 * values are the last known ones, not a fresh sample (status says so). Pure.
 */
export function valuesTable(thing: ThingSpec, reading: Reading | undefined, fields: readonly string[], stale = false): Element[] {
  const byField = new Map((reading?.values ?? []).map((v) => [v.field, v]));
  const stamp = reading && Number.isFinite(reading.timestamp) ? new Date(reading.timestamp).toISOString() : undefined;
  const records = thing.fields.filter((f) => fields.includes(f.name)).map((f) => {
    const v = byField.get(f.name);
    const status = v === undefined ? 'no value' : v.error !== undefined ? `error: ${v.error}` : stale ? 'last known value' : 'ok';
    return x('record', null,
      x('string', null, f.name),
      valueItem(thing, f.name, v?.error === undefined ? v?.value : undefined),
      f.unit !== undefined ? x('string', null, f.unit) : x('void'),
      stamp !== undefined && v !== undefined ? x('dateTime', null, stamp) : x('void'),
      x('string', null, status));
  });
  return [
    x('newTable', { ...VALUES_TABLE }, ...VALUE_COLUMNS.map((c) => x('column', { ...c }))),
    x('newRecords', { tableId: VALUES_TABLE.tableId }, ...records),
    x('tableDone', { tableId: VALUES_TABLE.tableId }),
  ];
}

export interface NodeQueryDeps {
  /** Sends a stanza (a `<message>` to the asker). */
  send(el: Element): void;
  /** A fresh sample of the thing (DriverHost.readThing), or undefined. */
  read(thing: string): Promise<Reading | undefined>;
  /** The last known reading of the thing. */
  latest(thing: string): Reading | undefined;
  /** How long a fresh sample may take before the last known values answer (default 1000 ms). */
  deadlineMs?: number;
  /** Queries running at once, over all askers (default 64). */
  maxRunning?: number;
}

interface Running { asker: string; ref: Required<NodeRef>; aborted: boolean }

/** Resolves with the value, or undefined once `ms` have passed (or the promise fails). */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(undefined), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, () => { clearTimeout(t); resolve(undefined); });
  });
}

/** The running Read queries of one concentrator: start, abort, and the events they send. */
export class NodeQueries {
  private readonly running = new Map<string, Running>();
  private next = 1;

  constructor(private readonly deps: NodeQueryDeps) {}

  get size(): number { return this.running.size; }

  /** A new query id, or undefined when too many queries run already. Call run() after the response is sent. */
  open(asker: string, ref: Required<NodeRef>): string | undefined {
    if (this.running.size >= (this.deps.maxRunning ?? 64)) return undefined;
    const id = `Query${String(this.next++).padStart(4, '0')}`;
    this.running.set(id, { asker, ref, aborted: false });
    return id;
  }

  /** Sends the query's events: started, the values table, done. */
  async run(queryId: string, thing: ThingSpec, fields: readonly string[]): Promise<void> {
    const q = this.running.get(queryId);
    if (!q) return;
    const emit = (...events: Element[]) => this.deps.send(x('message', { to: q.asker }, queryProgress(q.ref, queryId, ...events)));
    try {
      emit(x('queryStarted'), x('title', { name: `Read ${thing.name ?? thing.id}` }));
      const before = this.deps.latest(thing.id);
      const fresh = await within(this.deps.read(thing.id), this.deps.deadlineMs ?? 1000);
      if (q.aborted) return;
      const reading = fresh ?? before;
      const note = fresh ? [] : [x('queryMessage', { type: before ? 'Warning' : 'Error', level: 'Minor' },
        before ? `no fresh sample within ${this.deps.deadlineMs ?? 1000} ms: the last known values` : 'no value: the driver gave none and none is known from before')];
      emit(...note, ...valuesTable(thing, reading, fields, !fresh), x('queryDone'));
    } finally {
      this.running.delete(queryId);
    }
  }

  /** XEP-0326 'Abort Node Query': true when the asker's query was running (it is aborted and
   *  its queryAborted sent), false when there is no such query (ended, or somebody else's). */
  abort(asker: string, queryId: string): boolean {
    const q = this.running.get(queryId);
    if (!q || q.asker !== asker) return false;
    q.aborted = true;
    this.running.delete(queryId);
    this.deps.send(x('message', { to: asker }, queryProgress(q.ref, queryId, x('queryAborted'))));
    return true;
  }
}
