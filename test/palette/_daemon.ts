// A real `xiota run` for the palette's runtime tests: its own account on a shared Prosody, a
// simulated driver from YAML, its local API on a Unix socket in a temp dir. Counts the API
// connections it has accepted from the outside (`ss -x`), which is what "one connection per
// config node" is about.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProsodyServer } from '../../scripts/local-prosody';
import { removeOnExit, spawnGuarded, tail, type GuardedChild } from '../servers/process';
import { waitFor } from '../session/_helpers';

const CLI = join(__dirname, '../../agent/cli/main.js');

export interface DaemonOptions {
  prosody: ProsodyServer;
  user: string;
  password: string;
  resource?: string;
  /** YAML of the simulated driver's `things:` list, indented by 8 spaces. */
  thingsYaml: string;
  /** YAML lines of the access section (indented by 2 spaces). */
  accessYaml: string;
  pollS?: number;
}

export interface Daemon {
  jid: string;
  fullJid: string;
  socket: string;
  log(): string;
  /** Connections the daemon accepted on its API socket and has not closed. */
  apiConnections(): number;
  /** One JSON-RPC request on a connection of its own (closed after the answer). */
  rpc<T = unknown>(method: string, params?: unknown): Promise<T>;
  stop(): Promise<void>;
  /** Stops it (SIGTERM) and starts it again on the same config, state and socket path. */
  restart(): Promise<void>;
}

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-pal-'));
  removeOnExit(dir);
  const socket = join(dir, 'api.sock');
  const pw = join(dir, 'pw');
  writeFileSync(pw, o.password + '\n', { mode: 0o600 });
  const resource = o.resource ?? 'gw';
  const config = join(dir, 'xiota.yaml');
  writeFileSync(config, `account:
  jid: ${o.user}@${o.prosody.host}/${resource}
  password_file: ${JSON.stringify(pw)}
server:
  host: 127.0.0.1
  port: ${o.prosody.c2sPort}
tls:
  ca_file: ${JSON.stringify(o.prosody.caFile)}
outbox:
  dir: ${JSON.stringify(join(dir, 'outbox'))}
  flush_interval_ms: 20
access:
${o.accessYaml}
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
${o.thingsYaml}
`, { mode: 0o600 });
  const logFile = join(dir, 'xiota.log');
  const log = () => readFileSync(logFile, 'utf8');
  let proc: GuardedChild;
  /** Starts `xiota run` and waits for its n-th "session online" and the socket listening. */
  const run = async (n: number) => {
    proc = spawnGuarded(process.execPath, [CLI, 'run', '--config', config], logFile, dir);
    try {
      await waitFor(`xiota run (${o.user}): session online and the API socket listening`, () => {
        if (!proc.isRunning()) throw new Error(`xiota run exited (code ${proc.child.exitCode})`);
        return (log().match(/session online/g) ?? []).length >= n && listeningOn(socket);
      }, 20_000, 50);
    } catch (e) {
      await proc.terminate('SIGTERM', 8000);
      throw new Error(`${(e as Error).message}\n${tail(logFile, 30)}`);
    }
  };
  let starts = 1;
  await run(starts);
  return {
    jid: `${o.user}@${o.prosody.host}`,
    fullJid: `${o.user}@${o.prosody.host}/${resource}`,
    socket,
    log,
    apiConnections: () => unixConnections(socket),
    rpc: (method, params) => rpcOnce(socket, method, params),
    stop: () => proc.terminate('SIGTERM', 8000),
    async restart() {
      await proc.terminate('SIGTERM', 8000);
      await run(++starts);
    },
  };
}

function ss(args: string[]): string[] {
  return execFileSync('ss', ['-H', ...args], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

function listeningOn(path: string): boolean {
  return ss(['-xln']).some((l) => l.split(/\s+/).includes(path));
}

/** Accepted connections of a listening Unix socket: `ss -x` shows them with its path as local address. */
export function unixConnections(path: string): number {
  return ss(['-xn', 'state', 'connected']).filter((l) => l.split(/\s+/).includes(path)).length;
}

/** Established TCP streams to a port, seen from the clients' side (one per XMPP session on c2s). */
export function tcpStreamsTo(port: number): number {
  return ss(['-tn', 'state', 'established', 'dst', `127.0.0.1:${port}`]).length;
}

/** One JSON-RPC 2.0 request, one line each way; notifications before the answer are skipped. */
export function rpcOnce<T>(path: string, method: string, params?: unknown, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let buf = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`${method}: no answer on ${path} within ${timeoutMs} ms`)); }, timeoutMs);
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.on('connect', () => s.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) + '\n'));
    s.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) {
        const m = JSON.parse(buf.slice(0, i)) as { id?: unknown; result?: T; error?: { code: number; message: string } };
        if (m.id !== 1) continue;
        clearTimeout(timer);
        s.end();
        return m.error ? reject(new Error(`${method}: ${m.error.code} ${m.error.message}`)) : resolve(m.result as T);
      }
    });
  });
}
