// The xiota side of bench/publish.ts: the real agent pipeline, fed by a push driver at a set
// rate. sample (Date.now() in the reading) -> DriverHost checks -> publish policy -> item id
// + XEP-0323 payload -> durable outbox (fsync batched every flush_interval_ms) -> PEP publish
// -> Prosody's result -> outbox ack. Talks JSON lines on stdout, takes commands on stdin:
//   run RATE N      emit N readings at RATE/s (RATE 0: all at once), report when all are acked
//   quit
//   node publish-child.js PORT DOMAIN USER PASSWORD CAFILE FLUSH_MS
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent } from '../agent/agent';
import { configFromObject } from '../agent/config';
import { pace, say, straceStart, type PhaseResult } from './publish-pace';
import { PushDriver } from './push-driver';

const [port, domain, user, password, caFile, flushMs] = process.argv.slice(2) as [string, string, string, string, string, string];

/** Linux: CPU ticks per thread name of this process (where the CPU goes: main thread, libuv pool, GC). */
function threadTicks(): string {
  const out: Record<string, number> = {};
  try {
    for (const t of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const name = t === String(process.pid) ? 'main' : `${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))}-${t}`;
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[name] = (out[name] ?? 0) + Number(f[11]) + Number(f[12]);
    }
  } catch {
    return 'n/a';
  }
  return JSON.stringify(out);
}

/** Calls `fn` with the text of every call to Connection's `method` (write: out, receive: in), before it runs. */
function tapConnection(method: 'write' | 'receive', fn: (text: string) => void): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Connection } = require('../agent/session/connection') as { Connection: { prototype: Record<string, (...a: unknown[]) => unknown> } };
  const proto = Connection.prototype;
  const orig = proto[method]!;
  proto[method] = function (this: unknown, ...a: unknown[]) { fn(String(a[0])); return orig.apply(this, a); };
}

/** BENCH_TRACE=1: every stanza each way on stderr (where the bytes on the wire go). */
function trace(): void {
  tapConnection('write', (text) => process.stderr.write(`OUT ${text}\n`));
  tapConnection('receive', (text) => process.stderr.write(`IN  ${text}\n`));
}

/** BENCH_HOPS=FILE: when each item was handed to the connection (ms, item id), to split a slow reading's latency. */
function hops(file: string): void {
  tapConnection('write', (text) => {
    if (text.includes('<item ')) for (const m of text.matchAll(/<item id=["']([^"']+)["']/g)) appendFileSync(file, `${Date.now()} ${m[1]}\n`);
  });
}

async function main(): Promise<void> {
  if (process.env.BENCH_TRACE) trace();
  if (process.env.BENCH_HOPS) hops(process.env.BENCH_HOPS);
  const dir = mkdtempSync(join(tmpdir(), 'xiota-bench-outbox-'));
  const r = configFromObject({
    account: { jid: `${user}@${domain}`, password },
    server: { host: '127.0.0.1', port: Number(port) },
    tls: { ca_file: caFile },
    outbox: { dir: join(dir, 'outbox'), flush_interval_ms: Number(flushMs) },
    // BENCH_HISTORY=0: without the device's history store (on by default), to see its share.
    ...(process.env.BENCH_HISTORY === '0' ? { history: { enabled: false } } : {}),
    // BENCH_MAX_ITEMS: the node's max_items (bench/many.ts gives both sides the same).
    pubsub: { access_model: 'open', max_items: Number(process.env.BENCH_MAX_ITEMS ?? 100) },
    // BENCH_BATCH_S: publish.batch_s (readings wait up to that long and travel in one item);
    // BENCH_MAX_READINGS: publish.max_readings_per_item (waiting readings share one item; default 1 here).
    publish: {
      deadband: 0, min_interval_s: 0,
      ...(process.env.BENCH_BATCH_S ? { batch_s: Number(process.env.BENCH_BATCH_S) } : {}),
      // One reading per item unless asked (the shipped default is 16: kind 'xiota16').
      max_readings_per_item: Number(process.env.BENCH_MAX_READINGS ?? 1),
    },
  });
  if (!r.config) throw new Error(`config: ${JSON.stringify(r.errors)}`);
  // BENCH_THINGS: that many things (one PEP node each), readings dealt round-robin (bench/many.ts).
  const things = Number(process.env.BENCH_THINGS ?? 1);
  const driver = new PushDriver('bench', things);
  const agent = new Agent({ config: r.config, credentials: { password, source: 'password', warnings: [] }, drivers: [driver] });
  let acked = 0;
  /** Outbox.ack calls: one per item the server acknowledged (an item may hold several readings). */
  let items = 0;
  let onAck: (() => void) | undefined;
  await agent.start();
  // Count acknowledgements where they happen (the server's result for the publish).
  const outbox = agent.outbox!;
  const ack = outbox.ack.bind(outbox);
  outbox.ack = (ids) => {
    const n = ack(ids);
    acked += ids.length;
    items++;
    onAck?.();
    return n;
  };
  const ackedAt = (n: number) => new Promise<void>((resolve) => {
    if (acked >= n) return resolve();
    onAck = () => {
      if (acked >= n) {
        onAck = undefined;
        resolve();
      }
    };
  });
  // Warm-up reading(s): the first publish creates the node (publish-options), like @xmpp/client's.
  for (let k = 0; k < things; k++) driver.emit(k + 500); // thing k, a value its first run reading differs from
  await ackedAt(things);
  say({ event: 'ready', jid: `${user}@${domain}`, node: r.config.pubsub.nodePrefix + driver.thing.id, flushMs: r.config.outbox.flushIntervalMs });
  if (process.env.BENCH_DEBUG) setInterval(() => process.stderr.write(`xiota ${JSON.stringify(agent.pipeline!.stats)} acked ${acked} pending ${outbox.pending}\n`), 1000).unref();
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const [cmd, rate, n] = line.trim().split(/\s+/);
    if (cmd === 'quit') break;
    if (cmd !== 'run') continue;
    const total = Number(n);
    const base = acked;
    const stopTrace = await straceStart(`${process.env.BENCH_TRACE_LABEL ?? (process.env.BENCH_MAX_READINGS === '16' ? 'xiota16' : user)}.${rate}`);
    const items0 = items;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await pace(Number(rate), total, (i) => driver.emit(i));
    await ackedAt(base + total);
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    await stopTrace();
    const res: PhaseResult & { items: number } = { event: 'done', sent: total, acked: acked - base, wallMs, cpuUs: cpu.user + cpu.system, items: items - items0 };
    if (process.env.BENCH_DEBUG) process.stderr.write(`xiota threads (utime+stime ticks, since start): ${threadTicks()} cpu user ${cpu.user} system ${cpu.system}\n`);
    say(res);
  }
  lines.close();
  await agent.stop();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`xiota publish child: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
