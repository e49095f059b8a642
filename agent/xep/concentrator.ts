// XEP-0326 concentrators, the read-only part: the gateway is one JID in front of many things.
// Each driver is a data source, each thing a node (agent/iot/concentrator.ts holds the mapping
// and the stanzas). Everything needs the read right (agent/access.ts).
//
// Errors: a refused or unknown request is an iq error carrying both a stanza error (for plain
// XMPP clients) and the `<...Response result='NotFound'/>` element, as XEP-0326's 'Destroy
// Node, Failure' example does. A command not implemented here is answered as the 'Unimplemented
// commands' text says: an iq *result* with result='NotImplemented' (its example shows
// type='error': a slip against its own text).
import type { DriverFault, DriverHost } from '../../drivers/host';
import type { Reading, ThingSpec } from '../../drivers/types';
import type { Access } from '../access-store';
import type { AgentEvents } from '../modules';
import { listen } from '../modules';
import type { ModuleContext } from '../module';
import { StanzaError, errorReply } from '../session/stanza';
import type { Element } from '../xml/element';
import type { EventEmitter } from 'node:events';
import {
  CAPABILITIES, NS_CONCENTRATOR, dataSourceElement, findNode, getNodeResponse, isCommand, nodeElement, parseNodeRefs, refOf, response,
  type ConcentratorNode, type DataSource, type ResultCode,
} from '../iot/concentrator';
import { x } from '../xml/element';

export { NS_CONCENTRATOR };

export interface ConcentratorDeps {
  drivers: Pick<DriverHost, 'drivers'>;
  access: Pick<Access, 'decide' | 'check'>;
  things(): ThingSpec[];
  latest(): Reading[];
  events: EventEmitter<AgentEvents>;
}

class Refusal {
  constructor(readonly command: string, readonly result: ResultCode, readonly error: StanzaError) {}
}

const notFound = (command: string, what: string) =>
  new Refusal(command, 'NotFound', new StanzaError('item-not-found', `${what}: ask getAllDataSources and getRootNodes for what there is`, { type: 'cancel' }));

export function install(m: ModuleContext, deps: ConcentratorDeps): void {
  m.addFeature(NS_CONCENTRATOR);

  // The last fault each thing (or a whole driver) reported, until a clean reading clears it.
  const thingFaults = new Map<string, string>();
  const driverFaults = new Map<string, string>();
  listen(m, deps.events, 'fault', (f: DriverFault) => {
    if (f.thing !== undefined) thingFaults.set(f.thing, f.message);
    else driverFaults.set(f.driver, f.message);
  });
  listen(m, deps.events, 'reading', (r: Reading, driverId: string) => {
    if (r.values.every((v) => v.error === undefined)) thingFaults.delete(r.thing);
    driverFaults.delete(driverId);
  });

  const sources = (): DataSource[] => deps.drivers.drivers().map((d) => ({ sourceId: d.id, name: `${d.id} (${d.kind})` }));

  const nodes = (): ConcentratorNode[] => {
    const specs = new Map(deps.things().map((t) => [t.id, t]));
    const latest = new Map(deps.latest().map((r) => [r.thing, r]));
    const out: ConcentratorNode[] = [];
    for (const d of deps.drivers.drivers()) {
      for (const id of d.things) {
        const t = specs.get(id);
        if (!t) continue;
        const fieldErrors = (latest.get(id)?.values ?? []).filter((v) => v.error !== undefined).map((v) => `${v.field}: ${v.error}`);
        const fault = thingFaults.get(id) ?? driverFaults.get(d.id)
          ?? (fieldErrors.length ? fieldErrors.join('; ') : undefined)
          ?? (d.state !== 'running' ? `driver ${d.id} is ${d.state}` : undefined);
        const parameters = [
          { id: 'name', name: 'Name', value: t.name ?? t.id },
          { id: 'kind', name: 'Driver kind', value: d.kind },
          { id: 'state', name: 'State', value: fault === undefined ? 'ok' : 'error' },
        ];
        if (fault !== undefined) parameters.push({ id: 'fault', name: 'Fault', value: fault });
        out.push({
          sourceId: d.id, nodeId: id, displayName: t.name ?? t.id, nodeType: `xiota.${d.kind}`,
          state: fault === undefined ? 'None' : 'ErrorUnsigned', isControllable: t.fields.some((f) => f.writable === true), parameters,
        });
      }
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
        // No node has children, so every node of a source is a root.
        const s = source(command, el);
        return response(command, 'OK', ...nodes().filter((n) => n.sourceId === s.sourceId).map((n) => nodeElement(n, params)));
      }
      case 'getChildNodes': {
        if (!findNode(nodes(), refOf(el))) throw notFound(command, `no node "${el.attrs.nodeId ?? ''}" in data source "${el.attrs.sourceId ?? ''}"`);
        return response(command, 'OK');
      }
      default:
        return response(command, 'NotImplemented');
    }
  };

  const handle = async (iq: Element): Promise<Element> => {
    const el = iq.elements.find((e) => e.xmlns === NS_CONCENTRATOR)!;
    const command = el.name;
    try {
      // XEP-0326 'Unimplemented commands': any get or set we do not implement (all sets: this
      // part is read-only) is answered NotImplemented, whoever asks.
      if (iq.attrs.type !== 'get' || !isCommand(command)) return response(command, 'NotImplemented');
      // XEP-0324 canRead when the local policy cannot decide; a partial grant (some nodes or
      // fields) is refused here: browsing would show the rest.
      const d = await deps.access.check(iq.attrs.from ?? '', 'read', { question: 'read' });
      if (!d.allowed || d.nodes || d.fields) {
        throw new Refusal(command, 'InsufficientPrivileges', new StanzaError('forbidden', 'reading this concentrator needs the read right: ask one of its owners', { type: 'auth' }));
      }
      return answer(command, el);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      return errorReply(iq, e.error).append(response(e.command, e.result));
    }
  };

  m.hook(`iq/get/${NS_CONCENTRATOR}`, handle);
  m.hook(`iq/set/${NS_CONCENTRATOR}`, handle);
}
