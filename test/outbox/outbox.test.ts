import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox, OutboxOptions, DropInfo } from '../../agent/outbox/outbox';
import { countingFs } from '../../agent/outbox/fs';
import { isXiotaError } from '../../agent/errors';
import { crc32, tableCrc32 } from '../../agent/outbox/crc32';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'xiota-outbox-'));
  dirs.push(d);
  return d;
}
const open = (dir: string, o: Partial<OutboxOptions> = {}) => Outbox.open({ dir, flushIntervalMs: 5, ...o });
const rec = (i: number, key = 'temp') => ({ key, id: `r${i}`, payload: `<reading n="${i}"/>` });
const ids = (rs: Array<{ id: string }>) => rs.map((r) => r.id);
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, k) => a + k);

test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

test('take hands out records in append order, with key, id and payload', async () => {
  const ob = await open(tmp());
  await Promise.all(range(0, 5).map((i) => ob.append(rec(i, `node${i % 2}`))));
  const got = await ob.take(10);
  assert.equal(ids(got), ['r0', 'r1', 'r2', 'r3', 'r4']);
  assert.is(got[3].key, 'node1');
  assert.is(got[3].payload.toString(), '<reading n="3"/>');
  assert.equal(await ob.take(10), [], 'in-flight records are not handed out twice');
  assert.is(ob.inFlight, 5);
  await ob.close();
});

test('unacked records replay after reopen, acked ones do not; acks may come out of order', async () => {
  const dir = tmp();
  let ob = await open(dir);
  await ob.appendMany(range(0, 10).map((i) => rec(i)));
  await ob.take(10);
  assert.is(ob.ack(['r7', 'r2', 'r9', 'r0', 'r5']), 5);
  assert.is(ob.ack(['nope']), 0);
  await ob.close();
  ob = await open(dir);
  assert.is(ob.pending, 5);
  assert.equal(ids(await ob.take(100)), ['r1', 'r3', 'r4', 'r6', 'r8']);
  ob.ack(['r4']);
  await ob.close();
  ob = await open(dir);
  assert.equal(ids(await ob.take(100)), ['r1', 'r3', 'r6', 'r8']);
  await ob.close();
});

test('take hands a record out before its batch is on disk; an ack that comes first is kept', async () => {
  const dir = tmp();
  let ob = await open(dir, { flushIntervalMs: 200 });
  let onDisk = false;
  const written = ob.appendMany(range(0, 4).map((i) => rec(i))).then(() => (onDisk = true));
  const got = await ob.take(10);
  assert.equal(ids(got), ['r0', 'r1', 'r2', 'r3'], 'handed out at once');
  assert.is(onDisk, false, 'before the 200 ms batch window closed');
  assert.is(got[2].payload.toString(), '<reading n="2"/>');
  assert.is(ob.ack(['r1', 'r3']), 2, 'acks before the write are accepted');
  await written;
  await ob.close();
  ob = await open(dir);
  assert.equal(ids(await ob.take(10)), ['r0', 'r2'], 'the early acks reached the ack log after the frames');
  ob.ack(['r0', 'r2']);
  await ob.append(rec(9));
  await ob.close();
  ob = await open(dir);
  assert.equal(ids(await ob.take(10)), ['r9']);
  await ob.close();
});

test('requeueInFlight puts in-flight records back in front, same order', async () => {
  const ob = await open(tmp());
  await ob.appendMany(range(0, 6).map((i) => rec(i)));
  assert.equal(ids(await ob.take(2)), ['r0', 'r1']);
  assert.equal(ids(await ob.take(2)), ['r2', 'r3']);
  ob.ack(['r1']);
  assert.is(ob.requeueInFlight(), 3);
  assert.equal(ids(await ob.take(10)), ['r0', 'r2', 'r3', 'r4', 'r5']);
  await ob.close();
});

test('appends in a burst share writes and fsyncs; all resolve', async () => {
  const { fs, counters } = countingFs();
  const ob = await open(tmp(), { fs, flushIntervalMs: 50 });
  await Promise.all(range(0, 1000).map((i) => ob.append(rec(i))));
  assert.ok(counters.syncs <= 5, `1000 appends took ${counters.syncs} syncs`);
  assert.ok(counters.writes <= 3, `1000 appends took ${counters.writes} writes`);
  assert.is(ob.pending, 1000);
  await ob.close();
});

test('maxBatch writes a full batch without waiting for the timer', async () => {
  const ob = await open(tmp(), { flushIntervalMs: 60_000, maxBatch: 10 });
  const t0 = Date.now();
  await Promise.all(range(0, 10).map((i) => ob.append(rec(i))));
  assert.ok(Date.now() - t0 < 5000);
  await ob.close();
});

test('segments rotate, and a fully acked one is deleted', async () => {
  const dir = tmp();
  const ob = await open(dir, { segmentBytes: 4096, maxBytes: 1 << 20 });
  const payload = 'x'.repeat(1000);
  for (let i = 0; i < 12; i++) await ob.append({ key: 'k', id: `r${i}`, payload });
  const segs = () => readdirSync(dir).filter((n) => n.startsWith('seg-')).sort();
  assert.ok(segs().length >= 3, `expected rotation, got ${segs()}`);
  const first = segs()[0];
  const firstSize = statSync(join(dir, first)).size;
  const inFirst = Math.round(firstSize / (1000 + 8 + 12 + 1 + 2));
  const got = await ob.take(inFirst);
  ob.ack(ids(got));
  await ob.flush();
  assert.not.ok(segs().includes(first), 'fully acked segment deleted');
  await ob.close();
  const again = await open(dir, { segmentBytes: 4096 });
  assert.is(again.pending, 12 - inFirst);
  await again.close();
});

test('size bound drops the oldest segments, counts and reports them, never blocks', async () => {
  const drops: DropInfo[] = [];
  const ob = await open(tmp(), { maxBytes: 64 * 1024, segmentBytes: 16 * 1024, onDrop: (d) => drops.push(d) });
  const payload = 'y'.repeat(300);
  for (let i = 0; i < 1000; i += 25) await ob.appendMany(range(i, i + 25).map((k) => ({ key: 'k', id: `r${k}`, payload })));
  const st = ob.status();
  assert.ok(st.diskBytes <= 64 * 1024, `diskBytes ${st.diskBytes}`);
  const dropped = drops.reduce((a, d) => a + d.records, 0);
  assert.ok(dropped > 0);
  assert.is(st.dropped, dropped);
  assert.is(ob.pending + dropped, 1000, 'every record is either kept or counted as dropped');
  const got = await ob.take(5000);
  assert.is(got[got.length - 1].id, 'r999', 'the newest are kept');
  assert.is(got[0].id, `r${dropped}`, 'the oldest went first');
  await ob.close();
});

test('payloads beyond the cache budget are read back from disk', async () => {
  const dir = tmp();
  let ob = await open(dir, { cacheBytes: 0 });
  await ob.appendMany(range(0, 50).map((i) => rec(i)));
  let got = await ob.take(50);
  assert.is(got[49].payload.toString(), '<reading n="49"/>');
  await ob.close();
  ob = await open(dir, { cacheBytes: 0 });
  got = await ob.take(50);
  assert.equal(ids(got), range(0, 50).map((i) => `r${i}`));
  assert.is(got[17].payload.toString(), '<reading n="17"/>');
  await ob.close();
});

test('ack log compaction keeps acks across reopen; seqs never go back', async () => {
  const dir = tmp();
  let ob = await open(dir, { ackLogMaxBytes: 4096 });
  for (let round = 0; round < 40; round++) {
    await ob.appendMany(range(round * 20, round * 20 + 20).map((i) => rec(i)));
    const got = await ob.take(100);
    ob.ack(ids(got).filter((id) => Number(id.slice(1)) % 7 !== 0).reverse());
    await ob.flush();
  }
  assert.ok(statSync(join(dir, 'acks.log')).size < 8192, 'ack log was compacted');
  await ob.close();
  ob = await open(dir);
  const left = ids(await ob.take(1000));
  assert.equal(left, range(0, 800).filter((i) => i % 7 === 0).map((i) => `r${i}`));
  ob.ack(left);
  await ob.appendMany([rec(9999)]);
  const [r] = await ob.take(1);
  assert.ok(r.seq >= 800, `seq ${r.seq} continues after the old ones`);
  await ob.close();
});

test('bad records are rejected with XIOTA_E_OUTBOX, the outbox keeps working', async () => {
  const ob = await open(tmp());
  const err = await ob.append({ key: 'k', id: '', payload: 'x' }).catch((e: unknown) => e);
  assert.ok(isXiotaError(err, 'XIOTA_E_OUTBOX'));
  const err2 = await ob.append({ key: 'k', id: 'big', payload: Buffer.alloc(2 * 1024 * 1024) }).catch((e: unknown) => e);
  assert.ok(isXiotaError(err2, 'XIOTA_E_OUTBOX'));
  await ob.append(rec(1));
  assert.is(ob.pending, 1);
  await ob.close();
  const closed = await ob.append(rec(2)).catch((e: unknown) => e);
  assert.ok(isXiotaError(closed, 'XIOTA_E_OUTBOX'));
});

test('the table crc32 fallback for older Node 20 matches zlib (IEEE check value)', () => {
  const data = Buffer.from('123456789');
  assert.is(tableCrc32(data), 0xcbf43926);
  assert.is(crc32(data), 0xcbf43926);
  assert.is(tableCrc32(data.subarray(4), tableCrc32(data.subarray(0, 4))), 0xcbf43926);
});

test.run();
