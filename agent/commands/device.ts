// The device's ad-hoc commands (XEP-0050) over its things and fields: `status` (everything, as
// a table and as flat fields), `read` (pick a thing), `set` (a form of the writable fields with
// their current values and XEP-0122 datatypes, checked on the device). Pure over a DeviceView.
import type { FieldSpec, Reading, ThingSpec, Value } from '../../drivers/types';
import type { Command, Step } from '../xep/commands';
import { expectation, type DataForm, type FormField, type FormValue } from '../xep/forms';
import { formatNumber } from '../xep/sensordata-fields';
import { formatAge } from '../format';

/** A field as the commands see it: the driver's declaration; min/max become XEP-0122 <range/>. */
export type DeviceField = FieldSpec;
export type DeviceThing = ThingSpec;

/** What these commands need from the agent: things, latest values, sets. */
export interface DeviceView {
  things(): DeviceThing[];
  /** The latest reading of each thing, merged field by field. */
  latest(): Reading[];
  /** Applies a set on the device; rejects with a clear error when the driver refuses it. */
  /** `from`: the requester's JID, passed on to the driver. */
  set(thing: string, field: string, value: Value, from?: string): Promise<void>;
  now(): number;
}

interface FieldState { value?: Value; error?: string; timestamp: number }

function stateIndex(view: DeviceView): Map<string, FieldState> {
  const out = new Map<string, FieldState>();
  for (const r of view.latest()) for (const v of r.values) out.set(`${r.thing}.${v.field}`, { value: v.value, error: v.error, timestamp: r.timestamp });
  return out;
}

export function formatValue(v: Value, f: DeviceField): string {
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (typeof v === 'number') return formatNumber(v, f.type === 'int' ? 0 : f.precision);
  return v;
}

/** "22.5 °C, 12 s ago" for a flat field; "failed: no response, 3 s ago"; "no value yet". */
function describeState(st: FieldState | undefined, f: DeviceField, now: number): string {
  if (!st) return 'no value yet';
  const age = formatAge(now - st.timestamp);
  if (st.error !== undefined || st.value === undefined) return `failed: ${st.error ?? 'no value'}, ${age}`;
  const v = formatValue(st.value, f);
  return `${f.unit && typeof st.value === 'number' ? `${v} ${f.unit}` : v}, ${age}`;
}

function thingLabel(t: DeviceThing): string {
  return t.name && t.name !== t.id ? `${t.name} (${t.id})` : t.id;
}

function fieldLabel(t: DeviceThing, f: DeviceField): string {
  return `${t.name ?? t.id} ${f.name}${f.unit ? ` (${f.unit})` : ''}`;
}

/** One flat text field per thing.field: what a client without <reported> tables shows. */
function flatFields(t: DeviceThing, states: Map<string, FieldState>, now: number): FormField[] {
  return t.fields.map((f) => ({ var: `${t.id}.${f.name}`, type: 'text-single', label: fieldLabel(t, f), values: [describeState(states.get(`${t.id}.${f.name}`), f, now)] }));
}

const REPORTED: FormField[] = [
  { var: 'thing', label: 'Thing' }, { var: 'field', label: 'Field' }, { var: 'value', label: 'Value' },
  { var: 'unit', label: 'Unit' }, { var: 'updated', label: 'Updated' },
];

/** `status`: one stage, completed; a <reported>/<item> table and the same as flat fields. */
export function statusCommand(view: DeviceView): Command {
  return {
    node: 'status', name: 'Status of all things', action: 'read',
    execute(): Step {
      const now = view.now();
      const states = stateIndex(view);
      const things = view.things();
      if (!things.length) return { status: 'completed', note: { type: 'info', text: 'This device has no things configured.' } };
      const items: FormField[][] = [];
      for (const t of things) {
        for (const f of t.fields) {
          const st = states.get(`${t.id}.${f.name}`);
          const value = !st ? '' : st.error !== undefined || st.value === undefined ? `failed: ${st.error ?? 'no value'}` : formatValue(st.value, f);
          items.push([
            { var: 'thing', values: [t.id] }, { var: 'field', values: [f.name] }, { var: 'value', values: [value] },
            { var: 'unit', values: [f.unit ?? ''] }, { var: 'updated', values: [st ? formatAge(now - st.timestamp) : 'never'] },
          ]);
        }
      }
      const form: DataForm = { type: 'result', title: 'Status', fields: things.flatMap((t) => flatFields(t, states, now)), reported: REPORTED, items };
      return { status: 'completed', form };
    },
  };
}

/** `read`: pick a thing (list-single), then its values. */
export function readCommand(view: DeviceView): Command {
  return {
    node: 'read', name: 'Read one thing', action: 'read',
    execute(): Step {
      const things = view.things();
      if (!things.length) return { status: 'completed', note: { type: 'info', text: 'This device has no things configured.' } };
      return {
        status: 'executing',
        stage: {
          form: {
            type: 'form', title: 'Read', instructions: ['Pick a thing to read.'],
            fields: [{ var: 'thing', type: 'list-single', label: 'Thing', required: true, values: [things[0]!.id], options: things.map((t) => ({ label: thingLabel(t), value: t.id })) }],
          },
          submit(values): Step {
            const t = view.things().find((x) => x.id === values.get('thing'));
            if (!t) return { status: 'invalid', errors: [`"${String(values.get('thing'))}" is gone; pick another thing`] };
            return { status: 'completed', form: { type: 'result', title: thingLabel(t), fields: flatFields(t, stateIndex(view), view.now()) } };
          },
        },
      };
    },
  };
}

/** The form field for a writable field: its datatype (XEP-0122), range, options, current value. */
export function writableField(t: DeviceThing, f: DeviceField, st: FieldState | undefined): FormField {
  const cur = st?.error === undefined ? st?.value : undefined;
  const field: FormField = { var: `${t.id}.${f.name}`, label: fieldLabel(t, f) };
  switch (f.type) {
    case 'boolean':
      field.type = 'boolean';
      if (typeof cur === 'boolean') field.values = [cur ? '1' : '0'];
      break;
    case 'enum':
      // An enum that does not list its values takes text (the driver checks it).
      if (!f.values?.length) return writableField(t, { ...f, type: 'string' }, st);
      field.type = 'list-single';
      field.options = (f.values ?? []).map((v) => ({ value: v }));
      if (typeof cur === 'string') field.values = [cur];
      break;
    case 'numeric':
    case 'int':
      field.type = 'text-single';
      field.validate = { datatype: f.type === 'int' ? 'xs:integer' : 'xs:decimal' };
      if (f.min !== undefined) field.validate.min = String(f.min);
      if (f.max !== undefined) field.validate.max = String(f.max);
      if (typeof cur === 'number') field.values = [formatNumber(cur, f.type === 'int' ? 0 : f.precision)];
      break;
    default:
      field.type = 'text-single';
      field.validate = { datatype: 'xs:string' };
      if (typeof cur === 'string') field.values = [cur];
  }
  field.desc = `${expectation(field)}${f.unit ? ` (${f.unit})` : ''}`;
  return field;
}

function sameValue(a: FormValue, b: Value | undefined): boolean {
  return b !== undefined && a === b;
}

/** `set`: one executing stage with every writable field; the submit sets what changed. */
export function setCommand(view: DeviceView): Command {
  return {
    node: 'set', name: 'Set writable fields', action: 'control',
    execute(): Step {
      const states = stateIndex(view);
      const targets = view.things().flatMap((t) => t.fields.filter((f) => f.writable).map((f) => ({ t, f })));
      if (!targets.length) return { status: 'completed', note: { type: 'info', text: 'This device has no writable fields.' } };
      const shown = new Map(targets.map(({ t, f }) => [`${t.id}.${f.name}`, { t, f, st: states.get(`${t.id}.${f.name}`) }]));
      return {
        status: 'executing',
        stage: {
          strict: true,
          form: {
            type: 'form', title: 'Set', instructions: ['Change the values to set and submit; values left as they are stay unchanged.'],
            fields: [...shown.values()].map(({ t, f, st }) => writableField(t, f, st)),
          },
          async submit(values, ctx): Promise<Step> {
            // Only what differs from the form as shown is set (clients send every field back).
            const changes: { path: string; t: DeviceThing; f: DeviceField; value: Value }[] = [];
            for (const [path, v] of values) {
              const s = shown.get(path)!;
              const cur = s.st?.error === undefined ? s.st?.value : undefined;
              const value = typeof v === 'number' && s.f.type === 'numeric' && s.f.precision !== undefined ? Number(v.toFixed(s.f.precision)) : v;
              if (Array.isArray(value) || sameValue(value, cur)) continue;
              changes.push({ path, t: s.t, f: s.f, value });
            }
            if (!changes.length) return { status: 'completed', note: { type: 'info', text: 'Nothing changed: every value was already as submitted.' } };
            const done: string[] = [];
            for (const c of changes) {
              try {
                await view.set(c.t.id, c.f.name, c.value, ctx.from);
              } catch (e) {
                const why = `${c.path}: the device refused ${formatValue(c.value, c.f)}: ${(e as Error).message}`;
                // Nothing applied yet: the form again, to fix the value. Some applied: say which.
                if (!done.length) return { status: 'invalid', errors: [why] };
                return { status: 'completed', note: { type: 'error', text: `Set ${done.join(', ')}; then ${why}` } };
              }
              done.push(`${c.path} = ${formatValue(c.value, c.f)}${c.f.unit && typeof c.value === 'number' ? ` ${c.f.unit}` : ''}`);
            }
            return { status: 'completed', note: { type: 'info', text: `Set ${done.join(', ')}.` } };
          },
        },
      };
    },
  };
}
