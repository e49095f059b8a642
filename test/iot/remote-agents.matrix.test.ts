// Two real xiota agents on each server of the matrix (XIOTA_SERVER): the gateway `gw` reads (XEP-0323), sets
// (XEP-0325) and watches (PubSub, the thing's PEP node) the device `dev` through the Remote of
// its one session; a stranger `eve` is refused. The watch survives a new session after the
// server lost the subscription (the new session subscribes again). A node of the server's
// PubSub service is watched too.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import { isXiotaError } from '../../agent/errors';
import { RemoteError, type RemoteItem } from '../../agent/iot/remote';
import type { XmppClient } from '../../agent/session/client';
import { x } from '../../agent/xml/element';
import { createNodeIq, publishIq, unsubscribeIq } from '../../agent/xep/pubsub';
import { parseXml } from '../pubsub/xml';
import { createSimulatedDriver } from '../../drivers/simulated';
import { serverUnderTest, startServer, type XmppServer } from '../../scripts/servers';
import { waitFor } from '../session/_helpers';
import { rejection, retry, sleep, startAgent, startBareRemote, type AgentWithRemote } from './_remote';

const label = serverUnderTest();
const t = suite(`IoT client: a xiota agent reads, sets and watches another on ${label}`);
let srv: XmppServer;
let dev: AgentWithRemote; // the thing
let gw: AgentWithRemote; // the gateway that drives it
let eve: { client: XmppClient; remote: AgentWithRemote['remote'] };
let DEV = '';
const NODE = 'urn:xiota:greenhouse';
// Shared by the two watch cases (the second goes on with the first one's watch).
const items: RemoteItem[] = [];
let unwatch: (() => Promise<void>) | undefined;

t.before(async () => {
  srv = await startServer(label, { users: [{ user: 'dev', password: 'devpass' }, { user: 'gw', password: 'gwpass' }, { user: 'eve', password: 'evepass' }, { user: 'admin', password: 'adminpass' }] });
  const driver = createSimulatedDriver('sim', {
    seed: 1, pollIntervalMs: 600_000,
    things: [{ id: 'greenhouse', name: 'Greenhouse', fields: [
      { name: 'temperature', type: 'numeric', unit: '°C', precision: 1, waveform: 'constant', initial: 22.5 },
      { name: 'humidity', type: 'numeric', unit: '%', precision: 0, waveform: 'constant', initial: 55 },
      { name: 'setpoint', type: 'numeric', unit: '°C', precision: 1, writable: true, initial: 21, min: 5, max: 30 },
      { name: 'fan', type: 'boolean', writable: true, initial: false },
      { name: 'label', type: 'string', writable: true, initial: 'none' },
    ] }],
  });
  dev = await startAgent(srv, 'dev', 'devpass', { drivers: [driver], access: { owners: [], controllers: [`gw@${srv.host}`], strangers: 'refuse' } });
  DEV = dev.agent.client.jid;
  // gw is a thing too (a door sensor), so both read each other at once in one case.
  const door = createSimulatedDriver('door', { seed: 2, pollIntervalMs: 600_000, things: [{ id: 'door', fields: [{ name: 'battery', type: 'numeric', unit: '%', precision: 0, waveform: 'constant', initial: 87 }] }] });
  gw = await startAgent(srv, 'gw', 'gwpass', { drivers: [door], access: { owners: [], readers: [`dev@${srv.host}`], strangers: 'refuse' }, client: { streamManagement: false } });
  eve = await startBareRemote(srv, 'eve', 'evepass', 'eve');
});

t.after(async () => {
  await eve?.client.stop();
  for (const a of [gw, dev]) {
    await a?.agent.stop();
    if (a) rmSync(a.dir, { recursive: true, force: true });
  }
  await srv?.cleanup();
});

async function devValue(field: string) {
  return (await dev.agent.drivers.readThing('greenhouse'))?.values.find((v) => v.field === field)?.value;
}

t('read: every field of the other agent, with units and types; p50 of 20 readouts printed', async () => {
  const r = await gw.remote.read(DEV, {});
  assert.is(r.length, 1);
  assert.equal([r[0]!.jid, r[0]!.thing, r[0]!.node], [DEV, 'greenhouse', 'greenhouse']);
  const byName = Object.fromEntries(r[0]!.values.map((v) => [v.field, v]));
  assert.equal(byName.temperature, { field: 'temperature', type: 'numeric', unit: '°C', flags: ['momentary', 'automaticReadout'], value: 22.5 });
  assert.equal([byName.humidity!.value, byName.fan!.value, byName.fan!.type, byName.label!.value], [55, false, 'boolean', 'none']);
  assert.ok(byName.setpoint!.flags.includes('writable'));
  assert.ok(Math.abs(r[0]!.timestamp - Date.now()) < 5000);
  const ms: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    await gw.remote.read(DEV, { fields: ['temperature'] });
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  console.log(`  xiota -> xiota momentary readout: p50 ${ms[10]!.toFixed(1)} ms, max ${ms[19]!.toFixed(1)} ms (20 runs, loopback)`);
});

t('read with node and field filters; unknown node: RemoteError item-not-found with the thing\'s words', async () => {
  const r = await gw.remote.read(DEV, { nodes: [{ nodeId: 'greenhouse' }], fields: ['humidity', 'fan'] });
  assert.equal(r[0]!.values.map((v) => v.field), ['humidity', 'fan']);
  const e = await rejection(gw.remote.read(DEV, { nodes: [{ nodeId: 'attic' }] }));
  assert.instance(e, RemoteError);
  assert.equal([e.condition, e.detail!.stage], ['item-not-found', 'readout']);
  assert.match(e.text!, 'no node "attic": this device has greenhouse');
});

t('both agents read each other at once (40 readouts in flight): each answer reaches its asker, the thing sides keep answering', async () => {
  const GW = gw.agent.client.jid;
  const [mine, theirs] = await Promise.all([
    Promise.all(Array.from({ length: 20 }, () => gw.remote.read(DEV, { fields: ['temperature'] }))),
    Promise.all(Array.from({ length: 20 }, () => dev.remote.read(GW, {}))),
  ]);
  const badMine = mine.filter((r) => !(r.length === 1 && r[0]!.thing === 'greenhouse' && r[0]!.values.length === 1 && r[0]!.values[0]!.value === 22.5));
  const badTheirs = theirs.filter((r) => !(r.length === 1 && r[0]!.thing === 'door' && r[0]!.values[0]!.value === 87 && r[0]!.jid === GW));
  assert.equal([badMine, badTheirs], [[], []]);
});

t('set: boolean, double, string reach the other agent\'s driver; out of range: RemoteError with paramError, nothing changed', async () => {
  await gw.remote.set(DEV, { field: 'fan', value: true, nodes: [{ nodeId: 'greenhouse' }] });
  assert.is(await devValue('fan'), true);
  await gw.remote.set(DEV, { field: 'setpoint', value: 23.5 });
  assert.is(await devValue('setpoint'), 23.5);
  await gw.remote.set(DEV, { field: 'label', value: 'ready' });
  assert.is(await devValue('label'), 'ready');
  const e = await rejection(gw.remote.set(DEV, { field: 'setpoint', value: 99 }));
  assert.instance(e, RemoteError);
  assert.is(e.condition, 'bad-request');
  assert.equal(e.params!.map((p) => p.var), ['setpoint']);
  assert.match(e.params![0]!.message, 'takes 5 to 30, not 99');
  assert.is(await devValue('setpoint'), 23.5);
  // The read shows what was set.
  const r = await gw.remote.read(DEV, { fields: ['fan', 'setpoint'] });
  assert.equal(Object.fromEntries(r[0]!.values.map((v) => [v.field, v.value])), { fan: true, setpoint: 23.5 });
});

t('a stranger: readout and set refused (forbidden), nothing changed; bare JID and an absent resource explained', async () => {
  const e1 = await rejection(eve.remote.read(DEV, {}));
  assert.equal([(e1 as RemoteError).code, e1.condition], ['XIOTA_E_REMOTE', 'forbidden']);
  assert.match(e1.message, 'needs the read right');
  const e2 = await rejection(eve.remote.set(DEV, { field: 'fan', value: false }));
  assert.equal(e2.condition, 'forbidden');
  assert.is(await devValue('fan'), true);
  const e3 = await rejection(gw.remote.read(`dev@${srv.host}`, {}));
  assert.ok(isXiotaError(e3, 'XIOTA_E_INVALID'));
  const e4 = await rejection(gw.remote.read(`dev@${srv.host}/gone`, { timeoutMs: 3000 }));
  assert.instance(e4, RemoteError);
  console.log(`  readout of an absent resource: ${e4.message}`);
  assert.ok(['service-unavailable', 'recipient-unavailable', 'item-not-found'].includes(e4.condition!), e4.condition);
});

t('watch: refused without a presence subscription (what to do is in the error); after it, every published reading arrives', async () => {
  const refused = await rejection(gw.remote.watch(`dev@${srv.host}`, NODE, () => {}));
  console.log(`  PEP watch before the presence subscription: ${refused.message}`);
  assert.instance(refused, RemoteError);
  assert.match(refused.message, 'presence subscription request');
  // What the error says to do: gw asks, dev (gw is its controller) approves and follows back.
  gw.agent.client.send(x('presence', { type: 'subscribe', to: `dev@${srv.host}` }));
  unwatch = await retry('a watch once approved', () => gw.remote.watch(`dev@${srv.host}`, NODE, (i) => items.push(i)));
  await gw.remote.set(DEV, { field: 'fan', value: false });
  const got = await waitFor('the set reading as an item', () => items.find((i) => i.readings?.[0]?.values.some((v) => v.field === 'fan' && v.value === false)), 5000);
  assert.equal([got.jid, got.node, got.readings![0]!.thing], [`dev@${srv.host}`, NODE, 'greenhouse']);
  assert.match(got.xml, /^<fields xmlns="urn:xmpp:iot:sensordata">/);
});

t('watch survives a new session after the server lost the subscription: it subscribes again; unwatch ends it', async () => {
  // Take the subscription away behind the watcher's back (a second login of gw's account).
  const other = await startBareRemote(srv, 'gw', 'gwpass', 'admin');
  await other.client.iq(unsubscribeIq(`dev@${srv.host}`, NODE, `gw@${srv.host}`));
  await other.client.stop();
  const before = items.length;
  await gw.remote.set(DEV, { field: 'label', value: 'unseen' });
  await sleep(1000);
  assert.is(items.length, before, 'no subscription, no items: delivery depends on the subscription');
  // gw runs without XEP-0198, so a dropped link always comes back as a new session.
  let fresh = 0;
  gw.agent.client.on('online', (i) => { if (!i.resumed) fresh++; });
  gw.agent.client.dropConnection();
  await waitFor('gw back with a new session', () => fresh > 0 && gw.agent.client.state === 'online', 15_000);
  await retry('a set after the reconnect', () => gw.remote.set(DEV, { field: 'label', value: 'seen' }));
  await waitFor('the item after the reconnect', () => items.slice(before).find((i) => i.readings?.[0]?.values.some((v) => v.field === 'label' && v.value === 'seen')), 8000);
  await unwatch!();
  const after = items.length;
  await gw.remote.set(DEV, { field: 'label', value: 'after unwatch' });
  await sleep(1000);
  assert.is(items.length, after, 'nothing after unwatch');
});

t('watch a node of the PubSub service: XEP-0323 items and other payloads, each to every watcher', async () => {
  const service = `pubsub.${srv.host}`;
  const admin = await startBareRemote(srv, 'admin', 'adminpass', 'admin');
  try {
    await admin.client.iq(createNodeIq(service, 'weather', { accessModel: 'open' }));
    const a: RemoteItem[] = [];
    const b: RemoteItem[] = [];
    const ua = await gw.remote.watch(service, 'weather', (i) => a.push(i));
    const ub = await gw.remote.watch(service, 'weather', (i) => b.push(i));
    const fields = parseXml(`<fields xmlns='urn:xmpp:iot:sensordata'><node nodeId='roof'><timestamp value='2026-12-02T01:00:00Z'><numeric name='wind' momentary='true' value='7.5' unit='m/s'/></timestamp></node></fields>`);
    await admin.client.iq(publishIq({ service, node: 'weather', itemId: 'w1', payload: fields }));
    await admin.client.iq(publishIq({ service, node: 'weather', itemId: 'w2', payload: x('note', { xmlns: 'urn:example:note' }, 'storm') }));
    await waitFor('both items at both watchers', () => a.length >= 2 && b.length >= 2, 5000);
    assert.equal(a.map((i) => [i.jid, i.node, i.id]), [[service, 'weather', 'w1'], [service, 'weather', 'w2']]);
    assert.equal(a[0]!.readings!.map((r) => [r.thing, r.values[0]!.field, r.values[0]!.value, r.values[0]!.unit]), [['roof', 'wind', 7.5, 'm/s']]);
    assert.is(a[1]!.readings, undefined);
    assert.is(a[1]!.xml, '<note xmlns="urn:example:note">storm</note>');
    assert.equal(b.map((i) => i.id), ['w1', 'w2']);
    await ua();
    await ub();
    await admin.client.iq(publishIq({ service, node: 'weather', itemId: 'w3', payload: x('note', { xmlns: 'urn:example:note' }, 'calm') }));
    await sleep(800);
    assert.is(a.length + b.length, 4, 'nothing after both unwatched');
  } finally {
    await admin.client.stop();
  }
});

t.run();
