// Memory of the running agent: peak RSS of `xiota run` with 10 simulated things (1 s poll),
// online to a local Prosody and publishing for ~10 s, vs an idle Node process that only waits
// the same time. Target: the agent at most 12 MiB above idle Node.
//   npx tsc -p . --outDir OUT && node OUT/bench/rss.js      (Linux: reads /proc/PID/status)
// The agent is started the way users start it: the compiled CLI with the node flags of its
// own shebang line (what `xiota run` and examples/xiota.service execute), a YAML config file
// and the password in XIOTA_PASSWORD. A second agent on plain `node main.js run` (no flags)
// runs alongside for comparison. All three processes are measured the same way, from outside:
// VmHWM (peak RSS) in /proc/PID/status just before they are stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { itemsIq, parseItems } from '../agent/xep/pubsub';
import { startProsody, type ProsodyServer } from '../scripts/local-prosody';
import { clientFor, onceOnline } from '../test/session/_helpers';

const RUN_MS = Number(process.env.BENCH_RSS_MS ?? 10_000);
const THINGS = 10;
const MAIN_JS = join(__dirname, '..', 'agent', 'cli', 'main.js');

/** The node flags of main.js's `#!/usr/bin/env -S node FLAGS` line. */
export function shebangFlags(file: string): string[] {
  const first = readFileSync(file, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\S*env(?:\s+-S)?\s+node\b(.*)$/.exec(first);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
}

function configYaml(srv: ProsodyServer, user: string, outboxDir: string): string {
  const fields = [
    '{ name: temperature, type: numeric, unit: "°C", precision: 2, waveform: sine, min: 15, max: 25, period_s: 30, noise: 0.1 }',
    '{ name: humidity, type: numeric, unit: "%", precision: 1, waveform: random, min: 30, max: 70 }',
  ];
  const things = Array.from({ length: THINGS }, (_, i) => `        - id: thing${i}\n          fields:\n${fields.map((f) => `            - ${f}`).join('\n')}`);
  return [
    'account:',
    `  jid: ${user}@${srv.host}`,
    '  password_env: XIOTA_PASSWORD',
    'server:',
    '  host: 127.0.0.1',
    `  port: ${srv.c2sPort}`,
    'tls:',
    `  ca_file: ${srv.caFile}`,
    'outbox:',
    `  dir: ${outboxDir}`,
    'pubsub:',
    '  access_model: open',
    'publish:',
    '  deadband: 0',
    '  min_interval_s: 0',
    'drivers:',
    '  - id: sim',
    '    kind: simulated',
    '    poll_interval_s: 1',
    '    options:',
    '      seed: 1',
    '      things:',
    ...things,
    '',
  ].join('\n');
}

interface Measured { peak: number; rss: number; cpuS: number }

/** VmHWM / VmRSS (kB) and utime+stime of a running process, from /proc. */
function measure(pid: number): Measured {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  // /proc/PID/stat fields 14 and 15 (after the parenthesised name): utime, stime in ticks.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { peak: kb('VmHWM'), rss: kb('VmRSS'), cpuS: (Number(f[11]) + Number(f[12])) / 100 };
}

function exited(p: ChildProcess): Promise<number | null> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve(p.exitCode);
  return new Promise((res) => p.once('exit', (code) => res(code)));
}

interface AgentRun { label: string; proc: ChildProcess; user: string; log: string[] }

function startAgent(label: string, nodeFlags: string[], cfg: string, user: string, password: string): AgentRun {
  const proc = spawn(process.execPath, [...nodeFlags, MAIN_JS, 'run', '--config', cfg], {
    env: { ...process.env, XIOTA_PASSWORD: password },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const run: AgentRun = { label, proc, user, log: [] };
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => run.log.push(...d.split('\n').filter(Boolean)));
  return run;
}

/** Items on the agent's PEP nodes, asked by another account (as test/agent/e2e.matrix.test.ts does). */
async function itemsPublished(srv: ProsodyServer, user: string): Promise<number> {
  const c = clientFor(srv, 'watcher', 'watchpass', { resource: 'bench' });
  void c.start();
  try {
    await onceOnline(c);
    let n = 0;
    for (let i = 0; i < THINGS; i++) n += parseItems(await c.iq(itemsIq(`${user}@${srv.host}`, `urn:xiota:thing${i}`))).length;
    return n;
  } finally {
    await c.stop();
  }
}

export async function main(): Promise<void> {
  const users = [{ user: 'dev', password: 'benchpass' }, { user: 'plain', password: 'benchpass2' }];
  const srv = await startProsody({ users: [...users, { user: 'watcher', password: 'watchpass' }] });
  const dir = mkdtempSync(join(tmpdir(), 'xiota-bench-rss-'));
  const procs: ChildProcess[] = [];
  try {
    // BENCH_XIOTA_FLAGS: try other node flags in place of the shebang's.
    const flags = process.env.BENCH_XIOTA_FLAGS !== undefined ? process.env.BENCH_XIOTA_FLAGS.split(' ').filter(Boolean) : shebangFlags(MAIN_JS);
    const cfgs = users.map((u) => {
      const file = join(dir, `${u.user}.yaml`);
      writeFileSync(file, configYaml(srv, u.user, join(dir, u.user, 'outbox')) /* each agent its own state dir */);
      return file;
    });
    const agents = [
      startAgent('xiota run as installed (node flags of its shebang)', flags, cfgs[0]!, users[0]!.user, users[0]!.password),
      startAgent('xiota run on plain node (no flags)', [], cfgs[1]!, users[1]!.user, users[1]!.password),
    ];
    const idle = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
    procs.push(...agents.map((a) => a.proc), idle);
    await new Promise((res) => setTimeout(res, RUN_MS));
    for (const p of procs) if (p.exitCode !== null) throw new Error(`a bench process exited early (${p.exitCode})\n${agents.map((a) => a.log.join('\n')).join('\n')}`);
    const m = agents.map((a) => measure(a.proc.pid!));
    const i = measure(idle.pid!);
    for (const a of agents) a.proc.kill('SIGTERM');
    idle.kill('SIGKILL');
    const codes = await Promise.all(agents.map((a) => exited(a.proc)));
    const published = await Promise.all(agents.map((a) => itemsPublished(srv, a.user)));

    const mib = (b: number) => (b / 1048576).toFixed(1);
    const row = (a: string, b: string, c: string, d: string) => console.log(`| ${a.padEnd(62)} | ${b.padStart(14)} | ${c.padStart(14)} | ${d.padStart(8)} |`);
    console.log(`\nPeak RSS over ${RUN_MS / 1000} s (VmHWM), ${THINGS} simulated things x 2 fields, 1 s poll; Node ${process.version}`);
    row('process', 'peak RSS (MiB)', 'above idle', 'CPU s');
    console.log(`|${'-'.repeat(64)}|${'-'.repeat(16)}|${'-'.repeat(16)}|${'-'.repeat(10)}|`);
    agents.forEach((a, k) => row(a.label, mib(m[k]!.peak), mib(m[k]!.peak - i.peak), m[k]!.cpuS.toFixed(2)));
    row('idle node -e (waits the same time)', mib(i.peak), '', i.cpuS.toFixed(2));
    console.log(`shebang flags: ${flags.join(' ') || '(none)'}`);
    const diff = m[0]!.peak - i.peak;
    console.log(`target: the installed agent at most 12 MiB above idle node: ${mib(diff)} MiB, ${diff <= 12 * 1048576 ? 'MET' : 'MISSED'}`);
    agents.forEach((a, k) => console.log(`${a.label}: exit ${String(codes[k])}, ${published[k]} items on its ${THINGS} PEP nodes, RSS before stop ${mib(m[k]!.rss)} MiB`));
    for (const [k, a] of agents.entries()) {
      if (codes[k] !== 0 || published[k] === 0) console.log(`${a.label} log:\n${a.log.slice(-20).join('\n')}`);
    }
  } finally {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await Promise.all(procs.map(exited));
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  void main().catch((e) => { console.error(e); process.exit(1); });
}
