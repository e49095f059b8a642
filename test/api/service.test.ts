// ApiService on literal JSON-RPC messages, in-process (attach), over a real DriverHost with a
// simulated driver and the flow driver: no socket, no XMPP.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventEmitter } from 'node:events';
import { DriverHost } from '../../drivers/host';
import { ApiDriver } from '../../drivers/api';
import { createSimulatedDriver } from '../../drivers/simulated';
import type { Reading } from '../../drivers/types';
import { ApiService, type Send } from '../../agent/api/service';
import { silentLogger } from '../../agent/log';
import type { AgentEvents } from '../../agent/modules';
import type { ApiRole } from '../../agent/api/schema';

type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function setup(o: { role?: ApiRole; queue?: number; maxSubscriptions?: number; setTimeoutMs?: number } = {}) {
  const events = new EventEmitter<AgentEvents>();
  const flows = new ApiDriver();
  const sim = createSimulatedDriver('sim', { pollIntervalMs: 60_000, things: [{ id: 'room', fields: [
    { name: 'temperature', type: 'numeric', unit: '°C', precision: 1 },
    { name: 'fan', type: 'boolean', writable: true },
  ] }] });
  const host: DriverHost = new DriverHost({
    drivers: [sim, flows],
    onReading: (r, d) => { (events as unknown as EventEmitter).emit('reading', r, d); },
  });
  await host.start();
  const service = new ApiService({
    drivers: host, flows, events, role: o.role ?? 'owner', queue: o.queue ?? 1000, maxSubscriptions: o.maxSubscriptions ?? 10_000,
    setTimeoutMs: o.setTimeoutMs, log: silentLogger,
    status: () => ({ jid: 'gw@example.org', resource: 'r', state: 'offline', online: false, startedAt: Date.now() - 5000, queued: 3 }),
  });
  return { events, flows, host, service };
}

/** A client that records what it gets; `ask` sends a request and waits for its answer. */
function client(service: ApiService, send?: (m: Msg) => boolean | void) {
  const got: Msg[] = [];
  const waiters: Array<() => void> = [];
  const conn = service.attach(((m: Msg) => { got.push(m); for (const w of waiters.splice(0)) w(); return send?.(m); }) as Send);
  let n = 0;
  const until = async (pred: (m: Msg) => boolean, ms = 2000): Promise<Msg> => {
    const end = Date.now() + ms;
    for (;;) {
      const hit = got.find(pred);
      if (hit) return hit;
      if (Date.now() > end) throw new Error(`no message matched in ${ms} ms; got ${JSON.stringify(got).slice(0, 400)}`);
      await new Promise<void>((r) => { waiters.push(r); setTimeout(r, 20); });
    }
  };
  const ask = async (method: string, params?: unknown): Promise<Msg> => {
    const id = ++n;
    conn.receive({ jsonrpc: '2.0', id, method, ...(params !== undefined ? { params } : {}) });
    return until((m) => m.id === id && !m.method);
  };
  return { got, conn, ask, until };
}

test('agent.status and things.list', async () => {
  const { service, host } = await setup();
  const c = client(service);
  const s = (await c.ask('agent.status')).result;
  assert.is(s.jid, 'gw@example.org');
  assert.is(s.outbox.queued, 3);
  assert.ok(s.uptime_s >= 5);
  assert.equal(s.drivers.map((d: Msg) => d.kind), ['simulated', 'api']);
  const list = (await c.ask('things.list')).result;
  assert.equal(list.map((t: Msg) => [t.id, t.source, t.online]), [['room', 'driver', true]]);
  await host.stop();
});

test('bad requests: garbage shapes, unknown method, wrong param types, empty batch', async () => {
  const { service, host } = await setup();
  const c = client(service);
  c.conn.receive(42);
  assert.is((await c.until((m) => m.error?.code === -32600)).id, null);
  c.conn.receive({ jsonrpc: '1.0', id: 7, method: 'read' });
  assert.is((await c.until((m) => m.id === 7)).error.code, -32600);
  const unknown = await c.ask('no.such');
  assert.is(unknown.error.code, -32601);
  assert.match(unknown.error.message, 'agent.status');
  const wrong = await c.ask('read', { thing: 5 });
  assert.is(wrong.error.code, -32602);
  assert.is(wrong.error.data.field, 'thing');
  const arr = await c.ask('read', [1, 2]);
  assert.is(arr.error.code, -32602);
  const unknownThing = await c.ask('read', { thing: 'attic' });
  assert.is(unknownThing.error.code, -32002);
  c.conn.receive([]);
  await c.until((m) => m.error?.code === -32600 && /empty batch/.test(m.error.message));
  c.conn.refuse('not JSON');
  await c.until((m) => m.error?.code === -32700);
  await host.stop();
});

test('a batch gets one array of answers; notifications in it get none', async () => {
  const { service, host } = await setup();
  const c = client(service);
  c.conn.receive([
    { jsonrpc: '2.0', id: 'a', method: 'agent.status' },
    { jsonrpc: '2.0', method: 'agent.status' },
    { jsonrpc: '2.0', id: 'b', method: 'nope' },
  ]);
  const batch = await c.until((m) => Array.isArray(m));
  assert.equal((batch as unknown as Msg[]).map((m) => m.id), ['a', 'b']);
  assert.is((batch as unknown as Msg[])[1]!.error.code, -32601);
  await host.stop();
});

test('the role decides: a reader may read but not set or declare', async () => {
  const { service, host } = await setup({ role: 'reader' });
  const c = client(service);
  assert.ok(Array.isArray((await c.ask('read', { fresh: true })).result));
  const set = await c.ask('set', { thing: 'room', field: 'fan', value: true });
  assert.is(set.error.code, -32001);
  assert.match(set.error.message, 'reader');
  assert.is((await c.ask('thing.declare', { id: 'x', fields: [{ name: 'v', type: 'int' }] })).error.code, -32001);
  await host.stop();
});

test('set: a local driver applies it; read-only is refused, a value of the wrong type is a bad param naming thing.field and its type', async () => {
  const { service, host } = await setup();
  const c = client(service);
  assert.equal((await c.ask('set', { thing: 'room', field: 'fan', value: true })).result, { ok: true });
  const fresh = (await c.ask('read', { thing: 'room', field: 'fan', fresh: true })).result as Reading[];
  assert.equal(fresh[0]!.values, [{ field: 'fan', value: true }]);
  assert.is((await c.ask('set', { thing: 'room', field: 'temperature', value: 3 })).error.code, -32007);
  const bad = await c.ask('set', { thing: 'room', field: 'fan', value: 'maybe' });
  assert.is(bad.error.code, -32602);
  assert.is(bad.error.message, 'cannot set "room.fan" (boolean): expected a boolean, got "maybe"; send "value" as true or false (a JSON boolean, not a string)');
  assert.equal(bad.error.data, { field: 'value', target: 'room.fan', expected: 'boolean' });
  await host.stop();
});

test('read: values carry their units, as notifications do', async () => {
  const { service, host } = await setup();
  const c = client(service);
  const one = (await c.ask('read', { thing: 'room', field: 'temperature', fresh: true })).result as Reading[];
  assert.is(one[0]!.values[0]!.field, 'temperature');
  assert.is((one[0]!.values[0] as { unit?: string }).unit, '°C');
  const all = (await c.ask('read', {})).result as Reading[];
  const room = all.find((r) => r.thing === 'room')!;
  assert.is((room.values.find((v) => v.field === 'temperature') as { unit?: string }).unit, '°C');
  assert.not.ok('unit' in room.values.find((v) => v.field === 'fan')!, 'no unit declared, none given');
  await host.stop();
});

test('flow-defined thing: declare, publish, subscribers get it, a set goes back to the client', async () => {
  const { service, host } = await setup();
  const flow = client(service, (m) => {
    // The flow answers its sets.
    if (m.method === 'thing.set') setImmediate(() => flow.conn.receive({ jsonrpc: '2.0', id: m.id, result: { ok: true } }));
  });
  const watcher = client(service);
  const d = await flow.ask('thing.declare', { id: 'pump', name: 'Pump', fields: [{ name: 'on', type: 'boolean', writable: true }, { name: 'flow', type: 'numeric', unit: 'l/min' }] });
  assert.equal(d.result, { thing: 'pump' });
  assert.ok(host.things().some((t) => t.id === 'pump'));
  const sub = (await watcher.ask('subscribe', { thing: 'pump', field: 'flow' })).result.subscription;
  assert.equal((await flow.ask('thing.publish', { thing: 'pump', values: { on: false, flow: 2.5 } })).result, { accepted: true });
  const n = await watcher.until((m) => m.method === 'reading');
  assert.equal(n.params.values, [{ field: 'flow', value: 2.5, unit: 'l/min' }]);
  assert.is(n.params.subscription, sub);
  const bad = await flow.ask('thing.publish', { thing: 'pump', values: { flow: 'lots' } });
  assert.is(bad.error.code, -32602);
  assert.is(bad.error.data.field, 'values.flow');
  assert.is((await flow.ask('thing.publish', { thing: 'pump', values: { nope: 1 } })).error.code, -32002);
  // Another client sets it: the flow gets thing.set and answers.
  assert.equal((await watcher.ask('set', { thing: 'pump', field: 'on', value: true })).result, { ok: true });
  const req = flow.got.find((m) => m.method === 'thing.set')!;
  // It carries who asked: the other client, by its connection number (PROTOCOL.md thing.set).
  assert.equal(req.params, { thing: 'pump', field: 'on', value: true, from: `api:${service.clientList()[1]!.id}` });
  assert.match(req.id, /^s:/);
  // Only the holder publishes; another may not take the id.
  assert.is((await watcher.ask('thing.publish', { thing: 'pump', values: { on: true } })).error.code, -32001);
  assert.is((await watcher.ask('thing.declare', { id: 'pump', fields: [{ name: 'on', type: 'boolean' }] })).error.code, -32602);
  // A driver's thing id cannot be taken.
  assert.match((await flow.ask('thing.declare', { id: 'room', fields: [{ name: 'v', type: 'int' }] })).error.message, 'belongs to driver sim');
  await host.stop();
});

test('a flow that disconnects: its thing reads as failed, sets are refused, subscriptions are gone', async () => {
  const { service, host } = await setup({ setTimeoutMs: 200 });
  const flow = client(service);
  const w = client(service);
  await flow.ask('thing.declare', { id: 'valve', fields: [{ name: 'open', type: 'boolean', writable: true }] });
  for (let i = 0; i < 50; i++) await flow.ask('subscribe', {});
  assert.is(service.subscriptionCount(), 50);
  // A flow that does not answer: the set times out.
  const slow = await w.ask('set', { thing: 'valve', field: 'open', value: true });
  assert.is(slow.error.code, -32007);
  assert.match(slow.error.message, 'did not answer');
  flow.conn.close();
  assert.is(service.subscriptionCount(), 0);
  const r = (await w.ask('read', { thing: 'valve' })).result as Reading[];
  assert.match(String(r[0]!.values[0]!.error), 'not connected');
  const set = await w.ask('set', { thing: 'valve', field: 'open', value: false });
  assert.match(set.error.message, 'is not connected');
  assert.equal((await w.ask('things.list')).result.find((t: Msg) => t.id === 'valve').online, false);
  // Declared again by a new client: online again.
  const again = client(service);
  await again.ask('thing.declare', { id: 'valve', fields: [{ name: 'open', type: 'boolean', writable: true }] });
  assert.equal((await w.ask('things.list')).result.find((t: Msg) => t.id === 'valve').online, true);
  await host.stop();
});

test('a flow that refuses a set: the setter gets its words as -32007', async () => {
  const { service, host } = await setup();
  const flow = client(service, (m) => {
    if (m.method === 'thing.set') setImmediate(() => flow.conn.receive({ jsonrpc: '2.0', id: m.id, error: { code: -32007, message: 'the tank is empty' } }));
  });
  const other = client(service);
  await flow.ask('thing.declare', { id: 'tank', fields: [{ name: 'pump', type: 'boolean', writable: true }, { name: 'litres', type: 'int', writable: true, min: 0, max: 10 }] });
  const r = await other.ask('set', { thing: 'tank', field: 'pump', value: true });
  assert.is(r.error.code, -32007);
  assert.match(r.error.message, 'the tank is empty');
  // Range is checked by the host before the flow is asked.
  const n = flow.got.filter((m) => m.method === 'thing.set').length;
  const range = await other.ask('set', { thing: 'tank', field: 'litres', value: 11 });
  assert.is(range.error.code, -32602);
  assert.is(range.error.message, 'cannot set "tank.litres" (int): 11 is out of range: it takes 0 to 10; send a value within that range');
  assert.is(flow.got.filter((m) => m.method === 'thing.set').length, n);
  await host.stop();
});

test('session changes reach every client; without the agent module, remote methods say so', async () => {
  const { service, host } = await setup();
  const a = client(service);
  const b = client(service);
  service.sessionChanged(false);
  assert.equal((await a.until((m) => m.method === 'session')).params, { online: false });
  assert.equal((await b.until((m) => m.method === 'session')).params, { online: false });
  const r = await a.ask('remote.read', { jid: 'thing@example.org/x' });
  assert.is(r.error.code, -32006);
  assert.match(r.error.message, 'not available');
  await host.stop();
});

test('subscription limit, and unsubscribe', async () => {
  const { service, host } = await setup({ maxSubscriptions: 3 });
  const c = client(service);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await c.ask('subscribe', { thing: 'room' })).result.subscription);
  const over = await c.ask('subscribe', {});
  assert.is(over.error.code, -32005);
  assert.equal((await c.ask('unsubscribe', { subscription: ids[0] })).result, { ok: true });
  assert.is((await c.ask('unsubscribe', { subscription: ids[0] })).error.code, -32602);
  assert.ok((await c.ask('subscribe', {})).result.subscription);
  await host.stop();
});

test('a client that never reads: notifications beyond the queue are dropped and counted, responses are not', async () => {
  const { service, host, events } = await setup({ queue: 10 });
  let open = true;
  const c = client(service, () => open);
  await c.ask('subscribe', { thing: 'room' });
  open = false;
  // The first write after blocking goes out (the transport took it), then the queue fills.
  for (let i = 0; i < 100; i++) (events as unknown as EventEmitter).emit('reading', { thing: 'room', timestamp: i + 1, values: [{ field: 'temperature', value: i }] }, 'sim');
  const client0 = service.clientList()[0]!;
  assert.is(client0.queued, 10);
  assert.is(client0.dropped, 89);
  c.conn.receive({ jsonrpc: '2.0', id: 'late', method: 'agent.status' });
  await new Promise((r) => setTimeout(r, 20));
  assert.is(client0.queued, 11, 'a response waits in the queue, never dropped');
  open = true;
  c.conn.drain();
  const dropped = await c.until((m) => m.method === 'dropped');
  assert.equal(dropped.params, { count: 89 });
  assert.ok(c.got.some((m) => m.id === 'late'));
  await host.stop();
});

test.run();
