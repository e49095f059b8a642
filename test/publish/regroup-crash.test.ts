// Crash-safe merging: an item of several readings sent before a crash has an id (its first
// reading's) and a shape nobody remembers after the restart. The readings recovered from the
// outbox therefore go one per item, under their own ids; new readings may share items again.
// Then no reading can end up stored in two items: the old item's head is recovered too (an
// item is acked whole) and its single item overwrites the old one (XEP-0060 7.1.2).
// Real outbox, scripted session that keeps what the "server" stores per item id.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../agent/log';
import { Outbox } from '../../agent/outbox/outbox';
import { ReadingPipeline, type SessionLike } from '../../agent/publish/pipeline';
import { fieldsToReadings } from '../../agent/xep/sensordata-fields';
import { parseXml } from '../pubsub/xml';
import { x, type Element } from '../../agent/xml/element';
import type { ThingSpec } from '../../drivers/types';

const dirs: string[] = [];
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
const THING: ThingSpec = { id: 't', fields: [{ name: 'v', type: 'int' }] };

/** A node that stores items by id (a publish overwrites); `answer` false: stores but never answers (the crash). */
function server(store: Map<string, number[]>, sent: number[][], answer: () => boolean): SessionLike {
  const ee = new EventEmitter();
  return Object.assign(ee, {
    state: 'online',
    iq: (req: Element): Promise<Element> => {
      const item = parseXml(req.toString()).getChild('pubsub')?.getChild('publish')?.getChild('item');
      if (item) {
        const vs = fieldsToReadings(item.getChild('fields')!).map((r) => r.values[0]!.value as number);
        store.set(item.attrs.id!, vs);
        sent.push(vs);
      }
      return !item || answer() ? Promise.resolve(x('iq', { type: 'result' })) : new Promise<Element>(() => undefined);
    },
  }) as unknown as SessionLike;
}

function pipeline(s: SessionLike, ob: Outbox): ReadingPipeline {
  return new ReadingPipeline({
    session: s, outbox: ob, thing: () => THING,
    policyFor: () => ({ deadband: 0, minIntervalMs: 0 }),
    targetFor: () => ({ service: 'pep', node: 'urn:xiota:t', config: {} }),
    batchingFor: () => ({ batchMs: 0, maxReadings: 16 }),
    log: silentLogger,
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('merged items unanswered at a crash: the replay sends each recovered reading alone, none is stored twice', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-regroup-'));
  dirs.push(dir);
  const store = new Map<string, number[]>();
  // Process 1: a backlog of 40 readings goes out merged; the server stores every item and
  // answers only the first (the agent dies before any other ack).
  const sent1: number[][] = [];
  const ob1 = await Outbox.open({ dir, flushIntervalMs: 0 });
  let answered = 0;
  const p1 = pipeline(server(store, sent1, () => answered++ < 1), ob1);
  const offers: Promise<void>[] = [];
  for (let v = 0; v < 40; v++) offers.push(p1.offer({ thing: 't', timestamp: 1_000 + v, values: [{ field: 'v', value: v }] }));
  await Promise.all(offers);
  await ob1.flush();
  await sleep(50);
  p1.stop();
  assert.ok(sent1.some((vs) => vs.length > 1), `process 1 merged readings (items: ${sent1.map((v) => v.length)})`);
  // Process 2 on the same outbox, a server that answers; 10 new readings arrive meanwhile.
  const sent2: number[][] = [];
  const ob2 = await Outbox.open({ dir, flushIntervalMs: 0 });
  assert.is(ob2.pending, 40 - sent1[0]!.length, 'all but the first item recovered');
  const p2 = pipeline(server(store, sent2, () => true), ob2);
  const more: Promise<void>[] = [];
  for (let v = 40; v < 50; v++) more.push(p2.offer({ thing: 't', timestamp: 1_000 + v, values: [{ field: 'v', value: v }] }));
  await Promise.all(more);
  const t0 = Date.now();
  while (ob2.pending > 0 && Date.now() - t0 < 5000) await sleep(5);
  p2.stop();
  assert.is(ob2.pending, 0, 'everything acknowledged');
  const recovered = sent2.filter((vs) => vs.some((v) => v < 40));
  assert.ok(recovered.every((vs) => vs.length === 1), `recovered readings go alone (items: ${recovered.map((v) => v.join('+'))})`);
  // What the node holds: every reading exactly once.
  const stored = [...store.values()].flat().sort((a, b) => a - b);
  assert.equal(stored, Array.from({ length: 50 }, (_, i) => i), 'each reading stored once');
  await ob1.close().catch(() => undefined);
  await ob2.close();
});

test.run();
