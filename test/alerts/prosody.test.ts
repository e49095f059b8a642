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
const USERS = ['dev', 'alice', 'bob', 'carol', 'dave'];

t.before(async () => {
  srv = await startProsody({ users: USERS.map((u) => ({ user: u, password: `${u}pass` })), modules: ['offline'] });
  dir = mkdtempSync(join(tmpdir(), 'xiota-alerts-'));
});
t.after(async () => {
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const FIELDS = [{ name: 'temperature', type: 'numeric' as const, unit: '°C', precision: 1 }, { name: 'door', type: 'boolean' as const }];
const GREENHOUSE: ThingSpec = { id: 'greenhouse', fields: FIELDS };
/** The same thing in the config, so the config check knows its fields. */
const DECLARED = [{ id: 'sim', kind: 'simulated', options: { things: [{ id: 'greenhouse', fields: FIELDS }] } }];

/** A push driver whose values (and faults) the test sets. */
function pushDriver(): Driver & { push(v: number, field?: string): void; push(v: boolean, field: string): void; fail(message: string): void } {
  let ctx: DriverContext | undefined;
  const started = () => { if (!ctx) throw new Error('driver not started'); return ctx; };
  return {
    kind: 'simulated',
    id: 'sim',
    things: () => [GREENHOUSE],
    async start(c) { ctx = c; },
    async stop() { ctx = undefined; },
    push(v: number | boolean, field = 'temperature') {
      started().emit({ thing: 'greenhouse', timestamp: Date.now(), values: [{ field, value: v }] });
    },
    fail(message: string) {
      started().fault(message);
    },
  };
}

function agentConfig(sub: string, extra: Record<string, unknown>) {
  const h = srv.host;
  const r = configFromObject({
    account: { jid: `dev@${h}`, password: 'devpass' },
    server: { host: '127.0.0.1', port: srv.c2sPort },
    tls: { ca_file: srv.caFile },
    outbox: { dir: join(dir, sub, 'outbox'), flush_interval_ms: 20 },
    drivers: DECLARED,
    ...extra,
  });
  assert.equal(r.errors, []);
  return r.config!;
}

function startAgent(config: ReturnType<typeof agentConfig>, driver: Driver, now?: () => number) {
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', json: true, write: (l) => lines.push(l) });
  const agent = new Agent({ config, credentials: { password: 'devpass', source: 'password', warnings: [] }, drivers: [driver], log, now });
  return { agent, lines };
}

async function online(user: string, resource: string, answerReceipts = true): Promise<{ c: XmppClient; got: Got[] }> {
  const c = clientFor(srv, user, `${user}pass`, { resource });
  const got = inbox(c, answerReceipts);
  await c.connectOnce();
  // Available (RFC 6121 4.2): chat to the bare JID is delivered to this resource.
  c.send(x('presence'));
  return { c, got };
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
  const config = agentConfig('flap', {
    access: { owners: [`alice@${h}`, `bob@${h}`, `carol@${h}`] },
    alerts: { group_s: 0.3, rules: [{ field: 'greenhouse.temperature', above: 30, hysteresis: 1 }] },
  });
  const driver = pushDriver();
  const { agent, lines } = startAgent(config, driver);
  assert.ok(agent.modules.names().includes('alerts'));
  await alertSwitchFor(join(dir, 'flap')).setAlerts(`carol@${h}`, false);
  const { c: alice, got: aliceGot } = await online('alice', 'phone');
  const { c: carol, got: carolGot } = await online('carol', 'desk');

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
  const { c: bob, got: bobGot } = await online('bob', 'laptop', false);
  await waitFor('bob: two messages from offline storage', () => bobGot.length >= 2, 5000);
  await sleep(300);
  assert.equal(bobGot.map((g) => g.body), aliceGot.map((g) => g.body));
  assert.ok(bobGot.every((g) => g.type === 'chat' && g.delayed), 'delivered from offline storage, with a delay stamp');

  const sentLogs = lines.map((l) => JSON.parse(l) as { msg: string; to?: string }).filter((l) => l.msg === 'alert message sent');
  assert.equal(sentLogs.map((l) => l.to).sort(), [`alice@${h}`, `alice@${h}`, `bob@${h}`, `bob@${h}`]);

  await agent.stop();
  assert.is(agent.events.listenerCount('reading') + agent.events.listenerCount('fault'), 0, 'unloading removed the listeners');
  await Promise.all([alice.stop(), bob.stop(), carol.stop()]);
});

t('a driver fault and a door change go to the rule\'s to (not an owner) in one grouped message; the fault resolves when readings return', async () => {
  const h = srv.host;
  const config = agentConfig('fault', {
    access: { owners: [`alice@${h}`] },
    alerts: { group_s: 0.5, rules: [
      { field: 'greenhouse.temperature', fault: true, to: [`dave@${h}`] },
      { field: 'greenhouse.door', changes: true, to: [`dave@${h}`] },
    ] },
  });
  const driver = pushDriver();
  const { agent } = startAgent(config, driver);
  const { c: dave, got } = await online('dave', 'phone');
  const { c: alice, got: aliceGot } = await online('alice', 'tablet');
  await agent.start();
  await waitFor('agent online', () => agent.client.state === 'online');
  driver.push(20);
  driver.push(false, 'door');
  await sleep(100);
  driver.fail('serial link lost');
  driver.push(true, 'door');
  await waitFor('dave: the grouped message', () => got.length >= 1, 5000);
  assert.is(got[0]!.body, '⚠ greenhouse.temperature: sensor fault: serial link lost\n⚠ greenhouse.door changed to on (was off)');
  await sleep(600);
  assert.is(got.length, 1, 'one message for both');
  driver.push(21.5);
  await waitFor('dave: resolved', () => got.length >= 2, 5000);
  assert.match(got[1]!.body, /^✓ resolved: greenhouse.temperature reads again: 21.5 °C \(failed for \d+ s\)$/);
  await sleep(700);
  assert.is(got.length, 2);
  assert.equal(aliceGot, [], 'rules with to: do not go to the owners');
  await agent.stop();
  await Promise.all([dave.stop(), alice.stop()]);
});

t('past max_per_hour alerts are held back; an hour later one note says how many, with what is firing', async () => {
  const h = srv.host;
  let clock = Date.now();
  const config = agentConfig('cap', {
    access: { owners: [`alice@${h}`] },
    alerts: { group_s: 0, max_per_hour: 2, rules: [{ field: 'greenhouse.temperature', above: 30 }] },
  });
  const driver = pushDriver();
  const { agent, lines } = startAgent(config, driver, () => clock);
  const { c: alice, got } = await online('alice', 'laptop');
  await agent.start();
  await waitFor('agent online', () => agent.client.state === 'online');
  // No hysteresis: every crossing is an alert. 6 alerts, 2 messages allowed an hour.
  for (const v of [31, 29, 31, 29, 31, 29]) {
    driver.push(v);
    clock += 60_000;
    await sleep(30);
  }
  await waitFor('two messages', () => got.length >= 2, 5000);
  await sleep(500);
  assert.equal(got.map((g) => g.body), [
    '⚠ greenhouse.temperature is 31.0 °C (above 30)',
    '✓ resolved: greenhouse.temperature back to 29.0 °C (was above 30 for 1 min)',
  ]);
  // An hour after the first message the window has room: the next alert brings the note.
  clock += 3_600_000;
  driver.push(32);
  await waitFor('the note', () => got.length >= 3, 5000);
  assert.is(got[2]!.body, '… 4 more alerts suppressed (at most 2 messages an hour). Firing now: rule 1 (greenhouse.temperature)\n⚠ greenhouse.temperature is 32.0 °C (above 30)');
  await sleep(300);
  assert.is(got.length, 3);
  assert.ok(lines.some((l) => l.includes('"alert message sent"') && l.includes('"suppressed":4')));
  await agent.stop();
  await alice.stop();
});

t.run();
