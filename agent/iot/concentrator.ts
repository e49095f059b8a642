// XEP-0326 concentrators, the pure part: a gateway's drivers as data sources and its things as
// nodes, in typed values, and the response elements built from them. No I/O; the module
// (agent/xep/concentrator.ts) gathers the values and answers.
//
// The mapping: one flat data source per driver (sourceId = driver id, no child sources), one
// node per thing (nodeId = thing id, unique agent-wide). A firmware bridge's things
// (`<board>.<key>`) are children of a node for the board; other things are roots. A node's state
// is None, or ErrorUnsigned while its driver reports a fault on it (XEP-0326 'Node States').
// Node commands (agent/iot/concentrator-commands.ts) map onto readout and control; the Read
// query's values come back as query events (agent/iot/concentrator-query.ts).
import { Element, x } from '../xml/element';

export const NS_CONCENTRATOR = 'urn:xmpp:iot:concentrators';

/** What this agent answers (XEP-0326 'Get Capabilities': list only what is implemented). */
export const CAPABILITIES = [
  'getCapabilities',
  'getAllDataSources', 'getRootDataSources', 'getChildDataSources',
  'containsNode', 'containsNodes',
  'getNode', 'getNodes', 'getAllNodes', 'getRootNodes', 'getChildNodes',
  'getNodeCommands', 'getCommandParameters', 'executeNodeCommand',
  'executeNodeQuery', 'abortNodeQuery',
] as const;
export type Command = (typeof CAPABILITIES)[number];

/** XEP-0326 'Response Codes' (the ones this agent sends). */
export type ResultCode = 'OK' | 'NotFound' | 'InsufficientPrivileges' | 'NotImplemented' | 'FormError' | 'OtherError';

/** The commands that change or start something, sent as iq set (XEP-0326 'Execute Simple Node Command', 'Execute Node Query'). */
export const SET_COMMANDS: readonly Command[] = ['executeNodeCommand', 'executeNodeQuery', 'abortNodeQuery'];

export interface DataSource {
  sourceId: string;
  name: string;
}

export type NodeState = 'None' | 'ErrorUnsigned';

export interface NodeParameter { id: string; name: string; value: string }

export interface ConcentratorNode {
  sourceId: string;
  nodeId: string;
  displayName: string;
  nodeType: string;
  state: NodeState;
  isControllable: boolean;
  /** A thing is readable and has the Read command; a board node is neither. */
  isReadable: boolean;
  hasCommands: boolean;
  hasChildren: boolean;
  /** The board node a bridge thing sits under. */
  parentId?: string;
  parameters: NodeParameter[];
}

export interface NodeRef { sourceId?: string; nodeId: string }

export function isCommand(name: string): name is Command {
  return (CAPABILITIES as readonly string[]).includes(name);
}

/** The `<node sourceId nodeId/>` children of a batch request (containsNodes, getNodes). */
export function parseNodeRefs(el: Element): NodeRef[] {
  return el.getChildren('node', NS_CONCENTRATOR).map(refOf);
}

/** sourceId/nodeId of a single request (containsNode, getNode, getChildNodes). */
export function refOf(el: Element): NodeRef {
  const r: NodeRef = { nodeId: el.attrs.nodeId ?? '' };
  if (el.attrs.sourceId !== undefined) r.sourceId = el.attrs.sourceId;
  return r;
}

/** The node a reference names: thing ids are unique, so a missing sourceId still finds it;
 *  a sourceId that is not the node's own finds nothing. */
export function findNode(nodes: readonly ConcentratorNode[], ref: NodeRef): ConcentratorNode | undefined {
  return nodes.find((n) => n.nodeId === ref.nodeId && (ref.sourceId === undefined || ref.sourceId === n.sourceId));
}

/** `<{command}Response result='...'>` (XEP-0326: every response carries a result code). */
export function response(command: string, result: ResultCode, ...children: (Element | string)[]): Element {
  return x(`${command}Response`, { xmlns: NS_CONCENTRATOR, result }, ...children);
}

export function dataSourceElement(s: DataSource): Element {
  return x('dataSource', { sourceId: s.sourceId, name: s.name, hasChildren: 'false' });
}

/** XEP-0326 'Node Information' attributes, and the parameters as <string/> children when asked. */
export function nodeAttrs(n: ConcentratorNode): Record<string, string> {
  const a: Record<string, string> = {
    nodeId: n.nodeId, displayName: n.displayName, nodeType: n.nodeType, state: n.state,
    hasChildren: String(n.hasChildren), isReadable: String(n.isReadable), isControllable: String(n.isControllable), hasCommands: String(n.hasCommands),
  };
  if (n.parentId !== undefined) a.parentId = n.parentId;
  return a;
}

export function parameterElements(n: ConcentratorNode): Element[] {
  return n.parameters.map((p) => x('string', { id: p.id, name: p.name, value: p.value }));
}

export function nodeElement(n: ConcentratorNode, withParameters: boolean): Element {
  return x('node', nodeAttrs(n), ...(withParameters ? parameterElements(n) : []));
}

/** getNodeResponse carries the node's attributes itself (XEP-0326 'Get Node'). */
export function getNodeResponse(n: ConcentratorNode, withParameters: boolean): Element {
  return x('getNodeResponse', { xmlns: NS_CONCENTRATOR, result: 'OK', ...nodeAttrs(n) }, ...(withParameters ? parameterElements(n) : []));
}
