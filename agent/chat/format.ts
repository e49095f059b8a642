// Values as a person reads them on a phone: "22.5 °C, 12 s ago", booleans as on/off, tables
// flattened to `label: value` lines (slidge's convention, shared/any-client.md 2), long
// answers cut into messages of about 3000 characters at line ends (IoTGateway's size). Pure.
import type { Value } from '../../drivers/types';
import { formatAge, formatValue as formatForPeople } from '../format';
import type { ChatField, ChatThing } from './fields';

/** Ages as chat shows them ("12 s ago"): agent/format.ts, shared with the ad-hoc commands. */
export { formatAge };

/** One field's last known state. */
export interface FieldState {
  value?: Value;
  /** The sensor's error text when the last reading failed. */
  error?: string;
  /** When it was read, ms since the epoch. */
  timestamp: number;
}

export const MAX_MESSAGE_CHARS = 3000;
const MAX_TEXT = 120;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001F\u007F-\u009F\u200B-\u200F\u202A-\u202E\u2060-\u2064\uFEFF]+/g;

/** A driver's string on one short printable line. */
export function cleanText(s: string, max = MAX_TEXT): string {
  const t = s.replace(CONTROL, ' ').replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

/** agent/format.ts (shared with presence and alerts: units, bytes, durations, on/off); a driver's text cleaned. */
export function formatValue(v: Value, f?: Pick<ChatField, 'type' | 'unit' | 'precision'>): string {
  if (typeof v === 'string') return cleanText(v) || '(empty)';
  return formatForPeople(v, f?.unit, f?.type === 'int' ? 0 : f?.precision);
}

/** "22.5 °C, 12 s ago" / "failed: no response, 3 s ago" / "no value yet". */
export function formatState(st: FieldState | undefined, f: ChatField | undefined, now: number): string {
  if (!st) return 'no value yet';
  const age = formatAge(now - st.timestamp);
  if (st.error !== undefined || st.value === undefined) return `failed: ${cleanText(st.error ?? 'no value')}, ${age}`;
  return `${formatValue(st.value, f)}, ${age}`;
}

export type StateOf = (thing: string, field: string) => FieldState | undefined;

/**
 * One thing as lines: a header with the reading's age, then `field: value`; a field read at
 * another time than the rest carries its own age.
 */
export function thingLines(t: ChatThing, state: StateOf, now: number): string[] {
  const states = t.fields.map((f) => state(t.id, f.name));
  const newest = Math.max(...states.map((s) => s?.timestamp ?? -Infinity));
  const title = t.name && t.name !== t.id ? `${cleanText(t.name, 40)} (${t.id})` : t.id;
  const out = [Number.isFinite(newest) ? `${title}, ${formatAge(now - newest)}:` : `${title}:`];
  t.fields.forEach((f, i) => {
    const st = states[i];
    let line: string;
    if (!st) line = 'no value yet';
    else if (st.error !== undefined || st.value === undefined) line = `failed: ${cleanText(st.error ?? 'no value')}`;
    else line = formatValue(st.value, f);
    if (st && Math.abs(st.timestamp - newest) > 1000) line += `, ${formatAge(now - st.timestamp)}`;
    out.push(`${f.name}: ${line}${f.writable ? ' (settable)' : ''}`);
  });
  return out;
}

/** Every thing, separated by blank lines. */
export function statusText(things: readonly ChatThing[], state: StateOf, now: number): string {
  if (!things.length) return 'no things yet (the drivers have not started)';
  return things.map((t) => thingLines(t, state, now).join('\n')).join('\n\n');
}

export interface HistoryRow { timestamp: number; value?: Value; error?: string }

/** Newest first: "12 s ago: 22.5 °C". */
export function historyText(path: string, f: ChatField, rows: readonly HistoryRow[], now: number, window: string): string {
  if (!rows.length) return `${path}: no values ${window}`;
  const lines = [`${path}, ${rows.length} ${rows.length === 1 ? 'value' : 'values'} ${window}:`];
  for (const r of [...rows].sort((a, b) => b.timestamp - a.timestamp)) {
    const v = r.error !== undefined || r.value === undefined ? `failed: ${cleanText(r.error ?? 'no value')}` : formatValue(r.value, f);
    lines.push(`${formatAge(now - r.timestamp)}: ${v}`);
  }
  return lines.join('\n');
}

/** A duration in words for a history header: "in the last 2 h". */
export function formatSpan(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 172_800_000) return `${Math.round(ms / 3_600_000)} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}

/** Cuts a long answer into messages at line ends (a single overlong line is cut hard). */
export function splitMessage(text: string, max = MAX_MESSAGE_CHARS): string[] {
  if (text.length <= max) return [text];
  const out: string[] = [];
  let cur = '';
  for (let line of text.split('\n')) {
    while (line.length > max) {
      if (cur) { out.push(cur); cur = ''; }
      out.push(line.slice(0, max));
      line = line.slice(max);
    }
    if (cur && cur.length + 1 + line.length > max) { out.push(cur); cur = ''; }
    cur = cur ? `${cur}\n${line}` : line;
  }
  if (cur) out.push(cur);
  return out;
}
