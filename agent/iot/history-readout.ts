// XEP-0323 historical readouts answered from the device's own history store (agent/history/):
// which periods a request asks for, the `<fields>` messages that carry them (newest first, at
// most MAX_FIELDS_PER_MESSAGE field elements each, so 10,000 values stream as many bounded
// stanzas), and how they join the momentary answer. agent/xep/sensordata.ts calls it.
//
// XEP-0323 'Field Types': historicalSecond/historicalOther are answered with the raw readings,
// historicalMinute ... historicalYear with buckets of that period (min/max/mean merged from the
// rollups). A bucket's mean goes under the field's own name, its extremes as "name, Min" and
// "name, Max" with peak='true' (the spec's own naming, example 'Read-out of historical values');
// each carries the period's flag and those of the coarser shifts its time falls on. A request
// for every historical type (historical='true', all='true', or only from/to) gets one
// resolution, the finest that suits its span; without `from` that span is the last 24 hours.
//
// One readout returns at most `maxValues` timestamped values in all. What was left out is said
// in the answer: an `<error nodeId timestamp>` beside the last node (the shape this agent uses
// for per-field errors), naming how many were sent and the `to` to ask with for the rest.
import type { ThingSpec } from '../../drivers/types';
import type { HistoryReader, HistoryRow } from '../history/store';
import { historicalFlags, mean, type Period } from '../history/rollup';
import { Element, x } from '../xml/element';
import { formatNumber, readingToFields } from '../xep/sensordata-fields';
import { HISTORICAL_KINDS, MAX_FIELDS_PER_MESSAGE, NS_SENSORDATA, type FieldKind, type ReadoutRequest } from './readout';

/** Most timestamped values one readout returns (all things, fields and periods together). */
export const DEFAULT_MAX_HISTORICAL = 10_000;

const KIND_PERIOD: Partial<Record<FieldKind, Period | 'raw'>> = {
  historicalSecond: 'raw', historicalOther: 'raw', historicalMinute: 'minute', historicalHour: 'hour',
  historicalDay: 'day', historicalWeek: 'week', historicalMonth: 'month', historicalQuarter: 'quarter', historicalYear: 'year',
};

const DAY = 86_400_000;

/**
 * The resolutions a request asks for ('raw' or a period), and its time range; [] when it asks
 * for no history. `explicit` says whether the request named history itself (a historical* or
 * all attribute, or from/to): a bare `<req/>` means every type to the parser, but a client that
 * says nothing about history gets momentary values, not a day of minutes.
 */
export function historicalPlan(r: ReadoutRequest, explicit: boolean, now: number): { periods: (Period | 'raw')[]; from?: number; to?: number } {
  if (!explicit) return { periods: [] };
  const asked = HISTORICAL_KINDS.filter((k) => r.kinds.has(k));
  if (!asked.length) return { periods: [] };
  if (asked.length < HISTORICAL_KINDS.length) {
    const periods = [...new Set(asked.map((k) => KIND_PERIOD[k]!))];
    return { periods, from: r.from, to: r.to };
  }
  const to = r.to ?? now;
  const from = r.from ?? to - DAY;
  const span = to - from;
  const period: Period | 'raw' = span <= 2 * 3_600_000 ? 'raw' : span <= 7 * DAY ? 'minute' : span <= 366 * DAY ? 'hour' : 'day';
  return { periods: [period], from, to };
}

/** Whether the `<req>` itself names history (see historicalPlan). */
export function namesHistory(req: Element): boolean {
  const a = req.attrs;
  const yes = (v: string | undefined) => v === 'true' || v === '1';
  return yes(a.all) || yes(a.historical) || a.from !== undefined || a.to !== undefined || HISTORICAL_KINDS.some((k) => yes(a[k]));
}

/** One row as field elements of one timestamp: the value, or the mean and the extremes. */
function rowFields(thing: ThingSpec, field: string, period: Period | undefined, row: HistoryRow): Element[] {
  const flags: Record<string, string> = {};
  for (const f of historicalFlags(period, row.ts)) flags[f] = 'true';
  const agg = row.agg;
  const m = agg ? mean(agg) : undefined;
  const main = m ?? row.value;
  if (main === undefined) return [];
  const spec = thing.fields.find((f) => f.name === field);
  // The momentary encoder knows every type: encode, then swap the flags.
  const encode = (name: string, value: number | boolean | string, extra: Record<string, string>): Element => {
    // The common case, a number of a numeric field (or any mean), built directly: the same
    // element readingToFields makes, a tenth of the cost (bench/history.ts reads 10,000).
    if (typeof value === 'number' && Number.isFinite(value) && (spec?.type === 'numeric' || m !== undefined)) {
      return x('numeric', { name, automaticReadout: 'true', value: formatNumber(value, spec?.type === 'numeric' ? spec.precision : undefined), unit: spec?.unit ?? '', ...flags, ...extra });
    }
    let el = readingToFields({ thing: thing.id, timestamp: row.ts, values: [{ field: field, value }] }, thing).getChild('node')!.getChild('timestamp')!.elements[0]!;
    // A mean of an int field is not an int: send it as numeric.
    if (m !== undefined && (el.name === 'int' || el.name === 'long')) el = x('numeric', { ...el.attrs, unit: spec?.unit ?? '' });
    delete el.attrs.momentary;
    delete el.attrs.writable;
    el.attrs.name = name;
    Object.assign(el.attrs, flags, extra);
    return el;
  };
  const out = [encode(field, main, {})];
  if (agg && agg.min !== undefined && agg.count > 1) {
    out.push(encode(`${field}, Min`, agg.min, { peak: 'true' }), encode(`${field}, Max`, agg.max!, { peak: 'true' }));
  }
  return out;
}

export interface HistoricalAnswer {
  /** `<fields>` messages without done; their nodes' timestamps newest first. */
  messages: Element[];
  /** Timestamped values sent. */
  values: number;
}

/**
 * Reads the history of the chosen things for a request and builds its `<fields>` messages.
 * `maxValues` bounds the whole readout; what it cut is said in the last message.
 */
export async function historicalPayloads(seqnr: string, r: ReadoutRequest, explicit: boolean, things: readonly ThingSpec[], history: HistoryReader | undefined, opts: { now: number; maxValues?: number }): Promise<HistoricalAnswer> {
  const plan = historicalPlan(r, explicit, opts.now);
  if (!history || !plan.periods.length) return { messages: [], values: 0 };
  let budget = opts.maxValues ?? DEFAULT_MAX_HISTORICAL;
  const max = budget;
  const wanted = r.fields.length ? new Set(r.fields) : undefined;
  const messages: Element[] = [];
  const notes: Element[] = [];
  let sent = 0;
  const stamp = new Date(opts.now).toISOString();
  for (const thing of things) {
    for (const p of plan.periods) {
      const period = p === 'raw' ? undefined : p;
      // Rows of every field of this thing, grouped by timestamp, newest first.
      const byTs = new Map<number, Element[]>();
      let oldestSent: number | undefined;
      let cut = false;
      for (const f of thing.fields) {
        if (wanted && !wanted.has(f.name)) continue;
        if (budget <= 0) { cut = true; break; }
        const a = await history.query({ thing: thing.id, field: f.name, period, from: plan.from, to: plan.to, limit: budget });
        for (const row of a.rows) {
          const els = rowFields(thing, f.name, period, row);
          if (!els.length) continue;
          let list = byTs.get(row.ts);
          if (!list) byTs.set(row.ts, (list = []));
          list.push(...els);
        }
        budget -= a.rows.length;
        sent += a.rows.length;
        if (a.truncated) {
          cut = true;
          const last = a.rows[a.rows.length - 1];
          if (last && (oldestSent === undefined || last.ts > oldestSent)) oldestSent = last.ts;
        }
      }
      let cur: Element[] = [];
      let count = 0;
      const flush = () => {
        if (cur.length) messages.push(x('fields', { xmlns: NS_SENSORDATA, seqnr }, x('node', { nodeId: thing.id }, ...cur)));
        cur = [];
        count = 0;
      };
      for (const ts of [...byTs.keys()].sort((a, b) => b - a)) {
        const els = byTs.get(ts)!;
        if (count + els.length > MAX_FIELDS_PER_MESSAGE) flush();
        cur.push(x('timestamp', { value: new Date(ts).toISOString() }, ...els));
        count += els.length;
      }
      flush();
      if (cut) {
        const more = oldestSent !== undefined ? `; for older values ask again with to='${new Date(oldestSent - 1).toISOString()}'` : '';
        notes.push(x('error', { nodeId: thing.id, timestamp: stamp },
          `history truncated: at most ${max} values per readout${period ? ` (${period} values)` : ' (raw values)'}${more}, or ask for a coarser period (historicalHour, historicalDay)`));
      }
    }
  }
  if (notes.length) {
    if (!messages.length) messages.push(x('fields', { xmlns: NS_SENSORDATA, seqnr }));
    for (const n of notes) messages[messages.length - 1]!.append(n);
  }
  return { messages, values: sent };
}

/**
 * Joins the momentary answer (answerPayloads: fields..., then failure or a done-marked fields,
 * then `<done/>`) with historical `<fields>` messages: momentary first, history next, a failure
 * last; the last `<fields>` (or the failure) carries done='true', `<done/>` ends it.
 */
export function withHistory(momentary: Element[], historical: readonly Element[]): Element[] {
  if (!historical.length) return momentary;
  const done = momentary[momentary.length - 1]!;
  const body = momentary.slice(0, -1).filter((e) => !(e.name === 'fields' && !e.elements.length));
  for (const e of body) delete e.attrs.done;
  const failures = body.filter((e) => e.name === 'failure');
  const out = [...body.filter((e) => e.name !== 'failure'), ...historical, ...failures];
  out[out.length - 1]!.attrs.done = 'true';
  out.push(done);
  return out;
}
