// Reconnect delays: ceilings double from the initial delay up to the cap, each delay is
// drawn uniformly from [0, ceiling) (full jitter), and reset() starts over.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Backoff } from '../../agent/session/backoff';

test('ceilings double and stop at the cap', () => {
  const b = new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, random: () => 0.5 });
  const ceilings: number[] = [];
  for (let i = 0; i < 8; i++) {
    ceilings.push(b.ceiling());
    b.next();
  }
  assert.equal(ceilings, [100, 200, 400, 800, 1000, 1000, 1000, 1000]);
});

test('full jitter: delay = random * ceiling, within [0, ceiling)', () => {
  let r = 0;
  const b = new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, random: () => r });
  r = 0;
  assert.is(b.next(), 0);
  r = 0.999999;
  const d = b.next();
  assert.ok(d < 200 && d > 199.9, `delay ${d}`);
  r = 0.25;
  assert.is(b.next(), 100); // ceiling 400
  // With Math.random, every delay stays in range, and they spread (not lockstep).
  const real = new Backoff({ initialDelayMs: 50, maxDelayMs: 500 });
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const c = real.ceiling();
    const v = real.next();
    assert.ok(v >= 0 && v < c, `delay ${v} for ceiling ${c}`);
    seen.add(Math.round(v));
  }
  assert.ok(seen.size > 50, `delays spread: ${seen.size} distinct`);
});

test('never exceeds the cap even after many attempts (no overflow to Infinity)', () => {
  const b = new Backoff({ initialDelayMs: 1000, maxDelayMs: 60_000, random: () => 0.999 });
  for (let i = 0; i < 5000; i++) {
    const d = b.next();
    assert.ok(Number.isFinite(d) && d < 60_000);
  }
  assert.is(b.ceiling(), 60_000);
});

test('reset starts from the initial delay again', () => {
  const b = new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, random: () => 0.5 });
  for (let i = 0; i < 6; i++) b.next();
  assert.is(b.ceiling(), 1000);
  b.reset();
  assert.is(b.attempt, 0);
  assert.is(b.ceiling(), 100);
  assert.is(b.next(), 50);
});

test('defaults, and a cap below the initial delay is raised to it', () => {
  const d = new Backoff();
  assert.is(d.initialDelayMs, 1000);
  assert.is(d.maxDelayMs, 60_000);
  assert.is(d.stableAfterMs, 60_000);
  const odd = new Backoff({ initialDelayMs: 500, maxDelayMs: 100, random: () => 0.5 });
  assert.is(odd.maxDelayMs, 500);
  assert.is(odd.ceiling(), 500);
});

test.run();
