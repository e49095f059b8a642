import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createDriver, DRIVER_KINDS, DriverHost } from '../../drivers';
import { isXiotaError } from '../../agent/errors';
import { fixtures } from './_fixtures';

test('registry builds every kind and refuses unknown kinds and bad options', () => {
  assert.equal(DRIVER_KINDS, ['simulated', 'linux', 'w1', 'iio', 'serial', 'mqtt', 'bridge']);
  assert.is(createDriver('bridge', 'b', { path: '/dev/null', board: 'board-1', keysFile: '/nonexistent/keys.json' }).kind, 'bridge');
  assert.is(createDriver('simulated', 's', { things: [] }).kind, 'simulated');
  assert.is(createDriver('linux', 'l', {}).kind, 'linux');
  assert.is(createDriver('w1', 'w', {}).kind, 'w1');
  assert.is(createDriver('iio', 'i', {}).kind, 'iio');
  assert.is(createDriver('serial', 'g', { path: '/dev/null', protocol: 'nmea' }).kind, 'serial');
  assert.is(createDriver('mqtt', 'm', { url: 'mqtt://127.0.0.1:1', things: [] }).kind, 'mqtt');
  const bad: Array<[string, unknown, RegExp]> = [
    ['zwave', {}, /unknown driver kind "zwave" for driver x: use one of simulated, linux/],
    ['mqtt', { url: 'mqtt://127.0.0.1' }, /options need things/],
    ['serial', { path: '/dev/ttyUSB0', protocol: 'json' }, /needs a `fields` mapping/],
    ['mqtt', { url: 'mqtt://127.0.0.1', things: [{ id: 't', fields: [{ name: 'a', type: 'numeric' }] }] }, /has no topic/],
    ['linux', 'yes', /options must be a mapping/],
  ];
  for (const [kind, opts, re] of bad) {
    try { createDriver(kind, 'x', opts); assert.unreachable(kind); } catch (e) {
      assert.ok(isXiotaError(e, 'XIOTA_E_CONFIG'), String(e));
      assert.match((e as Error).message, re);
    }
  }
});

test('a host over the fixture drivers reads them all once (xiota read)', async () => {
  const root = fixtures('rpi');
  const host = new DriverHost({ drivers: [
    createDriver('linux', 'pi', { root, disks: [{ name: 'root', path: root }] }),
    createDriver('w1', 'w1', { root }),
    createDriver('iio', 'iio', { root }),
    createDriver('simulated', 'sim', { things: [{ id: 'pump', fields: [{ name: 'on', type: 'boolean', writable: true }] }] }),
  ] });
  await host.start();
  const rs = await host.readOnce();
  await host.stop();
  assert.is(rs.length, 1 + 4 + 4 + 1);
  assert.is(rs.find((r) => r.thing === 'pi')!.values.find((v) => v.field === 'cpu_temperature')!.value, 48.3);
  assert.is(rs.find((r) => r.thing === 'iio-bme280')!.values.find((v) => v.field === 'pressure')!.value, 1013.25);
});

test.run();
