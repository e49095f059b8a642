// Presence subscriptions end to end on each server of the matrix (Prosody, ejabberd): the
// Agent with a simulated driver and PEP's default access_model `presence`, and slixmpp (test/clients/follower.py) as each
// person's client. An owner and a reader are approved and read the PEP items; a stranger is
// refused and reads nothing; with ask_owners the owner gets one chat message and, after
// `allow`, the stranger reads items; a revoke takes the subscription and the items away.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../agent/agent';
import { configFromObject } from '../../agent/config';
import { createLogger } from '../../agent/log';
import { createSimulatedDriver } from '../../drivers/simulated';
import { serverUnderTest, startServer, type XmppServer } from '../../scripts/servers';
import { waitFor } from '../session/_helpers';
import { follower, type Follower } from './_follower';

const t = suite('presence subscriptions (slixmpp)');
const USERS = ['dev', 'alice', 'carol', 'bob', 'dave'];
let srv: XmppServer;
let dir: string;
const open: Follower[] = [];
let agent: Agent | undefined;

t.before(async () => {
  srv = await startServer(serverUnderTest(), { users: USERS.map((u) => ({ user: u, password: `${u}-pass` })) });
  dir = mkdtempSync(join(tmpdir(), 'xiota-subs-'));
});
t.after(async () => {
  await agent?.stop().catch(() => undefined);
  for (const f of open) await f.close();
  await srv?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const NODE = 'urn:xiota:room';

async function startAgent(strangers: 'refuse' | 'ask_owners'): Promise<Agent> {
  // One device at a time (the same resource would replace the other's session).
  await agent?.stop();
  agent = undefined;
  const r = configFromObject({
    account: { jid: `dev@${srv.host}`, password: 'dev-pass' },
    server: { host: '127.0.0.1', port: srv.c2sPort },
    tls: { ca_file: srv.caFile },
    outbox: { dir: join(dir, 'outbox'), flush_interval_ms: 20 },
    publish: { deadband: 0, min_interval_s: 0 },
    access: { owners: [`alice@${srv.host}`], readers: [`carol@${srv.host}`], strangers },
  });
  assert.equal(r.errors, []);
  assert.is(r.config!.pubsub.accessModel, 'presence', 'the default access model');
  const driver = createSimulatedDriver('sim', {
    seed: 3,
    pollIntervalMs: 200,
    things: [{ id: 'room', fields: [{ name: 'temperature', type: 'numeric', unit: '°C', precision: 1, waveform: 'ramp', min: 10, max: 30, periodS: 5 }] }],
  });
  const log = process.env.SUBS_DEBUG ? createLogger({ level: 'debug', json: false }) : undefined;
  const a = new Agent({ config: r.config!, credentials: { password: 'dev-pass', source: 'password', warnings: [] }, drivers: [driver], log });
  await a.start();
  await waitFor('agent online', () => a.client.state === 'online');
  await waitFor('published', () => (a.pipeline!.stats.published >= 2 ? true : undefined), 15_000);
  return a;
}

async function person(user: string): Promise<Follower> {
  const f = await follower(srv, user, `${user}-pass`);
  open.push(f);
  return f;
}

const from = (jid: string) => (e: Record<string, unknown>) => e.from === jid;

async function items(f: Follower, dev: string): Promise<{ ok: boolean; count: number; error: unknown }> {
  f.send({ op: 'get_items', to: dev, node: NODE });
  const e = await f.next('got_items');
  return { ok: e.ok as boolean, count: e.count as number, error: e.error };
}

t('owner and reader are approved and read the PEP items; a stranger is refused and reads nothing', async () => {
  agent = await startAgent('refuse');
  const dev = `dev@${srv.host}`;
  const [alice, carol, bob] = [await person('alice'), await person('carol'), await person('bob')];

  // Before any subscription, access_model presence keeps everyone out.
  const before = await items(carol, dev);
  assert.not.ok(before.ok, 'no subscription yet: no items');

  for (const f of [alice, carol]) {
    f.send({ op: 'subscribe', to: dev });
    await f.next('presence', (e) => e.type === 'subscribed' && e.from === dev);
    // ... and the device asks back (RFC 6121 3.1.5)
    await f.next('presence', (e) => e.type === 'subscribe' && e.from === dev);
    const got = await items(f, dev);
    assert.ok(got.ok, `${f.jid} reads items: ${JSON.stringify(got)}`);
    assert.ok(got.count >= 1);
    f.send({ op: 'sub_node', to: dev, node: NODE });
    assert.ok((await f.next('sub_node')).ok);
    await f.next('item', (e) => e.node === NODE, 10_000);
    // the device's presence reaches the follower
    await f.next('status', (e) => String(e.from).startsWith(dev + '/'));
  }

  bob.send({ op: 'subscribe', to: dev });
  await bob.next('presence', (e) => e.type === 'unsubscribed' && e.from === dev);
  const refused = await items(bob, dev);
  assert.not.ok(refused.ok, 'a stranger reads no items');
  assert.match(String(refused.error), /not-authorized|forbidden|presence-subscription-required/);
  bob.send({ op: 'sub_node', to: dev, node: NODE });
  assert.not.ok((await bob.next('sub_node')).ok, 'nor subscribes to the node');
  // A second request from the stranger within the rate-limit window gets no second refusal.
  bob.send({ op: 'subscribe', to: dev });
  await new Promise((r) => setTimeout(r, 1000));
  assert.is(bob.seen.filter((e) => e.event === 'presence' && e.type === 'unsubscribed').length, 1);
  // (the server's `unavailable` that follows a refusal, RFC 6121 3.2.2, carries nothing)
  const leaked = bob.seen.filter((e) => e.event === 'item' || (e.event === 'status' && e.type !== 'unavailable') || (e.event === 'status' && e.status));
  assert.equal(leaked, [], 'nothing reaches the stranger');

  // Revoke: carol loses the subscription and the items.
  await agent.access.revoke(`carol@${srv.host}`, `alice@${srv.host}`);
  await carol.next('presence', (e) => e.type === 'unsubscribed' && e.from === dev);
  const after = await items(carol, dev);
  assert.not.ok(after.ok, `revoked: no items (${JSON.stringify(after)})`);
  await agent.stop();
  agent = undefined;
});

t('ask_owners: the owner gets one chat message; after allow the stranger reads items; deny refuses', async () => {
  agent = await startAgent('ask_owners');
  const dev = `dev@${srv.host}`;
  const alice = open.find((f) => f.jid === `alice@${srv.host}`)!;
  const dave = await person('dave');
  dave.send({ op: 'subscribe', to: dev });
  const daveAsks = (e: Record<string, unknown>) => e.from === dev && String(e.body).startsWith(`dave@${srv.host} asks`);
  const msg = await alice.next('message', daveAsks);
  assert.is(msg.body, `dave@${srv.host} asks to follow the gateway: reply \`allow dave@${srv.host}\` or \`deny dave@${srv.host}\``);
  assert.is(msg.type, 'chat');
  const saved = JSON.parse(readFileSync(join(dir, 'access.json'), 'utf8'));
  assert.ok(saved.pending[`dave@${srv.host}`] > 0, 'the request is persisted');
  assert.ok(agent.access.pending().some((p) => p.jid === `dave@${srv.host}`));
  // still no items while pending
  assert.not.ok((await items(dave, dev)).ok);
  // asked again (a client resends): no second message to the owner
  dave.send({ op: 'subscribe', to: dev });
  await new Promise((r) => setTimeout(r, 800));
  assert.is(alice.seen.filter((e) => e.event === 'message' && daveAsks(e)).length, 1);

  await agent.access.allow(`dave@${srv.host}`, 'reader', `alice@${srv.host}`);
  await dave.next('presence', (e) => e.type === 'subscribed' && e.from === dev);
  const got = await items(dave, dev);
  assert.ok(got.ok && got.count >= 1, JSON.stringify(got));

  // bob, refused before, asks again (his unanswered second request may also come back from
  // the server with the new session): the owner hears of it once, denies, bob is refused
  const bob = open.find((f) => f.jid === `bob@${srv.host}`)!;
  bob.send({ op: 'subscribe', to: dev });
  const bobAsks = (e: Record<string, unknown>) => e.from === dev && String(e.body).startsWith(`bob@${srv.host} asks`);
  await alice.next('message', bobAsks);
  await new Promise((r) => setTimeout(r, 500));
  assert.is(alice.seen.filter((e) => e.event === 'message' && bobAsks(e)).length, 1);
  const refusalsBefore = bob.seen.filter((e) => e.event === 'presence' && e.type === 'unsubscribed').length;
  await agent.access.deny(`bob@${srv.host}`, `alice@${srv.host}`);
  await waitFor('bob refused', () => bob.seen.filter((e) => e.event === 'presence' && e.type === 'unsubscribed').length > refusalsBefore, 10_000);
  assert.not.ok((await items(bob, dev)).ok);
  const persisted = JSON.parse(readFileSync(join(dir, 'access.json'), 'utf8'));
  assert.equal(persisted.allowed, { [`dave@${srv.host}`]: 'reader' });
  assert.ok(persisted.denied.includes(`bob@${srv.host}`));
  await agent.stop();
  agent = undefined;
});

t.run();
