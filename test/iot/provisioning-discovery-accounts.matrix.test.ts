// XEP-0324 and XEP-0347 with the provisioning server and the Thing Registry as ordinary accounts
// on each server of the matrix (XIOTA_SERVER) (test/servers/iot_services.py as slixmpp clients: the issue's "scripted
// ones as ordinary XMPP accounts"; the component mode is test/iot/provisioning-discovery.test.ts):
// the friendship both ways, questions at the service's full JID, provisioning.fallback: local,
// the things behind the gateway registered and claimed one by one, location tags, changed tags at
// start, discovery.enabled: false unregistering once, and bad input from both services (garbage
// answers, unknown elements, pushes that make no sense): logged, refused, the agent keeps serving.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../agent/agent';
import { claimMain } from '../../agent/cli/claim';
import { configFromObject } from '../../agent/config';
import { parseIotDiscoUri, tagElements, NS_DISCOVERY } from '../../agent/iot/discovery-meta';
import { thingTags, type DiscoveryStateExt } from '../../agent/iot/discovery-things';
import { createLogger } from '../../agent/log';
import { x } from '../../agent/xml/element';
import { createSimulatedDriver } from '../../drivers/simulated';
import type { Driver, DriverContext, ThingSpec } from '../../drivers/types';
import { serverUnderTest, startServer, type XmppServer } from '../../scripts/servers';
import { clientFor, waitFor } from '../session/_helpers';
import { IotClient, PyLines } from './_iot';

const label = serverUnderTest();
const t = suite(`XEP-0324 / XEP-0347 services as ordinary accounts on ${label}; fallback, things behind the gateway, bad input`);
const HOST = 'xiota.test';
const PROV = `prov@${HOST}`;
const REG = `reg@${HOST}`;
const NS_PROV = 'urn:xmpp:iot:provisioning';
const TAGS = { MAN: 'xiota.example', MODEL: 'greenhouse-gw', SN: 'GH-7', LAT: 59.3293, LON: 18.0686 };
let srv: XmppServer;
let dir: string;
let agent: Agent;
let prov: PyLines;
let reg: PyLines;
let dev: string;
const logs: string[] = [];

function rawConfig(discovery: Record<string, unknown>) {
  return {
    account: { jid: `dev@${HOST}/gw`, password: 'devpw' },
    server: { host: '127.0.0.1', port: srv.c2sPort },
    tls: { ca_file: srv.caFile },
    outbox: { dir: join(dir, 'state', 'outbox'), flush_interval_ms: 20 },
    access: { owners: [`alice@${HOST}`], strangers: 'ask_owners' },
    provisioning: { service: PROV, timeout_s: 2, fallback: 'local' },
    discovery: { registry: REG, register_things: true, tags: TAGS, ...discovery },
  };
}

/** A driver whose things appear while the agent runs (as a bridge board's do when it describes itself). */
class LateDriver implements Driver {
  readonly kind = 'late';
  readonly id = 'late';
  private list: ThingSpec[] = [];
  private ctx?: DriverContext;
  things(): ThingSpec[] { return this.list; }
  async start(ctx: DriverContext): Promise<void> { this.ctx = ctx; }
  async stop(): Promise<void> {}
  add(id: string): void {
    this.list = [...this.list, { id, name: `Pump ${id}`, fields: [{ name: 'on', type: 'boolean' }] }];
    this.ctx!.thingsChanged();
  }
}
let late: LateDriver;

async function startAgent(discovery: Record<string, unknown> = {}): Promise<void> {
  const r = configFromObject(rawConfig(discovery));
  assert.equal(r.errors, []);
  const driver = createSimulatedDriver('sim', { seed: 1, pollIntervalMs: 600_000, things: [{ id: 'greenhouse', fields: [
    { name: 'temperature', type: 'numeric', unit: '°C', precision: 1, waveform: 'constant', initial: 22.5 },
    { name: 'fan', type: 'boolean', writable: true, initial: false },
  ] }] });
  late = new LateDriver();
  agent = new Agent({ config: r.config!, credentials: { password: 'devpw', source: 'password', warnings: [] }, drivers: [driver, late], log: createLogger({ level: 'debug', json: true, write: (l) => logs.push(l) }) });
  await agent.start();
  await waitFor('agent online', () => agent.client.state === 'online', 15_000);
  dev = agent.client.jid;
}

const state = (): DiscoveryStateExt => JSON.parse(readFileSync(join(dir, 'state', 'discovery.json'), 'utf8')) as DiscoveryStateExt;
const logged = (re: RegExp) => logs.find((l) => re.test(l));

t.before(async () => {
  srv = await startServer(label, { users: ['dev', 'alice', 'carol', 'dave', 'erin', 'frank', 'prov', 'reg'].map((u) => ({ user: u, password: `${u}pw` })) });
  dir = mkdtempSync(join(tmpdir(), 'xiota-provacct-'));
  prov = new PyLines('../servers/iot_services.py', ['provisioning', PROV, 'provpw', String(srv.c2sPort), srv.caFile], 'provisioning account');
  reg = new PyLines('../servers/iot_services.py', ['registry', REG, 'regpw', String(srv.c2sPort), srv.caFile], 'registry account');
  await Promise.all([prov.next('online', 20_000), reg.next('online', 20_000)]);
  prov.send({ op: 'rules', rules: { [`dave@${HOST}`]: { read: { result: true, fields: ['temperature'] } } } });
  await prov.next('rules');
  await startAgent();
});

t.after(async () => {
  await Promise.all([prov?.close(), reg?.close()]);
  await agent?.stop();
  await srv?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

t('registry as an account: befriended both ways; the device and its thing register (nodeId, sourceId), LAT/LON as numbers', async () => {
  // The device approved the registry's subscription (the friendship XEP-0347 asks for).
  assert.is((await reg.next('subscribed', 15_000)).jid, `dev@${HOST}`);
  const first = await reg.next('register', 15_000);
  const second = await reg.next('register', 15_000);
  const [gw, thing] = first.nodeId ? [second, first] : [first, second];
  assert.is(gw.nodeId, '');
  assert.equal(gw.tags, { ...Object.fromEntries(Object.entries(TAGS).map(([k, v]) => [k, String(v)])), KEY: state().key });
  assert.equal(gw.numeric, ['LAT', 'LON']);
  assert.is(thing.nodeId, 'greenhouse');
  assert.is(thing.sourceId, 'sim');
  assert.is((thing.tags as Record<string, string>).NAME, 'greenhouse');
  assert.is((thing.tags as Record<string, string>).KEY, state().things!.greenhouse!.key);
  assert.is.not(state().things!.greenhouse!.key, state().key);
  await waitFor('thing registered', () => state().things?.greenhouse?.state === 'registered', 5000);
});

t('a thing that appears while the agent runs is registered then (only it), with its name', async () => {
  late.add('pump1');
  const ev = await reg.next('register', 10_000);
  assert.equal([ev.nodeId, ev.sourceId, (ev.tags as Record<string, string>).NAME], ['pump1', 'late', 'Pump pump1']);
  await waitFor('pump registered', () => state().things?.pump1?.state === 'registered', 5000);
  assert.is(state().things!.pump1!.name, 'Pump pump1');
  await reg.next('register', 700).then((e) => assert.unreachable(`registered again: ${JSON.stringify(e)}`), () => undefined);
});

t('provisioning as an account: a stranger\'s readout is asked at the account\'s full JID; the partial grant holds', async () => {
  const dave = await IotClient.start(srv, 'dave', 'davepw');
  try {
    const r = await dave.read(dev, { nodes: ['greenhouse'] }); // pump1 has never been read
    assert.is(r.results.at(-1)?.result, 'done', JSON.stringify(r) + logs.filter((l) => l.includes('readout failed')).join('\n'));
    assert.equal(r.results.flatMap((x) => x.fields ?? []).map((f) => f.name), ['temperature']);
    const q = await prov.next('question');
    assert.is(q.name, 'canRead');
    assert.is(String(q.from), dev);
    assert.ok(logged(/provisioning server online.*prov@xiota.test\//), 'the full JID was learned from presence');
  } finally { await dave.close(); }
});

t('bad answers from the provisioning server and unknown messages: logged, refused, no crash', async () => {
  const carol = await IotClient.start(srv, 'carol', 'carolpw');
  try {
    prov.send({ op: 'reply', xml: `<canReadResponse xmlns='${NS_PROV}' jid='carol@${HOST}' result='maybe'/>` });
    await prov.next('reply');
    assert.is((await carol.read(dev)).results.at(-1)?.result, 'rejected');
    assert.ok(logged(/answered something else; the access: block decides.*result=\\"maybe\\"/), logs.filter((l) => l.includes('provisioning')).join('\n'));
    prov.send({ op: 'reply', xml: `<bogus xmlns='urn:example:nothing'><deep/></bogus>` });
    await prov.next('reply');
    assert.is((await carol.read(dev, { fields: ['fan'] })).results.at(-1)?.result, 'rejected');
    assert.ok(logged(/answered something else.*expected <canReadResponse/));
    prov.send({ op: 'reply', xml: null });
    await prov.next('reply');
    prov.send({ op: 'message', to: dev, xml: `<weird xmlns='${NS_PROV}' jid='x@y'/>` });
    prov.send({ op: 'message', to: dev, xml: `<unfriend xmlns='${NS_PROV}' jid='no-at-sign'/>` });
    await prov.next('message');
    await prov.next('message');
    await waitFor('logged', () => logged(/provisioning message not understood.*weird/) && logged(/provisioning <unfriend\/> without an account JID/), 5000);
  } finally { await carol.close(); }
  assert.is(agent.client.state, 'online');
});

t('garbage from the registry: refused with bad-request or item-not-found and logged; nobody becomes an owner', async () => {
  const push = async (xml: string) => { reg.send({ op: 'push', to: dev, xml }); return reg.next('push'); };
  const a = await push(`<claimed xmlns='${NS_DISCOVERY}' jid='not a jid'/>`);
  assert.is(a.condition, 'bad-request', JSON.stringify(a));
  const b = await push(`<frobnicate xmlns='${NS_DISCOVERY}'/>`);
  assert.is(b.condition, 'bad-request');
  const c = await push(`<claimed xmlns='${NS_DISCOVERY}' jid='frank@${HOST}' nodeId='no-such-thing' sourceId='sim'/>`);
  assert.is(c.condition, 'item-not-found');
  assert.ok(logged(/the Thing Registry sent something this device does not understand.*frobnicate/));
  assert.is(agent.access.roleOf(`frank@${HOST}`), 'stranger');
  assert.is(state().state, 'registered');
  // a registration answered with something XEP-0347 does not define: logged, taken as registered
  reg.send({ op: 'reply', xml: `<bogus xmlns='urn:example:nothing'><claimed xmlns='${NS_DISCOVERY}' jid='frank@${HOST}'/></bogus>` });
  await reg.next('reply');
  late.add('pump2');
  assert.is((await reg.next('register', 10_000)).nodeId, 'pump2');
  await waitFor('logged', () => logged(/answered the registration of pump2 with something XEP-0347 does not define.*bogus/), 5000);
  reg.send({ op: 'reply', xml: null });
  await reg.next('reply');
  assert.is(agent.access.roleOf(`frank@${HOST}`), 'stranger');
  assert.is(agent.client.state, 'online');
});

t('fallback local: the provisioning server is silent; a stranger\'s subscription goes to the owners (strangers: ask_owners)', async () => {
  prov.send({ op: 'silent', on: true });
  await prov.next('silent');
  const phone = clientFor(srv, 'frank', 'frankpw', { resource: 'phone' });
  phone.start();
  try {
    await waitFor('frank online', () => phone.state === 'online', 15_000);
    phone.send(x('presence', { to: `dev@${HOST}`, type: 'subscribe' }));
    await waitFor('asked the owners', () => agent.access.pending().some((p) => p.jid === `frank@${HOST}`), 10_000);
    assert.ok(logged(/provisioning server did not answer; the access: block decides \(fallback: local\).*frank/));
  } finally {
    await phone.stop();
    prov.send({ op: 'silent', on: false });
    await prov.next('silent');
  }
});

t('`xiota claim --thing` prints a thing\'s own URI; claimed with it: recorded per thing, KEY emptied; the gateway keeps its owners', async () => {
  const file = join(dir, 'xiota.yaml');
  writeFileSync(file, JSON.stringify(rawConfig({})));
  const out: string[] = [];
  assert.is(claimMain(['--config', file, '--no-qr', '--thing', 'greenhouse'], { out: (l) => out.push(l), err: (l) => out.push(l), env: {} }), 0, out.join('\n'));
  const { tags, registry } = parseIotDiscoUri(out.find((l) => l.startsWith('iotdisco:'))!);
  assert.is(registry, REG);
  assert.equal(tags, thingTags(TAGS, { id: 'greenhouse' }, state().things!.greenhouse!.key));
  assert.is(claimMain(['--config', file, '--no-qr', '--thing', 'nope'], { out: (l) => out.push(l), err: (l) => out.push(l), env: {} }), 2);
  assert.match(out.at(-1)!, /no thing "nope" has been registered behind this gateway \(registered: greenhouse, pump1, pump2\)/);
  const phone = clientFor(srv, 'erin', 'erinpw');
  phone.start();
  try {
    await waitFor('erin online', () => phone.state === 'online', 15_000);
    const res = await phone.iq(x('iq', { type: 'set', to: `${REG}/${registryResource()}` }, x('mine', { xmlns: NS_DISCOVERY }, ...tagElements(tags))), 15_000);
    assert.is(res.getChild('claimed', NS_DISCOVERY)?.attrs.nodeId, 'greenhouse');
    await waitFor('claimed', () => state().things?.greenhouse?.state === 'claimed', 10_000);
    assert.is(state().things!.greenhouse!.owner, `erin@${HOST}`);
    const upd = await reg.next('update', 10_000);
    assert.is(upd.nodeId, 'greenhouse');
    assert.equal(upd.tags, { KEY: '' });
    assert.is(agent.access.roleOf(`erin@${HOST}`), 'stranger');
    assert.is(state().state, 'registered');
    // The claimer owns that thing only (access.json): it reads and sets it, nothing else of the gateway.
    assert.equal(JSON.parse(readFileSync(join(dir, 'state', 'access.json'), 'utf8')).thingOwners, { [`erin@${HOST}`]: ['greenhouse'] });
    const erin = await IotClient.start(srv, 'erin', 'erinpw', 'machine');
    try {
      const r = await erin.read(dev);
      assert.is(r.results.at(-1)?.result, 'done', JSON.stringify(r));
      assert.equal([...new Set(r.results.map((x) => x.nodeId).filter(Boolean))], ['greenhouse'], JSON.stringify(r));
      assert.equal(r.results.flatMap((x) => x.fields ?? []).map((f) => f.name).sort(), ['fan', 'temperature']);
      assert.is((await erin.read(dev, { nodes: ['pump1'] })).results.at(-1)?.result, 'rejected');
      assert.is((await erin.set(dev, [['fan', 'boolean', 'true']])).result, 'OK');
      await waitFor('fan on', async () => (await agent.drivers.readThing('greenhouse'))?.values.find((v) => v.field === 'fan')?.value === true);
    } finally { await erin.close(); }
  } finally { await phone.stop(); }
});

/** The registry account's resource, as the device logged it (an iq to a bare account JID is the server's to answer). */
function registryResource(): string {
  const m = logs.find((l) => /Thing Registry online/.test(l))?.match(/reg@xiota\.test\/([^"]+)/);
  assert.ok(m, 'the registry\'s full JID was logged');
  return m![1]!;
}

t('restart with changed tags: registered with them; discovery.enabled: false unregisters the device and its things once', async () => {
  await agent.stop();
  await startAgent({ tags: { ...TAGS, MODEL: 'greenhouse-gw-2', ROOM: 'B12' } });
  const gw = await reg.next('register', 15_000); // the claimed thing is not registered again
  assert.is(gw.nodeId, '');
  // the late driver starts empty this time: its thing is gone from the gateway, so from the registry
  const gone = [await reg.next('unregister', 15_000), await reg.next('unregister', 15_000)];
  assert.equal(gone.map((g) => `${g.sourceId}/${g.nodeId}`).sort(), ['late/pump1', 'late/pump2']);
  await waitFor('pumps out of discovery.json', () => state().things && !state().things!.pump1 && !state().things!.pump2, 5000);
  assert.is((gw.tags as Record<string, string>).MODEL, 'greenhouse-gw-2');
  assert.is((gw.tags as Record<string, string>).ROOM, 'B12');
  await agent.stop();

  await startAgent({ enabled: false });
  const un = [await reg.next('unregister', 15_000), await reg.next('unregister', 15_000)];
  assert.equal(un.map((u) => u.nodeId).sort(), ['', 'greenhouse'], JSON.stringify(un));
  await waitFor('state unregistered', () => state().state === 'unregistered' && Object.keys(state().things ?? {}).length === 0, 5000);
  assert.ok(logged(/unregistered from the Thing Registry \(discovery.enabled: false\)/));
  const file = join(dir, 'off.yaml');
  writeFileSync(file, JSON.stringify(rawConfig({ enabled: false })));
  const out: string[] = [];
  assert.is(claimMain(['--config', file, '--no-qr'], { out: (l) => out.push(l), err: (l) => out.push(l), env: {} }), 0);
  assert.match(out.join('\n'), /discovery.enabled is false .* is not registered, so it cannot be claimed/);
  await agent.stop();

  await startAgent({ enabled: false });
  await new Promise((r) => setTimeout(r, 1500));
  await reg.next('unregister', 10).then(() => assert.unreachable('unregistered twice'), () => undefined);
});

t('`xiota claim --unregister` (uninstalling): logs in beside the agent and unregisters the device and its thing at the registry account', async () => {
  await agent.stop();
  await startAgent({});
  const back = [await reg.next('register', 15_000), await reg.next('register', 15_000)];
  assert.equal(back.map((b) => b.nodeId).sort(), ['', 'greenhouse']);
  await waitFor('registered', () => state().state === 'registered' && state().things?.greenhouse?.state === 'registered', 5000);
  const file = join(dir, 'on.yaml');
  writeFileSync(file, JSON.stringify(rawConfig({})));
  const out: string[] = [];
  const code = await claimMain(['--config', file, '--unregister'], { out: (l) => out.push(l), err: (l) => out.push(l), env: { XIOTA_PASSWORD: 'devpw' } });
  assert.is(code, 0, out.join('\n'));
  const un = [await reg.next('unregister', 10_000), await reg.next('unregister', 10_000)];
  assert.equal(un.map((u) => u.nodeId).sort(), ['', 'greenhouse']);
  assert.ok(un.every((u) => String(u.from) === `dev@${HOST}/xiota-claim`), JSON.stringify(un));
  assert.match(out.join('\n'), /Unregistered dev@xiota.test\S* and 1 thing\(s\) behind it from reg@xiota.test/);
  assert.is(state().state, 'unregistered');
  assert.is(agent.client.state, 'online'); // the agent's own session was not disturbed
  const again: string[] = [];
  assert.is(await claimMain(['--config', file, '--unregister'], { out: (l) => again.push(l), err: (l) => again.push(l), env: { XIOTA_PASSWORD: 'devpw' } }), 0);
  assert.match(again.join('\n'), /is not registered; nothing to unregister/);
});

t.run();
