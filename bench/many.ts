// Many things, like for like: xiota with 100 things (one PEP node each, the agent's pipeline
// and durable outbox) vs @xmpp/client 0.14 publishing the same items to 100 PEP nodes created
// with the SAME node configuration (access_model open, max_items BENCH_MAX_ITEMS, default
// 100: xiota's default), at 1000 readings/s in total and in a burst, per server setup:
//   npm run build && node dist/bench/many.js [prosody-file prosody-mem ejabberd ejabberd-24.12]
// (or `npx tsc -p . --outDir SNAP && node SNAP/bench/many.js` from the repo root, to keep editing meanwhile)
// Each setup is one fresh server; both publishers stay connected and run in turn, alternating
// which goes first, BENCH_REPEAT (default 2) times, so background load hits both alike.
// Measured: readings acknowledged per second (first reading to last result), the agent's CPU
// (process.cpuUsage() in the child) and the server's (/proc/PID/stat) per acked reading.
// No subscriber: the server's cost of publishing and storing, not of fanning out.
// Before/after in one run: BENCH_BASE_DIST=<another build's dist dir> adds its xiota (16/item)
// as the column 'before' (e.g. `git archive <commit> | tar -x -C /tmp/base && cd /tmp/base &&
// ln -s <repo>/node_modules . && npx tsc -p .`, then BENCH_BASE_DIST=/tmp/base/dist).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_WINDOW } from '../agent/publish/pipeline';
import { createNodeIq, configureNodeIq, publishIq } from '../agent/xep/pubsub';
import { readingToFields } from '../agent/xep/sensordata-fields';
import { startServer, type XmppServer } from '../scripts/servers';
import { spawnJsonChild, type Child } from './child';
import { processCpuUs } from './publish';
import { shebangFlags } from './rss';

type Kind = 'xiota' | 'xiota16' | 'xmppjs' | 'base16';
const LABEL: Record<Kind, string> = { xiota: 'xiota, 1/item', xiota16: 'xiota, 16/item', xmppjs: '@xmpp/client', base16: 'before, 16/item' };
const BASE_DIST = process.env.BENCH_BASE_DIST;
/** BENCH_KINDS: which publishers (xiota16: publish.max_readings_per_item 16, waiting readings share an item). */
const KINDS = (process.env.BENCH_KINDS ?? (BASE_DIST ? 'xiota16,base16,xmppjs' : 'xiota,xmppjs,xiota16')).split(',') as Kind[];
if (KINDS.includes('base16') && !BASE_DIST) throw new Error('BENCH_KINDS has base16: set BENCH_BASE_DIST to the dist dir of the build to compare with');
type Setup = 'prosody-file' | 'prosody-mem' | 'ejabberd' | 'ejabberd-24.12';
const SETUPS: Record<Setup, string> = {
  'prosody-file': 'Prosody 0.12, default storage (file store: pep_data rewritten per publish)',
  'prosody-mem': 'Prosody 0.12, storage = { pep_data = "memory" }',
  ejabberd: 'ejabberd 23.01, default mnesia, c2s shaper off',
  'ejabberd-24.12': 'ejabberd 24.12, default mnesia, c2s shaper off',
};
const THINGS = Number(process.env.BENCH_THINGS ?? 100);
const MAX_ITEMS = Number(process.env.BENCH_MAX_ITEMS ?? 100);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 2);
const NODE = 'urn:xiota:many:';
const XIOTA_FLAGS = process.env.BENCH_XIOTA_PLAIN ? [] : shebangFlags(join(__dirname, '..', 'agent', 'cli', 'main.js'));

type Started = XmppServer;

async function start(setup: Setup): Promise<Started> {
  const users = ['xiota', 'xiota16', 'xmppjs', 'base16'].map((user) => ({ user, password: 'benchpass' }));
  if (setup === 'ejabberd' || setup === 'ejabberd-24.12') {
    return startServer(setup === 'ejabberd' ? 'ejabberd-23.01' : 'ejabberd-24.12', { users, throughput: true, pepMaxItems: Math.max(1000, MAX_ITEMS) });
  }
  return startServer('prosody-0.12', { users, prosody: setup === 'prosody-mem' ? { extraConfig: 'storage = { pep_data = "memory" }' } : {} });
}

function spawnKind(kind: Kind, srv: Started): Child {
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: srv.caFile, BENCH_THINGS: String(THINGS), BENCH_NODES: String(THINGS), BENCH_MAX_ITEMS: String(MAX_ITEMS) };
  const extra = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : [];
  if (kind !== 'xmppjs') {
    const merge = kind !== 'xiota' ? { BENCH_MAX_READINGS: '16' } : {};
    const dist = kind === 'base16' ? BASE_DIST! : join(__dirname, '..');
    const flags = kind === 'base16' ? shebangFlags(join(dist, 'agent', 'cli', 'main.js')) : XIOTA_FLAGS;
    return spawnJsonChild(kind, [...flags, ...extra, join(dist, 'bench', 'publish-child.js'), String(srv.c2sPort), srv.host, kind, 'benchpass', srv.caFile, '200'], { ...env, ...merge });
  }
  // The payload xiota's serializer makes and the node configuration xiota asks for.
  const thing = { id: 'bench', fields: [{ name: 'temperature', type: 'numeric' as const, unit: '°C', precision: 2 }] };
  const payload = readingToFields({ thing: 'bench', timestamp: Date.now(), values: [{ field: 'temperature', value: 20 }] }, thing, { compact: true });
  const config = { maxItems: MAX_ITEMS, accessModel: 'open' as const };
  const first = publishIq({ node: NODE, itemId: 'warmup', payload, publishOptions: config }).getChildren()[0]!;
  const create = createNodeIq(undefined, NODE).getChildren()[0]!;
  const configure = configureNodeIq(undefined, NODE, config).getChildren()[0]!;
  // The repo's build (dist/bench) or a snapshot built with --outDir, run from the repo root.
  const mjs = [join(__dirname, '../../bench/publish-xmppjs-child.mjs'), join(process.cwd(), 'bench/publish-xmppjs-child.mjs')].find((p) => existsSync(p));
  if (!mjs) throw new Error('bench/publish-xmppjs-child.mjs not found: run from the repository root');
  return spawnJsonChild(kind, [...extra, mjs, String(srv.c2sPort), srv.host, 'xmppjs', 'benchpass', NODE, first.toString(), payload.toString(), join(__dirname, 'publish-pace.js'), String(DEFAULT_WINDOW), create.toString(), configure.toString()], env);
}

interface Cell { rate: number; agentUs: number; serverUs: number; acked: number; perItem: number }

export async function main(): Promise<void> {
  const wanted = (process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(SETUPS)) as Setup[];
  // BENCH_PHASES=burst: the burst only (@xmpp/client keeps no window at 1000/s: on ejabberd its
  // unacked results pass max_ack_queue, the server ends its stream and its reconnect fails).
  const wantPhases = (process.env.BENCH_PHASES ?? 'paced,burst').split(',');
  const phases = [
    { key: 'paced', name: `1000/s x ${process.env.BENCH_N ?? 5000}`, rate: 1000, n: Number(process.env.BENCH_N ?? 5000) },
    { key: 'burst', name: `burst of ${process.env.BENCH_BURST ?? 5000}`, rate: 0, n: Number(process.env.BENCH_BURST ?? 5000) },
  ].filter((p) => wantPhases.includes(p.key));
  const rows: string[][] = [];
  for (const setup of wanted) {
    if (!(setup in SETUPS)) throw new Error(`unknown setup ${setup}: one of ${Object.keys(SETUPS).join(', ')}`);
    const srv = await start(setup);
    const kids: Partial<Record<Kind, Child>> = {};
    try {
      for (const kind of KINDS) {
        kids[kind] = spawnKind(kind, srv);
        await kids[kind]!.next('ready', 180_000);
      }
      const cells: Record<string, Record<Kind, Cell[]>> = {};
      for (let rep = 0; rep < REPEAT; rep++) {
        const order: Kind[] = rep % 2 === 0 ? KINDS : [...KINDS].reverse();
        for (const ph of phases) {
          for (const kind of order) {
            const cpu0 = processCpuUs(srv.pid);
            kids[kind]!.send(`run ${ph.rate} ${ph.n}`);
            const done = await kids[kind]!.next('done', 600_000);
            const cpu1 = processCpuUs(srv.pid);
            const acked = done.acked as number;
            const perItem = typeof done.items === 'number' ? acked / Math.max(1, done.items) : 1; // @xmpp/client: one each
            const c: Cell = { rate: (acked * 1000) / (done.wallMs as number), agentUs: (done.cpuUs as number) / Math.max(1, acked), serverUs: cpu0 !== undefined && cpu1 !== undefined ? (cpu1 - cpu0) / Math.max(1, acked) : NaN, acked, perItem };
            ((cells[ph.name] ??= { xiota: [], xiota16: [], xmppjs: [], base16: [] })[kind]).push(c);
            process.stderr.write(`${setup} run ${rep + 1} ${ph.name} ${kind}: ${c.rate.toFixed(0)} acked/s, agent ${c.agentUs.toFixed(0)} µs, server ${c.serverUs.toFixed(0)} µs per reading (${acked} acked, ${c.perItem.toFixed(1)} per item)\n`);
          }
        }
      }
      const join2 = (a: Cell[], f: (c: Cell) => number) => a.map((c) => f(c).toFixed(0)).join(' / ');
      for (const ph of phases) {
        const r = cells[ph.name]!;
        const row = (m: string, f: (c: Cell) => number) => rows.push([setup, `${ph.name}: ${m}`, ...KINDS.map((k) => join2(r[k], f))]);
        row('acked readings/s', (c) => c.rate);
        row('agent CPU per reading (µs)', (c) => c.agentUs);
        row('server CPU per reading (µs)', (c) => c.serverUs);
        rows.push([setup, `${ph.name}: readings per item`, ...KINDS.map((k) => r[k].map((c) => c.perItem.toFixed(1)).join(' / '))]);
        if (KINDS.some((k) => r[k].some((c) => c.acked !== ph.n))) row('readings acked', (c) => c.acked);
      }
    } finally {
      for (const k of Object.values(kids)) {
        k.send('quit');
        setTimeout(() => { if (k.proc.exitCode === null) k.proc.kill('SIGKILL'); }, 5000).unref();
      }
      await Promise.all(Object.values(kids).map((k) => new Promise((r) => (k.proc.exitCode !== null ? r(null) : k.proc.on('exit', r)))));
      await srv.cleanup();
    }
  }
  const W = [13, 42, ...KINDS.map(() => 15)];
  const line = (c: string[]) => `| ${c.map((v, i) => (i < 2 ? v.padEnd(W[i]!) : v.padStart(W[i]!))).join(' | ')} |`;
  console.log(`\n${THINGS} things: xiota (as installed, durable outbox; one reading per item, and 16/item) vs @xmpp/client 0.14 to ${THINGS} nodes, ${new Date().toISOString()}`);
  console.log(`Both: PEP nodes access_model=open, max_items=${MAX_ITEMS}; STARTTLS, SM on; 2 cores shared, loopback; runs alternate, each cell "run 1 / run 2 ..."`);
  for (const s of wanted) console.log(`  ${s}: ${SETUPS[s]}`);
  console.log(line(['setup', 'measure', ...KINDS.map((k) => LABEL[k])]));
  console.log(`|${W.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

if (require.main === module) void main().catch((e) => { console.error(e); process.exit(1); });
