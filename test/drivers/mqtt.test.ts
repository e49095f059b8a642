// The mqtt driver against a real Mosquitto on 127.0.0.1: Tasmota, zigbee2mqtt and ESPHome
// style payloads, garbage, sets published to command topics, and a broker restart.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import mqtt, { type MqttClient } from 'mqtt';
import { createMqttDriver, mapPayload, topicMatches, type MqttOptions } from '../../drivers/mqtt';
import type { Driver, Reading } from '../../drivers/types';
import { isXiotaError } from '../../agent/errors';
import { startMosquitto, type Mosquitto } from './_mosquitto';
import { recorder, type Recorder } from './_fixtures';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await sleep(10);
  }
}

test('topic filters and payload mapping (pure)', () => {
  assert.ok(topicMatches('tele/+/SENSOR', 'tele/plug1/SENSOR'));
  assert.ok(topicMatches('zigbee2mqtt/#', 'zigbee2mqtt/a/b'));
  assert.not.ok(topicMatches('tele/+/SENSOR', 'tele/plug1/STATE'));
  assert.not.ok(topicMatches('a/b', 'a/b/c'));
  assert.equal(mapPayload('21.5', [{ name: 't', type: 'numeric' }]), { ok: true, values: [{ field: 't', value: 21.5 }] });
  assert.equal(mapPayload('ON', [{ name: 'p', type: 'boolean' }]), { ok: true, values: [{ field: 'p', value: true }] });
  assert.equal(mapPayload('{"StatusSNS":{"BME280":{"Temperature":19.1}}}', [{ name: 't', type: 'numeric', path: 'StatusSNS.BME280.Temperature' }]), { ok: true, values: [{ field: 't', value: 19.1 }] });
  const g = mapPayload(Buffer.from([0xff, 0x00, 0x81]), [{ name: 't', type: 'numeric' }]);
  assert.ok(!g.ok && /binary/.test(g.error));
  const none = mapPayload('{"x":1}', [{ name: 't', type: 'numeric', path: 'temperature' }]);
  assert.ok(!none.ok && /none of the mapped paths \(temperature\)/.test(none.error));
  const notObj = mapPayload('oops', [{ name: 't', type: 'numeric', path: 'temperature' }]);
  assert.ok(!notObj.ok && /is not a JSON object/.test(notObj.error));
});

let broker: Mosquitto;
let pub: MqttClient;
let driver: Driver;
let rec: Recorder;
const readings: Reading[] = [];
const commands: Array<[string, string]> = [];

function options(port: number): MqttOptions {
  return {
    url: `mqtt://127.0.0.1:${port}`,
    reconnectMs: 100,
    connectTimeoutMs: 3000,
    things: [
      { id: 'tasmota', topic: 'tele/tasmota_1/SENSOR', fields: [
        { name: 'temperature', type: 'numeric', unit: '°C', precision: 1, path: 'BME280.Temperature' },
        { name: 'humidity', type: 'numeric', unit: '%', path: 'BME280.Humidity' },
        { name: 'status_temperature', type: 'numeric', topic: 'stat/tasmota_1/STATUS10', path: 'StatusSNS.BME280.Temperature' },
        { name: 'power', type: 'boolean', writable: true, topic: 'stat/tasmota_1/POWER', commandTopic: 'cmnd/tasmota_1/POWER' },
      ] },
      { id: 'living_room', topic: 'zigbee2mqtt/living_room', fields: [
        { name: 'temperature', type: 'numeric', unit: '°C', path: 'temperature' },
        { name: 'battery', type: 'int', unit: '%', path: 'battery' },
        { name: 'state', type: 'boolean', writable: true, path: 'state', commandTopic: 'zigbee2mqtt/living_room/set', commandKey: 'state' },
        { name: 'mode', type: 'enum', values: ['off', 'heat'], writable: true, path: 'system_mode', commandTopic: 'zigbee2mqtt/living_room/set', commandKey: 'system_mode' },
      ] },
      { id: 'esp', fields: [{ name: 'temperature', type: 'numeric', topic: 'esphome-node/sensor/temperature/state' }] },
    ],
  };
}

async function publish(topic: string, payload: string | Buffer): Promise<void> {
  await pub.publishAsync(topic, payload);
}

test.before(async () => {
  broker = await startMosquitto();
  pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { reconnectPeriod: 100 });
  pub.on('message', (t, p) => commands.push([t, p.toString()]));
  await pub.subscribeAsync(['cmnd/#', 'zigbee2mqtt/+/set']);
  rec = recorder((r) => readings.push(r));
  driver = createMqttDriver('mqtt', options(broker.port), { now: () => 42 });
  await driver.start(rec.ctx);
});

test.after(async () => {
  await driver?.stop();
  await pub?.endAsync(true);
  await broker?.stop();
});

test('Tasmota, zigbee2mqtt and ESPHome payloads become readings', async () => {
  readings.length = 0;
  await publish('tele/tasmota_1/SENSOR', '{"Time":"2024-01-01T00:00:00","BME280":{"Temperature":21.34,"Humidity":45.2,"Pressure":1012.1},"TempUnit":"C"}');
  await publish('stat/tasmota_1/STATUS10', '{"StatusSNS":{"Time":"2024-01-01T00:00:00","BME280":{"Temperature":21.3}}}');
  await publish('stat/tasmota_1/POWER', 'ON');
  await publish('zigbee2mqtt/living_room', '{"temperature":19.5,"humidity":50,"battery":97,"linkquality":120,"state":"OFF","system_mode":"heat"}');
  await publish('esphome-node/sensor/temperature/state', '22.75');
  await until(() => readings.length >= 5);
  assert.equal(readings.map((r) => [r.thing, r.timestamp, r.values]), [
    ['tasmota', 42, [{ field: 'temperature', value: 21.3 }, { field: 'humidity', value: 45.2 }]],
    ['tasmota', 42, [{ field: 'status_temperature', value: 21.3 }]],
    ['tasmota', 42, [{ field: 'power', value: true }]],
    ['living_room', 42, [{ field: 'temperature', value: 19.5 }, { field: 'battery', value: 97 }, { field: 'state', value: false }, { field: 'mode', value: 'heat' }]],
    ['esp', 42, [{ field: 'temperature', value: 22.75 }]],
  ]);
});

test('garbage payloads are faults or field errors; good messages still flow', async () => {
  readings.length = 0;
  rec.faults.length = 0;
  await publish('zigbee2mqtt/living_room', 'not json{');
  await publish('zigbee2mqtt/living_room', Buffer.from([0x00, 0xff, 0xfe]));
  await publish('zigbee2mqtt/living_room', '{"temperature":"warm","battery":97.5}');
  await publish('esphome-node/sensor/temperature/state', 'nan');
  await publish('esphome-node/sensor/temperature/state', '23');
  await until(() => readings.length >= 3);
  assert.ok(rec.faults.some((f) => /topic zigbee2mqtt\/living_room: payload "not json\{" is not a JSON object/.test(f)), rec.faults.join('\n'));
  assert.ok(rec.faults.some((f) => /payload is binary/.test(f)));
  assert.equal(readings[0].values, [{ field: 'temperature', error: 'temperature: expected a number, got "warm"' }, { field: 'battery', error: 'battery: expected an integer, got 97.5' }]);
  assert.equal(readings[1].values, [{ field: 'temperature', error: 'temperature: expected a number, got "nan"' }]);
  assert.equal(readings[2].values, [{ field: 'temperature', value: 23 }]);
});

test('sets publish to the command topic in the device’s format', async () => {
  commands.length = 0;
  await driver.set!('tasmota', 'power', false);
  await driver.set!('living_room', 'state', true);
  await driver.set!('living_room', 'mode', 'off');
  await until(() => commands.length >= 3);
  assert.equal(commands, [
    ['cmnd/tasmota_1/POWER', 'OFF'],
    ['zigbee2mqtt/living_room/set', '{"state":"ON"}'],
    ['zigbee2mqtt/living_room/set', '{"system_mode":"off"}'],
  ]);
  try { await driver.set!('tasmota', 'temperature', 1); assert.unreachable(); } catch (e) { assert.ok(isXiotaError(e, 'XIOTA_E_DRIVER')); }
});

test('broker restart: the driver reports the loss, reconnects and resubscribes', async () => {
  rec.faults.length = 0;
  readings.length = 0;
  await broker.restart();
  await until(() => rec.faults.some((f) => /lost the connection/.test(f)));
  // Publish until the resubscribed driver sees it (the publisher reconnects too).
  let n = 0;
  await until(() => {
    if (readings.length) return true;
    if (n++ % 20 === 0 && pub.connected) void pub.publishAsync('esphome-node/sensor/temperature/state', '30.5').catch(() => undefined);
    return false;
  }, 8000);
  assert.equal(readings[0].values, [{ field: 'temperature', value: 30.5 }]);
});

test('start fails with XIOTA_E_CONNECT when no broker answers', async () => {
  const d = createMqttDriver('dead', { ...options(1), connectTimeoutMs: 300 });
  try { await d.start(recorder().ctx); assert.unreachable(); } catch (e) {
    assert.ok(isXiotaError(e, 'XIOTA_E_CONNECT'));
    assert.match((e as Error).message, /no connection to mqtt:\/\/127.0.0.1:1 within 300 ms/);
  }
  await d.stop();
});

test.run();
