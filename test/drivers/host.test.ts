import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DriverHost, type DriverFault } from '../../drivers/host';
import { createSimulatedDriver } from '../../drivers/simulated';
import type { Driver, DriverContext, Reading, ThingSpec } from '../../drivers/types';
import { isXiotaError } from '../../agent/errors';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function good(id = 'good', pollIntervalMs = 20): Driver {
  return createSimulatedDriver(id, {
    pollIntervalMs,
    things: [{ id: `${id}-thing`, fields: [
      { name: 'temperature', type: 'numeric', unit: '°C', precision: 1, min: 10, max: 30 },
      { name: 'relay', type: 'boolean', writable: true },
      { name: 'mode', type: 'enum', values: ['off', 'auto'], writable: true },
    ] }],
  });
}

function faulty(id: string, mode: 'throw' | 'hang' | 'garbage'): Driver {
  return createSimulatedDriver(id, {
    pollIntervalMs: 20,
    things: [{ id: `${id}-thing`, fields: [{ name: 'v', type: 'numeric' }, { name: 'w', type: 'numeric' }] }],
    faults: [{ thing: `${id}-thing`, field: 'v', mode }],
  });
}

function collect(drivers: Driver[], extra: Partial<ConstructorParameters<typeof DriverHost>[0]> = {}) {
  const readings: Reading[] = [];
  const faults: DriverFault[] = [];
  const host = new DriverHost({ drivers, onReading: (r) => readings.push(r), onFault: (f) => faults.push(f), sampleTimeoutMs: 50, ...extra });
  return { host, readings, faults };
}

test('throwing, hanging and garbage drivers do not stop a good one', async () => {
  const { host, readings, faults } = collect([good(), faulty('thrower', 'throw'), faulty('hanger', 'hang'), faulty('junk', 'garbage')]);
  await host.start();
  await sleep(400);
  await host.stop();
  const goods = readings.filter((r) => r.thing === 'good-thing');
  assert.ok(goods.length >= 5, `good driver kept producing (${goods.length})`);
  assert.ok(goods.every((r) => typeof r.values[0].value === 'number' && r.values[0].error === undefined));
  // thrower: every field marked with the error message, and a fault naming the driver.
  const thr = readings.filter((r) => r.thing === 'thrower-thing');
  assert.ok(thr.length >= 3);
  assert.ok(thr.every((r) => r.values.every((v) => v.value === undefined && /thrower failed to sample: simulated fault/.test(v.error!))));
  // hanger: reported as not returning within the timeout, and polls do not stack.
  assert.ok(faults.some((f) => f.driver === 'hanger' && /did not return from sample\(\) within 50 ms/.test(f.message)));
  assert.is(faults.filter((f) => f.driver === 'hanger' && /within 50 ms/.test(f.message)).length, 1, 'one hung sample, no stacking');
  const hung = readings.filter((r) => r.thing === 'hanger-thing');
  assert.ok(hung.length >= 2 && hung.every((r) => r.values.every((v) => typeof v.error === 'string')));
  // junk: NaN becomes a field error, the other field still has its value.
  const junk = readings.filter((r) => r.thing === 'junk-thing');
  assert.ok(junk.length >= 3);
  assert.ok(junk.every((r) => /field "junk-thing\/v" expected a finite number, got NaN/.test(r.values[0].error!) && typeof r.values[1].value === 'number'));
});

test('readOnce while a scheduled poll is under way shares its result instead of failing every field', async () => {
  let calls = 0;
  const slow: Driver = {
    id: 'slow', kind: 'test', pollIntervalMs: 50,
    async start() {},
    async stop() {},
    things: () => [{ id: 'slow-thing', fields: [{ name: 'v', type: 'numeric' }] }],
    async sample() { calls++; await sleep(80); return [{ thing: 'slow-thing', timestamp: Date.now(), values: [{ field: 'v', value: 7 }] }]; },
  };
  const { host } = collect([slow], { sampleTimeoutMs: 500 });
  await host.start();
  await sleep(70); // the first scheduled poll (at 50 ms) is inside its 80 ms sample
  const out = await host.readOnce();
  await host.stop();
  assert.is(out.length, 1);
  assert.equal(out[0]!.values, [{ field: 'v', value: 7 }], 'the value, not "still busy with an earlier sample"');
  assert.is(calls, 1, 'one sample shared, not two');
});

test('a hanging sample is not called again until it returns', async () => {
  let calls = 0;
  let release: (() => void) | undefined;
  const d: Driver = {
    kind: 'test', id: 'slow', pollIntervalMs: 10,
    things: () => [{ id: 'slow', fields: [{ name: 'v', type: 'int' }] }],
    start: async () => {}, stop: async () => {},
    sample: () => { calls++; return new Promise<Reading[]>((r) => { release = () => r([{ thing: 'slow', timestamp: Date.now(), values: [{ field: 'v', value: 1 }] }]); }); },
  };
  const { host, faults } = collect([d], { sampleTimeoutMs: 20 });
  await host.start();
  await sleep(150);
  assert.is(calls, 1);
  assert.ok(faults.some((f) => /still inside an earlier sample|within 20 ms/.test(f.message)));
  release!();
  await sleep(60);
  assert.ok(calls >= 2, 'polling resumes once the driver returns');
  await host.stop();
});

test('garbage readings: unknown thing, unknown field, wrong types, bad timestamp, non-list', async () => {
  const readingsOut: unknown[] = [
    { thing: 'nope', timestamp: 1, values: [] },
    { thing: 'g', timestamp: NaN, values: [
      { field: 'n', value: 'hot' }, { field: 'i', value: 2.5 }, { field: 'b', value: 1 }, { field: 'e', value: 'turbo' },
      { field: 's', value: 5 }, { field: 'ghost', value: 1 }, { field: 'n2', value: Infinity }, { field: 'p', value: 3.14159 },
    ] },
    null,
  ];
  const d: Driver = {
    kind: 'test', id: 'garbage', pollIntervalMs: 1000,
    things: () => [{ id: 'g', fields: [
      { name: 'n', type: 'numeric' }, { name: 'n2', type: 'numeric' }, { name: 'i', type: 'int' }, { name: 'b', type: 'boolean' },
      { name: 'e', type: 'enum', values: ['a'] }, { name: 's', type: 'string' }, { name: 'p', type: 'numeric', precision: 2 },
    ] }],
    start: async () => {}, stop: async () => {},
    sample: async () => readingsOut as Reading[],
  };
  const { host, faults } = collect([d]);
  await host.start();
  const rs = await host.readOnce();
  await host.stop();
  assert.is(rs.length, 1);
  const r = rs[0];
  assert.ok(r.timestamp > 1_600_000_000_000, 'bad timestamp replaced by now');
  const by = Object.fromEntries(r.values.map((v) => [v.field, v]));
  assert.match(by.n.error!, /expected a number, got "hot"/);
  assert.match(by.i.error!, /expected an integer, got 2.5/);
  assert.match(by.b.error!, /expected a boolean/);
  assert.match(by.e.error!, /expected one of "a", got "turbo"/);
  assert.match(by.s.error!, /expected a string/);
  assert.match(by.n2.error!, /finite/);
  assert.is(by.p.value, 3.14, 'numerics rounded to precision');
  assert.is(by.ghost, undefined, 'undeclared field dropped');
  assert.ok(faults.some((f) => /unknown thing "nope"/.test(f.message)));
  assert.ok(faults.some((f) => /unknown field "ghost"/.test(f.message)));
  assert.ok(faults.some((f) => /instead of a reading/.test(f.message)));
  assert.ok(faults.some((f) => /bad timestamp/.test(f.message)));
});

test('sample() returning a non-list is a fault with every field marked', async () => {
  const d: Driver = {
    kind: 'test', id: 'weird', pollIntervalMs: 1000,
    things: () => [{ id: 'w', fields: [{ name: 'v', type: 'int' }] }],
    start: async () => {}, stop: async () => {},
    sample: async () => 'lol' as unknown as Reading[],
  };
  const { host, faults } = collect([d]);
  await host.start();
  const rs = await host.readOnce();
  await host.stop();
  assert.match(rs[0].values[0].error!, /returned "lol" from sample\(\)/);
  assert.ok(faults.length >= 1);
});

test('a driver whose start() fails is retried with backoff; the others run', async () => {
  let attempts = 0;
  const flaky: Driver = {
    kind: 'test', id: 'flaky', pollIntervalMs: 20,
    things: () => [{ id: 'f', fields: [{ name: 'v', type: 'int' }] }],
    start: async () => { attempts++; if (attempts < 3) throw new Error('device not ready'); },
    stop: async () => {},
    sample: async () => [{ thing: 'f', timestamp: Date.now(), values: [{ field: 'v', value: attempts }] }],
  };
  const { host, readings, faults } = collect([good(), flaky], { retryInitialMs: 20, retryMaxMs: 100 });
  await host.start();
  assert.is(host.state('flaky'), 'retrying');
  assert.is(host.state('good'), 'running');
  await sleep(300);
  assert.is(attempts, 3);
  assert.is(host.state('flaky'), 'running');
  assert.ok(faults.some((f) => /flaky \(test\) failed to start: device not ready; retrying in 20 ms/.test(f.message)));
  assert.ok(faults.some((f) => /retrying in 40 ms/.test(f.message)), 'backoff doubles');
  assert.ok(readings.some((r) => r.thing === 'f' && r.values[0].value === 3));
  assert.ok(readings.some((r) => r.thing === 'good-thing'));
  await host.stop();
});

test('a hanging start() times out and is retried', async () => {
  let attempts = 0;
  const d: Driver = {
    kind: 'test', id: 'stuck', things: () => [], stop: async () => {},
    start: () => { attempts++; return attempts === 1 ? new Promise<void>(() => undefined) : Promise.resolve(); },
  };
  const { host, faults } = collect([d], { startTimeoutMs: 30, retryInitialMs: 10 });
  await host.start();
  assert.ok(faults.some((f) => /did not start within 30 ms/.test(f.message)));
  await sleep(60);
  assert.is(host.state('stuck'), 'running');
  await host.stop();
});

test('set routes to the owning driver and checks field, writability and type', async () => {
  const { host, readings } = collect([good('a', 1000), good('b', 1000)]);
  await host.start();
  await host.set('b-thing', 'relay', true);
  await host.set('b-thing', 'mode', 'auto');
  const rs = await host.readOnce();
  const a = rs.find((r) => r.thing === 'a-thing')!, b = rs.find((r) => r.thing === 'b-thing')!;
  assert.is(b.values.find((v) => v.field === 'relay')!.value, true);
  assert.is(a.values.find((v) => v.field === 'relay')!.value, false);
  assert.is(b.values.find((v) => v.field === 'mode')!.value, 'auto');
  const expectErr = async (t: string, f: string, v: unknown, re: RegExp) => {
    try { await host.set(t, f, v as boolean); assert.unreachable(); } catch (e) {
      assert.ok(isXiotaError(e, 'XIOTA_E_DRIVER'), String(e));
      assert.match((e as Error).message, re);
    }
  };
  await expectErr('zzz', 'relay', true, /no thing "zzz"/);
  await expectErr('a-thing', 'nope', true, /has no field "nope"/);
  await expectErr('a-thing', 'temperature', 3, /read-only/);
  await expectErr('a-thing', 'relay', 'on', /expected a boolean/);
  await expectErr('a-thing', 'mode', 'turbo', /expected one of "off", "auto"/);
  assert.is(readings.length, 0, 'readOnce does not call onReading');
  await host.stop();
});

test('a set outside the field\'s declared range is refused naming field, value and range; the value stays', async () => {
  const drv = createSimulatedDriver('th', {
    pollIntervalMs: 1000,
    things: [{ id: 'greenhouse', fields: [
      { name: 'setpoint', type: 'numeric', unit: '°C', precision: 1, writable: true, min: 5, max: 30, initial: 20 },
      { name: 'limit', type: 'int', writable: true, min: 0 },
    ] }],
  });
  const { host } = collect([drv]);
  await host.start();
  const spec = host.things()[0]!.fields;
  assert.equal([spec[0]!.min, spec[0]!.max, spec[1]!.min, spec[1]!.max], [5, 30, 0, undefined], 'the driver declares its ranges');
  for (const [field, v, re] of [
    ['setpoint', 99, /^cannot set "greenhouse\/setpoint": 99 is out of range: it takes 5 to 30 °C$/],
    ['setpoint', 4.9, /"greenhouse\/setpoint": 4\.9 is out of range: it takes 5 to 30 °C/],
    ['limit', -1, /"greenhouse\/limit": -1 is out of range: it takes at least 0$/],
  ] as const) {
    try { await host.set('greenhouse', field, v); assert.unreachable(`${field} = ${v} was accepted`); } catch (e) {
      assert.ok(isXiotaError(e, 'XIOTA_E_DRIVER'), String(e));
      assert.match((e as Error).message, re);
    }
  }
  const read = async (f: string) => (await host.readOnce())[0]!.values.find((v) => v.field === f)!.value;
  assert.is(await read('setpoint'), 20, 'a refused set changes nothing');
  await host.set('greenhouse', 'setpoint', 30);
  await host.set('greenhouse', 'limit', 1_000_000);
  assert.is(await read('setpoint'), 30, 'the bound itself is inside the range');
  assert.is(await read('limit'), 1_000_000);
  await host.stop();
});

test('a set that throws or hangs gives XIOTA_E_DRIVER and a fault', async () => {
  const thing: ThingSpec = { id: 't', fields: [{ name: 'r', type: 'boolean', writable: true }, { name: 'q', type: 'boolean', writable: true }] };
  const d: Driver = {
    kind: 'test', id: 'd', things: () => [thing], start: async () => {}, stop: async () => {},
    set: (_t, f) => (f === 'r' ? Promise.reject(new Error('relay board not answering')) : new Promise<void>(() => undefined)),
  };
  const { host, faults } = collect([d], { setTimeoutMs: 30 });
  await host.start();
  try { await host.set('t', 'r', true); assert.unreachable(); } catch (e) { assert.match((e as Error).message, /failed to set "t\/r": relay board not answering/); }
  try { await host.set('t', 'q', true); assert.unreachable(); } catch (e) { assert.match((e as Error).message, /did not finish setting "t\/q" within 30 ms/); }
  assert.is(faults.length, 2);
  await host.stop();
});

test('pushed readings are checked too; duplicate thing ids are refused; consumer throws are contained', async () => {
  let ctx: DriverContext | undefined;
  const pusher: Driver = {
    kind: 'test', id: 'pusher', things: () => [{ id: 'p', fields: [{ name: 'v', type: 'numeric', precision: 1 }] }, { id: 'good-thing', fields: [] }],
    start: async (c) => { ctx = c; }, stop: async () => {},
  };
  const readings: Reading[] = [];
  const faults: DriverFault[] = [];
  const host = new DriverHost({ drivers: [good('good', 1000), pusher], onFault: (f) => faults.push(f), onReading: (r) => { readings.push(r); throw new Error('consumer bug'); } });
  await host.start();
  assert.ok(faults.some((f) => /"good-thing" of driver pusher is already declared by driver good/.test(f.message)));
  ctx!.emit({ thing: 'p', timestamp: 5, values: [{ field: 'v', value: 1.26 }] });
  ctx!.emit({ thing: 'p', timestamp: 6, values: [{ field: 'v', value: 'x' as unknown as number }] });
  ctx!.fault('lost the link');
  assert.is(readings[0].values[0].value, 1.3);
  assert.match(readings[1].values[0].error!, /expected a number/);
  assert.ok(faults.some((f) => f.message === 'lost the link' && f.driver === 'pusher'));
  const latest = await host.readOnce();
  assert.ok(latest.some((r) => r.thing === 'p'), 'push-only driver contributes its latest reading');
  assert.is(host.things().map((t) => t.id).sort().join(','), 'good-thing,p');
  await host.stop();
  ctx!.emit({ thing: 'p', timestamp: 7, values: [{ field: 'v', value: 2 }] });
  assert.is(readings.length, 2, 'pushes after stop are dropped');
});

test('duplicate driver ids are a config error', () => {
  assert.throws(() => new DriverHost({ drivers: [good('x'), good('x')] }), /two drivers have the id "x"/);
});

test('drivers(): each driver with its kind, state and things, in config order (XEP-0326 data sources)', async () => {
  const failing: Driver = { kind: 'broken', id: 'b', things: () => [], start: async () => { throw new Error('no port'); }, stop: async () => {} };
  const { host } = collect([good('g1'), failing], { retryInitialMs: 60_000 });
  assert.equal(host.drivers().map((d) => [d.id, d.state]), [['g1', 'idle'], ['b', 'idle']]);
  await host.start();
  assert.equal(host.drivers(), [
    { id: 'g1', kind: 'simulated', state: 'running', things: ['g1-thing'] },
    { id: 'b', kind: 'broken', state: 'retrying', things: [] },
  ]);
  await host.stop();
});

test.run();
