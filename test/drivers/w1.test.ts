import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { crc8, parseW1Slave, parseW1Temperature, createW1Driver } from '../../drivers/w1';
import { fixtures, recorder } from './_fixtures';

const GOOD = '72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57 t=23125\n';

test('crc8 matches the Dallas/Maxim CRC of real scratchpads', () => {
  assert.is(crc8([0x72, 0x01, 0x4b, 0x46, 0x7f, 0xff, 0x0e, 0x10]), 0x57);
  assert.is(crc8([0x50, 0x05, 0x4b, 0x46, 0x7f, 0xff, 0x0c, 0x10]), 0x1c);
  // A ROM code with its CRC appended checks to zero.
  assert.is(crc8([0x28, 0xff, 0x64, 0x1e, 0x07, 0x16, 0x03, crc8([0x28, 0xff, 0x64, 0x1e, 0x07, 0x16, 0x03])]), 0);
});

test('parseW1Slave: YES line and t=', () => {
  assert.equal(parseW1Slave(GOOD), { ok: true, celsius: 23.125 });
  assert.equal(parseW1Slave('ff ff 4b 46 7f ff 01 10 ' + crc8([0xff, 0xff, 0x4b, 0x46, 0x7f, 0xff, 0x01, 0x10]).toString(16).padStart(2, '0') + ' : crc=00 YES\nxx t=-62\n'), { ok: true, celsius: -0.062 });
});

test('parseW1Slave: CRC NO, mangled bytes, missing t=, truncated, 85 °C reset, out of range', () => {
  const no = parseW1Slave(GOOD.replace('YES', 'NO'));
  assert.ok(!no.ok && /CRC check failed/.test(no.error));
  const mangled = parseW1Slave(GOOD.replace('0e 10 57 :', '0e 11 57 :'));
  assert.ok(!mangled.ok && /scratchpad CRC mismatch: computed [0-9a-f]{2}, device sent 57/.test(mangled.error));
  const not = parseW1Slave('72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n72 01 4b 46 7f ff 0e 10 57\n');
  assert.ok(!not.ok && /no t=/.test(not.error));
  const trunc = parseW1Slave('72 01 4b 46 7f ff 0e 10 57 : crc=57 YES');
  assert.ok(!trunc.ok && /1 line/.test(trunc.error));
  const junk = parseW1Slave('\u0000\u0001binary\n\u00ff');
  assert.ok(!junk.ok && /not a CRC line/.test(junk.error));
  const reset = '50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n';
  const r85 = parseW1Slave(reset);
  assert.ok(!r85.ok && /85 °C power-on reset/.test(r85.error));
  assert.equal(parseW1Slave(reset, true), { ok: true, celsius: 85 });
  const absent = parseW1Temperature('-127000');
  assert.ok(!absent.ok && /outside the sensor's range/.test(absent.error));
});

test('parseW1Temperature: millidegrees', () => {
  assert.equal(parseW1Temperature('21562\n'), { ok: true, celsius: 21.562 });
  assert.equal(parseW1Temperature('-10125'), { ok: true, celsius: -10.125 });
  assert.ok(!parseW1Temperature('').ok);
});

test('reads the fixture bus: good, CRC NO, temperature file, power-on reset', async () => {
  const d = createW1Driver('w1', { root: fixtures('rpi'), names: { '28-0316a2795bff': 'outdoor' } }, { now: () => 7 });
  await d.start(recorder().ctx);
  assert.equal(d.things().map((t) => t.id), ['outdoor', 'w1-28-0416b3a1c2ff', 'w1-28-0516c4d5e6ff', 'w1-28-0616a1b2c3ff']);
  assert.equal(d.things()[0].fields, [{ name: 'temperature', type: 'numeric', unit: '°C', precision: 3 }]);
  const rs = await d.sample!();
  const by = Object.fromEntries(rs.map((r) => [r.thing, r.values[0]]));
  assert.is(by.outdoor.value, 23.125);
  assert.match(by['w1-28-0416b3a1c2ff'].error!, /CRC check failed/);
  assert.is(by['w1-28-0416b3a1c2ff'].value, undefined);
  assert.is(by['w1-28-0516c4d5e6ff'].value, 21.562);
  assert.match(by['w1-28-0616a1b2c3ff'].error!, /power-on reset/);
  assert.ok(rs.every((r) => r.timestamp === 7));
});

test('a configured device that vanished is an error field; a missing bus fails start clearly', async () => {
  const d = createW1Driver('w1', { root: fixtures('rpi'), devices: ['28-0000000000aa'] });
  await d.start(recorder().ctx);
  const [r] = await d.sample!();
  assert.match(r.values[0].error!, /28-0000000000aa\/w1_slave: ENOENT/);
  const none = createW1Driver('w1', { root: fixtures('nowhere') });
  try { await none.start(recorder().ctx); assert.unreachable(); } catch (e) { assert.match((e as Error).message, /w1-gpio overlay/); }
});

test.run();
