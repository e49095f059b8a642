// DriverContext.thingsChanged(): things that appear, change and disappear while the host runs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DriverHost, type DriverFault, type ThingsChange } from '../../drivers/host';
import { createSimulatedDriver } from '../../drivers/simulated';
import type { Driver, DriverContext, Reading, ThingSpec } from '../../drivers/types';

/** A push-only driver whose things the test edits. */
class Mutable implements Driver {
  readonly kind = 'test';
  specs: ThingSpec[] = [];
  ctx?: DriverContext;
  constructor(readonly id: string) {}
  things(): ThingSpec[] { return this.specs; }
  async start(ctx: DriverContext): Promise<void> { this.ctx = ctx; }
  async stop(): Promise<void> {}
}

function host(drivers: Driver[]) {
  const readings: Reading[] = [];
  const faults: DriverFault[] = [];
  const changes: ThingsChange[] = [];
  const h = new DriverHost({ drivers, onReading: (r) => readings.push(r), onFault: (f) => faults.push(f), onThingsChanged: (c) => changes.push(c) });
  return { h, readings, faults, changes };
}

test('a thing added at run time is known, accepts readings, and is reported once', async () => {
  const d = new Mutable('flow');
  const { h, readings, faults, changes } = host([d]);
  await h.start();
  d.ctx!.emit({ thing: 'pump', timestamp: Date.now(), values: [{ field: 'on', value: true }] });
  assert.is(readings.length, 0, 'unknown before declaring');
  assert.ok(faults.some((f) => f.message.includes('unknown thing')));
  d.specs = [{ id: 'pump', fields: [{ name: 'on', type: 'boolean', writable: true }] }];
  d.ctx!.thingsChanged();
  assert.equal(changes, [{ driver: 'flow', added: ['pump'], removed: [], changed: [] }]);
  assert.equal(h.things().map((t) => t.id), ['pump']);
  assert.equal(h.drivers()[0]!.things, ['pump']);
  d.ctx!.emit({ thing: 'pump', timestamp: Date.now(), values: [{ field: 'on', value: true }] });
  assert.is(readings.length, 1);
  d.ctx!.thingsChanged();
  assert.is(changes.length, 1, 'no change, no event');
  await h.stop();
});

test('changed fields and removed things: latest values follow the new spec', async () => {
  const d = new Mutable('flow');
  d.specs = [{ id: 'a', fields: [{ name: 'x', type: 'numeric' }, { name: 'y', type: 'numeric' }] }, { id: 'b', fields: [{ name: 'z', type: 'int' }] }];
  const { h, changes } = host([d]);
  await h.start();
  d.ctx!.emit({ thing: 'a', timestamp: 1000, values: [{ field: 'x', value: 1 }, { field: 'y', value: 2 }] });
  d.ctx!.emit({ thing: 'b', timestamp: 1000, values: [{ field: 'z', value: 3 }] });
  d.specs = [{ id: 'a', fields: [{ name: 'x', type: 'numeric' }] }];
  d.ctx!.thingsChanged();
  assert.equal(changes, [{ driver: 'flow', added: [], removed: ['b'], changed: ['a'] }]);
  assert.equal(h.latestReadings(), [{ thing: 'a', timestamp: 1000, values: [{ field: 'x', value: 1 }] }]);
  const err = await h.set('b', 'z', 1).then(() => undefined, (e: Error) => e);
  assert.match(String(err?.message), 'no thing "b"');
  await h.stop();
});

test('a new thing whose id another driver owns is refused with a fault', async () => {
  const sim = createSimulatedDriver('sim', { pollIntervalMs: 10_000, things: [{ id: 'taken', fields: [{ name: 'v', type: 'numeric' }] }] });
  const d = new Mutable('flow');
  const { h, faults, changes } = host([sim, d]);
  await h.start();
  d.specs = [{ id: 'taken', fields: [{ name: 'q', type: 'numeric' }] }];
  d.ctx!.thingsChanged();
  assert.is(changes.length, 0);
  assert.ok(faults.some((f) => f.message.includes('already declared by driver sim')), faults.map((f) => f.message).join('; '));
  assert.equal(h.things().find((t) => t.id === 'taken')!.fields[0]!.name, 'v');
  await h.stop();
});

test('thingsChanged while starting does nothing; the things are read when start() returns', async () => {
  const d = new Mutable('flow');
  d.start = async (ctx) => { d.ctx = ctx; d.specs = [{ id: 'early', fields: [{ name: 'v', type: 'numeric' }] }]; ctx.thingsChanged(); };
  const { h, changes } = host([d]);
  await h.start();
  assert.is(changes.length, 0);
  assert.equal(h.things().map((t) => t.id), ['early']);
  await h.stop();
});

test.run();
