// The IoT client side without a socket: createRemote over a real Router, fed the XEP-0323 and
// XEP-0325 examples (and slixmpp 1.8.3's draft-era answers) as literal XML; the requests it
// sends are checked as XML too. Timers run on the test clock.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isXiotaError, XiotaError } from '../../agent/errors';
import { createRemote, MAX_READOUT_VALUES, RemoteError, type RemoteReading } from '../../agent/iot/remote';
import { silentLogger } from '../../agent/log';
import { StanzaError } from '../../agent/session/stanza';
import { serialize, type Element } from '../../agent/xml/element';
import { parseXml } from '../pubsub/xml';
import { testContext, tick } from '../xep/_context';

const DEV = 'device@example.org/thing';
const ME = 'client@example.org';

function setup() {
  const t = testContext(ME);
  t.clock.t = Date.parse('2013-03-07T16:24:30Z');
  const remote = createRemote(t.ctx, { now: t.now, log: silentLogger });
  // Whatever the remote client does not take falls through to here (the thing-side modules).
  const passed: Element[] = [];
  t.router.on('message', (m) => { passed.push(m); return true; }, -100);
  const msg = (xml: string) => t.router.dispatch(parseXml(xml));
  return { t, remote, passed, msg };
}

/** The seqnr of the last req sent, and the pending iq. */
function lastReq(t: ReturnType<typeof testContext>) {
  const p = t.iqs[t.iqs.length - 1]!;
  return { p, seqnr: p.req.getChild('req', 'urn:xmpp:iot:sensordata')!.attrs.seqnr! };
}

function accept(p: { req: Element; resolve(e: Element): void }, seqnr: string, queued = false) {
  p.resolve(parseXml(`<iq type='result' from='${DEV}' id='${p.req.attrs.id ?? ''}'><accepted xmlns='urn:xmpp:iot:sensordata' seqnr='${seqnr}'${queued ? " queued='true'" : ''}/></iq>`));
}

function reject(p: { reject(e: Error): void }, xml: string) {
  p.reject(StanzaError.fromStanza(parseXml(xml)));
}

async function settle<T>(pr: Promise<T>): Promise<{ ok: T } | { err: unknown }> {
  let out: { ok: T } | { err: unknown } | undefined;
  pr.then((ok) => { out = { ok }; }, (err: unknown) => { out = { err }; });
  for (let i = 0; i < 5 && !out; i++) await tick();
  if (!out) throw new Error('still pending');
  return out;
}

test('XEP-0323 example 1-3: req sent as iq get (momentary by default), accepted, fields done=true -> readings with unit, type and flags', async () => {
  const { t, remote, msg, passed } = setup();
  const pr = remote.read(DEV, {});
  const { p, seqnr } = lastReq(t);
  assert.is(p.req.toString(), `<iq type="get" to="${DEV}"><req xmlns="urn:xmpp:iot:sensordata" seqnr="${seqnr}" momentary="true"/></iq>`);
  accept(p, seqnr);
  await tick();
  await msg(`<message from='${DEV}' to='${ME}/r'>
  <fields xmlns='urn:xmpp:iot:sensordata' seqnr='${seqnr}' done='true'>
    <node nodeId='Device01'>
      <timestamp value='2013-03-07T16:24:30'>
        <numeric name='Temperature' momentary='true' automaticReadout='true' value='23.4' unit='°C'/>
      </timestamp>
    </node>
  </fields>
</message>`);
  const r = await pr;
  assert.equal(r, [{
    jid: DEV, thing: 'Device01', node: 'Device01', timestamp: Date.parse('2013-03-07T16:24:30Z'),
    values: [{ field: 'Temperature', type: 'numeric', flags: ['momentary', 'automaticReadout'], unit: '°C', value: 23.4 }],
  }] as RemoteReading[]);
  assert.is(passed.length, 0);
});

test('XEP-0323 example 5 (several devices, several messages) and example 6 (field list): node/field elements sent, fields filtered', async () => {
  const { t, remote, msg } = setup();
  const pr = remote.read(DEV, { nodes: [{ nodeId: 'Device02' }, { nodeId: 'Device03', sourceId: 'MeteringTopology', cacheType: 'x' }], fields: ['Temperature'], types: ['momentary', 'peak'] });
  const { p, seqnr } = lastReq(t);
  assert.is(p.req.toString(), `<iq type="get" to="${DEV}"><req xmlns="urn:xmpp:iot:sensordata" seqnr="${seqnr}" momentary="true" peak="true"><node nodeId="Device02"/><node nodeId="Device03" sourceId="MeteringTopology" cacheType="x"/><field name="Temperature"/></req></iq>`);
  accept(p, seqnr);
  await msg(`<message from='${DEV}'><fields xmlns='urn:xmpp:iot:sensordata' seqnr='${seqnr}'><node nodeId='Device02'><timestamp value='2013-03-07T19:31:15'>
    <numeric name='Temperature' momentary='true' automaticReadout='true' value='23.4' unit='°C'/>
    <numeric name='Power' momentary='true' automaticReadout='true' value='239.4' unit='W'/></timestamp></node></fields></message>`);
  await msg(`<message from='${DEV}'><fields xmlns='urn:xmpp:iot:sensordata' seqnr='${seqnr}' done='true'><node nodeId='Device03'><timestamp value='2013-03-07T19:31:16'>
    <numeric name='Temperature' momentary='true' automaticReadout='true' value='22.8' unit='°C'/></timestamp></node></fields></message>`);
  const r = await pr;
  assert.equal(r.map((x) => [x.thing, x.values.map((v) => `${v.field}=${String(v.value)}`)]), [['Device02', ['Temperature=23.4']], ['Device03', ['Temperature=22.8']]]);
});

test('answers that overtake the iq result count, and a xiota thing\'s end (fields done + <done/> in one message) ends it once', async () => {
  const { t, remote, msg, passed } = setup();
  const pr = remote.read(DEV, {});
  const { p, seqnr } = lastReq(t);
  await msg(`<message from='${DEV}'><fields xmlns='urn:xmpp:iot:sensordata' seqnr='${seqnr}' done='true'><node nodeId='g'><timestamp value='2026-12-02T01:00:00.000Z'>
    <boolean name='fan' momentary='true' automaticReadout='true' value='true' writable='true'/></timestamp></node></fields><done xmlns='urn:xmpp:iot:sensordata' seqnr='${seqnr}'/></message>`);
  const r = await pr;
  assert.equal(r[0]!.values, [{ field: 'fan', type: 'boolean', flags: ['momentary', 'automaticReadout', 'writable'], value: true }]);
  accept(p, seqnr); // late: ignored
  await tick();
  assert.is(passed.length, 0);
});

test('slixmpp 1.8.3 device: no <done/>, fields done=true, zone-less local stamps, no momentary flag', async () => {
  const { t, remote, msg } = setup();
  const pr = remote.read(DEV, { types: ['all'] });
  const { p, seqnr } = lastReq(t);
  assert.ok(p.req.toString().includes(' all="true"'));
  accept(p, seqnr);
  await msg(`<message to="${ME}/r" from="${DEV}"><fields xmlns="urn:xmpp:iot:sensordata" seqnr="${seqnr}" done="true"><node nodeId="room"><timestamp value="2026-12-02T01:47:03"><numeric name="temperature" value="20.10" unit="°C" automaticReadout="true"/><boolean name="fan" value="false" automaticReadout="true"/></timestamp></node></fields></message>`);
  const r = await pr;
  assert.equal(r[0]!.values.map((v) => [v.field, v.value, v.type]), [['temperature', 20.1, 'numeric'], ['fan', false, 'boolean']]);
  assert.is(r[0]!.timestamp, Date.parse('2026-12-02T01:47:03Z'));
});

test('XEP-0323 read-out failure: failure done=true with nothing read -> RemoteError failure carrying the thing\'s text', async () => {
  const { t, remote, msg } = setup();
  const pr = remote.read(DEV, {});
  const { p, seqnr } = lastReq(t);
  accept(p, seqnr);
  await msg(`<message from='${DEV}'><failure xmlns='urn:xmpp:iot:sensordata' seqnr='${seqnr}' done='true'><error nodeId='Device01' timestamp='2013-03-07T17:13:30'>Timeout.</error></failure></message>`);
  const out = await settle(pr);
  assert.ok('err' in out);
  const e = (out as { err: RemoteError }).err;
  assert.instance(e, RemoteError);
  assert.is(e.code, 'XIOTA_E_REMOTE');
  assert.is(e.condition, 'failure');
  assert.is(e.text, 'Device01: Timeout.');
  assert.match(e.message, `${DEV} could not read its values: Device01: Timeout.`);
});

test('a failure for one node beside fields of another: the readings, and the failed node as a reading with its error', async () => {
  const { t, remote, msg } = setup();
  const pr = remote.read(DEV, {});
  const { p, seqnr } = lastReq(t);
  accept(p, seqnr);
  await msg(`<message from='${DEV}'><failure xmlns='urn:xmpp:iot:sensordata' seqnr='${seqnr}'><error nodeId='B' timestamp='2013-03-07T17:13:30Z'>Timeout</error></failure></message>`);
  await msg(`<message from='${DEV}'><fields xmlns='urn:xmpp:iot:sensordata' seqnr='${seqnr}' done='true'><node nodeId='A'><timestamp value='2013-03-07T17:13:31Z'><int name='n' momentary='true' value='7'/></timestamp></node></fields></message>`);
  const r = await pr;
  assert.equal(r.map((x) => [x.thing, x.values.length, x.error]), [['A', 1, undefined], ['B', 0, 'Timeout']]);
  assert.is(r[1]!.timestamp, Date.parse('2013-03-07T17:13:30Z'));
});

test('XEP-0323 read-out rejected (RFC 6120 error) and slixmpp\'s <rejected> (no <error/>): typed RemoteError with condition and text', async () => {
  const { t, remote } = setup();
  const pr = remote.read(DEV, {});
  const { p, seqnr } = lastReq(t);
  reject(p, `<iq type='error' from='${DEV}' id='S0003'><error type='cancel'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>Access denied.</text></error><rejected xmlns='urn:xmpp:iot:sensordata' seqnr='${seqnr}'><error>ignored when the RFC text is there</error></rejected></iq>`);
  const e1 = (await settle(pr) as { err: RemoteError }).err;
  assert.instance(e1, RemoteError);
  assert.equal([e1.condition, e1.text, e1.detail.jid], ['forbidden', 'Access denied.', DEV]);
  assert.match(e1.message, 'refused the readout (forbidden): Access denied.; ask the owner');

  const pr2 = remote.read(DEV, { nodes: [{ nodeId: 'nope' }] });
  const l2 = lastReq(t);
  reject(l2.p, `<iq type='error' from='${DEV}' id='x'><rejected xmlns='urn:xmpp:iot:sensordata' seqnr='${l2.seqnr}'><error>Invalid nodeId nope</error></rejected></iq>`);
  const e2 = (await settle(pr2) as { err: RemoteError }).err;
  assert.equal([e2.code, e2.condition, e2.text], ['XIOTA_E_REMOTE', 'undefined-condition', 'Invalid nodeId nope']);
});

test('silence for timeoutMs: XIOTA_E_TIMEOUT with timeout_ms, and a <cancel/> goes to the thing; late answers pass on', async () => {
  const { t, remote, msg, passed } = setup();
  const pr = remote.read(DEV, { timeoutMs: 2000 });
  const { p, seqnr } = lastReq(t);
  accept(p, seqnr);
  await tick();
  t.advance(1999);
  await tick();
  t.advance(1);
  const e = (await settle(pr) as { err: XiotaError }).err;
  assert.ok(isXiotaError(e, 'XIOTA_E_TIMEOUT'));
  assert.equal(e.detail, { timeout_ms: 2000, jid: DEV, seqnr });
  assert.match(e.message, 'within 2000 ms');
  assert.is(t.iqs[t.iqs.length - 1]!.req.toString(), `<iq type="get" to="${DEV}"><cancel xmlns="urn:xmpp:iot:sensordata" seqnr="${seqnr}"/></iq>`);
  await msg(`<message from='${DEV}'><done xmlns='urn:xmpp:iot:sensordata' seqnr='${seqnr}'/></message>`);
  assert.is(passed.length, 1);
});

test('the default timeout is 10 s; a queued readout waits for started, and every message restarts the wait', async () => {
  const { t, remote, msg } = setup();
  const pr = remote.read(DEV, {});
  const { p, seqnr } = lastReq(t);
  accept(p, seqnr, true);
  await tick();
  t.advance(9000);
  await msg(`<message from='${DEV}'><started xmlns='urn:xmpp:iot:sensordata' seqnr='${seqnr}'/></message>`);
  t.advance(9000);
  await msg(`<message from='${DEV}'><fields xmlns='urn:xmpp:iot:sensordata' seqnr='${seqnr}'><node nodeId='A'><timestamp value='2013-03-07T19:00:00'><numeric name='t' momentary='true' value='1' unit='K'/></timestamp></node></fields></message>`);
  t.advance(9000);
  await msg(`<message from='${DEV}'><done xmlns='urn:xmpp:iot:sensordata' seqnr='${seqnr}'/></message>`);
  const r = await pr;
  assert.is(r.length, 1);

  const pr2 = remote.read(DEV, {});
  t.advance(10_000);
  assert.ok(isXiotaError((await settle(pr2) as { err: unknown }).err, 'XIOTA_E_TIMEOUT'));
});

test('only the thing asked may answer: the same seqnr from another JID, and unknown seqnrs, go to the other modules', async () => {
  const { t, remote, msg, passed } = setup();
  const pr = remote.read(DEV, {});
  const { seqnr } = lastReq(t);
  await msg(`<message from='mallory@example.org/x'><fields xmlns='urn:xmpp:iot:sensordata' seqnr='${seqnr}' done='true'><node nodeId='A'><timestamp value='2013-03-07T19:00:00'><numeric name='t' value='666' unit='K'/></timestamp></node></fields></message>`);
  await msg(`<message from='${DEV}'><fields xmlns='urn:xmpp:iot:sensordata' seqnr='999999999' done='true'/></message>`);
  assert.is(passed.length, 2);
  // From the thing's bare JID (as in the XEP's examples) is the thing.
  await msg(`<message from='device@example.org'><fields xmlns='urn:xmpp:iot:sensordata' seqnr='${seqnr}' done='true'><node nodeId='A'><timestamp value='2013-03-07T19:00:00'><numeric name='t' value='1' unit='K'/></timestamp></node></fields></message>`);
  const r = await pr;
  assert.equal([r[0]!.values[0]!.value, r[0]!.jid], [1, DEV], 'named as the caller named the thing');
  assert.is(passed.length, 2);
});

test('a thing that floods one readout: cancelled past maxReadoutValues (default MAX_READOUT_VALUES), memory bounded', async () => {
  assert.is(MAX_READOUT_VALUES, 100_000);
  const { t, msg } = setup();
  const remote = createRemote(t.ctx, { now: t.now, log: silentLogger, maxReadoutValues: 5000 });
  const pr = remote.read(DEV, {});
  const { p, seqnr } = lastReq(t);
  accept(p, seqnr);
  const fields = Array.from({ length: 1000 }, (_, i) => `<numeric name='f${i}' momentary='true' value='1' unit=''/>`).join('');
  let n = 0;
  while (n <= 5) {
    await msg(`<message from='${DEV}'><fields xmlns='urn:xmpp:iot:sensordata' seqnr='${seqnr}'><node nodeId='A'><timestamp value='2013-03-07T19:00:00Z'>${fields}</timestamp></node></fields></message>`);
    n++;
  }
  const e = (await settle(pr) as { err: RemoteError }).err;
  assert.instance(e, RemoteError);
  assert.is(e.condition, 'resource-constraint');
  assert.match(e.message, 'more than 5000 values');
  assert.ok(t.iqs[t.iqs.length - 1]!.req.toString().includes('<cancel'));
});

test('bad input and offline: XIOTA_E_INVALID naming the option, XIOTA_E_DISCONNECTED; a new session fails what was pending', async () => {
  const { t, remote } = setup();
  const code = async (p: Promise<unknown>) => { const o = await settle(p); return 'err' in o ? [(o.err as XiotaError).code, (o.err as XiotaError).detail.field] : ['ok']; };
  assert.equal(await code(remote.read('device@example.org', {})), ['XIOTA_E_INVALID', 'jid']);
  assert.equal(await code(remote.read('not a jid', {})), ['XIOTA_E_INVALID', 'jid']);
  assert.equal(await code(remote.read(DEV, { types: ['momentary', 'weekly'] })), ['XIOTA_E_INVALID', 'types']);
  assert.equal(await code(remote.read(DEV, { types: 'momentary' as unknown as string[] })), ['XIOTA_E_INVALID', 'types']);
  assert.equal(await code(remote.read(DEV, { timeoutMs: -1 })), ['XIOTA_E_INVALID', 'timeoutMs']);
  assert.equal(await code(remote.read(DEV, { nodes: [{ nodeId: '' }] })), ['XIOTA_E_INVALID', 'nodes']);
  assert.equal(await code(remote.read(DEV, { from: 2000, to: 1000 })), ['XIOTA_E_INVALID', 'from']);
  assert.equal(await code(remote.set(DEV, { field: 'c', value: 'blue', type: 'color' })), ['XIOTA_E_INVALID', 'value']);
  assert.equal(await code(remote.set(DEV, { field: '', value: 1 })), ['XIOTA_E_INVALID', 'field']);
  assert.equal(await code(remote.set(DEV, undefined as unknown as { field: string; value: number })), ['XIOTA_E_INVALID', 'field']);
  assert.equal(await code(remote.set(DEV, { field: 'n', value: 1, type: 'float' as 'double' })), ['XIOTA_E_INVALID', 'type']);
  assert.is(t.iqs.length, 0, 'nothing was sent for bad input');
  // A component (domain JID) answers for itself.
  void remote.read('sensors.example.org', {}).catch(() => {});
  assert.is(t.iqs.length, 1);

  const pr = remote.read(DEV, {});
  t.online({ resumed: true });
  t.online({ resumed: false });
  const e = (await settle(pr) as { err: XiotaError }).err;
  assert.is(e.code, 'XIOTA_E_DISCONNECTED');
  t.offline();
  assert.equal(await code(remote.read(DEV, {})), ['XIOTA_E_DISCONNECTED', undefined]);
  assert.equal(await code(remote.set(DEV, { field: 'a', value: true })), ['XIOTA_E_DISCONNECTED', undefined]);
});

test('XEP-0325: each type sent as its element with a schema-lexical value; type from the JS value by default', async () => {
  const { t, remote } = setup();
  const sent = (p: Promise<void>) => { void p.catch(() => {}); return t.iqs[t.iqs.length - 1]!.req.getChild('set', 'urn:xmpp:iot:control')!.elements.map((e) => serialize(e, 'urn:xmpp:iot:control')).join(''); };
  assert.is(sent(remote.set(DEV, { field: 'Output', value: true })), '<boolean name="Output" value="true"/>');
  assert.is(sent(remote.set(DEV, { field: 'Percent', value: 42 })), '<int name="Percent" value="42"/>');
  assert.is(sent(remote.set(DEV, { field: 'Big', value: 2 ** 40 })), '<long name="Big" value="1099511627776"/>');
  assert.is(sent(remote.set(DEV, { field: 'Level', value: 0.1 + 0.2 })), '<double name="Level" value="0.3"/>');
  assert.is(sent(remote.set(DEV, { field: 'Row1', value: 'Hello' })), '<string name="Row1" value="Hello"/>');
  assert.is(sent(remote.set(DEV, { field: 'Color', value: '3399FF', type: 'color' })), '<color name="Color" value="3399FF"/>');
  assert.is(sent(remote.set(DEV, { field: 'Fade', value: 'PT1H30M', type: 'duration' })), '<duration name="Fade" value="PT1H30M"/>');
  assert.is(sent(remote.set(DEV, { field: 'On', value: '2013-03-07T13:45:00Z', type: 'dateTime', nodes: [{ nodeId: 'Dimmer1' }] })), '<node nodeId="Dimmer1"/><dateTime name="On" value="2013-03-07T13:45:00Z"/>');
  assert.ok(t.iqs[t.iqs.length - 1]!.req.toString().startsWith(`<iq type="set" to="${DEV}"><set xmlns="urn:xmpp:iot:control"><node`));
});

test('XEP-0325: setResponse resolves; the spec\'s paramError, slixmpp\'s setResponse codes and a timeout become typed errors', async () => {
  const { t, remote } = setup();
  const ok = remote.set(DEV, { field: 'Output', value: true });
  t.iqs[0]!.resolve(parseXml(`<iq type='result' from='${DEV}' id='1'><setResponse xmlns='urn:xmpp:iot:control' responseCode='OK'/></iq>`));
  assert.equal(await settle(ok), { ok: undefined });

  const p1 = remote.set(DEV, { field: 'Output', value: true });
  reject(t.iqs[1]!, `<iq type='error' from='${DEV}' id='2'><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><paramError xmlns='urn:xmpp:iot:control' var='Output'>Invalid parameter type.</paramError></error></iq>`);
  const e1 = (await settle(p1) as { err: RemoteError }).err;
  assert.instance(e1, RemoteError);
  assert.equal([e1.condition, e1.text, e1.params], ['bad-request', 'Output: Invalid parameter type.', [{ var: 'Output', message: 'Invalid parameter type.' }]]);
  assert.is(e1.detail.stage, 'set');

  const p2 = remote.set(DEV, { field: 'relay', value: true });
  reject(t.iqs[2]!, `<iq type='error' from='${DEV}' id='3'><setResponse xmlns='urn:xmpp:iot:control' responseCode='NotFound'><parameter name='relay'/><error var='Output'>Invalid field relay</error></setResponse></iq>`);
  const e2 = (await settle(p2) as { err: RemoteError }).err;
  assert.equal([e2.condition, e2.text, e2.params], ['item-not-found', 'Invalid field relay', [{ var: 'relay', message: 'Invalid field relay' }]]);

  const p3 = remote.set(DEV, { field: 'x', value: 1 });
  t.iqs[3]!.resolve(parseXml(`<iq type='result' from='${DEV}' id='4'><setResponse xmlns='urn:xmpp:iot:control' responseCode='OtherError'><error var='x'>busy</error></setResponse></iq>`));
  const e3 = (await settle(p3) as { err: RemoteError }).err;
  assert.equal([e3.code, e3.text], ['XIOTA_E_REMOTE', 'busy']);

  const p4 = remote.set(DEV, { field: 'x', value: 1, timeoutMs: 500 });
  t.iqs[4]!.reject(new XiotaError('XIOTA_E_TIMEOUT', 'no reply to iq'));
  const e4 = (await settle(p4) as { err: XiotaError }).err;
  assert.equal([e4.code, e4.detail.timeout_ms], ['XIOTA_E_TIMEOUT', 500]);
  assert.match(e4.message, 'may or may not be set');
});

test.run();
