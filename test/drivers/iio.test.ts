import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findChannels, iioValue, channelType, createIioDriver } from '../../drivers/iio';
import { fixtures, recorder } from './_fixtures';

test('channel discovery prefers _input over _raw and knows channel types', () => {
  const chans = findChannels(['name', 'in_temp_input', 'in_temp_raw', 'in_voltage0_raw', 'in_voltage_scale', 'in_accelx_weird', 'in_humidityrelative_input', 'in_temp_ambient_input', 'out_voltage0_raw', 'in_foo_raw']);
  assert.equal(chans.map((c) => `${c.channel}:${c.type}:${c.kind}`), [
    'humidityrelative:humidityrelative:input', 'temp:temp:input', 'temp_ambient:temp:input', 'voltage0:voltage:raw',
  ]);
  assert.is(channelType('pressure'), 'pressure');
  assert.is(channelType('bogus'), undefined);
});

test('iioValue: (raw + offset) * scale per the IIO ABI; bad numbers throw', () => {
  assert.is(iioValue('13200\n', '0.125000000\n'), 1650);
  assert.is(iioValue('24000', '2.5', '-16000'), 20000);
  assert.is(iioValue('42'), 42);
  assert.throws(() => iioValue(''), /raw value "" is not a number/);
  assert.throws(() => iioValue('1', 'abc'), /scale value "abc"/);
});

test('reads BME280, ADS1115, a raw+offset sensor and a failing DHT from the fixture tree', async () => {
  const d = createIioDriver('iio', { root: fixtures('rpi') }, { now: () => 3 });
  await d.start(recorder().ctx);
  const things = d.things();
  assert.equal(things.map((t) => t.id), ['iio-bme280', 'iio-ads1115', 'iio-tmp-offset', 'iio-dht11']);
  assert.equal(things[0].fields, [
    { name: 'humidity', type: 'numeric', precision: 1, unit: '%' },
    { name: 'pressure', type: 'numeric', precision: 2, unit: 'hPa' },
    { name: 'temperature', type: 'numeric', precision: 2, unit: '°C' },
  ]);
  const rs = await d.sample!();
  const v = (thing: string, field: string) => rs.find((r) => r.thing === thing)!.values.find((x) => x.field === field)!;
  assert.is(v('iio-bme280', 'temperature').value, 23.45);
  assert.is(v('iio-bme280', 'pressure').value, 1013.25);
  assert.is(v('iio-bme280', 'humidity').value, 45.1);
  assert.is(v('iio-ads1115', 'voltage0').value, 1650, 'shared in_voltage_scale');
  assert.is(v('iio-ads1115', 'voltage1').value, 250, 'per-channel scale wins over the shared one');
  assert.is(v('iio-tmp-offset', 'temperature').value, 20);
  assert.is(v('iio-dht11', 'temperature').value, 21.3);
  assert.match(v('iio-dht11', 'humidity').error!, /dht11 humidityrelative: input value "" is not a number/);
});

test('select devices by name, pick channels, rename fields; unknown device or channel fails start', async () => {
  const d = createIioDriver('iio', { root: fixtures('rpi'), devices: [{ device: 'ads1115', thing: 'tank', channels: ['voltage0'], fieldNames: { voltage0: 'level_mv' } }] });
  await d.start(recorder().ctx);
  assert.equal(d.things(), [{ id: 'tank', name: 'ads1115', fields: [{ name: 'level_mv', type: 'numeric', precision: 3, unit: 'mV' }] }]);
  assert.equal((await d.sample!())[0].values, [{ field: 'level_mv', value: 1650 }]);
  for (const devices of [[{ device: 'sht31' }], [{ device: 'iio:device0', channels: ['voltage7'] }]]) {
    const bad = createIioDriver('iio', { root: fixtures('rpi'), devices });
    try { await bad.start(recorder().ctx); assert.unreachable(); } catch (e) { assert.match((e as Error).message, /no IIO device "sht31"|has no channel voltage7/); }
  }
});

test.run();
