// Fault-test helpers: a push driver that emits numbered readings (field `seq` = k), and, run
// as a script, an agent in a child process that a test can SIGKILL mid-stream.
// Child protocol: env XIOTA_CHILD = JSON ChildSpec; stdout lines `acc <k>` once reading k is
// accepted (on disk in the outbox), `idle <published>` once the outbox is drained (then exits).
import type { Driver, DriverContext, Reading, ThingSpec } from '../../drivers/types';

export interface CounterOptions {
  thing?: string;
  count: number;
  /** First seq emitted. */
  start?: number;
  /** Readings per tick, and ms between ticks (0: setImmediate). */
  batch?: number;
  tickMs?: number;
}

/** Emits readings `seq` = start .. start+count-1 through ctx.emit; `done` resolves after the last. */
export class CounterDriver implements Driver {
  readonly kind = 'counter';
  emitted = 0;
  readonly done: Promise<void>;
  private finish!: () => void;
  private timer?: NodeJS.Timeout | NodeJS.Immediate;
  private stopped = false;

  constructor(readonly id: string, private readonly o: CounterOptions, private readonly sink?: (r: Reading) => void) {
    this.done = new Promise((r) => (this.finish = r));
  }

  things(): ThingSpec[] {
    return [{ id: this.o.thing ?? 'counter', fields: [{ name: 'seq', type: 'int' }] }];
  }

  reading(k: number): Reading {
    return { thing: this.o.thing ?? 'counter', timestamp: Date.now(), values: [{ field: 'seq', value: k }] };
  }

  async start(ctx: DriverContext): Promise<void> {
    const first = this.o.start ?? 0;
    const batch = this.o.batch ?? 10;
    const tick = () => {
      if (this.stopped) return;
      for (let i = 0; i < batch && this.emitted < this.o.count; i++) {
        const r = this.reading(first + this.emitted++);
        if (this.sink) this.sink(r);
        else ctx.emit(r);
      }
      if (this.emitted >= this.o.count) return this.finish();
      this.timer = this.o.tickMs ? setTimeout(tick, this.o.tickMs) : setImmediate(tick);
    };
    if (this.o.count === 0) this.finish();
    else setImmediate(tick);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
    }
  }
}

export interface ChildSpec {
  config: Record<string, unknown>;
  password: string;
  counter: CounterOptions;
  exitWhenIdle?: boolean;
}

async function childMain(): Promise<void> {
  /* eslint-disable @typescript-eslint/no-var-requires */
  const { Agent } = require('../../agent/agent') as typeof import('../../agent/agent');
  const { configFromObject } = require('../../agent/config') as typeof import('../../agent/config');
  const { createLogger } = require('../../agent/log') as typeof import('../../agent/log');
  const spec = JSON.parse(process.env.XIOTA_CHILD ?? '{}') as ChildSpec;
  const r = configFromObject(spec.config);
  if (!r.config) throw new Error(`bad config: ${JSON.stringify(r.errors)}`);
  let agent: InstanceType<typeof Agent> | undefined = undefined;
  let out: string[] = [];
  const flushOut = () => {
    if (out.length) process.stdout.write(out.join(''));
    out = [];
  };
  setInterval(flushOut, 10);
  // The pipeline's offer() resolves once the reading is on disk: only then is k "accepted".
  const driver = new CounterDriver('counter', spec.counter, (rd) => {
    void agent!.pipeline!.offer(rd).then(() => out.push(`acc ${rd.values[0]!.value as number}\n`));
  });
  agent = new Agent({
    config: r.config,
    credentials: { password: spec.password, source: 'password', warnings: [] },
    drivers: [driver],
    client: { reconnect: { initialDelayMs: 20, maxDelayMs: 200 } },
    retryDelayMs: 50,
    // XIOTA_CHILD_LOG=debug|info|warn: the agent's log on stderr (stdout carries the protocol).
    log: process.env.XIOTA_CHILD_LOG
      ? createLogger({ level: process.env.XIOTA_CHILD_LOG as 'debug', json: false, write: (l) => process.stderr.write(l + '\n') })
      : undefined,
  });
  await agent.start();
  if (!spec.exitWhenIdle) return;
  await driver.done;
  const a = agent;
  await new Promise<void>((res) => {
    const t = setInterval(() => {
      if (a.client.state === 'online' && a.pipeline!.idle) {
        clearInterval(t);
        res();
      }
    }, 20);
  });
  out.push(`idle ${a.pipeline!.stats.published}\n`);
  flushOut();
  await a.stop();
  process.exit(0);
}

if (require.main === module) {
  childMain().catch((e: unknown) => {
    process.stderr.write(`child failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}

export interface NodeCheck {
  /** Items on the node. */
  items: number;
  /** Seqs found, in item-id order. */
  seqs: number[];
  /** Items in item-id order: the id's instance prefix (the agent's start time in base36) and sequence. */
  rows: { id: string; instance: string; idSeq: number; seq: number }[];
  duplicates: number[];
  /** Places where a seq is not greater than the one before it (item-id order). */
  outOfOrder: number;
}

/** Item ids are `<instance>-<seq36>` (agent/publish/item-id.ts): acceptance order is (instance, seq). */
function idKey(id: string): [string, number] {
  const parts = id.split('-');
  return [parts.length >= 2 ? parts[0]! : '', Number.parseInt(parts[parts.length - 1]!, 36)];
}

/** Reads every item of a node (one items query; the caller's client must accept big stanzas). */
export async function checkNode(
  client: { iq(req: import('../../agent/xml/element').Element, ms?: number): Promise<import('../../agent/xml/element').Element> },
  service: string,
  node: string,
): Promise<NodeCheck> {
  const { itemsIq, parseItems } = require('../../agent/xep/pubsub') as typeof import('../../agent/xep/pubsub');
  const { fieldsToReadings } = require('../../agent/xep/sensordata-fields') as typeof import('../../agent/xep/sensordata-fields');
  const items = parseItems(await client.iq(itemsIq(service, node), 30_000));
  // One row per reading: an item may hold several (publish.max_readings_per_item), in order.
  const rows = items.flatMap((it) => fieldsToReadings(it.payload!).map((r) => ({ id: it.id, key: idKey(it.id), seq: r.values[0]!.value as number })));
  rows.sort((a, b) => (a.key[0] < b.key[0] ? -1 : a.key[0] > b.key[0] ? 1 : a.key[1] - b.key[1]));
  const seen = new Set<number>();
  const duplicates: number[] = [];
  let outOfOrder = 0;
  rows.forEach((r, i) => {
    if (seen.has(r.seq)) duplicates.push(r.seq);
    seen.add(r.seq);
    if (i > 0 && r.seq <= rows[i - 1]!.seq) outOfOrder++;
  });
  return { items: items.length, seqs: rows.map((r) => r.seq), rows: rows.map((r) => ({ id: r.id, instance: r.key[0], idSeq: r.key[1], seq: r.seq })), duplicates, outOfOrder };
}
