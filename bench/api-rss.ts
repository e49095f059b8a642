// The daemon's extra memory for local API clients: three `xiota run` (as installed: the node flags
// of the CLI's shebang) side by side on one Prosody, 10 simulated things at a 1 s poll each:
// API served with no client, API served with 10 clients each subscribed to every reading (and
// reading them), and `api.enabled: false`. Peak (VmHWM) and current RSS from /proc.
//   npm run build && node dist/bench/api-rss.js       (BENCH_RSS_MS, default 15000)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiSocketClient } from '../agent/api/client';
import { startProsody, type ProsodyServer } from '../scripts/local-prosody';
import { shebangFlags } from './rss';

const RUN_MS = Number(process.env.BENCH_RSS_MS ?? 15_000);
const THINGS = 10;
const CLIENTS = 10;
const MAIN_JS = join(__dirname, '..', 'agent', 'cli', 'main.js');

function yaml(srv: ProsodyServer, user: string, dir: string, api: string): string {
  const things = Array.from({ length: THINGS }, (_, i) => `        - id: thing${i}
          fields:
            - { name: temperature, type: numeric, unit: "°C", precision: 2, waveform: sine, min: 15, max: 25, period_s: 30, noise: 0.1 }
            - { name: humidity, type: numeric, unit: "%", precision: 1, waveform: random, min: 30, max: 70 }`).join('\n');
  return `account: { jid: ${user}@${srv.host}, password_env: XIOTA_PASSWORD }
server: { host: 127.0.0.1, port: ${srv.c2sPort} }
tls: { ca_file: ${JSON.stringify(srv.caFile)} }
outbox: { dir: ${JSON.stringify(join(dir, 'outbox'))} }
pubsub: { access_model: open }
publish: { deadband: 0, min_interval_s: 0 }
api: ${api}
drivers:
  - id: sim
    kind: simulated
    poll_interval_s: 1
    options:
      seed: 1
      things:
${things}
`;
}

function measure(pid: number): { peak: number; rss: number; cpuS: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { peak: kb('VmHWM'), rss: kb('VmRSS'), cpuS: (Number(f[11]) + Number(f[12])) / 100 };
}

async function until(what: string, fn: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function main(): Promise<void> {
  const users = ['noclient', 'clients', 'noapi'];
  const srv = await startProsody({ users: users.map((u) => ({ user: u, password: `${u}-pass` })) });
  const root = mkdtempSync(join(tmpdir(), 'xiota-bench-api-'));
  const procs: ChildProcess[] = [];
  const clients: ApiSocketClient[] = [];
  try {
    const flags = shebangFlags(MAIN_JS);
    const runs = users.map((u) => {
      const dir = join(root, u);
      const sock = join(dir, 'api.sock');
      const cfg = join(root, `${u}.yaml`);
      writeFileSync(cfg, yaml(srv, u, dir, u === 'noapi' ? '{ enabled: false }' : `{ socket: ${JSON.stringify(sock)} }`));
      const log: string[] = [];
      const proc = spawn(process.execPath, [...flags, MAIN_JS, 'run', '--config', cfg], { env: { ...process.env, XIOTA_PASSWORD: `${u}-pass` }, stdio: ['ignore', 'ignore', 'pipe'] });
      proc.stderr!.setEncoding('utf8').on('data', (d: string) => log.push(...d.split('\n').filter(Boolean)));
      procs.push(proc);
      return { u, sock, proc, log };
    });
    for (const r of runs) await until(`${r.u} online`, () => r.log.some((l) => /session online/.test(l)), 20_000);
    let notes = 0;
    const target = runs[1]!;
    for (let i = 0; i < CLIENTS; i++) {
      const c = await ApiSocketClient.connect(target.sock, { notification: (m) => { if (m === 'reading') notes++; } });
      await c.call('subscribe', {});
      clients.push(c);
    }
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, RUN_MS));
    const m = runs.map((r) => measure(r.proc.pid!));
    const status = await clients[0]!.call<{ api: { clients: number; subscriptions: number; dropped: number } }>('agent.status');
    const mib = (b: number) => (b / 1048576).toFixed(1);
    const row = (a: string, b: string, c: string, d: string, e: string) => console.log(`| ${a.padEnd(44)} | ${b.padStart(14)} | ${c.padStart(14)} | ${d.padStart(12)} | ${e.padStart(8)} |`);
    console.log(`\nxiota run as installed (${flags.join(' ')}), ${THINGS} simulated things x 2 fields at a 1 s poll, ${RUN_MS / 1000} s; Node ${process.version}`);
    row('daemon', 'peak RSS (MiB)', 'RSS now (MiB)', 'vs no client', 'CPU s');
    console.log(`|${'-'.repeat(46)}|${'-'.repeat(16)}|${'-'.repeat(16)}|${'-'.repeat(14)}|${'-'.repeat(10)}|`);
    const labels = ['API served, no client', `API served, ${CLIENTS} clients subscribed to all`, 'api.enabled: false'];
    runs.forEach((_, k) => row(labels[k]!, mib(m[k]!.peak), mib(m[k]!.rss), k === 0 ? '' : `${m[k]!.peak >= m[0]!.peak ? '+' : ''}${mib(m[k]!.peak - m[0]!.peak)}`, m[k]!.cpuS.toFixed(2)));
    const secs = (Date.now() - t0) / 1000;
    console.log(`${CLIENTS} clients got ${notes} reading notifications in ${secs.toFixed(0)} s (${(notes / secs / CLIENTS).toFixed(1)}/s each); daemon reports ${status.api.clients} clients, ${status.api.subscriptions} subscriptions, ${status.api.dropped} dropped`);
  } finally {
    for (const c of clients) c.close();
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode !== null || p.signalCode !== null ? undefined : new Promise((r) => p.once('exit', r)))));
    await srv.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

if (require.main === module) {
  void main().catch((e) => { console.error(e); process.exit(1); });
}
