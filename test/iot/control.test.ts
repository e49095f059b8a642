// XEP-0325 control, thing side, without a socket: the XEP's example sets (literal XML) through
// the module over a real Router, a real DriverHost and simulated actuators; refusals change
// nothing; the control form; and DriverHost.readThing (the read-back that publishes a set).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AccessStore } from '../../agent/access-store';
import { parseParamValue, parseSet, resolve, PARAM_TYPES, type ParsedSet } from '../../agent/iot/control-params';
import { StanzaError } from '../../agent/session/stanza';
import { install, NS_CONTROL } from '../../agent/xep/control';
import { NS_DATA } from '../../agent/xep/forms';
import { DriverHost } from '../../drivers/host';
import { createSimulatedDriver } from '../../drivers/simulated';
import type { Reading, Value } from '../../drivers/types';
import { parseXml } from '../pubsub/xml';
import { testContext } from '../xep/_context';
import { waitFor } from '../session/_helpers';

const BOSS = 'primary@example.org/amr';

const hosts: DriverHost[] = [];
test.after.each(async () => { for (const h of hosts.splice(0)) await h.stop(); });

async function setup() {
  const t = testContext('device@example.org');
  const delivered: Reading[] = [];
  const host = new DriverHost({
    onReading: (r) => delivered.push(r),
    drivers: [createSimulatedDriver('sim', {
      pollIntervalMs: 3_600_000,
      things: [
        { id: 'dimmer', name: 'Dimmer', fields: [
          { name: 'Output', type: 'boolean', writable: true, initial: false },
          { name: 'OutputPercent', type: 'int', writable: true, initial: 100, min: 0, max: 100 },
          { name: 'FadeTimeMilliseconds', type: 'int', writable: true, initial: 300 },
          { name: 'Level', type: 'numeric', unit: 'mA', precision: 3, writable: true, initial: 4 },
          { name: 'Row1', type: 'string', writable: true, initial: '' },
          { name: 'Mode', type: 'enum', values: ['auto', 'manual'], writable: true, initial: 'auto' },
          { name: 'Temperature', type: 'numeric', unit: '°C', waveform: 'constant', initial: 21 },
        ] },
        { id: 'spot', fields: [{ name: 'Output', type: 'boolean', writable: true, initial: false }, { name: 'Color', type: 'string', writable: true, initial: '000000' }] },
      ],
    })],
  });
  await host.start();
  hosts.push(host);
  await host.readOnce();
  const access = new AccessStore({ policy: { owners: [], controllers: ['primary@example.org'], readers: ['reader@example.org'], strangers: 'refuse' } });
  install(t.ctx, {
    drivers: host, access, things: () => host.things(), latest: () => host.latestReadings(),
    // The FieldSpec's own range (min/max) for OutputPercent; the wiring overrides Level's.
    rangeOf: (th, f) => (th === 'dimmer' && f === 'Level' ? { min: 4, max: 20 } : undefined),
  });
  const dispatch = async (xml: string) => {
    const before = t.sent.length;
    await t.router.dispatch(parseXml(xml));
    return t.sent[before];
  };
  const value = async (thing: string, field: string): Promise<Value | undefined> => (await host.readThing(thing))?.values.find((v) => v.field === field)?.value;
  return { t, host, dispatch, value, delivered };
}

test('XEP-0325 IQ set (example 2): result with setResponse responseCode=OK, the value set, and read back through the pipeline', async () => {
  const { dispatch, value, delivered } = await setup();
  const r = (await dispatch(`<iq type='set' from='${BOSS}' to='device@example.org' id='1'><set xmlns='urn:xmpp:iot:control' xml:lang='en'><node nodeId='dimmer'/><boolean name='Output' value='true'/></set></iq>`))!;
  assert.is(r.attrs.type, 'result');
  assert.is(r.getChild('setResponse', NS_CONTROL)!.attrs.responseCode, 'OK');
  assert.is(await value('dimmer', 'Output'), true);
  await waitFor('read-back delivered', () => delivered.some((d) => d.thing === 'dimmer' && d.values.some((v) => v.field === 'Output' && v.value === true)), 2000, 5);
});

test('XEP-0325 typed examples: int, long, string, double, date, time, dateTime, duration, color each set (or refused by type)', async () => {
  const { dispatch, value } = await setup();
  const set = async (body: string) => (await dispatch(`<iq type='set' from='${BOSS}' id='x'><set xmlns='urn:xmpp:iot:control'>${body}</set></iq>`))!;
  assert.is((await set(`<int name='OutputPercent' value='50'/>`)).attrs.type, 'result');
  assert.is(await value('dimmer', 'OutputPercent'), 50);
  assert.is((await set(`<long name='FadeTimeMilliseconds' value='500000000000000'/>`)).attrs.type, 'result');
  assert.is(await value('dimmer', 'FadeTimeMilliseconds'), 500000000000000);
  assert.is((await set(`<string name='Row1' value='Temperature: 21.4 °C'/>`)).attrs.type, 'result');
  assert.is(await value('dimmer', 'Row1'), 'Temperature: 21.4 °C');
  assert.is((await set(`<double name='Level' value='8.192'/>`)).attrs.type, 'result');
  assert.is(await value('dimmer', 'Level'), 8.192);
  for (const [el, v] of [['date', '2013-05-01'], ['time', '08:00:00'], ['dateTime', '2013-04-02T08:00:00'], ['duration', 'PT3M30S']]) {
    assert.is((await set(`<${el} name='Row1' value='${v}'/>`)).attrs.type, 'result', el);
    assert.is(await value('dimmer', 'Row1'), v, el);
  }
  assert.is((await set(`<node nodeId='spot'/><color name='Color' value='3399ff'/>`)).attrs.type, 'result');
  assert.is(await value('spot', 'Color'), '3399FF');
});

test('refusals change nothing: read-only, wrong type, out of range, unknown, ambiguous; paramError per parameter', async () => {
  const { dispatch, value } = await setup();
  const refuse = async (body: string, re: RegExp, code: string) => {
    const r = (await dispatch(`<iq type='set' from='${BOSS}' id='x'><set xmlns='urn:xmpp:iot:control'>${body}</set></iq>`))!;
    assert.is(r.attrs.type, 'error', body);
    const err = r.getChild('error')!;
    assert.ok(err.getChild('bad-request'), body);
    assert.is(err.attrs.type, 'modify');
    const pe = err.getChildren('paramError', NS_CONTROL);
    assert.ok(pe.length >= 1, body);
    assert.match(pe.map((p) => `${p.attrs.var}: ${p.text()}`).join('\n'), re);
    const sr = r.getChild('setResponse', NS_CONTROL)!;
    assert.is(sr.attrs.responseCode, code, body);
    return pe;
  };
  await refuse(`<node nodeId='dimmer'/><double name='Temperature' value='30'/>`, /Temperature: dimmer.Temperature is read-only/, 'OtherError');
  await refuse(`<node nodeId='dimmer'/><int name='Output' value='1'/>`, /invalid parameter type: dimmer.Output takes boolean, not int/, 'OtherError');
  await refuse(`<int name='OutputPercent' value='200'/>`, /takes 0 to 100, not 200/, 'OtherError');
  await refuse(`<int name='OutputPercent' value='3000000000'/>`, /out of range for xs:int/, 'OtherError');
  await refuse(`<double name='Level' value='20.5'/>`, /dimmer.Level takes 4 to 20, not 20.5/, 'OtherError');
  await refuse(`<string name='Mode' value='turbo'/>`, /takes one of auto, manual, not "turbo"/, 'OtherError');
  await refuse(`<boolean name='Output' value='true'/>`, /a field of dimmer and spot: name it thing.field \(dimmer.Output\)/, 'NotFound');
  await refuse(`<boolean name='Fan' value='true'/>`, /no parameter "Fan": the writable fields are dimmer.Output/, 'NotFound');
  // Two parameters, one bad: neither is applied.
  const pe = await refuse(`<int name='FadeTimeMilliseconds' value='700'/><int name='OutputPercent' value='-5'/>`, /OutputPercent/, 'OtherError');
  assert.is(pe.length, 1);
  assert.is(await value('dimmer', 'FadeTimeMilliseconds'), 300, 'the good parameter was not applied either');
  assert.is(await value('dimmer', 'OutputPercent'), 100);
});

test('a stranger and a reader are forbidden, by iq and by message; nothing changes; message sets are never answered', async () => {
  const { t, dispatch, value } = await setup();
  for (const who of ['eve@example.org/x', 'reader@example.org/y']) {
    const r = (await dispatch(`<iq type='set' from='${who}' id='1'><set xmlns='urn:xmpp:iot:control'><boolean name='dimmer.Output' value='true'/></set></iq>`))!;
    assert.ok(r.getChild('error')!.getChild('forbidden'), who);
    assert.is(r.getChild('setResponse', NS_CONTROL)!.attrs.responseCode, 'InsufficientPrivileges');
    const before = t.sent.length;
    await dispatch(`<message from='${who}' to='device@example.org'><set xmlns='urn:xmpp:iot:control'><boolean name='dimmer.Output' value='true'/></set></message>`);
    assert.is(t.sent.length, before, 'no answer to a message');
  }
  assert.is(await value('dimmer', 'Output'), false);
  // XEP-0325 example 1: by message (slixmpp sends type='set'), from a controller.
  const before = t.sent.length;
  await dispatch(`<message from='${BOSS}' to='device@example.org' type='set'><set xmlns='urn:xmpp:iot:control'><boolean name='dimmer.Output' value='true'/></set></message>`);
  assert.is(t.sent.length, before);
  assert.is(await value('dimmer', 'Output'), true);
});

test('getForm: writable fields with current values, XEP-0122 datatypes, range, notSame; a submitted partial form sets only what it carries', async () => {
  const { dispatch, value } = await setup();
  const r = (await dispatch(`<iq type='get' from='${BOSS}' id='3'><getForm xmlns='urn:xmpp:iot:control' xml:lang='en'><node nodeId='dimmer'/></getForm></iq>`))!;
  const form = r.getChild('x', NS_DATA)!;
  assert.is(form.attrs.type, 'form');
  assert.is(form.getChildText('title'), 'Dimmer');
  const fields = form.getChildren('field');
  assert.equal(fields.map((f) => f.attrs.var), ['Output', 'OutputPercent', 'FadeTimeMilliseconds', 'Level', 'Row1', 'Mode']);
  const pct = fields[1]!;
  assert.is(pct.getChildText('value'), '100');
  assert.is(pct.getChild('validate')!.attrs.datatype, 'xs:long');
  assert.equal(pct.getChild('validate')!.getChild('range')!.attrs, { min: '0', max: '100' });
  assert.ok(fields.every((f) => f.getChild('notSame', 'urn:xmpp:xdata:dynamic')), 'XEP-0325 4.3: every parameter notSame');
  assert.is(fields[0]!.attrs.type, 'boolean');
  assert.is(fields[5]!.attrs.type, 'list-single');
  // XEP-0325 'Setting a (partial) control form', with its hidden xdd session field.
  const ok = (await dispatch(`<iq type='set' from='${BOSS}' id='5'><set xmlns='urn:xmpp:iot:control' xml:lang='en'><node nodeId='dimmer'/>
    <x type='submit' xmlns='jabber:x:data'><field var='xdd session' type='hidden'><value>325ED0F3</value></field>
    <field var='FadeTimeMilliseconds' type='text-single'><value>500</value></field><field var='OutputPercent' type='text-single'><value>10</value></field></x></set></iq>`))!;
  assert.is(ok.attrs.type, 'result', ok.toString());
  assert.is(await value('dimmer', 'OutputPercent'), 10);
  assert.is(await value('dimmer', 'FadeTimeMilliseconds'), 500);
  assert.is(await value('dimmer', 'Output'), false, 'not in the form: left as it is');
  // 'Setting a (partial) control form, Failure': OutputPercent 200.
  const bad = (await dispatch(`<iq type='set' from='${BOSS}' id='6'><set xmlns='urn:xmpp:iot:control'><node nodeId='dimmer'/>
    <x type='submit' xmlns='jabber:x:data'><field var='FadeTimeMilliseconds'><value>900</value></field><field var='OutputPercent'><value>200</value></field></x></set></iq>`))!;
  assert.is(bad.attrs.type, 'error');
  assert.equal(bad.getChild('error')!.getChildren('paramError', NS_CONTROL).map((p) => p.attrs.var), ['OutputPercent']);
  assert.is(bad.getChild('setResponse', NS_CONTROL)!.attrs.responseCode, 'FormError');
  assert.is(await value('dimmer', 'FadeTimeMilliseconds'), 500);
  const stranger = (await dispatch(`<iq type='get' from='eve@example.org/x' id='4'><getForm xmlns='urn:xmpp:iot:control'/></iq>`))!;
  assert.ok(stranger.getChild('error')!.getChild('forbidden'), 'XEP-0325 "Getting a control form, Failure"');
});

test('parseParamValue: each XEP-0325 type, its lexical space and ranges', () => {
  const good: [typeof PARAM_TYPES[number], string, unknown][] = [
    ['boolean', 'true', true], ['boolean', '0', false], ['int', '50000', 50000], ['int', '-2147483648', -2147483648],
    ['long', '500000000000000', 500000000000000], ['double', '8.192', 8.192], ['double', '1e3', 1000], ['double', 'INF', Infinity],
    ['string', ' a b ', ' a b '], ['date', '2013-05-01', '2013-05-01'], ['date', '2012-02-29', '2012-02-29'], ['time', '08:00:00', '08:00:00'],
    ['time', '23:59:59.5+01:00', '23:59:59.5+01:00'], ['dateTime', '2013-04-02T08:00:00', '2013-04-02T08:00:00'], ['dateTime', '2013-04-02T08:00:00Z', '2013-04-02T08:00:00Z'],
    ['duration', 'PT3M30S', 'PT3M30S'], ['duration', '-P1Y2M3DT4H', '-P1Y2M3DT4H'], ['color', '3399ff', '3399FF'], ['color', '3399FF80', '3399FF80'],
  ];
  for (const [type, raw, want] of good) {
    const r = parseParamValue(type, raw);
    assert.ok(r.ok, `${type} ${raw}`);
    assert.equal((r as { value: unknown }).value, want, `${type} ${raw}`);
  }
  const badOnes: [typeof PARAM_TYPES[number], string, RegExp][] = [
    ['boolean', 'yes', /not an xs:boolean/], ['int', '2147483648', /out of range for xs:int/], ['int', '1.5', /not an xs:int/],
    ['long', '9223372036854775808', /out of range for xs:long/], ['long', '9007199254740993', /out of range for this device/],
    ['double', '1,5', /not an xs:double/], ['date', '2013-02-29', /not an xs:date/], ['date', '2013-13-01', /not an xs:date/],
    ['time', '24:00:01', /not an xs:time/], ['dateTime', '2013-04-02 08:00:00', /not an xs:dateTime/], ['duration', 'P', /not an xs:duration/],
    ['duration', 'PT', /not an xs:duration/], ['color', '#3399FF', /not a color/], ['color', '39F', /not a color/],
  ];
  for (const [type, raw, re] of badOnes) {
    const r = parseParamValue(type, raw);
    assert.not.ok(r.ok, `${type} ${raw}`);
    assert.match((r as { error: string }).error, re);
  }
});

test('parseSet: malformed sets get bad-request saying what to send; unknown types are named', () => {
  const s = (body: string) => parseSet(parseXml(`<set xmlns='urn:xmpp:iot:control'>${body}</set>`));
  const cases: [string, RegExp][] = [
    ['', /no parameters/],
    [`<float name='a' value='1'/>`, /<float\/> is not a XEP-0325 parameter type: use one of boolean, color/],
    [`<int value='1'/>`, /needs a name/],
    [`<int name='a'/>`, /has no value attribute/],
    [`<node/>`, /needs a nodeId/],
    [`<int name='a' value='1'/>`.repeat(600), /carries 600 elements/],
    [`<int name='a' value='1'/><x xmlns='jabber:x:data' type='submit'/>`, /either typed parameters or a data form/],
  ];
  for (const [body, re] of cases) {
    const r = s(body);
    assert.ok(r instanceof StanzaError, body.slice(0, 60));
    assert.match((r as StanzaError).text!, re);
  }
  const ok = s(`<int name='a' value='x'/><boolean name='b' value='true'/>`) as ParsedSet;
  assert.equal(ok.errors.map((e) => e.var), ['a']);
  assert.equal(ok.params.map((p) => p.name), ['b']);
});

test('resolve: a unique field name, thing.field, and a listed node', () => {
  const things = [{ id: 'a', fields: [{ name: 'x', type: 'int' as const, writable: true }, { name: 'y', type: 'int' as const }] }, { id: 'b', fields: [{ name: 'x', type: 'int' as const, writable: true }] }];
  assert.equal((resolve('y', things, false) as { thing: { id: string } }[]).map((t) => t.thing.id), ['a']);
  assert.equal((resolve('b.x', things, false) as { thing: { id: string } }[]).map((t) => t.thing.id), ['b']);
  assert.equal((resolve('x', things, true) as { thing: { id: string } }[]).map((t) => t.thing.id), ['a', 'b']);
  assert.match(resolve('y', things, true) as string, /no parameter "y" on b/);
});

test('DriverHost.readThing: one thing sampled now; joins a sample under way; fresh waits for a new one; delivers when asked', async () => {
  let calls = 0;
  let release: (() => void) | undefined;
  const delivered: Reading[] = [];
  const host = new DriverHost({
    onReading: (r) => delivered.push(r),
    drivers: [{
      kind: 'test', id: 'slow', pollIntervalMs: 3_600_000,
      things: () => [{ id: 'a', fields: [{ name: 'n', type: 'int' }] }, { id: 'b', fields: [{ name: 'n', type: 'int' }] }],
      start: async () => undefined, stop: async () => undefined,
      sample: async () => {
        const k = ++calls;
        await new Promise<void>((r) => { release = r; });
        return [{ thing: 'a', timestamp: 1000 + k, values: [{ field: 'n', value: k }] }, { thing: 'b', timestamp: 1000 + k, values: [{ field: 'n', value: -k }] }];
      },
    }],
  });
  await host.start();
  hosts.push(host);
  const p1 = host.readThing('a');
  const p2 = host.readThing('b');
  const p3 = host.readThing('a', { fresh: true, deliver: true });
  await waitFor('first sample', () => release, 1000, 1);
  release!();
  assert.is((await p1)!.values[0]!.value, 1);
  assert.is((await p2)!.values[0]!.value, -1, 'joined the same sample');
  await waitFor('second sample', () => calls === 2, 1000, 1);
  release!();
  assert.is((await p3)!.values[0]!.value, 2, 'fresh: a sample started after the call');
  assert.equal(delivered.map((d) => `${d.thing}=${d.values[0]!.value}`), ['a=2', 'b=-2']);
  assert.is(await host.readThing('nope'), undefined);
});

test.run();
