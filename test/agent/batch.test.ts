// `publish.batch_s` end to end on a real Prosody: readings wait up to batch_s on disk, then
// travel in one PEP item whose XEP-0323 <node> holds one <timestamp> per reading, and a
// watcher sees every reading with its own sample time, also across a cut link mid-batch.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../agent/agent';
import { configFromObject } from '../../agent/config';
import { itemsIq, parseItems } from '../../agent/xep/pubsub';
import { fieldsToReadings } from '../../agent/xep/sensordata-fields';
import { startServer, type XmppServer } from '../../scripts/servers';
import { PushDriver } from '../../bench/push-driver';
import { startProxy, type TcpProxy } from '../servers/proxy';
import { clientFor, waitFor } from '../session/_helpers';

const t = suite('publish.batch_s');
let srv: XmppServer;
let proxy: TcpProxy;
let dir: string;
let agent: Agent | undefined;
t.before(async () => {
  srv = await startServer('prosody-0.12', { users: [{ user: 'dev', password: 'devpass' }, { user: 'watcher', password: 'watchpass' }] });
  proxy = await startProxy({ port: srv.c2sPort });
  dir = mkdtempSync(join(tmpdir(), 'xiota-batch-'));
});
t.after(async () => {
  await agent?.stop();
  await proxy?.close();
  await srv?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

t('readings wait for batch_s and arrive as one item, each with its own time; a cut mid-batch loses nothing', async () => {
  const r = configFromObject({
    account: { jid: `dev@${srv.host}`, password: 'devpass' },
    server: { host: '127.0.0.1', port: proxy.port },
    tls: { ca_file: srv.caFile },
    outbox: { dir: join(dir, 'outbox'), flush_interval_ms: 20 },
    pubsub: { access_model: 'open', max_items: 100 },
    publish: { deadband: 0, min_interval_s: 0, batch_s: 1.5 },
    session: { reconnect: { initial_delay_s: 0.1, max_delay_s: 1 } },
  });
  assert.equal(r.errors, []);
  const driver = new PushDriver('bench');
  agent = new Agent({ config: r.config!, credentials: { password: 'devpass', source: 'password', warnings: [] }, drivers: [driver] });
  await agent.start();
  await waitFor('agent online', () => agent!.client.state === 'online');
  const node = r.config!.pubsub.nodePrefix + 'bench';

  // Batch 1: five readings 100 ms apart; nothing is published before the first one's deadline.
  const t0 = Date.now();
  for (let i = 0; i < 5; i++) {
    driver.emit(i);
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.is(agent.pipeline!.stats.published, 0, 'held, not yet published');
  assert.is(agent.pipeline!.stats.accepted, 5, 'but accepted (on disk)');
  await waitFor('batch 1 published', () => agent!.pipeline!.stats.published === 5, 5000);
  assert.ok(Date.now() - t0 >= 1400, `published ${Date.now() - t0} ms after the first reading`);

  // Batch 2: three readings, then the link is cut before the deadline; they go after the reconnect.
  for (let i = 5; i < 8; i++) driver.emit(i);
  proxy.cut();
  await waitFor('all 8 published', () => (agent!.client.state === 'online' && agent!.pipeline!.stats.published === 8 ? true : undefined), 15_000);

  const watcher = clientFor(srv, 'watcher', 'watchpass', { resource: 'w' });
  await watcher.connectOnce();
  const items = parseItems(await watcher.iq(itemsIq(`dev@${srv.host}`, node)));
  await watcher.stop();
  const readings = items.flatMap((it) => fieldsToReadings(it.payload!));
  // PushDriver values: 20 + i/100.
  const values = readings.map((rd) => Math.round(((rd.values[0]!.value as number) - 20) * 100)).sort((a, b) => a - b);
  assert.equal(values, [0, 1, 2, 3, 4, 5, 6, 7], 'every reading once');
  assert.ok(items.length <= 3, `${items.length} items for 8 readings`);
  const first = items.map((it) => fieldsToReadings(it.payload!)).find((rs) => rs.length === 5);
  assert.ok(first, `an item with the 5 readings of batch 1 (${items.map((it) => fieldsToReadings(it.payload!).length)})`);
  const stamps = first!.map((rd) => rd.timestamp);
  assert.ok(stamps.every((s, i) => i === 0 || s - stamps[i - 1]! >= 90), `own sample times, 100 ms apart: ${stamps}`);
  await agent.stop();
  agent = undefined;
});

t.run();
