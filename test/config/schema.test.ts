import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { s, newContext, levenshtein, suggest, INVALID, pathToString, snakeCase } from '../../agent/config/schema';

test('edit distance counts a transposition as one', () => {
  assert.is(levenshtein('level', 'level'), 0);
  assert.is(levenshtein('levle', 'level'), 1);
  assert.is(levenshtein('kitten', 'sitting'), 3);
  assert.is(levenshtein('', 'abc'), 3);
});

test('suggest only close candidates', () => {
  assert.is(suggest('prot', ['port', 'host']), 'port');
  assert.is(suggest('ping_intervall_s', ['ping_interval_s', 'ping_timeout_s']), 'ping_interval_s');
  assert.is(suggest('xyz', ['port', 'host']), undefined);
  assert.is(suggest('directTls', ['direct_tls']), 'direct_tls');
});

test('numbers: range errors, clamping with a warning, integers', () => {
  const ctx = newContext();
  assert.is(s.number().min(0).max(10).check(11, ['a'], ctx), INVALID);
  assert.is(s.number().min(0).max(10).clamp().check(11, ['b'], ctx), 10);
  assert.is(s.integer().check(1.5, ['c'], ctx), INVALID);
  assert.is(s.seconds().check('1.5m', ['d'], ctx), 90);
  assert.is(s.milliseconds().check('2s', ['e'], ctx), 2000);
  assert.is(s.seconds().check('soon', ['f'], ctx), INVALID);
  assert.equal(ctx.issues.map((i) => [pathToString(i.path), i.severity]), [['a', 'error'], ['b', 'warning'], ['c', 'error'], ['f', 'error']]);
});

test('booleans: YAML 1.2 "yes" is text, and the message says so', () => {
  const ctx = newContext();
  assert.is(s.boolean().check('yes', ['x'], ctx), INVALID);
  assert.match(ctx.issues[0].message, 'YAML 1.2');
});

test('objects: defaults, optional keys, nested paths, every error collected', () => {
  interface Inner { n: number; tag?: string }
  interface Outer { name: string; inner: Inner; items: Inner[] }
  const inner = s.object<Inner>({ n: s.integer().default(3), tag: s.string().optional() });
  const outer = s.object<Outer>({ name: s.string(), inner, items: s.array(inner).default(() => []) });
  const ok = outer.check({ name: 'a' }, [], newContext());
  assert.equal(ok, { name: 'a', inner: { n: 3 }, items: [] });
  const ctx = newContext();
  assert.is(outer.check({ inner: { n: 'x', extra: 1 }, items: [{ n: 1 }, { n: 2.5 }] }, [], ctx), INVALID);
  assert.equal(ctx.issues.map((i) => pathToString(i.path)).sort(), ['inner.extra', 'inner.n', 'items[1].n', 'name'].sort());
  assert.is(ctx.issues.find((i) => pathToString(i.path) === 'inner.extra')!.at, 'key');
});

test('secret strings never show their value', () => {
  const ctx = newContext();
  s.string().secret().check(12345, ['pw'], ctx);
  assert.is(ctx.issues[0].message, 'expected a string, got a number');
});

test('snake_case from camelCase', () => {
  assert.is(snakeCase('sendLastPublishedItem'), 'send_last_published_item');
  assert.is(snakeCase('pinSha256'), 'pin_sha256');
});

test.run();
