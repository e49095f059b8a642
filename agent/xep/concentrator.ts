// XEP-0326 concentrators, the read-only part: the gateway is one JID in front of many things.
// Each driver is a data source, each thing a node (agent/iot/concentrator.ts holds the mapping
// and the stanzas); a firmware bridge's board is a parent node over its things. Browsing needs
// the read right (agent/access.ts); node commands map onto readout (Read, for readers) and
// control (Set, for controllers: the same Access.check and DriverHost.set as XEP-0325).
//
// Errors: a refused or unknown request is an iq error carrying both a stanza error (for plain
// XMPP clients) and the `<...Response result='NotFound'/>` element, as XEP-0326's 'Destroy
// Node, Failure' example does. A command not implemented here is answered as the 'Unimplemented
// commands' text says: an iq *result* with result='NotImplemented' (its example shows
// type='error': a slip against its own text).
import type { DriverHost } from '../../drivers/host';
import { faultsOf } from '../faults';
import type { Reading, ThingSpec, Value } from '../../drivers/types';
import type { Access } from '../access-store';
import type { AgentEvents } from '../modules';
import type { ModuleContext } from '../module';
import { StanzaError, errorReply, iqResult } from '../session/stanza';
import type { Element } from '../xml/element';
import type { EventEmitter } from 'node:events';
import {
  CAPABILITIES, NS_CONCENTRATOR, SET_COMMANDS, dataSourceElement, findNode, getNodeResponse, isCommand, nodeElement, parseNodeRefs, refOf, response,
  type ConcentratorNode, type DataSource, type NodeParameter, type ResultCode,
} from '../iot/concentrator';
import {
  READ_COMMAND, SET_COMMAND, commandElement, commandsFor, errorElements, planSet, setFormFields, setFormResponse,
} from '../iot/concentrator-commands';
import { NS_DATA } from './forms';
import { NodeQueries, parseReadQuery, readQueryForm } from '../iot/concentrator-query';
import { x } from '../xml/element';

export { NS_CONCENTRATOR };

export interface ConcentratorDeps {
  drivers: Pick<DriverHost, 'drivers' | 'set' | 'readThing'>;
  access: Pick<Access, 'decide' | 'check'>;
  things(): ThingSpec[];
  latest(): Reading[];
  events: EventEmitter<AgentEvents>;
}

class Refusal {
  constructor(readonly command: string, readonly result: ResultCode, readonly error: StanzaError, readonly details: Element[] = []) {}
}

const refusedControl = (command: string) =>
  new Refusal(command, 'InsufficientPrivileges', new StanzaError('forbidden', 'setting values on this device needs the control right: ask one of its owners', { type: 'auth' }));

/** Bridge things are `<board>.<key>` (drivers/bridge.ts; board ids have no dot). */
const boardOf = (kind: string, thingId: string): string | undefined => {
  const dot = thingId.indexOf('.');
  return kind === 'bridge' && dot > 0 ? thingId.slice(0, dot) : undefined;
};

const notFound = (command: string, what: string) =>
  new Refusal(command, 'NotFound', new StanzaError('item-not-found', `${what}: ask getAllDataSources and getRootNodes for what there is`, { type: 'cancel' }));

export function install(m: ModuleContext, deps: ConcentratorDeps): void {
  m.addFeature(NS_CONCENTRATOR);

  // What is failing now: the agent's one record (agent/faults.ts), the one presence shows.
  const faults = faultsOf(m, deps.events);

  const sources = (): DataSource[] => deps.drivers.drivers().map((d) => ({ sourceId: d.id, name: `${d.id} (${d.kind})` }));

  const parametersOf = (name: string, kind: string, fault: string | undefined): NodeParameter[] => {
    const p = [
      { id: 'name', name: 'Name', value: name },
      { id: 'kind', name: 'Driver kind', value: kind },
      { id: 'state', name: 'State', value: fault === undefined ? 'ok' : 'error' },
    ];
    if (fault !== undefined) p.push({ id: 'fault', name: 'Fault', value: fault });
    return p;
  };

  const nodes = (): ConcentratorNode[] => {
    const specs = new Map(deps.things().map((t) => [t.id, t]));
    const latest = new Map(deps.latest().map((r) => [r.thing, r]));
    const out: ConcentratorNode[] = [];
    for (const d of deps.drivers.drivers()) {
      const driverFault = faults.ofDriver(d.id) ?? (d.state !== 'running' ? `driver ${d.id} is ${d.state}` : undefined);
      const boards = new Map<string, string[]>();
      const things: ConcentratorNode[] = [];
      for (const id of d.things) {
        const t = specs.get(id);
        if (!t) continue;
        const fieldErrors = (latest.get(id)?.values ?? []).filter((v) => v.error !== undefined).map((v) => `${v.field}: ${v.error}`);
        const fault = faults.ofThing(id, d.id)
          ?? (fieldErrors.length ? fieldErrors.join('; ') : undefined)
          ?? (d.state !== 'running' ? `driver ${d.id} is ${d.state}` : undefined);
        const board = boardOf(d.kind, id);
        if (board !== undefined) boards.set(board, [...(boards.get(board) ?? []), ...(fault !== undefined ? [`${id}: ${fault}`] : [])]);
        const n: ConcentratorNode = {
          sourceId: d.id, nodeId: id, displayName: t.name ?? t.id, nodeType: `xiota.${d.kind}`,
          state: fault === undefined ? 'None' : 'ErrorUnsigned', isControllable: t.fields.some((f) => f.writable === true),
          isReadable: true, hasCommands: true, hasChildren: false, parameters: parametersOf(t.name ?? t.id, d.kind, fault),
        };
        if (board !== undefined) n.parentId = board;
        things.push(n);
      }
      // The board behind a bridge: a parent node, in error when the driver or a thing is.
      for (const [board, faults] of boards) {
        const fault = driverFault ?? (faults.length ? faults.join('; ') : undefined);
        out.push({
          sourceId: d.id, nodeId: board, displayName: `board ${board}`, nodeType: `xiota.${d.kind}.board`,
          state: fault === undefined ? 'None' : 'ErrorUnsigned', isControllable: false, isReadable: false, hasCommands: false, hasChildren: true,
          parameters: parametersOf(`board ${board}`, d.kind, fault),
        });
      }
      out.push(...things);
    }
    return out;
  };

  const source = (command: string, el: Element): DataSource => {
    const id = el.attrs.sourceId;
    const s = sources().find((d) => d.sourceId === id);
    if (!s) throw notFound(command, id === undefined ? 'no sourceId given' : `no data source "${id}"`);
    return s;
  };

  const answer = (command: string, el: Element): Element => {
    const params = el.attrs.parameters === 'true';
    switch (command) {
      case 'getCapabilities':
        return response(command, 'OK', ...CAPABILITIES.map((c) => x('value', null, c)));
      case 'getAllDataSources':
      case 'getRootDataSources':
        // Flat: every data source is a root.
        return response(command, 'OK', ...sources().map(dataSourceElement));
      case 'getChildDataSources':
        source(command, el);
        return response(command, 'OK');
      case 'containsNode':
        return response(command, 'OK', String(findNode(nodes(), refOf(el)) !== undefined));
      case 'containsNodes': {
        const all = nodes();
        return response(command, 'OK', ...parseNodeRefs(el).map((r) => x('value', null, String(findNode(all, r) !== undefined))));
      }
      case 'getNode': {
        const n = findNode(nodes(), refOf(el));
        if (!n) throw notFound(command, `no node "${el.attrs.nodeId ?? ''}" in data source "${el.attrs.sourceId ?? ''}"`);
        return getNodeResponse(n, params);
      }
      case 'getNodes': {
        const all = nodes();
        const found = parseNodeRefs(el).map((r) => findNode(all, r) ?? r);
        const missing = found.filter((n) => !('displayName' in n));
        if (missing.length) throw notFound(command, `no node ${missing.map((r) => `"${r.nodeId}"`).join(', ')}`);
        return response(command, 'OK', ...(found as ConcentratorNode[]).map((n) => nodeElement(n, params)));
      }
      case 'getAllNodes':
      case 'getRootNodes': {
        const s = source(command, el);
        const all = nodes().filter((n) => n.sourceId === s.sourceId && (command === 'getAllNodes' || n.parentId === undefined));
        return response(command, 'OK', ...all.map((n) => nodeElement(n, params)));
      }
      case 'getChildNodes': {
        const all = nodes();
        const n = node(command, el, all);
        return response(command, 'OK', ...all.filter((c) => c.sourceId === n.sourceId && c.parentId === n.nodeId).map((c) => nodeElement(c, params)));
      }
      default:
        return response(command, 'NotImplemented');
    }
  };

  const node = (command: string, el: Element, all = nodes()): ConcentratorNode => {
    const n = findNode(all, refOf(el));
    if (!n) throw notFound(command, `no node "${el.attrs.nodeId ?? ''}" in data source "${el.attrs.sourceId ?? ''}"`);
    return n;
  };

  /** A thing node and its spec; a board node has no commands. */
  const thingOf = (command: string, el: Element): ThingSpec => {
    const n = node(command, el);
    const t = n.isReadable ? deps.things().find((s) => s.id === n.nodeId) : undefined;
    if (!t) throw notFound(command, `node "${n.nodeId}" has no commands: ask getChildNodes for its things`);
    return t;
  };

  /** XEP-0324 canControl for this node (and these parameters); a partial grant that leaves
   *  any of them out is refused, as browsing refuses one. */
  const mayControl = async (from: string, thing: string, fields?: string[]): Promise<boolean> => {
    const d = await deps.access.check(from, 'control', { question: 'control', nodes: [thing], ...(fields ? { fields } : {}) });
    if (!d.allowed) return false;
    if (d.nodes && !d.nodes.includes(thing)) return false;
    return !(d.fields && (fields ?? []).some((f) => !d.fields!.includes(f)));
  };

  const currentValues = (thing: string): Map<string, Value> => {
    const out = new Map<string, Value>();
    for (const v of deps.latest().find((r) => r.thing === thing)?.values ?? []) if (v.value !== undefined) out.set(v.field, v.value);
    return out;
  };

  const unknownCommand = (command: string, name: string | undefined, t: ThingSpec) =>
    notFound(command, `no command "${name ?? ''}" on node "${t.id}": ask getNodeCommands`);

  /** XEP-0326 'Node Commands'. */
  const commands = async (command: string, el: Element, from: string): Promise<Element> => {
    const t = thingOf(command, el);
    const control = t.fields.some((f) => f.writable === true) && await mayControl(from, t.id);
    if (command === 'getNodeCommands') return response(command, 'OK', ...commandsFor(t, control).map(commandElement));
    const name = el.attrs.command;
    if (name === READ_COMMAND.command) {
      // XEP-0326 'Get Node Query Parameters': Read is a query; its form picks fields.
      if (command === 'getCommandParameters') return response(command, 'OK', readQueryForm(t));
      // executeNodeCommand Read (a client that takes it for a simple command): a fresh sample,
      // delivered like a poll (PubSub gets it); executeNodeQuery returns the values instead.
      const r = await deps.drivers.readThing(t.id, { deliver: true, fresh: true });
      if (!r) throw new Refusal(command, 'OtherError', new StanzaError('resource-constraint', `${READ_COMMAND.failureString} ${t.id}: its driver is not running or gave no reading; try again later`, { type: 'wait' }));
      return response(command, 'OK');
    }
    if (name !== SET_COMMAND.command || !t.fields.some((f) => f.writable === true)) throw unknownCommand(command, name, t);
    if (!control) throw refusedControl(command);
    const fields = setFormFields(t, currentValues(t.id));
    if (command === 'getCommandParameters') return setFormResponse(t, fields);
    // XEP-0326 'Execute Parameterized Node Command'.
    const form = el.getChild('x', NS_DATA);
    if (!form) throw new Refusal(command, 'FormError', new StanzaError('bad-request', 'Set needs the submitted form: ask getCommandParameters for it', { type: 'modify' }));
    const { plan, errors } = planSet(t, fields, form);
    if (errors.length) {
      throw new Refusal(command, 'FormError', new StanzaError('bad-request', `nothing was set. ${errors.map((e) => `${e.var || 'form'}: ${e.message}`).join('; ')}`, { type: 'modify' }), errorElements(errors));
    }
    if (!(await mayControl(from, t.id, plan.map((p) => p.field)))) throw refusedControl(command);
    for (const p of plan) {
      try {
        await deps.drivers.set(t.id, p.field, p.value, from);
      } catch (e) {
        const msg = (e as Error).message;
        deps.drivers.readThing(t.id, { deliver: true, fresh: true }).catch(() => {});
        throw new Refusal(command, 'OtherError', new StanzaError('undefined-condition', `set stopped at ${p.field}: ${msg}`, { type: 'cancel' }), errorElements([{ var: p.field, message: msg }]));
      }
    }
    // Read back: the new values reach PubSub at once (as agent/xep/control.ts does).
    void deps.drivers.readThing(t.id, { deliver: true, fresh: true });
    return response(command, 'OK');
  };

  // XEP-0326 'Execute Node Query': Read's values come back to the asker as query events.
  const queries = new NodeQueries({
    send: (el) => m.send(el),
    read: (thing) => deps.drivers.readThing(thing, { fresh: true }),
    latest: (thing) => deps.latest().find((r) => r.thing === thing),
  });

  /** executeNodeQuery (the response first, then the queryProgress messages) and abortNodeQuery. */
  const query = async (iq: Element, el: Element): Promise<Element | true> => {
    const command = el.name;
    const from = iq.attrs.from ?? '';
    if (command === 'abortNodeQuery') {
      // XEP-0326 'Abort Node Query': a query that has ended (or is not the asker's) is NotFound.
      if (!queries.abort(from, el.attrs.queryId ?? '')) throw notFound(command, `no query "${el.attrs.queryId ?? ''}" of yours is running (it may have ended)`);
      return response(command, 'OK');
    }
    const t = thingOf(command, el);
    if (el.attrs.command !== READ_COMMAND.command) {
      throw notFound(command, `no query "${el.attrs.command ?? ''}" on node "${t.id}": the query is Read (Set is a command: send executeNodeCommand)`);
    }
    const q = parseReadQuery(t, el.getChild('x', NS_DATA));
    if ('errors' in q) {
      throw new Refusal(command, 'FormError', new StanzaError('bad-request', `nothing was read. ${q.errors.map((e) => `${e.var || 'form'}: ${e.message}`).join('; ')}`, { type: 'modify' }), errorElements(q.errors));
    }
    const n = node(command, el);
    const id = queries.open(from, { sourceId: n.sourceId, nodeId: n.nodeId });
    if (id === undefined) throw new Refusal(command, 'OtherError', new StanzaError('resource-constraint', 'too many queries are running on this device: try again when one has ended', { type: 'wait' }));
    const ok = response(command, 'OK');
    ok.attrs.queryId = id;
    m.send(iqResult(iq, ok));
    void queries.run(id, t, q.fields);
    return true;
  };

  const handle = async (iq: Element): Promise<Element | true> => {
    const el = iq.elements.find((e) => e.xmlns === NS_CONCENTRATOR)!;
    const command = el.name;
    try {
      // XEP-0326 'Unimplemented commands': any get or set we do not implement (every set but
      // executeNodeCommand: editing nodes is not built) is answered NotImplemented, whoever asks.
      if (!isCommand(command) || (iq.attrs.type === 'set') !== SET_COMMANDS.includes(command)) return response(command, 'NotImplemented');
      // XEP-0324 canRead when the local policy cannot decide; a partial grant (some nodes or
      // fields) is refused here: browsing would show the rest.
      const d = await deps.access.check(iq.attrs.from ?? '', 'read', { question: 'read' });
      if (!d.allowed || d.nodes || d.fields) {
        throw new Refusal(command, 'InsufficientPrivileges', new StanzaError('forbidden', 'reading this concentrator needs the read right: ask one of its owners', { type: 'auth' }));
      }
      if (command === 'executeNodeQuery' || command === 'abortNodeQuery') return await query(iq, el);
      if (command === 'getNodeCommands' || command === 'getCommandParameters' || command === 'executeNodeCommand') {
        return await commands(command, el, iq.attrs.from ?? '');
      }
      return answer(command, el);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      return errorReply(iq, e.error).append(response(e.command, e.result, ...e.details));
    }
  };

  m.hook(`iq/get/${NS_CONCENTRATOR}`, handle);
  m.hook(`iq/set/${NS_CONCENTRATOR}`, handle);
}
