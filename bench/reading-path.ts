// The agent's own JavaScript per reading, without the network: push driver -> DriverHost checks
// -> ReadingPipeline (policy, item id, XEP-0323 payload) -> durable Outbox (real files,
// fdatasync per flush interval) -> publish iq built and serialized -> an in-process session
// answering each iq on the next turn -> outbox ack. CPU per reading of builds side by side, in
// lite mode (the CLI's shebang), each build in its own child process, the order flipped every
// round: the machine is shared, so each round's pair is compared and the spread shown.
//   npm run build && node dist/bench/reading-path.js [rounds=5] [readings=20000] [dist ...]
// dist: a build's dist directory (default: this one); e.g. a copy of main's dist as "before".
// READING_PATH_GROUP=k: readings emitted k per event-loop turn (default 1, as at 100-1000/s).
import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

interface ChildResult { usPerReading: number; items: number; gcMs?: number }

/* eslint-disable @typescript-eslint/no-require-imports */
async function child(dist: string, n: number): Promise<void> {
  const { DriverHost } = require(join(dist, 'drivers/host.js')) as typeof import('../drivers/host');
  const { ReadingPipeline } = require(join(dist, 'agent/publish/pipeline.js')) as typeof import('../agent/publish/pipeline');
  const { Outbox } = require(join(dist, 'agent/outbox/outbox.js')) as typeof import('../agent/outbox/outbox');
  const { PushDriver } = require(join(dist, 'bench/push-driver.js')) as typeof import('./push-driver');
  const { targetFor } = require(join(dist, 'agent/agent.js')) as typeof import('../agent/agent');
  const { configFromObject } = require(join(dist, 'agent/config/index.js')) as typeof import('../agent/config');
  const { batchingFor, publishPolicyFor } = require(join(dist, 'agent/config/thing-settings.js')) as typeof import('../agent/config/thing-settings');
  const { x } = require(join(dist, 'agent/xml/element.js')) as typeof import('../agent/xml/element');
  const dir = mkdtempSync(join(tmpdir(), 'xiota-reading-path-'));
  const r = configFromObject({
    account: { jid: 'bench@example.org', password: 'x' },
    outbox: { dir: join(dir, 'outbox'), flush_interval_ms: 200 },
    pubsub: { access_model: 'open', max_items: 100 },
    publish: { deadband: 0, min_interval_s: 0, max_readings_per_item: 16 },
  });
  if (!r.config) throw new Error(`config: ${JSON.stringify(r.errors)}`);
  const cfg = r.config;
  let bytes = 0;
  let items = 0;
  // The session: writes the stanza as the real client does (serialize), answers next turn.
  const session: import('../agent/publish/pipeline').SessionLike = Object.assign(new EventEmitter(), {
    state: 'online',
    bare: 'bench@example.org',
    iq: (req: import('../agent/xml/element').Element) => {
      req.attrs.id = 'p' + items++;
      bytes += req.toString().length;
      return new Promise<import('../agent/xml/element').Element>((res) => setImmediate(() => res(x('iq', { type: 'result', id: req.attrs.id }))));
    },
  }) as unknown as import('../agent/publish/pipeline').SessionLike;
  const outbox = await Outbox.open({ dir: join(dir, 'outbox'), flushIntervalMs: cfg.outbox.flushIntervalMs });
  const driver = new PushDriver('bench', 1);
  let acked = 0;
  const ack = outbox.ack.bind(outbox);
  outbox.ack = (ids) => { acked += ids.length; return ack(ids); };
  const things = new Map<string, import('../drivers/types').ThingSpec>();
  // eslint-disable-next-line prefer-const
  let pipeline: InstanceType<typeof ReadingPipeline>;
  const host = new DriverHost({ drivers: [driver], onReading: (rd) => { void pipeline.offer(rd); } });
  pipeline = new ReadingPipeline({
    session, outbox, thing: (id) => things.get(id),
    policyFor: (id) => publishPolicyFor(cfg, id), batchingFor: (id) => batchingFor(cfg, id), targetFor: (id) => targetFor(cfg, id),
  });
  await host.start();
  for (const t of host.things()) { things.set(t.id, t); pipeline.registerTarget(t.id); }
  const group = Number(process.env.READING_PATH_GROUP ?? 1);
  const turn = () => new Promise<void>((res) => setImmediate(res));
  const until = async (k: number) => { while (acked < k) await new Promise((res) => setTimeout(res, 1)); };
  // Warm-up (node set up, code loaded), then the measured run.
  for (let i = 0; i < 200; i++) { driver.emit(i); await turn(); }
  await until(200);
  const items0 = items;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    driver.emit(i + 200);
    if ((i + 1) % group === 0) await turn();
  }
  await until(200 + n);
  const cpu = process.cpuUsage(cpu0);
  const res: ChildResult = { usPerReading: (cpu.user + cpu.system) / n, items: items - items0 };
  process.stdout.write(JSON.stringify(res) + '\n');
  pipeline.stop();
  await host.stop();
  await outbox.close();
  rmSync(dir, { recursive: true, force: true });
  void bytes;
}

function main(): void {
  const rounds = Number(process.argv[2] ?? 5);
  const n = Number(process.argv[3] ?? 20000);
  const dists = process.argv.length > 4 ? process.argv.slice(4).map((d) => resolve(d)) : [resolve(__dirname, '..')];
  const got = new Map<string, number[]>(dists.map((d) => [d, []]));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...dists].reverse() : dists;
    const line: string[] = [];
    for (const d of order) {
      const p = spawnSync(process.execPath, ['--lite-mode', '--no-expose-wasm', '--expose-gc', __filename, 'child', d, String(n)], { encoding: 'utf8', env: process.env });
      if (p.status !== 0) throw new Error(`child for ${d} failed: ${p.stderr}`);
      const res = JSON.parse(p.stdout.trim().split('\n').pop()!) as ChildResult;
      got.get(d)!.push(res.usPerReading);
      line.push(`${d}: ${res.usPerReading.toFixed(1)} us/reading (${res.items} items)`);
    }
    console.log(`round ${r + 1}: ${line.join(' | ')}`);
  }
  const med = (a: number[]) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)]!;
  console.log(`\n| build | us/reading median | min-max |\n|---|---|---|`);
  for (const [d, a] of got) console.log(`| ${d} | ${med(a).toFixed(1)} | ${Math.min(...a).toFixed(1)}-${Math.max(...a).toFixed(1)} |`);
}

if (process.argv[2] === 'child') {
  child(resolve(process.argv[3]!), Number(process.argv[4])).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
} else if (require.main === module) main();
