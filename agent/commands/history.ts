// The ad-hoc `history` command (XEP-0050), the form twin of the chat `history thing.field
// [count|duration]`: pick a field, a count or a duration, and a resolution. Each value comes from
// the device's own store, else the thing's PubSub node (agent/history/sources.ts); per minute,
// hour and day come from the store's rollups (mean, min, max, count). The answer is an XEP-0004
// result table (<reported>/<item>, XEP-0004 3.4), newest first.
import type { HistoryWindow } from '../chat/device';
import type { HistoryRow as ChatRow } from '../chat/format';
import { MAX_HISTORY_COUNT, parseHistoryWindow } from '../chat/parse';
import type { HistoryReader } from '../history/store';
import { mean, type Period } from '../history/rollup';
import type { Command, Step } from '../xep/commands';
import type { FormField } from '../xep/forms';
import { formatValue, type DeviceField, type DeviceThing } from './device';

export interface HistoryView {
  things(): DeviceThing[];
  /** Each value of one field, newest first: the local store, else PubSub. */
  rows(thing: string, field: string, w: HistoryWindow): Promise<ChatRow[]>;
  /** The store, for rollups; undefined when history is off. */
  store(): HistoryReader | undefined;
  now(): number;
}

const RESOLUTIONS: { value: 'each' | Period; label: string }[] = [
  { value: 'each', label: 'Each value' }, { value: 'minute', label: 'Per minute' },
  { value: 'hour', label: 'Per hour' }, { value: 'day', label: 'Per day' },
];

/** 2026-12-01 10:05:00Z: sortable, and the same in every client's time zone. */
function when(ts: number): string {
  return new Date(ts).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function show(v: number | boolean | string | undefined, f: DeviceField): string {
  if (v === undefined) return '';
  const s = formatValue(v, f);
  return f.unit && typeof v === 'number' ? `${s} ${f.unit}` : s;
}

export function historyCommand(view: HistoryView): Command {
  return {
    node: 'history', name: 'History of one field', action: 'read',
    execute(): Step {
      const paths = view.things().flatMap((t) => t.fields.map((f) => ({ value: `${t.id}.${f.name}`, label: `${t.name ?? t.id} ${f.name}${f.unit ? ` (${f.unit})` : ''}` })));
      if (!paths.length) return { status: 'completed', note: { type: 'info', text: 'This device has no things configured.' } };
      return {
        status: 'executing',
        stage: {
          form: {
            type: 'form', title: 'History', instructions: ['Pick a field, how much, and how fine.'],
            fields: [
              { var: 'field', type: 'list-single', label: 'Field', required: true, values: [paths[0]!.value], options: paths },
              { var: 'window', type: 'text-single', label: 'How much', desc: `A count of values (1-${MAX_HISTORY_COUNT}) or a time span: 30m, 2h, 1d`, values: ['10'] },
              { var: 'resolution', type: 'list-single', label: 'Resolution', values: ['each'], options: RESOLUTIONS.map((r) => ({ value: r.value, label: r.label })) },
            ],
          },
          async submit(values): Promise<Step> {
            const path = String(values.get('field') ?? '');
            const t = view.things().find((x) => path.startsWith(`${x.id}.`) && x.fields.some((f) => `${x.id}.${f.name}` === path));
            const f = t?.fields.find((x) => `${t.id}.${x.name}` === path);
            if (!t || !f) return { status: 'invalid', errors: [`"${path}" is not a field of this device; pick one from the list`] };
            const w = parseHistoryWindow(String(values.get('window') ?? '10'));
            if (typeof w === 'string') return { status: 'invalid', errors: [w] };
            const window: HistoryWindow = 'count' in w ? { count: w.count } : { sinceMs: view.now() - w.durationMs };
            const res = String(values.get('resolution') ?? 'each') as 'each' | Period;
            if (!RESOLUTIONS.some((r) => r.value === res)) return { status: 'invalid', errors: [`"${res}" is not a resolution: pick one from the list`] };
            const title = `${t.name ?? t.id} ${f.name}`;
            if (res === 'each') {
              const rows = await view.rows(t.id, f.name, window);
              if (!rows.length) return { status: 'completed', note: { type: 'info', text: `${title}: no values ${'count' in w ? 'yet' : 'in that time'}.` } };
              return {
                status: 'completed',
                form: {
                  type: 'result', title: `${title}: ${rows.length} values, newest first`, fields: [],
                  reported: [{ var: 'time', label: 'Time (UTC)' }, { var: 'value', label: 'Value' }],
                  items: rows.map((r): FormField[] => [{ var: 'time', values: [when(r.timestamp)] }, { var: 'value', values: [r.error !== undefined ? `failed: ${r.error}` : show(r.value, f)] }]),
                },
              };
            }
            const store = view.store();
            if (!store) return { status: 'invalid', errors: ['per-minute, hour and day values come from the history store, which is off here (history.enabled in the config); pick "Each value"'] };
            const a = await store.query({ thing: t.id, field: f.name, period: res, from: window.sinceMs, limit: window.count ?? MAX_HISTORY_COUNT });
            if (!a.rows.length) return { status: 'completed', note: { type: 'info', text: `${title}: no ${res} values yet (a ${res} is kept once it has ended).` } };
            const numeric = a.rows.some((r) => r.agg?.min !== undefined);
            const reported: FormField[] = numeric
              ? [{ var: 'time', label: `${res[0]!.toUpperCase()}${res.slice(1)} from (UTC)` }, { var: 'mean', label: 'Mean' }, { var: 'min', label: 'Min' }, { var: 'max', label: 'Max' }, { var: 'count', label: 'Values' }]
              : [{ var: 'time', label: `${res[0]!.toUpperCase()}${res.slice(1)} from (UTC)` }, { var: 'last', label: 'Last value' }, { var: 'count', label: 'Values' }];
            const items = a.rows.map((r): FormField[] => {
              const g = r.agg!;
              const cells: FormField[] = [{ var: 'time', values: [when(r.ts)] }];
              if (numeric) cells.push({ var: 'mean', values: [show(mean(g), { ...f, type: 'numeric', precision: f.type === 'int' ? 2 : f.precision })] }, { var: 'min', values: [show(g.min, f)] }, { var: 'max', values: [show(g.max, f)] });
              else cells.push({ var: 'last', values: [show(g.last, f)] });
              cells.push({ var: 'count', values: [`${g.count}${g.errors ? ` (+${g.errors} failed)` : ''}`] });
              return cells;
            });
            return {
              status: 'completed',
              form: { type: 'result', title: `${title}, per ${res}: ${a.rows.length} rows, newest first`, fields: [], reported, items },
              ...(a.truncated ? { note: { type: 'info' as const, text: `Older ${res}s were left out (at most ${window.count ?? MAX_HISTORY_COUNT}); ask for a time span or a coarser resolution.` } } : {}),
            };
          },
        },
      };
    },
  };
}
