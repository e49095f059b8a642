// ReplayWindow (firmware-bridge/host/replay.ts): the anti-replay window of the MQTT transport,
// against a plain model (a set of every counter accepted) on random arrival orders.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ReplayWindow } from '../../firmware-bridge/host/replay';

/** What the window must do: accept a counter once, unless it is `size` or more below the highest. */
function model(size: number) {
  const seen = new Set<number>();
  let highest = 0;
  return (ctr: number): boolean => {
    if (ctr === 0 || seen.has(ctr)) return false;
    if (ctr <= highest && (size === 0 || highest - ctr >= size)) return false;
    seen.add(ctr);
    highest = Math.max(highest, ctr);
    return true;
  };
}

const accept = (w: ReplayWindow, ctr: number) => { if (w.check(ctr) !== 'ok') return false; w.commit(ctr); return true; };

test('a serial line (size 0): only counters above the highest', () => {
  const w = new ReplayWindow(0);
  assert.equal([1, 2, 2, 5, 3, 6].map((c) => accept(w, c)), [true, true, false, true, false, true]);
  assert.is(w.check(4), 'old');
});

test('MQTT (size 64): reordered frames accepted once, duplicates and frames too far back refused', () => {
  const w = new ReplayWindow(64);
  assert.equal([1, 3, 2, 3, 2, 100, 37, 36, 36].map((c) => accept(w, c)), [true, true, true, false, false, true, true, false, false]);
  assert.is(w.check(3), 'old', '100 - 3 >= 64');
  assert.is(w.check(37), 'duplicate');
  assert.is(w.check(38), 'ok');
  assert.is(w.check(0), 'old');
});

test('check() alone never moves the window (a frame whose MAC fails is only checked)', () => {
  const w = new ReplayWindow(64);
  accept(w, 5);
  for (const c of [1000, 6, 7]) assert.is(w.check(c), 'ok');
  assert.is(w.last, 5);
  assert.ok(accept(w, 6));
});

test('property: equal to the model for any arrival order with duplicates and jumps, sizes 0, 32, 64, 1024', () => {
  const arrivals = fc.array(fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 5000 })), { maxLength: 400 });
  fc.assert(fc.property(fc.constantFrom(0, 32, 64, 1024), arrivals, (size, ctrs) => {
    const w = new ReplayWindow(size);
    const m = model(size);
    for (const c of ctrs) if (accept(w, c) !== m(c)) return false;
    return true;
  }), { numRuns: 2000, seed: 1202 });
});

test('a reordered stream: a window of 64 keeps every frame, a strict one loses each late frame', () => {
  // frames 1..500, every 7th held back behind the next 3 (as a relay or a reconnect would)
  const order: number[] = [];
  for (let c = 1; c <= 500; c++) {
    if (c % 7 === 0 && c + 3 <= 500) { order.push(c + 1, c + 2, c + 3, c); c += 3; } else order.push(c);
  }
  const windowed = new ReplayWindow(64), strict = new ReplayWindow(0);
  const kept = order.filter((c) => accept(windowed, c)).length;
  const keptStrict = order.filter((c) => accept(strict, c)).length;
  assert.is(kept, 500);
  assert.is(500 - keptStrict, 71, 'every held-back frame');
  assert.is(order.concat(order).filter((c) => accept(windowed, c)).length, 0, 'the same frames again: all duplicates');
});

test('sizes that are not multiples of 32 are refused with the rule', () => {
  assert.throws(() => new ReplayWindow(50), /multiple of 32/);
});

test.run();
