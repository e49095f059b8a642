// What each common server costs per reading, and how fast the agent logs in to it: xiota vs
// @xmpp/client 0.14 on Prosody 0.12 and 13, ejabberd 23.01 and 24.12, one table, same run.
//   npm run build && node dist/bench/servers.js [labels...]   (default: every installed server)
// Per server: a fresh server from the test harness (scripts/local-*.ts) on 127.0.0.1; login
// (process start to online, median of BENCH_LOGINS fresh processes); then each publisher in
// turn at 100 readings/s and in a burst, measured at a subscriber (bench/publish.ts), with
// the agent's CPU (its own process) and the server's CPU (/proc/PID/stat of the server
// process over the phase) per acknowledged reading.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startEjabberd, ejabberdctlPath, type EjabberdVersion } from '../scripts/local-ejabberd';
import { startProsody, prosodyInstalled, type ProsodyVersion } from '../scripts/local-prosody';
import { pct } from './child';
import { BENCH_USERS, runPublish, type BenchServer, type Kind, type Phase } from './publish';

interface Started extends BenchServer { stop(): Promise<void> }
type Label = 'prosody-0.12' | 'prosody-13' | 'ejabberd-23.01' | 'ejabberd-24.12';
const LABELS: Label[] = ['prosody-0.12', 'prosody-13', 'ejabberd-23.01', 'ejabberd-24.12'];

function installed(label: Label): boolean {
  const [kind, version] = label.split('-') as ['prosody' | 'ejabberd', string];
  return kind === 'prosody' ? prosodyInstalled(version as ProsodyVersion) : ejabberdctlPath(version as EjabberdVersion) !== undefined;
}

async function start(label: Label): Promise<Started> {
  const [kind, version] = label.split('-') as ['prosody' | 'ejabberd', string];
  const users = [...BENCH_USERS, 'bench'].map((user) => ({ user, password: 'benchpass' }));
  if (kind === 'prosody') {
    // Persisted PEP items in Prosody's memory store: the default file store rewrites a node's
    // items on every publish, which would be the bench (see README, Prosody notes).
    return startProsody({ version: version as ProsodyVersion, passwordHash: 'SHA-1', extraConfig: 'storage = { pep_data = "memory" }', users });
  }
  // ejabberd's stock c2s shaper (3000 B/s after a 20 kB burst) would be the bench: off, as
  // the README tells a gateway's deployment to do.
  return startEjabberd({ version: version as EjabberdVersion, shaper: false, users });
}

/** Process start to online of one fresh login child, wall ms (bench/login-child.ts, xmppjs-child.mjs). */
function loginOnce(kind: 'xiota' | 'xmppjs', srv: BenchServer): Promise<number> {
  const t0 = process.hrtime.bigint();
  const args = kind === 'xiota'
    ? [join(__dirname, 'login-child.js'), 'login', String(srv.c2sPort), srv.host, 'bench', 'benchpass', srv.caFile]
    : [join(__dirname, '../../bench/xmppjs-child.mjs'), 'login', String(srv.c2sPort), srv.host, 'bench', 'benchpass'];
  const child = spawn(process.execPath, args, { env: { ...process.env, NODE_EXTRA_CA_CERTS: srv.caFile }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let wall = NaN;
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      if (Number.isNaN(wall) && buf.includes('"online"')) wall = Number(process.hrtime.bigint() - t0) / 1e6;
    });
    child.on('exit', (code) => (code === 0 && !Number.isNaN(wall) ? resolve(wall) : reject(new Error(`${kind} login to ${srv.host}:${srv.c2sPort} exited ${code}`))));
  });
}

const median = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;

export async function main(): Promise<void> {
  const wanted = (process.argv.slice(2).length ? process.argv.slice(2) : LABELS) as Label[];
  const logins = Number(process.env.BENCH_LOGINS ?? 3);
  const phases: Phase[] = [
    { name: '100/s', rate: 100, n: Number(process.env.BENCH_N100 ?? 1000) },
    { name: 'burst', rate: 0, n: Number(process.env.BENCH_BURST ?? 5000) },
  ];
  const kinds: Kind[] = ['xiota', 'xmppjs'];
  const rows: string[][] = [];
  const skipped: string[] = [];
  for (const label of wanted) {
    if (!LABELS.includes(label)) throw new Error(`unknown server ${label}: one of ${LABELS.join(', ')}`);
    if (!installed(label)) { skipped.push(`${label} (not installed: scripts/install-servers.sh)`); continue; }
    const srv = await start(label);
    try {
      const login: Record<'xiota' | 'xmppjs', number[]> = { xiota: [], xmppjs: [] };
      for (let i = 0; i < logins; i++) for (const k of ['xiota', 'xmppjs'] as const) login[k].push(await loginOnce(k, srv));
      process.stderr.write(`${label}: login xiota ${median(login.xiota).toFixed(0)} ms, @xmpp/client ${median(login.xmppjs).toFixed(0)} ms\n`);
      const { res } = await runPublish(srv, phases, kinds);
      const cell = (k: Kind, ph: Phase) => {
        const r = res[ph.name]![k];
        const acked = r.done.acked as number;
        const agentUs = (r.done.cpuUs as number) / Math.max(1, acked);
        const serverUs = r.serverCpuUs !== undefined ? r.serverCpuUs / Math.max(1, acked) : NaN;
        const rate = (acked * 1000) / (r.done.wallMs as number);
        return { agentUs, serverUs, rate, p50: pct(r.latencies, 50), p99: pct(r.latencies, 99), acked };
      };
      rows.push([label, 'login, process start to online (ms)', median(login.xiota).toFixed(0), median(login.xmppjs).toFixed(0)]);
      for (const ph of phases) {
        const a = cell('xiota', ph);
        const b = cell('xmppjs', ph);
        const tag = ph.rate ? `${ph.name} x ${ph.n}` : `burst of ${ph.n}`;
        if (ph.rate) rows.push([label, `${tag}: latency p50 / p99 (ms)`, `${a.p50} / ${a.p99}`, `${b.p50} / ${b.p99}`]);
        else rows.push([label, `${tag}: acked readings/s`, a.rate.toFixed(0), b.rate.toFixed(0)]);
        rows.push([label, `${tag}: agent CPU per reading (µs)`, a.agentUs.toFixed(0), b.agentUs.toFixed(0)]);
        rows.push([label, `${tag}: server CPU per reading (µs)`, a.serverUs.toFixed(0), b.serverUs.toFixed(0)]);
        if (a.acked !== ph.n || b.acked !== ph.n) rows.push([label, `${tag}: readings acked`, String(a.acked), String(b.acked)]);
      }
    } finally {
      await srv.stop();
    }
  }
  const W = [14, 44, 12, 14];
  const line = (c: string[]) => `| ${c.map((v, i) => (i < 2 ? v.padEnd(W[i]!) : v.padStart(W[i]!))).join(' | ')} |`;
  console.log(`\nxiota (as installed, durable outbox) vs @xmpp/client 0.14 (no durability), per server, ${new Date().toISOString()}`);
  console.log('PEP node access_model=open, max_items=100; Prosody: pep_data in memory; ejabberd: stock mnesia, c2s shaper off; STARTTLS, SCRAM-SHA-1, SM on; 2 cores, loopback');
  console.log(line(['server', 'measure', 'xiota', '@xmpp/client']));
  console.log(`|${W.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  if (skipped.length) console.log(`\nnot run: ${skipped.join('; ')}`);
}

if (require.main === module) void main().catch((e) => { console.error(e); process.exit(1); });
