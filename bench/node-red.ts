// Node-RED side by side, on Node-RED 4.1 (Node 20) and 5.0 (Node 22), each a real headless
// Node-RED with the palette installed from its packed tarball (test/node-red/_nodered.ts):
//  - latency of a reading to the output of `xiota-in` at 100 readings/s: a client of the
//    daemon's local API publishes a flow-defined thing's value (thing.publish), the agent hands
//    it to the palette's subscription; vs the same value published to Mosquitto and received
//    by Node-RED's own `mqtt in` node, the path users would otherwise pick. Both end in the same
//    function node, which stamps the wall clock; the sender stamps it before writing. The same
//    readings at a plain API subscriber give the daemon's share. The paths alternate in blocks
//    of one second.
//  - Node-RED's RSS with the palette loaded and 10 of its nodes deployed (agent mode, connected
//    to `xiota run`) vs without the palette, after a forced GC (--expose-gc) in both.
// The daemon runs as installed (the node flags of its shebang: V8's lite mode).
// BENCH_NR_HOPS=1 splits the xiota path into hops: bench/hop-trace.ts, preloaded into the
// daemon and Node-RED, stamps when a reading passes their sockets (the plain API subscriber is
// left out then, so the daemon writes one notification per reading).
// The daemon's RSS with 10 API clients is bench/api-rss.ts.
//   npm run build && node dist/bench/node-red.js      (BENCH_NR_READINGS, default 1000 per path;
//   BENCH_NR_VERSIONS, default "4,5"; BENCH_NR_RSS_RUNS, default 3, 0: no RSS; BENCH_NR_HOPS)
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import mqtt from 'mqtt';
import { ApiSocketClient } from '../agent/api/client';
import { startMosquitto, type MosquittoServer } from '../test/servers/mosquitto';
import { CLI, startXiotaDaemon, type XiotaDaemon } from '../test/servers/xiota-daemon';
import { removeOnExit } from '../test/servers/process';
import { shebangFlags } from './rss';
import { agentNode, inject, recorder, tab, TAB, xiotaControl, xiotaIn, AGENT } from '../test/node-red/_flows';
import { packPalette, sleep, startNodeRed, until, type FlowNode, type NodeRed, type NodeRedVersion } from '../test/node-red/_nodered';
import { pct } from './child';

const N = Number(process.env.BENCH_NR_READINGS ?? 1000);
const RATE = 100; // readings per second
const VERSIONS = (process.env.BENCH_NR_VERSIONS ?? '4,5').split(',').map((v) => v.trim()) as NodeRedVersion[];
const RSS_RUNS = Number(process.env.BENCH_NR_RSS_RUNS ?? 3);
const HOPS = process.env.BENCH_NR_HOPS === '1';
const HOP_TRACE = join(__dirname, 'hop-trace.js');
const THING = 'bench';
const TOPIC = 'bench/value';

const now = () => performance.timeOrigin + performance.now();

interface Result { nodeRed: string; xiota: number[]; mqtt: number[]; direct: number[]; rssBase: number; rssPalette: number; hops?: Hops }
/** What the hops need once every process has written its stamps: sends and outputs by value. */
interface HopRun { sent: Map<number, number>; out: Map<number, number>; nodeRedPid: number }
type Hops = Record<string, number[]>;

function mqttNodes(port: number): FlowNode[] {
  return [
    { id: 'broker', type: 'mqtt-broker', name: 'bench', broker: '127.0.0.1', port: String(port), clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true, autoUnsubscribe: true },
    { id: 'mqtt-in', type: 'mqtt in', z: TAB, name: '', topic: TOPIC, qos: '0', datatype: 'json', broker: 'broker', nl: false, rap: true, rh: 0, inputs: 0, x: 160, y: 160, wires: [['rec-mqtt']] },
    recorder('rec-mqtt', 'mqtt'),
  ];
}

/** Sends `count` values at RATE per second through `send`; returns each value's send time. */
async function paced(count: number, first: number, send: (v: number) => void): Promise<Map<number, number>> {
  const sent = new Map<number, number>();
  const t0 = now();
  for (let i = 0; i < count; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - now();
    if (wait > 0) await sleep(wait);
    sent.set(first + i, now());
    send(first + i);
  }
  return sent;
}

/** Latencies (ms) of the values recorded under `tag` that were sent in `sent`. */
async function latencies(nr: NodeRed, tag: string, sent: Map<number, number>): Promise<number[]> {
  const lo = Math.min(...sent.keys());
  const mine = (r: { payload?: unknown }) => typeof r.payload === 'number' && sent.has(r.payload) && r.payload >= lo;
  await nr.waitRecorded(`${sent.size} values out of ${tag}`, (r) => r.filter(mine).length >= sent.size, tag, 15_000).catch(() => undefined);
  return nr.recorded(tag).filter(mine).map((r) => r.t - sent.get(r.payload as number)!);
}

async function latencyRun(version: NodeRedVersion, tgz: string, agent: XiotaDaemon, broker: MosquittoServer, base: number): Promise<Pick<Result, 'nodeRed' | 'xiota' | 'mqtt' | 'direct'> & { hopRun: HopRun }> {
  const api = await ApiSocketClient.connect(agent.socket);
  await api.call('thing.declare', { id: THING, fields: [{ name: 'value', type: 'numeric' }] });
  // The daemon's share: the same readings at a plain API subscriber, no Node-RED.
  const seen = new Map<number, number>();
  const sub = await ApiSocketClient.connect(agent.socket, {
    notification: (method, p) => {
      if (method !== 'reading' || p.thing !== THING) return;
      const t = now();
      for (const v of p.values as { value?: unknown }[]) if (typeof v.value === 'number') seen.set(v.value, t);
    },
  });
  const pub = mqtt.connect(broker.url);
  await new Promise<void>((resolve, reject) => { pub.once('connect', () => resolve()); pub.once('error', reject); });
  const nr = await startNodeRed({ version, palette: tgz, nodeFlags: HOPS ? ['-r', HOP_TRACE] : [] });
  try {
    await nr.deploy([tab('bench'), agentNode(agent.socket), xiotaIn('in-bench', THING, 'value', ['rec-xiota']), recorder('rec-xiota', 'xiota'), ...mqttNodes(broker.port)]);
    // Warm-up: both paths deliver (subscription made, broker connected) before timing starts.
    let w = -1000;
    await until('both paths to deliver', () => {
      void api.call('thing.publish', { thing: THING, values: { value: w } });
      pub.publish(TOPIC, JSON.stringify(w));
      w--;
      return nr.recorded('xiota').length > 0 && nr.recorded('mqtt').length > 0;
    }, 20_000, 100, () => nr.log());
    // The plain subscriber subscribes after Node-RED's xiota-in: the daemon writes to its
    // subscribers in subscription order, and each write wakes a process that may take the CPU
    // from the daemon (on 2 cores, mostly does), so the second subscriber waits for the first.
    // Node-RED goes first, as it would on a gateway with nothing else subscribed.
    if (!HOPS) await sub.call('subscribe', { thing: THING, field: 'value' });
    await sleep(500);
    // Blocks of one second, alternating between the paths, so a busy moment of the machine
    // falls on both alike.
    const pending: Promise<unknown>[] = [];
    const sentX = new Map<number, number>();
    const sentM = new Map<number, number>();
    for (let b = 0; b < N / RATE; b++) {
      for (const [k, v] of await paced(RATE, base + b * RATE, (v) => { pending.push(api.call('thing.publish', { thing: THING, values: { value: v } })); })) sentX.set(k, v);
      for (const [k, v] of await paced(RATE, base + 100_000 + b * RATE, (v) => { pub.publish(TOPIC, JSON.stringify(v)); })) sentM.set(k, v);
    }
    await Promise.all(pending);
    const xiota = await latencies(nr, 'xiota', sentX);
    const mq = await latencies(nr, 'mqtt', sentM);
    const direct = [...sentX].filter(([v]) => seen.has(v)).map(([v, t]) => seen.get(v)! - t);
    const out = new Map(nr.recorded('xiota').filter((r) => typeof r.payload === 'number').map((r) => [r.payload as number, r.t]));
    return { nodeRed: nr.nodeRedVersion, xiota, mqtt: mq, direct, hopRun: { sent: sentX, out, nodeRedPid: nr.pid } };
  } finally {
    await nr.stop();
    api.close();
    sub.close();
    await pub.endAsync();
  }
}

/** Ten of the palette's nodes on one config node, in agent mode. */
function tenNodes(socket: string): FlowNode[] {
  return [
    agentNode(socket),
    xiotaIn('n1', 'greenhouse', 'temperature', []),
    xiotaIn('n2', 'greenhouse', 'fan', []),
    xiotaIn('n3', 'greenhouse', '', []),
    xiotaIn('n4', '', '', []),
    { id: 'n5', type: 'xiota-read', z: TAB, name: '', agent: AGENT, jid: '', thing: 'greenhouse', field: '', fresh: false, timeout: 10, x: 400, y: 60, wires: [[]] },
    { id: 'n6', type: 'xiota-read', z: TAB, name: '', agent: AGENT, jid: '', thing: 'greenhouse', field: 'temperature', fresh: false, timeout: 10, x: 400, y: 120, wires: [[]] },
    xiotaControl('n7', 'greenhouse', 'fan', []),
    xiotaControl('n8', 'greenhouse', 'fan', []),
    { id: 'n9', type: 'xiota-thing', z: TAB, name: '', agent: AGENT, thing: 'flowthing', fields: [{ name: 'value', type: 'numeric', unit: '', writable: false, values: '', min: '', max: '' }, { name: 'switch', type: 'boolean', unit: '', writable: true, values: '', min: '', max: '' }], x: 600, y: 60, wires: [] },
    { id: 'n10', type: 'xiota-control-in', z: TAB, name: '', agent: AGENT, thing: 'flowthing', field: '', x: 600, y: 120, wires: [[]] },
  ];
}

/** Median VmRSS (KiB) over 5 samples, after two forced collections. */
async function settledRss(nr: NodeRed): Promise<number> {
  await sleep(3000);
  for (let i = 0; i < 2; i++) { await nr.inject('gc-inj'); await sleep(300); }
  const s: number[] = [];
  for (let i = 0; i < 5; i++) { s.push(nr.rssKiB()); await sleep(200); }
  return pct(s, 50);
}

const gcNodes = (): FlowNode[] => [
  inject('gc-inj', '', 'str', ['gc-fn']),
  { id: 'gc-fn', type: 'function', z: TAB, name: 'gc', func: "global.get('gc')();\nreturn null;", outputs: 0, x: 300, y: 300, wires: [] },
];

async function rssOnce(version: NodeRedVersion, tgz: string, agent: XiotaDaemon): Promise<Pick<Result, 'rssBase' | 'rssPalette'>> {
  const base = await startNodeRed({ version, nodeFlags: ['--expose-gc'] });
  let rssBase: number;
  try {
    await base.deploy([tab('rss'), ...gcNodes()]);
    rssBase = await settledRss(base);
  } finally {
    await base.stop();
  }
  const withPalette = await startNodeRed({ version, palette: tgz, nodeFlags: ['--expose-gc'] });
  try {
    const conns = agent.apiConnections();
    await withPalette.deploy([tab('rss'), ...gcNodes(), ...tenNodes(agent.socket)]);
    await until('the palette connected to the agent', () => agent.apiConnections() > conns, 10_000, 50);
    return { rssBase, rssPalette: await settledRss(withPalette) };
  } finally {
    await withPalette.stop();
  }
}

/** Two fresh Node-REDs of one version differ by a few MiB: the median of RSS_RUNS pairs. */
async function rssRun(version: NodeRedVersion, tgz: string, agent: XiotaDaemon): Promise<Pick<Result, 'rssBase' | 'rssPalette'>> {
  const runs: Pick<Result, 'rssBase' | 'rssPalette'>[] = [];
  for (let i = 0; i < RSS_RUNS; i++) runs.push(await rssOnce(version, tgz, agent));
  process.stderr.write(`[bench] Node-RED ${version} RSS pairs (MiB, without / with): ${runs.map((r) => `${mib(r.rssBase)} / ${mib(r.rssPalette)}`).join(', ')}\n`);
  return { rssBase: pct(runs.map((r) => r.rssBase), 50), rssPalette: pct(runs.map((r) => r.rssPalette), 50) };
}

const f1 = (n: number) => (Number.isNaN(n) ? '-' : n.toFixed(1));
const f2 = (n: number) => (Number.isNaN(n) ? '-' : n.toFixed(2));
const mib = (kib: number) => (kib / 1024).toFixed(1);

/** Stamps bench/hop-trace.ts wrote for one process: kind -> value -> first time. */
function stamps(dir: string, pid: number): Record<'r' | 'h' | 'w', Map<number, number>> {
  const m = { r: new Map<number, number>(), h: new Map<number, number>(), w: new Map<number, number>() };
  const f = readdirSync(dir).find((x) => x === `${pid}.txt`);
  if (!f) return m;
  for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
    const [k, v, t] = line.split(' ');
    if ((k === 'r' || k === 'h' || k === 'w') && !m[k].has(Number(v))) m[k].set(Number(v), Number(t));
  }
  return m;
}

/** The xiota path's hops, per reading that has every stamp. */
function hopsOf(dir: string, daemonPid: number, run: HopRun): Hops {
  const d = stamps(dir, daemonPid);
  const n = stamps(dir, run.nodeRedPid);
  const h: Hops = { send: [], daemon: [], write: [], wire: [], nodeRed: [] };
  for (const [v, t0] of run.sent) {
    const [a, b, w, c, e] = [d.r.get(v), d.h.get(v), d.w.get(v), n.r.get(v), run.out.get(v)];
    if (a === undefined || b === undefined || w === undefined || c === undefined || e === undefined) continue;
    h.send!.push(a - t0);
    h.daemon!.push(b - a);
    h.write!.push(w - b);
    h.wire!.push(c - b);
    h.nodeRed!.push(e - c);
  }
  return h;
}

async function main(): Promise<void> {
  const tgz = packPalette();
  const traceDir = HOPS ? mkdtempSync(join(tmpdir(), 'xiota-hops-')) : '';
  if (HOPS) {
    removeOnExit(traceDir);
    process.env.XIOTA_HOP_TRACE_DIR = traceDir; // inherited by the daemon and Node-RED
  }
  const load0 = loadavg();
  // BENCH_NR_DAEMON_FLAGS: the daemon's node flags in place of its shebang's (e.g. '' for plain node).
  const daemonFlags = process.env.BENCH_NR_DAEMON_FLAGS !== undefined ? process.env.BENCH_NR_DAEMON_FLAGS.split(' ').filter(Boolean) : shebangFlags(CLI);
  const agent = await startXiotaDaemon({ pollS: 1, nodeFlags: HOPS ? [...daemonFlags, '-r', HOP_TRACE] : daemonFlags });
  const daemonPid = agent.pid;
  const broker = await startMosquitto();
  const results: Result[] = [];
  const hopRuns: HopRun[] = [];
  try {
    for (const [i, v] of VERSIONS.entries()) {
      const { hopRun, ...lat } = await latencyRun(v, tgz, agent, broker, i * 1_000_000);
      hopRuns.push(hopRun);
      const rss = RSS_RUNS > 0 ? await rssRun(v, tgz, agent) : { rssBase: NaN, rssPalette: NaN };
      results.push({ ...lat, ...rss });
      process.stderr.write(`[bench] Node-RED ${lat.nodeRed} done\n`);
    }
  } finally {
    await broker.stop();
    await agent.stop(); // the daemon writes its stamps as it exits
  }
  if (HOPS) results.forEach((r, i) => { r.hops = hopsOf(traceDir, daemonPid, hopRuns[i]!); });
  const load1 = loadavg();
  const cols = results.map((r) => `Node-RED ${r.nodeRed} (Node ${r.nodeRed.startsWith('5') ? '22' : '20'})`);
  const rows: [string, (r: Result) => string][] = [
    [`reading -> xiota-in, p50 / p99 ms`, (r) => `${f2(pct(r.xiota, 50))} / ${f2(pct(r.xiota, 99))}`],
    [`  of which daemon -> API subscriber, p50 / p99 ms`, (r) => `${f2(pct(r.direct, 50))} / ${f2(pct(r.direct, 99))}`],
    [`reading -> Mosquitto -> mqtt in, p50 / p99 ms`, (r) => `${f2(pct(r.mqtt, 50))} / ${f2(pct(r.mqtt, 99))}`],
    [`delivered xiota / mqtt (of ${N} each)`, (r) => `${r.xiota.length} / ${r.mqtt.length}`],
    ['max ms xiota / mqtt', (r) => `${f1(Math.max(...r.xiota))} / ${f1(Math.max(...r.mqtt))}`],
  ];
  if (HOPS) {
    const hop = (k: string) => (r: Result) => `${f2(pct(r.hops![k]!, 50))} / ${f2(pct(r.hops![k]!, 99))}`;
    rows.push(
      ['xiota hops, p50 / p99 ms: send -> daemon reads it', hop('send')],
      ['  daemon reads it -> hands the notification to write()', hop('daemon')],
      ['  (write() returns, after)', hop('write')],
      ['  handed to write() -> Node-RED reads it', hop('wire')],
      ['  Node-RED reads it -> xiota-in output recorded', hop('nodeRed')],
    );
  }
  if (RSS_RUNS > 0) {
    rows.push(
      ['RSS without the palette, MiB', (r) => mib(r.rssBase)],
      ['RSS, palette + 10 nodes (agent mode), MiB', (r) => mib(r.rssPalette)],
      ['extra RSS, MiB', (r) => mib(r.rssPalette - r.rssBase)],
    );
  }
  const w0 = Math.max(...rows.map(([k]) => k.length));
  const ws = cols.map((c, i) => Math.max(c.length, ...rows.map(([, f]) => f(results[i]!).length)));
  const line = (k: string, vals: string[]) => `| ${k.padEnd(w0)} | ${vals.map((v, i) => v.padStart(ws[i]!)).join(' | ')} |`;
  console.log(`Node-RED paths at ${RATE} readings/s, ${N} readings per path${RSS_RUNS > 0 ? `; RSS after a forced GC (median of 5 samples, median of ${RSS_RUNS} fresh Node-REDs)` : ''}; load average ${load0.map((x) => x.toFixed(2)).join(' ')} at start, ${load1.map((x) => x.toFixed(2)).join(' ')} at end (${availableParallelism()} cores)`);
  console.log(line('', cols));
  console.log(`|${'-'.repeat(w0 + 2)}|${ws.map((x) => '-'.repeat(x + 2)).join('|')}|`);
  for (const [k, f] of rows) console.log(line(k, results.map(f)));
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
