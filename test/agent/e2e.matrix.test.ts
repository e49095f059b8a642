// The main job end to end on each real server of the matrix (XIOTA_SERVER), with the server's
// stock settings (ejabberd's c2s shaper included): a simulated sensor -> the agent -> PEP items
// -> a watcher's items query and its live event notifications.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../agent/agent';
import { configFromObject } from '../../agent/config';
import { createSimulatedDriver } from '../../drivers/simulated';
import { x } from '../../agent/xml/element';
import { itemsIq, parseItems, parsePubSubEvent } from '../../agent/xep/pubsub';
import { fieldsToReadings } from '../../agent/xep/sensordata-fields';
import { serverUnderTest, startServer, type XmppServer } from '../../scripts/servers';
import { clientFor, waitFor } from '../session/_helpers';

const t = suite('agent e2e');
let srv: XmppServer;
let dir: string;
let running: Agent | undefined;
t.before(async () => {
  srv = await startServer(serverUnderTest(), { users: [{ user: 'dev', password: 'devpass' }, { user: 'watcher', password: 'watchpass' }] });
  dir = mkdtempSync(join(tmpdir(), 'xiota-e2e-'));
});
t.after(async () => {
  await running?.stop(); // a failed case leaves it reconnecting: the process would never end
  await srv?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

t('readings of a simulated thing arrive as XEP-0323 items on the PEP node', async () => {
  const r = configFromObject({
    account: { jid: `dev@${srv.host}`, password: 'devpass' },
    server: { host: '127.0.0.1', port: srv.c2sPort },
    tls: { ca_file: srv.caFile },
    outbox: { dir: join(dir, 'outbox'), flush_interval_ms: 20 },
    pubsub: { access_model: 'open', max_items: 1000 },
    publish: { deadband: 0, min_interval_s: 0 },
  });
  assert.equal(r.errors, []);
  const config = r.config!;
  const driver = createSimulatedDriver('sim', {
    seed: 7,
    pollIntervalMs: 100,
    things: [{ id: 'room', fields: [{ name: 'temperature', type: 'numeric', unit: '°C', precision: 2, waveform: 'ramp', min: 10, max: 30, periodS: 5 }] }],
  });
  const { createLogger } = require('../../agent/log');
  const agent = new Agent({ log: process.env.E2E_DEBUG ? createLogger({ level: 'debug', json: false }) : undefined, config, credentials: { password: 'devpass', source: 'password', warnings: [] }, drivers: [driver] });
  running = agent;
  const watcher = clientFor(srv, 'watcher', 'watchpass', { resource: 'w' });
  const events: number[] = [];
  watcher.router.on('message/http://jabber.org/protocol/pubsub#event', (m) => {
    const ev = parsePubSubEvent(m);
    for (const it of ev?.items ?? []) for (const rd of fieldsToReadings(it.payload!)) events.push(rd.values[0]!.value as number);
    return true;
  });
  await agent.start();
  await waitFor('agent online', () => agent.client.state === 'online');
  await waitFor('10 published', () => (agent.pipeline!.stats.published >= 10 ? true : undefined), 15_000);
  await watcher.connectOnce();
  const node = config.pubsub.nodePrefix + 'room';
  const res = await watcher.iq(itemsIq(`dev@${srv.host}`, node));
  const items = parseItems(res);
  assert.ok(items.length >= 10, `items ${items.length}`);
  const rd = fieldsToReadings(items[0]!.payload!)[0]!;
  assert.is(rd.thing, 'room');
  assert.ok(typeof rd.values[0]!.value === 'number');
  // Live: subscribe and see new readings arrive. Available first, as a real client is:
  // ejabberd's PEP nodes deliver events to available subscribers only
  // (presence_based_delivery), and RFC 6121 8.5.2.1 holds bare-JID messages for them anyway.
  watcher.send(x('presence'));
  await watcher.iq(x('iq', { type: 'set', to: `dev@${srv.host}` }, x('pubsub', { xmlns: 'http://jabber.org/protocol/pubsub' }, x('subscribe', { node, jid: watcher.jid }))));
  await waitFor('live events', () => events.length >= 3, 10_000);
  assert.ok(events.every((v) => v >= 10 && v <= 30));
  await agent.stop();
  await watcher.stop();
  assert.is(agent.outbox?.pending ?? 0, 0);
});

t.run();
