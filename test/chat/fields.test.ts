// Names typed in chat resolved against the device's things, and set values checked against
// the field (type, range, allowed values): wrong types and out-of-range values are refused
// with what the field takes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseSetValue, resolveTarget, type ChatThing, type Target } from '../../agent/chat/fields';

const things: ChatThing[] = [
  { id: 'greenhouse', name: 'Greenhouse', fields: [
    { name: 'temperature', type: 'numeric', unit: '°C', precision: 1 },
    { name: 'humidity', type: 'numeric', unit: '%' },
    { name: 'fan', type: 'boolean', writable: true },
    { name: 'target', type: 'numeric', unit: '°C', writable: true, min: 5, max: 30 },
    { name: 'mode', type: 'enum', values: ['auto', 'manual'], writable: true },
    { name: 'steps', type: 'int', writable: true, min: 0, max: 10 },
    { name: 'label', type: 'string', writable: true },
  ] },
  { id: 'shed', fields: [{ name: 'temperature', type: 'numeric', unit: '°C' }] },
  { id: 'w1.28-01', fields: [{ name: 'temp', type: 'numeric', unit: '°C' }] },
  { id: 'w1', fields: [{ name: '28-01.temp', type: 'numeric' }] },
];
const gh = things[0]!;
const field = (n: string) => gh.fields.find((f) => f.name === n)!;

function hit(text: string, needField = false): Target {
  const r = resolveTarget(things, text, needField);
  if (typeof r === 'string') throw new Error(`expected a target for ${text}: ${r}`);
  return r;
}
const name = (t: Target) => (t.field ? `${t.thing.id}.${t.field.name}` : t.thing.id);

test('resolve: thing, thing.field, a unique field, case-insensitive, dotted thing ids', () => {
  assert.is(name(hit('greenhouse')), 'greenhouse');
  assert.is(name(hit('greenhouse.fan')), 'greenhouse.fan');
  assert.is(name(hit('fan')), 'greenhouse.fan');
  assert.is(name(hit('Greenhouse.Fan')), 'greenhouse.fan');
  assert.is(name(hit('GREENHOUSE')), 'greenhouse');
  assert.is(name(hit('w1.28-01.temp')), 'w1.28-01.temp', 'the longest thing id wins');
});

test('resolve errors name what exists', () => {
  assert.match(resolveTarget(things, 'temperature') as string, /in greenhouse, shed: type one of greenhouse\.temperature, shed\.temperature/);
  assert.match(resolveTarget(things, 'cellar') as string, /no thing or field `cellar`; things here: greenhouse, shed/);
  assert.match(resolveTarget(things, 'greenhouse.nope') as string, /no thing or field/);
  assert.match(resolveTarget(things, 'greenhouse', true) as string, /is a thing: name one of its fields, e\.g\. greenhouse\.temperature/);
  assert.match(resolveTarget([], 'x') as string, /no things yet/);
});

test('set values: lenient words, strict result', () => {
  const ok = (f: string, text: string) => {
    const r = parseSetValue(gh, field(f), text);
    if (!r.ok) throw new Error(`${f} ${text}: ${r.error}`);
    return r.value;
  };
  assert.is(ok('fan', 'on'), true);
  assert.is(ok('fan', 'OFF'), false);
  assert.is(ok('fan', 'yes'), true);
  assert.is(ok('fan', '0'), false);
  assert.is(ok('target', '21.5'), 21.5);
  assert.is(ok('target', '21,5'), 21.5, 'decimal comma');
  assert.is(ok('target', '21.5 °C'), 21.5, 'unit typed along');
  assert.is(ok('target', '5'), 5);
  assert.is(ok('target', '30'), 30);
  assert.is(ok('mode', 'Manual'), 'manual');
  assert.is(ok('steps', '7'), 7);
  assert.is(ok('label', 'north side'), 'north side');
});

test('set values: wrong types, out of range, not allowed, read-only', () => {
  const bad = (f: string, text: string) => {
    const r = parseSetValue(gh, field(f), text);
    if (r.ok) throw new Error(`${f} ${text}: accepted ${String(r.value)}`);
    return r.error;
  };
  assert.match(bad('fan', 'maybe'), /greenhouse\.fan takes on or off, not `maybe`: type `set greenhouse\.fan on`/);
  assert.match(bad('target', 'warm'), /takes a number in °C from 5 to 30, not `warm`/);
  assert.match(bad('target', '99'), /from 5 to 30; 99 is out of range/);
  assert.match(bad('target', '-1'), /out of range/);
  assert.match(bad('target', '1e400'), /takes a number/);
  assert.match(bad('target', 'NaN'), /takes a number/);
  assert.match(bad('steps', '2.5'), /a whole number from 0 to 10/);
  assert.match(bad('steps', '11'), /out of range/);
  assert.match(bad('mode', 'turbo'), /one of auto, manual/);
  assert.match(bad('label', 'x'.repeat(2000)), /takes text/);
  assert.match(bad('temperature', '20'), /greenhouse\.temperature is read-only; writable here: greenhouse\.fan, greenhouse\.target/);
});

test.run();
