// XEP-0050 responder, without a socket: the spec's own example exchange, the clients' quirks
// (shared/any-client.md 1), sessions, access, and the device commands over a fake device.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AccessStore } from '../../agent/access-store';
import { accessCommand, alertsCommand } from '../../agent/commands/people';
import { MemoryAlertSwitch } from '../../agent/alerts/switch';
import { readCommand, setCommand, statusCommand, type DeviceThing, type DeviceView } from '../../agent/commands/device';
import { CommandSessions, ERROR_VAR, NS_COMMANDS, type Command } from '../../agent/xep/commands';
import { parseForm, type DataForm } from '../../agent/xep/forms';
import { StanzaError } from '../../agent/session/stanza';
import type { Reading, Value } from '../../drivers/types';
import { Element } from '../../agent/xml/element';
import { parseXml } from '../pubsub/xml';
import { Agent } from '../../agent/agent';
import { deviceView } from '../../agent/commands';
import { DriverHost } from '../../drivers/host';
import { createSimulatedDriver } from '../../drivers/simulated';
import { configFromObject } from '../../agent/config';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ME = 'requester@domain/home';

/** Serialization with attributes sorted and `sessionid` dropped (ours are random). */
function norm(el: Element): string {
  const attrs = Object.entries(el.attrs).filter(([k]) => k !== 'sessionid').sort(([a], [b]) => a.localeCompare(b));
  const copy = new Element(el.name, el.xmlns, Object.fromEntries(attrs));
  for (const c of el.children) {
    if (typeof c !== 'string') copy.children.push(parseXml(norm(c)));
    else if (c.trim()) copy.children.push(c.trim().replace(/\s+/g, ' '));
  }
  return copy.toString();
}

function access(extra: Partial<{ owners: string[]; controllers: string[]; readers: string[] }> = {}) {
  return new AccessStore({ policy: { owners: ['requester@domain'], controllers: [], readers: [], strangers: 'refuse', ...extra } });
}

function cmd(xml: string): Element {
  return parseXml(xml);
}

async function refused(p: Promise<unknown>): Promise<StanzaError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StanzaError) return e;
    throw e;
  }
  throw new Error('expected a StanzaError');
}

// XEP-0050 4.2 "Multiple Stages": the 'config' command of the examples.
const configCommand: Command = {
  node: 'config', name: 'Configure Service', action: 'admin',
  execute: () => ({
    status: 'executing',
    stage: {
      more: true,
      form: { type: 'form', title: 'Configure Service', instructions: ['Please select the service to configure.'], fields: [{ var: 'service', label: 'Service', type: 'list-single', options: [{ value: 'httpd' }, { value: 'jabberd' }, { value: 'postgresql' }] }] },
      submit: (v) => ({
        status: 'executing',
        stage: {
          form: {
            type: 'form', title: 'Configure Service', instructions: [`Please select the run modes and state for '${String(v.get('service'))}'.`],
            fields: [
              { var: 'runlevel', label: 'Run Modes', type: 'list-multi', values: ['3', '5'], options: [{ label: 'Single-User', value: '1' }, { label: 'Non-Networked Multi-User', value: '2' }, { label: 'Full Multi-User', value: '3' }, { label: 'X-Window', value: '5' }] },
              { var: 'state', label: 'Run State', type: 'list-single', values: ['off'], options: [{ label: 'Active', value: 'off' }, { label: 'Inactive', value: 'on' }] },
            ],
          },
          submit: () => ({ status: 'completed', note: { type: 'info', text: `Service '${String(v.get('service'))}' has been configured.` } }),
        },
      }),
    },
  }),
};

test('XEP-0050 4.2 example exchange: stage 1, stage 2, prev, stage 3 completed; same stanzas as the spec', async () => {
  const s = new CommandSessions({ commands: [configCommand], access: access(), selfJid: () => 'responder@domain/r' });
  const r1 = await s.handle(ME, cmd(`<command xmlns='http://jabber.org/protocol/commands' node='config' action='execute'/>`));
  assert.is(norm(r1), norm(cmd(`
  <command xmlns='http://jabber.org/protocol/commands' sessionid='config:20020923T213616Z-700' node='config' status='executing'>
    <actions execute='next'><next/></actions>
    <x xmlns='jabber:x:data' type='form'>
      <title>Configure Service</title>
      <instructions>Please select the service to configure.</instructions>
      <field var='service' label='Service' type='list-single'>
        <option><value>httpd</value></option><option><value>jabberd</value></option><option><value>postgresql</value></option>
      </field>
    </x>
  </command>`)));
  const sid = r1.attrs.sessionid!;
  assert.match(sid, /^config:/);
  const r2 = await s.handle(ME, cmd(`<command xmlns='http://jabber.org/protocol/commands' sessionid='${sid}' node='config'>
    <x xmlns='jabber:x:data' type='submit'><field var='service'><value>httpd</value></field></x></command>`));
  assert.is(norm(r2), norm(cmd(`
  <command xmlns='http://jabber.org/protocol/commands' sessionid='x' node='config' status='executing'>
    <actions execute='complete'><prev/><complete/></actions>
    <x xmlns='jabber:x:data' type='form'>
      <title>Configure Service</title>
      <instructions>Please select the run modes and state for 'httpd'.</instructions>
      <field var='runlevel' label='Run Modes' type='list-multi'>
        <value>3</value><value>5</value>
        <option label='Single-User'><value>1</value></option>
        <option label='Non-Networked Multi-User'><value>2</value></option>
        <option label='Full Multi-User'><value>3</value></option>
        <option label='X-Window'><value>5</value></option>
      </field>
      <field var='state' label='Run State' type='list-single'>
        <value>off</value>
        <option label='Active'><value>off</value></option>
        <option label='Inactive'><value>on</value></option>
      </field>
    </x>
  </command>`)));
  assert.is(r2.attrs.sessionid, sid);
  const back = await s.handle(ME, cmd(`<command xmlns='http://jabber.org/protocol/commands' sessionid='${sid}' node='config' action='prev'/>`));
  assert.is(back.getChild('actions', NS_COMMANDS)!.attrs.execute, 'next');
  assert.is(parseForm(back.getChild('x', 'jabber:x:data')!).fields[0]!.var, 'service');
  await s.handle(ME, cmd(`<command xmlns='http://jabber.org/protocol/commands' sessionid='${sid}' node='config' action='next'>
    <x xmlns='jabber:x:data' type='submit'><field var='service'><value>httpd</value></field></x></command>`));
  const r3 = await s.handle(ME, cmd(`<command xmlns='http://jabber.org/protocol/commands' sessionid='${sid}' node='config'>
    <x xmlns='jabber:x:data' type='submit'><field var='runlevel'><value>3</value></field><field var='state'><value>on</value></field></x></command>`));
  assert.is(norm(r3), norm(cmd(`
  <command xmlns='http://jabber.org/protocol/commands' sessionid='x' node='config' status='completed'>
    <note type='info'>Service 'httpd' has been configured.</note>
  </command>`)));
  assert.is(s.openCount, 0);
  // XEP-0050 4.3: a session that ended is gone.
  const e = await refused(s.handle(ME, cmd(`<command xmlns='http://jabber.org/protocol/commands' sessionid='${sid}' node='config'/>`)));
  assert.is(e.condition, 'bad-request');
  assert.is(e.appElement!.name, 'bad-sessionid');
});

test('XEP-0050 4.4 cancel: status canceled, session freed', async () => {
  const s = new CommandSessions({ commands: [configCommand], access: access(), selfJid: () => 'r' });
  const sid = (await s.handle(ME, cmd(`<command xmlns='http://jabber.org/protocol/commands' node='config'/>`))).attrs.sessionid!;
  assert.is(s.openCount, 1);
  const r = await s.handle(ME, cmd(`<command xmlns='http://jabber.org/protocol/commands' sessionid='${sid}' node='config' action='cancel'/>`));
  assert.is(norm(r), norm(cmd(`<command xmlns='http://jabber.org/protocol/commands' sessionid='x' node='config' status='canceled'/>`)));
  assert.is(s.openCount, 0);
});

// A fake device: one sensor, three actuators, ranges known for the setpoint.
function device(): DeviceView & { sets: [string, string, Value][] } {
  const things: DeviceThing[] = [
    { id: 'greenhouse', name: 'Greenhouse', fields: [
      { name: 'temperature', type: 'numeric', unit: '°C', precision: 1 },
      { name: 'setpoint', type: 'numeric', unit: '°C', precision: 1, writable: true, min: 5, max: 30 },
      { name: 'fan', type: 'boolean', writable: true },
      { name: 'mode', type: 'enum', values: ['auto', 'manual'], writable: true },
    ] },
    { id: 'door', fields: [{ name: 'open', type: 'boolean' }] },
  ];
  const state: Record<string, Value> = { 'greenhouse.temperature': 22.5, 'greenhouse.setpoint': 21, 'greenhouse.fan': false, 'greenhouse.mode': 'auto', 'door.open': true };
  const sets: [string, string, Value][] = [];
  return {
    sets,
    things: () => things,
    latest: (): Reading[] => things.map((t) => ({ thing: t.id, timestamp: 1_000_000, values: t.fields.map((f) => ({ field: f.name, value: state[`${t.id}.${f.name}`] })) })),
    async set(thing, field, value) {
      if (field === 'mode' && value === 'manual') throw new Error('manual mode is locked by the installer');
      sets.push([thing, field, value]);
      state[`${thing}.${field}`] = value;
    },
    now: () => 1_012_000,
  };
}

function sessionsFor(dev: DeviceView, acc = access()) {
  return new CommandSessions({ commands: [statusCommand(dev), readCommand(dev), setCommand(dev), alertsCommand(new MemoryAlertSwitch()), accessCommand(acc)], access: acc, selfJid: () => 'dev@domain/xiota' });
}

function formOf(el: Element): DataForm {
  return parseForm(el.getChild('x', 'jabber:x:data')!);
}

test('status: one stage, completed, a <reported>/<item> table and flat thing.field fields', async () => {
  const s = sessionsFor(device());
  const r = await s.handle(ME, cmd(`<command xmlns='${NS_COMMANDS}' node='status' action='execute'/>`));
  assert.is(r.attrs.status, 'completed');
  assert.ok(r.attrs.sessionid, 'a sessionid even on a first-stage completion (nbxmpp)');
  assert.not.ok(r.getChild('actions', NS_COMMANDS));
  const f = formOf(r);
  assert.is(f.type, 'result');
  assert.equal(f.fields.map((x) => x.var), ['greenhouse.temperature', 'greenhouse.setpoint', 'greenhouse.fan', 'greenhouse.mode', 'door.open']);
  assert.equal(f.fields[0]!.values, ['22.5 °C, 12 s ago']);
  assert.is(f.fields[0]!.label, 'Greenhouse temperature (°C)');
  assert.equal(f.fields[2]!.values, ['off, 12 s ago']);
  assert.equal(f.reported!.map((x) => x.var), ['thing', 'field', 'value', 'unit', 'updated']);
  assert.equal(f.items![1]!.map((x) => x.values![0]), ['greenhouse', 'setpoint', '21.0', '°C', '12 s ago']);
  assert.is(s.openCount, 0);
});

test('read: a list-single of things, then that thing\'s values', async () => {
  const s = sessionsFor(device());
  const r1 = await s.handle(ME, cmd(`<command xmlns='${NS_COMMANDS}' node='read'/>`));
  const f1 = formOf(r1);
  assert.equal(f1.fields[0]!.options, [{ label: 'Greenhouse (greenhouse)', value: 'greenhouse' }, { label: 'door', value: 'door' }]);
  const r2 = await s.handle(ME, cmd(`<command xmlns='${NS_COMMANDS}' node='read' sessionid='${r1.attrs.sessionid}'><x xmlns='jabber:x:data' type='submit'><field var='thing'><value>door</value></field></x></command>`));
  assert.is(r2.attrs.status, 'completed');
  assert.equal(formOf(r2).fields, [{ var: 'door.open', type: 'text-single', label: 'door open', values: ['on, 12 s ago'] }]);
});

test('set: the writable fields with current values, XEP-0122 datatypes and the known range', async () => {
  const s = sessionsFor(device());
  const r = await s.handle(ME, cmd(`<command xmlns='${NS_COMMANDS}' node='set'/>`));
  assert.is(r.attrs.status, 'executing');
  assert.is(norm(r.getChild('actions', NS_COMMANDS)!), norm(cmd(`<actions xmlns='${NS_COMMANDS}' execute='complete'><complete/></actions>`)));
  assert.is(norm(r.getChild('x', 'jabber:x:data')!), norm(cmd(`
<x xmlns='jabber:x:data' type='form'>
  <title>Set</title>
  <instructions>Change the values to set and submit; values left as they are stay unchanged.</instructions>
  <field var='greenhouse.setpoint' label='Greenhouse setpoint (°C)' type='text-single'>
    <desc>a decimal number such as 21.5 from 5 to 30 (°C)</desc>
    <validate xmlns='http://jabber.org/protocol/xdata-validate' datatype='xs:decimal'><range min='5' max='30'/></validate>
    <value>21.0</value>
  </field>
  <field var='greenhouse.fan' label='Greenhouse fan' type='boolean'><desc>on/off: true, false, 1 or 0</desc><value>0</value></field>
  <field var='greenhouse.mode' label='Greenhouse mode' type='list-single'>
    <desc>one of: auto, manual</desc><value>auto</value>
    <option><value>auto</value></option><option><value>manual</value></option>
  </field>
</x>`)));
});

async function submitSet(s: CommandSessions, fields: string, action = '') {
  const r1 = await s.handle(ME, cmd(`<command xmlns='${NS_COMMANDS}' node='set'/>`));
  return s.handle(ME, cmd(`<command xmlns='${NS_COMMANDS}' node='set' sessionid='${r1.attrs.sessionid}' ${action}><x xmlns='jabber:x:data' type='submit'>${fields}</x></command>`));
}

for (const action of ['', "action='execute'", "action='next'", "action='complete'"]) {
  test(`set submitted with ${action || 'no action'}: only changed fields are set, completed with one info note`, async () => {
    const dev = device();
    const r = await submitSet(sessionsFor(dev), `<field var='greenhouse.setpoint'><value>22.5</value></field><field var='greenhouse.fan'><value>true</value></field><field var='greenhouse.mode'><value>auto</value></field>`, action);
    assert.is(r.attrs.status, 'completed');
    assert.equal(dev.sets, [['greenhouse', 'setpoint', 22.5], ['greenhouse', 'fan', true]]);
    assert.is(norm(r), norm(cmd(`<command xmlns='${NS_COMMANDS}' node='set' status='completed'><note type='info'>Set greenhouse.setpoint = 22.5 °C, greenhouse.fan = on.</note></command>`)));
  });
}

const BAD_SETS: [string, string, RegExp][] = [
  ['a word for a number', `<field var='greenhouse.setpoint'><value>warm</value></field>`, /"Greenhouse setpoint \(°C\)" \(greenhouse.setpoint\): expected a decimal number such as 21.5 from 5 to 30, got "warm"/],
  ['out of range (99, as Profanity and poezio send)', `<field var='greenhouse.setpoint'><value>99</value></field><field var='greenhouse.fan'><value>1</value></field>`, /expected a decimal number such as 21.5 from 5 to 30, got "99"/],
  ['not a boolean', `<field var='greenhouse.fan'><value>maybe</value></field>`, /"Greenhouse fan" \(greenhouse.fan\): expected on\/off: true, false, 1 or 0, got "maybe"/],
  ['not an option', `<field var='greenhouse.mode'><value>turbo</value></field>`, /expected one of: auto, manual, got "turbo"/],
  ['an unknown field', `<field var='greenhouse.heater'><value>1</value></field>`, /"greenhouse.heater" is not a field of this form; the fields are greenhouse.setpoint, greenhouse.fan, greenhouse.mode/],
  ['a read-only field', `<field var='greenhouse.temperature'><value>30</value></field>`, /"greenhouse.temperature" is not a field of this form/],
  ['refused by the device', `<field var='greenhouse.mode'><value>manual</value></field>`, /greenhouse.mode: the device refused manual: manual mode is locked by the installer/],
];

for (const [what, fields, message] of BAD_SETS) {
  test(`set with ${what}: the form again, error in <instructions> and a fixed field, nothing set`, async () => {
    const dev = device();
    const s = sessionsFor(dev);
    const r = await submitSet(s, fields);
    assert.is(r.attrs.status, 'executing');
    const f = formOf(r);
    assert.match(f.instructions!.join('\n'), message);
    assert.is(f.fields[0]!.var, ERROR_VAR);
    assert.is(f.fields[0]!.type, 'fixed');
    assert.match(f.fields[0]!.values!.join('\n'), message);
    assert.equal(dev.sets, []);
    // Still the same session: a corrected submit (echoing our error field, as poezio does) works.
    const ok = await s.handle(ME, cmd(`<command xmlns='${NS_COMMANDS}' node='set' sessionid='${r.attrs.sessionid}'><x xmlns='jabber:x:data' type='submit'>
      <instructions>echoed</instructions><field var='${ERROR_VAR}'><value>echoed</value></field><field type='fixed'><value>x</value></field>
      <field var='greenhouse.setpoint'><validate xmlns='http://jabber.org/protocol/xdata-validate' datatype='xs:decimal'/><value>6</value></field></x></command>`));
    assert.is(ok.attrs.status, 'completed', ok.toString());
    assert.equal(dev.sets, [['greenhouse', 'setpoint', 6]]);
  });
}

test('set over the agent\'s deviceView and a real DriverHost: the range comes from the driver\'s FieldSpec (XEP-0122 <range/>), 99 refused, 21.5 applied', async () => {
  const host = new DriverHost({ drivers: [createSimulatedDriver('sim', { pollIntervalMs: 60_000, things: [{ id: 'greenhouse', fields: [
    { name: 'setpoint', type: 'numeric', unit: '°C', precision: 1, writable: true, min: 5, max: 30, initial: 20 },
  ] }] })], onReading: () => undefined });
  await host.start();
  try {
    await host.readOnce();
    const view = deviceView({ things: () => host.things(), latest: () => host.latestReadings(), drivers: host, now: () => Date.now() });
    const s = sessionsFor(view);
    const r1 = await s.handle(ME, cmd(`<command xmlns='${NS_COMMANDS}' node='set'/>`));
    const range = r1.getChild('x', 'jabber:x:data')!.getChild('field')!.getChild('validate', 'http://jabber.org/protocol/xdata-validate')!.getChild('range')!;
    assert.equal(range.attrs, { min: '5', max: '30' });
    const bad = await submitSet(s, `<field var='greenhouse.setpoint'><value>99</value></field>`);
    assert.is(bad.attrs.status, 'executing');
    assert.match(formOf(bad).instructions!.join('\n'), /expected a decimal number such as 21.5 from 5 to 30, got "99"/);
    const ok = await submitSet(s, `<field var='greenhouse.setpoint'><value>21.5</value></field>`);
    assert.is(ok.attrs.status, 'completed', ok.toString());
    assert.is((await host.readOnce())[0]!.values[0]!.value, 21.5);
  } finally {
    await host.stop();
  }
});

test('the submitted values are kept in the form sent back with an error', async () => {
  const r = await submitSet(sessionsFor(device()), `<field var='greenhouse.setpoint'><value>99</value></field><field var='greenhouse.mode'><value>manual</value></field>`);
  const f = formOf(r);
  assert.equal(f.fields.find((x) => x.var === 'greenhouse.setpoint')!.values, ['99']);
  assert.equal(f.fields.find((x) => x.var === 'greenhouse.mode')!.values, ['manual']);
});

test('access: stranger forbidden, reader may read not set, unknown node, bad action, foreign or expired session', async () => {
  let t = 0;
  const acc = access({ readers: ['reader@domain'] });
  const dev = device();
  const s = new CommandSessions({ commands: [statusCommand(dev), setCommand(dev), accessCommand(acc)], access: acc, selfJid: () => 'd', now: () => t, sessionTtlMs: 1000 });
  let e = await refused(s.handle('eve@evil/x', cmd(`<command xmlns='${NS_COMMANDS}' node='status'/>`)));
  assert.is(e.condition, 'forbidden');
  assert.match(e.text!, /"status" needs the read right; eve@evil is a stranger/);
  assert.is((await s.handle('reader@domain/r', cmd(`<command xmlns='${NS_COMMANDS}' node='status'/>`))).attrs.status, 'completed');
  e = await refused(s.handle('reader@domain/r', cmd(`<command xmlns='${NS_COMMANDS}' node='set'/>`)));
  assert.is(e.condition, 'forbidden');
  e = await refused(s.handle('reader@domain/r', cmd(`<command xmlns='${NS_COMMANDS}' node='access'/>`)));
  assert.is(e.condition, 'forbidden');
  assert.equal(s.visibleTo('reader@domain/r').map((c) => c.node), ['status']);
  assert.equal(s.visibleTo('eve@evil/x'), []);
  assert.equal(s.visibleTo(ME).map((c) => c.node), ['status', 'set', 'access']);
  e = await refused(s.handle(ME, cmd(`<command xmlns='${NS_COMMANDS}' node='reboot'/>`)));
  assert.is(e.condition, 'item-not-found');
  e = await refused(s.handle(ME, cmd(`<command xmlns='${NS_COMMANDS}' node='status' action='jump'/>`)));
  assert.is(e.condition, 'bad-request');
  assert.is(e.appElement!.name, 'malformed-action');
  const sid = (await s.handle(ME, cmd(`<command xmlns='${NS_COMMANDS}' node='set'/>`))).attrs.sessionid!;
  e = await refused(s.handle('requester@domain/other', cmd(`<command xmlns='${NS_COMMANDS}' node='set' sessionid='${sid}'/>`)));
  assert.is(e.appElement!.name, 'bad-sessionid');
  t = 1500;
  e = await refused(s.handle(ME, cmd(`<command xmlns='${NS_COMMANDS}' node='set' sessionid='${sid}'/>`)));
  assert.is(e.condition, 'not-allowed');
  assert.is(e.appElement!.name, 'session-expired');
  assert.equal(dev.sets, []);
});

test('sessions are bounded: per JID the oldest goes, overall a resource-constraint', async () => {
  const dev = device();
  const acc = access({ readers: ['@domain'] });
  const s = new CommandSessions({ commands: [readCommand(dev)], access: acc, selfJid: () => 'd', maxSessions: 6, maxSessionsPerJid: 2 });
  const first = (await s.handle('a@domain/1', cmd(`<command xmlns='${NS_COMMANDS}' node='read'/>`))).attrs.sessionid!;
  for (let i = 0; i < 4; i++) await s.handle('a@domain/1', cmd(`<command xmlns='${NS_COMMANDS}' node='read'/>`));
  assert.is(s.openCount, 2);
  const e1 = await refused(s.handle('a@domain/1', cmd(`<command xmlns='${NS_COMMANDS}' node='read' sessionid='${first}'/>`)));
  assert.is(e1.appElement!.name, 'bad-sessionid');
  for (const u of ['b', 'c']) for (let i = 0; i < 2; i++) await s.handle(`${u}@domain/1`, cmd(`<command xmlns='${NS_COMMANDS}' node='read'/>`));
  assert.is(s.openCount, 6);
  const e2 = await refused(s.handle('d@domain/1', cmd(`<command xmlns='${NS_COMMANDS}' node='read'/>`)));
  assert.is(e2.condition, 'resource-constraint');
});

test('a second submit of the same session while the first is setting is refused; the set happens once', async () => {
  const dev = device();
  const slow: DeviceView = { ...dev, set: async (th, f, v) => { await new Promise((r) => setTimeout(r, 50)); await dev.set(th, f, v); } };
  const s = sessionsFor(slow);
  const sid = (await s.handle(ME, cmd(`<command xmlns='${NS_COMMANDS}' node='set'/>`))).attrs.sessionid!;
  const submit = () => s.handle(ME, cmd(`<command xmlns='${NS_COMMANDS}' node='set' sessionid='${sid}'><x xmlns='jabber:x:data' type='submit'><field var='greenhouse.fan'><value>1</value></field></x></command>`));
  const [a, b] = await Promise.allSettled([submit(), submit()]);
  assert.is(a.status === 'fulfilled' && a.value.attrs.status, 'completed');
  assert.is(b.status === 'rejected' && (b.reason as StanzaError).condition, 'unexpected-request');
  assert.equal(dev.sets, [['greenhouse', 'fan', true]]);
});

test('a submit with no form gets the form again; prev on the first stage is a bad-action', async () => {
  const s = sessionsFor(device());
  const sid = (await s.handle(ME, cmd(`<command xmlns='${NS_COMMANDS}' node='set'/>`))).attrs.sessionid!;
  const r = await s.handle(ME, cmd(`<command xmlns='${NS_COMMANDS}' node='set' sessionid='${sid}' action='complete'/>`));
  assert.is(r.attrs.status, 'executing');
  assert.equal(formOf(r).instructions, ['Fill in the form and submit it (or cancel).']);
  const e = await refused(s.handle(ME, cmd(`<command xmlns='${NS_COMMANDS}' node='set' sessionid='${sid}' action='prev'/>`)));
  assert.is(e.appElement!.name, 'bad-action');
});

test('alerts and access commands (owner)', async () => {
  const acc = access();
  const alerts = new MemoryAlertSwitch();
  const s = new CommandSessions({ commands: [alertsCommand(alerts), accessCommand(acc)], access: acc, selfJid: () => 'd' });
  const run = async (node: string, fields: string) => {
    const sid = (await s.handle(ME, cmd(`<command xmlns='${NS_COMMANDS}' node='${node}'/>`))).attrs.sessionid!;
    return s.handle(ME, cmd(`<command xmlns='${NS_COMMANDS}' node='${node}' sessionid='${sid}'><x xmlns='jabber:x:data' type='submit'>${fields}</x></command>`));
  };
  let r = await run('alerts', `<field var='alerts'><value>0</value></field>`);
  assert.is(r.getChildText('note', NS_COMMANDS), 'Alerts are off for requester@domain.');
  assert.is(alerts.alertsOn(ME), false);
  assert.is(alerts.choice(ME), false);
  r = await run('access', `<field var='op'><value>allow</value></field><field var='jid'><value>bob@domain</value></field><field var='role'><value>controller</value></field>`);
  assert.is(r.getChildText('note', NS_COMMANDS), 'bob@domain is now a controller.');
  assert.is(acc.roleOf('bob@domain/phone'), 'controller');
  r = await run('access', `<field var='op'><value>allow</value></field>`);
  assert.match(formOf(r).instructions![0]!, /"Who" \(jid\) is needed to allow/);
  r = await run('access', `<field var='op'><value>revoke</value></field><field var='jid'><value>requester@domain</value></field>`);
  assert.match(formOf(r).instructions![0]!, /is an owner; owners change only in the config file/);
  await acc.addThingOwner('erin@domain', 'greenhouse', 'registry.domain');
  r = await run('access', `<field var='op'><value>list</value></field>`);
  const f = formOf(r);
  assert.equal(f.items!.map((row) => row.map((c) => c.values![0]).join(' ')), ['requester@domain owner config', 'bob@domain controller allowed', 'erin@domain owner of greenhouse thing-claim']);
  r = await run('access', `<field var='op'><value>revoke</value></field><field var='jid'><value>bob@domain</value></field>`);
  assert.is(r.getChildText('note', NS_COMMANDS), 'bob@domain: access revoked, now a stranger.');
  assert.is(acc.roleOf('bob@domain'), 'stranger');
});

test('the agent loads the commands module from its list; stop() removes its handlers and feature', async () => {
  const r = configFromObject({ account: { jid: 'dev@example.org', password: 'x' }, server: { host: '127.0.0.1', port: 1 }, outbox: { dir: join(tmpdir(), `xiota-commands-unit-${process.pid}`, 'outbox') } });
  assert.equal(r.errors, []);
  const agent = new Agent({ config: r.config!, credentials: { password: 'x', source: 'password', warnings: [] }, drivers: [] });
  assert.ok(agent.modules.names().includes('commands'));
  assert.ok(agent.client.router.has(`iq/set/${NS_COMMANDS}`));
  assert.ok(agent.disco.featureList().includes(NS_COMMANDS));
  await agent.stop();
  assert.not.ok(agent.client.router.has(`iq/set/${NS_COMMANDS}`));
  assert.not.ok(agent.disco.featureList().includes(NS_COMMANDS));
});

test.run();
