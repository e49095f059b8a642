// XEP-0326 concentrator, read-only part: the XEP's own example requests (literal XML) into the
// module over a real Router and DriverHost with simulated drivers named after the examples'
// data sources, the answers compared with literal XML; then the whole agent on Prosody.
//
// Slips in the XEP's examples, noted where they matter:
// - 'Get Child Nodes': Node2 and Node3 come back as children of Node1 with parentId='Root'.
// - 'Unimplemented commands': the text says an iq-result, the example shows type='error'
//   (we follow the text).
// - 'Get Root Nodes' returns Node1 with parentId='Root' although Root is in the same source.
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
import { MODULES } from '../../agent/modules';
import { CAPABILITIES, findNode, parseNodeRefs } from '../../agent/iot/concentrator';
import { planSet, setFormFields } from '../../agent/iot/concentrator-commands';
import { install, NS_CONCENTRATOR } from '../../agent/xep/concentrator';
import { Element, x } from '../../agent/xml/element';
import { DriverHost } from '../../drivers/host';
import { createSimulatedDriver } from '../../drivers/simulated';
import { startProsody } from '../../scripts/local-prosody';
import { parseXml } from '../pubsub/xml';
import { clientFor, waitFor } from '../session/_helpers';
import { testContext } from '../xep/_context';

const CLIENT = 'client@example.org/client';
const CONTROLLER = 'ctl@example.org/app';
const STRANGER = 'eve@evil.example/x';

function norm(el: Element): string {
  const attrs = Object.entries(el.attrs).filter(([k]) => k !== 'xml:lang').sort(([a], [b]) => a.localeCompare(b));
  const copy = new Element(el.name, el.xmlns, Object.fromEntries(attrs));
  for (const c of el.children) {
    if (typeof c !== 'string') copy.children.push(parseXml(norm(c)));
    else if (c.trim()) copy.children.push(c.trim());
  }
  return copy.toString();
}
const same = (got: Element | undefined, want: string) => assert.is(norm(got!), norm(parseXml(want)));

const hosts: DriverHost[] = [];
test.after.each(async () => { for (const h of hosts.splice(0)) await h.stop(); });

async function setup() {
  const t = testContext('concentrator@example.org');
  const num = { name: 'Temperature', type: 'numeric' as const, unit: '°C', precision: 1, waveform: 'constant' as const, initial: 21.5 };
  const host = new DriverHost({ drivers: [
    createSimulatedDriver('MeteringTopology', { pollIntervalMs: 3_600_000, things: [
      { id: 'Node1', name: 'Temperature Sensor', fields: [num] },
      { id: 'Node2', fields: [num, { name: 'Relay', type: 'boolean', writable: true, initial: false }] },
    ] }),
    createSimulatedDriver('MeteringGroups', { pollIntervalMs: 3_600_000, things: [{ id: 'Group1', fields: [num] }] }),
    // A simulated driver posing as a firmware bridge: its things are `<board>.<key>`.
    Object.defineProperty(createSimulatedDriver('uno', { pollIntervalMs: 3_600_000, things: [
      { id: 'uno1.temp', fields: [num] },
      { id: 'uno1.relay', fields: [{ name: 'on', type: 'boolean', writable: true, initial: false }] },
    ] }), 'kind', { value: 'bridge' }),
  ] });
  await host.start();
  hosts.push(host);
  const events = new EventEmitter<AgentEvents>();
  const access = new AccessStore({ policy: { owners: [], controllers: ['ctl@example.org'], readers: ['client@example.org'], strangers: 'refuse' } });
  install(t.ctx, { drivers: host, access, things: () => host.things(), latest: () => host.latestReadings(), events });
  /** The reply iq to one request. */
  const ask = async (xml: string): Promise<Element> => {
    const before = t.sent.length;
    await t.router.dispatch(parseXml(xml));
    return t.sent[before]!;
  };
  const payload = async (xml: string) => (await ask(xml)).elements[0];
  return { t, host, events, ask, payload };
}

const iq = (id: string, body: string, from = CLIENT, type = 'get') => `<iq type='${type}' from='${from}' to='concentrator@example.org' id='${id}'>${body}</iq>`;

test('getCapabilities (XEP-0326 example 1 request): only what is implemented', async () => {
  const { payload } = await setup();
  same(await payload(iq('1', `<getCapabilities xmlns='urn:xmpp:iot:concentrators'/>`)), `
  <getCapabilitiesResponse xmlns='urn:xmpp:iot:concentrators' result='OK'>
    <value>getCapabilities</value>
    <value>getAllDataSources</value>
    <value>getRootDataSources</value>
    <value>getChildDataSources</value>
    <value>containsNode</value>
    <value>containsNodes</value>
    <value>getNode</value>
    <value>getNodes</value>
    <value>getAllNodes</value>
    <value>getRootNodes</value>
    <value>getChildNodes</value>
    <value>getNodeCommands</value>
    <value>getCommandParameters</value>
    <value>executeNodeCommand</value>
    <value>executeNodeQuery</value>
    <value>abortNodeQuery</value>
  </getCapabilitiesResponse>`);
  assert.is(CAPABILITIES.length, 16);
});

test('data sources (examples 5-7): one flat source per driver, no children', async () => {
  const { payload } = await setup();
  const sources = `
    <dataSource sourceId='MeteringTopology' name='MeteringTopology (simulated)' hasChildren='false'/>
    <dataSource sourceId='MeteringGroups' name='MeteringGroups (simulated)' hasChildren='false'/>
    <dataSource sourceId='uno' name='uno (bridge)' hasChildren='false'/>`;
  same(await payload(iq('4', `<getAllDataSources xmlns='urn:xmpp:iot:concentrators' xml:lang='en'/>`)),
    `<getAllDataSourcesResponse xmlns='urn:xmpp:iot:concentrators' result='OK'>${sources}</getAllDataSourcesResponse>`);
  same(await payload(iq('5', `<getRootDataSources xmlns='urn:xmpp:iot:concentrators' xml:lang='en'/>`)),
    `<getRootDataSourcesResponse xmlns='urn:xmpp:iot:concentrators' result='OK'>${sources}</getRootDataSourcesResponse>`);
  same(await payload(iq('6', `<getChildDataSources xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' xml:lang='en'/>`)),
    `<getChildDataSourcesResponse xmlns='urn:xmpp:iot:concentrators' result='OK'/>`);
});

test('getChildDataSources of an unknown source (the example\'s MeteringRoot): iq error with item-not-found and result=NotFound', async () => {
  const { ask } = await setup();
  const r = await ask(iq('6', `<getChildDataSources xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringRoot' xml:lang='en'/>`));
  assert.is(r.attrs.type, 'error');
  assert.is(r.attrs.to, CLIENT);
  assert.ok(r.getChild('error')!.getChild('item-not-found', 'urn:ietf:params:xml:ns:xmpp-stanzas'));
  same(r.getChild('getChildDataSourcesResponse', NS_CONCENTRATOR), `<getChildDataSourcesResponse xmlns='urn:xmpp:iot:concentrators' result='NotFound'/>`);
});

test('containsNode and containsNodes (examples 8-9): the spec\'s answers, literally', async () => {
  const { payload } = await setup();
  same(await payload(iq('7', `<containsNode xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' nodeId='Node1'/>`)),
    `<containsNodeResponse xmlns='urn:xmpp:iot:concentrators' result='OK'>true</containsNodeResponse>`);
  same(await payload(iq('7b', `<containsNode xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringGroups' nodeId='Node1'/>`)),
    `<containsNodeResponse xmlns='urn:xmpp:iot:concentrators' result='OK'>false</containsNodeResponse>`);
  same(await payload(iq('8', `
  <containsNodes xmlns='urn:xmpp:iot:concentrators'>
    <node sourceId='MeteringTopology' nodeId='Node1'/>
    <node sourceId='MeteringTopology' nodeId='Node2'/>
    <node sourceId='MeteringTopology' nodeId='Node3'/>
    <node sourceId='MeteringGroups' nodeId='Group1'/>
  </containsNodes>`)), `
  <containsNodesResponse xmlns='urn:xmpp:iot:concentrators' result='OK'>
    <value>true</value>
    <value>true</value>
    <value>false</value>
    <value>true</value>
  </containsNodesResponse>`);
});

const NODE1 = `nodeId='Node1' displayName='Temperature Sensor' nodeType='xiota.simulated' state='None' hasChildren='false' isReadable='true' isControllable='false' hasCommands='true'`;
const NODE2 = `nodeId='Node2' displayName='Node2' nodeType='xiota.simulated' state='None' hasChildren='false' isReadable='true' isControllable='true' hasCommands='true'`;

test('getNode (example 10) and with parameters (example 12): name, driver kind, state', async () => {
  const { payload } = await setup();
  same(await payload(iq('9', `<getNode xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' nodeId='Node1' xml:lang='en'/>`)),
    `<getNodeResponse xmlns='urn:xmpp:iot:concentrators' result='OK' ${NODE1}/>`);
  same(await payload(iq('11', `<getNode xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' nodeId='Node1' xml:lang='en' parameters='true'/>`)), `
  <getNodeResponse xmlns='urn:xmpp:iot:concentrators' result='OK' ${NODE1}>
    <string id='name' name='Name' value='Temperature Sensor'/>
    <string id='kind' name='Driver kind' value='simulated'/>
    <string id='state' name='State' value='ok'/>
  </getNodeResponse>`);
});

test('getNodes (example 11): Node3 does not exist here, so NotFound; with Node1 and Node2 the nodes', async () => {
  const { ask, payload } = await setup();
  const r = await ask(iq('10', `
  <getNodes xmlns='urn:xmpp:iot:concentrators' xml:lang='en'>
    <node sourceId='MeteringTopology' nodeId='Node1'/>
    <node sourceId='MeteringTopology' nodeId='Node2'/>
    <node sourceId='MeteringTopology' nodeId='Node3'/>
  </getNodes>`));
  assert.is(r.attrs.type, 'error');
  same(r.getChild('getNodesResponse', NS_CONCENTRATOR), `<getNodesResponse xmlns='urn:xmpp:iot:concentrators' result='NotFound'/>`);
  assert.match(r.getChild('error')!.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas')!, /"Node3"/);
  same(await payload(iq('10b', `
  <getNodes xmlns='urn:xmpp:iot:concentrators' xml:lang='en'>
    <node sourceId='MeteringTopology' nodeId='Node1'/>
    <node sourceId='MeteringTopology' nodeId='Node2'/>
  </getNodes>`)), `<getNodesResponse xmlns='urn:xmpp:iot:concentrators' result='OK'><node ${NODE1}/><node ${NODE2}/></getNodesResponse>`);
});

test('getAllNodes, getRootNodes (examples 14, 19), getChildNodes (example 21): every node is a root, none has children', async () => {
  const { payload, ask } = await setup();
  const both = `<node ${NODE1}/><node ${NODE2}/>`;
  same(await payload(iq('13', `<getAllNodes xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' xml:lang='en'/>`)),
    `<getAllNodesResponse xmlns='urn:xmpp:iot:concentrators' result='OK'>${both}</getAllNodesResponse>`);
  same(await payload(iq('18', `<getRootNodes xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' xml:lang='en'/>`)),
    `<getRootNodesResponse xmlns='urn:xmpp:iot:concentrators' result='OK'>${both}</getRootNodesResponse>`);
  same(await payload(iq('20', `<getChildNodes xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' nodeId='Node1' xml:lang='en'/>`)),
    `<getChildNodesResponse xmlns='urn:xmpp:iot:concentrators' result='OK'/>`);
  const r = await ask(iq('20b', `<getChildNodes xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' nodeId='Group1' xml:lang='en'/>`));
  same(r.getChild('getChildNodesResponse', NS_CONCENTRATOR), `<getChildNodesResponse xmlns='urn:xmpp:iot:concentrators' result='NotFound'/>`);
  const u = await ask(iq('18b', `<getRootNodes xmlns='urn:xmpp:iot:concentrators' sourceId='Nope'/>`));
  assert.is(u.attrs.type, 'error');
});

test('a driver fault on a thing: state ErrorUnsigned and the fault text, until a clean reading', async () => {
  const { payload, events } = await setup();
  events.emit('fault', { driver: 'MeteringTopology', thing: 'Node2', message: 'Node2/Temperature: sensor unplugged', timestamp: 0 });
  same(await payload(iq('12', `<getNode xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' nodeId='Node2' parameters='true'/>`)), `
  <getNodeResponse xmlns='urn:xmpp:iot:concentrators' result='OK' ${NODE2.replace("state='None'", "state='ErrorUnsigned'")}>
    <string id='name' name='Name' value='Node2'/>
    <string id='kind' name='Driver kind' value='simulated'/>
    <string id='state' name='State' value='error'/>
    <string id='fault' name='Fault' value='Node2/Temperature: sensor unplugged'/>
  </getNodeResponse>`);
  events.emit('reading', { thing: 'Node2', timestamp: 1, values: [{ field: 'Temperature', value: 21.5 }] }, 'MeteringTopology');
  assert.is((await payload(iq('12b', `<getNode xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' nodeId='Node2'/>`)))!.attrs.state, 'None');
});

test('a stranger is refused everything (forbidden, InsufficientPrivileges); unknown commands and sets: NotImplemented', async () => {
  const { ask } = await setup();
  for (const body of [`<getCapabilities xmlns='urn:xmpp:iot:concentrators'/>`, `<getRootNodes xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology'/>`]) {
    const r = await ask(iq('s', body, STRANGER));
    assert.is(r.attrs.type, 'error');
    assert.ok(r.getChild('error')!.getChild('forbidden', 'urn:ietf:params:xml:ns:xmpp-stanzas'));
    assert.is(r.elements.find((e) => e.xmlns === NS_CONCENTRATOR)!.attrs.result, 'InsufficientPrivileges');
    assert.not.ok(r.getChildren('node', NS_CONCENTRATOR).length);
  }
  // XEP-0326 'Unimplemented commands' (its holabandola example).
  const h = await ask(iq('69', `<holabandola xmlns='urn:xmpp:iot:concentrators'/>`));
  assert.is(h.attrs.type, 'result');
  same(h.elements[0], `<holabandolaResponse xmlns='urn:xmpp:iot:concentrators' result='NotImplemented'/>`);
  const d = await ask(iq('41', `<destroyNode xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringGroups' nodeId='B1' xml:lang='en'/>`, CLIENT, 'set'));
  same(d.elements[0], `<destroyNodeResponse xmlns='urn:xmpp:iot:concentrators' result='NotImplemented'/>`);
});

test('pure: node references, and a sourceId that is not the node\'s own finds nothing', () => {
  const refs = parseNodeRefs(parseXml(`<getNodes xmlns='urn:xmpp:iot:concentrators'><node sourceId='A' nodeId='n'/><node nodeId='m'/></getNodes>`));
  assert.equal(refs, [{ sourceId: 'A', nodeId: 'n' }, { nodeId: 'm' }]);
  const n = { sourceId: 'B', nodeId: 'n', displayName: 'n', nodeType: 't', state: 'None' as const, isControllable: false, isReadable: true, hasCommands: true, hasChildren: false, parameters: [] };
  assert.is(findNode([n], refs[0]!), undefined);
  assert.is(findNode([n], { nodeId: 'n' }), n);
});

const READ = `<command command='Read' name='Read values' type='Query' sortKey='1' successString='Reading; the values follow.' failureString='Unable to read the node.'/>`;
const SET = `<command command='Set' name='Set values...' type='Parameterized' sortKey='2' successString='Values set.' failureString='Unable to set the values.'/>`;

test('getNodeCommands (XEP-0326 \'Get Node Commands\'): Read for a reader, Read and Set for a controller of a writable node', async () => {
  const { payload } = await setup();
  const req = (nodeId: string) => `<getNodeCommands xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' nodeId='${nodeId}' xml:lang='en'/>`;
  same(await payload(iq('43', req('Node2'))), `<getNodeCommandsResponse xmlns='urn:xmpp:iot:concentrators' result='OK'>${READ}</getNodeCommandsResponse>`);
  same(await payload(iq('43b', req('Node2'), CONTROLLER)), `<getNodeCommandsResponse xmlns='urn:xmpp:iot:concentrators' result='OK'>${READ}${SET}</getNodeCommandsResponse>`);
  // Node1 has no writable field: no Set, even for a controller.
  same(await payload(iq('43c', req('Node1'), CONTROLLER)), `<getNodeCommandsResponse xmlns='urn:xmpp:iot:concentrators' result='OK'>${READ}</getNodeCommandsResponse>`);
});

test('getCommandParameters (\'Get Node Command Parameters\'): the Set form of the writable fields, XEP-0122 datatypes; a reader is refused', async () => {
  const { payload, ask, host } = await setup();
  await host.readThing('Node2', { deliver: true, fresh: true }); // the current value the form shows
  const req = `<getCommandParameters xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' nodeId='Node2' command='Set' xml:lang='en'/>`;
  same(await payload(iq('45', req, CONTROLLER)), `
  <getCommandParametersResponse xmlns='urn:xmpp:iot:concentrators' result='OK'>
    <x xmlns='jabber:x:data' type='form'>
      <title>Set Node2</title>
      <field var='Relay' type='boolean' label='Node2: Relay'><value>false</value><notSame xmlns='urn:xmpp:xdata:dynamic'/></field>
    </x>
  </getCommandParametersResponse>`);
  const r = await ask(iq('45b', req));
  assert.is(r.attrs.type, 'error');
  assert.ok(r.getChild('error')!.getChild('forbidden', 'urn:ietf:params:xml:ns:xmpp-stanzas'));
  same(r.getChild('getCommandParametersResponse', NS_CONCENTRATOR), `<getCommandParametersResponse xmlns='urn:xmpp:iot:concentrators' result='InsufficientPrivileges'/>`);
});

const setRelay = (value: string, id = '46') => iq(id, `
  <executeNodeCommand xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' nodeId='Node2' command='Set' xml:lang='en'>
    <x type='submit' xmlns='jabber:x:data'>
      <field var='Relay' type='boolean'><value>${value}</value></field>
    </x>
  </executeNodeCommand>`, CONTROLLER, 'set');

test('executeNodeCommand Set (\'Execute Parameterized Node Command\'): a controller sets the relay through the driver', async () => {
  const { payload, host } = await setup();
  same(await payload(setRelay('true')), `<executeNodeCommandResponse xmlns='urn:xmpp:iot:concentrators' result='OK'/>`);
  const r = await host.readThing('Node2', { fresh: true });
  assert.is(r!.values.find((v) => v.field === 'Relay')!.value, true);
});

test('executeNodeCommand Set with a bad value (\'Execute Node Command, Failure\'): FormError, <error var> per field, nothing set', async () => {
  const { ask, host } = await setup();
  const r = await ask(setRelay('maybe', '47'));
  assert.is(r.attrs.type, 'error');
  assert.ok(r.getChild('error')!.getChild('bad-request', 'urn:ietf:params:xml:ns:xmpp-stanzas'));
  const res = r.getChild('executeNodeCommandResponse', NS_CONCENTRATOR)!;
  assert.is(res.attrs.result, 'FormError');
  const errs = res.getChildren('error');
  assert.equal(errs.map((e) => e.attrs.var), ['Relay']);
  assert.match(errs[0]!.text(), /expected on\/off.*got "maybe"/);
  const now = await host.readThing('Node2', { fresh: true });
  assert.is(now!.values.find((v) => v.field === 'Relay')!.value, false);
});

test('executeNodeCommand: a reader\'s Set is refused and changes nothing; Read works for a reader; unknown node and command are NotFound', async () => {
  const { ask, payload, host } = await setup();
  const body = setRelay('true').replace(`from='${CONTROLLER}'`, `from='${CLIENT}'`);
  const r = await ask(body);
  assert.is(r.attrs.type, 'error');
  assert.ok(r.getChild('error')!.getChild('forbidden', 'urn:ietf:params:xml:ns:xmpp-stanzas'));
  assert.is(r.getChild('executeNodeCommandResponse', NS_CONCENTRATOR)!.attrs.result, 'InsufficientPrivileges');
  assert.is((await host.readThing('Node2', { fresh: true }))!.values.find((v) => v.field === 'Relay')!.value, false);
  // XEP-0326 'Execute Simple Node Command'.
  same(await payload(iq('44', `<executeNodeCommand xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' nodeId='Node1' command='Read' xml:lang='en'/>`, CLIENT, 'set')),
    `<executeNodeCommandResponse xmlns='urn:xmpp:iot:concentrators' result='OK'/>`);
  const u = await ask(iq('44b', `<executeNodeCommand xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' nodeId='Apartment 1-1' command='knockDoor'/>`, CLIENT, 'set'));
  assert.ok(u.getChild('error')!.getChild('item-not-found', 'urn:ietf:params:xml:ns:xmpp-stanzas'));
  assert.is(u.getChild('executeNodeCommandResponse', NS_CONCENTRATOR)!.attrs.result, 'NotFound');
  const k = await ask(iq('44c', `<executeNodeCommand xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' nodeId='Node1' command='knockDoor'/>`, CLIENT, 'set'));
  assert.is(k.getChild('executeNodeCommandResponse', NS_CONCENTRATOR)!.attrs.result, 'NotFound');
  assert.match(k.getChild('error')!.getChildText('text', 'urn:ietf:params:xml:ns:xmpp-stanzas')!, /knockDoor.*getNodeCommands/);
  // A stranger: forbidden before anything else.
  const s = await ask(iq('44d', `<getNodeCommands xmlns='urn:xmpp:iot:concentrators' sourceId='MeteringTopology' nodeId='Node1'/>`, STRANGER));
  assert.ok(s.getChild('error')!.getChild('forbidden', 'urn:ietf:params:xml:ns:xmpp-stanzas'));
});

const BOARD = `nodeId='uno1' displayName='board uno1' nodeType='xiota.bridge.board' state='None' hasChildren='true' isReadable='false' isControllable='false' hasCommands='false'`;
const TEMP = `nodeId='uno1.temp' displayName='uno1.temp' nodeType='xiota.bridge' state='None' hasChildren='false' isReadable='true' isControllable='false' hasCommands='true' parentId='uno1'`;
const RELAY = `nodeId='uno1.relay' displayName='uno1.relay' nodeType='xiota.bridge' state='None' hasChildren='false' isReadable='true' isControllable='true' hasCommands='true' parentId='uno1'`;

test('a bridge\'s board is a parent node over its things (getRootNodes, getChildNodes, getAllNodes); a fault shows on both', async () => {
  const { payload, ask, events } = await setup();
  same(await payload(iq('18', `<getRootNodes xmlns='urn:xmpp:iot:concentrators' sourceId='uno' xml:lang='en'/>`)),
    `<getRootNodesResponse xmlns='urn:xmpp:iot:concentrators' result='OK'><node ${BOARD}/></getRootNodesResponse>`);
  same(await payload(iq('20', `<getChildNodes xmlns='urn:xmpp:iot:concentrators' sourceId='uno' nodeId='uno1' xml:lang='en'/>`)),
    `<getChildNodesResponse xmlns='urn:xmpp:iot:concentrators' result='OK'><node ${TEMP}/><node ${RELAY}/></getChildNodesResponse>`);
  same(await payload(iq('13', `<getAllNodes xmlns='urn:xmpp:iot:concentrators' sourceId='uno' xml:lang='en'/>`)),
    `<getAllNodesResponse xmlns='urn:xmpp:iot:concentrators' result='OK'><node ${BOARD}/><node ${TEMP}/><node ${RELAY}/></getAllNodesResponse>`);
  events.emit('fault', { driver: 'uno', thing: 'uno1.temp', message: 'sensor unplugged', timestamp: 0 });
  same(await payload(iq('12', `<getNode xmlns='urn:xmpp:iot:concentrators' sourceId='uno' nodeId='uno1' parameters='true'/>`)), `
  <getNodeResponse xmlns='urn:xmpp:iot:concentrators' result='OK' ${BOARD.replace("state='None'", "state='ErrorUnsigned'")}>
    <string id='name' name='Name' value='board uno1'/>
    <string id='kind' name='Driver kind' value='bridge'/>
    <string id='state' name='State' value='error'/>
    <string id='fault' name='Fault' value='uno1.temp: sensor unplugged'/>
  </getNodeResponse>`);
  // The board has no commands; its things do.
  const b = await ask(iq('43', `<getNodeCommands xmlns='urn:xmpp:iot:concentrators' sourceId='uno' nodeId='uno1'/>`));
  assert.is(b.getChild('getNodeCommandsResponse', NS_CONCENTRATOR)!.attrs.result, 'NotFound');
  same(await payload(iq('43b', `<getNodeCommands xmlns='urn:xmpp:iot:concentrators' sourceId='uno' nodeId='uno1.relay'/>`, CONTROLLER)),
    `<getNodeCommandsResponse xmlns='urn:xmpp:iot:concentrators' result='OK'>${READ}${SET}</getNodeCommandsResponse>`);
});

test('pure: the Set form carries XEP-0122 ranges, and a value outside one is an error on that field; nothing else is planned', () => {
  const thing = { id: 'oven', fields: [
    { name: 'setpoint', type: 'numeric' as const, writable: true, min: 0, max: 250 },
    { name: 'mode', type: 'enum' as const, writable: true, values: ['off', 'bake'] },
    { name: 'temperature', type: 'numeric' as const },
  ] };
  const fields = setFormFields(thing, new Map([['setpoint', 180]]));
  assert.equal(fields.map((f) => [f.var, f.type, f.validate?.datatype, f.validate?.min, f.validate?.max, f.values]),
    [['setpoint', 'text-single', 'xs:double', '0', '250', ['180']], ['mode', 'list-single', undefined, undefined, undefined, []]]);
  const submit = (sp: string, mode: string) => parseXml(`<x xmlns='jabber:x:data' type='submit'><field var='setpoint'><value>${sp}</value></field><field var='mode'><value>${mode}</value></field></x>`);
  assert.equal(planSet(thing, fields, submit('200', 'bake')), { plan: [{ field: 'setpoint', value: 200 }, { field: 'mode', value: 'bake' }], errors: [] });
  const bad = planSet(thing, fields, submit('300', 'bake'));
  assert.equal(bad.errors.map((e) => e.var), ['setpoint']);
  assert.match(bad.errors[0]!.message, /250/);
  const empty = planSet(thing, fields, parseXml(`<x xmlns='jabber:x:data' type='submit'/>`));
  assert.match(empty.errors[0]!.message, /sets nothing.*setpoint, mode/);
});

test('the agent loads it once, in the module list', () => {
  assert.is(MODULES.filter((m) => m.name === 'concentrator').length, 1);
});

test('end to end on Prosody: a reader browses, a controller runs Set and the actuator changes, the reader\'s Set and a stranger are refused', async () => {
  const srv = await startProsody();
  const dir = mkdtempSync(join(tmpdir(), 'xiota-concentrator-'));
  let agent: Agent | undefined;
  const clients: ReturnType<typeof clientFor>[] = [];
  try {
    for (const u of ['dev', 'alice', 'bob', 'eve']) await srv.register(u, `${u}pass`);
    const r = configFromObject({
      account: { jid: `dev@${srv.host}/gw`, password: 'devpass' },
      server: { host: '127.0.0.1', port: srv.c2sPort },
      tls: { ca_file: srv.caFile },
      outbox: { dir: join(dir, 'outbox'), flush_interval_ms: 20 },
      access: { owners: [], controllers: [`bob@${srv.host}`], readers: [`alice@${srv.host}`] },
    });
    assert.equal(r.errors, []);
    const driver = createSimulatedDriver('sim', { pollIntervalMs: 60_000, things: [{ id: 'greenhouse', name: 'Greenhouse', fields: [
      { name: 'temperature', type: 'numeric', unit: '°C', waveform: 'constant', initial: 20 },
      { name: 'fan', type: 'boolean', writable: true, initial: false },
    ] }] });
    const fan = async () => (await driver.sample!()).find((r) => r.thing === 'greenhouse')!.values.find((v) => v.field === 'fan')!.value;
    agent = new Agent({ config: r.config!, credentials: { password: 'devpass', source: 'password', warnings: [] }, drivers: [driver] });
    await agent.start();
    await waitFor('agent online', () => agent!.client.state === 'online', 15_000);
    assert.ok(agent.disco.featureList().includes(NS_CONCENTRATOR));
    const DEV = `dev@${srv.host}/gw`;
    const alice = clientFor(srv, 'alice', 'alicepass');
    const eve = clientFor(srv, 'eve', 'evepass');
    const bob = clientFor(srv, 'bob', 'bobpass');
    clients.push(alice, eve, bob);
    await Promise.all([alice.connectOnce(), eve.connectOnce(), bob.connectOnce()]);
    const get = (payloadXml: string) => x('iq', { type: 'get', to: DEV }, parseXml(payloadXml));
    const caps = await alice.iq(get(`<getCapabilities xmlns='urn:xmpp:iot:concentrators'/>`));
    assert.equal(caps.getChild('getCapabilitiesResponse', NS_CONCENTRATOR)!.getChildren('value').map((v) => v.text()), [...CAPABILITIES]);
    const roots = await alice.iq(get(`<getRootNodes xmlns='urn:xmpp:iot:concentrators' sourceId='sim' xml:lang='en'/>`));
    const res = roots.getChild('getRootNodesResponse', NS_CONCENTRATOR)!;
    assert.is(res.attrs.result, 'OK');
    assert.equal(res.getChildren('node', NS_CONCENTRATOR).map((n) => [n.attrs.nodeId, n.attrs.displayName, n.attrs.state]), [['greenhouse', 'Greenhouse', 'None']]);
    try {
      await eve.iq(get(`<getRootNodes xmlns='urn:xmpp:iot:concentrators' sourceId='sim'/>`));
      assert.unreachable('a stranger got the nodes');
    } catch (e) {
      assert.is((e as { condition?: string }).condition, 'forbidden');
    }
    // XEP-0326 'Node Commands': bob (controller) gets the Set form and submits it.
    const cmds = await bob.iq(get(`<getNodeCommands xmlns='urn:xmpp:iot:concentrators' sourceId='sim' nodeId='greenhouse'/>`));
    assert.equal(cmds.getChild('getNodeCommandsResponse', NS_CONCENTRATOR)!.getChildren('command').map((c) => [c.attrs.command, c.attrs.type]), [['Read', 'Query'], ['Set', 'Parameterized']]);
    const params = await bob.iq(get(`<getCommandParameters xmlns='urn:xmpp:iot:concentrators' sourceId='sim' nodeId='greenhouse' command='Set'/>`));
    const form = params.getChild('getCommandParametersResponse', NS_CONCENTRATOR)!.getChild('x', 'jabber:x:data')!;
    assert.equal(form.getChildren('field').map((f) => [f.attrs.var, f.attrs.type]), [['fan', 'boolean']]);
    const exec = (on: string) => x('iq', { type: 'set', to: DEV }, parseXml(`
      <executeNodeCommand xmlns='urn:xmpp:iot:concentrators' sourceId='sim' nodeId='greenhouse' command='Set' xml:lang='en'>
        <x type='submit' xmlns='jabber:x:data'><field var='fan'><value>${on}</value></field></x>
      </executeNodeCommand>`));
    assert.is(await fan(), false);
    try {
      await alice.iq(exec('true'));
      assert.unreachable('a reader ran Set');
    } catch (e) {
      assert.is((e as { condition?: string }).condition, 'forbidden');
    }
    assert.is(await fan(), false, 'the reader\'s Set changed nothing');
    const ok = await bob.iq(exec('true'));
    assert.is(ok.getChild('executeNodeCommandResponse', NS_CONCENTRATOR)!.attrs.result, 'OK');
    assert.is(await fan(), true, 'the controller\'s Set reached the simulated actuator');
    console.log('e2e: controller Set -> fan', await fan(), '; reader Set -> forbidden');
  } finally {
    for (const c of clients) await c.stop().catch(() => {});
    await agent?.stop();
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
