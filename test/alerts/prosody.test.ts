// Alerts end to end against a real Prosody (with mod_offline): a sensor flapping around its
// threshold reaches an online owner as exactly one alert and one "resolved" (chat messages
// with receipt requests, which the agent counts when answered), reaches an owner who was
// offline when she logs in (offline storage), and skips an owner who said alerts off.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../agent/agent';
import { alertSwitchFor } from '../../agent/alerts/switch';
import { configFromObject } from '../../agent/config';
import { createLogger } from '../../agent/log';
import type { XmppClient } from '../../agent/session/client';
import { x, type Element } from '../../agent/xml/element';
import { NS_RECEIPTS } from '../../agent/xep/chat';
import type { Driver, DriverContext, ThingSpec } from '../../drivers/types';
import { startProsody, type ProsodyServer } from '../../scripts/local-prosody';
import { clientFor, waitFor } from '../session/_helpers';

const t = suite('alerts on Prosody');
let srv: ProsodyServer;
let dir: string;
const USERS = ['dev', 'alice', 'bob', 'carol'];

t.before(async () => {
  srv = await startProsody({ users: USERS.map((u) => ({ user: u, password: `${u}pass` })), modules: ['offline'] });
  dir = mkdtempSync(join(tmpdir(), 'xiota-alerts-'));
});
t.after(async () => {
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const GREENHOUSE: ThingSpec = { id: 'greenhouse', fields: [{ name: 'temperature', type: 'numeric', unit: '°C', precision: 1 }] };

/** A push driver whose values the test sets. */
function pushDriver(): Driver & { push(v: number): void } {
  let ctx: DriverContext | undefined;
  return {
    kind: 'simulated',
    id: 'sim',
    things: () => [GREENHOUSE],
    async start(c) { ctx = c; },
    async stop() { ctx = undefined; },
    push(v: number) {
      if (!ctx) throw new Error('driver not started');
      ctx.emit({ thing: 'greenhouse', timestamp: Date.now(), values: [{ field: 'temperature', value: v }] });
    },
  };
}

interface Got { body: string; type?: string; receipt: boolean; delayed: boolean; id?: string; from?: string }

/** Collects chat messages with a body; answers receipt requests when `answer`. */
function inbox(c: XmppClient, answer: boolean): Got[] {
  const got: Got[] = [];
  c.router.on('message', (m: Element) => {
    const body = m.getChildText('body');
    if (body === undefined) return undefined;
    const receipt = m.getChild('request', NS_RECEIPTS) !== undefined;
    got.push({ body, type: m.attrs.type, receipt, delayed: m.getChild('delay', 'urn:xmpp:delay') !== undefined, id: m.attrs.id, from: m.attrs.from });
    // XEP-0184 5.1: the receipt carries the message's id.
    if (answer && receipt && m.attrs.id) c.send(x('message', { to: m.attrs.from }, x('received', { xmlns: NS_RECEIPTS, id: m.attrs.id })));
    return true;
  });
  return got;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t('a flapping sensor: one alert and one resolved, online and from offline storage; alerts off is honoured', async () => {
  const h = srv.host;
  const r = configFromObject({
    account: { jid: `dev@${h}`, password: 'devpass' },
    server: { host: '127.0.0.1', port: srv.c2sPort },
    tls: { ca_file: srv.caFile },
    outbox: { dir: join(dir, 'outbox'), flush_interval_ms: 20 },
    // The same thing the test driver reads, so the config check knows greenhouse.temperature.
    drivers: [{ id: 'sim', kind: 'simulated', options: { things: [{ id: 'greenhouse', fields: [{ name: 'temperature', type: 'numeric', unit: '°C', precision: 1 }] }] } }],
    access: { owners: [`alice@${h}`, `bob@${h}`, `carol@${h}`] },
    alerts: { group_s: 0.3, rules: [{ field: 'greenhouse.temperature', above: 30, hysteresis: 1 }] },
  });
  assert.equal(r.errors, []);
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', json: true, write: (l) => lines.push(l) });
  const driver = pushDriver();
  const agent = new Agent({ config: r.config!, credentials: { password: 'devpass', source: 'password', warnings: [] }, drivers: [driver], log });
  assert.ok(agent.modules.names().includes('alerts'));
  await alertSwitchFor(dir).setAlerts(`carol@${h}`, false);

  const alice = clientFor(srv, 'alice', 'alicepass', { resource: 'phone' });
  const carol = clientFor(srv, 'carol', 'carolpass', { resource: 'desk' });
  const aliceGot = inbox(alice, true);
  const carolGot = inbox(carol, true);
  await alice.connectOnce();
  await carol.connectOnce();
  // Available (RFC 6121 4.2): chat to the bare JID is delivered to this resource.
  alice.send(x('presence'));
  carol.send(x('presence'));

  await agent.start();
  await waitFor('agent online', () => agent.client.state === 'online');
  // Crossing 30 several times; back past 29 (30 - hysteresis) only at 28.9. 100 ms apart,
  // so the alert and the resolved fall in different 300 ms groups.
  for (const v of [29, 30.5, 29.8, 30.2, 29.5, 30.9, 29.1, 30.1, 29.6, 28.9, 29.5, 28, 29.9]) {
    driver.push(v);
    await sleep(100);
  }
  await waitFor('alice: two messages', () => aliceGot.length >= 2, 5000);
  await sleep(800); // anything extra would be out by now (group_s 0.3)
  assert.is(aliceGot.length, 2, aliceGot.map((g) => g.body).join('\n'));
  assert.is(aliceGot[0]!.body, '⚠ greenhouse.temperature is 30.5 °C (above 30)');
  assert.match(aliceGot[1]!.body, /^✓ resolved: greenhouse.temperature back to 28.9 °C \(was above 30 for \d+ s\)$/);
  assert.ok(aliceGot.every((g) => g.type === 'chat' && g.receipt && !g.delayed && g.from?.startsWith(`dev@${h}`)));
  assert.equal(carolGot, [], 'carol said alerts off');
  // Alice's receipts came back to the agent.
  await waitFor('receipts counted', () => lines.filter((l) => l.includes('"alert received"')).length === 2 || undefined, 5000);

  // Bob was offline the whole time: the server kept both (XEP-0160) and delivers them at login.
  const bob = clientFor(srv, 'bob', 'bobpass', { resource: 'laptop' });
  const bobGot = inbox(bob, false);
  await bob.connectOnce();
  bob.send(x('presence'));
  await waitFor('bob: two messages from offline storage', () => bobGot.length >= 2, 5000);
  await sleep(300);
  assert.equal(bobGot.map((g) => g.body), aliceGot.map((g) => g.body));
  assert.ok(bobGot.every((g) => g.type === 'chat' && g.delayed), 'delivered from offline storage, with a delay stamp');

  const sentLogs = lines.map((l) => JSON.parse(l) as { msg: string; to?: string }).filter((l) => l.msg === 'alert message sent');
  assert.equal(sentLogs.map((l) => l.to).sort(), [`alice@${h}`, `alice@${h}`, `bob@${h}`, `bob@${h}`]);

  await agent.stop();
  await Promise.all([alice.stop(), bob.stop(), carol.stop()]);
});

t.run();
