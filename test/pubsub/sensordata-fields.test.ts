import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import { readingToFields, fieldsToReadings, parseFields, formatNumber, parseTimestamp, NS_SENSORDATA } from '../../agent/xep/sensordata-fields';
import type { Reading, ThingSpec } from '../../drivers/types';
import { parseXml } from './xml';
import { serialize } from '../../agent/xml/element';

const thing: ThingSpec = {
  id: 'Device01',
  fields: [
    { name: 'Temperature', type: 'numeric', unit: '°C', precision: 1 },
    { name: 'relay', type: 'boolean', writable: true },
    { name: 'label', type: 'string' },
    { name: 'count', type: 'int' },
    { name: 'mode', type: 'enum', values: ['auto', 'manual'] },
    { name: 'ratio', type: 'numeric' },
  ],
};
const T = Date.UTC(2013, 2, 7, 16, 24, 30);

test('matches XEP-0323 example 2 (momentary read-out) for a numeric field', () => {
  // XEP-0323 'Request Read-out of momentary values', response example; our stamp is ISO UTC with ms.
  const expected = parseXml(`
  <fields xmlns='urn:xmpp:iot:sensordata' seqnr='1'>
    <node nodeId='Device01'>
      <timestamp value='2013-03-07T16:24:30.000Z'>
        <numeric name='Temperature' momentary='true' automaticReadout='true' value='23.4' unit='°C'/>
      </timestamp>
    </node>
  </fields>`);
  const got = readingToFields({ thing: 'Device01', timestamp: T, values: [{ field: 'Temperature', value: 23.4 }] }, thing, { seqnr: '1' });
  assert.is(got.toString(), expected.toString());
});

test('each type uses its schema element and required attributes', () => {
  const r: Reading = { thing: 'Device01', timestamp: T, values: [
    { field: 'relay', value: true }, { field: 'label', value: 'a<b' }, { field: 'count', value: 42 },
    { field: 'mode', value: 'auto' }, { field: 'ratio', value: 0.1 + 0.2 },
  ] };
  const ts = readingToFields(r, thing).getChild('node')!.getChild('timestamp')!;
  const [b, s, i, e, n] = ts.elements;
  assert.is(serialize(b!, NS_SENSORDATA), '<boolean name="relay" momentary="true" automaticReadout="true" value="true" writable="true"/>');
  assert.is(serialize(s!, NS_SENSORDATA), '<string name="label" momentary="true" automaticReadout="true" value="a&lt;b"/>');
  assert.is(serialize(i!, NS_SENSORDATA), '<int name="count" momentary="true" automaticReadout="true" value="42"/>');
  assert.is(serialize(e!, NS_SENSORDATA), '<enum name="mode" momentary="true" automaticReadout="true" value="auto" dataType="xiota.Device01.mode"/>');
  // No precision: no float noise, and numeric's required unit is present even when empty.
  assert.is(serialize(n!, NS_SENSORDATA), '<numeric name="ratio" momentary="true" automaticReadout="true" value="0.3" unit=""/>');
  assert.is(ts.attrs.value, '2013-03-07T16:24:30.000Z');
  assert.not.ok(readingToFields(r, thing).attrs.seqnr);
});

test('int beyond 32 bits becomes long', () => {
  const el = readingToFields({ thing: 'Device01', timestamp: T, values: [{ field: 'count', value: 2 ** 40 }] }, thing);
  assert.is(el.getChild('node')!.getChild('timestamp')!.elements[0]!.name, 'long');
});

test('precision rounds and removes float noise', () => {
  assert.is(formatNumber(21.499999999999996, 1), '21.5');
  assert.is(formatNumber(21.499999999999996), '21.5');
  assert.is(formatNumber(1 / 3), '0.333333333333333');
  assert.is(formatNumber(-0.04, 1), '0.0');
  assert.is(formatNumber(20, 2), '20.00');
  assert.is(formatNumber(NaN), 'NaN');
  assert.is(formatNumber(-Infinity), '-INF');
  const el = readingToFields({ thing: 'Device01', timestamp: T, values: [{ field: 'Temperature', value: 21.4999999 }] }, thing);
  assert.is(el.getChild('node')!.getChild('timestamp')!.elements[0]!.attrs.value, '21.5');
});

test('a failed field: missing+error flags, no value, error text in a sibling', () => {
  const el = readingToFields({ thing: 'Device01', timestamp: T, values: [
    { field: 'Temperature', error: 'w1 CRC error' }, { field: 'relay', value: false },
  ] }, thing);
  const f = el.getChild('node')!.getChild('timestamp')!.elements[0]!;
  assert.is(f.name, 'numeric');
  assert.is(f.attrs.missing, 'true');
  assert.is(f.attrs.error, 'true');
  assert.is(f.attrs.value, undefined);
  assert.not.ok(f.attrs.automaticReadout);
  const err = el.getChild('error', NS_SENSORDATA)!;
  assert.equal(err.attrs, { nodeId: 'Device01', timestamp: '2013-03-07T16:24:30.000Z', field: 'Temperature' });
  assert.is(err.text(), 'w1 CRC error');
  const back = fieldsToReadings(el);
  assert.equal(back, [{ thing: 'Device01', timestamp: T, values: [{ field: 'Temperature', error: 'w1 CRC error' }, { field: 'relay', value: false }] }]);
});

test('nodeId option overrides the thing id', () => {
  const el = readingToFields({ thing: 'Device01', timestamp: T, values: [] }, thing, { nodeId: 'gw/Device01' });
  assert.is(el.getChild('node')!.attrs.nodeId, 'gw/Device01');
});

test('parser is liberal: XEP-0323 example with identification, no zone, several timestamps', () => {
  const el = parseXml(`
  <fields xmlns='urn:xmpp:iot:sensordata' seqnr='4' done='true'>
    <node nodeId='Device01'>
      <timestamp value='2013-03-07T16:24:30'>
        <numeric name='Temperature' momentary='true' automaticReadout='true' value='23.4' unit='°C'/>
        <numeric name='Runtime' status='true' automaticReadout='true' value='12345' unit='h'/>
        <string name='Device ID' identification='true' automaticReadout='true' value='Device01'/>
        <timeSpan name='Uptime' value='PT1H'/>
        <boolean name='On' value='1'/>
        <long name='Big' value='1099511627776'/>
        <unknown name='x' value='y'/>
      </timestamp>
      <timestamp value='2013-03-07T17:00:00+01:00'>
        <int name='Count' identity='true' value='7'/>
      </timestamp>
    </node>
  </fields>`);
  const parsed = parseFields(el);
  assert.is(parsed.length, 2);
  assert.is(parsed[0]!.timestamp, T);
  assert.equal(parsed[0]!.fields.map((f) => f.field), ['Temperature', 'Runtime', 'Device ID', 'Uptime', 'On', 'Big']);
  assert.ok(parsed[0]!.fields[2]!.flags.includes('identity'));
  assert.is(parsed[0]!.fields[3]!.type, 'duration');
  assert.is(parsed[0]!.fields[0]!.unit, '°C');
  assert.is(parsed[1]!.timestamp, Date.UTC(2013, 2, 7, 16, 0, 0));
  const readings = fieldsToReadings(el);
  assert.equal(readings[0]!.values.map((v) => v.value), [23.4, 12345, 'Device01', 'PT1H', true, 1099511627776]);
  assert.equal(readings[1]!.values, [{ field: 'Count', value: 7 }]);
});

test('parseTimestamp rejects garbage', () => {
  assert.is(parseTimestamp('yesterday'), undefined);
  assert.is(parseTimestamp(undefined), undefined);
});

test('property: round trip keeps values (numeric to its precision)', () => {
  const spec: ThingSpec = { id: 't', fields: [
    { name: 'n', type: 'numeric', unit: 'V', precision: 3 }, { name: 'b', type: 'boolean' },
    { name: 's', type: 'string' }, { name: 'i', type: 'int' },
  ] };
  fc.assert(fc.property(
    fc.double({ min: -1e9, max: 1e9, noNaN: true }), fc.boolean(), fc.string(), fc.integer(),
    fc.integer({ min: 0, max: 4102444800000 }),
    (n, b, s, i, ts) => {
      const clean = s.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF\uD800-\uDFFF\r]/g, '');
      const r: Reading = { thing: 't', timestamp: ts, values: [{ field: 'n', value: n }, { field: 'b', value: b }, { field: 's', value: clean }, { field: 'i', value: i }] };
      // Through text, as a subscriber sees it.
      const back = fieldsToReadings(parseXml(readingToFields(r, spec).toString()))[0]!;
      assert.is(back.timestamp, ts);
      assert.ok(Math.abs((back.values[0]!.value as number) - n) <= 0.0005 + Math.abs(n) * 1e-15);
      assert.is(back.values[1]!.value, b);
      assert.is(back.values[2]!.value, clean);
      assert.is(back.values[3]!.value, i);
    }), { numRuns: 500 });
});

test.run();
