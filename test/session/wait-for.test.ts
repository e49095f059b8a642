// The tests' polling helper: an async predicate is awaited, not taken as its (truthy) promise.
// A waitFor that passed on a pending promise let palette/runtime's setup go on before gw2's
// PubSub node existed (CI saw the subscription refused with item-not-found).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { waitFor } from './_helpers';

test('an async predicate is polled until its promise gives a value', async () => {
  let calls = 0;
  const v = await waitFor('the third call', async () => (++calls >= 3 ? `call ${calls}` : undefined), 2000, 5);
  assert.is(v, 'call 3');
  assert.is(calls, 3);
});

test('an async predicate that never gives a value times out', async () => {
  const err = await waitFor('never', async () => false, 60, 5).then(() => undefined, (e: Error) => e);
  assert.ok(err instanceof Error);
  assert.match(err.message, 'timed out after 60 ms waiting for never');
});

test('a rejected promise rejects the wait', async () => {
  const err = await waitFor('boom', () => Promise.reject(new Error('boom')), 1000, 5).then(() => undefined, (e: Error) => e);
  assert.is(err?.message, 'boom');
});

test('a plain predicate still works', async () => {
  let n = 0;
  assert.is(await waitFor('n', () => (++n > 1 ? n : undefined), 1000, 5), 2);
});

test.run();
