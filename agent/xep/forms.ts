// XEP-0004 data forms and XEP-0122 data forms validation, pure: build a form (form, result,
// submit, cancel; every field type; <reported>/<item> tables), parse one, and read a submitted
// form against the fields we asked for into typed values, with one error per field saying what
// is expected. Ad-hoc commands (XEP-0050), control (XEP-0325) and PubSub configuration use it.
//
// XEP-0122 9 (form submissions): "Form processors MUST NOT assume that a form with validation
// has actually been validated when submitted": no client here enforces <range> (Profanity and
// poezio sent 99 for a 5-30 field), so everything is checked again on the device.
import { Element, x } from '../xml/element';

export const NS_DATA = 'jabber:x:data';
export const NS_XDATA_VALIDATE = 'http://jabber.org/protocol/xdata-validate';

export type FormType = 'form' | 'submit' | 'cancel' | 'result';
const FORM_TYPES: readonly FormType[] = ['form', 'submit', 'cancel', 'result'];

/** XEP-0004 3.3 field types. */
export type FieldType = 'boolean' | 'fixed' | 'hidden' | 'jid-multi' | 'jid-single' | 'list-multi' | 'list-single' | 'text-multi' | 'text-private' | 'text-single';
const FIELD_TYPES: readonly FieldType[] = ['boolean', 'fixed', 'hidden', 'jid-multi', 'jid-single', 'list-multi', 'list-single', 'text-multi', 'text-private', 'text-single'];

export interface FieldOption { label?: string; value: string }

/** XEP-0122 3: datatype (default xs:string), one method, and for list-multi a selection range. */
export interface Validation {
  datatype?: string;
  /** XEP-0122 3.2; `range` and `regex` are implied by min/max and regex. */
  method?: 'basic' | 'open' | 'range' | 'regex';
  min?: string;
  max?: string;
  regex?: string;
  /** XEP-0122 3.3 <list-range/>: how many values a list-multi takes. */
  listMin?: number;
  listMax?: number;
}

export interface FormField {
  /** Required for every type except fixed (XEP-0004 3.2). */
  var?: string;
  /** Absent means text-single (XEP-0004 3.2). */
  type?: FieldType;
  label?: string;
  desc?: string;
  required?: boolean;
  values?: string[];
  options?: FieldOption[];
  validate?: Validation;
}

export interface DataForm {
  type: FormType;
  title?: string;
  instructions?: string[];
  fields: FormField[];
  /** XEP-0004 3.4: the table header of a result, and its rows. */
  reported?: FormField[];
  items?: FormField[][];
}

/** A submitted value, typed by field type and datatype. Dates, times and durations stay ISO text. */
export type FormValue = string | number | boolean | string[];

export class FormError extends Error {
  override readonly name = 'FormError';
}

// ---------- building ----------

export function buildField(f: FormField): Element {
  const el = x('field', { var: f.var, type: f.type, label: f.label });
  if (f.desc) el.append(x('desc', null, f.desc));
  if (f.required) el.append(x('required'));
  if (f.validate) el.append(buildValidate(f.validate));
  for (const v of f.values ?? []) el.append(x('value', null, v));
  for (const o of f.options ?? []) el.append(x('option', { label: o.label }, x('value', null, o.value)));
  return el;
}

function buildValidate(v: Validation): Element {
  const el = x('validate', { xmlns: NS_XDATA_VALIDATE, datatype: v.datatype });
  if (v.min !== undefined || v.max !== undefined) el.append(x('range', { min: v.min, max: v.max }));
  else if (v.regex !== undefined) el.append(x('regex', null, v.regex));
  else if (v.method === 'open') el.append(x('open'));
  else if (v.method === 'basic') el.append(x('basic'));
  if (v.listMin !== undefined || v.listMax !== undefined) el.append(x('list-range', { min: v.listMin, max: v.listMax }));
  return el;
}

/** XEP-0004 3.1: <x xmlns='jabber:x:data' type=...> in the schema's order (title, instructions, fields, reported, items). */
export function buildForm(form: DataForm): Element {
  const el = x('x', { xmlns: NS_DATA, type: form.type });
  if (form.title !== undefined) el.append(x('title', null, form.title));
  for (const i of form.instructions ?? []) el.append(x('instructions', null, i));
  for (const f of form.fields) el.append(buildField(f));
  if (form.reported) el.append(x('reported', null, ...form.reported.map(buildField)));
  for (const row of form.items ?? []) el.append(x('item', null, ...row.map(buildField)));
  return el;
}

/** A submit form with FORM_TYPE first (XEP-0068), as PubSub configuration sends it. */
export function submitForm(formType: string, fields: [string, string | string[]][]): Element {
  return buildForm({
    type: 'submit',
    fields: [{ var: 'FORM_TYPE', type: 'hidden', values: [formType] },
      ...fields.map(([k, v]) => ({ var: k, values: Array.isArray(v) ? v : [v] }))],
  });
}

// ---------- parsing ----------

function parseField(el: Element): FormField {
  const type = el.attrs.type;
  const f: FormField = {};
  if (el.attrs.var !== undefined) f.var = el.attrs.var;
  if (type !== undefined) {
    if (!(FIELD_TYPES as readonly string[]).includes(type)) throw new FormError(`field "${el.attrs.var ?? ''}" has unknown type "${type}"; expected one of ${FIELD_TYPES.join(', ')}`);
    f.type = type as FieldType;
  }
  if (el.attrs.label !== undefined) f.label = el.attrs.label;
  const desc = el.getChildText('desc', NS_DATA);
  if (desc !== undefined) f.desc = desc;
  if (el.getChild('required', NS_DATA)) f.required = true;
  const values = el.getChildren('value', NS_DATA).map((v) => v.text());
  if (values.length) f.values = values;
  const options = el.getChildren('option', NS_DATA).map((o) => ({ label: o.attrs.label, value: o.getChildText('value', NS_DATA) ?? '' }));
  if (options.length) f.options = options.map((o) => (o.label === undefined ? { value: o.value } : o));
  const v = el.getChild('validate', NS_XDATA_VALIDATE);
  if (v) f.validate = parseValidate(v);
  return f;
}

function parseValidate(el: Element): Validation {
  const v: Validation = {};
  if (el.attrs.datatype) v.datatype = el.attrs.datatype;
  const range = el.getChild('range', NS_XDATA_VALIDATE);
  const regex = el.getChild('regex', NS_XDATA_VALIDATE);
  if (range) {
    v.method = 'range';
    if (range.attrs.min !== undefined) v.min = range.attrs.min;
    if (range.attrs.max !== undefined) v.max = range.attrs.max;
  } else if (regex) {
    v.method = 'regex';
    v.regex = regex.text();
  } else if (el.getChild('open', NS_XDATA_VALIDATE)) v.method = 'open';
  else if (el.getChild('basic', NS_XDATA_VALIDATE)) v.method = 'basic';
  const lr = el.getChild('list-range', NS_XDATA_VALIDATE);
  if (lr?.attrs.min !== undefined) v.listMin = Number(lr.attrs.min);
  if (lr?.attrs.max !== undefined) v.listMax = Number(lr.attrs.max);
  return v;
}

/** Parses a jabber:x:data element; throws FormError when it is not one or its type is unknown. */
export function parseForm(el: Element): DataForm {
  if (!el.is('x', NS_DATA)) throw new FormError(`expected <x xmlns='${NS_DATA}'>, got <${el.name} xmlns='${el.xmlns}'>`);
  const type = el.attrs.type;
  if (!type || !(FORM_TYPES as readonly string[]).includes(type)) throw new FormError(`data form type "${type ?? ''}" is not one of ${FORM_TYPES.join(', ')} (XEP-0004 3.1)`);
  const form: DataForm = { type: type as FormType, fields: el.getChildren('field', NS_DATA).map(parseField) };
  const title = el.getChildText('title', NS_DATA);
  if (title !== undefined) form.title = title;
  const instructions = el.getChildren('instructions', NS_DATA).map((i) => i.text());
  if (instructions.length) form.instructions = instructions;
  const reported = el.getChild('reported', NS_DATA);
  if (reported) form.reported = reported.getChildren('field', NS_DATA).map(parseField);
  const items = el.getChildren('item', NS_DATA);
  if (items.length) form.items = items.map((i) => i.getChildren('field', NS_DATA).map(parseField));
  return form;
}

/** The FORM_TYPE hidden field's value (XEP-0068), if any. */
export function formTypeOf(form: DataForm): string | undefined {
  return form.fields.find((f) => f.var === 'FORM_TYPE')?.values?.[0];
}

// ---------- XEP-0122 datatypes ----------

interface Parsed { value: FormValue; /** Comparable key for <range/>, absent when the type has no order. */ key?: number | bigint }
interface Datatype { describe: string; parse(s: string): Parsed | undefined }

const INT_RE = /^[+-]?\d+$/;
const DECIMAL_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;
const DOUBLE_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const TZ = '(Z|[+-](?:(?:0\\d|1[0-3]):[0-5]\\d|14:00))?';
const DATE_RE = new RegExp(`^(-?\\d{4,})-(\\d{2})-(\\d{2})${TZ}$`);
const TIME_RE = new RegExp(`^(\\d{2}):(\\d{2}):(\\d{2}(?:\\.\\d+)?)${TZ}$`);
const DATETIME_RE = new RegExp(`^(-?\\d{4,})-(\\d{2})-(\\d{2})T(\\d{2}):(\\d{2}):(\\d{2}(?:\\.\\d+)?)${TZ}$`);
const DURATION_RE = /^(-)?P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?!$)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
const LANGUAGE_RE = /^[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*$/;

function integer(describe: string, lo?: bigint, hi?: bigint): Datatype {
  return {
    describe,
    parse(s) {
      if (!INT_RE.test(s)) return undefined;
      const b = BigInt(s);
      if ((lo !== undefined && b < lo) || (hi !== undefined && b > hi)) return undefined;
      // A typed number must be exact: beyond 2^53 the text would not survive the round trip.
      if (b > BigInt(Number.MAX_SAFE_INTEGER) || b < BigInt(Number.MIN_SAFE_INTEGER)) return undefined;
      return { value: Number(b), key: b };
    },
  };
}

function daysIn(year: number, month: number): number {
  return month === 2 ? ((year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function tzMinutes(tz: string | undefined): number {
  if (!tz || tz === 'Z') return 0;
  const sign = tz[0] === '-' ? -1 : 1;
  return sign * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6)));
}

function validDate(y: number, mo: number, d: number): boolean {
  return mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(y, mo);
}

// XSD 3.2.7: 24:00:00 is allowed as the end of a day.
function validTime(h: number, mi: number, s: number): boolean {
  return (h < 24 && mi < 60 && s < 60) || (h === 24 && mi === 0 && s === 0);
}

// Durations order partially in XSD (P1M vs P30D); for <range/> they are compared by their
// length in seconds with months of 30.436875 days, which matches XSD wherever XSD orders them.
const DAY = 86_400;
const MONTH = 30.436875 * DAY;

const DATATYPES: Record<string, Datatype> = {
  'xs:string': { describe: 'text', parse: (s) => ({ value: s }) },
  'xs:boolean': {
    describe: 'a boolean (true/false or 1/0)',
    parse: (s) => (s === 'true' || s === '1' ? { value: true } : s === 'false' || s === '0' ? { value: false } : undefined),
  },
  'xs:integer': integer('an integer'),
  'xs:long': integer('an integer (xs:long)', -(2n ** 63n), 2n ** 63n - 1n),
  'xs:int': integer('an integer from -2147483648 to 2147483647 (xs:int)', -(2n ** 31n), 2n ** 31n - 1n),
  'xs:short': integer('an integer from -32768 to 32767 (xs:short)', -32768n, 32767n),
  'xs:byte': integer('an integer from -128 to 127 (xs:byte)', -128n, 127n),
  'xs:nonNegativeInteger': integer('an integer of 0 or more', 0n),
  'xs:positiveInteger': integer('an integer of 1 or more', 1n),
  'xs:unsignedInt': integer('an integer from 0 to 4294967295 (xs:unsignedInt)', 0n, 2n ** 32n - 1n),
  'xs:unsignedShort': integer('an integer from 0 to 65535 (xs:unsignedShort)', 0n, 65535n),
  'xs:unsignedByte': integer('an integer from 0 to 255 (xs:unsignedByte)', 0n, 255n),
  'xs:decimal': {
    describe: 'a decimal number such as 21.5',
    parse: (s) => (DECIMAL_RE.test(s) ? { value: Number(s), key: Number(s) } : undefined),
  },
  // XSD also allows INF, -INF and NaN; a device setting has no use for them, so they are refused.
  'xs:double': {
    describe: 'a number such as 21.5 or 2.15E1',
    parse: (s) => (DOUBLE_RE.test(s) && Number.isFinite(Number(s)) ? { value: Number(s), key: Number(s) } : undefined),
  },
  'xs:date': {
    describe: 'a date as YYYY-MM-DD',
    parse(s) {
      const m = DATE_RE.exec(s);
      if (!m || !validDate(Number(m[1]), Number(m[2]), Number(m[3]))) return undefined;
      return { value: s, key: Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) - tzMinutes(m[4]) * 60_000 };
    },
  },
  'xs:dateTime': {
    describe: 'a date and time as YYYY-MM-DDThh:mm:ss with an optional Z or ±hh:mm',
    parse(s) {
      const m = DATETIME_RE.exec(s);
      if (!m) return undefined;
      const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
      if (!validDate(y, mo, d) || !validTime(h, mi, sec)) return undefined;
      return { value: s, key: Date.UTC(y, mo - 1, d, h, mi) + sec * 1000 - tzMinutes(m[7]) * 60_000 };
    },
  },
  'xs:time': {
    describe: 'a time of day as hh:mm:ss',
    parse(s) {
      const m = TIME_RE.exec(s);
      if (!m) return undefined;
      const [h, mi, sec] = [Number(m[1]), Number(m[2]), Number(m[3])];
      if (!validTime(h, mi, sec)) return undefined;
      return { value: s, key: h * 3600 + mi * 60 + sec - tzMinutes(m[4]) * 60 };
    },
  },
  'xs:duration': {
    describe: 'a duration such as PT30S, PT5M or P1DT2H',
    parse(s) {
      const m = DURATION_RE.exec(s);
      if (!m || s.endsWith('T')) return undefined;
      const n = (i: number) => Number(m[i] ?? 0);
      const secs = n(2) * 12 * MONTH + n(3) * MONTH + n(4) * DAY + n(5) * 3600 + n(6) * 60 + n(7);
      return { value: s, key: m[1] ? -secs : secs };
    },
  },
  'xs:language': { describe: 'a language tag such as en or pt-BR', parse: (s) => (LANGUAGE_RE.test(s) ? { value: s } : undefined) },
  'xs:anyURI': { describe: 'a URI', parse: (s) => (/\s/.test(s) ? undefined : { value: s }) },
};

/** Datatypes this module checks; any other is validated as xs:string (XEP-0122 5.1). */
export const KNOWN_DATATYPES = Object.keys(DATATYPES);

function datatypeOf(v: Validation | undefined): Datatype {
  return DATATYPES[v?.datatype ?? 'xs:string'] ?? DATATYPES['xs:string']!;
}

// ---------- reading a submission ----------

export interface FieldError {
  /** The field's var ('' for a form-level problem). */
  var: string;
  /** What was wrong and what to send instead, naming the field by label and var. */
  message: string;
}

export interface Submission {
  /** Typed values of the fields that were submitted (absent fields are not here). */
  values: Map<string, FormValue>;
  errors: FieldError[];
  /** Submitted vars that the form did not ask for (ignored unless the caller refuses them). */
  unknown: string[];
}

function nameOf(f: FormField): string {
  return f.label && f.label !== f.var ? `"${f.label}" (${f.var})` : `"${f.var}"`;
}

function quote(s: string): string {
  return JSON.stringify(s.length > 40 ? s.slice(0, 40) + '…' : s);
}

/** What a field takes, in words: "a decimal number such as 21.5 from 5 to 30". */
export function expectation(f: FormField): string {
  const v = f.validate;
  const type = f.type ?? 'text-single';
  if (type === 'boolean') return 'on/off: true, false, 1 or 0';
  if ((type === 'list-single' || type === 'list-multi') && v?.method !== 'open') {
    const opts = (f.options ?? []).map((o) => o.value).join(', ');
    return type === 'list-single' ? `one of: ${opts}` : `any of: ${opts}`;
  }
  if (type === 'jid-single' || type === 'jid-multi') return 'a JID such as user@example.org';
  let s = datatypeOf(v).describe;
  if (v?.min !== undefined && v.max !== undefined) s += ` from ${v.min} to ${v.max}`;
  else if (v?.min !== undefined) s += ` of at least ${v.min}`;
  else if (v?.max !== undefined) s += ` of at most ${v.max}`;
  if (v?.regex !== undefined) s += ` matching ${v.regex}`;
  return s;
}

// RFC 7622 structure: [local@]domain[/resource], no spaces, nothing empty.
const JID_RE = /^(?:[^@/\s"&'<>:]+@)?[^@/\s]+(?:\/\S.*)?$/;

function checkOne(f: FormField, raw: string): { value?: FormValue; error?: string } {
  const v = f.validate;
  const type = f.type ?? 'text-single';
  const bad = () => ({ error: `${nameOf(f)}: expected ${expectation(f)}, got ${quote(raw)}` });
  if (type === 'boolean') {
    const b = DATATYPES['xs:boolean']!.parse(raw.trim());
    return b ? { value: b.value } : bad();
  }
  if (type === 'jid-single' || type === 'jid-multi') return JID_RE.test(raw.trim()) ? { value: raw.trim() } : bad();
  if ((type === 'list-single' || type === 'list-multi') && v?.method !== 'open' && !(f.options ?? []).some((o) => o.value === raw)) return bad();
  // Numbers and dates are read trimmed (XSD whitespace collapse); text is kept as sent.
  const dt = datatypeOf(v);
  const text = dt === DATATYPES['xs:string'] ? raw : raw.trim();
  const p = dt.parse(text);
  if (!p) return bad();
  if (v?.min !== undefined || v?.max !== undefined) {
    if (p.key === undefined) throw new FormError(`field "${f.var}": datatype ${v.datatype ?? 'xs:string'} has no order for <range/>`);
    const bound = (b: string | undefined) => {
      if (b === undefined) return undefined;
      const k = dt.parse(b)?.key;
      if (k === undefined) throw new FormError(`field "${f.var}": range bound "${b}" is not ${dt.describe}`);
      return k;
    };
    const lo = bound(v.min);
    const hi = bound(v.max);
    if ((lo !== undefined && p.key < lo) || (hi !== undefined && p.key > hi)) return bad();
  }
  if (v?.regex !== undefined && !new RegExp(`^(?:${v.regex})$`, 'u').test(text)) return bad();
  return { value: p.value };
}

const MULTI: readonly FieldType[] = ['list-multi', 'jid-multi', 'text-multi'];

/**
 * Reads a submitted form against the fields we asked for. Fixed fields, <instructions>,
 * echoed <validate> and FORM_TYPE are ignored (poezio echoes them all); vars we did not ask
 * for are listed in `unknown`. A `formType` given must match the submitted FORM_TYPE when one
 * is present. Nothing is thrown for bad input: every problem is an entry in `errors`.
 */
export function readSubmission(submitted: Element, spec: readonly FormField[], opts: { formType?: string } = {}): Submission {
  const out: Submission = { values: new Map(), errors: [], unknown: [] };
  let form: DataForm;
  try {
    form = parseForm(submitted);
  } catch (e) {
    out.errors.push({ var: '', message: (e as Error).message });
    return out;
  }
  if (form.type !== 'submit') {
    out.errors.push({ var: '', message: `expected a submitted form (type "submit"), got type "${form.type}"` });
    return out;
  }
  const byVar = new Map(spec.filter((f) => f.var !== undefined && f.type !== 'fixed').map((f) => [f.var!, f]));
  const seen = new Set<string>();
  for (const sub of form.fields) {
    if (sub.var === undefined || sub.type === 'fixed') continue;
    if (sub.var === 'FORM_TYPE') {
      const got = sub.values?.[0];
      if (opts.formType !== undefined && got !== undefined && got !== opts.formType) out.errors.push({ var: 'FORM_TYPE', message: `this form is ${opts.formType}, not ${got}` });
      continue;
    }
    const f = byVar.get(sub.var);
    if (!f) {
      // A fixed field of ours echoed back with its var is not unknown.
      if (!spec.some((s) => s.var === sub.var)) out.unknown.push(sub.var);
      continue;
    }
    if (seen.has(sub.var)) {
      out.errors.push({ var: sub.var, message: `${nameOf(f)} was sent twice; send it once` });
      continue;
    }
    seen.add(sub.var);
    const type = f.type ?? 'text-single';
    const raws = sub.values ?? [];
    if (!MULTI.includes(type)) {
      if (raws.length > 1) {
        out.errors.push({ var: f.var!, message: `${nameOf(f)}: expected one value, got ${raws.length}` });
        continue;
      }
      // An empty value is "not given" except for plain text, where it clears the field.
      const plainText = (type === 'text-single' || type === 'text-private' || type === 'hidden') && datatypeOf(f.validate) === DATATYPES['xs:string'];
      if (raws.length === 0 || (raws[0]!.trim() === '' && !plainText)) continue;
      const r = checkOne(f, raws[0]!);
      if (r.error) out.errors.push({ var: f.var!, message: r.error });
      else out.values.set(f.var!, r.value!);
      continue;
    }
    if (type === 'text-multi') {
      // XEP-0004 3.3: one line per <value/>; XEP-0122 3.2.2: <open/> checks each line on its own.
      const bad = f.validate?.datatype ? raws.map((r) => checkOne({ ...f, type: 'text-single' }, r)).find((r) => r.error) : undefined;
      if (bad) out.errors.push({ var: f.var!, message: bad.error! });
      else out.values.set(f.var!, raws.join('\n'));
      continue;
    }
    const vals: string[] = [];
    let failed = false;
    for (const raw of raws) {
      const r = checkOne(f, raw);
      if (r.error) {
        out.errors.push({ var: f.var!, message: r.error });
        failed = true;
        break;
      }
      vals.push(String(r.value));
    }
    if (failed) continue;
    const { listMin, listMax } = f.validate ?? {};
    if ((listMin !== undefined && vals.length < listMin) || (listMax !== undefined && vals.length > listMax)) {
      out.errors.push({ var: f.var!, message: `${nameOf(f)}: choose ${listMin ?? 0} to ${listMax ?? 'any number of'} values, got ${vals.length}` });
      continue;
    }
    out.values.set(f.var!, vals);
  }
  for (const f of byVar.values()) {
    const got = out.values.get(f.var!);
    const empty = got === undefined || got === '' || (Array.isArray(got) && got.length === 0);
    if (f.required && empty && !out.errors.some((e) => e.var === f.var)) {
      out.errors.push({ var: f.var!, message: `${nameOf(f)} is required: give ${expectation(f)}` });
    }
  }
  return out;
}
