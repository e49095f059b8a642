// XEP-0323 historical readouts answered from the device's own history store (agent/history/):
// which periods a request asks for, and the `<fields>` messages that carry them (newest first, at
// most MAX_FIELDS_PER_MESSAGE field elements each, so 10,000 values stream as many bounded
// stanzas, the first sent while the rest are built). agent/xep/sensordata.ts calls it.
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
import { Element, escapeAttr, serialize, x } from '../xml/element';
import { formatNumber, readingToFields } from '../xep/sensordata-fields';
import { isoStamp } from '../xep/sensordata-compact';
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

/** ` historicalX="true"...` of a value stored at `ts` (historicalFlags), the common cases without date maths. */
function flagAttrs(period: Period | undefined, ts: number): string {
  // A raw reading on a whole second but not on a minute, a minute not on an hour: one flag.
  if (period === undefined && ts % 1000 === 0 && ts % 60_000 !== 0) return ' historicalSecond="true"';
  if (period === 'minute' && ts % 3_600_000 !== 0) return ' historicalMinute="true"';
  let s = '';
  for (const f of historicalFlags(period, ts)) s += ` ${f}="true"`;
  return s;
}

/**
 * One row as the field elements of one timestamp, serialized (the value, or the mean and the
 * extremes). A number of a numeric field (or any mean) is written directly, the same XML
 * readingToFields would give (bench/history.ts reads 10,000); other types go through it.
 */
function rowXml(thing: ThingSpec, field: string, period: Period | undefined, row: HistoryRow): string {
  const flags = flagAttrs(period, row.ts);
  const agg = row.agg;
  const m = agg ? mean(agg) : undefined;
  const main = m ?? row.value;
  if (main === undefined) return '';
  const spec = thing.fields.find((f) => f.name === field);
  const encode = (name: string, value: number | boolean | string, peak: boolean): string => {
    if (typeof value === 'number' && Number.isFinite(value) && (spec?.type === 'numeric' || m !== undefined)) {
      const v = formatNumber(value, spec?.type === 'numeric' ? spec.precision : undefined);
      return `<numeric name="${escapeAttr(name)}" automaticReadout="true" value="${v}" unit="${escapeAttr(spec?.unit ?? '')}"${flags}${peak ? ' peak="true"' : ''}/>`;
    }
    // The momentary encoder knows every type: encode, then swap the flags.
    let el = readingToFields({ thing: thing.id, timestamp: row.ts, values: [{ field, value }] }, thing).getChild('node')!.getChild('timestamp')!.elements[0]!;
    // A mean of an int field is not an int: send it as numeric.
    if (m !== undefined && (el.name === 'int' || el.name === 'long')) el = x('numeric', { ...el.attrs, unit: spec?.unit ?? '' });
    delete el.attrs.momentary;
    delete el.attrs.writable;
    el.attrs.name = name;
    for (const f of historicalFlags(period, row.ts)) el.attrs[f] = 'true';
    if (peak) el.attrs.peak = 'true';
    return serialize(el, NS_SENSORDATA);
  };
  let out = encode(field, main, false);
  if (agg && agg.min !== undefined && agg.count > 1) out += encode(`${field}, Min`, agg.min, true) + encode(`${field}, Max`, agg.max!, true);
  return out;
}

/** A `<fields>` message payload built as text: attrs mirror what the XML says (seqnr, done). */
function fieldsRaw(seqnr: string, done: boolean, inner: string): Element {
  const attrs: Record<string, string> = done ? { seqnr, done: 'true' } : { seqnr };
  const el = new Element('fields', NS_SENSORDATA, attrs);
  el.raw = `<fields xmlns="${NS_SENSORDATA}" seqnr="${escapeAttr(seqnr)}"${done ? ' done="true"' : ''}>${inner}</fields>`;
  return el;
}

export interface HistoricalStream {
  /** The readout's options: its end (done='true') goes on the last message when `ends`. */
  ends: boolean;
  maxValues?: number;
  now: number;
  /** Gets each `<fields>` message as soon as it is built (`last`: no more follow); the next is built once it resolves. */
  emit(payload: Element, last: boolean): Promise<void>;
  /** Stops building (a cancelled readout). */
  cancelled?(): boolean;
}

/**
 * Reads the history of the chosen things for a request and streams its `<fields>` messages,
 * newest first, at most MAX_FIELDS_PER_MESSAGE field elements each: the first leaves while the
 * rest are built, so the server forwards while the device builds. `maxValues` bounds the whole
 * readout; what it cut is said in the last message. Returns the values sent and the messages.
 */
export async function streamHistorical(seqnr: string, r: ReadoutRequest, explicit: boolean, things: readonly ThingSpec[], history: HistoryReader | undefined, o: HistoricalStream): Promise<{ values: number; messages: number }> {
  const plan = historicalPlan(r, explicit, o.now);
  if (!history || !plan.periods.length) return { values: 0, messages: 0 };
  let budget = o.maxValues ?? DEFAULT_MAX_HISTORICAL;
  const max = budget;
  const wanted = r.fields.length ? new Set(r.fields) : undefined;
  let notes = '';
  let sent = 0;
  let messages = 0;
  const stamp = new Date(o.now).toISOString();
  // One message held back: the last one carries the notes and the end.
  let held: { nodeId: string; body: string } | undefined;
  const pass = async (next: { nodeId: string; body: string } | undefined) => {
    if (held) {
      messages++;
      await o.emit(fieldsRaw(seqnr, false, `<node nodeId="${escapeAttr(held.nodeId)}">${held.body}</node>`), false);
    }
    held = next;
  };
  for (const thing of things) {
    for (const p of plan.periods) {
      if (o.cancelled?.()) return { values: sent, messages };
      const period = p === 'raw' ? undefined : p;
      // Rows of every field of this thing, newest first; turned into XML one message at a time,
      // as it leaves.
      const lists: { field: string; rows: HistoryRow[] }[] = [];
      let oldestSent: number | undefined;
      let cut = false;
      for (const f of thing.fields) {
        if (wanted && !wanted.has(f.name)) continue;
        if (budget <= 0) { cut = true; break; }
        const a = await history.query({ thing: thing.id, field: f.name, period, from: plan.from, to: plan.to, limit: budget });
        lists.push({ field: f.name, rows: a.rows });
        budget -= a.rows.length;
        sent += a.rows.length;
        if (a.truncated) {
          cut = true;
          const last = a.rows[a.rows.length - 1];
          if (last && (oldestSent === undefined || last.ts > oldestSent)) oldestSent = last.ts;
        }
      }
      // Several fields: grouped by timestamp (one <timestamp> each), merged newest first.
      let groups: Iterable<[number, { field: string; row: HistoryRow }[]]>;
      if (lists.length === 1) {
        const { field, rows } = lists[0]!;
        groups = (function* () { for (const row of rows) yield [row.ts, [{ field, row }]] as [number, { field: string; row: HistoryRow }[]]; })();
      } else {
        const byTs = new Map<number, { field: string; row: HistoryRow }[]>();
        for (const { field, rows } of lists) {
          for (const row of rows) {
            const cur = byTs.get(row.ts);
            if (cur) cur.push({ field, row }); else byTs.set(row.ts, [{ field, row }]);
          }
        }
        groups = [...byTs].sort((a, b) => b[0] - a[0]);
      }
      let body = '';
      let count = 0;
      for (const [ts, group] of groups) {
        let xml = '';
        let n = 0;
        for (const { field, row } of group) {
          const one = rowXml(thing, field, period, row);
          if (!one) continue;
          xml += one;
          n += row.agg && row.agg.min !== undefined && row.agg.count > 1 ? 3 : 1;
        }
        if (!n) continue;
        if (count + n > MAX_FIELDS_PER_MESSAGE && body) {
          await pass({ nodeId: thing.id, body });
          if (o.cancelled?.()) return { values: sent, messages };
          body = '';
          count = 0;
        }
        body += `<timestamp value="${isoStamp(ts, true)}">${xml}</timestamp>`;
        count += n;
      }
      lists.length = 0;
      if (body) await pass({ nodeId: thing.id, body });
      if (cut) {
        const more = oldestSent !== undefined ? `; for older values ask again with to='${new Date(oldestSent - 1).toISOString()}'` : '';
        notes += serialize(x('error', { nodeId: thing.id, timestamp: stamp },
          `history truncated: at most ${max} values per readout${period ? ` (${period} values)` : ' (raw values)'}${more}, or ask for a coarser period (historicalHour, historicalDay)`), NS_SENSORDATA);
      }
    }
  }
  if (!held && !notes) return { values: sent, messages };
  messages++;
  const node = held ? `<node nodeId="${escapeAttr(held.nodeId)}">${held.body}</node>` : '';
  await o.emit(fieldsRaw(seqnr, o.ends, node + notes), true);
  return { values: sent, messages };
}
