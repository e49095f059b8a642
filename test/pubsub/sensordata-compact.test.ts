// compactFieldsXml must give exactly the bytes readingToFields(..., { compact: true }) gives:
// the outbox stores them, subscribers and the history parse them, and mergeFieldsPayloads
// splices them by their shape.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import { compactFieldsXml, isoStamp } from '../../agent/xep/sensordata-compact';
import { fieldsToReadings, isoUtc, readingToFields } from '../../agent/xep/sensordata-fields';
import type { FieldSpec, Reading, ThingSpec } from '../../drivers/types';
import { parseXml } from './xml';

const slow = (r: Reading, t: ThingSpec) => readingToFields(r, t, { compact: true }).toString();

const thing: ThingSpec = {
  id: 'gw<&>"1',
  fields: [
    { name: 'Temperature', type: 'numeric', unit: '°C', precision: 1 },
    { name: 'ratio', type: 'numeric' },
    { name: 'odd "name" <&>\t', type: 'numeric', unit: 'a"b<c>&\r\n', writable: true },
    { name: 'relay', type: 'boolean', writable: true },
    { name: 'label', type: 'string' },
    { name: 'count', type: 'int', writable: true },
    { name: 'mode', type: 'enum', values: ['auto', 'manual'] },
  ],
};
const T = Date.UTC(2026, 11, 2, 5, 59, 59, 7);

test('a plain numeric reading: the bytes of readingToFields compact', () => {
  const r: Reading = { thing: 'x', timestamp: T, values: [{ field: 'Temperature', value: 21.46 }] };
  const got = compactFieldsXml(r, thing);
  assert.is(got, slow(r, thing));
  assert.is(got, '<fields xmlns="urn:xmpp:iot:sensordata"><node nodeId="gw&lt;&amp;&gt;&quot;1"><timestamp value="2026-12-02T05:59:59.007Z"><numeric name="Temperature" value="21.5" unit="°C"/></timestamp></node></fields>');
  assert.is(fieldsToReadings(parseXml(got))[0]!.values[0]!.value, 21.5);
});

test('every type, writable flags, escapes, int/long, failures and undeclared fields agree', () => {
  const cases: Reading['values'][] = [
    [{ field: 'ratio', value: 1 / 3 }, { field: 'relay', value: true }, { field: 'label', value: 'a<b & "c"\u0001' }, { field: 'count', value: 42.9 }],
    [{ field: 'count', value: 2 ** 40 }, { field: 'count', value: -(2 ** 31) - 1 }, { field: 'count', value: NaN }],
    [{ field: 'odd "name" <&>\t', value: -0.04 }, { field: 'relay', value: 'true' }, { field: 'relay', value: 0 }],
    [{ field: 'Temperature', value: NaN }, { field: 'Temperature', value: Infinity }, { field: 'ratio', value: -Infinity }],
    [{ field: 'mode', value: 'auto' }],
    [{ field: 'Temperature', error: 'sensor gone' }, { field: 'ratio', value: 2 }],
    [{ field: 'nope', value: 3 }],
    [{ field: 'Temperature', value: '21.5' }],
    [{ field: 'count', value: '17' }],
    [],
  ];
  for (const values of cases) {
    const r: Reading = { thing: thing.id, timestamp: T, values };
    assert.is(compactFieldsXml(r, thing), slow(r, thing), JSON.stringify(values));
  }
});

test('timestamps: minute and day boundaries, fractions, before 1970, past 9999, garbage', () => {
  const stamps = [0, 59_999, 60_000, T, T + 1, T + 993, Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2024, 2, 1), 1.7, 12_345.999,
    -1, -60_001, 253402300799999, 253402300800000, 8.64e15, NaN, Infinity];
  for (const ms of stamps) assert.is(isoStamp(ms), isoUtc(ms), String(ms));
  fc.assert(fc.property(fc.integer({ min: 0, max: 4102444800000 }), (ms) => isoStamp(ms) === new Date(ms).toISOString()), { numRuns: 20_000 });
});

test('timestamps, short form (history readouts): a whole second without .000, the rest as toISOString', () => {
  assert.is(isoStamp(T - (T % 1000), true), new Date(T - (T % 1000)).toISOString().replace('.000Z', 'Z'));
  assert.is(isoStamp(-60_000, true), '1969-12-31T23:59:00Z');
  fc.assert(fc.property(fc.integer({ min: -8.64e12, max: 4102444800000 }), (ms) => isoStamp(ms, true) === new Date(ms).toISOString().replace(/\.000Z$/, 'Z')), { numRuns: 20_000 });
});

test('generated readings agree with readingToFields', () => {
  const field = fc.record({ name: fc.string({ minLength: 1, maxLength: 6 }), type: fc.constantFrom<FieldSpec['type']>('numeric', 'boolean', 'string', 'int', 'enum'),
    unit: fc.option(fc.string({ maxLength: 4 }), { nil: undefined }), precision: fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
    writable: fc.option(fc.boolean(), { nil: undefined }) });
  const value = fc.oneof(fc.double(), fc.integer(), fc.boolean(), fc.string({ maxLength: 5 }));
  fc.assert(fc.property(fc.string({ maxLength: 5 }), fc.array(field, { minLength: 1, maxLength: 4 }), fc.array(fc.tuple(fc.nat(5), value, fc.boolean()), { maxLength: 5 }),
    fc.integer({ min: -1e12, max: 4102444800000 }), (id, fields, vals, ts) => {
      const t: ThingSpec = { id, fields };
      const values = vals.map(([i, v, fail]) => {
        const name = fields[i % fields.length]!.name + (i >= fields.length ? 'x' : '');
        return fail && i === 0 ? { field: name, error: 'e' } : { field: name, value: v };
      });
      const r: Reading = { thing: id, timestamp: ts, values };
      return compactFieldsXml(r, t) === slow(r, t);
    }), { numRuns: 5000 });
});

test('a spec changed in place is seen on the next reading', () => {
  const t: ThingSpec = { id: 'm', fields: [{ name: 'v', type: 'numeric', unit: 'V', precision: 1 }] };
  const r: Reading = { thing: 'm', timestamp: T, values: [{ field: 'v', value: 3.14159 }] };
  assert.is(compactFieldsXml(r, t), slow(r, t));
  t.fields[0]!.unit = 'mV';
  t.fields[0]!.precision = 3;
  t.fields[0]!.writable = true;
  assert.is(compactFieldsXml(r, t), slow(r, t));
  assert.match(compactFieldsXml(r, t), 'value="3.142" unit="mV" writable="true"');
  t.fields.push({ name: 'w', type: 'boolean' });
  const r2: Reading = { ...r, values: [{ field: 'w', value: true }] };
  assert.is(compactFieldsXml(r2, t), slow(r2, t));
});

test.run();
