// The palette's pure parts, as compiled into node-red-nodes/dist: readings to messages and
// back, typed values, the "config wins, blank reads msg" rule, request building, backoff.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { load, type LinkModule, type Mappers, type Reading, type Settings, type StatusModule } from './_palette';

const m = load<Mappers>('lib/mappers.js');
const s = load<Settings>('lib/settings.js');
const link = load<LinkModule>('lib/link.js');
const status = load<StatusModule>('lib/status.js');
const t = suite('palette mappers');

const R: Reading = {
  thing: 'greenhouse',
  timestamp: 1_700_000_000_000,
  values: [
    { field: 'temperature', value: 21.5, unit: '°C' },
    { field: 'fan', value: true },
    { field: 'humidity', error: 'sensor timeout' },
  ],
};

t('field mode: one message per field, topic = field, payload = value, details under xiota; errors apart', () => {
  const r = m.readingToMessages(R, 'field');
  assert.equal(r.messages.map((x) => [x.topic, x.payload]), [['temperature', 21.5], ['fan', true]]);
  assert.equal(r.messages[0]!.xiota, { thing: 'greenhouse', field: 'temperature', timestamp: R.timestamp, unit: '°C' });
  assert.equal(r.errors, ['humidity: sensor timeout']);
});

t('reading mode: one message, topic = thing, payload {field: value} without the failed field', () => {
  const r = m.readingToMessages(R, 'reading');
  assert.is(r.messages.length, 1);
  assert.is(r.messages[0]!.topic, 'greenhouse');
  assert.equal(r.messages[0]!.payload, { temperature: 21.5, fan: true });
  assert.is((r.messages[0]!.xiota.values as unknown[]).length, 3);
});

t('a field filter keeps that field only; a remote reading keeps its jid', () => {
  const r = m.readingToMessages({ ...R, jid: 'gw@x/y' }, 'field', {}, 'fan');
  assert.equal(r.messages.map((x) => x.topic), ['fan']);
  assert.is(r.messages[0]!.xiota.jid, 'gw@x/y');
  assert.equal(r.errors, []);
});

t('PubSub items: XEP-0323 readings become messages with jid/node/item; other payloads arrive as XML', () => {
  const withReadings = m.itemToMessages({ subscription: 's1', jid: 'gw@x', node: 'urn:xiota:greenhouse', id: 'i7', readings: [R], xml: '<fields/>' }, 'field');
  assert.is(withReadings.messages.length, 2);
  assert.equal(withReadings.messages[1]!.xiota, { jid: 'gw@x', node: 'urn:xiota:greenhouse', item: 'i7', thing: 'greenhouse', timestamp: R.timestamp, field: 'fan' });
  const raw = m.itemToMessages({ subscription: 's1', jid: 'news@x', node: 'n', id: 'i1', timestamp: 5, xml: '<entry/>' }, 'field');
  assert.equal(raw.messages, [{ topic: 'n', payload: '<entry/>', xiota: { jid: 'news@x', node: 'n', item: 'i1', timestamp: 5 } }]);
});

t('readout payload: {field: value} for one thing, {thing: {field: value}} for several', () => {
  assert.equal(m.readoutPayload([R]), { temperature: 21.5, fan: true });
  assert.equal(m.readoutPayload([R, { thing: 'door', timestamp: 1, values: [{ field: 'open', value: false }] }]), {
    greenhouse: { temperature: 21.5, fan: true },
    door: { open: false },
  });
  assert.equal(m.readoutPayload([]), {});
});

t('override rule: a set config field wins, a blank one reads the message, blanks are absent', () => {
  assert.is(m.pick('fan', 'heater'), 'fan');
  assert.is(m.pick('  ', 'heater'), 'heater');
  assert.is(m.pick('', ''), undefined);
  assert.is(m.pick(undefined, 42), undefined, 'only strings are read from the message');
  assert.equal(m.parseList(' a, b ,,c '), ['a', 'b', 'c']);
});

t('typed values: each field type, and errors that name the field and what it wants', () => {
  assert.equal(m.coerceValue('21.5', { name: 't', type: 'numeric' }), { value: 21.5 });
  assert.equal(m.coerceValue(3, { name: 'n', type: 'int' }), { value: 3 });
  assert.equal(m.coerceValue(3.5, { name: 'n', type: 'int' }), { error: 'n: 3.5 is not an integer' });
  assert.equal(m.coerceValue('on', { name: 'fan', type: 'boolean' }), { value: true });
  assert.equal(m.coerceValue(0, { name: 'fan', type: 'boolean' }), { value: false });
  assert.equal(m.coerceValue('maybe', { name: 'fan', type: 'boolean' }), { error: 'fan: "maybe" is not a boolean (true/false, on/off, 1/0)' });
  assert.equal(m.coerceValue('auto', { name: 'mode', type: 'enum', values: ['auto', 'manual'] }), { value: 'auto' });
  assert.equal(m.coerceValue('eco', { name: 'mode', type: 'enum', values: ['auto', 'manual'] }), { error: 'mode: "eco" is not one of auto, manual' });
  assert.equal(m.coerceValue(7, { name: 'label', type: 'string' }), { value: '7' });
  assert.equal(m.coerceValue({}, { name: 'label', type: 'string' }), { error: 'label: an object is not a string' });
  assert.equal(m.coerceValue(undefined, { name: 't', type: 'numeric' }), { error: 't: no value (msg.payload is missing) is not a number' });
  assert.equal(m.coerceValue(Infinity, { name: 't', type: 'numeric' }), { error: 't: Infinity is not a number' });
});

const KITCHEN = { id: 'kitchen', fields: [{ name: 'temp', type: 'numeric', unit: '°C' }, { name: 'light', type: 'boolean', writable: true }] };

t('a message for a flow-defined thing: an object of fields, or topic + value', () => {
  assert.equal(m.messageToValues({ temp: '19.5', light: 'off' }, undefined, KITCHEN), { values: { temp: 19.5, light: false } });
  assert.equal(m.messageToValues(20, 'temp', KITCHEN), { values: { temp: 20 } });
  assert.equal(m.messageToValues(20, undefined, { id: 'one', fields: [{ name: 'v', type: 'int' }] }), { values: { v: 20 } });
  const noTopic = m.messageToValues(20, undefined, KITCHEN);
  assert.ok('error' in noTopic && /set msg.topic to the field \(temp, light\)/.test(noTopic.error));
  const unknown = m.messageToValues({ tmp: 1 }, undefined, KITCHEN);
  assert.ok('error' in unknown && /no field "tmp": declared are temp, light/.test(unknown.error));
  const empty = m.messageToValues({}, undefined, KITCHEN);
  assert.ok('error' in empty && /empty object/.test(empty.error));
  const bad = m.messageToValues({ light: 'dim' }, undefined, KITCHEN);
  assert.ok('error' in bad && /^light: "dim" is not a boolean/.test(bad.error));
});

t('a set value is a JSON scalar', () => {
  assert.equal(m.payloadValue(true), { value: true });
  assert.equal(m.payloadValue('x'), { value: 'x' });
  const e = m.payloadValue({ a: 1 });
  assert.ok('error' in e && /number, boolean or string/.test(e.error));
  assert.ok('error' in m.payloadValue(NaN));
});

t('a thing node\'s field rows: typed FieldSpecs, or the first mistake named', () => {
  const ok = m.fieldsFromConfig([
    { name: 'temp', type: 'numeric', unit: '°C', writable: false, min: '', max: '' },
    { name: 'setpoint', type: 'numeric', writable: true, min: '5', max: '30' },
    { name: 'mode', type: 'enum', values: 'auto, manual', writable: 'true' },
  ]);
  assert.equal(ok, { fields: [
    { name: 'temp', type: 'numeric', unit: '°C' },
    { name: 'setpoint', type: 'numeric', writable: true, min: 5, max: 30 },
    { name: 'mode', type: 'enum', writable: true, values: ['auto', 'manual'] },
  ] });
  const cases: [unknown, RegExp][] = [
    [[], /at least one field/],
    [[{ name: 'a b', type: 'int' }], /field 1: name "a b"/],
    [[{ name: 'a.b', type: 'int' }], /name "a.b" must be letters, digits, _ or -/], // the agent's rule: no dot in a field
    [[{ name: '_a', type: 'int' }], /name "_a"/],
    [[{ name: 'a', type: 'int' }, { name: 'a', type: 'int' }], /field a is declared twice/],
    [[{ name: 'a', type: 'float' }], /type "float" is not one of numeric, int, boolean, string, enum/],
    [[{ name: 'a', type: 'enum', values: '' }], /an enum needs its values/],
    [[{ name: 'a', type: 'int', min: 'x' }], /min "x" is not a number/],
    [[{ name: 'a', type: 'int', min: 9, max: 1 }], /min 9 is above max 1/],
  ];
  for (const [rows, re] of cases) {
    const r = m.fieldsFromConfig(rows);
    assert.ok('error' in r && re.test(r.error), JSON.stringify(r));
  }
});

t('status text stays under 20 characters', () => {
  assert.is(m.statusValue(21.456789, '°C'), '21.457 °C');
  assert.is(m.statusValue(true), 'true');
  const long = m.statusValue('a very long string value indeed');
  assert.ok(long.length < 20, long);
  assert.ok(long.endsWith('…'));
  assert.is(status.errorLabel({ code: -32002 }), 'unknown thing/field');
  assert.is(status.errorLabel(new Error('x')), 'error');
});

t('xiota-in settings: local thing/field, remote JID + node, and what is missing', () => {
  assert.equal(s.subscriptionFromConfig({ source: 'local', thing: ' greenhouse ', field: '' }), { kind: 'local', thing: 'greenhouse' });
  assert.equal(s.subscriptionFromConfig({ source: 'local', thing: '', field: '' }), { kind: 'local' });
  assert.equal(s.subscriptionFromConfig({ source: 'remote', jid: 'gw@x', node: 'urn:xiota:t' }), { kind: 'pubsub', jid: 'gw@x', node: 'urn:xiota:t' });
  assert.match(String(s.subscriptionFromConfig({ source: 'remote', jid: 'gw@x', node: '' }).error), /needs the JID and its PubSub node/);
  assert.match(String(s.subscriptionFromConfig({ source: 'local', field: 'fan' }).error), /a field needs its thing/);
});

t('xiota-read: config wins, blank reads msg.xiota; remote needs a full JID', () => {
  assert.equal(s.readRequest({ thing: 'greenhouse', field: '', jid: '', fresh: true }, { xiota: { thing: 'door', field: 'open' } }), {
    method: 'read', params: { thing: 'greenhouse', field: 'open', fresh: true },
  });
  assert.equal(s.readRequest({ thing: '', field: '', jid: '' }, {}), { method: 'read', params: { fresh: false } });
  assert.equal(s.readRequest({ thing: 'a, b', field: 'temp', jid: '' }, { xiota: { jid: 'gw@x/r' } }), {
    method: 'remote.read', params: { jid: 'gw@x/r', types: ['momentary'], nodes: [{ nodeId: 'a' }, { nodeId: 'b' }], fields: ['temp'] },
  });
  const bare = s.readRequest({ jid: 'gw@x' }, {});
  assert.ok('error' in bare && /must be a full JID \(user@host\/resource\)/.test(bare.error));
  const noThing = s.readRequest({ field: 'temp' }, {});
  assert.ok('error' in noThing && /field temp needs its thing/.test(noThing.error));
});

t('xiota-control: config wins over msg; msg.topic is the field when the node has none', () => {
  assert.equal(s.controlRequest({ thing: 'greenhouse', field: 'fan' }, { topic: 'heater', xiota: { thing: 'other' } }, true), {
    method: 'set', params: { thing: 'greenhouse', field: 'fan', value: true },
  });
  assert.equal(s.controlRequest({ thing: '', field: '' }, { topic: 'fan', xiota: { thing: 'greenhouse' } }, false), {
    method: 'set', params: { thing: 'greenhouse', field: 'fan', value: false },
  });
  assert.equal(s.controlRequest({ jid: 'gw2@x/gw', thing: '', field: 'setpoint', valueType: 'double' }, {}, 21), {
    method: 'remote.set', params: { jid: 'gw2@x/gw', field: 'setpoint', value: 21, type: 'double' },
  });
  assert.equal(s.controlRequest({ jid: '', field: 'fan', valueType: 'auto' }, { xiota: { jid: 'gw2@x/gw', thing: 'greenhouse' } }, true), {
    method: 'remote.set', params: { jid: 'gw2@x/gw', field: 'fan', value: true, nodes: [{ nodeId: 'greenhouse' }] },
  });
  const noField = s.controlRequest({ thing: 'greenhouse' }, {}, 1);
  assert.ok('error' in noField && /no field to set/.test(noField.error));
  const noThing = s.controlRequest({ field: 'fan' }, {}, 1);
  assert.ok('error' in noThing && /no thing for field fan/.test(noThing.error));
});

t('reconnect delay: full jitter under a doubling ceiling, capped', () => {
  const top = (a: number) => link.backoffDelay(a, { initialDelayMs: 500, maxDelayMs: 30_000, random: () => 1 });
  assert.equal([0, 1, 2, 3, 6, 7, 50].map(top), [500, 1000, 2000, 4000, 30_000, 30_000, 30_000]);
  assert.is(link.backoffDelay(5, { random: () => 0 }), 0);
  for (let i = 0; i < 100; i++) {
    const d = link.backoffDelay(3);
    assert.ok(d >= 0 && d <= 4000, String(d));
  }
});

t.run();
