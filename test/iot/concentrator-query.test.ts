// XEP-0326 'Execute Node Query' for the Read command: the values of a node come back to the
// asker as query events (queryProgress messages: queryStarted, newTable, newRecords, tableDone,
// queryDone), not only to PubSub. The XEP's request shapes (literal XML) into the module over a
// real Router and DriverHost; NodeQueries alone for abort and the stale fallback (injected
// reads); then the whole agent on a real Prosody, asked by an ordinary XMPP client.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessStore } from '../../agent/access-store';
import { Agent } from '../../agent/agent';
import { configFromObject } from '../../agent/config';
import type { AgentEvents } from '../../agent/modules';
import { NodeQueries, parseReadQuery, valuesTable } from '../../agent/iot/concentrator-query';
import { install, NS_CONCENTRATOR } from '../../agent/xep/concentrator';
import { Element, x } from '../../agent/xml/element';
import { DriverHost } from '../../drivers/host';
import { createSimulatedDriver } from '../../drivers/simulated';
import type { Reading, ThingSpec } from '../../drivers/types';
import { startProsody } from '../../scripts/local-prosody';
import { parseXml } from '../pubsub/xml';
import { clientFor, waitFor } from '../session/_helpers';
import { testContext } from '../xep/_context';

const READER = 'client@example.org/client';
const STRANGER = 'eve@evil.example/x';
const hosts: DriverHost[] = [];
test.after.each(async () => { for (const h of hosts.splice(0)) await h.stop(); });

const THING: ThingSpec = { id: 'Node2', fields: [
  { name: 'Temperature', type: 'numeric', unit: '°C', precision: 1 },
  { name: 'Relay', type: 'boolean', writable: true },
  { name: 'Count', type: 'int' },
] };

async function setup() {
  const t = testContext('concentrator@example.org');
  const host = new DriverHost({ drivers: [createSimulatedDriver('MeteringTopology', { pollIntervalMs: 3_600_000, things: [
    { id: 'Node2', fields: [
      { name: 'Temperature', type: 'numeric', unit: '°C', precision: 1, waveform: 'constant', initial: 21.5 },
      { name: 'Relay', type: 'boolean', writable: true, initial: false },
    ] },
  ] })] });
  await host.start();
  hosts.push(host);
  const access = new AccessStore({ policy: { owners: [], controllers: [], readers: ['client@example.org'], strangers: 'refuse' } });
  install(t.ctx, { drivers: host, access, things: () => host.things(), latest: () => host.latestReadings(), events: new EventEmitter<AgentEvents>() });
  /** Dispatches one request; returns what was sent because of it (the reply first). */
  const ask = async (xml: string): Promise<Element[]> => {
    const before = t.sent.length;
    await t.router.dispatch(parseXml(xml));
    return t.sent.slice(before);
  };
  return { t, host, ask };
}

const iq = (id: string, body: string, from = READER, type = 'set') => `<iq type='${type}' from='${from}' to='concentrator@example.org' id='${id}'>${body}</iq>`;
const progress = (m: Element) => m.getChild('queryProgress', NS_CONCENTRATOR)!;
const records = (m: Element) => progress(m).getChild('newRecords', NS_CONCENTRATOR)!.getChildren('record').map((r) => r.elements.map((e) => `${e.name}:${e.text()}`));

test('getCommandParameters Read (\'Get Node Query Parameters\'): a form picking fields, all chosen', async () => {
  const { ask } = await setup();
  const [r] = await ask(iq('74', `<getCommandParameters xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' nodeId='Node2' command='Read' xml:lang='en'/>`, READER, 'get'));
  const res = r!.getChild('getCommandParametersResponse', NS_CONCENTRATOR)!;
  assert.is(res.attrs.result, 'OK');
  const f = res.getChild('x', 'jabber:x:data')!.getChild('field')!;
  assert.equal([f.attrs.var, f.attrs.type], ['fields', 'list-multi']);
  assert.equal(f.getChildren('value').map((v) => v.text()), ['Temperature', 'Relay']);
  assert.equal(f.getChildren('option').map((o) => o.getChildText('value')), ['Temperature', 'Relay']);
});

test('executeNodeQuery Read (\'Execute Node Query\', no form): the response with a queryId first, then the values as query events', async () => {
  const { t, ask } = await setup();
  const sent = await ask(iq('75', `<executeNodeQuery xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' nodeId='Node2' command='Read' xml:lang='en'/>`));
  assert.is(sent[0]!.attrs.type, 'result');
  const res = sent[0]!.getChild('executeNodeQueryResponse', NS_CONCENTRATOR)!;
  assert.is(res.attrs.result, 'OK');
  const queryId = res.attrs.queryId!;
  assert.match(queryId, /^Query\d{4}$/);
  await waitFor('queryDone', () => t.sent.some((m) => m.name === 'message' && progress(m)?.getChild('queryDone', NS_CONCENTRATOR)), 3000);
  const msgs = t.sent.filter((m) => m.name === 'message');
  assert.is(msgs.length, 2);
  for (const m of msgs) {
    assert.is(m.attrs.to, READER);
    assert.equal([progress(m).attrs.sourceId, progress(m).attrs.nodeId, progress(m).attrs.queryId], ['MeteringTopology', 'Node2', queryId]);
  }
  assert.equal(progress(msgs[0]!).elements.map((e) => e.name), ['queryStarted', 'title']);
  assert.equal(progress(msgs[1]!).elements.map((e) => e.name), ['newTable', 'newRecords', 'tableDone', 'queryDone']);
  const table = progress(msgs[1]!).getChild('newTable', NS_CONCENTRATOR)!;
  assert.equal(table.getChildren('column').map((c) => c.attrs.columnId), ['field', 'value', 'unit', 'timestamp', 'status']);
  const rows = records(msgs[1]!);
  assert.equal(rows.map((r) => r.slice(0, 3)), [['string:Temperature', 'double:21.5', 'string:°C'], ['string:Relay', 'boolean:false', 'void:']]);
  assert.ok(rows.every((r) => r[3]!.startsWith('dateTime:20') && r[4] === 'string:ok'), JSON.stringify(rows));
  // The reply went out before any event (the asker needs the queryId first).
  assert.ok(t.sent.indexOf(sent[0]!) < t.sent.indexOf(msgs[0]!));
});

test('executeNodeQuery with a submitted form reads the chosen fields only; an unknown field is a FormError, nothing read', async () => {
  const { t, ask } = await setup();
  const q = (id: string, values: string[]) => iq(id, `<executeNodeQuery xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' nodeId='Node2' command='Read'>
    <x type='submit' xmlns='jabber:x:data'><field var='fields'>${values.map((v) => `<value>${v}</value>`).join('')}</field></x></executeNodeQuery>`);
  const [ok] = await ask(q('76', ['Relay']));
  const queryId = ok!.getChild('executeNodeQueryResponse', NS_CONCENTRATOR)!.attrs.queryId;
  await waitFor('queryDone', () => t.sent.some((m) => m.name === 'message' && progress(m).getChild('queryDone', NS_CONCENTRATOR)), 3000);
  const done = t.sent.find((m) => m.name === 'message' && progress(m).attrs.queryId === queryId && progress(m).getChild('queryDone', NS_CONCENTRATOR))!;
  assert.equal(records(done).map((r) => r[0]), ['string:Relay']);

  const before = t.sent.length;
  const [bad] = await ask(q('77', ['Pressure']));
  assert.is(bad!.attrs.type, 'error');
  const res = bad!.getChild('executeNodeQueryResponse', NS_CONCENTRATOR)!;
  assert.is(res.attrs.result, 'FormError');
  assert.is(res.getChild('error')!.attrs.var, 'fields');
  assert.match(res.getChild('error')!.text(), /Pressure/);
  await new Promise((r) => setTimeout(r, 50));
  assert.is(t.sent.length, before + 1, 'no query events after a FormError');
});

test('executeNodeQuery refusals: a stranger (InsufficientPrivileges), Set as a query and an unknown node (NotFound)', async () => {
  const { ask } = await setup();
  const body = (cmd: string, node = 'Node2') => `<executeNodeQuery xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' nodeId='${node}' command='${cmd}'/>`;
  const [s] = await ask(iq('78', body('Read'), STRANGER));
  assert.is(s!.attrs.type, 'error');
  assert.ok(s!.getChild('error')!.getChild('forbidden', 'urn:ietf:params:xml:ns:xmpp-stanzas'));
  assert.is(s!.getChild('executeNodeQueryResponse', NS_CONCENTRATOR)!.attrs.result, 'InsufficientPrivileges');
  const [set] = await ask(iq('79', body('Set')));
  assert.is(set!.getChild('executeNodeQueryResponse', NS_CONCENTRATOR)!.attrs.result, 'NotFound');
  assert.match(set!.getChild('error')!.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas') ?? '', /Set is a command: send executeNodeCommand/);
  const [none] = await ask(iq('80', body('Read', 'Apartment 1-1')));
  assert.is(none!.getChild('executeNodeQueryResponse', NS_CONCENTRATOR)!.attrs.result, 'NotFound');
  // XEP-0326 'Abort Node Query' of nothing running: NotFound (the query may have ended).
  const [ab] = await ask(iq('81', `<abortNodeQuery xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' nodeId='Node2' command='Read' queryId='Query9999'/>`));
  assert.is(ab!.getChild('abortNodeQueryResponse', NS_CONCENTRATOR)!.attrs.result, 'NotFound');
});

/** NodeQueries with a read that waits for `release` (a slow sensor). */
function slowQueries(latest?: Reading) {
  const sent: Element[] = [];
  let release: (r: Reading | undefined) => void = () => {};
  const q = new NodeQueries({
    send: (el) => sent.push(el),
    read: () => new Promise((resolve) => { release = resolve; }),
    latest: () => latest,
    deadlineMs: 100,
  });
  return { q, sent, release: (r: Reading | undefined) => release(r) };
}

test('abortNodeQuery (\'Abort Node Query\'): a running query ends with queryAborted and sends nothing more; only its asker may abort it', async () => {
  const { q, sent, release } = slowQueries();
  const ref = { sourceId: 'MeteringTopology', nodeId: 'Node2' };
  const id = q.open(READER, ref)!;
  const running = q.run(id, THING, ['Temperature']);
  assert.is(q.abort(STRANGER, id), false);
  assert.is(q.abort(READER, id), true);
  release({ thing: 'Node2', timestamp: Date.now(), values: [{ field: 'Temperature', value: 20 }] });
  await running;
  assert.equal(sent.map((m) => progress(m).elements.map((e) => e.name)), [['queryStarted', 'title'], ['queryAborted']]);
  assert.is(q.abort(READER, id), false, 'an ended query is not found');
  assert.is(q.size, 0);
});

test('a sensor slower than the deadline: the last known values, marked so (queryMessage Warning, status), then queryDone; none known: an Error message', async () => {
  const before: Reading = { thing: 'Node2', timestamp: Date.parse('2026-01-02T03:04:05Z'), values: [{ field: 'Temperature', value: 19.25 }, { field: 'Count', error: 'bus timeout' }] };
  const { q, sent } = slowQueries(before);
  const id = q.open(READER, { sourceId: 'S', nodeId: 'Node2' })!;
  await q.run(id, THING, ['Temperature', 'Relay', 'Count']);
  const last = progress(sent.at(-1)!);
  assert.equal(last.elements.map((e) => e.name), ['queryMessage', 'newTable', 'newRecords', 'tableDone', 'queryDone']);
  assert.is(last.getChild('queryMessage', NS_CONCENTRATOR)!.attrs.type, 'Warning');
  assert.equal(records(sent.at(-1)!), [
    ['string:Temperature', 'double:19.3', 'string:°C', 'dateTime:2026-01-02T03:04:05.000Z', 'string:last known value'],
    ['string:Relay', 'void:', 'void:', 'void:', 'string:no value'],
    ['string:Count', 'void:', 'void:', 'dateTime:2026-01-02T03:04:05.000Z', 'string:error: bus timeout'],
  ]);
  const empty = slowQueries();
  const id2 = empty.q.open(READER, { sourceId: 'S', nodeId: 'Node2' })!;
  await empty.q.run(id2, THING, ['Temperature']);
  assert.is(progress(empty.sent.at(-1)!).getChild('queryMessage', NS_CONCENTRATOR)!.attrs.type, 'Error');
});

test('valuesTable: int beyond 32 bits is a long, booleans and strings as the newRecords schema names them; parseReadQuery with no form reads all', () => {
  const spec: ThingSpec = { id: 'n', fields: [{ name: 'big', type: 'int' }, { name: 'on', type: 'boolean' }, { name: 'mode', type: 'enum', values: ['a'] }] };
  const els = valuesTable(spec, { thing: 'n', timestamp: 0, values: [{ field: 'big', value: 2 ** 40 }, { field: 'on', value: true }, { field: 'mode', value: 'a' }] }, ['big', 'on', 'mode']);
  const rows = els[1]!.getChildren('record').map((r) => r.elements[1]!.toString());
  assert.equal(rows, ['<long>1099511627776</long>', '<boolean>true</boolean>', '<string>a</string>']);
  assert.equal(parseReadQuery(spec, undefined), { fields: ['big', 'on', 'mode'] });
});

test('end to end on Prosody: a reader\'s executeNodeQuery gets the values back as queryProgress messages', async () => {
  const srv = await startProsody();
  const dir = mkdtempSync(join(tmpdir(), 'xiota-concentrator-query-'));
  let agent: Agent | undefined;
  const alice = clientFor(srv, 'alice', 'alicepass');
  try {
    for (const u of ['dev', 'alice']) await srv.register(u, `${u}pass`);
    const r = configFromObject({
      account: { jid: `dev@${srv.host}/gw`, password: 'devpass' },
      server: { host: '127.0.0.1', port: srv.c2sPort },
      tls: { ca_file: srv.caFile },
      outbox: { dir: join(dir, 'outbox'), flush_interval_ms: 20 },
      access: { owners: [], readers: [`alice@${srv.host}`] },
    });
    assert.equal(r.errors, []);
    const driver = createSimulatedDriver('sim', { pollIntervalMs: 600_000, things: [{ id: 'greenhouse', name: 'Greenhouse', fields: [
      { name: 'temperature', type: 'numeric', unit: '°C', precision: 1, waveform: 'constant', initial: 22.5 },
      { name: 'fan', type: 'boolean', writable: true, initial: true },
    ] }] });
    agent = new Agent({ config: r.config!, credentials: { password: 'devpass', source: 'password', warnings: [] }, drivers: [driver] });
    await agent.start();
    await waitFor('agent online', () => agent!.client.state === 'online', 15_000);
    const events: Element[] = [];
    alice.router.on('message', (m) => { const p = m.getChild('queryProgress', NS_CONCENTRATOR); if (p) events.push(p); return true; });
    await alice.connectOnce();
    const DEV = `dev@${srv.host}/gw`;
    const res = await alice.iq(x('iq', { type: 'set', to: DEV }, parseXml(`<executeNodeQuery xmlns='urn:xmpp:iot:concentrators' sourceId='sim' nodeId='greenhouse' command='Read' xml:lang='en'/>`)));
    const ok = res.getChild('executeNodeQueryResponse', NS_CONCENTRATOR)!;
    assert.is(ok.attrs.result, 'OK');
    await waitFor('queryDone', () => events.some((p) => p.getChild('queryDone', NS_CONCENTRATOR)), 10_000);
    assert.ok(events.every((p) => p.attrs.queryId === ok.attrs.queryId && p.attrs.nodeId === 'greenhouse'));
    const rows = events.flatMap((p) => p.getChildren('newRecords', NS_CONCENTRATOR)).flatMap((n) => n.getChildren('record'))
      .map((rec) => rec.elements.slice(0, 3).map((e) => e.text()));
    assert.equal(rows, [['temperature', '22.5', '°C'], ['fan', 'true', '']]);
    console.log('e2e: executeNodeQuery', ok.attrs.queryId, '->', JSON.stringify(rows));
  } finally {
    await alice.stop().catch(() => {});
    await agent?.stop();
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
