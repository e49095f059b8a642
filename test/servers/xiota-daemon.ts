// A real `xiota run` for the palette's tests and benches (test/palette, test/node-red,
// bench/node-red.ts): the compiled CLI started the way users start it (the node flags of its
// shebang line, so the daemon runs in V8's lite mode as installed), a YAML config with a
// simulated driver, its local API on a Unix socket in a temp dir, on a Prosody of the caller's
// or one of its own. Counts what the "one connection, one session" promise is about from the
// outside: connections accepted on the API socket (`ss -x`) and XMPP client streams on
// Prosody's c2s port (`ss -t`).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProsody, type ProsodyServer } from '../../scripts/local-prosody';
import { shebangFlags } from '../../bench/rss';
import { removeOnExit, spawnGuarded, tail, type GuardedChild } from './process';

/** The compiled CLI (this file runs from dist/test/servers/). */
export const CLI = join(__dirname, '../../agent/cli/main.js');

/** The default simulated thing: a greenhouse with a temperature ramp and a fan actuator. */
export function greenhouseYaml(rampPeriodS = 20): string {
  return `        - id: greenhouse
          fields:
            - { name: temperature, type: numeric, unit: "°C", precision: 2, waveform: ramp, min: 15, max: 25, period_s: ${rampPeriodS} }
            - { name: fan, type: boolean, writable: true, initial: false }`;
}

export interface XiotaDaemonOptions {
  /** A Prosody to log into; default: one of its own with accounts gw and owner. */
  prosody?: ProsodyServer;
  /** The account (default gw, which an own Prosody has); its password. */
  user?: string;
  password?: string;
  /** The bound resource (default gw). */
  resource?: string;
  /** YAML of the simulated driver's `things:` list, indented by 8 spaces (default greenhouseYaml()). */
  thingsYaml?: string;
  /** YAML lines of the access section, indented by 2 spaces (default: owner@HOST owns it). */
  accessYaml?: string;
  /** The simulated driver's poll interval in seconds (default 1). */
  pollS?: number;
  /** outbox.flush_interval_ms (default: the agent's own default). */
  flushMs?: number;
  /** Extra YAML appended to the config (top-level keys). */
  extraYaml?: string;
  /** Node flags before main.js; default the shebang's (as installed). */
  nodeFlags?: string[];
}

export interface XiotaDaemon {
  prosody: ProsodyServer;
  /** Bare and full JID of its account. */
  jid: string;
  fullJid: string;
  socket: string;
  dir: string;
  logFile: string;
  readonly pid: number;
  log(): string;
  /** Connections the daemon has accepted on its API socket and not yet closed. */
  apiConnections(): number;
  /** Established client TCP streams to Prosody's c2s port (one per XMPP session). */
  c2sStreams(): number;
  /** One JSON-RPC request on a connection of its own (closed after the answer). */
  rpc<T = unknown>(method: string, params?: unknown): Promise<T>;
  /** Stops it (SIGTERM, SIGKILL after 8 s); an own Prosody too. */
  stop(): Promise<void>;
  /** Stops it and starts it again on the same config, state and socket path (Prosody stays). */
  restart(): Promise<void>;
}

const OWN_USERS = [{ user: 'gw', password: 'gw-Pass-5512' }, { user: 'owner', password: 'owner-Pass-1' }];

export async function startXiotaDaemon(o: XiotaDaemonOptions = {}): Promise<XiotaDaemon> {
  const ownProsody = !o.prosody;
  const prosody = o.prosody ?? await startProsody({ users: OWN_USERS });
  const user = o.user ?? 'gw';
  const password = o.password ?? (ownProsody ? OWN_USERS[0]!.password : undefined);
  if (password === undefined) throw new Error('startXiotaDaemon: give the password of the account on the caller\'s Prosody');
  const resource = o.resource ?? 'gw';
  const dir = mkdtempSync(join(tmpdir(), 'xiota-daemon-'));
  removeOnExit(dir);
  const socket = join(dir, 'api.sock');
  const pwFile = join(dir, 'pw');
  writeFileSync(pwFile, password + '\n', { mode: 0o600 });
  const config = join(dir, 'xiota.yaml');
  writeFileSync(config, `account:
  jid: ${user}@${prosody.host}/${resource}
  password_file: ${JSON.stringify(pwFile)}
server:
  host: 127.0.0.1
  port: ${prosody.c2sPort}
tls:
  ca_file: ${JSON.stringify(prosody.caFile)}
outbox:
  dir: ${JSON.stringify(join(dir, 'outbox'))}${o.flushMs !== undefined ? `\n  flush_interval_ms: ${o.flushMs}` : ''}
access:
${o.accessYaml ?? `  owners: [owner@${prosody.host}]`}
pubsub:
  access_model: open
api:
  socket: ${JSON.stringify(socket)}
log:
  format: text
drivers:
  - id: sim
    kind: simulated
    poll_interval_s: ${o.pollS ?? 1}
    options:
      seed: 5
      things:
${o.thingsYaml ?? greenhouseYaml()}
${o.extraYaml ?? ''}`, { mode: 0o600 });
  const logFile = join(dir, 'xiota.log');
  const log = () => readFileSync(logFile, 'utf8');
  const flags = o.nodeFlags ?? shebangFlags(CLI);
  let proc: GuardedChild;
  let starts = 0;
  /** Starts `xiota run` and waits for its n-th "session online" and the socket listening. */
  const run = async () => {
    const n = ++starts;
    proc = spawnGuarded(process.execPath, [...flags, CLI, 'run', '--config', config], logFile, dir);
    try {
      await waitUntil(`xiota run (${user}): session online and the API socket listening`, () => {
        if (!proc.isRunning()) throw new Error(`xiota run exited (code ${proc.child.exitCode})`);
        return (log().match(/session online/g) ?? []).length >= n && listening(socket);
      }, 20_000);
    } catch (e) {
      await proc.terminate('SIGTERM', 8000);
      if (ownProsody) await prosody.stop();
      throw new Error(`${(e as Error).message}\n${tail(logFile, 40)}`);
    }
  };
  await run();
  return {
    prosody,
    jid: `${user}@${prosody.host}`,
    fullJid: `${user}@${prosody.host}/${resource}`,
    socket, dir, logFile,
    get pid() { return proc.pid; },
    log,
    apiConnections: () => unixConnections(socket),
    c2sStreams: () => tcpStreamsTo(prosody.c2sPort),
    rpc: (method, params) => rpcOnce(socket, method, params),
    async stop() {
      await proc.terminate('SIGTERM', 8000);
      if (ownProsody) await prosody.stop();
    },
    async restart() {
      await proc.terminate('SIGTERM', 8000);
      await run();
    },
  };
}

async function waitUntil(what: string, fn: () => boolean, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!fn()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `ss -H ARGS` lines (no header). */
function ss(args: string[]): string[] {
  return execFileSync('ss', ['-H', ...args], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

function listening(path: string): boolean {
  return ss(['-xln']).some((l) => l.split(/\s+/).includes(path));
}

/** Accepted (server-side) connections of a listening Unix socket: `ss -x` lists them with the
 *  socket's path as the local address. */
export function unixConnections(path: string): number {
  return ss(['-xn', 'state', 'connected']).filter((l) => l.split(/\s+/).includes(path)).length;
}

/** Established TCP connections whose peer (destination) port is `port`, seen from the clients. */
export function tcpStreamsTo(port: number): number {
  return ss(['-tn', 'state', 'established', 'dst', `127.0.0.1:${port}`]).length;
}

/** One JSON-RPC 2.0 request over the API socket, one line each way; notifications before the answer are skipped. */
export function rpcOnce<T>(path: string, method: string, params?: unknown, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const s: Socket = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`${method}: no answer on ${path} within ${timeoutMs} ms`)); }, timeoutMs);
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.on('connect', () => s.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method, ...(params !== undefined ? { params } : {}) }) + '\n'));
    s.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) {
        const m = JSON.parse(buf.slice(0, i)) as { id?: unknown; result?: T; error?: { code: number; message: string } };
        if (m.id !== 1) continue; // notifications
        clearTimeout(timer);
        s.end();
        if (m.error) reject(new Error(`${method}: ${m.error.code} ${m.error.message}`));
        else resolve(m.result as T);
        return;
      }
    });
  });
}
