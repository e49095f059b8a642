// A tiny schema DSL for the YAML config. A schema checks an untyped value (what YAML gave us)
// and returns a typed one, reporting every problem as {path, message} into a shared context
// instead of stopping at the first: an operator fixing a config wants the whole list at once.
// Paths are key segments; the loader maps them back to YAML line:col.
//
// Numbers that are out of range but harmless can be clamped with a warning (Prosody's config
// getters do this) instead of failing; each schema says which with `.clamp()`.
import { accessSync, constants, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

export type PathSeg = string | number;
export type Path = readonly PathSeg[];

export interface SchemaIssue {
  path: Path;
  message: string;
  severity: 'error' | 'warning';
  /** 'key' when the problem is the key itself (unknown key), else the value. */
  at: 'key' | 'value';
}

export interface CheckContext {
  issues: SchemaIssue[];
  /** Directory relative file paths are resolved against (the config file's). */
  baseDir: string;
  /** Check that files marked `mustExist` exist and are readable. */
  checkFiles: boolean;
}

export function newContext(baseDir = process.cwd(), checkFiles = true): CheckContext {
  return { issues: [], baseDir, checkFiles };
}

export function error(ctx: CheckContext, path: Path, message: string, at: 'key' | 'value' = 'value'): void {
  ctx.issues.push({ path, message, severity: 'error', at });
}

export function warn(ctx: CheckContext, path: Path, message: string, at: 'key' | 'value' = 'value'): void {
  ctx.issues.push({ path, message, severity: 'warning', at });
}

/** `session.ping_interval_s`, `drivers[0].options.port`. */
export function pathToString(path: Path): string {
  let s = '';
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else s += s === '' ? seg : `.${seg}`;
  }
  return s;
}

/** Marker returned when a value failed its check (the issue is already recorded). */
export const INVALID: unique symbol = Symbol('invalid');
export type Invalid = typeof INVALID;

/** How a value is shown in a message. Secret values are never shown, only their type. */
export function describe(v: unknown, secret = false): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (secret) return `a ${typeof v}`;
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v);
  return String(v);
}

export abstract class Schema<T> {
  /** Shown in "expected ..." messages. */
  abstract readonly expected: string;
  defaultValue?: () => T;
  isOptional = false;
  isSecret = false;

  abstract check(v: unknown, path: Path, ctx: CheckContext): T | Invalid;

  /** Absent (or empty) in YAML → this value. */
  default(v: T | (() => T)): this {
    this.defaultValue = typeof v === 'function' ? (v as () => T) : () => v;
    return this;
  }

  /** Absent in YAML → the key is left out of the result. */
  optional(): Schema<T | undefined> {
    this.isOptional = true;
    return this;
  }

  /** Never echo the value in a message. */
  secret(): this {
    this.isSecret = true;
    return this;
  }

  /** What to write instead, added to this key's own errors (wrong type, missing, empty). */
  advice?: string;
  hint(text: string): this {
    this.advice = text;
    return this;
  }

  /** `msg`, and the advice when there is one. */
  advised(msg: string): string {
    return this.advice ? `${msg}: ${this.advice}` : msg;
  }

  protected wrongType(v: unknown, path: Path, ctx: CheckContext): Invalid {
    error(ctx, path, this.advised(`expected ${this.expected}, got ${describe(v, this.isSecret)}`));
    return INVALID;
  }
}

class StringSchema extends Schema<string> {
  expected = 'a string';
  private pattern?: { re: RegExp; what: string };
  private nonEmpty = true;
  private validator?: (s: string) => string | undefined;
  match(re: RegExp, what: string): this { this.pattern = { re, what }; this.expected = what; return this; }
  allowEmpty(): this { this.nonEmpty = false; return this; }
  /** Extra rule: return a message when the string is wrong. */
  validate(fn: (s: string) => string | undefined): this { this.validator = fn; return this; }
  check(v: unknown, path: Path, ctx: CheckContext): string | Invalid {
    // YAML turns `port: 5222` into a number; a string key given a plain number is almost
    // always meant as text (a status "1"), so accept numbers and format them.
    if (typeof v === 'number' && !this.pattern && !this.isSecret) v = String(v);
    if (typeof v !== 'string') return this.wrongType(v, path, ctx);
    if (this.nonEmpty && v.trim() === '') { error(ctx, path, this.advised('must not be empty')); return INVALID; }
    if (this.pattern && !this.pattern.re.test(v)) return this.wrongType(v, path, ctx);
    const msg = this.validator?.(v);
    if (msg) { error(ctx, path, msg); return INVALID; }
    return v;
  }
}

type NumberKind = 'number' | 'integer' | 'seconds' | 'milliseconds';
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

class NumberSchema extends Schema<number> {
  expected: string;
  private lo?: number;
  private hi?: number;
  private clamps = false;
  constructor(private readonly kind: NumberKind) {
    super();
    this.expected = kind === 'integer' ? 'an integer'
      : kind === 'seconds' ? 'a number of seconds'
      : kind === 'milliseconds' ? 'a number of milliseconds' : 'a number';
  }
  min(n: number): this { this.lo = n; return this; }
  max(n: number): this { this.hi = n; return this; }
  /** Out of range is harmless here: clamp into range and warn instead of failing. */
  clamp(): this { this.clamps = true; return this; }
  check(v: unknown, path: Path, ctx: CheckContext): number | Invalid {
    let n: number | undefined;
    if (typeof v === 'number') n = v;
    else if (typeof v === 'string' && (this.kind === 'seconds' || this.kind === 'milliseconds')) {
      // Duration-ish: "30s", "5m", "200ms", "1.5h" are accepted and converted to the key's unit.
      const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(v);
      if (m) n = (Number(m[1]) * UNIT_MS[m[2]]) / (this.kind === 'seconds' ? 1000 : 1);
      else {
        error(ctx, path, `expected ${this.expected}, got ${describe(v, this.isSecret)} (a duration works too: 200ms, 30s, 5m, 2h, 7d)`);
        return INVALID;
      }
    }
    if (n === undefined || !Number.isFinite(n)) return this.wrongType(v, path, ctx);
    if (this.kind === 'integer' && !Number.isInteger(n)) return this.wrongType(v, path, ctx);
    const range = `${this.lo ?? '-∞'}..${this.hi ?? '∞'}`;
    if ((this.lo !== undefined && n < this.lo) || (this.hi !== undefined && n > this.hi)) {
      if (!this.clamps) {
        error(ctx, path, `${n} is out of range (allowed ${range})`);
        return INVALID;
      }
      const c = Math.min(this.hi ?? Infinity, Math.max(this.lo ?? -Infinity, n));
      warn(ctx, path, `${n} is out of range (allowed ${range}); using ${c}`);
      n = c;
    }
    return n;
  }
}

class BooleanSchema extends Schema<boolean> {
  expected = 'true or false';
  check(v: unknown, path: Path, ctx: CheckContext): boolean | Invalid {
    if (typeof v === 'boolean') return v;
    // YAML 1.2 reads yes/no/on/off as strings; say so rather than guessing.
    if (typeof v === 'string' && /^(yes|no|on|off|y|n)$/i.test(v)) {
      error(ctx, path, `expected true or false, got ${JSON.stringify(v)} (YAML 1.2 reads it as text)`);
      return INVALID;
    }
    return this.wrongType(v, path, ctx);
  }
}

class EnumSchema<E extends string> extends Schema<E> {
  expected: string;
  constructor(private readonly values: readonly E[]) {
    super();
    this.expected = `one of ${values.join(', ')}`;
  }
  check(v: unknown, path: Path, ctx: CheckContext): E | Invalid {
    if (typeof v === 'string' && (this.values as readonly string[]).includes(v)) return v as E;
    const close = typeof v === 'string' ? suggest(v, this.values) : undefined;
    error(ctx, path, `expected ${this.expected}, got ${describe(v, this.isSecret)}${close ? ` (did you mean "${close}"?)` : ''}`);
    return INVALID;
  }
}

class ArraySchema<T> extends Schema<T[]> {
  expected = 'a list';
  private minLen = 0;
  private uniqueField?: string;
  constructor(private readonly item: Schema<T>) { super(); }
  nonEmpty(): this { this.minLen = 1; return this; }
  /** Items are mappings whose `field` must differ; checked on the raw items, so a duplicate
   *  is reported even when other items have errors. */
  unique(field: string): this { this.uniqueField = field; return this; }
  check(v: unknown, path: Path, ctx: CheckContext): T[] | Invalid {
    // A single value where a list is expected is accepted as a list of one.
    const arr = Array.isArray(v) ? v : v !== null && typeof v !== 'object' ? [v] : undefined;
    if (!arr) return this.wrongType(v, path, ctx);
    if (arr.length < this.minLen) { error(ctx, path, 'must not be empty'); return INVALID; }
    const out: T[] = [];
    let bad = false;
    if (this.uniqueField !== undefined) {
      const f = this.uniqueField;
      const seen = new Map<string, number>();
      arr.forEach((item, i) => {
        const k = item !== null && typeof item === 'object' ? (item as Record<string, unknown>)[f] : undefined;
        if (typeof k !== 'string') return;
        const first = seen.get(k);
        if (first === undefined) { seen.set(k, i); return; }
        error(ctx, [...path, i, f], `"${k}" is already used by item ${first}; each ${f} must be unique`);
        bad = true;
      });
    }
    arr.forEach((item, i) => {
      const p = Array.isArray(v) ? [...path, i] : path;
      const r = this.item.check(item, p, ctx);
      if (r === INVALID) bad = true;
      else out.push(r);
    });
    return bad ? INVALID : out;
  }
}

class RecordSchema<T> extends Schema<Record<string, T>> {
  expected = 'a mapping';
  constructor(private readonly item: Schema<T>, private readonly keyRule?: (k: string) => string | undefined) { super(); }
  check(v: unknown, path: Path, ctx: CheckContext): Record<string, T> | Invalid {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return this.wrongType(v, path, ctx);
    const out: Record<string, T> = {};
    let bad = false;
    for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
      const msg = this.keyRule?.(k);
      if (msg) { error(ctx, [...path, k], msg, 'key'); bad = true; continue; }
      const r = this.item.check(item, [...path, k], ctx);
      if (r === INVALID) bad = true;
      else out[k] = r;
    }
    return bad ? INVALID : out;
  }
}

class FileSchema extends Schema<string> {
  expected = 'a file path';
  private exists = false;
  constructor() { super(); }
  /** The file must exist and be readable when the config is checked. */
  mustExist(): this { this.exists = true; return this; }
  check(v: unknown, path: Path, ctx: CheckContext): string | Invalid {
    if (typeof v !== 'string' || v.trim() === '') return this.wrongType(v, path, ctx);
    const full = isAbsolute(v) ? v : resolve(ctx.baseDir, v);
    if (this.exists && ctx.checkFiles) {
      try {
        if (!statSync(full).isFile()) { error(ctx, path, `${v} is not a regular file`); return INVALID; }
        accessSync(full, constants.R_OK);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        error(ctx, path, code === 'ENOENT' ? `file ${v} does not exist` : `cannot read ${v} (${code ?? 'error'})`);
        return INVALID;
      }
    }
    return full;
  }
}

/** Fields of an object schema, in camelCase; the YAML key is the snake_case spelling. */
export type Shape<T> = { [K in keyof T]-?: Schema<T[K]> };

export function snakeCase(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

class ObjectSchema<T extends object> extends Schema<T> {
  expected = 'a mapping';
  private rules: Array<(o: T, path: Path, ctx: CheckContext) => void> = [];
  constructor(private readonly shape: Shape<T>) { super(); }
  /** Cross-field rule run when every field checked out. */
  refine(rule: (o: T, path: Path, ctx: CheckContext) => void): this { this.rules.push(rule); return this; }
  check(v: unknown, path: Path, ctx: CheckContext): T | Invalid {
    // `section:` with nothing under it is an empty section: every field takes its default.
    if (v === null || v === undefined) v = {};
    if (typeof v !== 'object' || Array.isArray(v)) return this.wrongType(v, path, ctx);
    const input = v as Record<string, unknown>;
    const keys = new Map<string, keyof T>();
    for (const k of Object.keys(this.shape) as Array<keyof T>) keys.set(snakeCase(String(k)), k);
    let bad = false;
    for (const k of Object.keys(input)) {
      if (keys.has(k)) continue;
      const close = suggest(k, [...keys.keys()]);
      error(ctx, [...path, k], `unknown key "${k}"${close ? ` (did you mean "${close}"?)` : ''}`, 'key');
      bad = true;
    }
    const out = {} as T;
    for (const [yamlKey, k] of keys) {
      const s = this.shape[k] as Schema<unknown>;
      const raw = input[yamlKey];
      const p = [...path, yamlKey];
      if (raw === undefined || raw === null) {
        if (s.defaultValue) { out[k] = s.defaultValue() as T[keyof T]; continue; }
        if (s.isOptional) continue;
        if (s instanceof ObjectSchema) {
          const r = s.check({}, p, ctx);
          if (r === INVALID) bad = true;
          else out[k] = r as T[keyof T];
          continue;
        }
        error(ctx, p, s.advised(raw === null ? 'needs a value' : 'is required'));
        bad = true;
        continue;
      }
      const r = s.check(raw, p, ctx);
      if (r === INVALID) bad = true;
      else out[k] = r as T[keyof T];
    }
    if (bad) return INVALID;
    const before = ctx.issues.filter((i) => i.severity === 'error').length;
    for (const rule of this.rules) rule(out, path, ctx);
    return ctx.issues.filter((i) => i.severity === 'error').length > before ? INVALID : out;
  }
}

/** Chooses the schema from a value (drivers' `options` by `kind`). */
class CustomSchema<T> extends Schema<T> {
  constructor(readonly expected: string, private readonly fn: (v: unknown, path: Path, ctx: CheckContext) => T | Invalid) { super(); }
  check(v: unknown, path: Path, ctx: CheckContext): T | Invalid { return this.fn(v, path, ctx); }
}

export const s = {
  string: () => new StringSchema(),
  number: () => new NumberSchema('number'),
  integer: () => new NumberSchema('integer'),
  seconds: () => new NumberSchema('seconds'),
  milliseconds: () => new NumberSchema('milliseconds'),
  boolean: () => new BooleanSchema(),
  enum: <E extends string>(values: readonly E[]) => new EnumSchema<E>(values),
  array: <T>(item: Schema<T>) => new ArraySchema<T>(item),
  record: <T>(item: Schema<T>, keyRule?: (k: string) => string | undefined) => new RecordSchema<T>(item, keyRule),
  object: <T extends object>(shape: Shape<T>) => new ObjectSchema<T>(shape),
  file: () => new FileSchema(),
  custom: <T>(expected: string, fn: (v: unknown, path: Path, ctx: CheckContext) => T | Invalid) => new CustomSchema<T>(expected, fn),
};

/**
 * Edit distance (Levenshtein, plus adjacent transpositions counted as one edit, the
 * "optimal string alignment" variant): `levle` is one typo away from `level`, not two.
 */
export function levenshtein(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The closest candidate when it is close enough to be a typo (camelCase spellings too). */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const w = snakeCase(word).toLowerCase().replace(/-/g, '_');
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = levenshtein(w, c.toLowerCase());
    if (d < bestD) { bestD = d; best = c; }
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  return bestD <= limit ? best : undefined;
}
