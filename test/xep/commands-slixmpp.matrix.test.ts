// Every ad-hoc command end to end: the whole agent (simulated greenhouse) on each real server
// of the matrix (XIOTA_SERVER), driven by slixmpp's xep_0050 plugin as an owner, a reader and a
// stranger. Bad forms get a clear error each time and change nothing on the device.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../agent/agent';
import { configFromObject } from '../../agent/config';
import * as commandsModule from '../../agent/commands';
import { MODULES, type AgentModule } from '../../agent/modules';
import { ERROR_VAR, NS_COMMANDS } from '../../agent/xep/commands';
import { createSimulatedDriver } from '../../drivers/simulated';
import { serverUnderTest, startServer, type XmppServer } from '../../scripts/servers';
import { waitFor } from '../session/_helpers';
import { AdhocClient, type PyResult } from './_adhoc';

const label = serverUnderTest();
const t = suite(`ad-hoc commands through slixmpp on ${label}`);
let srv: XmppServer;
let dir: string;
let agent: Agent;
let owner: AdhocClient;
let reader: AdhocClient;
let stranger: AdhocClient;
let dev: string; // the agent's full JID

// Drivers do not declare ranges yet; the commands module takes them from the agent's wiring.
const RANGES: Record<string, { min?: number; max?: number }> = { 'greenhouse.setpoint': { min: 5, max: 30 } };
const modules: AgentModule[] = MODULES.map((m) => (m.name !== 'commands' ? m : {
  name: 'commands', install: (ctx, d) => { commandsModule.install(ctx, d, { rangeOf: (th, f) => RANGES[`${th}.${f}`] }); },
}));

t.before(async () => {
  srv = await startServer(label, { users: [{ user: 'dev', password: 'devpass' }, { user: 'alice', password: 'a' }, { user: 'bob', password: 'b' }, { user: 'eve', password: 'e' }] });
  dir = mkdtempSync(join(tmpdir(), 'xiota-adhoc-'));
  const r = configFromObject({
    account: { jid: `dev@${srv.host}/gw`, password: 'devpass' },
    server: { host: '127.0.0.1', port: srv.c2sPort },
    tls: { ca_file: srv.caFile },
    outbox: { dir: join(dir, 'outbox'), flush_interval_ms: 20 },
    access: { owners: [`alice@${srv.host}`], readers: [`bob@${srv.host}`] },
  });
  assert.equal(r.errors, []);
  const driver = createSimulatedDriver('sim', {
    seed: 1, pollIntervalMs: 200,
    things: [
      { id: 'greenhouse', name: 'Greenhouse', fields: [
        { name: 'temperature', type: 'numeric', unit: '°C', precision: 1, waveform: 'constant', initial: 22.5 },
        { name: 'setpoint', type: 'numeric', unit: '°C', precision: 1, writable: true, initial: 21 },
        { name: 'fan', type: 'boolean', writable: true, initial: false },
        { name: 'mode', type: 'enum', values: ['auto', 'manual'], writable: true, initial: 'auto' },
      ] },
      { id: 'door', fields: [{ name: 'open', type: 'boolean', waveform: 'constant', initial: true }] },
    ],
  });
  agent = new Agent({ config: r.config!, credentials: { password: 'devpass', source: 'password', warnings: [] }, drivers: [driver], modules });
  await agent.start();
  await waitFor('agent online', () => agent.client.state === 'online', 15_000);
  await waitFor('first readings', () => agent.drivers.latestReadings().length === 2, 10_000);
  dev = agent.client.jid;
  [owner, reader, stranger] = await Promise.all([AdhocClient.start(srv, 'alice', 'a'), AdhocClient.start(srv, 'bob', 'b'), AdhocClient.start(srv, 'eve', 'e')]);
});

t.after(async () => {
  await Promise.all([owner?.close(), reader?.close(), stranger?.close()]);
  await agent?.stop();
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function deviceValue(thing: string, field: string) {
  return agent.drivers.latestReadings().find((r) => r.thing === thing)?.values.find((v) => v.field === field)?.value;
}

async function deviceNow(thing: string, field: string) {
  const r = await agent.drivers.readOnce();
  return r.find((x) => x.thing === thing)?.values.find((v) => v.field === field)?.value;
}

t('disco: the commands feature, and only the commands each asker may run, with exactly jid, node, name', async () => {
  const info = await owner.info(dev);
  assert.ok(info.features!.includes(NS_COMMANDS), JSON.stringify(info));
  assert.ok(agent.disco.featureList().includes(NS_COMMANDS), 'hashed into caps with the other features');
  const all = await owner.list(dev);
  assert.equal(all.items!.map((i) => i.node), ['status', 'read', 'history', 'set', 'alerts', 'access']);
  for (const i of all.items!) assert.equal(Object.keys(i).sort(), ['jid', 'name', 'node'], 'nbxmpp rejects a list with any other attribute');
  assert.ok(all.items!.every((i) => i.jid === dev));
  assert.equal((await reader.list(dev)).items!.map((i) => i.node), ['status', 'read', 'history']);
  assert.equal((await stranger.list(dev)).items, []);
  const node = await owner.info(dev, 'set');
  assert.equal(node.identities![0]!.slice(0, 3), ['automation', 'command-node', null]);
  assert.is((await reader.info(dev, 'set')).error!.condition, 'forbidden');
});

t('status: owner and reader get the table and flat fields; the stranger is refused', async () => {
  for (const who of [owner, reader]) {
    const r = await who.exec(dev, 'status');
    assert.is(r.status, 'completed', JSON.stringify(r));
    assert.ok(r.sessionid);
    assert.equal(r.form!.reported, ['thing', 'field', 'value', 'unit', 'updated']);
    const rows = r.form!.items.map((i) => `${i.thing}.${i.field}=${i.value}`);
    assert.equal(rows.slice(0, 4), ['greenhouse.temperature=22.5', 'greenhouse.setpoint=21.0', 'greenhouse.fan=off', 'greenhouse.mode=auto']);
    assert.match(rows[4]!, /^door\.open=(on|off)$/);
    const flat = Object.fromEntries(r.form!.fields.map((f) => [f.var, f.values[0]]));
    assert.match(flat['greenhouse.temperature']!, /^22\.5 °C, (just now|\d+ s ago)$/);
    assert.equal(r.notes, []);
  }
  const e = await stranger.exec(dev, 'status');
  assert.is(e.error!.condition, 'forbidden');
  assert.match(e.error!.text!, /needs the read right/);
});

t('read: pick a thing, then its values (submitted with no action, as Profanity does)', async () => {
  const r1 = await reader.exec(dev, 'read');
  assert.is(r1.status, 'executing');
  assert.equal(r1.form!.fields[0]!.options, ['greenhouse', 'door']);
  const r2 = await reader.exec(dev, 'read', { action: 'none', sessionid: r1.sessionid, fields: { thing: ['door'] } });
  assert.is(r2.status, 'completed', JSON.stringify(r2));
  assert.equal(r2.form!.fields.map((f) => f.var), ['door.open']);
  const bad = await reader.exec(dev, 'read', { sessionid: (await reader.exec(dev, 'read')).sessionid, action: 'next', fields: { thing: ['attic'] } });
  assert.is(bad.status, 'executing');
  assert.match(bad.form!.instructions[0]!, /"Thing" \(thing\): expected one of: greenhouse, door, got "attic"/);
  assert.is((await stranger.exec(dev, 'read')).error!.condition, 'forbidden');
});

async function badSet(fields: Record<string, string[]>, message: RegExp) {
  const r1 = await owner.exec(dev, 'set');
  const r = await owner.exec(dev, 'set', { sessionid: r1.sessionid, action: 'complete', fields });
  assert.is(r.status, 'executing', JSON.stringify(r));
  assert.is(r.sessionid, r1.sessionid);
  assert.match(r.form!.instructions.join('\n'), message);
  const err = r.form!.fields[0]!;
  assert.is(err.var, ERROR_VAR);
  assert.is(err.type, 'fixed');
  assert.match(err.values.join('\n'), message);
  await owner.exec(dev, 'set', { sessionid: r1.sessionid, action: 'cancel' });
}

t('set: the form carries current values, XEP-0122 datatypes and the range', async () => {
  const r = await owner.exec(dev, 'set');
  assert.is(r.status, 'executing');
  assert.equal(r.actions, { execute: 'complete', list: ['complete'] });
  const byVar = Object.fromEntries(r.form!.fields.map((f) => [f.var, f]));
  assert.equal(Object.keys(byVar), ['greenhouse.setpoint', 'greenhouse.fan', 'greenhouse.mode']);
  assert.equal(byVar['greenhouse.setpoint']!.values, ['21.0']);
  assert.is(byVar['greenhouse.setpoint']!.datatype, 'xs:decimal');
  assert.equal(byVar['greenhouse.setpoint']!.range, ['5', '30']);
  assert.is(byVar['greenhouse.fan']!.type, 'boolean');
  assert.equal(byVar['greenhouse.mode']!.options, ['auto', 'manual']);
  const c = await owner.exec(dev, 'set', { sessionid: r.sessionid, action: 'cancel' });
  assert.is(c.status, 'canceled');
});

t('set with wrong types, out-of-range values and unknown fields: a clear error each time, nothing changes', async () => {
  await badSet({ 'greenhouse.setpoint': ['warm'] }, /"Greenhouse setpoint \(°C\)" \(greenhouse.setpoint\): expected a decimal number such as 21.5 from 5 to 30, got "warm"/);
  await badSet({ 'greenhouse.setpoint': ['99'], 'greenhouse.fan': ['1'] }, /from 5 to 30, got "99"/);
  await badSet({ 'greenhouse.setpoint': ['4.9'] }, /from 5 to 30, got "4.9"/);
  await badSet({ 'greenhouse.fan': ['maybe'] }, /"Greenhouse fan" \(greenhouse.fan\): expected on\/off: true, false, 1 or 0, got "maybe"/);
  await badSet({ 'greenhouse.mode': ['turbo'] }, /expected one of: auto, manual, got "turbo"/);
  await badSet({ 'greenhouse.heater': ['1'] }, /"greenhouse.heater" is not a field of this form/);
  await badSet({ 'greenhouse.temperature': ['30'] }, /"greenhouse.temperature" is not a field of this form/);
  await badSet({ 'greenhouse.setpoint': ['22', '23'] }, /expected one value, got 2/);
  assert.is(await deviceNow('greenhouse', 'setpoint'), 21);
  assert.is(await deviceNow('greenhouse', 'fan'), false);
  assert.is(await deviceNow('greenhouse', 'mode'), 'auto');
  // A reader and a stranger may not even open it.
  const rs = await reader.exec(dev, 'set');
  assert.is(rs.error?.condition, 'forbidden', JSON.stringify(rs));
  const ss = await stranger.exec(dev, 'set', { sessionid: 'set:guess', fields: { 'greenhouse.fan': ['1'] } });
  assert.is(ss.error?.condition, 'forbidden', JSON.stringify(ss));
  // Someone else's session id is refused.
  const sid = (await owner.exec(dev, 'set')).sessionid!;
  const other = await AdhocClient.start(srv, 'alice', 'a', 'laptop');
  try {
    const e = await other.exec(dev, 'set', { sessionid: sid, fields: { 'greenhouse.fan': ['1'] } });
    assert.is(e.error!.condition, 'bad-request');
    assert.is(e.error!.app, 'bad-sessionid');
  } finally {
    await other.close();
  }
  assert.is(await deviceNow('greenhouse', 'fan'), false);
});

t('set: a good form (any of execute/next/complete/none) sets what changed, one info note', async () => {
  const cases: [string, Record<string, string[]>, string, () => Promise<void>][] = [
    ['complete', { 'greenhouse.setpoint': ['23.5'], 'greenhouse.fan': ['0'], 'greenhouse.mode': ['auto'] }, 'Set greenhouse.setpoint = 23.5 °C.', async () => assert.is(await deviceNow('greenhouse', 'setpoint'), 23.5)],
    ['none', { 'greenhouse.fan': ['true'] }, 'Set greenhouse.fan = on.', async () => assert.is(await deviceNow('greenhouse', 'fan'), true)],
    ['next', { 'greenhouse.mode': ['manual'] }, 'Set greenhouse.mode = manual.', async () => assert.is(await deviceNow('greenhouse', 'mode'), 'manual')],
    ['execute', { 'greenhouse.setpoint': ['23.5'] }, 'Nothing changed: every value was already as submitted.', async () => undefined],
  ];
  for (const [action, fields, note, check] of cases) {
    const r1 = await owner.exec(dev, 'set');
    const r: PyResult = await owner.exec(dev, 'set', { sessionid: r1.sessionid, action, fields });
    assert.is(r.status, 'completed', JSON.stringify(r));
    assert.equal(r.notes, [{ type: 'info', text: note }]);
    assert.is(r.form, null);
    await check();
  }
  await waitFor('the new setpoint in a reading', () => deviceValue('greenhouse', 'setpoint') === 23.5, 5000);
  const st = await reader.exec(dev, 'status');
  assert.ok(st.form!.items.some((i) => i.field === 'setpoint' && i.value === '23.5'));
});

t('alerts: owners switch their own alerts; a missing field is an error; readers are refused', async () => {
  const r1 = await owner.exec(dev, 'alerts');
  assert.equal(r1.form!.fields[0]!.values, ['1']);
  const miss = await owner.exec(dev, 'alerts', { sessionid: r1.sessionid, fields: {} });
  assert.is(miss.status, 'executing');
  assert.match(miss.form!.instructions[0]!, /"Send me alerts" \(alerts\) is required/);
  const off = await owner.exec(dev, 'alerts', { sessionid: r1.sessionid, fields: { alerts: ['0'] } });
  assert.equal(off.notes, [{ type: 'info', text: `Alerts are off for alice@${srv.host}.` }]);
  assert.is((await owner.exec(dev, 'alerts')).form!.fields[0]!.values[0], '0');
  assert.is((await reader.exec(dev, 'alerts')).error!.condition, 'forbidden');
});

t('access: the owner lists, allows and revokes; the stranger gains and loses the commands', async () => {
  const run = async (fields: Record<string, string[]>) => owner.exec(dev, 'access', { sessionid: (await owner.exec(dev, 'access')).sessionid, fields });
  const noJid = await run({ op: ['allow'] });
  assert.is(noJid.status, 'executing');
  assert.match(noJid.form!.instructions[0]!, /"Who" \(jid\) is needed to allow/);
  const badJid = await run({ op: ['allow'], jid: ['not a jid'] });
  assert.match(badJid.form!.instructions[0]!, /"Who \(for allow, deny, revoke\)" \(jid\): expected a JID/);
  assert.equal((await stranger.list(dev)).items, []);
  const ok = await run({ op: ['allow'], jid: [`eve@${srv.host}`], role: ['reader'] });
  assert.equal(ok.notes, [{ type: 'info', text: `eve@${srv.host} is now a reader.` }]);
  assert.equal((await stranger.list(dev)).items!.map((i) => i.node), ['status', 'read', 'history']);
  assert.is((await stranger.exec(dev, 'status')).status, 'completed');
  const list = await run({ op: ['list'] });
  assert.ok(list.form!.items.some((i) => i.jid === `eve@${srv.host}` && i.role === 'reader' && i.source === 'allowed'), JSON.stringify(list.form));
  const rev = await run({ op: ['revoke'], jid: [`eve@${srv.host}`] });
  assert.equal(rev.notes, [{ type: 'info', text: `eve@${srv.host}: access revoked, now a stranger.` }]);
  assert.is((await stranger.exec(dev, 'status')).error!.condition, 'forbidden');
  assert.is((await reader.exec(dev, 'access')).error!.condition, 'forbidden');
  assert.is((await stranger.exec(dev, 'access')).error!.condition, 'forbidden');
});

t('unknown command and a malformed action are errors that say so', async () => {
  const e = await owner.exec(dev, 'reboot');
  assert.is(e.error!.condition, 'item-not-found');
  assert.match(e.error!.text!, /no command "reboot"/);
  const m = await owner.exec(dev, 'status', { action: 'jump' });
  assert.is(m.error?.condition, 'bad-request', JSON.stringify(m));
  assert.is(m.error!.app, 'malformed-action');
  assert.match(m.error!.text!, /unknown action "jump"; use execute, next, prev, complete or cancel/);
});

t.run();
