// The part of Node-RED's runtime API these nodes use, typed here (as the Home Assistant palette
// does in src/types/nodes.ts) rather than through @types/node-red, whose editor types lag behind.
// Shapes from @node-red/registry lib/util.js createNodeApi and @node-red/runtime lib/nodes/Node.js.

export interface NodeStatus {
  fill?: 'red' | 'green' | 'yellow' | 'blue' | 'grey';
  shape?: 'ring' | 'dot';
  text?: string;
}

export interface NodeMessage {
  _msgid?: string;
  topic?: string;
  payload?: unknown;
  [key: string]: unknown;
}

export interface NodeDef {
  id: string;
  type: string;
  name?: string;
  z?: string;
  [key: string]: unknown;
}

export type SendFn = (msg: NodeMessage | NodeMessage[] | null) => void;
export type DoneFn = (err?: Error) => void;

/** A runtime node: `this` inside a node constructor after RED.nodes.createNode. */
export interface Node<Creds = Record<string, string>> {
  readonly id: string;
  readonly type: string;
  readonly name?: string;
  credentials: Creds;
  /** Node-RED 1.0+: (msg, send, done). */
  on(event: 'input', listener: (msg: NodeMessage, send: SendFn, done: DoneFn) => void): void;
  /** Arity picks the form (runtime/lib/nodes/Node.js): keep both parameters declared. */
  on(event: 'close', listener: (removed: boolean, done: () => void) => void): void;
  send(msg: NodeMessage | NodeMessage[] | null): void;
  status(s: NodeStatus | Record<string, never>): void;
  log(m: string): void;
  warn(m: string): void;
  error(m: string | Error, msg?: NodeMessage): void;
}

export type NodeConstructor = (this: Node, def: NodeDef) => void;

export interface NodeAPI {
  nodes: {
    createNode(node: Node, def: NodeDef): void;
    registerType(type: string, ctor: NodeConstructor, opts?: { credentials?: Record<string, { type: 'text' | 'password' }> }): void;
    getNode(id: string): Node | null;
  };
  util: {
    evaluateNodeProperty(value: unknown, type: string, node: Node, msg: NodeMessage | undefined, cb?: (err: Error | null, v: unknown) => void): unknown;
  };
  settings: { userDir?: string; [key: string]: unknown };
  /** i18n lookup; the test helper returns the key. */
  _(key: string, subs?: Record<string, unknown>): string;
}
