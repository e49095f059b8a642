// Scheduled XEP-0323 readouts (`when`) across a restart: queued='true', kept in readouts.json in
// the state directory, the module unloaded (the agent stopped) before the time, a new module on
// the same directory carries it out once its session is up (started, fields, done), a cancelled
// one is forgotten, one whose requester lost the read right is dropped, a damaged file is set
// aside. Real DriverHost, real files, the module over a real Router with an injected clock.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessStore } from '../../agent/access-store';
import { SCHEDULED_FILE } from '../../agent/iot/scheduled';
import { install, NS_SENSORDATA } from '../../agent/xep/sensordata';
import { DriverHost } from '../../drivers/host';
import { createSimulatedDriver } from '../../drivers/simulated';
import { parseXml } from '../pubsub/xml';
import { testContext } from '../xep/_context';
import { waitFor } from '../session/_helpers';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const CLIENT = 'client@example.org/amr';
const root = mkdtempSync(join(tmpdir(), 'xiota-sched-'));
const hosts: DriverHost[] = [];
test.after.each(async () => { for (const h of hosts.splice(0)) await h.stop(); });
test.after(() => rmSync(root, { recursive: true, force: true }));

async function agentOn(stateDir: string, readers = ['client@example.org']) {
  const t = testContext('device@example.org');
  t.clock.t = T0;
  const host = new DriverHost({ sampleTimeoutMs: 300, drivers: [createSimulatedDriver('sim', { pollIntervalMs: 3_600_000, things: [
    { id: 'gh', fields: [{ name: 'temperature', type: 'numeric', unit: '°C', precision: 1, waveform: 'constant', initial: 21.5 }] },
  ] }, { now: () => t.clock.t })] });
  await host.start();
  hosts.push(host);
  const access = new AccessStore({ policy: { owners: [], controllers: [], readers, strangers: 'refuse' } });
  install(t.ctx, { drivers: host, access, things: () => host.things(), latest: () => host.latestReadings(), now: () => t.clock.t, stateDir });
  const ask = async (xml: string) => {
    const before = t.sent.length;
    await t.router.dispatch(parseXml(xml));
    return t.sent[before]!;
  };
  const toClient = (seqnr: string) => t.sent.filter((s) => s.name === 'message').flatMap((s) => s.elements.filter((e) => e.xmlns === NS_SENSORDATA && e.attrs.seqnr === seqnr));
  return { t, ask, toClient };
}

const saved = (dir: string) => JSON.parse(readFileSync(join(dir, SCHEDULED_FILE), 'utf8')) as { seqnr: string; when: number }[];

test('queued before a stop, carried out after the restart: started, the values, done', async () => {
  const dir = mkdtempSync(join(root, 'a-'));
  const a = await agentOn(dir);
  const r = await a.ask(`<iq type='get' from='${CLIENT}' id='q'><req xmlns='urn:xmpp:iot:sensordata' seqnr='7' momentary='true' when='2026-12-01T10:05:00Z'/></iq>`);
  assert.is(r.getChild('accepted')!.attrs.queued, 'true');
  await waitFor('saved', () => existsSync(join(dir, SCHEDULED_FILE)) && saved(dir).length === 1, 2000, 5);
  assert.equal(saved(dir).map((s) => [s.seqnr, s.when]), [['7', Date.parse('2026-12-01T10:05:00Z')]]);
  a.t.unload(); // the agent stops before 10:05
  assert.equal(a.toClient('7').map((e) => e.name), []);
  const b = await agentOn(dir);
  b.t.online();
  b.t.advance(4 * 60_000);
  assert.equal(b.toClient('7'), [], 'not before its time');
  b.t.advance(60_000);
  await waitFor('done', () => b.toClient('7').some((e) => e.name === 'done'), 3000, 2);
  const msgs = b.toClient('7');
  assert.equal(msgs.map((m) => m.name), ['started', 'fields', 'done']);
  assert.is(msgs[1]!.getChild('node')!.getChild('timestamp')!.getChild('numeric')!.attrs.value, '21.5');
  await waitFor('forgotten once done', () => saved(dir).length === 0, 2000, 5);
});

test('a time that passed while the agent was down is read at once; a cancelled readout is not kept', async () => {
  const dir = mkdtempSync(join(root, 'b-'));
  const a = await agentOn(dir);
  await a.ask(`<iq type='get' from='${CLIENT}' id='1'><req xmlns='urn:xmpp:iot:sensordata' seqnr='1' momentary='true' when='2026-12-01T10:01:00Z'/></iq>`);
  await a.ask(`<iq type='get' from='${CLIENT}' id='2'><req xmlns='urn:xmpp:iot:sensordata' seqnr='2' momentary='true' when='2026-12-01T10:01:00Z'/></iq>`);
  const c = await a.ask(`<iq type='get' from='${CLIENT}' id='3'><cancel xmlns='urn:xmpp:iot:sensordata' seqnr='2'/></iq>`);
  assert.ok(c.getChild('cancelled'));
  await waitFor('one kept', () => existsSync(join(dir, SCHEDULED_FILE)) && saved(dir).map((s) => s.seqnr).join() === '1', 2000, 5);
  a.t.unload();
  const b = await agentOn(dir);
  b.t.clock.t = T0 + 3_600_000; // restarted an hour later
  b.t.online();
  b.t.advance(0);
  await waitFor('done', () => b.toClient('1').some((e) => e.name === 'done'), 3000, 2);
  assert.equal(b.toClient('2'), []);
});

test('a requester who lost the read right meanwhile is not answered; a damaged file is set aside', async () => {
  const dir = mkdtempSync(join(root, 'c-'));
  const a = await agentOn(dir);
  await a.ask(`<iq type='get' from='${CLIENT}' id='1'><req xmlns='urn:xmpp:iot:sensordata' seqnr='1' momentary='true' when='2026-12-01T10:01:00Z'/></iq>`);
  await waitFor('saved', () => existsSync(join(dir, SCHEDULED_FILE)) && saved(dir).length === 1, 2000, 5);
  a.t.unload();
  const b = await agentOn(dir, []);
  b.t.online();
  b.t.advance(120_000);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(b.toClient('1'), []);
  await waitFor('dropped', () => saved(dir).length === 0, 2000, 5);
  writeFileSync(join(dir, SCHEDULED_FILE), '{not json');
  const c = await agentOn(dir);
  c.t.online();
  await waitFor('set aside', () => existsSync(join(dir, `${SCHEDULED_FILE}.bad`)), 2000, 5);
});

test.run();
