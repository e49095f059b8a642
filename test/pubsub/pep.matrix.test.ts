// NodePublisher, the PubSub builders and the XEP-0323 payload against each real server of the
// matrix (XIOTA_SERVER): PEP first publish (with publish-options where the server takes them,
// else the configure/create fallback), a mismatching config -> configure, stable item ids, a
// watcher's subscription receiving the event, and who may create nodes on pubsub.HOST
// (Prosody: component admins only; ejabberd: any local user, stock access_createnode).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { XmppClient } from '../../agent/session/client';
import { isXiotaError } from '../../agent/errors';
import { Element, x } from '../../agent/xml/element';
import { NodePublisher, type IqSender } from '../../agent/publish/publisher';
import { ItemIdAllocator } from '../../agent/publish/item-id';
import { readingToFields, fieldsToReadings } from '../../agent/xep/sensordata-fields';
import {
  itemsIq, parseItems, subscribeIq, getNodeConfigIq, parseNodeConfig, parsePubSubEvent, deleteNodeIq, type PubSubEvent,
} from '../../agent/xep/pubsub';
import type { Reading, ThingSpec } from '../../drivers/types';
import { serverUnderTest, startServer, type ServerLabel, type XmppServer } from '../../scripts/servers';
import { onlyOn } from '../servers/matrix';

const t = suite('pep');
const label = serverUnderTest();
let srv: XmppServer;
const clients: XmppClient[] = [];

const thing: ThingSpec = { id: 't1', fields: [
  { name: 'temperature', type: 'numeric', unit: '°C', precision: 2 },
  { name: 'relay', type: 'boolean', writable: true },
  { name: 'state', type: 'enum', values: ['ok', 'alarm'] },
] };
const NODE = 'urn:xiota:thing:t1';

async function login(user: string, pass: string): Promise<XmppClient> {
  const c = new XmppClient({
    jid: `${user}@${srv.host}`, credentials: { username: user, password: pass },
    server: { host: '127.0.0.1', port: srv.c2sPort }, tls: { caFile: srv.caFile }, iqTimeoutMs: 5000,
  });
  clients.push(c);
  await c.connectOnce();
  return c;
}
const sender = (c: XmppClient): IqSender => (req, ms) => c.iq(req, ms);

function reading(i: number): Reading {
  return { thing: 't1', timestamp: Date.UTC(2024, 4, 1, 12, 0, i), values: [
    { field: 'temperature', value: 20 + i / 3 }, { field: 'relay', value: i % 2 === 0 }, { field: 'state', value: i > 1 ? 'alarm' : 'ok' },
  ] };
}

t.before(async () => {
  srv = await startServer(label, { users: [{ user: 'dev', password: 'devpass' }, { user: 'watcher', password: 'watchpass' }, { user: 'admin', password: 'adminpass' }] });
});
t.after(async () => {
  for (const c of clients) await c.stop().catch(() => undefined);
  await srv?.cleanup();
});

/**
 * How the first publish sets a PEP node up, per server (observed): Prosody 0.12/13 and
 * ejabberd 24.12 take publish-options and auto-create the node with them; ejabberd 23.01
 * refuses publish-options for max_items (resource-constraint "Unknown field
 * 'pubsub#max_items'"), so the node is created with its config explicitly.
 */
const FIRST_PUBLISH_PATHS: Record<ServerLabel, NodePublisher['lastSetupPath'][]> = {
  'prosody-0.12': ['publish-options'],
  'ejabberd-23.01': ['create'],
  'prosody-13': ['publish-options'],
  'ejabberd-24.12': ['publish-options'],
};

let dev: XmppClient;
const ids = new ItemIdAllocator('it');
const published: { id: string; reading: Reading }[] = [];

t('PEP: first publish with publish-options, 3 items read back with their values', async () => {
  dev = await login('dev', 'devpass');
  const pub = new NodePublisher({ iq: sender(dev), config: { maxItems: 10, persistItems: true, accessModel: 'open', sendLastPublishedItem: 'on_sub_and_presence' } });
  for (let i = 0; i < 3; i++) {
    const r = reading(i);
    const id = ids.next();
    await pub.publish(NODE, id, readingToFields(r, thing));
    published.push({ id, reading: r });
  }
  console.log(`[fact] ${label} PEP first publish path: ${pub.lastSetupPath}`);
  assert.ok(FIRST_PUBLISH_PATHS[label].includes(pub.lastSetupPath), `first publish path ${pub.lastSetupPath}`);
  const items = parseItems(await dev.iq(itemsIq(undefined, NODE)));
  assert.equal(items.map((i) => i.id).sort(), published.map((p) => p.id).sort());
  for (const p of published) {
    const item = items.find((i) => i.id === p.id)!;
    const [back] = fieldsToReadings(item.payload!);
    assert.is(back!.timestamp, p.reading.timestamp);
    assert.is(back!.values[0]!.value, Number((p.reading.values[0]!.value as number).toFixed(2)));
    assert.is(back!.values[1]!.value, p.reading.values[1]!.value);
    assert.is(back!.values[2]!.value, p.reading.values[2]!.value);
  }
  const cfg = parseNodeConfig(await dev.iq(getNodeConfigIq(undefined, NODE)));
  assert.equal(cfg.get('pubsub#max_items'), ['10']);
  assert.equal(cfg.get('pubsub#access_model'), ['open']);
});

t('stable ids: publishing the same id again replaces the item', async () => {
  const pub = new NodePublisher({ iq: sender(dev), config: { maxItems: 10, persistItems: true, accessModel: 'open', sendLastPublishedItem: 'on_sub_and_presence' } });
  const replay = published[1]!;
  const changed: Reading = { ...replay.reading, values: [{ field: 'temperature', value: 99.5 }, ...replay.reading.values.slice(1)] };
  await pub.publish(NODE, replay.id, readingToFields(replay.reading, thing)); // a replay of the same reading
  await pub.publish(NODE, replay.id, readingToFields(changed, thing)); // and an overwrite
  const items = parseItems(await dev.iq(itemsIq(undefined, NODE)));
  assert.is(items.length, 3, 'no duplicate item');
  assert.is(items.filter((i) => i.id === replay.id).length, 1);
  assert.is(fieldsToReadings(items.find((i) => i.id === replay.id)!.payload!)[0]!.values[0]!.value, 99.5);
});

t('different options on an existing node: precondition-not-met, configure, publish', async () => {
  const pub = new NodePublisher({ iq: sender(dev), config: { maxItems: 5, persistItems: true, accessModel: 'open', sendLastPublishedItem: 'on_sub' } });
  const r = reading(3);
  const id = ids.next();
  await pub.publish(NODE, id, readingToFields(r, thing));
  published.push({ id, reading: r });
  console.log(`[fact] ${label} PEP publish with mismatching options path: ${pub.lastSetupPath}`);
  assert.is(pub.lastSetupPath, 'configure');
  const cfg = parseNodeConfig(await dev.iq(getNodeConfigIq(undefined, NODE)));
  assert.equal(cfg.get('pubsub#max_items'), ['5']);
  assert.equal(cfg.get('pubsub#send_last_published_item'), ['on_sub']);
  assert.is(parseItems(await dev.iq(itemsIq(undefined, NODE))).length, 4);
});

t('a watcher subscribed to the PEP node receives the event and reads the original values', async () => {
  const watcher = await login('watcher', 'watchpass');
  const events: PubSubEvent[] = [];
  watcher.on('stanza', (el: Element) => {
    const ev = parsePubSubEvent(el);
    if (ev && ev.node === NODE) events.push(ev);
  });
  const devJid = `dev@${srv.host}`;
  // RFC 6121 8.5.2.1: a message to the bare JID reaches only available resources.
  watcher.send(x('presence'));
  await watcher.ping();
  await watcher.iq(subscribeIq(devJid, NODE, `watcher@${srv.host}`));
  const pub = new NodePublisher({ iq: sender(dev), config: { maxItems: 5, persistItems: true, accessModel: 'open', sendLastPublishedItem: 'on_sub' } });
  const r: Reading = { thing: 't1', timestamp: Date.UTC(2024, 4, 1, 13), values: [
    { field: 'temperature', value: 21.499999999 }, { field: 'relay', error: 'driver: GPIO busy' }, { field: 'state', value: 'ok' },
  ] };
  const id = ids.next();
  await pub.publish(NODE, id, readingToFields(r, thing));
  const deadline = Date.now() + 5000;
  while (!events.some((e) => e.items.some((i) => i.id === id)) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  const ev = events.find((e) => e.items.some((i) => i.id === id));
  assert.ok(ev, 'event received');
  assert.is(ev!.service, devJid);
  const [back] = fieldsToReadings(ev!.items.find((i) => i.id === id)!.payload!);
  assert.equal(back, { thing: 't1', timestamp: r.timestamp, values: [
    { field: 'temperature', value: 21.5 }, { field: 'relay', error: 'driver: GPIO busy' }, { field: 'state', value: 'ok' },
  ] });
});

onlyOn(t, 'prosody', 'PubSub component: a non-admin gets a clear XIOTA_E_PUBSUB, an admin creates the node',
  "Prosody's PubSub component lets only its admins create nodes; ejabberd's stock access_createnode lets every local user (the next case)", async () => {
  const service = `pubsub.${srv.host}`;
  const cfg = { maxItems: 3, persistItems: true, accessModel: 'open' as const };
  const pub = new NodePublisher({ iq: sender(dev), service, config: cfg });
  const r = reading(5);
  const e = await pub.publish('sensors/t1', ids.next(), readingToFields(r, thing)).catch((err: unknown) => err);
  assert.ok(isXiotaError(e, 'XIOTA_E_PUBSUB'), String(e));
  console.log(`[fact] ${label} component, non-admin: ${e.message}`);
  assert.match(e.message, `create node sensors/t1 there`);
  assert.match(e.message, 'use PEP');

  const admin = await login('admin', 'adminpass');
  const apub = new NodePublisher({ iq: sender(admin), service, config: cfg });
  const id = ids.next();
  await apub.publish('sensors/t1', id, readingToFields(r, thing));
  console.log(`[fact] ${label} component, admin first publish path: ${apub.lastSetupPath}`);
  assert.ok(apub.isReady('sensors/t1'));
  const items = parseItems(await admin.iq(itemsIq(service, 'sensors/t1')));
  assert.equal(items.map((i) => i.id), [id]);
  const conf = parseNodeConfig(await admin.iq(getNodeConfigIq(service, 'sensors/t1')));
  assert.equal(conf.get('pubsub#max_items'), ['3']);
  await admin.iq(deleteNodeIq(service, 'sensors/t1'));
});

onlyOn(t, 'ejabberd', 'pubsub.HOST: any local user creates a node (stock access_createnode: local) with its config',
  'on Prosody only the component admins create nodes (the case before)', async () => {
    const service = `pubsub.${srv.host}`;
    const pub = new NodePublisher({ iq: sender(dev), service, config: { maxItems: 3, persistItems: true, accessModel: 'open' } });
    const r = reading(6);
    const id = ids.next();
    await pub.publish('sensors/t1', id, readingToFields(r, thing));
    console.log(`[fact] ${label} pubsub service, local user first publish path: ${pub.lastSetupPath}`);
    assert.ok(pub.isReady('sensors/t1'));
    assert.equal(parseItems(await dev.iq(itemsIq(service, 'sensors/t1'))).map((i) => i.id), [id]);
    const conf = parseNodeConfig(await dev.iq(getNodeConfigIq(service, 'sensors/t1')));
    assert.equal(conf.get('pubsub#max_items'), ['3']);
    await dev.iq(deleteNodeIq(service, 'sensors/t1'));
  });

t.run();
