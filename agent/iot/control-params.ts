// XEP-0325 control, the pure half: `<set>` -> typed parameters, each parameter -> the thing and
// field it names and the driver value it sets, and the form of the writable fields (XEP-0004
// with XEP-0122 datatypes, XEP-0336 notSame). agent/xep/control.ts does the access check, the
// driver calls and the answers.
//
// Naming: a parameter name is a field name; with `<node nodeId>` elements it applies to each
// listed thing (XEP-0325 'Controlling devices behind a concentrator'), without them it must be
// the name of exactly one writable field of the device, or `thing.field`.
import { Element, x } from '../xml/element';
import { StanzaError } from '../session/stanza';
import type { FieldSpec, ThingSpec, Value } from '../../drivers/types';
import { buildForm, NS_DATA, readSubmission, type FormField, type FormValue } from '../xep/forms';

export const NS_CONTROL = 'urn:xmpp:iot:control';
export const NS_XDATA_DYNAMIC = 'urn:xmpp:xdata:dynamic';

/** XEP-0325 schema: the parameter elements of `set`. */
export const PARAM_TYPES = ['boolean', 'color', 'date', 'dateTime', 'double', 'duration', 'int', 'long', 'string', 'time'] as const;
export type ParamType = typeof PARAM_TYPES[number];

export interface ControlParam {
  type: ParamType;
  name: string;
  /** The typed value: booleans and numbers as such, the rest as canonical text. */
  value: boolean | number | string;
}

/** XEP-0325 paramError: one parameter that was not set, and why. */
export interface ParamError { var: string; message: string }

export interface ParsedSet {
  nodes: string[];
  params: ControlParam[];
  /** A submitted control form (XEP-0325 'Setting a (partial) control form'). */
  form?: Element;
  /** Parameters whose value does not parse as their type. */
  errors: ParamError[];
}

export interface SetLimits { maxParams: number; maxNameLength: number }
export const DEFAULT_SET_LIMITS: SetLimits = { maxParams: 256, maxNameLength: 256 };

const INT_RE = /^[+-]?\d+$/;
const DOUBLE_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const ZONE = '(Z|[+-](0\\d|1[0-4]):[0-5]\\d)?';
const DATE_RE = new RegExp(`^-?\\d{4,}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])${ZONE}$`);
const TIME_RE = new RegExp(`^([01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(\\.\\d+)?${ZONE}$`);
const DATETIME_RE = new RegExp(`^-?\\d{4,}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])T([01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(\\.\\d+)?${ZONE}$`);
const DURATION_RE = /^-?P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$/;
const COLOR_RE = /^[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$/;

/** One parameter's text as its XEP-0325 type (XML Schema lexical spaces). Pure. */
export function parseParamValue(type: ParamType, raw: string): { ok: true; value: boolean | number | string } | { ok: false; error: string } {
  const s = type === 'string' ? raw : raw.trim();
  switch (type) {
    case 'boolean':
      if (s === 'true' || s === '1') return { ok: true, value: true };
      if (s === 'false' || s === '0') return { ok: true, value: false };
      return { ok: false, error: `"${clip(raw)}" is not an xs:boolean: use true or false` };
    case 'int':
    case 'long': {
      if (!INT_RE.test(s)) return { ok: false, error: `"${clip(raw)}" is not an xs:${type}: use digits, like 42` };
      const b = BigInt(s);
      const [lo, hi] = type === 'int' ? [-(2n ** 31n), 2n ** 31n - 1n] : [-(2n ** 63n), 2n ** 63n - 1n];
      if (b < lo || b > hi) return { ok: false, error: `${s} is out of range for xs:${type} (${lo} to ${hi})` };
      if (b > BigInt(Number.MAX_SAFE_INTEGER) || b < BigInt(Number.MIN_SAFE_INTEGER)) {
        return { ok: false, error: `${s} is out of range for this device: it keeps integers exactly up to ±${Number.MAX_SAFE_INTEGER}` };
      }
      return { ok: true, value: Number(b) };
    }
    case 'double':
      if (s === 'INF') return { ok: true, value: Infinity };
      if (s === '-INF') return { ok: true, value: -Infinity };
      if (s === 'NaN') return { ok: true, value: NaN };
      if (!DOUBLE_RE.test(s)) return { ok: false, error: `"${clip(raw)}" is not an xs:double: write it like 21.5` };
      return { ok: true, value: Number(s) };
    case 'color':
      if (!COLOR_RE.test(s)) return { ok: false, error: `"${clip(raw)}" is not a color: use RRGGBB or RRGGBBAA in hex, like 3399FF` };
      return { ok: true, value: s.toUpperCase() };
    case 'date':
      if (!DATE_RE.test(s) || !validDay(s)) return { ok: false, error: `"${clip(raw)}" is not an xs:date: write it like 2013-03-07` };
      return { ok: true, value: s };
    case 'time':
      if (!TIME_RE.test(s)) return { ok: false, error: `"${clip(raw)}" is not an xs:time: write it like 13:45:00` };
      return { ok: true, value: s };
    case 'dateTime':
      if (!DATETIME_RE.test(s) || !validDay(s)) return { ok: false, error: `"${clip(raw)}" is not an xs:dateTime: write it like 2013-03-07T13:45:00Z` };
      return { ok: true, value: s };
    case 'duration':
      if (!DURATION_RE.test(s)) return { ok: false, error: `"${clip(raw)}" is not an xs:duration: write it like PT1H30M` };
      return { ok: true, value: s };
    case 'string':
      return { ok: true, value: s };
  }
}

function clip(s: string): string {
  return s.length > 40 ? s.slice(0, 40) + '…' : s;
}

function validDay(s: string): boolean {
  const m = /^(-?\d{4,})-(\d\d)-(\d\d)/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1]!;
  return d <= days;
}

function bad(text: string): StanzaError {
  return new StanzaError('bad-request', text, { type: 'modify' });
}

/** XEP-0325 schema `set`: nodes, typed parameters (or a submitted form), or a bad-request. Pure. */
export function parseSet(set: Element, limits: SetLimits = DEFAULT_SET_LIMITS): ParsedSet | StanzaError {
  const out: ParsedSet = { nodes: [], params: [], errors: [] };
  const children = set.elements;
  if (children.length > limits.maxParams * 2) return bad(`the set carries ${children.length} elements; send at most ${limits.maxParams} parameters at a time`);
  for (const c of children) {
    if (c.name === 'x' && c.xmlns === NS_DATA) {
      if (out.form) return bad('a set carries at most one data form');
      out.form = c;
      continue;
    }
    if (c.xmlns !== NS_CONTROL) continue; // foreign extensions are ignored
    if (c.name === 'node') {
      const id = c.attrs.nodeId;
      if (!id) return bad('a node element needs a nodeId attribute');
      if (!out.nodes.includes(id)) out.nodes.push(id);
      continue;
    }
    if (!(PARAM_TYPES as readonly string[]).includes(c.name)) {
      return bad(`<${c.name}/> is not a XEP-0325 parameter type: use one of ${PARAM_TYPES.join(', ')}`);
    }
    const name = c.attrs.name;
    if (!name) return bad(`a <${c.name}/> parameter needs a name attribute`);
    if (name.length > limits.maxNameLength) return bad(`a parameter name is ${name.length} characters long; at most ${limits.maxNameLength}`);
    if (c.attrs.value === undefined) return bad(`parameter "${clip(name)}" has no value attribute`);
    if (out.params.length >= limits.maxParams) return bad(`more than ${limits.maxParams} parameters in one set: split it`);
    const v = parseParamValue(c.name as ParamType, c.attrs.value);
    if (!v.ok) out.errors.push({ var: name, message: v.error });
    else out.params.push({ type: c.name as ParamType, name, value: v.value });
  }
  if (!out.form && out.params.length === 0 && out.errors.length === 0) return bad('the set has no parameters: send e.g. <boolean name=\'relay\' value=\'true\'/>');
  if (out.form && (out.params.length || out.errors.length)) return bad('send either typed parameters or a data form, not both');
  return out;
}

export interface Target { thing: ThingSpec; field: FieldSpec }

/** The things in scope: those listed in `<node>`s, or all; item-not-found for unknown ones. */
export function scopeThings(nodes: readonly string[], things: readonly ThingSpec[]): ThingSpec[] | StanzaError {
  if (!nodes.length) return [...things];
  const unknown = nodes.filter((n) => !things.some((t) => t.id === n));
  if (unknown.length) return new StanzaError('item-not-found', `no node ${unknown.map((u) => JSON.stringify(u)).join(', ')}: this device has ${things.map((t) => t.id).join(', ')}`);
  return nodes.map((n) => things.find((t) => t.id === n)!);
}

/** The fields a parameter name sets: one per thing in scope that has it; `thing.field` works too. */
export function resolve(name: string, scope: readonly ThingSpec[], explicitNodes: boolean): Target[] | string {
  const direct = scope.flatMap((t) => t.fields.filter((f) => f.name === name).map((f) => ({ thing: t, field: f })));
  if (explicitNodes) {
    if (direct.length === scope.length) return direct;
    const missing = scope.filter((t) => !t.fields.some((f) => f.name === name)).map((t) => t.id);
    return `no parameter "${clip(name)}" on ${missing.join(', ')}`;
  }
  if (direct.length === 1) return direct;
  const dot = name.lastIndexOf('.');
  if (direct.length === 0 && dot > 0) {
    const t = scope.find((s) => s.id === name.slice(0, dot));
    const f = t?.fields.find((ff) => ff.name === name.slice(dot + 1));
    if (t && f) return [{ thing: t, field: f }];
  }
  if (direct.length > 1) return `"${clip(name)}" is a field of ${direct.map((d) => d.thing.id).join(' and ')}: name it thing.field (${direct[0]!.thing.id}.${name}) or add <node nodeId='...'/>`;
  const writable = scope.flatMap((t) => t.fields.filter((f) => f.writable).map((f) => `${t.id}.${f.name}`));
  return `no parameter "${clip(name)}": the writable fields are ${writable.join(', ') || 'none'}`;
}

/** Which parameter types each driver field type takes. */
const TAKES: Record<FieldSpec['type'], readonly ParamType[]> = {
  boolean: ['boolean'],
  numeric: ['double', 'int', 'long'],
  int: ['int', 'long', 'double'],
  // Dates, times, durations and colours have no driver type of their own: a string field holds their text.
  string: ['string', 'date', 'time', 'dateTime', 'duration', 'color'],
  enum: ['string'],
};

export type Range = { min?: number; max?: number } | undefined;

/** The driver value a typed parameter sets on a field, or what is wrong with it. Pure. */
export function toFieldValue(p: { type: ParamType; value: boolean | number | string }, t: Target, range?: Range): { ok: true; value: Value } | { ok: false; error: string } {
  const f = t.field;
  const path = `${t.thing.id}.${f.name}`;
  if (!f.writable) return { ok: false, error: `${path} is read-only` };
  if (!TAKES[f.type]?.includes(p.type)) return { ok: false, error: `invalid parameter type: ${path} takes ${TAKES[f.type]?.join(' or ') ?? 'nothing'}, not ${p.type}` };
  const v = p.value;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return { ok: false, error: `invalid parameter value: ${path} takes a finite number, not ${v}` };
    if (f.type === 'int' && !Number.isInteger(v)) return { ok: false, error: `invalid parameter value: ${path} takes an integer, not ${v}` };
    if (range && ((range.min !== undefined && v < range.min) || (range.max !== undefined && v > range.max))) {
      return { ok: false, error: `invalid parameter value: ${path} takes ${range.min ?? '-∞'} to ${range.max ?? '∞'}, not ${v}` };
    }
  }
  if (f.type === 'enum' && f.values && !f.values.includes(String(v))) return { ok: false, error: `invalid parameter value: ${path} takes one of ${f.values.join(', ')}, not "${clip(String(v))}"` };
  return { ok: true, value: v };
}

/** The form variable of a field: its name when unique among the things in scope, else thing.field. */
export function varOf(t: Target, scope: readonly ThingSpec[]): string {
  const n = scope.filter((s) => s.fields.some((f) => f.name === t.field.name && f.writable)).length;
  return n > 1 ? `${t.thing.id}.${t.field.name}` : t.field.name;
}

/** The form field of one writable field: XEP-0122 datatype and range, options, current value. */
export function formField(t: Target, scope: readonly ThingSpec[], current: Value | undefined, range?: Range): FormField {
  const f = t.field;
  const label = `${t.thing.name ?? t.thing.id}: ${f.name}${f.unit ? ` (${f.unit})` : ''}`;
  const base: FormField = { var: varOf(t, scope), label };
  const cur = current === undefined ? [] : [typeof current === 'boolean' ? (current ? 'true' : 'false') : String(current)];
  const rng = range ? { min: range.min !== undefined ? String(range.min) : undefined, max: range.max !== undefined ? String(range.max) : undefined } : {};
  switch (f.type) {
    case 'boolean': return { ...base, type: 'boolean', values: cur };
    case 'enum': return { ...base, type: 'list-single', values: cur, options: (f.values ?? []).map((v) => ({ value: v })) };
    case 'numeric': return { ...base, type: 'text-single', values: cur, validate: { datatype: 'xs:double', ...rng } };
    case 'int': return { ...base, type: 'text-single', values: cur, validate: { datatype: 'xs:long', ...rng } };
    default: return { ...base, type: 'text-single', values: cur, validate: { datatype: 'xs:string' } };
  }
}

/** XEP-0325 'Getting a control form': every parameter marked notSame (XEP-0336), as the spec requires. */
export function controlForm(title: string, fields: FormField[]): Element {
  const form = buildForm({ type: 'form', title, fields });
  for (const fe of form.getChildren('field')) fe.append(x('notSame', { xmlns: NS_XDATA_DYNAMIC }));
  return form;
}

/** A submitted control form -> parameters (typed as the field's datatype says), and errors. */
export function formParams(submitted: Element, fields: readonly FormField[]): { params: ControlParam[]; errors: ParamError[] } {
  const sub = readSubmission(submitted, fields);
  const params: ControlParam[] = [];
  const errors: ParamError[] = sub.errors.map((e) => ({ var: e.var, message: e.message }));
  for (const u of sub.unknown) if (u !== 'xdd session') errors.push({ var: u, message: `no parameter "${clip(u)}" in the control form` });
  for (const [name, v] of sub.values) {
    const f = fields.find((ff) => ff.var === name)!;
    params.push({ name, value: formValue(v), type: paramTypeOf(f, v) });
  }
  return { params, errors };
}

function formValue(v: FormValue): boolean | number | string {
  return Array.isArray(v) ? v.join('\n') : v;
}

function paramTypeOf(f: FormField, v: FormValue): ParamType {
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'number') return f.validate?.datatype === 'xs:double' ? 'double' : 'long';
  return 'string';
}
