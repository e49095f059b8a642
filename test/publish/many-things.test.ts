// A burst from many things: readings arrive interleaved (thing 0, 1, ... 99, 0, 1, ...), and the
// pump takes ahead of the publish window so that readings of one thing still meet and share an
// item (max_readings_per_item). What must hold meanwhile: every reading published once, per
// thing in order, never more publishes in flight than the window, a failed item resent whole
// under its id, the readahead bounded. Real outbox, scripted session (answers after a delay).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../agent/log';
import { Outbox } from '../../agent/outbox/outbox';
import { ItemQueue, MAX_ITEM_PAYLOAD_BYTES } from '../../agent/publish/item-queue';
import { ReadingPipeline, type SessionLike } from '../../agent/publish/pipeline';
import type { OutboxRecord } from '../../agent/outbox/outbox';
import { fieldsToReadings } from '../../agent/xep/sensordata-fields';
import { parseXml } from '../pubsub/xml';
import { x, type Element } from '../../agent/xml/element';
import type { ThingSpec } from '../../drivers/types';

const dirs: string[] = [];
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const THINGS = 100;
const WINDOW = 8;
const spec = (id: string): ThingSpec => ({ id, fields: [{ name: 'v', type: 'int' }] });

interface Sent { node: string; id: string; vs: number[] }

/** Answers each publish after `delayMs`; answer number `failAt` is a 'wait' error. */
function session(delayMs: number, failAt = -1): SessionLike & { sent: Sent[]; maxInFlight: number } {
  const ee = new EventEmitter();
  const s = Object.assign(ee, {
    state: 'online',
    sent: [] as Sent[],
    maxInFlight: 0,
    iq: async (req: Element): Promise<Element> => {
      const pub = parseXml(req.toString()).getChild('pubsub')?.getChild('publish');
      const item = pub?.getChild('item');
      const n = s.sent.length;
      if (pub && item) s.sent.push({ node: pub.attrs.node!, id: item.attrs.id!, vs: fieldsToReadings(item.getChild('fields')!).map((r) => r.values[0]!.value as number) });
      inFlight++;
      s.maxInFlight = Math.max(s.maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, delayMs));
      inFlight--;
      if (n === failAt) {
        const error = x('error', { type: 'wait' }, x('internal-server-error', { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }));
        throw Object.assign(new Error('internal-server-error'), { stanza: x('iq', { type: 'error' }, error) });
      }
      return x('iq', { type: 'result' });
    },
  });
  let inFlight = 0;
  return s as unknown as SessionLike & { sent: Sent[]; maxInFlight: number };
}

async function pipelineWith(s: SessionLike, maxReadings: number): Promise<{ p: ReadingPipeline; ob: Outbox }> {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-many-'));
  dirs.push(dir);
  const ob = await Outbox.open({ dir, flushIntervalMs: 5 });
  const p = new ReadingPipeline({
    session: s, outbox: ob, thing: (id) => spec(id), window: WINDOW,
    policyFor: () => ({ deadband: 0, minIntervalMs: 0 }),
    targetFor: (id) => ({ service: 'pep', node: `urn:xiota:${id}`, config: {} }),
    batchingFor: () => ({ batchMs: 0, maxReadings }),
    retryDelayMs: 20,
    log: silentLogger,
  });
  return { p, ob };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** n readings dealt round robin over THINGS things; value i (so order per thing is checkable). */
function burst(p: ReadingPipeline, n: number, from = 0): Promise<void[]> {
  const all: Promise<void>[] = [];
  for (let i = from; i < from + n; i++) all.push(p.offer({ thing: `t${i % THINGS}`, timestamp: 1_000_000 + i, values: [{ field: 'v', value: i }] }));
  return Promise.all(all);
}

/** Every value once, and per node in increasing order across items in send order. */
function checkOrder(sent: Sent[], n: number): void {
  const last = new Map<string, number>();
  const seen = new Set<number>();
  for (const it of sent) {
    for (const v of it.vs) {
      assert.ok(v > (last.get(it.node) ?? -1), `${it.node}: ${v} after ${last.get(it.node)}`);
      assert.is(`urn:xiota:t${v % THINGS}`, it.node, 'a reading goes to its own thing\'s node');
      last.set(it.node, v);
      seen.add(v);
    }
  }
  assert.is(seen.size, n, 'every reading published');
}

test('a burst over 100 things: readings of one thing share items although they arrive interleaved', async () => {
  const s = session(2);
  const { p, ob } = await pipelineWith(s, 16);
  const n = 3000;
  // Memory bound: taken from the outbox = waiting in the queue (<= 1024) + in flight (window x 16).
  let maxTaken = 0;
  const probe = setInterval(() => { maxTaken = Math.max(maxTaken, ob.inFlight); }, 1);
  await burst(p, n);
  await until('all published', () => p.stats.published === n && p.idle);
  clearInterval(probe);
  assert.ok(maxTaken > 0 && maxTaken <= 1024 + WINDOW * 16, `taken at most ${maxTaken}`);
  checkOrder(s.sent, n);
  // A take of WINDOW in arrival order would hold 8 different things: one reading per item.
  assert.ok(s.sent.length <= n / 8, `${s.sent.length} items for ${n} readings`);
  assert.ok(s.sent.every((it) => it.vs.length <= 16), 'max_readings_per_item holds');
  assert.ok(s.maxInFlight <= WINDOW, `in flight at most the window (${s.maxInFlight})`);
  assert.is(ob.pending + ob.inFlight, 0);
  p.stop();
});

test('max_readings_per_item 1: one reading per item, same order guarantees', async () => {
  const s = session(1);
  const { p } = await pipelineWith(s, 1);
  await burst(p, 500);
  await until('all published', () => p.stats.published === 500 && p.idle);
  assert.is(s.sent.length, 500);
  checkOrder(s.sent, 500);
  assert.ok(s.maxInFlight <= WINDOW);
  p.stop();
});

test('a failed item in a burst is resent whole under its id, and nothing of its thing overtakes it', async () => {
  const s = session(2, 5);
  const { p } = await pipelineWith(s, 16);
  await burst(p, 1500);
  await until('all published', () => p.stats.published === 1500 && p.idle);
  const failed = s.sent[5]!;
  const again = s.sent.slice(6).filter((it) => it.id === failed.id);
  assert.is(again.length, 1, 'resent once');
  assert.equal(again[0]!.vs, failed.vs, 'the same readings under the same id');
  // Items answered before the failure are acked; the rest resent: order per thing holds in
  // what the server ends up with (each id's last version, in first-send order of the ids).
  const final = new Map<string, Sent>();
  for (const it of s.sent) final.set(it.id, it);
  const order = [...new Set(s.sent.map((it) => it.id))].map((id) => final.get(id)!);
  checkOrder(order, 1500);
  p.stop();
});

test('ItemQueue: per key in order, fixed units alone, maxReadings and the byte cap, keys take turns', () => {
  let seq = 0;
  const rec = (key: string, bytes = 10): OutboxRecord => ({ seq: seq++, key, id: `i${seq}`, payload: Buffer.alloc(bytes) });
  const q = new ItemQueue();
  const a = [rec('a'), rec('a'), rec('a'), rec('a'), rec('a')];
  const b = [rec('b'), rec('b')];
  q.add(a[0]!); q.add(b[0]!); q.add(a[1]!); q.addFixed([a[2]!]); q.add(a[3]!); q.add(b[1]!); q.add(a[4]!);
  assert.is(q.size, 7);
  const three = () => 3;
  assert.equal(q.next(three), [a[0], a[1]], 'mergeable records up to the fixed unit');
  assert.equal(q.next(three), [b[0], b[1]], 'then the other key');
  assert.equal(q.next(three), [a[2]], 'the fixed unit alone');
  assert.equal(q.next(three), [a[3], a[4]]);
  assert.is(q.next(three), undefined);
  assert.is(q.size, 0);
  const big = [rec('c', MAX_ITEM_PAYLOAD_BYTES - 5), rec('c', 10), rec('c', MAX_ITEM_PAYLOAD_BYTES + 1)];
  for (const r of big) q.add(r);
  assert.equal(q.next(() => 16), [big[0]], 'the byte cap splits items');
  assert.equal(q.next(() => 16), [big[1]]);
  assert.equal(q.next(() => 16), [big[2]], 'a record above the cap still goes, alone');
  q.add(rec('d'));
  q.clear();
  assert.is(q.size, 0);
  assert.is(q.next(three), undefined);
});

test.run();
