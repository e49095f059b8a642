// Publishing readings: xiota's full agent pipeline vs @xmpp/client 0.14, same Prosody, same run.
//   npx tsc -p . --outDir OUT && node OUT/bench/publish.js      (from the repo root)
// Each publisher is its own process (bench/publish-child.ts, bench/publish-xmppjs-child.mjs)
// with its own account and PEP node (access_model open, max_items 100). A subscriber in this
// process (xiota's XmppClient) subscribes to both nodes and measures sample -> notification:
// receive Date.now() minus the sample time carried in the item id (ms, one clock, one
// machine). xiota makes every reading durable first (outbox, fdatasync batched every
// flush_interval_ms); @xmpp/client publishes straight away with no durability.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XmppClient } from '../agent/session/client';
import { x } from '../agent/xml/element';
import { DEFAULT_WINDOW } from '../agent/publish/pipeline';
import { parsePubSubEvent, publishIq, subscribeIq } from '../agent/xep/pubsub';
import { parseFields, readingToFields } from '../agent/xep/sensordata-fields';
import { startProsody } from '../scripts/local-prosody';
import { createNodeIq, configureNodeIq } from '../agent/xep/pubsub';

/** What the bench needs of a server (Prosody or ejabberd from the test harness). */
export interface BenchServer { host: string; c2sPort: number; caFile: string; readonly pid: number | undefined }
import { shebangFlags } from './rss';
import { pct, spawnJsonChild, type Child, type Line } from './child';

/** xiota16: xiota as installed with publish.max_readings_per_item 16 (waiting readings share an item). */
/** base16: xiota16 from another build (BENCH_BASE_DIST=its dist dir): before/after in one run. */
export type Kind = 'xiota' | 'xiota-jit' | 'xiota16' | 'xmppjs' | 'base16';
const ALL_KINDS: Kind[] = ['xiota', 'xiota-jit', 'xiota16', 'xmppjs'];
/** BENCH_KINDS=xiota,xiota16,xmppjs: a subset (the table shows the rest as n/a). */
const KINDS: Kind[] = process.env.BENCH_KINDS ? (process.env.BENCH_KINDS.split(',') as Kind[]) : ALL_KINDS;

const LAT_DUMP = process.env.BENCH_LAT_DUMP;
const FLUSH_MS = 200; // the shipped default flush_interval_ms
/** BENCH_XIOTA_PLAIN=1: plain node instead of the CLI's shebang flags (to see what they cost); BENCH_XIOTA_FLAGS: others. */
const XIOTA_FLAGS = process.env.BENCH_XIOTA_PLAIN ? []
  : process.env.BENCH_XIOTA_FLAGS !== undefined ? process.env.BENCH_XIOTA_FLAGS.split(' ').filter(Boolean) // other flags to try
    : shebangFlags(join(__dirname, '..', 'agent', 'cli', 'main.js'));
const NODE = 'urn:xiota:bench';

function mjsPath(name: string): string {
  // Compiled to dist/bench (the repo's build) or to any --outDir: find the source bench dir.
  for (const p of [join(__dirname, '../../bench', name), join(process.cwd(), 'bench', name)]) if (existsSync(p)) return p;
  throw new Error(`${name} not found: run from the repository root`);
}

function spawnChild(kind: Kind, srv: BenchServer): Child {
  const host = srv.host;
  let args: string[];
  if (kind !== 'xmppjs') {
    // base16 logs in as 'xiota' (that kind's account; do not run both).
    const child = kind === 'base16' ? join(process.env.BENCH_BASE_DIST ?? '', 'bench', 'publish-child.js') : join(__dirname, 'publish-child.js');
    const user = kind === 'xiota-jit' ? 'xiotajit' : kind === 'base16' ? 'xiota' : kind;
    args = [child, String(srv.c2sPort), host, user, 'benchpass', srv.caFile, String(FLUSH_MS)];
  } else {
    // The same payload xiota's serializer makes; the child clones it per reading.
    const thing = { id: 'bench', fields: [{ name: 'temperature', type: 'numeric' as const, unit: '°C', precision: 2 }] };
    const payload = readingToFields({ thing: 'bench', timestamp: Date.now(), values: [{ field: 'temperature', value: 20 }] }, thing);
    const config = { maxItems: 100, accessModel: 'open' as const };
    const first = publishIq({ node: NODE, itemId: 'warmup', payload, publishOptions: config }).getChildren()[0]!;
    // Where publish-options are refused (ejabberd), the child creates and configures the node
    // by hand, as a careful @xmpp/client user would.
    const create = createNodeIq(undefined, NODE).getChildren()[0]!;
    const configure = configureNodeIq(undefined, NODE, config).getChildren()[0]!;
    // It paces with our compiled publish-pace.js and bursts with our pipeline's window.
    args = [mjsPath('publish-xmppjs-child.mjs'), String(srv.c2sPort), host, 'xmppjs', 'benchpass', NODE, first.toString(), payload.toString(), join(__dirname, 'publish-pace.js'), String(DEFAULT_WINDOW), create.toString(), configure.toString()];
  }
  // BENCH_NODE_ARGS: extra node flags for both children (e.g. --cpu-prof to profile them).
  const nodeArgs = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : [];
  // xiota runs with the node flags `xiota run` ships with (its shebang), as users run it.
  if (kind === 'xiota' || kind === 'xiota16' || kind === 'base16') nodeArgs.unshift(...XIOTA_FLAGS);
  // 'xiota-jit': the same agent on plain node (full JIT; what `node .../main.js run` gets).
  const merge = kind === 'xiota16' ? { BENCH_MAX_READINGS: '16' } : kind === 'base16' ? { BENCH_MAX_READINGS: '16', BENCH_TRACE_LABEL: 'base16', ...(process.env.BENCH_BASE_HISTORY ? { BENCH_HISTORY: process.env.BENCH_BASE_HISTORY } : {}) } : {};
  return spawnJsonChild(kind, [...nodeArgs, ...args], { ...process.env, NODE_EXTRA_CA_CERTS: srv.caFile, ...merge });
}


export interface Phase { name: string; rate: number; n: number }
export interface Result { done: Line; latencies: number[]; /** server CPU over the phase, µs (from /proc) */ serverCpuUs?: number }
export const BENCH_USERS = ['xiota', 'xiotajit', 'xiota16', 'xmppjs', 'sub'];

/** CPU time (user + system, µs) the process `pid` has used, from /proc/PID/stat. */
export function processCpuUs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime) in clock ticks; Linux's USER_HZ is 100.
    return (Number(f[11]) + Number(f[12])) * 10_000;
  } catch {
    return undefined;
  }
}

/**
 * Runs `phases` for each publisher kind, one after another, against `srv` (accounts
 * BENCH_USERS registered), measured at a subscriber; server CPU per phase from /proc.
 */
export async function runPublish(srv: BenchServer, phases: Phase[], kinds: Kind[] = KINDS): Promise<{ res: Record<string, Record<Kind, Result>>; flushMs: number }> {
  const children: Child[] = [];
  const sub = new XmppClient({ jid: `sub@${srv.host}`, resource: 'sub', credentials: { username: 'sub', password: 'benchpass' }, server: { host: '127.0.0.1', port: srv.c2sPort }, tls: { caFile: srv.caFile } });
  try {
    await sub.connectOnce();
    // Available presence: ejabberd's PEP delivers by presence (presence_based_delivery), and a
    // watcher in a real client is available anyway.
    sub.send(x('presence'));
    const lat: Record<string, number[]> = {};
    sub.router.on('message/http://jabber.org/protocol/pubsub#event', (m) => {
      const now = Date.now();
      const ev = parsePubSubEvent(m);
      if (ev) for (const it of ev.items) {
        // Latency per READING: an item may hold several readings, one <timestamp> each (XEP-0323).
        const service = ev.service.split('/')[0]!;
        const arr = (lat[service] ??= []);
        const stamps = it.payload ? parseFields(it.payload).map((r) => r.timestamp) : [];
        for (const ts of stamps) arr.push(now - ts);
        // BENCH_LAT_DUMP=FILE: every reading's sample time and latency, to see when the slow ones come.
        if (LAT_DUMP) for (const ts of stamps) appendFileSync(LAT_DUMP, `${service} ${ts} ${now - ts} ${it.id}\n`);
      }
      return true;
    });
    const kids = {} as Record<Kind, Child>;
    const jids = {} as Record<Kind, string>;
    let flushMs = FLUSH_MS;
    for (const kind of kinds) {
      const c = spawnChild(kind, srv);
      children.push(c);
      const ready = await c.next('ready');
      if (kind === 'xiota') flushMs = ready.flushMs as number;
      kids[kind] = c;
      jids[kind] = ready.jid as string;
      await sub.iq(subscribeIq(jids[kind], ready.node as string, `sub@${srv.host}/sub`));
    }
    const res: Record<string, Record<Kind, Result>> = {};
    for (const ph of phases) {
      res[ph.name] = {} as Record<Kind, Result>;
      for (const kind of kinds) {
        const arr: number[] = [];
        lat[jids[kind]] = arr;
        const cpu0 = processCpuUs(srv.pid);
        kids[kind].send(`run ${ph.rate} ${ph.n}`);
        const done = await kids[kind].next('done', 90_000);
        // Let the last notifications arrive (or give up after 10 s and count what came).
        const until = Date.now() + 10_000;
        while (arr.length < ph.n && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
        const cpu1 = processCpuUs(srv.pid);
        res[ph.name]![kind] = { done, latencies: arr, ...(cpu0 !== undefined && cpu1 !== undefined ? { serverCpuUs: cpu1 - cpu0 } : {}) };
        process.stderr.write(`${ph.name} ${kind}: acked ${String(done.acked)} in ${(done.wallMs as number).toFixed(0)} ms, ${arr.length} notified\n`);
      }
    }
    for (const c of children) c.send('quit');
    await Promise.all(children.map((c) => new Promise((r) => (c.proc.exitCode !== null ? r(null) : c.proc.on('exit', r)))));
    return { res, flushMs };
  } finally {
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    await sub.stop().catch(() => undefined);
  }
}


export async function main(): Promise<void> {
  const phases: Phase[] = [
    { name: '100/s', rate: 100, n: Number(process.env.BENCH_N100 ?? 1000) },
    { name: '1000/s', rate: 1000, n: Number(process.env.BENCH_N1000 ?? 5000) },
    { name: 'burst', rate: 0, n: Number(process.env.BENCH_BURST ?? 20000) },
  ];
  // Prosody's default file store rewrites a PEP node's archive on each publish (6.6 ms per
  // item here, 13 ms when pipelined): that would be the bench for both sides. Persisted PEP
  // items (persist_items stays true) live in Prosody's memory store instead.
  const srv = await startProsody({ extraConfig: 'storage = { pep_data = "memory" }', users: BENCH_USERS.map((user) => ({ user, password: 'benchpass' })) });
  try {
    const { res, flushMs } = await runPublish(srv, phases);

    const W = [50, 10, 12, 13, 13, 7, 7, 8];
    const cells = (c: string[]) => `| ${c.map((v, i) => (i === 0 ? v.padEnd(W[0]!) : v.padStart(W[i]!))).join(' | ')} |`;
    const row = (name: string, a: number, j: number, m: number, b: number, digits = 1, ratio = true) =>
      console.log(cells([name, a.toFixed(digits), j.toFixed(digits), m.toFixed(digits), b.toFixed(digits), ratio ? (a / b).toFixed(2) : '', ratio ? (j / b).toFixed(2) : '', ratio ? (m / b).toFixed(2) : '']));
    console.log(`\nPublishing XEP-0323 readings to a PEP node on a local Prosody 0.12 (STARTTLS, SM on), ${new Date().toISOString()}`);
    console.log('Prosody: storage = { pep_data = "memory" }; PEP node access_model=open, max_items=100, persist_items=true; 2 cores, all on loopback; one publisher at a time');
    console.log(`xiota: full agent pipeline, durable outbox flush_interval_ms=${flushMs} (fdatasync per batch), as installed: node ${XIOTA_FLAGS.join(' ') || '(no flags)'}`);
    console.log('xiota jit: the same on plain node (full JIT); xiota 16/item: as installed, max_readings_per_item 16 (latency per reading); @xmpp/client: iq publish, no durability, plain node');
    console.log(cells(['measure', 'xiota', 'xiota jit', 'xiota 16/item', '@xmpp/client', 'ratio', 'ratio j', 'ratio 16']));
    console.log(`|${W.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const ph of phases) {
      const r = res[ph.name]!;
      const none: Result = { done: { event: 'done', acked: NaN, wallMs: NaN, cpuUs: NaN }, latencies: [] };
      const [a, j, m, b] = [r.xiota ?? none, r['xiota-jit'] ?? none, r.xiota16 ?? none, r.xmppjs ?? none];
      const rate = (x: Result) => ((x.done.acked as number) * 1000) / (x.done.wallMs as number);
      const cpu = (x: Result) => (x.done.cpuUs as number) / ph.n;
      const label = ph.name === 'burst' ? `burst of ${ph.n}` : `${ph.name} x ${ph.n}`;
      if (ph.rate > 0) {
        row(`${label}: latency p50 (ms)`, pct(a.latencies, 50), pct(j.latencies, 50), pct(m.latencies, 50), pct(b.latencies, 50));
        row(`${label}: latency p99 (ms)`, pct(a.latencies, 99), pct(j.latencies, 99), pct(m.latencies, 99), pct(b.latencies, 99));
        row(`${label}: latency max (ms)`, pct(a.latencies, 100), pct(j.latencies, 100), pct(m.latencies, 100), pct(b.latencies, 100));
        row(`${label}: acked readings/s`, rate(a), rate(j), rate(m), rate(b));
      } else {
        row(`${label}: readings/s acked (max throughput)`, rate(a), rate(j), rate(m), rate(b), 0);
        row(`${label}: sample -> subscriber p50 (ms)`, pct(a.latencies, 50), pct(j.latencies, 50), pct(m.latencies, 50), pct(b.latencies, 50), 0);
      }
      row(`${label}: agent CPU per reading (us)`, cpu(a), cpu(j), cpu(m), cpu(b));
      row(`${label}: readings acked`, a.done.acked as number, j.done.acked as number, m.done.acked as number, b.done.acked as number, 0, false);
      row(`${label}: readings notified`, a.latencies.length, j.latencies.length, m.latencies.length, b.latencies.length, 0, false);
    }
  } finally {
    await srv.stop();
  }
}

if (require.main === module) void main().catch((e) => { console.error(e); process.exit(1); });
