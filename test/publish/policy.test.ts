import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PublishPolicy } from '../../agent/publish/policy';
import type { FieldValue, Reading } from '../../drivers/types';
import * as fc from 'fast-check';

const r = (ts: number, ...values: FieldValue[]): Reading => ({ thing: 't', timestamp: ts, values });
const temp = (v: number, ts = 0): Reading => r(ts, { field: 'temp', value: v });

test('first reading is always published', () => {
  const p = new PublishPolicy({ deadband: 100, minIntervalMs: 1e9 });
  const d = p.offer(temp(1), 0);
  assert.ok(d.publish);
  assert.is(d.publish && d.reason, 'first');
});

test('deadband: a change must exceed it; the baseline is the last published value', () => {
  const p = new PublishPolicy({ deadband: 0.5 });
  p.offer(temp(20), 0);
  assert.is(p.offer(temp(20.5), 1).publish, false, 'exactly the deadband is not a change');
  assert.is(p.offer(temp(20.3), 2).publish, false);
  // Drift adds up against the last PUBLISHED value (20), not the last seen one.
  const d = p.offer(temp(20.6), 3);
  assert.ok(d.publish && d.reason === 'changed');
  assert.is(p.offer(temp(20.1), 4).publish, false, 'new baseline is 20.6');
  assert.ok(p.offer(temp(20.0), 5).publish);
});

test('deadband 0: any difference is a change; equal is not', () => {
  const p = new PublishPolicy();
  p.offer(temp(1), 0);
  assert.is(p.offer(temp(1), 1).publish, false);
  assert.ok(p.offer(temp(1.0001), 2).publish);
});

test('per-field deadband overrides the default', () => {
  const p = new PublishPolicy({ deadband: 10, deadbands: { hum: 1 } });
  p.offer(r(0, { field: 'temp', value: 20 }, { field: 'hum', value: 50 }), 0);
  assert.is(p.offer(r(1, { field: 'temp', value: 25 }, { field: 'hum', value: 50.5 }), 1).publish, false);
  assert.ok(p.offer(r(2, { field: 'temp', value: 20 }, { field: 'hum', value: 51.5 }), 2).publish);
});

test('non-numeric fields change on any difference', () => {
  const p = new PublishPolicy({ deadband: 100 });
  p.offer(r(0, { field: 'relay', value: false }, { field: 'mode', value: 'auto' }), 0);
  assert.is(p.offer(r(1, { field: 'relay', value: false }, { field: 'mode', value: 'auto' }), 1).publish, false);
  assert.ok(p.offer(r(2, { field: 'relay', value: true }, { field: 'mode', value: 'auto' }), 2).publish);
  assert.ok(p.offer(r(3, { field: 'relay', value: true }, { field: 'mode', value: 'manual' }), 3).publish);
});

test('error state changes count as changes (into, out of, other text); same error does not', () => {
  const p = new PublishPolicy({ deadband: 100 });
  p.offer(temp(20), 0);
  assert.ok(p.offer(r(1, { field: 'temp', error: 'CRC' }), 1).publish, 'into error');
  assert.is(p.offer(r(2, { field: 'temp', error: 'CRC' }), 2).publish, false, 'same error');
  assert.ok(p.offer(r(3, { field: 'temp', error: 'timeout' }), 3).publish, 'other error');
  assert.ok(p.offer(temp(20, 4), 4).publish, 'out of error');
});

test('fields appearing or disappearing are changes', () => {
  const p = new PublishPolicy({ deadband: 100 });
  p.offer(temp(20), 0);
  assert.ok(p.offer(r(1, { field: 'temp', value: 20 }, { field: 'hum', value: 1 }), 1).publish);
  assert.ok(p.offer(r(2, { field: 'hum', value: 1 }), 2).publish);
  assert.ok(p.offer(r(3, { field: 'temp', value: 1 }), 3).publish, 'same count, other field');
});

test('NaN and infinities compare sanely', () => {
  const p = new PublishPolicy({ deadband: 1 });
  p.offer(temp(NaN), 0);
  assert.is(p.offer(temp(NaN), 1).publish, false);
  assert.ok(p.offer(temp(Infinity), 2).publish);
  assert.is(p.offer(temp(Infinity), 3).publish, false);
  assert.ok(p.offer(temp(5), 4).publish);
});

test('min_interval holds a change, then the LATEST reading goes out at the deadline', () => {
  const p = new PublishPolicy({ minIntervalMs: 1000 });
  p.offer(temp(1), 0);
  const held = p.offer(temp(2, 100), 100);
  assert.equal(held, { publish: false, reason: 'held', dueAt: 1000 });
  assert.ok(p.hasPending);
  assert.is(p.nextDueAt(), 1000);
  // A later reading replaces the held one, even one equal to the baseline: the change was seen.
  assert.equal(p.offer(temp(3, 500), 500), { publish: false, reason: 'held', dueAt: 1000 });
  assert.equal(p.tick(999), { publish: false, reason: 'held', dueAt: 1000 });
  const d = p.tick(1000);
  assert.ok(d.publish && d.reason === 'changed');
  assert.is(d.publish && d.reading.values[0]!.value, 3);
  assert.not.ok(p.hasPending);
  assert.is(p.nextDueAt(), undefined);
  assert.equal(p.tick(5000), { publish: false, reason: 'unchanged' });
});

test('a change after min_interval goes out at once', () => {
  const p = new PublishPolicy({ minIntervalMs: 1000 });
  p.offer(temp(1), 0);
  assert.ok(p.offer(temp(2, 1000), 1000).publish);
  assert.is(p.offer(temp(3, 1500), 1500).publish, false);
});

test('a held change whose reading arrives after the deadline (timer late) publishes on offer', () => {
  const p = new PublishPolicy({ minIntervalMs: 1000 });
  p.offer(temp(1), 0);
  p.offer(temp(2), 10);
  const d = p.offer(temp(2), 1200);
  assert.ok(d.publish && d.reason === 'changed');
});

test('max_interval: heartbeat of the latest reading even unchanged', () => {
  const p = new PublishPolicy({ deadband: 5, maxIntervalMs: 60_000 });
  p.offer(temp(20), 0);
  assert.is(p.nextDueAt(), 60_000);
  const quiet = p.offer(temp(21, 30_000), 30_000);
  assert.equal(quiet, { publish: false, reason: 'unchanged', dueAt: 60_000 });
  const hb = p.offer(temp(21.5, 60_000), 60_000);
  assert.ok(hb.publish && hb.reason === 'heartbeat');
  assert.is(hb.publish && hb.reading.values[0]!.value, 21.5);
  assert.is(p.nextDueAt(), 120_000);
  // From the timer, with no new reading: the latest goes out again.
  assert.equal(p.tick(119_999), { publish: false, reason: 'unchanged', dueAt: 120_000 });
  const t = p.tick(120_000);
  assert.ok(t.publish && t.reason === 'heartbeat');
  assert.is(t.publish && t.reading.values[0]!.value, 21.5);
});

test('min and max together: a change right after a heartbeat waits for min_interval', () => {
  const p = new PublishPolicy({ minIntervalMs: 10_000, maxIntervalMs: 60_000 });
  p.offer(temp(1), 0);
  assert.ok(p.tick(60_000).publish);
  const d = p.offer(temp(2), 61_000);
  assert.equal(d, { publish: false, reason: 'held', dueAt: 70_000 });
  assert.is(p.nextDueAt(), 70_000);
  assert.ok(p.tick(70_000).publish);
  assert.is(p.nextDueAt(), 130_000);
});

test('no reading yet: nothing due', () => {
  const p = new PublishPolicy({ maxIntervalMs: 10 });
  assert.is(p.nextDueAt(), undefined);
  assert.equal(p.tick(100), { publish: false, reason: 'unchanged' });
});

test('bad options are clamped, not crashing', () => {
  const p = new PublishPolicy({ deadband: -3, minIntervalMs: -5, deadbands: { temp: NaN } });
  p.offer(temp(1), 0);
  assert.ok(p.offer(temp(1.1), 0).publish);
});

test('property: publishes are >= min_interval apart, gaps <= max_interval when ticked, no change is lost', () => {
  fc.assert(fc.property(
    fc.array(fc.record({ dt: fc.integer({ min: 0, max: 3000 }), v: fc.integer({ min: 0, max: 5 }) }), { minLength: 1, maxLength: 60 }),
    fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 2000, max: 10_000 }),
    (steps, minI, maxI) => {
      const p = new PublishPolicy({ minIntervalMs: minI, maxIntervalMs: maxI });
      const sent: { at: number; v: number }[] = [];
      let now = 0;
      const take = (d: ReturnType<PublishPolicy['offer']>) => { if (d.publish) sent.push({ at: now, v: d.reading.values[0]!.value as number }); };
      // Fire due timers (as the caller would) before each new reading.
      const runTimers = (until: number) => {
        for (let due = p.nextDueAt(); due !== undefined && due <= until; due = p.nextDueAt()) {
          now = Math.max(now, due);
          take(p.tick(now));
        }
      };
      for (const s of steps) {
        const target = now + s.dt;
        runTimers(target);
        now = target;
        take(p.offer(temp(s.v, now), now));
      }
      runTimers(now + maxI);
      for (let i = 1; i < sent.length; i++) {
        assert.ok(sent[i]!.at - sent[i - 1]!.at >= minI, 'min interval kept');
        assert.ok(sent[i]!.at - sent[i - 1]!.at <= maxI, 'max interval kept');
      }
      // The last value seen is the last value sent: a held change always goes out.
      assert.is(sent[sent.length - 1]!.v, steps[steps.length - 1]!.v);
    }), { numRuns: 300 });
});

test.run();
