// Loading xiota.yaml: parse with the `yaml` package keeping node ranges, check the whole
// document with the schema, and map each issue's key path back to a line:col so the operator
// reads `xiota.yaml:12:5: session.ping_interval_s: expected a number of seconds, got "often"`.
// All issues are collected; none stops the others from being found.
import { readFileSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import type { LineCounter, Document, Node } from 'yaml';
import { newContext, pathToString, SchemaIssue, Path, INVALID, CheckContext } from './schema';
import { configSchema } from './config-schema';
import type { Config, ConfigIssue, LoadResult } from './types';
import { applyOverrides, CliFlags, OverrideSource } from './cli-args';

type YamlModule = typeof import('yaml');

/**
 * The `yaml` package is the largest thing the agent loads (about 3 MiB of RSS once compiled)
 * and is needed only while a config file is read: it is required on first use, and
 * releaseConfigParser() lets a long-running daemon drop it again once its config is loaded.
 */
function yaml(): YamlModule {
  return require('yaml') as YamlModule;
}

/**
 * Drop the `yaml` package from the module cache so its code and data can be garbage
 * collected; a later loadConfig() loads it again. The daemon calls this after startup.
 */
export function releaseConfigParser(): void {
  let dir: string;
  try {
    dir = dirname(require.resolve('yaml/package.json')) + sep;
  } catch {
    return;
  }
  for (const id of Object.keys(require.cache)) {
    if (id.startsWith(dir)) delete require.cache[id];
  }
  // The parent's children list holds the module objects too.
  const self = require.cache[__filename];
  if (self) self.children = self.children.filter((m) => !m.id.startsWith(dir));
}

export interface LoadOptions {
  /** Environment for XIOTA_PASSWORD and friends; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Command-line flags that override the file. */
  overrides?: CliFlags;
  /** Check that referenced files (ca_file, client_cert...) exist; default true. */
  checkFiles?: boolean;
}

export interface FromObjectOptions {
  /** Directory relative paths are resolved against; default the working directory. */
  baseDir?: string;
  checkFiles?: boolean;
}

/** Check a config given as a plain object (YAML-shaped: snake_case keys). */
export function configFromObject(obj: unknown, opts: FromObjectOptions = {}): LoadResult {
  const ctx = newContext(opts.baseDir ?? process.cwd(), opts.checkFiles ?? true);
  const config = configSchema.check(obj, [], ctx);
  return toResult(config === INVALID ? undefined : config, ctx, () => undefined);
}

/**
 * Read, parse and check a config file. With `path` undefined the config comes from the
 * override flags alone (`xiota check --jid a@b --server host:port`).
 */
export function loadConfig(path: string | undefined, opts: LoadOptions = {}): LoadResult {
  const env = opts.env ?? process.env;
  let raw: unknown = {};
  let doc: Document | undefined;
  const Y = path !== undefined ? yaml() : undefined;
  const lc = Y ? new Y.LineCounter() : undefined;
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  if (path !== undefined) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const what = code === 'ENOENT' ? 'does not exist; `xiota init` writes a starter config' : `cannot be read (${code ?? String(e)})`;
      return { errors: [{ path: '', message: `config file ${path} ${what}` }], warnings: [] };
    }
    // prettyErrors off: the pretty form quotes the source line, which may hold a secret.
    doc = Y!.parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
    for (const e of doc.errors) errors.push({ path: '', ...linePos(lc!, e.pos[0]), message: `YAML syntax: ${firstLine(e.message)}` });
    for (const w of doc.warnings) warnings.push({ path: '', ...linePos(lc!, w.pos[0]), message: `YAML: ${firstLine(w.message)}` });
    if (errors.length) return { errors, warnings };
    try {
      raw = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      return { errors: [{ path: '', message: `YAML: ${firstLine((e as Error).message)}` }], warnings };
    }
  }
  let sources = new Map<string, OverrideSource>();
  if (opts.overrides) {
    const applied = applyOverrides(raw, opts.overrides, env);
    raw = applied.raw;
    sources = applied.sources;
  }
  if (path === undefined && !opts.overrides?.jid) {
    return { errors: [{ path: '', message: 'no config file found (tried ./xiota.yaml and /etc/xiota/xiota.yaml); give --config FILE, or --jid and --server, or run `xiota init`' }], warnings: [] };
  }
  const ctx = newContext(path !== undefined ? dirname(resolve(path)) : process.cwd(), opts.checkFiles ?? true);
  const config = configSchema.check(raw, [], ctx);
  const r = toResult(config === INVALID ? undefined : config, ctx, (issue) => {
    const flag = sourceOf(sources, issue.path);
    if (flag) return { flag };
    return doc && lc ? locate(doc, lc, issue.path, issue.at) : undefined;
  });
  r.errors.unshift(...errors);
  r.warnings.unshift(...warnings);
  return r;
}

type Where = { line?: number; col?: number; flag?: string } | undefined;

function toResult(config: Config | undefined, ctx: CheckContext, where: (i: SchemaIssue) => Where): LoadResult {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  for (const i of ctx.issues) {
    const w = where(i);
    const issue: ConfigIssue = { path: pathToString(i.path), message: w?.flag ? `${i.message} (from ${w.flag})` : i.message };
    if (w?.line !== undefined) { issue.line = w.line; issue.col = w.col; }
    (i.severity === 'error' ? errors : warnings).push(issue);
  }
  const byLine = (a: ConfigIssue, b: ConfigIssue) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.col ?? 0) - (b.col ?? 0);
  errors.sort(byLine);
  warnings.sort(byLine);
  return errors.length === 0 && config ? { config, errors, warnings } : { errors, warnings };
}

/** `file:line:col: path: message`, one per line, in the compiler style editors jump to. */
export function formatIssues(file: string, issues: readonly ConfigIssue[], label = ''): string {
  return issues.map((i) => {
    const where = i.line !== undefined ? `${file}:${i.line}:${i.col ?? 1}` : file;
    return `${where}: ${label ? label + ': ' : ''}${i.path ? i.path + ': ' : ''}${i.message}`;
  }).join('\n');
}

function firstLine(s: string): string {
  return s.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}

function linePos(lc: LineCounter, offset: number | undefined): { line?: number; col?: number } {
  if (offset === undefined) return {};
  const p = lc.linePos(offset);
  return { line: p.line, col: p.col };
}

function sourceOf(sources: Map<string, OverrideSource>, path: Path): string | undefined {
  for (let n = path.length; n > 0; n--) {
    const hit = sources.get(pathToString(path.slice(0, n)));
    if (hit) return hit.flag;
  }
  return undefined;
}

/**
 * Where a path is in the document: the key itself for unknown keys, else the value; for a
 * key that is missing, the nearest key above it that exists.
 */
export function locate(doc: Document, lc: LineCounter, path: Path, at: 'key' | 'value'): { line: number; col: number } | undefined {
  const { isAlias, isMap, isPair, isScalar, isSeq } = yaml();
  let node: unknown = doc.contents;
  let last: number | undefined = (doc.contents as Node | null)?.range?.[0];
  let lastKey: number | undefined;
  for (let i = 0; i < path.length; i++) {
    if (isAlias(node)) node = node.resolve(doc);
    const seg = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyString(p.key) === String(seg));
      if (!pair) { last = lastKey ?? last; break; }
      const keyStart = (pair.key as Node | null)?.range?.[0];
      lastKey = keyStart;
      if (i === path.length - 1 && at === 'key') { last = keyStart; break; }
      const value = pair.value as Node | null;
      // `key:` with nothing after it has a zero-width value node; point at the key instead.
      last = value?.range && !(isScalar(value) && value.value === null) ? value.range[0] : keyStart;
      node = value;
    } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      node = node.items[seg];
      last = (node as Node | null)?.range?.[0] ?? last;
      lastKey = last;
    } else {
      break;
    }
  }
  if (last === undefined) return undefined;
  const p = lc.linePos(last);
  return { line: p.line, col: p.col };
}

function keyString(k: unknown): string | undefined {
  if (yaml().isScalar(k)) return String(k.value);
  return typeof k === 'string' ? k : undefined;
}
