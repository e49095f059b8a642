// The history store on a real directory with an injected clock: raw readings back newest first,
// rollup maths (count/min/max/mean per minute, hour, day, and week/month grouped at query time),
// the XEP-0323 historical* flags, torn tails and garbage cut at open, the rollups exactly once
// across a crash (a store dropped without close, reopened), retention by age and by bytes, and
// fast-check properties: any readings -> each minute's aggregate equals the naive one; a file
// cut at any byte reopens with a prefix of what was written.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HistoryStore, type HistoryStoreOptions } from '../../agent/history/store';
import { historicalFlags, mean, periodStart } from '../../agent/history/rollup';

const root = mkdtempSync(join(tmpdir(), 'xiota-history-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `s${n++}`);

const T0 = Date.UTC(2026, 10, 30, 10, 0, 0); // a Monday, 10:00 UTC
function clock(start = T0) {
  const c = { t: start, now: () => c.t };
  return c;
}

async function openStore(dir: string, c: { now: () => number }, o: Partial<HistoryStoreOptions> = {}) {
  return HistoryStore.open({ dir, now: c.now, timers: false, ...o });
}

test('raw readings come back newest first, values and errors, range and limit', async () => {
  const c = clock();
  const s = await openStore(fresh(), c);
  for (let i = 0; i < 50; i++) s.append({ thing: 'gh', timestamp: T0 + i * 1000, values: [{ field: 't', value: 20 + i / 10 }, { field: 'fan', value: i % 2 === 0 }] });
  s.append({ thing: 'gh', timestamp: T0 + 50_000, values: [{ field: 't', error: 'no response' }] });
  const a = await s.query({ thing: 'gh', field: 't', limit: 5 });
  assert.equal(a.rows.map((r) => r.ts), [50, 49, 48, 47, 46].map((k) => T0 + k * 1000));
  assert.is(a.rows[0]!.error, 'no response');
  assert.is(a.rows[1]!.value, 24.9);
  assert.ok(a.truncated);
  const b = await s.query({ thing: 'gh', field: 'fan', from: T0 + 10_000, to: T0 + 12_000, limit: 100 });
  assert.equal(b.rows.map((r) => r.value), [true, false, true]);
  assert.not.ok(b.truncated);
  assert.equal((await s.query({ thing: 'gh', field: 'nope', limit: 5 })).rows, []);
  await s.close();
});

test('rollups: per minute, hour, day count/min/max/mean; week and month grouped from days', async () => {
  const c = clock();
  const s = await openStore(fresh(), c);
  // 3 hours at 1 reading per 10 s: value = minute index within the run.
  for (let i = 0; i < 3 * 360; i++) {
    c.t = T0 + i * 10_000;
    s.append({ thing: 'gh', timestamp: c.t, values: [{ field: 't', value: Math.floor(i / 6) }] });
    if (i % 60 === 0) await s.tick();
  }
  c.t = T0 + 2 * 86_400_000; // everything closes, days too
  await s.tick();
  const m = await s.query({ thing: 'gh', field: 't', period: 'minute', limit: 1000 });
  assert.is(m.source, 'minute');
  assert.is(m.rows.length, 180);
  assert.is(m.rows[0]!.ts, T0 + 179 * 60_000);
  assert.equal({ ...m.rows[0]!.agg }, { count: 6, errors: 0, min: 179, max: 179, sum: 179 * 6 });
  const h = await s.query({ thing: 'gh', field: 't', period: 'hour', limit: 10 });
  assert.is(h.source, 'hour');
  assert.equal(h.rows.map((r) => r.ts), [T0 + 2 * 3_600_000, T0 + 3_600_000, T0]);
  assert.equal([h.rows[2]!.agg!.count, h.rows[2]!.agg!.min, h.rows[2]!.agg!.max, mean(h.rows[2]!.agg!)], [360, 0, 59, 29.5]);
  const d = await s.query({ thing: 'gh', field: 't', period: 'day', limit: 10 });
  assert.equal(d.rows.map((r) => [r.ts, r.agg!.count, mean(r.agg!)]), [[periodStart('day', T0), 1080, 89.5]]);
  const w = await s.query({ thing: 'gh', field: 't', period: 'week', limit: 10 });
  assert.equal(w.rows.map((r) => [r.ts, r.agg!.count]), [[Date.UTC(2026, 10, 30), 1080]]);
  const mo = await s.query({ thing: 'gh', field: 't', period: 'month', limit: 10 });
  assert.equal(mo.rows.map((r) => r.ts), [Date.UTC(2026, 10, 1)]);
  // Hours from minutes when the hour level is not kept: the same answer.
  const s2 = await openStore(fresh(), clock(), { rollups: ['minute'] });
  assert.equal(s2.rollups, ['minute']);
  await s2.close();
  await s.close();
});

test('historical flags follow XEP-0323: the period and each coarser shift the time falls on', () => {
  assert.equal(historicalFlags('hour', Date.UTC(2013, 2, 7, 18)), ['historicalHour']);
  assert.equal(historicalFlags('hour', Date.UTC(2013, 2, 7)), ['historicalHour', 'historicalDay']);
  // 2024-01-01 was a Monday, a month, a quarter and a year start.
  assert.equal(historicalFlags('day', Date.UTC(2024, 0, 1)), ['historicalDay', 'historicalWeek', 'historicalMonth', 'historicalQuarter', 'historicalYear']);
  assert.equal(historicalFlags('minute', Date.UTC(2024, 3, 2, 5, 7)), ['historicalMinute']);
  assert.equal(historicalFlags(undefined, Date.UTC(2024, 3, 2, 5, 7, 3, 250)), ['historicalOther']);
  assert.equal(historicalFlags(undefined, Date.UTC(2024, 3, 2, 5, 7, 3)), ['historicalSecond']);
  assert.is(periodStart('week', Date.UTC(2026, 11, 2, 13)), Date.UTC(2026, 10, 30));
  assert.is(periodStart('quarter', Date.UTC(2026, 11, 2)), Date.UTC(2026, 9, 1));
});

test('a torn tail and garbage at the end of the last segment are cut at open; the rest is kept', async () => {
  const dir = fresh();
  const c = clock();
  const s = await openStore(dir, c);
  for (let i = 0; i < 20; i++) s.append({ thing: 'gh', timestamp: T0 + i * 1000, values: [{ field: 't', value: i + 0.1 }] });
  await s.flush();
  const raw = readdirSync(dir).find((f) => f.startsWith('raw-'))!;
  const size = statSync(join(dir, raw)).size;
  // Not closed (a crash): cut 5 bytes into the last frame, then a zero-filled tail (ext4 after a power cut).
  truncateSync(join(dir, raw), size - 5);
  appendFileSync(join(dir, raw), Buffer.alloc(300));
  const warns: string[] = [];
  const s2 = await openStore(dir, c, { log: { warn: (m) => warns.push(m), info() {}, debug() {} } });
  const a = await s2.query({ thing: 'gh', field: 't', limit: 100 });
  // (Values with a busy mantissa: a zero tail must not rebuild the cut bytes of the last one.)
  assert.equal(a.rows.map((r) => Math.round(r.value as number)), [18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  assert.ok(warns.some((w) => /torn tail/.test(w)), warns.join('\n'));
  assert.ok(statSync(join(dir, raw)).size < size);
  // Appending after the reopen goes to a new segment and reads back with the old.
  s2.append({ thing: 'gh', timestamp: T0 + 30_000, values: [{ field: 't', value: 99 }] });
  assert.equal((await s2.query({ thing: 'gh', field: 't', limit: 2 })).rows.map((r) => Math.round(r.value as number)), [99, 18]);
  await s2.close();
});

test('crash between rollup batches: every reading in exactly one minute, hour and day bucket after reopen', async () => {
  const dir = fresh();
  const c = clock();
  const s = await openStore(dir, c);
  let total = 0;
  for (let i = 0; i < 150; i++) { // 150 s: minutes 0 and 1 close, minute 2 is open
    c.t = T0 + i * 1000;
    s.append({ thing: 'gh', timestamp: c.t, values: [{ field: 't', value: 1 }] });
    total++;
    if (i % 10 === 0) { await s.tick(); await s.flush(); }
  }
  await s.flush();
  // Dropped without close (kill -9): the open minute and hour live only in memory.
  const s2 = await openStore(dir, c);
  for (let i = 150; i < 200; i++) {
    c.t = T0 + i * 1000;
    s2.append({ thing: 'gh', timestamp: c.t, values: [{ field: 't', value: 1 }] });
    total++;
  }
  await s2.flush();
  const s3 = await openStore(dir, c); // and once more
  assert.is((await s3.query({ thing: 'gh', field: 't', limit: 1000 })).rows.length, total);
  c.t = T0 + 3 * 86_400_000;
  await s3.tick();
  await s3.tick();
  const sum = async (period: 'minute' | 'hour' | 'day') => (await s3.query({ thing: 'gh', field: 't', period, limit: 1000 })).rows.reduce((k, r) => k + r.agg!.count, 0);
  assert.is(await sum('minute'), total);
  assert.is(await sum('hour'), total);
  assert.is(await sum('day'), total);
  await s3.close();
});

test('retention: segments older than a level keeps are dropped; max_bytes drops the finest, oldest first', async () => {
  const dir = fresh();
  const c = clock();
  const s = await openStore(dir, c, { segmentBytes: 4096, retentionMs: { raw: 3_600_000 }, maxBytes: 1024 * 1024 });
  for (let i = 0; i < 4 * 360; i++) { // 4 h at one per 10 s
    c.t = T0 + i * 10_000;
    s.append({ thing: 'gh', timestamp: c.t, values: [{ field: 't', value: i }] });
    if (i % 30 === 0) { await s.flush(); await s.tick(); }
  }
  await s.tick();
  await s.flush();
  await s.applyRetention(c.t);
  const raw = await s.query({ thing: 'gh', field: 't', limit: 10_000 });
  const oldest = raw.rows[raw.rows.length - 1]!.ts;
  // Whole segments go: the one holding the cutoff stays (4 KiB here: about 25 min of readings).
  assert.ok(oldest >= c.t - 3_600_000 - 30 * 60_000, `oldest raw is ${(c.t - oldest) / 60_000} min old`);
  assert.ok(raw.rows.length < 4 * 360);
  // Minutes are kept 30 days: all four hours are still there as minutes.
  assert.is((await s.query({ thing: 'gh', field: 't', period: 'minute', limit: 10_000 })).rows.length, 239);
  // Now a byte bound of half what is on disk: raw goes first (down to its last segment), then
  // the oldest minutes; the hours are untouched.
  const before = s.bytes;
  const s2 = await openStore(dir, c, { segmentBytes: 4096, maxBytes: Math.floor(before / 2) });
  await s2.applyRetention(c.t);
  assert.ok(s2.bytes <= Math.floor(before / 2), `${s2.bytes} of ${before}`);
  assert.is(readdirSync(dir).filter((f) => f.startsWith('raw-')).length, 1);
  const minutes = (await s2.query({ thing: 'gh', field: 't', period: 'minute', limit: 10_000 })).rows;
  assert.ok(minutes.length > 0 && minutes.length < 239, `${minutes.length} minutes left`);
  assert.is(minutes[0]!.ts, T0 + 238 * 60_000, 'the newest minutes stay');
  assert.is((await s2.query({ thing: 'gh', field: 't', period: 'hour', limit: 100 })).rows.length, 3);
  await s.close();
  await s2.close();
});

test('property: any readings -> each minute bucket equals the naive count/min/max/sum', async () => {
  await fc.assert(fc.asyncProperty(
    fc.array(fc.record({ dt: fc.integer({ min: 0, max: 20_000 }), v: fc.double({ min: -1e6, max: 1e6, noNaN: true }) }), { minLength: 1, maxLength: 60 }),
    async (rs) => {
      const c = clock();
      const s = await openStore(fresh(), c);
      const naive = new Map<number, number[]>();
      let t = T0;
      for (const r of rs) {
        t += r.dt;
        c.t = t;
        s.append({ thing: 'p', timestamp: t, values: [{ field: 'x', value: r.v }] });
        const m = periodStart('minute', t);
        naive.set(m, [...(naive.get(m) ?? []), r.v]);
        if (r.dt > 15_000) await s.tick();
      }
      c.t = t + 86_400_000 * 2;
      await s.tick();
      const got = (await s.query({ thing: 'p', field: 'x', period: 'minute', limit: 10_000 })).rows;
      await s.close();
      assert.is(got.length, naive.size);
      for (const row of got) {
        const vs = naive.get(row.ts)!;
        assert.is(row.agg!.count, vs.length);
        assert.is(row.agg!.min, Math.min(...vs));
        assert.is(row.agg!.max, Math.max(...vs));
        const m = mean(row.agg!)!;
        assert.ok(m >= row.agg!.min! && m <= row.agg!.max!);
      }
    }), { numRuns: 40 });
});

test('property: a raw segment cut at any byte reopens with a prefix of the readings written', async () => {
  const src = fresh();
  const c = clock();
  const s = await openStore(src, c);
  for (let i = 0; i < 12; i++) s.append({ thing: 'gh', timestamp: T0 + i, values: [{ field: 's', value: 'x'.repeat(i) }, { field: 'n', value: i }] });
  await s.close();
  const seg = readdirSync(src).find((f) => f.startsWith('raw-'))!;
  const full = readFileSync(join(src, seg));
  await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: full.length }), async (cut) => {
    const d = fresh();
    mkdirSync(d);
    writeFileSync(join(d, seg), full.subarray(0, cut));
    const r = await openStore(d, c);
    const got = (await r.query({ thing: 'gh', field: 'n', limit: 100 })).rows.map((x) => x.value).reverse();
    await r.close();
    assert.equal(got, Array.from({ length: got.length }, (_, i) => i));
    if (cut === full.length) assert.is(got.length, 12);
  }), { numRuns: 60 });

});

test.run();
