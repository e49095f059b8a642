// The other end of the palette's tests and benches: a real Prosody and a real `xiota run`
// daemon serving its local API on a Unix socket (agent/api/PROTOCOL.md), with a simulated
// greenhouse (a temperature sensor and a fan actuator). Counts what the "one connection,
// one session" promise is about from the outside: connections accepted on the API socket
// (`ss -x`) and XMPP client streams on Prosody's c2s port (`ss -t`).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProsody, type ProsodyServer } from '../../scripts/local-prosody';
import { removeOnExit, spawnGuarded, tail, type GuardedChild } from '../servers/process';
import { REPO, until } from './_nodered';

export const CLI = join(REPO, 'dist/agent/cli/main.js');
const PASS = 'gw-Pass-5512';

export interface AgentOptions {
  /** Simulated poll interval in seconds (default 1). */
  pollS?: number;
  /** Period of the temperature's 15-25 °C ramp in seconds (default 20). */
  rampPeriodS?: number;
  /** Extra YAML appended to the config (top-level keys). */
  extraYaml?: string;
  /** An existing Prosody to log into (default: start one). */
  prosody?: ProsodyServer;
}

export interface RunningAgent {
  prosody: ProsodyServer;
  jid: string;
  socket: string;
  dir: string;
  logFile: string;
  readonly pid: number;
  log(): string;
  /** Connections the daemon has accepted on its API socket and not yet closed. */
  apiConnections(): number;
  /** Established client TCP streams to Prosody's c2s port (one per XMPP session). */
  c2sStreams(): number;
  /** One JSON-RPC request on a fresh connection (closed after the answer). */
  rpc<T = unknown>(method: string, params?: unknown): Promise<T>;
  stop(): Promise<void>;
}

export async function startAgent(opts: AgentOptions = {}): Promise<RunningAgent> {
  const ownProsody = !opts.prosody;
  const prosody = opts.prosody ?? await startProsody({ users: [{ user: 'gw', password: PASS }, { user: 'owner', password: 'owner-Pass-1' }] });
  const dir = mkdtempSync(join(tmpdir(), 'xiota-nr-agent-'));
  removeOnExit(dir);
  const socket = join(dir, 'api.sock');
  const pwFile = join(dir, 'pw');
  writeFileSync(pwFile, PASS + '\n', { mode: 0o600 });
  const config = join(dir, 'xiota.yaml');
  writeFileSync(config, `account:
  jid: gw@${prosody.host}
  password_file: ${JSON.stringify(pwFile)}
server:
  host: 127.0.0.1
  port: ${prosody.c2sPort}
tls:
  ca_file: ${JSON.stringify(prosody.caFile)}
outbox:
  dir: ${JSON.stringify(join(dir, 'outbox'))}
access:
  owners: [owner@${prosody.host}]
pubsub:
  access_model: open
api:
  socket: ${JSON.stringify(socket)}
log:
  format: text
drivers:
  - id: sim
    kind: simulated
    poll_interval_s: ${opts.pollS ?? 1}
    options:
      seed: 5
      things:
        - id: greenhouse
          fields:
            - { name: temperature, type: numeric, unit: "°C", precision: 2, waveform: ramp, min: 15, max: 25, period_s: ${opts.rampPeriodS ?? 20} }
            - { name: fan, type: boolean, writable: true, initial: false }
${opts.extraYaml ?? ''}`, { mode: 0o600 });
  const logFile = join(dir, 'xiota.log');
  const proc: GuardedChild = spawnGuarded(process.execPath, [CLI, 'run', '--config', config], logFile, dir);
  const log = () => readFileSync(logFile, 'utf8');
  const describe = () => tail(logFile, 40);
  const stopAll = async () => {
    await proc.terminate('SIGTERM', 8000);
    if (ownProsody) await prosody.stop();
  };
  try {
    await until('xiota run: session online and the API socket listening', () => {
      if (!proc.isRunning()) throw new Error(`xiota run exited (code ${proc.child.exitCode}).\n${describe()}`);
      return /session online/.test(log()) && listening(socket);
    }, 20_000, 50, describe);
  } catch (e) {
    await stopAll();
    throw e;
  }
  const agent: RunningAgent = {
    prosody, jid: `gw@${prosody.host}`, socket, dir, logFile,
    get pid() { return proc.pid; },
    log,
    apiConnections: () => unixConnections(socket),
    c2sStreams: () => tcpStreamsTo(prosody.c2sPort),
    rpc: (method, params) => rpcOnce(socket, method, params),
    stop: stopAll,
  };
  return agent;
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

/** One JSON-RPC 2.0 request over the API socket, one line each way. */
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
