// xiota-test: exclusive (timing/CPU sensitive: test/run.ts runs it with nothing beside it)
// Faults under a stream of numbered readings, on each real server of the matrix
// (XIOTA_SERVER): the server killed and restarted; the link cut by a proxy 50 times. In the end
// the node holds every reading exactly once, in order.
// CI time: the slowest matrix file (~30-50 s a server), so it runs on Debian 12's own
// prosody-0.12 and ejabberd-23.01 and is n/a on the backports builds unless
// XIOTA_FULL_MATRIX=1 (it passed on all four when measured, 2026-12-01).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../agent/agent';
import { configFromObject } from '../../agent/config';
import { createLogger } from '../../agent/log';
import { prosodyPaths, type ProsodyVersion } from '../../scripts/local-prosody';
import { serverUnderTest, splitLabel, startServer, type XmppServer } from '../../scripts/servers';
import { matches, onlyOn, withinBudget } from '../servers/matrix';
import { clientFor, waitFor } from '../session/_helpers';
import { startProxy } from '../servers/proxy';
import { memoryStoreConfig } from '../servers/prosody-memory';
import { CounterDriver } from './_agent-child';
import type { XmppClient } from '../../agent/session/client';
import { x, type Element } from '../../agent/xml/element';
import { itemsIq, parseItems, parsePubSubEvent } from '../../agent/xep/pubsub';
import { fieldsToReadings } from '../../agent/xep/sensordata-fields';

const t = suite('faults: stream');
const label = serverUnderTest();
const SERVERS = withinBudget(['prosody-0.12', 'ejabberd-23.01']);
const BUDGET = 'the slowest fault test runs on prosody-0.12 and ejabberd-23.01 only, to keep CI under 15 minutes (XIOTA_FULL_MATRIX=1 runs it on every server)';
const MAX_ITEMS = Number(process.env.FAULTS_MAX ?? 20_000);
let srv: XmppServer;
let pluginDir: string;
const dirs: string[] = [];
const agents: Agent[] = [];
const watchers: XmppClient[] = [];
t.before(async () => {
  if (!matches(label, SERVERS)) return;
  // Prosody: PEP items in memory (its file store rewrites the node's items on every publish,
  // ~30 publishes/s with thousands of items here), with the memory store's replace bug fixed
  // (0.12.3 and 13.0.1 alike): see test/servers/prosody-memory.ts. Items published before the
  // kill live on in the watcher's record of live events; the node itself only keeps what came
  // after the restart. ejabberd keeps its stock store (Mnesia) and needs max_items_node raised
  // (1000 by default) and its c2s shaper (3000 B/s) off for 10,000 readings.
  pluginDir = mkdtempSync(join(tmpdir(), 'xiota-faults-plugins-'));
  dirs.push(pluginDir);
  const { kind, version } = splitLabel(label);
  srv = await startServer(label, {
    ...(process.env.FAULTS_SERVER_DIR ? { dir: process.env.FAULTS_SERVER_DIR, logLevel: 'debug' as const } : {}),
    throughput: true,
    pepMaxItems: MAX_ITEMS,
    ...(kind === 'prosody' ? { prosody: { extraConfig: memoryStoreConfig(pluginDir, prosodyPaths(version as ProsodyVersion).modulesDir) } } : {}),
    users: [{ user: 'dev', password: 'devpass' }, { user: 'dev2', password: 'devpass' }, { user: 'watcher', password: 'watchpass' }],
  });
});
t.after(async () => {
  for (const a of agents) await a.stop().catch(() => undefined);
  // A failed case leaves its watcher reconnecting: the process would never end.
  for (const w of watchers) await w.stop().catch(() => undefined);
  await srv?.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function makeAgent(user: string, port: number, driver: CounterDriver): Agent {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-faults-'));
  dirs.push(dir);
  const r = configFromObject({
    account: { jid: `${user}@${srv.host}`, password: 'devpass' },
    server: { host: '127.0.0.1', port },
    tls: { ca_file: srv.caFile },
    outbox: { dir: join(dir, 'outbox'), flush_interval_ms: 10 },
    pubsub: { access_model: 'open', max_items: MAX_ITEMS },
    publish: { deadband: 0, min_interval_s: 0 },
  });
  assert.equal(r.errors, []);
  const agent = new Agent({
    config: r.config!,
    credentials: { password: 'devpass', source: 'password', warnings: [] },
    drivers: [driver],
    client: { reconnect: { initialDelayMs: 20, maxDelayMs: 200 }, pingIntervalMs: 2000, pingTimeoutMs: 5000 },
    retryDelayMs: 50,
    log: process.env.FAULTS_DEBUG ? createLogger({ level: 'debug', json: false }) : undefined,
  });
  agents.push(agent);
  return agent;
}

async function drained(agent: Agent, driver: CounterDriver, n: number, timeoutMs: number): Promise<void> {
  await driver.done;
  await waitFor('all readings published', () => agent.client.state === 'online' && agent.pipeline!.stats.accepted === n && agent.pipeline!.idle, timeoutMs, 50).catch((e: Error) => {
    const ob = agent.outbox!;
    throw new Error(`${e.message}: session ${agent.client.state}, ${agent.client.pendingIqs} iqs pending, ${agent.client.unackedCount} unacked; ` +
      `pipeline ${JSON.stringify(agent.pipeline!.stats)}; outbox ${ob.pending} pending, ${ob.inFlight} in flight`);
  });
}

/** Every item id seen (items queries and live events) with its seqs (an item may hold several readings). */
class Seen {
  ids = new Map<string, number[]>();
  eventDeliveries = 0;
  add(id: string, seqs: number[]): void {
    const old = this.ids.get(id);
    assert.ok(old === undefined || old.join() === seqs.join(), `item ${id} changed from ${old} to ${seqs}`);
    this.ids.set(id, seqs);
  }
  async query(c: XmppClient, user: string): Promise<void> {
    for (const it of parseItems(await c.iq(itemsIq(`${user}@${srv.host}`, NODE), 30_000))) this.add(it.id, seqsOf(it.payload!));
  }
  /** Every seq 0..n-1 under exactly one item id; item ids (acceptance order) sorted like seqs. */
  check(n: number): void {
    const bySeq = new Map<number, string[]>();
    for (const [id, seqs] of this.ids) for (const seq of seqs) bySeq.set(seq, [...(bySeq.get(seq) ?? []), id]);
    const missing: number[] = [];
    const twice: number[] = [];
    for (let k = 0; k < n; k++) {
      const ids = bySeq.get(k) ?? [];
      if (ids.length === 0) missing.push(k);
      if (ids.length > 1) twice.push(k);
    }
    const ranges: string[] = [];
    for (let i = 0; i < missing.length; i++) {
      let j = i;
      while (j + 1 < missing.length && missing[j + 1] === missing[j]! + 1) j++;
      ranges.push(i === j ? `${missing[i]}` : `${missing[i]}-${missing[j]}`);
      i = j;
    }
    assert.is(missing.length, 0, `${missing.length} missing seqs: ${ranges.slice(0, 12).join(',')}`);
    assert.is(twice.length, 0, `seqs under two item ids: ${twice.slice(0, 10).join(',')}`);
    assert.is([...this.ids.values()].flat().length, n);
    const seqOfId = (id: string) => Number.parseInt(id.split('-').pop()!, 36);
    const order = [...this.ids.entries()].sort((a, b) => seqOfId(a[0]) - seqOfId(b[0])).flatMap(([, seqs]) => seqs);
    assert.ok(order.every((seq, i) => seq === i), 'item ids follow reading order');
  }
}

const NODE = 'urn:xiota:counter';
/** The counter's value of every reading in an item, in order. */
const seqsOf = (payload: Element): number[] => fieldsToReadings(payload).map((r) => r.values[0]!.value as number);

/** A watcher that subscribes (again after each reconnect) and records every event. */
async function watch(user: string, seen: Seen): Promise<XmppClient> {
  const w = clientFor(srv, 'watcher', 'watchpass', { resource: 'w', maxStanzaBytes: 64 * 1024 * 1024, reconnect: { initialDelayMs: 20, maxDelayMs: 200 }, ...(process.env.FAULTS_DEBUG ? { log: createLogger({ level: 'debug', json: false }).child({ who: 'watcher' }) } : {}) });
  watchers.push(w);
  w.router.on('message/http://jabber.org/protocol/pubsub#event', (m) => {
    for (const it of parsePubSubEvent(m)?.items ?? []) {
      if (!it.payload) continue;
      if (process.env.FAULTS_DEBUG && seen.eventDeliveries === 0) console.log(`watcher: first event seq ${fieldsToReadings(it.payload)[0]!.values[0]!.value as number}`);
      seen.eventDeliveries++;
      seen.add(it.id, seqsOf(it.payload));
    }
    return true;
  });
  const sub = () => w.iq(x('iq', { type: 'set', to: `${user}@${srv.host}` }, x('pubsub', { xmlns: 'http://jabber.org/protocol/pubsub' }, x('subscribe', { node: NODE, jid: w.jid }))));
  // Available before subscribing, as a real client is: ejabberd's PEP delivers events to
  // available subscribers only (presence_based_delivery).
  w.on('online', () => { w.send(x('presence')); void sub().catch(() => undefined); });
  if (process.env.FAULTS_DEBUG) w.on('offline', (e: Error) => console.log(`watcher offline at ${seen.eventDeliveries} events: ${e.message}`));
  await w.connectOnce();
  w.send(x('presence'));
  await sub();
  await seen.query(w, user);
  if (process.env.FAULTS_DEBUG) console.log(`watcher: ${seen.ids.size} items at subscription, max seq ${Math.max(...[...seen.ids.values()].flat())}`);
  return w;
}

onlyOn(t, SERVERS, 'server killed during 10,000 readings and restarted: every reading exactly once, in order', BUDGET, async () => {
  const N = Number(process.env.FAULTS_KILL_N ?? 10_000);
  const driver = new CounterDriver('counter', { count: N, batch: 20, tickMs: 2 });
  const agent = makeAgent('dev', srv.c2sPort, driver);
  const t0 = Date.now();
  await agent.start();
  const iv = process.env.FAULTS_DEBUG ? setInterval(() => console.log(JSON.stringify(agent.pipeline!.stats)), 1000) : undefined;
  await waitFor('node exists', () => agent.pipeline!.stats.published >= 1, 10_000, 5);
  const seen = new Seen();
  const w = await watch('dev', seen);
  w.start();
  // Killed once about a third has been published (the rest is queued or still to come).
  await waitFor('some published', () => agent.pipeline!.stats.published >= Math.floor(N / 3), 60_000, 10).catch((e) => { throw new Error(`${(e as Error).message}: ${JSON.stringify(agent.pipeline!.stats)} ${agent.client.state}`); });
  await srv.kill();
  const killedAt = Date.now();
  const publishedAtKill = agent.pipeline!.stats.published;
  await new Promise((r) => setTimeout(r, 1000));
  await srv.start();
  await drained(agent, driver, N, 90_000);
  const doneAt = Date.now();
  console.log(`${label} kill: published ${publishedAtKill} before the kill; all ${N} acknowledged ${doneAt - killedAt} ms after it (total ${doneAt - t0} ms)`);
  await agent.stop();
  await waitFor('watcher online', () => w.state === 'online');
  await seen.query(w, 'dev');
  await w.stop();
  if (iv) clearInterval(iv);
  console.log(`${label} kill: ${seen.eventDeliveries} event deliveries for ${seen.ids.size} items`);
  seen.check(N);
});

onlyOn(t, SERVERS, 'the link cut by a proxy 50 times during a stream of readings: every reading on the node exactly once, in order', BUDGET, async () => {
  const N = Number(process.env.FAULTS_CUT_N ?? 2000);
  const CUTS = Number(process.env.FAULTS_CUTS ?? 50);
  const proxy = await startProxy({ port: srv.c2sPort });
  // Readings keep coming all through the cuts: ~5 per 10 ms.
  const driver = new CounterDriver('counter', { count: N, batch: 5, tickMs: 10 });
  const agent = makeAgent('dev2', proxy.port, driver);
  const offline: string[] = [];
  agent.client.on('offline', (e: { message: string }) => offline.push(e.message));
  if (process.env.FAULTS_DEBUG) agent.client.on('online', (info: { resumed: boolean }) => console.log(`online resumed=${info.resumed} pendingIqs=${agent.client.pendingIqs} unacked=${agent.client.unackedCount} stats=${JSON.stringify(agent.pipeline?.stats)}`));
  const t0 = Date.now();
  await agent.start();
  let hits = 0;
  try {
    for (let attempt = 0; hits < CUTS && attempt < CUTS * 3; attempt++) {
      // Only a cut of a live, logged-in connection counts: wait for the session, then let it
      // publish for a moment (publishes in flight when the link goes).
      await waitFor(`online before cut ${hits + 1}`, () => agent.client.state === 'online' && proxy.stats.active > 0, 20_000, 2);
      await new Promise((r) => setTimeout(r, 20 + Math.floor(Math.random() * 60)));
      if (agent.client.state !== 'online' || proxy.stats.active === 0) continue;
      const before = offline.length;
      proxy.cut();
      await waitFor(`offline after cut ${hits + 1}`, () => offline.length > before, 10_000, 2);
      hits++;
    }
    const cutsDoneAt = Date.now();
    const emittedAtLastCut = driver.emitted;
    await drained(agent, driver, N, 60_000);
    const doneAt = Date.now();
    // Prosody 0.12.3 feeds a resumed session's new connection into the old connection's XML
    // parser (mod_c2s session.data keeps its own stream); when the cut left half a stanza
    // there, the resumed stream fails as not-well-formed and the agent starts a new session.
    const notWellFormed = offline.filter((m) => /not-well-formed/.test(m)).length;
    console.log(`${label} proxy cuts: ${hits} cuts of a live session (${offline.length} offline events, ${notWellFormed} of them not-well-formed after a resumption) while ${emittedAtLastCut} of ${N} readings were emitted; ` +
      `all acknowledged ${doneAt - cutsDoneAt} ms after the last cut (total ${doneAt - t0} ms); ${agent.pipeline!.stats.published} publishes acknowledged`);
  } finally {
    await agent.stop();
    await proxy.close();
  }
  assert.is(hits, CUTS, 'every cut hit a live session');
  const seen = new Seen();
  const w = clientFor(srv, 'watcher', 'watchpass', { resource: 'cuts', maxStanzaBytes: 64 * 1024 * 1024 });
  watchers.push(w);
  await w.connectOnce();
  await seen.query(w, 'dev2');
  await w.stop();
  seen.check(N);
});

t.run();
