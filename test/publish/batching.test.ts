// Readings of one thing sharing an item (XEP-0323: one <timestamp> per sample time):
// `publish.batch_s` holds them up to that long, `max_readings_per_item` caps an item, and a
// resend after a failure sends exactly the item that was sent before (same id, same readings),
// so the server overwrites it instead of storing a reading twice. Real outbox, scripted session.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromObject } from '../../agent/config';
import { batchingFor } from '../../agent/config/thing-settings';
import { silentLogger } from '../../agent/log';
import { Outbox } from '../../agent/outbox/outbox';
import { ReadingPipeline, type Batching, type SessionLike } from '../../agent/publish/pipeline';
import { fieldsToReadings, mergeFieldsPayloads, readingToFields } from '../../agent/xep/sensordata-fields';
import { parseXml } from '../pubsub/xml';
import { x, type Element } from '../../agent/xml/element';
import type { ThingSpec } from '../../drivers/types';

const dirs: string[] = [];
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const THING: ThingSpec = { id: 't', fields: [{ name: 'v', type: 'int' }, { name: 'ok', type: 'boolean' }] };

interface Sent { at: number; id: string; readings: { timestamp: number; v: unknown }[] }

/** Records every publish; answers number `failAt` (0-based) are a 'wait' error (retried). */
function session(failAt: number[] = []): SessionLike & { sent: Sent[] } {
  const ee = new EventEmitter();
  const sent: Sent[] = [];
  let answers = 0;
  return Object.assign(ee, {
    state: 'online',
    sent,
    iq: async (req: Element): Promise<Element> => {
      const el = parseXml(req.toString());
      const item = el.getChild('pubsub')?.getChild('publish')?.getChild('item');
      if (item) {
        const fields = item.getChild('fields')!;
        sent.push({ at: Date.now(), id: item.attrs.id!, readings: fieldsToReadings(fields).map((r) => ({ timestamp: r.timestamp, v: r.values[0]?.value })) });
      }
      if (failAt.includes(answers++)) {
        const error = x('error', { type: 'wait' }, x('internal-server-error', { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }));
        throw Object.assign(new Error('internal-server-error'), { stanza: x('iq', { type: 'error' }, error) });
      }
      return x('iq', { type: 'result' });
    },
  }) as unknown as SessionLike & { sent: Sent[] };
}

async function pipelineWith(s: SessionLike, batching: Batching): Promise<{ p: ReadingPipeline; ob: Outbox }> {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-batching-'));
  dirs.push(dir);
  const ob = await Outbox.open({ dir, flushIntervalMs: 5 });
  const p = new ReadingPipeline({
    session: s, outbox: ob, thing: () => THING,
    policyFor: () => ({ deadband: 0, minIntervalMs: 0 }),
    targetFor: () => ({ service: 'pep', node: 'urn:xiota:t', config: {} }),
    batchingFor: () => batching,
    retryDelayMs: 30,
    log: silentLogger,
  });
  return { p, ob };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
const reading = (v: number, ts = Date.now()) => ({ thing: 't', timestamp: ts, values: [{ field: 'v', value: v }] });

test('mergeFieldsPayloads: one node, one <timestamp> per reading, error texts kept; other shapes refused', () => {
  const a = readingToFields({ thing: 't', timestamp: 1_000, values: [{ field: 'v', value: 1 }] }, THING, { compact: true }).toString();
  const b = readingToFields({ thing: 't', timestamp: 2_000, values: [{ field: 'v', value: 2 }, { field: 'ok', error: 'sensor gone' }] }, THING, { compact: true }).toString();
  const merged = mergeFieldsPayloads([a, b])!;
  const el = parseXml(merged);
  assert.is(el.getChildren('node').length, 1);
  assert.is(el.getChildren('node')[0]!.getChildren('timestamp').length, 2);
  const rs = fieldsToReadings(el);
  assert.equal(rs.map((r) => r.timestamp), [1_000, 2_000]);
  assert.equal(rs[1]!.values, [{ field: 'v', value: 2 }, { field: 'ok', error: 'sensor gone' }]);
  assert.not.match(a, /automaticReadout/, 'PubSub items are compact');
  assert.match(readingToFields(reading(1, 1_000), THING).toString(), /automaticReadout="true"/, 'readout answers keep the QoS flag');
  // Two things: sibling nodes. A payload of another shape: not merged.
  const other = readingToFields({ thing: 'u', timestamp: 3_000, values: [{ field: 'v', value: 3 }] }, { id: 'u', fields: THING.fields }).toString();
  assert.equal(fieldsToReadings(parseXml(mergeFieldsPayloads([a, other])!)).map((r) => r.thing), ['t', 'u']);
  assert.is(mergeFieldsPayloads([a, '<fields xmlns="urn:xmpp:iot:sensordata" seqnr="1"/>']), undefined);
});

test('default (no batch): one reading per item, as before', async () => {
  const s = session();
  const { p } = await pipelineWith(s, { batchMs: 0, maxReadings: 1 });
  for (let i = 0; i < 5; i++) await p.offer(reading(i));
  await until('5 published', () => p.stats.published === 5);
  assert.is(s.sent.length, 5);
  assert.ok(s.sent.every((it) => it.readings.length === 1));
  p.stop();
});

test('batch: readings wait for the first one\'s deadline and go in one item, each with its own time', async () => {
  const s = session();
  const { p, ob } = await pipelineWith(s, { batchMs: 300, maxReadings: 64 });
  const t0 = Date.now();
  for (let i = 0; i < 5; i++) {
    await p.offer(reading(i, Date.now()));
    await sleep(20);
  }
  assert.is(s.sent.length, 0, 'nothing sent before the deadline');
  await until('published', () => p.stats.published === 5);
  assert.is(s.sent.length, 1, 'one item');
  assert.ok(s.sent[0]!.at - t0 >= 280, `sent ${s.sent[0]!.at - t0} ms after the first reading`);
  assert.equal(s.sent[0]!.readings.map((r) => r.v), [0, 1, 2, 3, 4]);
  const stamps = s.sent[0]!.readings.map((r) => r.timestamp);
  assert.ok(stamps.every((t, i) => i === 0 || t > stamps[i - 1]!), 'each reading keeps its own sample time');
  assert.is(ob.pending, 0, 'all acknowledged');
  p.stop();
});

test('batch with max_readings_per_item 3: full items go at once, the rest at the deadline', async () => {
  const s = session();
  const { p } = await pipelineWith(s, { batchMs: 400, maxReadings: 3 });
  for (let i = 0; i < 7; i++) await p.offer(reading(i));
  await until('two full items', () => s.sent.length >= 2, 300);
  assert.equal(s.sent.map((it) => it.readings.length), [3, 3]);
  await until('all published', () => p.stats.published === 7);
  assert.equal(s.sent.map((it) => it.readings.map((r) => r.v)), [[0, 1, 2], [3, 4, 5], [6]]);
  p.stop();
});

test('a failed item is resent whole under the same id; readings that came meanwhile go in the next item', async () => {
  const s = session([1]);
  const { p } = await pipelineWith(s, { batchMs: 100, maxReadings: 64 });
  // The node is set up by a first item that goes through.
  await p.offer(reading(-1));
  await until('node ready', () => p.stats.published === 1);
  for (let i = 0; i < 4; i++) await p.offer(reading(i));
  await until('first attempt', () => s.sent.length === 2);
  for (let i = 4; i < 6; i++) await p.offer(reading(i));
  await until('all published', () => p.stats.published === 7);
  const [failed, resent, ...rest] = s.sent.slice(1);
  assert.equal(failed!.readings.map((r) => r.v), [0, 1, 2, 3]);
  assert.is(resent!.id, failed!.id, 'the resend overwrites the same item');
  assert.equal(resent!.readings, failed!.readings, 'with exactly the same readings');
  assert.equal(rest.flatMap((it) => it.readings.map((r) => r.v)), [4, 5]);
  assert.ok(rest.every((it) => it.id !== failed!.id));
  p.stop();
});

test('config: publish.batch_s and max_readings_per_item per thing; bad values are named', () => {
  const base = { account: { jid: 'a@b.c', password: 'x' }, outbox: { dir: '/tmp/xiota-cfg-test' } };
  const r = configFromObject({ ...base, publish: { batch_s: 10 }, things: { fast: { publish: { batch_s: 0 } }, capped: { publish: { max_readings_per_item: 5 } } } });
  assert.ok(r.config, JSON.stringify(r.errors));
  assert.equal(batchingFor(r.config!, 'slow'), { batchMs: 10_000, maxReadings: 64 });
  assert.equal(batchingFor(r.config!, 'fast'), { batchMs: 0, maxReadings: 16 }, 'readings already waiting share items by default');
  const one = configFromObject({ ...base, publish: { max_readings_per_item: 1 } });
  assert.equal(batchingFor(one.config!, 'x'), { batchMs: 0, maxReadings: 1 }, '1: one reading per item');
  assert.equal(batchingFor(r.config!, 'capped'), { batchMs: 10_000, maxReadings: 5 });
  const bad = configFromObject({ ...base, publish: { batch_s: 'soon', max_readings_per_item: 0 } });
  assert.ok(!bad.config);
  const msgs = bad.errors.map((e) => `${e.path}: ${e.message}`).join('\n');
  assert.match(msgs, /publish\.batch_s/);
  assert.match(msgs, /publish\.max_readings_per_item/);
});

test.run();
