// Presence with show_readings: the status line from readings (units, on/off, a template),
// at most once per min_interval_s and only on change, away naming a failing sensor, resent on
// a new session and not after a resumed one. An injected clock; no server.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventEmitter } from 'node:events';
import type { AgentEvents } from '../../agent/modules';
import type { Reading, ThingSpec } from '../../drivers/types';
import { Disco } from '../../agent/xep/disco';
import { install, type PresenceOptions } from '../../agent/xep/presence';
import { FaultSet } from '../../agent/faults';
import { MAX_STATUS_CHARS, presenceState, readingsText, templateProblem, templateRefs } from '../../agent/xep/presence-status';
import { testContext } from './_context';

const t = suite('presence status');

const THINGS: ThingSpec[] = [{
  id: 'greenhouse',
  fields: [
    { name: 'temperature', type: 'numeric', unit: '°C', precision: 1 },
    { name: 'humidity', type: 'numeric', unit: '%', precision: 0 },
    { name: 'fan', type: 'boolean', writable: true },
    { name: 'mode', type: 'enum', values: ['auto', 'manual'] },
  ],
}];
const reading = (values: Reading['values'], thing = 'greenhouse'): Reading => ({ thing, timestamp: 0, values });
const GOOD = reading([{ field: 'temperature', value: 22.5 }, { field: 'humidity', value: 41 }, { field: 'fan', value: false }]);

t('default line: numbers with units, booleans on/off, other fields named, declared order', () => {
  assert.is(readingsText([GOOD], THINGS), '22.5 °C · 41 % · fan off');
  assert.is(readingsText([reading([{ field: 'fan', value: true }, { field: 'mode', value: 'auto' }, { field: 'temperature', value: 21 }])], THINGS), '21.0 °C · fan on · mode auto');
  assert.is(readingsText([], THINGS), '');
  assert.is(readingsText([reading([{ field: 'temperature', error: 'crc' }])], THINGS), '', 'a failed field is not a value');
});

t('a long line is cut at a field boundary', () => {
  const many: ThingSpec[] = [{ id: 'host', fields: Array.from({ length: 30 }, (_, i) => ({ name: `f${i}`, type: 'numeric' as const, unit: 'B' })) }];
  const text = readingsText([reading(many[0]!.fields.map((f, i) => ({ field: f.name, value: 1024 ** 3 * (i + 1.5) })), 'host')], many);
  assert.ok(text.length <= MAX_STATUS_CHARS + 2, text);
  assert.match(text, /^1\.5 GiB · 2\.5 GiB · .* …$/);
});

t('template: {thing.field} references, ? while unknown; bad templates named', () => {
  assert.is(readingsText([GOOD], THINGS, '{greenhouse.temperature} inside, fan {greenhouse.fan}, {greenhouse.mode}'), '22.5 °C inside, fan off, ?');
  assert.equal(templateRefs('{a.b} and {c.d}'), ['a.b', 'c.d']);
  assert.is(templateProblem('{greenhouse.temperature} ok'), undefined);
  assert.match(templateProblem('{temperature} x')!, /"\{temperature\}" is not a reference: write \{thing.field\}/);
  assert.match(templateProblem('{a.b')!, /is not a reference/);
});

t('faults: from fault events and failed fields; recovered by the next good value', () => {
  const f = new FaultSet();
  f.reading(reading([{ field: 'temperature', error: 'sensor error' }, { field: 'humidity', value: 40 }]), 'sim');
  assert.is(f.text(), 'greenhouse.temperature: sensor error');
  f.fault({ driver: 'w1', message: 'driver w1 failed to sample: ENOENT', timestamp: 0 });
  assert.is(f.text(), 'greenhouse.temperature: sensor error (+1 more)');
  f.reading(reading([{ field: 'temperature', value: 20 }]), 'sim');
  assert.is(f.text(), 'driver w1 failed to sample: ENOENT');
  f.reading(reading([{ field: 'x', value: 1 }], 'probe'), 'w1');
  assert.is(f.text(), '');
  assert.equal(presenceState({ staticStatus: 'online', readings: '20 °C', faults: '', showReadings: true }), { status: '20 °C' });
  assert.equal(presenceState({ staticStatus: 'online', readings: '20 °C', faults: 'w1: gone', showReadings: true }), { show: 'away', status: '⚠ w1: gone · 20 °C' });
  assert.equal(presenceState({ staticStatus: 'online', readings: '20 °C', faults: '', showReadings: false }), { status: 'online' });
});

function setup(o: Partial<PresenceOptions> = {}) {
  const tc = testContext();
  const events = new EventEmitter<AgentEvents>();
  // merged field by field, as DriverHost.latestReadings() does
  const fields = new Map<string, Reading['values'][number]>();
  const latest = () => [reading([...fields.values()])];
  const disco = new Disco();
  install(tc.ctx, { disco, presence: { status: 'online', priority: 5, showReadings: true, minIntervalS: 60, ...o }, sources: { latest, things: () => THINGS, events }, now: tc.now });
  const emit = (r: Reading) => {
    for (const v of r.values) fields.set(v.field, v);
    events.emit('reading', r, 'sim');
  };
  const statuses = () => tc.sent.filter((e) => e.name === 'presence').map((e) => `${e.getChildText('show') ?? '-'} ${e.getChildText('status') ?? ''}`);
  return { ...tc, events, emit, statuses, disco };
}

t('sent on a new session with caps and priority; changes at most once a minute, only when different', () => {
  const s = setup();
  s.emit(GOOD);
  assert.equal(s.statuses(), [], 'nothing while offline');
  s.online();
  assert.equal(s.statuses(), ['- 22.5 °C · 41 % · fan off']);
  const p = s.sent[0]!;
  assert.is(p.getChildText('priority'), '5');
  assert.is(p.getChild('c', 'http://jabber.org/protocol/caps')?.attrs.ver, s.disco.ver());
  s.advance(10_000);
  s.emit(reading([{ field: 'temperature', value: 22.6 }, { field: 'humidity', value: 41 }, { field: 'fan', value: false }]));
  s.advance(20_000);
  s.emit(reading([{ field: 'temperature', value: 22.7 }, { field: 'humidity', value: 41 }, { field: 'fan', value: false }]));
  assert.equal(s.statuses().length, 1, 'within the minute: held');
  s.advance(29_999);
  assert.equal(s.statuses().length, 1);
  s.advance(1);
  assert.equal(s.statuses(), ['- 22.5 °C · 41 % · fan off', '- 22.7 °C · 41 % · fan off'], 'the latest, once, at 60 s');
  // unchanged text: nothing, however many readings
  for (let i = 0; i < 100; i++) { s.advance(1000); s.emit(reading([{ field: 'temperature', value: 22.7 }, { field: 'humidity', value: 41 }, { field: 'fan', value: false }])); }
  assert.is(s.statuses().length, 2);
});

t('a failing sensor: away naming the fault; back when it recovers', () => {
  const s = setup({ minIntervalS: 0 });
  s.emit(GOOD);
  s.online();
  s.emit(reading([{ field: 'temperature', error: 'no response from sensor' }, { field: 'humidity', value: 41 }, { field: 'fan', value: false }]));
  assert.is(s.statuses().at(-1), 'away ⚠ greenhouse.temperature: no response from sensor · 41 % · fan off');
  s.events.emit('fault', { driver: 'sim', thing: 'greenhouse', field: 'humidity', message: 'driver sim: field "greenhouse/humidity" 140 is above 100', timestamp: 0 });
  assert.match(s.statuses().at(-1)!, /^away ⚠ greenhouse.temperature: no response from sensor \(\+1 more\)/);
  s.emit(GOOD);
  assert.is(s.statuses().at(-1), '- 22.5 °C · 41 % · fan off');
});

t('resumed session: nothing resent unless it changed while away; new session: sent again', () => {
  const s = setup();
  s.emit(GOOD);
  s.online();
  assert.is(s.statuses().length, 1);
  s.offline();
  s.online({ resumed: true });
  assert.is(s.statuses().length, 1, 'no duplicate after a resumption');
  s.offline();
  s.advance(120_000);
  s.emit(reading([{ field: 'fan', value: true }]));
  assert.is(s.statuses().length, 1, 'offline: not queued');
  s.online({ resumed: true });
  assert.equal(s.statuses().at(-1), '- 22.5 °C · 41 % · fan on', 'changed while away: sent once on resumption');
  assert.is(s.statuses().length, 2);
  s.offline();
  s.online({ resumed: false });
  assert.is(s.statuses().length, 3, 'a new session announces itself');
  assert.is(s.statuses().at(-1), '- 22.5 °C · 41 % · fan on');
});

t('show_readings false: the configured status; faults still show away', () => {
  const s = setup({ showReadings: false, minIntervalS: 0 });
  s.emit(GOOD);
  s.online();
  assert.equal(s.statuses(), ['- online']);
  s.emit(reading([{ field: 'temperature', error: 'crc' }]));
  assert.is(s.statuses().at(-1), 'away ⚠ greenhouse.temperature: crc');
});

t('unload stops listening', () => {
  const s = setup({ minIntervalS: 0 });
  s.online();
  s.unload();
  s.emit(GOOD);
  assert.is(s.events.listenerCount('reading'), 0);
  assert.is(s.statuses().length, 1);
});

t.run();
