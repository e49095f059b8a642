// XEP-0324 provisioning and XEP-0347 discovery end to end on each server of the matrix
// (XIOTA_SERVER; ejabberd takes the components on an ejabberd_service listener): the whole
// agent (simulated greenhouse), a provisioning server and a Thing Registry played as XEP-0114
// components by test/servers/iot_services.py (slixmpp; fixtures speaking the XEPs' stanzas, not
// mocks of the agent), machines reading and setting with slixmpp's own xep_0323/xep_0325
// clients (test/clients/iot_client.py), and a person's phone claiming with `<mine/>` the tags
// that `xiota claim` printed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Agent } from '../../agent/agent';
import { claimMain } from '../../agent/cli/claim';
import { configFromObject } from '../../agent/config';
import { parseIotDiscoUri, tagElements, NS_DISCOVERY } from '../../agent/iot/discovery-meta';
import { createLogger } from '../../agent/log';
import type { XmppClient } from '../../agent/session/client';
import { x } from '../../agent/xml/element';
import { createSimulatedDriver } from '../../drivers/simulated';
import { serverUnderTest, startServer, type XmppServer } from '../../scripts/servers';
import { freePorts } from '../servers/process';
import { clientFor, waitFor } from '../session/_helpers';
import { IotClient, PyLines } from './_iot';

const label = serverUnderTest();
const t = suite(`XEP-0324 provisioning and XEP-0347 discovery on ${label}, with component fixtures`);
const HOST = 'xiota.test';
const PROV = `provisioning.${HOST}`;
const REG = `registry.${HOST}`;
const SECRET = 'fixture-secret';
let srv: XmppServer;
let dir: string;
let configFile: string;
let agent: Agent;
let prov: PyLines;
let reg: PyLines;
let dave: IotClient; // unknown to the config: the provisioning server decides
let carol: IotClient; // unknown, refused by the provisioning server
let dev: string;
const logs: string[] = [];

type Line = Awaited<ReturnType<PyLines['next']>>;

t.before(async () => {
  const [componentPort] = await freePorts(1);
  srv = await startServer(label, {
    users: ['dev', 'alice', 'carol', 'dave', 'erin', 'frank'].map((u) => ({ user: u, password: `${u}pw` })),
    components: { port: componentPort!, secret: SECRET, hosts: [PROV, REG] },
  });
  prov = new PyLines('../servers/iot_services.py', ['provisioning', PROV, SECRET, String(componentPort)], 'provisioning fixture');
  reg = new PyLines('../servers/iot_services.py', ['registry', REG, SECRET, String(componentPort)], 'registry fixture');
  await Promise.all([prov.next('online', 20_000), reg.next('online', 20_000)]);
  prov.send({ op: 'rules', rules: {
    [`dave@${HOST}`]: { friend: true, read: { result: true, fields: ['temperature'] }, control: { result: true, fields: ['fan'] } },
  } });
  await prov.next('rules');

  dir = mkdtempSync(join(tmpdir(), 'xiota-prov-'));
  const raw = {
    account: { jid: `dev@${HOST}/gw`, password: 'devpw' },
    server: { host: '127.0.0.1', port: srv.c2sPort },
    tls: { ca_file: srv.caFile },
    outbox: { dir: join(dir, 'state', 'outbox'), flush_interval_ms: 20 },
    access: { owners: [`alice@${HOST}`] },
    provisioning: { service: PROV, timeout_s: 2 },
    // registry: auto, the default: found among the server's components by disco
    discovery: { tags: { MAN: 'xiota.example', MODEL: 'greenhouse-gw', SN: 'GH-0042', V: 1.2 } },
  };
  // The same config as a file, for `xiota claim`.
  configFile = join(dir, 'xiota.yaml');
  writeFileSync(configFile, JSON.stringify(raw)); // JSON is YAML
  const r = configFromObject(raw);
  assert.equal(r.errors, []);
  const driver = createSimulatedDriver('sim', {
    seed: 1, pollIntervalMs: 600_000,
    things: [{ id: 'greenhouse', fields: [
      { name: 'temperature', type: 'numeric', unit: '°C', precision: 1, waveform: 'constant', initial: 22.5 },
      { name: 'humidity', type: 'numeric', unit: '%', precision: 0, waveform: 'constant', initial: 55 },
      { name: 'fan', type: 'boolean', writable: true, initial: false },
      { name: 'setpoint', type: 'numeric', unit: '°C', precision: 1, writable: true, initial: 21, min: 5, max: 30 },
    ] }],
  });
  const log = createLogger({ level: 'debug', json: true, write: (l) => logs.push(l) });
  agent = new Agent({ config: r.config!, credentials: { password: 'devpw', source: 'password', warnings: [] }, drivers: [driver], log });
  await agent.start();
  await waitFor('agent online', () => agent.client.state === 'online', 15_000);
  dev = agent.client.jid;
  [dave, carol] = await Promise.all([IotClient.start(srv, 'dave', 'davepw'), IotClient.start(srv, 'carol', 'carolpw')]);
});

t.after(async () => {
  await Promise.all([dave?.close(), carol?.close(), prov?.close(), reg?.close()]);
  await agent?.stop();
  await srv?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function fan(): Promise<unknown> {
  return (await agent.drivers.readThing('greenhouse'))?.values.find((v) => v.field === 'fan')?.value;
}

/** The fixture's next question named `name` (earlier ones, already checked or not, are skipped). */
async function question(name: string): Promise<Line> {
  for (;;) {
    const q = await prov.next('question');
    if (q.name === name) return q;
  }
}

const fieldNames = (r: Awaited<ReturnType<IotClient['read']>>) => r.results.flatMap((x) => x.fields ?? []).map((f) => f.name).sort();

t('registers with the registry found by disco: the configured meta tags and the KEY in discovery.json', async () => {
  const ev = await reg.next('register', 20_000);
  const state = JSON.parse(readFileSync(join(dir, 'state', 'discovery.json'), 'utf8')) as { key: string; registry: string };
  assert.equal(ev.tags, { MAN: 'xiota.example', MODEL: 'greenhouse-gw', SN: 'GH-0042', V: '1.2', KEY: state.key });
  assert.is(ev.selfOwned, false);
  assert.is(String(ev.from).split('/')[0], `dev@${HOST}`);
  assert.is(state.registry, REG);
});

t('a reader unknown to the config: the provisioning server allows temperature only, and the fan only', async () => {
  const r = await dave.read(dev);
  assert.is(r.results.at(-1)?.result, 'done', JSON.stringify(r));
  assert.equal(fieldNames(r), ['temperature']);
  const q = await prov.next('question');
  assert.is(q.name, 'canRead');
  assert.is(q.jid, `dave@${HOST}`);
  assert.match(String(q.xml), /momentary="true"/);

  const s = await dave.set(dev, [['fan', 'boolean', 'true']]);
  assert.is(s.result, 'OK', JSON.stringify(s));
  const cq = await prov.next('question');
  assert.is(cq.name, 'canControl');
  assert.match(String(cq.xml), /<ns0:parameter name="fan"|parameter name="fan"/);
  await waitFor('fan on', async () => (await fan()) === true);
  // the setpoint was not granted: nothing set
  const refused = await dave.set(dev, [['setpoint', 'double', '25']]);
  assert.is.not(refused.result, 'OK', JSON.stringify(refused));
  assert.is((await agent.drivers.readThing('greenhouse'))?.values.find((v) => v.field === 'setpoint')?.value, 21);
});

t('a stranger the server refuses: readout rejected, set refused, nothing changes; then clearCache lets a new rule apply', async () => {
  const r = await carol.read(dev);
  assert.is(r.results.at(-1)?.result, 'rejected', JSON.stringify(r));
  assert.equal(fieldNames(r), []);
  const s = await carol.set(dev, [['fan', 'boolean', 'false']]);
  assert.is.not(s.result, 'OK');
  assert.is(await fan(), true);
  // the server changes its mind; the device still has the old answer cached...
  prov.send({ op: 'rules', rules: { [`dave@${HOST}`]: { read: { result: true } }, [`carol@${HOST}`]: { read: { result: true } } } });
  await prov.next('rules');
  assert.is((await carol.read(dev)).results.at(-1)?.result, 'rejected');
  // ...until XEP-0324 'Clear cache'
  prov.send({ op: 'clearCache', to: dev });
  const cc = await prov.next('clearCache');
  assert.is(cc.type, 'result', JSON.stringify(cc));
  assert.match(String(cc.xml), /clearCacheResponse/);
  const after = await carol.read(dev);
  assert.is(after.results.at(-1)?.result, 'done', JSON.stringify(after));
  assert.equal(fieldNames(after), ['fan', 'humidity', 'setpoint', 'temperature']);
});

t('a stranger\'s presence subscription is decided by isFriend; a chat read by canRead', async () => {
  prov.send({ op: 'rules', rules: { [`dave@${HOST}`]: { friend: true, read: { result: true } }, [`carol@${HOST}`]: { read: { result: true } } } });
  await prov.next('rules');
  const phone = clientFor(srv, 'dave', 'davepw', { resource: 'phone' });
  const seen: string[] = [];
  phone.router.on('presence', (p) => { seen.push(`${p.attrs.type ?? 'available'}:${(p.attrs.from ?? '').split('/')[0]}`); return true; });
  phone.router.on('message', (m) => { const b = m.getChildText('body'); if (b) seen.push(`body:${b}`); return true; });
  phone.start();
  try {
    await waitFor('dave online', () => phone.state === 'online', 15_000);
    phone.send(x('presence')); // available: RFC 6121 3.1.6 delivers `subscribed` to available resources
    // RFC 6121 3.1: a subscription request; XEP-0324 'Friendship request accepted'
    phone.send(x('presence', { to: `dev@${HOST}`, type: 'subscribe' }));
    const q = await question('isFriend');
    assert.is(q.jid, `dave@${HOST}`);
    // Approved: the server now sends dave the device's presence (RFC 6121 4.2.2), and the device asks back.
    await waitFor('approved', () => seen.includes(`available:dev@${HOST}`) && seen.includes(`subscribe:dev@${HOST}`), 10_000);
    // chat: `read` from someone the lists do not know; the answer carries the values
    phone.send(x('message', { to: dev, type: 'chat' }, x('body', null, 'read greenhouse.temperature')));
    await waitFor('chat answer', () => seen.find((s) => s.startsWith('body:') && s.includes('22.5')), 10_000);
  } finally {
    await phone.stop();
  }
  // a friendship the server refuses (carol has no friend rule): refused
  const carolPhone = clientFor(srv, 'carol', 'carolpw');
  const carolSeen: string[] = [];
  carolPhone.router.on('presence', (p) => { carolSeen.push(`${p.attrs.type ?? 'available'}:${(p.attrs.from ?? '').split('/')[0]}`); return true; });
  carolPhone.start();
  try {
    await waitFor('carol online', () => carolPhone.state === 'online', 15_000);
    carolPhone.send(x('presence'));
    carolPhone.send(x('presence', { to: `dev@${HOST}`, type: 'subscribe' }));
    assert.is((await question('isFriend')).jid, `carol@${HOST}`);
    await waitFor('refused', () => logs.find((l) => l.includes('subscription refused') && l.includes('carol') && l.includes('refused by the provisioning server')), 10_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.not.ok(carolSeen.includes(`available:dev@${HOST}`), 'carol sees the device');
  } finally {
    await carolPhone.stop();
  }
});

t('the provisioning server does not answer: refused and logged, the agent keeps serving its owner', async () => {
  prov.send({ op: 'silent', on: true });
  await prov.next('silent');
  const frank = await IotClient.start(srv, 'frank', 'frankpw');
  try {
    const t0 = Date.now();
    const r = await frank.read(dev);
    assert.is(r.results.at(-1)?.result, 'rejected', JSON.stringify(r));
    assert.ok(Date.now() - t0 < 8000, `took ${Date.now() - t0} ms`);
    const line = logs.find((l) => l.includes('provisioning server did not answer') && l.includes('frank'));
    assert.ok(line, logs.filter((l) => l.includes('provisioning')).join('\n'));
    assert.match(line!, /frank@xiota.test/);
    assert.match(line!, /canRead/);
  } finally {
    await frank.close();
    prov.send({ op: 'silent', on: false });
    await prov.next('silent');
  }
});

t('claim: `xiota claim` prints the URI; the person\'s phone claims with it; the claimer is an owner and sets; disown takes it back', async () => {
  const out: string[] = [];
  const code = claimMain(['--config', configFile, '--no-qr'], { out: (s) => out.push(s), err: (s) => out.push(s), env: {} });
  assert.is(code, 0, out.join('\n'));
  const uri = out.find((l) => l.startsWith('iotdisco:'))!;
  assert.ok(uri, out.join('\n'));
  const { tags, registry } = parseIotDiscoUri(uri);
  assert.is(registry, REG);
  assert.ok(out.some((l) => l.startsWith('XEP-0347 claim string: IoTDisco;MAN:xiota.example;MODEL:greenhouse-gw;SN:GH-0042;#V:1.2;KEY:')));
  assert.is(agent.access.roleOf(`erin@${HOST}`), 'stranger');

  const phone: XmppClient = clientFor(srv, 'erin', 'erinpw');
  phone.start();
  await waitFor('erin online', () => phone.state === 'online', 15_000);
  const erin = await IotClient.start(srv, 'erin', 'erinpw', 'machine');
  try {
    // XEP-0347 'Claim Ownership of public Thing'
    const res = await phone.iq(x('iq', { type: 'set', to: registry }, x('mine', { xmlns: NS_DISCOVERY }, ...tagElements(tags))), 15_000);
    assert.is(res.getChild('claimed', NS_DISCOVERY)?.attrs.jid, `dev@${HOST}`);
    const mine: Line = await reg.next('mine');
    assert.is(mine.result, 'claimed');
    await waitFor('erin is an owner', () => agent.access.roleOf(`erin@${HOST}`) === 'owner');
    assert.equal(JSON.parse(readFileSync(join(dirname(join(dir, 'state', 'outbox')), 'access.json'), 'utf8')).owners, [`erin@${HOST}`]);
    // a public claim: the KEY is emptied in the registry
    const upd = await reg.next('update');
    assert.is((upd.tags as Record<string, string>).KEY, '');
    // the new owner sets, with no provisioning question
    const s = await erin.set(dev, [['setpoint', 'double', '24.5']]);
    assert.is(s.result, 'OK', JSON.stringify(s));
    await waitFor('setpoint', async () => (await agent.drivers.readThing('greenhouse'))?.values.find((v) => v.field === 'setpoint')?.value === 24.5);
    // a second claim with the same tags fails (already claimed by somebody else)
    const again = clientFor(srv, 'frank', 'frankpw');
    again.start();
    await waitFor('frank online', () => again.state === 'online', 15_000);
    await again.iq(x('iq', { type: 'set', to: registry }, x('mine', { xmlns: NS_DISCOVERY }, ...tagElements(tags))), 15_000).then(
      () => assert.unreachable('claimed twice'), (e: Error) => assert.match(e.message, /item-not-found/));
    await again.stop();

    // XEP-0347 'Disowning Thing'
    await phone.iq(x('iq', { type: 'set', to: registry }, x('disown', { xmlns: NS_DISCOVERY, jid: `dev@${HOST}` })), 15_000);
    assert.is((await reg.next('disown')).result, 'ok');
    await waitFor('erin no longer an owner', () => agent.access.roleOf(`erin@${HOST}`) === 'stranger');
    // registered again, with a new KEY, to be claimed anew
    const re = await reg.next('register', 15_000);
    assert.is.not((re.tags as Record<string, string>).KEY, tags.find((tg) => tg.name === 'KEY')!.value);
    const refused = await erin.set(dev, [['setpoint', 'double', '20']]);
    assert.is.not(refused.result, 'OK', JSON.stringify(refused));
  } finally {
    await erin.close();
    await phone.stop();
  }
});

t('a claim while the device is offline: at its next registration the registry answers <claimed/>, and the claimer is an owner', async () => {
  const out: string[] = [];
  assert.is(claimMain(['--config', configFile, '--no-qr'], { out: (s) => out.push(s), err: (s) => out.push(s), env: {} }), 0, out.join('\n'));
  const { tags, registry } = parseIotDiscoUri(out.find((l) => l.startsWith('iotdisco:'))!);
  await agent.stop();
  const phone = clientFor(srv, 'frank', 'frankpw', { resource: 'phone' });
  phone.start();
  try {
    await waitFor('frank online', () => phone.state === 'online', 15_000);
    const res = await phone.iq(x('iq', { type: 'set', to: registry }, x('mine', { xmlns: NS_DISCOVERY }, ...tagElements(tags))), 15_000);
    assert.is(res.getChild('claimed', NS_DISCOVERY)?.attrs.jid, `dev@${HOST}`);
    const acks: Line[] = [await reg.next('mine'), await reg.next('mine')];
    assert.ok(acks.some((a) => String(a.result).startsWith('thing did not ack')), JSON.stringify(acks));
  } finally {
    await phone.stop();
  }
  // the device comes back (a new process: the same config and state directory)
  const r = configFromObject(JSON.parse(readFileSync(configFile, 'utf8')));
  const driver = createSimulatedDriver('sim', { seed: 1, pollIntervalMs: 600_000, things: [{ id: 'greenhouse', fields: [
    { name: 'fan', type: 'boolean', writable: true, initial: false },
  ] }] });
  agent = new Agent({ config: r.config!, credentials: { password: 'devpw', source: 'password', warnings: [] }, drivers: [driver], log: createLogger({ level: 'debug', json: true, write: (l) => logs.push(l) }) });
  await agent.start();
  await waitFor('agent online', () => agent.client.state === 'online', 15_000);
  await reg.next('register', 15_000);
  await waitFor('frank is an owner', () => agent.access.roleOf(`frank@${HOST}`) === 'owner', 10_000);
  // access.json first, then discovery.json: a crash between them is mended by the next registration
  await waitFor('discovery.json says claimed', () => JSON.parse(readFileSync(join(dir, 'state', 'discovery.json'), 'utf8')).owner === `frank@${HOST}`, 5000);
});

t('the provisioning component is gone (the server answers for it): refused at once and logged; the owner still sets', async () => {
  await prov.close(); // the fixture process ends: the server answers iqs to the component with an error
  const frank = await IotClient.start(srv, 'frank', 'frankpw', 'gone');
  try {
    const t0 = Date.now();
    const r = await frank.read(dev, { fields: ['humidity'] });
    assert.is(r.results.at(-1)?.result, 'rejected', JSON.stringify(r));
    assert.ok(Date.now() - t0 < 1900, `took ${Date.now() - t0} ms: the error, not the 2 s timeout, refused it`);
    const line = logs.filter((l) => l.includes('provisioning server did not answer') && l.includes('frank')).at(-1);
    assert.ok(line);
    assert.match(line!, /"error":"[^"]+"/);
    const alice = await IotClient.start(srv, 'alice', 'alicepw');
    try {
      assert.is((await alice.set(dev, [['fan', 'boolean', 'false']])).result, 'OK');
    } finally { await alice.close(); }
  } finally {
    await frank.close();
  }
});

t.run();
