// The remote thing is slixmpp 1.8.3's own xep_0323 and xep_0325 *device* plugins
// (test/clients/iot_thing.py, Debian python3-slixmpp) on a real Prosody 0.12; a xiota agent
// reads and sets it through its Remote. Its draft-era answers: `<rejected>` without an RFC
// error, readouts ended by `fields done='true'` (no `<done/>`), zone-less local timestamps,
// `<failure>` per node, setResponse codes in iq errors.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import { isXiotaError } from '../../agent/errors';
import { RemoteError, type RemoteReading } from '../../agent/iot/remote';
import { startServer, type XmppServer } from '../../scripts/servers';
import { PyLines } from './_iot';
import { rejection, startAgent, type AgentWithRemote } from './_remote';

const t = suite('IoT client: slixmpp 1.8.3 devices as the remote thing (Prosody 0.12)');
let srv: XmppServer;
let gw: AgentWithRemote;
let py: PyLines;
let THING = '';

t.before(async () => {
  srv = await startServer('prosody-0.12', { users: [{ user: 'gw', password: 'gwpass' }, { user: 'py', password: 'pypass' }] });
  py = new PyLines('iot_thing.py', [`py@${srv.host}/thing`, 'pypass', String(srv.c2sPort), srv.caFile], 'iot_thing');
  THING = String((await py.next('online', 20_000)).jid);
  gw = await startAgent(srv, 'gw', 'gwpass');
});

t.after(async () => {
  await py?.close();
  await gw?.agent.stop();
  if (gw) rmSync(gw.dir, { recursive: true, force: true });
  await srv?.cleanup();
});

const values = (r: RemoteReading) => Object.fromEntries(r.values.map((v) => [v.field, v.value]));

t('momentary readout of one node: values typed, units kept, the zone-less stamp read as UTC', async () => {
  const r = await gw.remote.read(THING, { nodes: [{ nodeId: 'room' }] });
  assert.is(r.length, 1);
  assert.equal([r[0]!.jid, r[0]!.node], [THING, 'room']);
  assert.equal(values(r[0]!), { temperature: 22.5, humidity: 41, fan: false });
  assert.equal(r[0]!.values.find((v) => v.field === 'temperature'), { field: 'temperature', type: 'numeric', unit: '°C', flags: ['momentary', 'automaticReadout'], value: 22.5 });
  // slixmpp stamps local time without a zone; this machine runs in UTC.
  assert.ok(Math.abs(r[0]!.timestamp - Date.now()) < 5000, `${new Date(r[0]!.timestamp).toISOString()}`);
  const ms: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    await gw.remote.read(THING, { nodes: [{ nodeId: 'room' }] });
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  console.log(`  xiota -> slixmpp device momentary readout: p50 ${ms[10]!.toFixed(1)} ms, max ${ms[19]!.toFixed(1)} ms (20 runs, loopback)`);
});

t('historical readout: several fields messages, ended by an empty fields done=true', async () => {
  const r = await gw.remote.read(THING, { nodes: [{ nodeId: 'room' }], types: ['historicalHour'], from: Date.parse('2026-12-01T00:00:00Z') });
  assert.equal(r.map((x) => [new Date(x.timestamp).toISOString(), x.values[0]!.value, x.values[0]!.flags.includes('historicalHour')]), [
    ['2026-12-01T10:00:00.000Z', 20.5, true], ['2026-12-01T11:00:00.000Z', 21, true], ['2026-12-01T12:00:00.000Z', 21.5, true],
  ]);
});

t('a node that fails: RemoteError failure with the device\'s text; beside a good node, its failure as a reading', async () => {
  const e = await rejection(gw.remote.read(THING, { nodes: [{ nodeId: 'broken' }] }));
  assert.instance(e, RemoteError);
  assert.equal([e.condition, e.text], ['failure', 'broken: sensor bus timeout']);
  const r = await gw.remote.read(THING, { nodes: [{ nodeId: 'room' }, { nodeId: 'broken' }] });
  assert.equal(r.map((x) => [x.node, x.values.length > 0, x.error]), [['room', true, undefined], ['broken', false, 'sensor bus timeout']]);
});

t('an unknown node: slixmpp\'s <rejected> text in a RemoteError', async () => {
  const e = await rejection(gw.remote.read(THING, { nodes: [{ nodeId: 'attic' }] }));
  assert.instance(e, RemoteError);
  assert.is(e.text, 'Invalid nodeId attic');
  assert.match(e.message, `${THING} refused the readout (undefined-condition): Invalid nodeId attic`);
});

t('a node that never answers: XIOTA_E_TIMEOUT after timeoutMs, and the readout is cancelled', async () => {
  const t0 = Date.now();
  const e = await rejection(gw.remote.read(THING, { nodes: [{ nodeId: 'silent' }], timeoutMs: 800 }));
  const ms = Date.now() - t0;
  assert.ok(isXiotaError(e, 'XIOTA_E_TIMEOUT'), e.message);
  assert.is(e.detail!.timeout_ms, 800);
  assert.ok(ms >= 790 && ms < 2500, `${ms} ms`);
  // The agent keeps working after it.
  assert.is((await gw.remote.read(THING, { nodes: [{ nodeId: 'room' }] })).length, 1);
});

t('set: boolean, double, string and color reach the device as typed parameters; the readout shows the new fan state', async () => {
  await gw.remote.set(THING, { field: 'fan', value: true, nodes: [{ nodeId: 'room' }] });
  assert.equal((await py.next('set')).fields, [['fan', 'boolean', 'true']]);
  await gw.remote.set(THING, { field: 'setpoint', value: 21.5, nodes: [{ nodeId: 'room' }] });
  assert.equal((await py.next('set')).fields, [['setpoint', 'double', '21.5']]);
  await gw.remote.set(THING, { field: 'label', value: 'hello <world> & "you"', nodes: [{ nodeId: 'room' }] });
  assert.equal((await py.next('set')).fields, [['label', 'string', 'hello <world> & "you"']]);
  await gw.remote.set(THING, { field: 'color', value: '3399ff', type: 'color', nodes: [{ nodeId: 'room' }] });
  assert.equal((await py.next('set')).fields, [['color', 'color', '3399ff']]);
  py.send({ op: 'values' });
  assert.equal(await py.next('values'), { event: 'values', fan: 'true', setpoint: '21.5', label: 'hello <world> & "you"', color: '3399ff' });
  const r = await gw.remote.read(THING, { nodes: [{ nodeId: 'room' }], fields: ['fan'] });
  assert.equal(values(r[0]!), { fan: true });
});

t('refused sets: an unknown field and a wrong type come back as RemoteError from slixmpp\'s setResponse', async () => {
  const e1 = await rejection(gw.remote.set(THING, { field: 'relay', value: true, nodes: [{ nodeId: 'room' }] }));
  assert.instance(e1, RemoteError);
  assert.equal([e1.condition, e1.text], ['item-not-found', 'Invalid field relay']);
  assert.is(e1.params![0]!.var, 'relay');
  // 21 is an int by default: the device's setpoint is a double, and slixmpp matches types exactly.
  const e2 = await rejection(gw.remote.set(THING, { field: 'setpoint', value: 21, nodes: [{ nodeId: 'room' }] }));
  assert.equal([e2.condition, e2.text], ['item-not-found', 'Invalid field setpoint']);
  await gw.remote.set(THING, { field: 'setpoint', value: 21, type: 'double', nodes: [{ nodeId: 'room' }] });
  assert.equal((await py.next('set')).fields, [['setpoint', 'double', '21']]);
});

t.run();
