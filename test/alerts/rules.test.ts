// The alert rules' state machine, on an injected clock: for_s, hysteresis, repeat, resolved
// once, changes, faults, and a flapping sequence that must give one alert and one "resolved".
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AlertRules, splitKey, type AlertEvent, type AlertRule } from '../../agent/alerts/rules';
import type { Value } from '../../drivers/types';

const t = suite('alert rules');

/** Feeds (seconds, value) pairs to one rule on greenhouse.temperature, ticking each second in between. */
function run(rule: Partial<AlertRule>, seq: [number, Value | { error: string }][], until?: number): AlertEvent[] {
  const rules = new AlertRules([{ field: 'greenhouse.temperature', ...rule }]);
  const out: AlertEvent[] = [];
  let last = 0;
  const tickTo = (s: number) => {
    for (let k = last + 1; k <= s; k++) out.push(...rules.tick(k * 1000));
    last = Math.max(last, s);
  };
  for (const [s, v] of seq) {
    tickTo(s - 1);
    const fv = typeof v === 'object' ? { field: 'temperature', error: v.error } : { field: 'temperature', value: v };
    out.push(...rules.reading({ thing: 'greenhouse', timestamp: s * 1000, values: [fv] }, s * 1000, 'sim'));
    tickTo(s);
  }
  if (until !== undefined) tickTo(until);
  return out;
}

const kinds = (es: AlertEvent[]) => es.map((e) => e.kind);

t('a value flapping around the threshold gives exactly one alert and one resolved (hysteresis)', () => {
  const flap: [number, number][] = [[1, 29], [2, 30.5], [3, 29.8], [4, 30.2], [5, 29.5], [6, 30.9], [7, 29.1], [8, 30.1], [9, 29.6], [10, 28.9], [11, 29.5], [12, 28]];
  const es = run({ above: 30, hysteresis: 1 }, flap);
  assert.equal(kinds(es), ['firing', 'resolved']);
  assert.is(es[0]!.value, 30.5);
  assert.is(es[0]!.at, 2000);
  assert.is(es[1]!.value, 28.9);
  assert.is(es[1]!.at, 10_000);
  assert.is(es[1]!.since, 2000);
});

t('without hysteresis the same flapping fires again on every crossing (what hysteresis is for)', () => {
  const es = run({ above: 30 }, [[1, 29], [2, 30.5], [3, 29.8], [4, 30.2], [5, 29.5]]);
  assert.equal(kinds(es), ['firing', 'resolved', 'firing', 'resolved']);
});

t('for_s: the condition must hold that long; a dip below resets the wait', () => {
  // Above from 10 s, dips at 40 s (before 60 s held), above again from 45 s: fires at 105 s.
  const seq: [number, number][] = [[1, 25], [10, 31], [20, 32], [40, 29], [45, 31], [80, 31.5], [100, 31.2]];
  const es = run({ above: 30, forS: 60 }, seq, 110);
  assert.equal(kinds(es), ['firing']);
  assert.is(es[0]!.at, 105_000, 'fired by the tick when 60 s had passed since 45 s');
  assert.is(es[0]!.since, 45_000);
  assert.is(es[0]!.value, 31.2, 'the value last seen');
});

t('for_s: a short excursion never fires', () => {
  const es = run({ above: 30, forS: 60 }, [[1, 31], [30, 31], [59, 29]], 200);
  assert.equal(es, []);
});

t('repeat_s: a firing alert repeats while it lasts, then resolves once', () => {
  const es = run({ above: 30, repeatS: 100 }, [[1, 31], [150, 31], [250, 32], [260, 20]], 400);
  assert.equal(kinds(es), ['firing', 'repeat', 'repeat', 'resolved']);
  assert.equal(es.map((e) => e.at), [1000, 101_000, 201_000, 260_000]);
});

t('the default repeat is 4 hours; repeat_s 0 never repeats', () => {
  const r = new AlertRules([{ field: 'g.t', above: 1 }, { field: 'g.t', above: 1, repeatS: 0 }]);
  r.reading({ thing: 'g', timestamp: 0, values: [{ field: 't', value: 2 }] }, 0);
  assert.is(r.nextDeadline(), 4 * 3600 * 1000);
  assert.equal(r.tick(4 * 3600 * 1000 - 1), []);
  const rep = r.tick(4 * 3600 * 1000);
  assert.equal(rep.map((e) => [e.rule, e.kind]), [[0, 'repeat']]);
});

t('below, and both bounds with hysteresis on each side', () => {
  assert.equal(kinds(run({ below: 5, hysteresis: 1 }, [[1, 6], [2, 4.9], [3, 5.5], [4, 6.1]])), ['firing', 'resolved']);
  const both = run({ below: 10, above: 30, hysteresis: 2 }, [[1, 20], [2, 31], [3, 29], [4, 27.9], [5, 9], [6, 11], [7, 12.5]]);
  assert.equal(kinds(both), ['firing', 'resolved', 'firing', 'resolved']);
  assert.equal(both.map((e) => e.value), [31, 27.9, 9, 12.5]);
});

t('a failed sensor neither fires nor resolves a threshold rule', () => {
  const es = run({ above: 30 }, [[1, 31], [2, { error: 'crc mismatch' }], [3, { error: 'crc mismatch' }], [4, 25]]);
  assert.equal(kinds(es), ['firing', 'resolved']);
});

t('changes: every change of the value, not the first value seen; for_s debounces', () => {
  const rules = new AlertRules([{ field: 'door.open', changes: true }, { field: 'door.open', changes: true, forS: 10 }]);
  const feed = (s: number, v: boolean) => [...rules.tick(s * 1000), ...rules.reading({ thing: 'door', timestamp: 0, values: [{ field: 'open', value: v }] }, s * 1000)];
  const es = [...feed(0, false), ...feed(1, true), ...feed(2, false), ...feed(3, true), ...feed(5, true), ...feed(20, true)];
  const immediate = es.filter((e) => e.rule === 0);
  assert.equal(immediate.map((e) => [e.value, e.previous]), [[true, false], [false, true], [true, false]]);
  const debounced = es.filter((e) => e.rule === 1);
  // true at 1 s, back to false at 2 s (cancelled), true again at 3 s and held: reported once, at the tick after 13 s.
  assert.equal(debounced.map((e) => [e.value, e.previous, e.since]), [[true, false, 3000]]);
  assert.ok(debounced.every((e) => e.kind === 'changed'));
});

t('fault: a field error fires, good readings resolve; driver-wide faults reach the driver\'s things', () => {
  const rules = new AlertRules([{ field: 'greenhouse.temperature', fault: true }]);
  const good = (ms: number, v: number) => rules.reading({ thing: 'greenhouse', timestamp: ms, values: [{ field: 'temperature', value: v }] }, ms, 'sim');
  assert.equal(good(0, 20), []);
  // A fault of another driver, or of another thing, is not ours.
  assert.equal(rules.fault({ driver: 'other', message: 'x' }, 500), []);
  assert.equal(rules.fault({ driver: 'sim', thing: 'kitchen', message: 'x' }, 500), []);
  const f = rules.fault({ driver: 'sim', message: 'driver sim did not return from sample() within 5000 ms' }, 1000);
  assert.equal(kinds(f), ['firing']);
  assert.match(f[0]!.fault!, /did not return/);
  assert.is(f[0]!.value, undefined);
  // More faults while firing: nothing new.
  assert.equal(rules.reading({ thing: 'greenhouse', timestamp: 2000, values: [{ field: 'temperature', error: 'not answering' }] }, 2000, 'sim'), []);
  assert.equal(rules.fault({ driver: 'sim', thing: 'greenhouse', field: 'temperature', message: 'bad value' }, 2500), []);
  const back = good(3000, 21.5);
  assert.equal(kinds(back), ['resolved']);
  assert.is(back[0]!.value, 21.5);
  assert.is(back[0]!.since, 1000);
  assert.equal(good(4000, 21.6), []);
});

t('fault with for_s: a brief fault does not fire, a lasting one does at the tick', () => {
  const rules = new AlertRules([{ field: 'greenhouse.temperature', fault: true, forS: 30 }]);
  const err = (ms: number) => rules.reading({ thing: 'greenhouse', timestamp: ms, values: [{ field: 'temperature', error: 'crc' }] }, ms, 'sim');
  const ok = (ms: number) => rules.reading({ thing: 'greenhouse', timestamp: ms, values: [{ field: 'temperature', value: 20 }] }, ms, 'sim');
  assert.equal([...err(0), ...rules.tick(10_000), ...ok(20_000), ...rules.tick(40_000)], []);
  assert.equal(err(50_000), []);
  assert.is(rules.nextDeadline(), 80_000);
  assert.equal(kinds(rules.tick(80_000)), ['firing']);
  assert.equal(rules.firing().map((f) => f.key), ['greenhouse.temperature']);
  assert.equal(kinds(ok(90_000)), ['resolved']);
  assert.equal(rules.firing(), []);
});

t('readings of other fields and things leave a rule alone', () => {
  const rules = new AlertRules([{ field: 'greenhouse.temperature', above: 30 }]);
  assert.equal(rules.reading({ thing: 'greenhouse', timestamp: 0, values: [{ field: 'humidity', value: 99 }] }, 0), []);
  assert.equal(rules.reading({ thing: 'kitchen', timestamp: 0, values: [{ field: 'temperature', value: 99 }] }, 0), []);
  assert.is(rules.nextDeadline(), undefined);
});

t('splitKey prefers a declared thing id when ids contain dots', () => {
  assert.equal(splitKey('greenhouse.temperature'), { thing: 'greenhouse', field: 'temperature' });
  assert.equal(splitKey('bme.280.temp', ['bme.280']), { thing: 'bme.280', field: 'temp' });
  assert.is(splitKey('nodot'), undefined);
  assert.is(splitKey('.x'), undefined);
  assert.is(splitKey('x.'), undefined);
});

t.run();
