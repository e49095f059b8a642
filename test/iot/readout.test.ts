// XEP-0323 readout, thing side, without a socket: the XEP's own example stanzas (literal XML)
// into the module over a real Router, a real DriverHost and simulated driver, and the stanzas
// out; then the request parser on bad input, and the answer builder's limits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AccessStore } from '../../agent/access-store';
import { parseReq, selectThings, answerPayloads, MAX_FIELDS_PER_MESSAGE, FIELD_KINDS, HISTORICAL_KINDS, type ReadoutRequest } from '../../agent/iot/readout';
import { StanzaError } from '../../agent/session/stanza';
import { install, NS_SENSORDATA } from '../../agent/xep/sensordata';
import { Element } from '../../agent/xml/element';
import { DriverHost } from '../../drivers/host';
import { createSimulatedDriver, type SimulatedThingOptions } from '../../drivers/simulated';
import type { Driver, Reading } from '../../drivers/types';
import { parseXml } from '../pubsub/xml';
import { testContext } from '../xep/_context';
import { waitFor } from '../session/_helpers';

const T0 = Date.parse('2013-03-07T16:24:30Z');
const CLIENT = 'client@example.org/amr';

const THINGS: SimulatedThingOptions[] = [
  { id: 'Device01', fields: [{ name: 'Temperature', type: 'numeric', unit: '°C', precision: 1, waveform: 'constant', initial: 23.4 }] },
  { id: 'Device02', fields: [{ name: 'Temperature', type: 'numeric', unit: '°C', precision: 1, waveform: 'constant', initial: 23.4 }] },
  { id: 'Device03', fields: [{ name: 'Temperature', type: 'numeric', unit: '°C', precision: 1, waveform: 'constant', initial: 22.8 }] },
  { id: 'Device04', fields: [
    { name: 'Energy', type: 'numeric', unit: 'MWh', precision: 2, waveform: 'constant', initial: 12345.67, max: 1e6 },
    { name: 'Power', type: 'numeric', unit: 'W', precision: 1, waveform: 'constant', initial: 239.4, max: 1e6 },
    { name: 'Relay', type: 'boolean', writable: true, initial: true },
  ] },
];

function norm(el: Element): string {
  const attrs = Object.entries(el.attrs).sort(([a], [b]) => a.localeCompare(b));
  const copy = new Element(el.name, el.xmlns, Object.fromEntries(attrs));
  for (const c of el.children) {
    if (typeof c !== 'string') copy.children.push(parseXml(norm(c)));
    else if (c.trim()) copy.children.push(c.trim());
  }
  return copy.toString();
}

const hosts: DriverHost[] = [];
test.after.each(async () => { for (const h of hosts.splice(0)) await h.stop(); });

async function setup(o: { drivers?: Driver[]; deadlineMs?: number; maxActive?: number; maxPer?: number } = {}) {
  const t = testContext('device@example.org');
  t.clock.t = T0;
  // A short sample timeout: the hung drivers' timers must not hold the process open.
  const host = new DriverHost({ sampleTimeoutMs: 300, drivers: o.drivers ?? [createSimulatedDriver('sim', { things: THINGS, pollIntervalMs: 3_600_000 }, { now: () => t.clock.t })] });
  await host.start();
  hosts.push(host);
  const access = new AccessStore({ policy: { owners: [], controllers: [], readers: ['client@example.org'], strangers: 'refuse' } });
  const mod = install(t.ctx, {
    drivers: host, access, things: () => host.things(), latest: () => host.latestReadings(), now: () => t.clock.t,
    sampleDeadlineMs: o.deadlineMs ?? 500, maxActive: o.maxActive, maxPerRequester: o.maxPer,
  });
  const ask = async (xml: string) => {
    const before = t.sent.length;
    await t.router.dispatch(parseXml(xml));
    return t.sent[before]!;
  };
  /** Messages sent to the client for seqnr until its <done/>. */
  const answers = async (seqnr: string) => {
    await waitFor(`done ${seqnr}`, () => t.sent.some((s) => s.name === 'message' && s.getChild('done', NS_SENSORDATA)?.attrs.seqnr === seqnr), 3000, 2);
    return t.sent.filter((s) => s.name === 'message').flatMap((s) => s.elements.filter((e) => e.xmlns === NS_SENSORDATA && e.attrs.seqnr === seqnr));
  };
  return { t, host, mod, ask, answers };
}

test('XEP-0323 example 1-3: momentary req -> accepted, then fields done=true (and a <done/> for spec readers)', async () => {
  const { t, host, ask, answers } = await setup();
  const reply = await ask(`<iq type='get' from='${CLIENT}' to='device@example.org' id='S0001'><req xmlns='urn:xmpp:iot:sensordata' seqnr='1' momentary='true'><node nodeId='Device01'/></req></iq>`);
  assert.is(norm(reply), norm(parseXml(`<iq type='result' to='${CLIENT}' id='S0001' xmlns='jabber:client'><accepted xmlns='urn:xmpp:iot:sensordata' seqnr='1'/></iq>`)).replace(" xmlns=\"jabber:client\"", ''));
  const msgs = await answers('1');
  assert.is(msgs.length, 2);
  assert.is(norm(msgs[0]!), norm(parseXml(`
  <fields xmlns='urn:xmpp:iot:sensordata' seqnr='1' done='true'>
    <node nodeId='Device01'>
      <timestamp value='2013-03-07T16:24:30.000Z'>
        <numeric name='Temperature' momentary='true' automaticReadout='true' value='23.4' unit='°C'/>
      </timestamp>
    </node>
  </fields>`)));
  assert.is(norm(msgs[1]!), `<done xmlns="${NS_SENSORDATA}" seqnr="1"/>`);
  assert.ok(t.sent.every((s) => s.name !== 'message' || s.attrs.to === CLIENT));
  // The end travels as one stanza (no trailing write for the server to hold behind an ACK).
  const lastMsg = t.sent.filter((s) => s.name === 'message').pop()!;
  assert.equal(lastMsg.elements.map((e) => e.name), ['fields', 'done']);
  await host.stop();
});

test('XEP-0323 example 6 (multiple devices): one fields message per node, the last done=true', async () => {
  const { host, ask, answers } = await setup();
  await ask(`<iq type='get' from='${CLIENT}' id='S0005'><req xmlns='urn:xmpp:iot:sensordata' seqnr='5' momentary='true'><node nodeId='Device02'/><node nodeId='Device03'/></req></iq>`);
  const msgs = await answers('5');
  assert.equal(msgs.map((m) => `${m.name}:${m.getChild('node')?.attrs.nodeId ?? ''}:${m.attrs.done ?? ''}`), ['fields:Device02:', 'fields:Device03:true', 'done::']);
  assert.is(msgs[1]!.getChild('node')!.getChild('timestamp')!.getChild('numeric')!.attrs.value, '22.8');
  await host.stop();
});

test('XEP-0323 example 7 (specific fields): only Energy and Power, with their units', async () => {
  const { host, ask, answers } = await setup();
  await ask(`<iq type='get' from='${CLIENT}' id='S0006'><req xmlns='urn:xmpp:iot:sensordata' seqnr='6' momentary='true'><node nodeId='Device04'/><field name='Energy'/><field name='Power'/></req></iq>`);
  const msgs = await answers('6');
  const fs = msgs[0]!.getChild('node')!.getChild('timestamp')!.elements;
  assert.equal(fs.map((f) => `${f.name} ${f.attrs.name}=${f.attrs.value} ${f.attrs.unit}`), ['numeric Energy=12345.67 MWh', 'numeric Power=239.4 W']);
  await host.stop();
});

test('XEP-0323 example 4 (read-out rejected): a stranger gets forbidden, with slixmpp\'s <rejected> beside the error', async () => {
  const { t, host, ask } = await setup();
  const r = await ask(`<iq type='get' from='eve@example.org/x' id='S0003'><req xmlns='urn:xmpp:iot:sensordata' seqnr='3' momentary='true'/></iq>`);
  assert.is(r.attrs.type, 'error');
  assert.is(r.getChild('error')!.attrs.type, 'cancel');
  assert.ok(r.getChild('error')!.getChild('forbidden'));
  const rej = r.getChild('rejected', NS_SENSORDATA)!;
  assert.is(rej.attrs.seqnr, '3');
  assert.match(rej.getChildText('error')!, /read right/);
  await new Promise((res) => setTimeout(res, 30));
  assert.not.ok(t.sent.some((s) => s.name === 'message'), 'nothing read for a stranger');
  await host.stop();
});

test('unknown node and unknown field: item-not-found naming them, nothing sent after', async () => {
  const { host, ask } = await setup();
  const a = await ask(`<iq type='get' from='${CLIENT}' id='a'><req xmlns='urn:xmpp:iot:sensordata' seqnr='7' momentary='true'><node nodeId='Attic'/></req></iq>`);
  assert.ok(a.getChild('error')!.getChild('item-not-found'));
  assert.match(a.getChild('rejected')!.getChildText('error')!, /no node "Attic": this device has Device01/);
  const b = await ask(`<iq type='get' from='${CLIENT}' id='b'><req xmlns='urn:xmpp:iot:sensordata' seqnr='8' momentary='true'><field name='Humidity'/></req></iq>`);
  assert.match(b.getChild('rejected')!.getChildText('error')!, /no field "Humidity"/);
  await host.stop();
});

test('XEP-0323 example 8 (cancel a scheduled readout): queued=true, cancelled, and it never runs', async () => {
  const { t, host, ask, mod } = await setup();
  const r = await ask(`<iq type='get' from='${CLIENT}' id='S0007'><req xmlns='urn:xmpp:iot:sensordata' seqnr='8' all='true' when='2013-03-07T23:30:00'/></iq>`);
  assert.is(r.getChild('accepted')!.attrs.queued, 'true');
  assert.is(mod.active(), 1);
  const c = await ask(`<iq type='get' from='${CLIENT}' id='S0008'><cancel xmlns='urn:xmpp:iot:sensordata' seqnr='8'/></iq>`);
  assert.is(norm(c.getChild('cancelled')!), norm(parseXml(`<cancelled xmlns='urn:xmpp:iot:sensordata' seqnr='8'/>`)));
  assert.is(mod.active(), 0);
  t.advance(8 * 3600_000);
  await new Promise((res) => setTimeout(res, 30));
  assert.not.ok(t.sent.some((s) => s.name === 'message'));
  const again = await ask(`<iq type='get' from='${CLIENT}' id='S0009'><cancel xmlns='urn:xmpp:iot:sensordata' seqnr='8'/></iq>`);
  assert.ok(again.getChild('error')!.getChild('item-not-found'));
  await host.stop();
});

test('scheduled readout (when): queued, then started, fields and done at that time; a past when reads at once', async () => {
  const { t, host, ask, answers } = await setup();
  const r = await ask(`<iq type='get' from='${CLIENT}' id='q'><req xmlns='urn:xmpp:iot:sensordata' seqnr='4' momentary='true' when='2013-03-07T19:00:00Z'><node nodeId='Device01'/></req></iq>`);
  assert.is(r.getChild('accepted')!.attrs.queued, 'true');
  t.advance(3600_000);
  assert.not.ok(t.sent.some((s) => s.name === 'message'), 'not before its time');
  t.advance(5_730_000); // to 19:00:00 exactly
  const msgs = await answers('4');
  assert.equal(msgs.map((m) => m.name), ['started', 'fields', 'done']);
  assert.is(msgs[1]!.getChild('node')!.getChild('timestamp')!.attrs.value, '2013-03-07T19:00:00.000Z');
  const p = await ask(`<iq type='get' from='${CLIENT}' id='p'><req xmlns='urn:xmpp:iot:sensordata' seqnr='9' momentary='true' when='2000-01-01T00:00:00Z'/></iq>`);
  assert.is(p.getChild('accepted')!.attrs.queued, undefined);
  assert.equal((await answers('9')).map((m) => m.name), ['fields', 'fields', 'fields', 'fields', 'done']);
  const far = await ask(`<iq type='get' from='${CLIENT}' id='f'><req xmlns='urn:xmpp:iot:sensordata' seqnr='10' momentary='true' when='2099-01-01T00:00:00Z'/></iq>`);
  assert.ok(far.getChild('error')!.getChild('bad-request'));
  assert.match(far.getChild('rejected')!.getChildText('error')!, /more than 7 days ahead/);
  await host.stop();
});

test('a hung driver: the last value goes out with its true timestamp and warning=true, within the deadline', async () => {
  let hang = false;
  const sim = createSimulatedDriver('sim', { things: [THINGS[0]!], pollIntervalMs: 3_600_000 }, { now: () => Date.now() });
  const driver: Driver = {
    kind: 'test', id: 'hanging', pollIntervalMs: 3_600_000,
    things: () => sim.things(), start: (c) => sim.start(c), stop: () => sim.stop(),
    sample: () => (hang ? new Promise<Reading[]>(() => undefined) : sim.sample!()),
  };
  const { host, ask, answers } = await setup({ drivers: [driver], deadlineMs: 100 });
  await ask(`<iq type='get' from='${CLIENT}' id='1'><req xmlns='urn:xmpp:iot:sensordata' seqnr='1' momentary='true'/></iq>`);
  const first = await answers('1');
  const ts1 = first[0]!.getChild('node')!.getChild('timestamp')!;
  assert.is(ts1.getChild('numeric')!.attrs.warning, undefined);
  hang = true;
  const t0 = Date.now();
  await ask(`<iq type='get' from='${CLIENT}' id='2'><req xmlns='urn:xmpp:iot:sensordata' seqnr='2' momentary='true'/></iq>`);
  const second = await answers('2');
  const took = Date.now() - t0;
  assert.ok(took < 400, `answered in ${took} ms`);
  const ts2 = second[0]!.getChild('node')!.getChild('timestamp')!;
  assert.is(ts2.attrs.value, ts1.attrs.value, 'the true (older) timestamp');
  assert.is(ts2.getChild('numeric')!.attrs.warning, 'true');
  assert.is(ts2.getChild('numeric')!.attrs.value, '23.4');
  await host.stop();
});

test('a thing never read and a hung driver: failure done=true naming the node, then done', async () => {
  const driver: Driver = {
    kind: 'test', id: 'hanging', pollIntervalMs: 3_600_000,
    things: () => [{ id: 'Dead', fields: [{ name: 'x', type: 'numeric' }] }],
    start: async () => undefined, stop: async () => undefined,
    sample: () => new Promise<Reading[]>(() => undefined),
  };
  const { host, ask, answers } = await setup({ drivers: [driver], deadlineMs: 50 });
  await ask(`<iq type='get' from='${CLIENT}' id='1'><req xmlns='urn:xmpp:iot:sensordata' seqnr='1' momentary='true'/></iq>`);
  const msgs = await answers('1');
  assert.equal(msgs.map((m) => m.name), ['failure', 'done']);
  assert.is(msgs[0]!.attrs.done, 'true');
  assert.is(msgs[0]!.getChild('error')!.attrs.nodeId, 'Dead');
  assert.match(msgs[0]!.getChildText('error')!, /within 50 ms/);
  await host.stop();
});

test('field types: peak/status/identity/historical only -> accepted and done with no fields; all -> momentary values', async () => {
  const { host, ask, answers } = await setup();
  for (const [seq, attr] of [['20', "peak='true'"], ['21', "historicalHour='true' historicalDay='true'"], ['22', "identification='true'"], ['23', "historical='true'"]]) {
    const r = await ask(`<iq type='get' from='${CLIENT}' id='${seq}'><req xmlns='urn:xmpp:iot:sensordata' seqnr='${seq}' ${attr}/></iq>`);
    assert.ok(r.getChild('accepted'), attr);
    const msgs = await answers(seq!);
    assert.equal(msgs.map((m) => `${m.name}${m.attrs.done ? ' done' : ''}:${m.elements.length}`), ['fields done:0', 'done:0'], attr);
  }
  const all = await answers((await ask(`<iq type='get' from='${CLIENT}' id='24'><req xmlns='urn:xmpp:iot:sensordata' seqnr='24' all='true'><node nodeId='Device04'/></req></iq>`), '24'));
  assert.is(all[0]!.getChild('node')!.getChild('timestamp')!.elements.length, 3);
  assert.is(all[0]!.getChild('node')!.getChild('timestamp')!.getChild('boolean')!.attrs.writable, 'true');
  await host.stop();
});

test('limits: too many readouts at once -> resource-constraint (wait), and a running seqnr again -> conflict', async () => {
  const { host, ask, answers } = await setup({ maxPer: 2 });
  const q = (s: string) => ask(`<iq type='get' from='${CLIENT}' id='${s}'><req xmlns='urn:xmpp:iot:sensordata' seqnr='${s}' momentary='true' when='2013-03-07T18:00:00Z'/></iq>`);
  assert.ok((await q('1')).getChild('accepted'));
  assert.ok((await q('1')).getChild('error')!.getChild('conflict'));
  assert.ok((await q('2')).getChild('accepted'));
  const third = await q('3');
  assert.is(third.getChild('error')!.attrs.type, 'wait');
  assert.ok(third.getChild('error')!.getChild('resource-constraint'));
  void answers;
  await host.stop();
});

const req = (attrs: string, body = '') => parseXml(`<req xmlns='urn:xmpp:iot:sensordata' ${attrs}>${body}</req>`);

test('parseReq: flags, defaults and the spec slip (identification reads as identity)', () => {
  const r = parseReq(req("seqnr='1' momentary='true' identification='true'")) as ReadoutRequest;
  assert.equal([...r.kinds].sort(), ['identity', 'momentary']);
  const none = parseReq(req("seqnr='2'")) as ReadoutRequest;
  assert.is(none.kinds.size, FIELD_KINDS.length, 'no flag: every type');
  const hist = parseReq(req("seqnr='3' historical='true'")) as ReadoutRequest;
  assert.equal([...hist.kinds].sort(), [...HISTORICAL_KINDS].sort());
  const ft = parseReq(req("seqnr='4' momentary='true' from='2013-03-07T00:00:00' to='2013-03-08T00:00:00Z'")) as ReadoutRequest;
  assert.is(ft.from, Date.parse('2013-03-07T00:00:00Z'));
});

test('parseReq: malformed requests get bad-request saying what to send', () => {
  const cases: [Element, RegExp][] = [
    [req("momentary='true'"), /needs a seqnr/],
    [req("seqnr='1' momentary='yes'"), /momentary='yes' is not a boolean/],
    [req("seqnr='1' when='tomorrow'"), /when='tomorrow' is not an xs:dateTime/],
    [req("seqnr='1' from='2013-03-08T00:00:00Z' to='2013-03-07T00:00:00Z'"), /from is after to/],
    [req("seqnr='1'", "<node/>"), /needs a nodeId/],
    [req("seqnr='1'", "<field/>"), /needs a name/],
    [req("seqnr='1'", "<field name='x'/>".repeat(300)), /lists 300 fields; ask for at most 256/],
    [req(`seqnr='${'9'.repeat(300)}'`), /seqnr is 300 characters/],
  ];
  for (const [el, re] of cases) {
    const r = parseReq(el);
    assert.ok(r instanceof StanzaError, el.toString().slice(0, 80));
    assert.is((r as StanzaError).condition, 'bad-request');
    assert.match((r as StanzaError).text!, re);
  }
});

test('selectThings: all things by default, listed ones in order', () => {
  const things = [{ id: 'a', fields: [{ name: 'x', type: 'numeric' as const }] }, { id: 'b', fields: [] }];
  assert.equal((selectThings(parseReq(req("seqnr='1'")) as ReadoutRequest, things) as { id: string }[]).map((t) => t.id), ['a', 'b']);
  assert.equal((selectThings(parseReq(req("seqnr='1'", "<node nodeId='b'/><node nodeId='a'/>")) as ReadoutRequest, things) as { id: string }[]).map((t) => t.id), ['b', 'a']);
});

test('answerPayloads: a thing with 1000 fields streams as bounded fields messages', () => {
  const n = 1000;
  const thing = { id: 'big', fields: Array.from({ length: n }, (_, i) => ({ name: `f${i}`, type: 'int' as const })) };
  const reading: Reading = { thing: 'big', timestamp: T0, values: thing.fields.map((f, i) => ({ field: f.name, value: i })) };
  const out = answerPayloads('7', [{ thing, fresh: reading }], { momentary: true, now: T0 });
  const fields = out.filter((e) => e.name === 'fields');
  assert.is(fields.length, n / MAX_FIELDS_PER_MESSAGE);
  assert.ok(fields.every((f) => f.getChild('node')!.getChild('timestamp')!.elements.length <= MAX_FIELDS_PER_MESSAGE));
  assert.equal(fields.map((f) => f.attrs.done), [...Array(fields.length - 1).fill(undefined), 'true']);
  assert.is(out[out.length - 1]!.name, 'done');
  assert.ok(fields.every((f) => f.toString().length < 12_000), 'each stanza stays small');
});

test.run();
