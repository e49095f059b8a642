// JSON-RPC 2.0 (https://www.jsonrpc.org/specification) as the local API speaks it: message
// shapes, the error codes of PROTOCOL.md, and the checks that turn untyped params into typed
// values at the edge, each failure naming the param (`data.field`).

/** JSON-RPC 2.0 section 5.1 codes, then xiota's own (PROTOCOL.md "Errors"). */
export const RPC = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  FORBIDDEN: -32001,
  UNKNOWN_THING: -32002,
  REMOTE_ERROR: -32003,
  TIMEOUT: -32004,
  TOO_MANY_SUBSCRIPTIONS: -32005,
  OFFLINE: -32006,
  REFUSED: -32007,
} as const;
export type RpcCode = (typeof RPC)[keyof typeof RPC];

export type RpcId = string | number | null;

export class RpcError extends Error {
  constructor(readonly code: RpcCode, message: string, readonly data?: Record<string, unknown>) {
    super(message);
  }
  toJSON(): { code: number; message: string; data?: Record<string, unknown> } {
    return this.data ? { code: this.code, message: this.message, data: this.data } : { code: this.code, message: this.message };
  }
}

export interface Request {
  id?: RpcId;
  method: string;
  params: Record<string, unknown>;
}

export interface Response {
  id: RpcId;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** JSON-RPC 2.0 section 4 and 5: what one message is. */
export type Incoming =
  | { kind: 'request'; req: Request }
  | { kind: 'response'; res: Response }
  | { kind: 'invalid'; id: RpcId; error: RpcError };

function isId(v: unknown): v is RpcId {
  return v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

export function classify(msg: unknown): Incoming {
  if (!msg || typeof msg !== 'object' || Array.isArray(msg)) {
    return { kind: 'invalid', id: null, error: new RpcError(RPC.INVALID_REQUEST, 'a JSON-RPC message is an object like {"jsonrpc":"2.0","id":1,"method":"agent.status"}') };
  }
  const m = msg as Record<string, unknown>;
  const id = isId(m.id) ? m.id : null;
  if (m.jsonrpc !== '2.0') return { kind: 'invalid', id, error: new RpcError(RPC.INVALID_REQUEST, 'the message needs "jsonrpc":"2.0"', { field: 'jsonrpc' }) };
  if (m.id !== undefined && !isId(m.id)) return { kind: 'invalid', id: null, error: new RpcError(RPC.INVALID_REQUEST, '"id" must be a string, a number or null', { field: 'id' }) };
  if (m.method === undefined && ('result' in m || 'error' in m)) {
    const res: Response = { id };
    if ('result' in m) res.result = m.result;
    if (m.error && typeof m.error === 'object') {
      const e = m.error as Record<string, unknown>;
      res.error = { code: typeof e.code === 'number' ? e.code : RPC.INTERNAL_ERROR, message: typeof e.message === 'string' ? e.message : 'error', data: e.data };
    } else if ('error' in m) res.error = { code: RPC.INTERNAL_ERROR, message: String(m.error) };
    return { kind: 'response', res };
  }
  if (typeof m.method !== 'string' || !m.method) return { kind: 'invalid', id, error: new RpcError(RPC.INVALID_REQUEST, '"method" must be a non-empty string', { field: 'method' }) };
  let params: Record<string, unknown> = {};
  if (m.params !== undefined && m.params !== null) {
    if (typeof m.params !== 'object' || Array.isArray(m.params)) {
      return { kind: 'invalid', id, error: new RpcError(RPC.INVALID_PARAMS, `params of ${m.method} are an object with named members (by-name, JSON-RPC 2.0 4.2)`, { field: 'params' }) };
    }
    params = m.params as Record<string, unknown>;
  }
  const req: Request = { method: m.method, params };
  if ('id' in m) req.id = id;
  return { kind: 'request', req };
}

export function result(id: RpcId, value: unknown): object {
  return { jsonrpc: '2.0', id, result: value };
}

export function failure(id: RpcId, e: RpcError): object {
  return { jsonrpc: '2.0', id, error: e.toJSON() };
}

export function notification(method: string, params: object): object {
  return { jsonrpc: '2.0', method, params };
}

// Typed params, checked once here. Each helper throws RpcError(-32602) naming the param.

function bad(field: string, what: string, got: unknown): RpcError {
  const shown = got === undefined ? 'nothing' : typeof got === 'string' ? JSON.stringify(got.length > 40 ? got.slice(0, 37) + '...' : got) : Array.isArray(got) ? 'a list' : typeof got === 'object' && got ? 'an object' : String(got);
  return new RpcError(RPC.INVALID_PARAMS, `param "${field}" must be ${what}, got ${shown}`, { field });
}

export function str(p: Record<string, unknown>, field: string): string {
  const v = p[field];
  if (typeof v !== 'string' || v === '') throw bad(field, 'a non-empty string', v);
  return v;
}

export function optStr(p: Record<string, unknown>, field: string): string | undefined {
  return p[field] === undefined || p[field] === null ? undefined : str(p, field);
}

export function optBool(p: Record<string, unknown>, field: string): boolean | undefined {
  const v = p[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw bad(field, 'true or false', v);
  return v;
}

export function optNum(p: Record<string, unknown>, field: string, min: number, max: number): number | undefined {
  const v = p[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw bad(field, `a number from ${min} to ${max}`, v);
  return v;
}

export function scalar(p: Record<string, unknown>, field: string): number | boolean | string {
  const v = p[field];
  if (typeof v === 'boolean' || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return v;
  throw bad(field, 'a number, a boolean or a string', v);
}

export function list(p: Record<string, unknown>, field: string): unknown[] {
  const v = p[field];
  if (!Array.isArray(v)) throw bad(field, 'a list', v);
  return v;
}

export function optStrList(p: Record<string, unknown>, field: string): string[] | undefined {
  const v = p[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || !s)) throw bad(field, 'a list of strings', v);
  return v as string[];
}
