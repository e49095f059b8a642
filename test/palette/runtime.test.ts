// The palette in Node-RED 4.1's runtime (node-red-node-test-helper) against real daemons: two
// `xiota run` on one Prosody, each with a simulated driver and its local API socket. A reading
// reaches xiota-in; xiota-control switches the fan and the gateway's PEP node shows it;
// xiota-read reads the second gateway by XEP-0323 through the first one's session; a
// flow-defined thing is read and set by slixmpp's xep_0323/xep_0325 clients; 20 "modified
// nodes" deploys leave one API connection; closing takes under 3 s and leaves none.
// Under uvu: no per-test timeout (every wait is bounded here), assertions inside node handlers
// would be swallowed (handlers only collect; asserts run outside), unload() after each test.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EventEmitter } from 'node:events';
import { startProsody, type ProsodyServer } from '../../scripts/local-prosody';
import { clientFor, waitFor } from '../session/_helpers';
import { itemsIq, parseItems } from '../../agent/xep/pubsub';
import { fieldsToReadings } from '../../agent/xep/sensordata-fields';
import type { XmppClient } from '../../agent/session/client';
import { x } from '../../agent/xml/element';
import { IotClient } from '../iot/_iot';
import { startXiotaDaemon, tcpStreamsTo, type XiotaDaemon } from '../servers/xiota-daemon';
import { PALETTE, paletteFile } from './_palette';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

interface FlowNode { id: string; type: string; [k: string]: unknown }
interface RuntimeNode extends EventEmitter { receive(msg: Record<string, unknown>): void; link?: { opens: number; state: string } }
interface TestHelper {
  init(runtimePath: string, settings?: Record<string, unknown>): void;
  load(nodes: unknown[], flow: FlowNode[], creds?: Record<string, unknown>): Promise<void>;
  unload(): Promise<void>;
  setFlows(flow: FlowNode[], type: 'full' | 'flows' | 'nodes', creds?: Record<string, unknown>): Promise<void>;
  getNode(id: string): RuntimeNode | null;
  startServer(): Promise<void>;
  stopServer(): Promise<void>;
}
interface Msg { topic?: string; payload?: unknown; xiota?: Record<string, unknown>; [k: string]: unknown }

// eslint-disable-next-line @typescript-eslint/no-require-imports
const helper = require('node-red-node-test-helper') as TestHelper;
helper.init(require.resolve('node-red'));
const NODES = ['xiota-agent', 'xiota-in', 'xiota-read', 'xiota-control', 'xiota-thing', 'xiota-control-in']
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  .map((n) => require(paletteFile(`${n}.js`)) as unknown);

const t = suite('palette in Node-RED 4.1 against xiota run');
let prosody: ProsodyServer;
let gw: XiotaDaemon; // the gateway Node-RED talks to
let gw2: XiotaDaemon; // a second gateway, read remotely through gw
let owner: XmppClient;
const OWNER_PW = 'owner-Pass-1';

t.before(async () => {
  prosody = await startProsody({ users: [{ user: 'gw', password: 'gw-Pass-1' }, { user: 'gw2', password: 'gw2-Pass-1' }, { user: 'owner', password: OWNER_PW }] });
  const greenhouse = `        - id: greenhouse
          fields:
            - { name: temperature, type: numeric, unit: "°C", precision: 2, waveform: ramp, min: 15, max: 25, period_s: 20 }
            - { name: fan, type: boolean, writable: true, initial: false }`;
  const cellar = `        - id: cellar
          fields:
            - { name: humidity, type: numeric, unit: "%", precision: 0, waveform: constant, initial: 71 }
            - { name: vent, type: boolean, writable: true, initial: false }`;
  [gw, gw2] = await Promise.all([
    startXiotaDaemon({ prosody, user: 'gw', password: 'gw-Pass-1', flushMs: 20, thingsYaml: greenhouse, accessYaml: `  owners: [owner@${prosody.host}]` }),
    startXiotaDaemon({ prosody, user: 'gw2', password: 'gw2-Pass-1', flushMs: 20, resource: 'cellar', thingsYaml: cellar, accessYaml: `  owners: [owner@${prosody.host}]\n  controllers: [gw@${prosody.host}]`, pollS: 1 }),
  ]);
  owner = clientFor(prosody, 'owner', OWNER_PW);
  await owner.connectOnce();
  // gw follows gw2's PEP node (access model presence): gw asks, gw2 approves its controller.
  // Sent from a second resource of gw's account, as its owner would from a chat client.
  const asGw = clientFor(prosody, 'gw', 'gw-Pass-1', { resource: 'setup' });
  await asGw.connectOnce();
  asGw.send(x('presence', { type: 'subscribe', to: gw2.jid }));
  await waitFor('gw2 approved gw', async () => {
    const sub = await gw.rpc<{ subscription: string }>('pubsub.subscribe', { jid: gw2.jid, node: 'urn:xiota:cellar' }).catch(() => undefined);
    return sub ? true : undefined;
  }, 10_000, 200);
  await asGw.stop();
  await helper.startServer();
});

t.after(async () => {
  await helper.stopServer().catch(() => undefined);
  await owner?.stop();
  await Promise.all([gw?.stop(), gw2?.stop()]);
  await prosody?.stop();
});

t.after.each(async () => {
  await helper.unload();
});

const agentNode = (socket: string): FlowNode => ({ id: 'cfg', type: 'xiota-agent', name: 'gw', mode: 'agent', socket });

/** Every message a helper node receives (collected only: asserts in handlers are swallowed). */
function collect(id: string): Msg[] {
  const got: Msg[] = [];
  helper.getNode(id)!.on('input', (m: Msg) => got.push(m));
  return got;
}

/** Errors a node reported (node.error / done(err)), via the helper's spies. */
function errorsOf(id: string): string[] {
  const errs: string[] = [];
  helper.getNode(id)!.on('call:error', (call: { args: unknown[] }) => errs.push(String(call.args[0])));
  return errs;
}

async function newestPublished(thing: string, field: string): Promise<unknown> {
  // The node's access model is presence: until gw's pre-approval of its owner (sent when its
  // session starts) has reached Prosody, the items query is refused. That is start-up order,
  // not what this reads, so a refusal is asked again for up to 10 s.
  let res;
  for (let t0 = Date.now(); ; await new Promise((r) => setTimeout(r, 200))) {
    try {
      res = await owner.iq(itemsIq(gw.jid, `urn:xiota:${thing}`, 1));
      break;
    } catch (e) {
      if (!/forbidden/.test((e as Error).message) || Date.now() - t0 > 10_000) throw e;
    }
  }
  const item = parseItems(res)[0];
  if (!item?.payload) return undefined;
  return fieldsToReadings(item.payload)[0]?.values.find((v) => v.field === field)?.value;
}

t('a reading of the simulated thermometer reaches xiota-in: topic = field, payload = value, msg.xiota', async () => {
  await helper.load(NODES, [
    agentNode(gw.socket),
    { id: 'in', type: 'xiota-in', agent: 'cfg', source: 'local', thing: 'greenhouse', field: 'temperature', output: 'field', wires: [['out']] },
    { id: 'out', type: 'helper' },
  ]);
  const got = collect('out');
  await waitFor('a temperature message', () => got.length > 0, 10_000);
  const m = got[0]!;
  assert.is(m.topic, 'temperature');
  assert.type(m.payload, 'number');
  assert.ok((m.payload as number) >= 15 && (m.payload as number) <= 25, String(m.payload));
  assert.is(m.xiota?.thing, 'greenhouse');
  assert.is(m.xiota?.unit, '°C');
  assert.type(m.xiota?.timestamp, 'number');
  assert.ok(got.every((x) => x.topic === 'temperature'), 'the field filter holds');
});

t('xiota-control switches the simulated fan; the gateway\'s PEP node shows it; a refused set reaches Catch via done(err)', async () => {
  await helper.load(NODES, [
    agentNode(gw.socket),
    { id: 'ctl', type: 'xiota-control', agent: 'cfg', jid: '', thing: 'greenhouse', field: 'fan', value: 'payload', valueFrom: 'msg', valueType: 'auto', wires: [['out']] },
    { id: 'bad', type: 'xiota-control', agent: 'cfg', jid: '', thing: 'greenhouse', field: 'temperature', value: 'payload', valueFrom: 'msg', valueType: 'auto', wires: [[]] },
    { id: 'out', type: 'helper' },
  ]);
  const got = collect('out');
  const errs = errorsOf('bad');
  const before = await newestPublished('greenhouse', 'fan');
  const want = before !== true;
  helper.getNode('ctl')!.receive({ payload: want });
  await waitFor('the set answered', () => got.length > 0, 10_000);
  assert.equal(got[0]!.xiota, { thing: 'greenhouse', field: 'fan', value: want });
  await waitFor(`fan=${want} in the PEP node`, async () => ((await newestPublished('greenhouse', 'fan')) === want ? true : undefined), 10_000, 200);
  helper.getNode('bad')!.receive({ payload: 30 });
  await waitFor('the refused set reported', () => errs.length > 0, 10_000);
  assert.match(errs[0]!, /xiota-control: .*temperature/);
});

t('xiota-read reads the second gateway by XEP-0323 through the first one\'s session', async () => {
  await helper.load(NODES, [
    agentNode(gw.socket),
    { id: 'rd', type: 'xiota-read', agent: 'cfg', jid: '', thing: '', field: '', fresh: false, timeout: 10, wires: [['out']] },
    { id: 'out', type: 'helper' },
  ]);
  const got = collect('out');
  // Config blank: the target comes from the message (msg.xiota.jid).
  helper.getNode('rd')!.receive({ xiota: { jid: gw2.fullJid } });
  await waitFor('the remote readout', () => got.length > 0, 15_000);
  assert.equal(got[0]!.payload, { humidity: 71, vent: false });
  const readings = got[0]!.xiota?.readings as { thing: string; jid?: string }[];
  assert.is(readings[0]!.thing, 'cellar');
  assert.is(got[0]!.xiota?.jid, gw2.fullJid);
});

t('xiota-control sets the second gateway\'s field by XEP-0325; xiota-in follows that gateway\'s PubSub node', async () => {
  await helper.load(NODES, [
    agentNode(gw.socket),
    { id: 'follow', type: 'xiota-in', agent: 'cfg', source: 'remote', jid: gw2.jid, node: 'urn:xiota:cellar', thing: '', field: 'vent', output: 'field', wires: [['items']] },
    { id: 'ctl', type: 'xiota-control', agent: 'cfg', jid: gw2.fullJid, thing: 'cellar', field: 'vent', value: 'true', valueFrom: 'bool', valueType: 'auto', wires: [['done']] },
    { id: 'rd', type: 'xiota-read', agent: 'cfg', jid: gw2.fullJid, thing: 'cellar', field: 'vent', fresh: false, timeout: 10, wires: [['read']] },
    { id: 'items', type: 'helper' },
    { id: 'done', type: 'helper' },
    { id: 'read', type: 'helper' },
  ]);
  const items = collect('items');
  const followErrors = errorsOf('follow');
  const done = collect('done');
  const read = collect('read');
  await waitFor('following', () => helper.getNode('cfg')!.link!.state === 'connected', 10_000);
  helper.getNode('ctl')!.receive({ payload: 'ignored: the node\'s value is a fixed true' });
  await waitFor('the remote set answered', () => done.length > 0, 15_000);
  assert.equal(done[0]!.xiota, { jid: gw2.fullJid, field: 'vent', value: true, nodes: [{ nodeId: 'cellar' }] });
  helper.getNode('rd')!.receive({});
  await waitFor('the readout', () => read.length > 0, 15_000);
  assert.equal(read[0]!.payload, { vent: true });
  // gw2 publishes the set's read-back; the agent's PubSub subscription brings it here.
  await waitFor('vent=true from gw2\'s node', () => items.some((m) => m.topic === 'vent' && m.payload === true), 15_000).catch((e: Error) => {
    throw new Error(`${e.message}; items: ${JSON.stringify(items)} errors: ${followErrors.join()}\n--- gw2 ---\n${gw2.log().slice(-3000)}\n--- gw ---\n${gw.log().slice(-3000)}`);
  });
  const m = items.find((x) => x.payload === true)!;
  assert.is(m.xiota?.jid, gw2.jid);
  assert.is(m.xiota?.node, 'urn:xiota:cellar');
  assert.type(m.xiota?.item, 'string');
});

t('a flow-defined thing: published from the flow, read and set by slixmpp\'s xep_0323/xep_0325 clients', async () => {
  await helper.load(NODES, [
    agentNode(gw.socket),
    { id: 'thing', type: 'xiota-thing', agent: 'cfg', thing: 'kitchen', name: 'Kitchen', fields: [
      { name: 'temp', type: 'numeric', unit: '°C', writable: false, min: '', max: '', values: '' },
      { name: 'light', type: 'boolean', unit: '', writable: true, min: '', max: '', values: '' },
    ] },
    { id: 'cin', type: 'xiota-control-in', agent: 'cfg', thing: 'kitchen', field: '', wires: [['sets']] },
    { id: 'sets', type: 'helper' },
  ]);
  const sets = collect('sets');
  const thingErrors = errorsOf('thing');
  helper.getNode('thing')!.receive({ payload: { temp: 19.5, light: false } });
  const py = await IotClient.start(prosody, 'owner', OWNER_PW, 'py');
  try {
    let read: Awaited<ReturnType<IotClient['read']>> | undefined;
    await waitFor('kitchen readable by XEP-0323', async () => {
      read = await py.read(gw.fullJid, { nodes: ['kitchen'] });
      return read.results.some((r) => r.fields?.some((f) => f.name === 'temp' && Number(f.value) === 19.5)) ? true : undefined;
    }, 10_000, 300);
    assert.is(read!.results[read!.results.length - 1]!.result, 'done');
    const set = await py.set(gw.fullJid, [['light', 'boolean', 'true']], ['kitchen']);
    assert.is(set.result, 'OK', JSON.stringify(set));
    assert.is(sets.length, 1, 'the set arrived before the answer');
    assert.is(sets[0]!.topic, 'light');
    assert.is(sets[0]!.payload, true);
    assert.is(sets[0]!.xiota?.thing, 'kitchen');
    assert.match(String(sets[0]!.xiota?.from), new RegExp(`^owner@${prosody.host}/py$`), 'who set it');
    // Another client of the daemon's API sets it: the flow hears who, as api:N.
    await gw.rpc('set', { thing: 'kitchen', field: 'light', value: false });
    assert.is(sets.length, 2);
    assert.is(sets[1]!.payload, false);
    assert.match(String(sets[1]!.xiota?.from), /^api:\d+$/, 'an API client set it');
    // A value of the wrong type from the flow goes to Catch, nothing is published.
    helper.getNode('thing')!.receive({ topic: 'light', payload: 'dim' });
    await waitFor('the bad value reported', () => thingErrors.length > 0, 5000);
    assert.match(thingErrors[0]!, /light: "dim" is not a boolean/);
    // Deleting the thing node (a "nodes" deploy without it) removes the thing from the agent,
    // and with the last user gone the connection closes, to open again for the next user.
    const ids = async () => (await gw.rpc<{ id: string }[]>('things.list')).map((x) => x.id);
    assert.ok((await ids()).includes('kitchen'));
    await helper.setFlows([agentNode(gw.socket), { id: 'sets', type: 'helper' }], 'nodes');
    await waitFor('kitchen removed', async () => (!(await ids()).includes('kitchen') ? true : undefined), 5000, 100);
    await waitFor('no API connection', () => gw.apiConnections() === 0, 3000);
    await helper.setFlows([agentNode(gw.socket), { id: 'in', type: 'xiota-in', agent: 'cfg', source: 'local', thing: 'greenhouse', field: 'temperature', output: 'field', wires: [['sets']] }, { id: 'sets', type: 'helper' }], 'nodes');
    const again = collect('sets');
    await waitFor('readings through the reopened connection', () => again.length > 0, 10_000);
    assert.is(helper.getNode('cfg')!.link!.opens, 2);
  } finally {
    await py.close();
  }
});

t('20 "modified nodes" deploys keep one API connection; close takes under 3 s and leaves none', async () => {
  const flow = (n: number): FlowNode[] => [
    agentNode(gw.socket),
    { id: 'in', type: 'xiota-in', name: `in ${n}`, agent: 'cfg', source: 'local', thing: 'greenhouse', field: '', output: 'reading', wires: [['out']] },
    { id: 'thing', type: 'xiota-thing', name: `thing ${n}`, agent: 'cfg', thing: 'deploys', fields: [{ name: 'n', type: 'int' }] },
    { id: 'out', type: 'helper' },
  ];
  await waitFor('the earlier tests\' API connections closed', () => gw.apiConnections() === 0, 5000);
  const before = 0;
  const sessions = tcpStreamsTo(prosody.c2sPort); // gw, gw2, the owner's client
  await helper.load(NODES, flow(0));
  await waitFor('connected', () => helper.getNode('cfg')!.link!.state === 'connected', 10_000);
  assert.is(gw.apiConnections(), before + 1);
  for (let i = 1; i <= 20; i++) await helper.setFlows(flow(i), 'nodes');
  const got = collect('out');
  await waitFor('readings after the deploys', () => got.length > 0, 10_000);
  assert.is(helper.getNode('cfg')!.link!.opens, 1, 'the config node never reopened its link');
  assert.is(gw.apiConnections(), before + 1, 'one API connection after 20 deploys');
  assert.is(tcpStreamsTo(prosody.c2sPort), sessions, 'no XMPP session of Node-RED\'s own: the gateway keeps its one');
  assert.equal(got[0]!.payload && Object.keys(got[0]!.payload as object).sort(), ['fan', 'temperature']);
  const t0 = Date.now();
  await helper.unload();
  const ms = Date.now() - t0;
  assert.ok(ms < 3000, `close took ${ms} ms`);
  await waitFor('the API connection closed', () => gw.apiConnections() === before, 3000);
  console.log(`  [close ${ms} ms; API connections after 20 deploys: ${before + 1}; c2s streams: ${sessions}]`);
  await helper.load(NODES, [{ id: 'h', type: 'helper' }]); // after.each unloads again
});

t('the example flows deploy as shipped (only the socket path set): flow-as-a-thing publishes kitchen and a set comes back as its state', async () => {
  const core = ['common/20-inject.js', 'common/21-debug.js', 'function/10-function.js']
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    .map((f) => require(join(dirname(require.resolve('@node-red/nodes/package.json')), 'core', f)) as unknown);
  const load = (name: string): FlowNode[] => (JSON.parse(readFileSync(join(PALETTE, 'examples', name), 'utf8')) as FlowNode[])
    .map((n) => (n.type === 'xiota-agent' ? { ...n, socket: gw.socket } : n));
  for (const name of ['greenhouse-fan.json', 'remote-readout.json']) {
    await helper.load([...NODES, ...core], load(name));
    await helper.unload();
  }
  const flow = load('flow-as-a-thing.json');
  await helper.load([...NODES, ...core], flow);
  const read = async () => (await gw.rpc<{ thing: string; values: { field: string; value?: unknown }[] }[]>('read', { thing: 'kitchen' }))[0]?.values;
  // The inject fires once after 1 s with a temperature from 18 to 24 °C.
  await waitFor('kitchen.temp published by the example', async () => {
    const v = (await read().catch(() => undefined))?.find((x) => x.field === 'temp')?.value;
    return typeof v === 'number' && v >= 18 && v <= 24 ? true : undefined;
  }, 10_000, 200);
  // A set from outside reaches xiota-control-in, which feeds it to xiota-thing: the new state is published.
  await gw.rpc('set', { thing: 'kitchen', field: 'light', value: true });
  await waitFor('kitchen.light=true published back', async () => ((await read())?.find((x) => x.field === 'light')?.value === true ? true : undefined), 5000, 100);
  const thingNode = flow.find((n) => n.type === 'xiota-thing')!;
  await helper.setFlows(flow.filter((n) => n.id !== thingNode.id).map((n) => ({ ...n, wires: (n.wires as string[][] | undefined)?.map((w) => w.filter((id) => id !== thingNode.id)) })), 'nodes');
});

t('the daemon restarts: the link comes back by itself, the flow thing is declared again and readings flow', async () => {
  await helper.load(NODES, [
    agentNode(gw.socket),
    { id: 'in', type: 'xiota-in', agent: 'cfg', source: 'local', thing: 'greenhouse', field: 'temperature', output: 'field', wires: [['out']] },
    { id: 'thing', type: 'xiota-thing', agent: 'cfg', thing: 'garage', fields: [{ name: 'door', type: 'boolean' }] },
    { id: 'out', type: 'helper' },
  ]);
  const link = helper.getNode('cfg')!.link!;
  const states: string[] = [];
  (helper.getNode('cfg') as unknown as { link: EventEmitter }).link.on('state', (st: string) => states.push(st));
  await waitFor('connected', () => link.state === 'connected', 10_000);
  await waitFor('garage declared', async () => ((await gw.rpc<{ id: string }[]>('things.list')).some((x) => x.id === 'garage') ? true : undefined), 5000, 100);
  const t0 = Date.now();
  await gw.restart();
  const got = collect('out');
  await waitFor('connected again', () => link.state === 'connected' && states.includes('disconnected'), 35_000);
  const back = Date.now() - t0;
  await waitFor('a reading after the restart', () => got.length > 0, 10_000);
  const garage = (await gw.rpc<{ id: string; online: boolean }[]>('things.list')).find((x) => x.id === 'garage');
  assert.ok(garage?.online, `garage declared again and online: ${JSON.stringify(garage)}`);
  assert.ok(link.opens >= 2);
  await waitFor('one API connection (the probe\'s closed)', () => gw.apiConnections() === 1, 3000);
  console.log(`  [daemon restart to link connected again: ${back} ms, ${link.opens} opens]`);
});

t.run();
