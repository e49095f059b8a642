// The history store in the whole agent on a real Prosody 0.12: a day of a cellar's readings
// already in the state directory's store (written by a store of its own, as a previous run of
// the agent would have), the agent running with a live greenhouse beside it, and people asking:
// slixmpp 1.8.3's xep_0323 client for historical values (historicalHour with from/to, every
// hour's mean with its Min/Max peaks and flags; historicalMinute combined with momentary), the
// chat `history` answered from the store (the cellar's seeded values were never published, so
// PubSub could not have given them), live readings recorded as they come, and a scheduled
// readout (`when`) that is carried out across a forced reconnect (the TCP link cut by a proxy)
// and across a restart of the agent.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../agent/agent';
import { configFromObject } from '../../agent/config';
import type { Config } from '../../agent/config/types';
import { HistoryStore } from '../../agent/history/store';
import { historyFor } from '../../agent/history/index';
import { periodStart } from '../../agent/history/rollup';
import { createSimulatedDriver } from '../../drivers/simulated';
import { startProsody, type ProsodyServer } from '../../scripts/local-prosody';
import { startProxy, type TcpProxy } from '../servers/proxy';
import { waitFor } from '../session/_helpers';
// waitFor takes a sync predicate; an async one needs until (it awaits the answer).
import { until } from '../node-red/_nodered';
import { PyClient } from '../chat/_slixmpp';
import { IotClient, type PyRead } from '../iot/_iot';

const t = suite('history store in the agent, on Prosody');
let srv: ProsodyServer;
let proxy: TcpProxy;
let dir: string;
let config: Config;
let agent: Agent;
let bob: IotClient;
let alice: PyClient;
let DEV = '';
/** The seeded day: 24 whole hours, one reading a minute, temperature 50 + hour index. */
const H1 = periodStart('hour', Date.now()) - 2 * 3_600_000;
const H0 = H1 - 24 * 3_600_000;

function newAgent(): Agent {
  const greenhouse = createSimulatedDriver('sim', { pollIntervalMs: 250, things: [{ id: 'greenhouse', fields: [
    { name: 'temperature', type: 'numeric', unit: '°C', precision: 2, waveform: 'ramp', min: 10, max: 30, periodS: 3600 },
  ] }] });
  const cellar = createSimulatedDriver('cellar-sim', { pollIntervalMs: 2000, things: [{ id: 'cellar', fields: [
    { name: 'temperature', type: 'numeric', unit: '°C', precision: 1, waveform: 'constant', initial: 12.5 },
  ] }] });
  return new Agent({ config, credentials: { password: 'devpass', source: 'password', warnings: [] }, drivers: [greenhouse, cellar],
    client: { reconnect: { initialDelayMs: 100, maxDelayMs: 500, stableAfterMs: 60_000 } } });
}

t.before(async () => {
  srv = await startProsody({ extraConfig: 'storage = { pep_data = "memory" }' });
  for (const u of ['dev', 'alice', 'bob']) await srv.register(u, `${u}pass`);
  proxy = await startProxy({ port: srv.c2sPort });
  dir = mkdtempSync(join(tmpdir(), 'xiota-history-agent-'));
  // A previous run's day of cellar readings, in <state dir>/history.
  const clock = { t: H0 };
  const seed = await HistoryStore.open({ dir: join(dir, 'history'), now: () => clock.t, timers: false });
  for (let ts = H0; ts < H1; ts += 60_000) {
    clock.t = ts;
    seed.append({ thing: 'cellar', timestamp: ts, values: [{ field: 'temperature', value: 50 + Math.floor((ts - H0) / 3_600_000) }] });
    if (ts % 3_600_000 === 0) await seed.tick();
  }
  clock.t = Date.now();
  await seed.tick();
  await seed.close();
  const r = configFromObject({
    account: { jid: `dev@${srv.host}/gw`, password: 'devpass' },
    server: { host: '127.0.0.1', port: proxy.port },
    tls: { ca_file: srv.caFile },
    outbox: { dir: join(dir, 'outbox'), flush_interval_ms: 20 },
    access: { owners: [`alice@${srv.host}`], readers: [`bob@${srv.host}`] },
  });
  assert.equal(r.errors, []);
  config = r.config!;
  agent = newAgent();
  await agent.start();
  await waitFor('agent online', () => agent.client.state === 'online', 15_000);
  DEV = agent.client.jid;
  [bob, alice] = await Promise.all([IotClient.start(srv, 'bob', 'bobpass'), PyClient.start(srv, 'alice', 'alicepass')]);
});

t.after(async () => {
  await Promise.all([bob?.close(), alice?.close()]);
  await agent?.stop();
  await proxy?.close();
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const iso = (ms: number) => new Date(ms).toISOString();
const last = (r: PyRead) => r.results[r.results.length - 1]!;
const fieldsOf = (r: PyRead) => r.results.filter((x) => x.result === 'fields');

t('slixmpp historicalHour with from/to: 24 hourly means newest first, Min/Max peaks, historicalDay on midnight', async () => {
  const r = await bob.read(DEV, { nodes: ['cellar'], fields: ['temperature'], flags: { historicalHour: 'true', from: iso(H0), to: iso(H1 - 1) } });
  assert.is(last(r).result, 'done', JSON.stringify(r).slice(0, 500));
  const rows = fieldsOf(r);
  assert.is(rows.length, 24);
  assert.is(Date.parse(rows[0]!.timestamp! + (rows[0]!.timestamp!.endsWith('Z') ? '' : 'Z')), H1 - 3_600_000);
  const first = rows[0]!.fields!;
  assert.equal(first.map((f) => [f.name, f.value]), [['temperature', '73.0'], ['temperature, Min', '73.0'], ['temperature, Max', '73.0']]);
  assert.is(first[0]!.flags!.historicalHour, 'true');
  assert.is(first[1]!.flags!.peak, 'true');
  assert.is(first[0]!.unit, '°C');
  for (const row of rows) {
    const midnight = Date.parse(row.timestamp!.endsWith('Z') ? row.timestamp! : row.timestamp! + 'Z') % 86_400_000 === 0;
    assert.is(row.fields![0]!.flags!.historicalDay === 'true', midnight, row.timestamp!);
  }
});

t('momentary and historicalMinute in one slixmpp readout: the fresh value and the stored minutes, one done', async () => {
  const r = await bob.read(DEV, { nodes: ['cellar'], flags: { momentary: 'true', historicalMinute: 'true', from: iso(H1 - 5 * 60_000), to: iso(H1) } });
  assert.is(last(r).result, 'done');
  const rows = fieldsOf(r);
  assert.is(rows[0]!.fields![0]!.flags!.momentary, 'true');
  assert.is(rows[0]!.fields![0]!.value, '12.5');
  assert.equal(rows.slice(1).map((x) => x.fields![0]!.value), ['73.0', '73.0', '73.0', '73.0', '73.0']);
  assert.ok(rows.slice(1).every((x) => x.fields![0]!.flags!.historicalMinute === 'true'));
});

t('live readings are recorded; chat history is answered from the store (seeded values PubSub never had)', async () => {
  const h = historyFor(join(dir))!;
  await until('live readings recorded', async () => (await h.query({ thing: 'greenhouse', field: 'temperature', limit: 5 })).rows.length === 5, 10_000, 100);
  await until('a live cellar reading recorded', async () => (await h.query({ thing: 'cellar', field: 'temperature', from: H1, limit: 5 })).rows.length > 0, 10_000, 100);
  const text = await alice.text(DEV.split('/')[0]!, 'history cellar.temperature 4h');
  assert.match(text, /cellar\.temperature, \d+ values in the last 4 h/, text);
  assert.match(text, /(just now|\d+ s ago): 12\.5 °C/, text); // live, seconds old
  assert.match(text, /\d h ago: 7\d\.0 °C/, text); // seeded (50 + hour): only in the store
});

t('a scheduled readout is carried out across a forced reconnect (the link cut), answered started/fields/done', async () => {
  const before = proxy.stats.accepted;
  const when = Date.now() + 3000;
  const reading = bob.read(DEV, { nodes: ['cellar'], flags: { momentary: 'true', when: iso(when) } });
  await new Promise((res) => setTimeout(res, 800));
  proxy.cut();
  await proxy.waitForConnections(before + 1, 10_000);
  const r = await reading;
  assert.equal(r.results.map((x) => x.result), ['queued', 'started', 'fields', 'done'], JSON.stringify(r).slice(0, 400));
  assert.is(r.results[2]!.fields![0]!.value, '12.5');
  assert.ok(Date.now() >= when);
});

t('a scheduled readout is carried out after the agent restarts', async () => {
  const when = Date.now() + 4000;
  const reading = bob.read(DEV, { nodes: ['cellar'], flags: { momentary: 'true', when: iso(when) } });
  await new Promise((res) => setTimeout(res, 800));
  await agent.stop();
  agent = newAgent();
  await agent.start();
  await waitFor('agent online again', () => agent.client.state === 'online', 15_000);
  const r = await reading;
  assert.equal(r.results.map((x) => x.result), ['queued', 'started', 'fields', 'done'], JSON.stringify(r).slice(0, 400));
});

t.run();
