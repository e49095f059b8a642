// show_readings on each server of the matrix: a subscribed slixmpp sees the readings in the
// device's presence status, `away` naming a failing sensor and back, and no duplicate presence after
// the session is resumed (XEP-0198) with nothing changed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../agent/agent';
import { configFromObject } from '../../agent/config';
import { createSimulatedDriver, type SimulatedFault } from '../../drivers/simulated';
import { serverUnderTest, startServer, type XmppServer } from '../../scripts/servers';
import { waitFor } from '../session/_helpers';
import { follower, type Event, type Follower } from './_follower';

const t = suite('presence show_readings (slixmpp)');
let srv: XmppServer;
let dir: string;
let agent: Agent | undefined;
let alice: Follower | undefined;

t.before(async () => {
  srv = await startServer(serverUnderTest(), { users: [{ user: 'dev', password: 'dev-pass' }, { user: 'alice', password: 'alice-pass' }] });
  dir = mkdtempSync(join(tmpdir(), 'xiota-presence-'));
});
t.after(async () => {
  await agent?.stop().catch(() => undefined);
  await alice?.close();
  await srv?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

t('the status text carries the readings; away while a sensor fails; no duplicate after a resumption', async () => {
  const r = configFromObject({
    account: { jid: `dev@${srv.host}`, password: 'dev-pass', resource: 'gw' },
    server: { host: '127.0.0.1', port: srv.c2sPort },
    tls: { ca_file: srv.caFile },
    outbox: { dir: join(dir, 'outbox'), flush_interval_ms: 20 },
    access: { owners: [`alice@${srv.host}`] },
    presence: { min_interval_s: 1 },
  });
  assert.equal(r.errors, []);
  const faults: SimulatedFault[] = [];
  const driver = createSimulatedDriver('sim', {
    pollIntervalMs: 200,
    faults,
    things: [{ id: 'room', fields: [
      { name: 'temperature', type: 'numeric', unit: '°C', precision: 1, waveform: 'constant', initial: 21.5 },
      { name: 'humidity', type: 'numeric', unit: '%', precision: 0, waveform: 'constant', initial: 41 },
    ] }],
  });
  agent = new Agent({ config: r.config!, credentials: { password: 'dev-pass', source: 'password', warnings: [] }, drivers: [driver] });
  if (process.env.PRESENCE_DEBUG) {
    const send = agent.client.send.bind(agent.client);
    const t0 = Date.now();
    agent.client.send = (el) => { if (el.name === 'presence') console.log(Date.now() - t0, String(el)); send(el); };
  }
  await agent.start();
  await waitFor('agent online', () => agent!.client.state === 'online');
  const dev = `dev@${srv.host}`;
  alice = await follower(srv, 'alice', 'alice-pass');
  alice.send({ op: 'subscribe', to: dev });
  await alice.next('presence', (e) => e.type === 'subscribed' && e.from === dev);
  const fromDev = (e: Event) => e.from === `${dev}/gw` && e.type === 'available';
  await alice.next('status', (e) => fromDev(e) && e.status === '21.5 °C · 41 %', 10_000);

  faults.push({ thing: 'room', field: 'temperature', mode: 'error' });
  const away = await alice.next('status', (e) => fromDev(e) && e.show === 'away', 10_000);
  assert.is(away.status, '⚠ room.temperature: simulated sensor failure · 41 %');
  faults.length = 0;
  // (older presences are still queued: take the first one after the away)
  const seenAway = alice.seen.indexOf(away);
  await waitFor('back to the readings', () => alice!.seen.slice(seenAway + 1).find((e) => e.event === 'status' && fromDev(e)), 10_000);
  const back = alice.seen.slice(seenAway + 1).find((e) => e.event === 'status' && fromDev(e))!;
  assert.equal({ show: back.show, status: back.status }, { show: '', status: '21.5 °C · 41 %' });

  // The link drops; the session resumes. Nothing changed, so no presence is sent again.
  await new Promise((res) => setTimeout(res, 1500));
  const before = alice.seen.filter((e) => e.event === 'status' && fromDev(e)).length;
  const resumed = new Promise<boolean>((res) => agent!.client.once('online', (info) => res(info.resumed)));
  agent.client.dropConnection();
  const wasResumed = await resumed;
  await new Promise((res) => setTimeout(res, 2500));
  const after = alice.seen.filter((e) => e.event === 'status' && fromDev(e)).length;
  if (wasResumed) assert.is(after, before, 'resumed: no duplicate presence');
  else assert.is(after, before + 1, 'a new session (Prosody did not resume): one initial presence');
  console.log(`    (session ${wasResumed ? 'resumed' : 'not resumed: new session'} after the drop)`);
  await agent.stop();
  agent = undefined;
});

t.run();
