// The xiota local API as the palette sees it: JSON-RPC 2.0 messages (one per line on the Unix
// socket, or objects in-process) and the shapes of agent/api/PROTOCOL.md. Declared here rather
// than imported so that agent mode needs nothing but this package.

export type FieldType = 'numeric' | 'int' | 'boolean' | 'string' | 'enum';
export type Value = number | boolean | string;

/** drivers/types.ts FieldSpec. */
export interface FieldSpec {
  name: string;
  type: FieldType;
  unit?: string;
  precision?: number;
  writable?: boolean;
  values?: string[];
  min?: number;
  max?: number;
}

export interface ThingSpec {
  id: string;
  name?: string;
  fields: FieldSpec[];
}

export interface FieldValue {
  field: string;
  value?: Value;
  error?: string;
  unit?: string;
}

/** drivers/types.ts Reading; `jid` on remote readouts (remote.read). */
export interface Reading {
  thing: string;
  timestamp: number;
  values: FieldValue[];
  jid?: string;
}

/** Notification `reading`. */
export interface ReadingNote extends Reading {
  subscription: string;
}

/** Notification `item`: a PubSub item of any JID's node. */
export interface ItemNote {
  subscription: string;
  jid: string;
  node: string;
  id: string;
  timestamp?: number;
  readings?: Reading[];
  xml: string;
}

/** Server request `thing.set` (id "s:N"): a set addressed to a flow-defined thing. */
export interface ThingSetRequest {
  thing: string;
  field: string;
  value: Value;
  from?: string;
}

/** XEP-0325 value types accepted by remote.set. */
export type RemoteSetType = 'boolean' | 'int' | 'long' | 'double' | 'string' | 'date' | 'dateTime' | 'duration' | 'time' | 'color';

// Error codes (PROTOCOL.md "Errors").
export const E = {
  PARSE: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  FORBIDDEN: -32001,
  UNKNOWN_THING: -32002,
  REMOTE_ERROR: -32003,
  TIMEOUT: -32004,
  TOO_MANY_SUBSCRIPTIONS: -32005,
  OFFLINE: -32006,
  DRIVER_REFUSED: -32007,
} as const;

export interface RpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export type RpcId = number | string;

export interface RpcRequest {
  jsonrpc: '2.0';
  id: RpcId;
  method: string;
  params?: unknown;
}

export interface RpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: unknown;
}

export interface RpcResponse {
  jsonrpc: '2.0';
  id: RpcId | null;
  result?: unknown;
  error?: RpcErrorObject;
}

export type RpcMessage = RpcRequest | RpcNotification | RpcResponse;

/** An error answered by the agent, or raised by this side (timeouts, a closed link). */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

/** Where a message came from, checked once at the edge. */
export function classify(m: unknown): { kind: 'request'; msg: RpcRequest } | { kind: 'notification'; msg: RpcNotification } | { kind: 'response'; msg: RpcResponse } | undefined {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return undefined;
  const o = m as Record<string, unknown>;
  const hasId = typeof o.id === 'number' || typeof o.id === 'string';
  if (typeof o.method === 'string') return hasId ? { kind: 'request', msg: o as unknown as RpcRequest } : { kind: 'notification', msg: o as unknown as RpcNotification };
  if ('result' in o || 'error' in o) return { kind: 'response', msg: o as unknown as RpcResponse };
  return undefined;
}
