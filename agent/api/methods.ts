// The local API's methods (PROTOCOL.md "Methods"): params checked at the edge, access decided
// by agent/access.ts for the socket's role, then the driver host, the flow driver or the
// remote side do the work.
import type { FieldSpec, FieldValue, Reading, ThingSpec, Value } from '../../drivers/types';
import { checkThingSpec } from '../../drivers/api';
import { checkRange, checkValue } from '../../drivers/values';
import { roleMay, type Action } from '../access';
import type { RemoteNode } from '../iot/remote';
import { PARAM_TYPES, type ParamType } from '../iot/control-params';
import { list, optBool, optNum, optStr, optStrList, RPC, RpcError, scalar, str } from './jsonrpc';
import { withUnits, type ApiClient, type ApiService, type ApiServiceOptions } from './service';

export interface MethodContext {
  service: ApiService;
  client: ApiClient;
  opts: ApiServiceOptions;
  now(): number;
}

type Params = Record<string, unknown>;
type Method = (p: Params, ctx: MethodContext) => unknown;

function may(ctx: MethodContext, action: Action, what: string): void {
  if (!roleMay(ctx.opts.role, action)) {
    throw new RpcError(RPC.FORBIDDEN, `the API socket's role is "${ctx.opts.role}", which may not ${what}; an owner can raise api.role in the config`, { role: ctx.opts.role, action });
  }
}

function thingOf(ctx: MethodContext, id: string): ThingSpec {
  const t = ctx.opts.drivers.things().find((x) => x.id === id);
  if (!t) throw new RpcError(RPC.UNKNOWN_THING, `no thing "${id}": things.list shows the things there are`, { thing: id });
  return t;
}

function fieldOf(t: ThingSpec, name: string) {
  const f = t.fields.find((x) => x.name === name);
  if (!f) throw new RpcError(RPC.UNKNOWN_THING, `thing "${t.id}" has no field "${name}"; it has ${t.fields.map((x) => x.name).join(', ')}`, { thing: t.id, field: name });
  return f;
}

/** What a set of a field takes, as a JSON example: said when a value is refused. */
const TAKES: Record<FieldSpec['type'], (f: FieldSpec) => string> = {
  numeric: () => 'a JSON number, e.g. 21.5',
  int: () => 'a JSON integer, e.g. 3',
  boolean: () => 'true or false (a JSON boolean, not a string)',
  enum: (f) => `one of ${(f.values ?? []).map((v) => JSON.stringify(v)).join(', ')} (a JSON string)`,
  string: () => 'a JSON string',
};

/** A set's value against the field's type and range: the checked value, or -32602 naming the
 *  field, the type it takes and what to send. */
function valueFor(t: ThingSpec, f: FieldSpec, raw: unknown): Value {
  const typed = checkValue(raw, f);
  const c = typed.ok ? checkRange(typed.value, f) : typed;
  if (c.ok) return c.value;
  const what = typed.ok ? 'a value within that range' : `"value" as ${TAKES[f.type]?.(f) ?? f.type}`;
  throw new RpcError(RPC.INVALID_PARAMS, `cannot set "${t.id}.${f.name}" (${f.type}${f.unit ? `, ${f.unit}` : ''}): ${c.error}; send ${what}`, { field: 'value', target: `${t.id}.${f.name}`, expected: f.type });
}

/** Readings with their fields' units, as notifications carry them. */
function withUnitsAll(ctx: MethodContext, rs: Reading[]): Reading[] {
  return rs.map((r) => ({ ...r, values: withUnits(r.values, ctx.service.unitsOf(r.thing)) }));
}

function filterReadings(rs: Reading[], thing?: string, field?: string): Reading[] {
  return rs
    .filter((r) => !thing || r.thing === thing)
    .map((r) => (field ? { ...r, values: r.values.filter((v) => v.field === field) } : r))
    .filter((r) => r.values.length > 0);
}

function nodesOf(p: Params): RemoteNode[] | undefined {
  if (p.nodes === undefined || p.nodes === null) return undefined;
  return list(p, 'nodes').map((n, i) => {
    const o = n as Record<string, unknown> | null;
    if (!o || typeof o !== 'object' || typeof o.nodeId !== 'string' || !o.nodeId) throw new RpcError(RPC.INVALID_PARAMS, `nodes[${i}] must be {nodeId, sourceId?, cacheType?}`, { field: `nodes[${i}]` });
    const r: RemoteNode = { nodeId: o.nodeId };
    if (typeof o.sourceId === 'string') r.sourceId = o.sourceId;
    if (typeof o.cacheType === 'string') r.cacheType = o.cacheType;
    return r;
  });
}

/** `values` of thing.publish: {field: value} or [{field, value?, error?}], checked against the spec. */
function valuesOf(t: ThingSpec, p: Params): FieldValue[] {
  const raw = p.values;
  let pairs: [string, unknown, unknown][];
  if (Array.isArray(raw)) {
    pairs = raw.map((v, i) => {
      const o = v as Record<string, unknown> | null;
      if (!o || typeof o !== 'object' || typeof o.field !== 'string') throw new RpcError(RPC.INVALID_PARAMS, `values[${i}] must be {field, value} or {field, error}`, { field: `values[${i}]` });
      return [o.field, o.value, o.error];
    });
  } else if (raw && typeof raw === 'object') {
    pairs = Object.entries(raw as Params).map(([k, v]) => [k, v, undefined]);
  } else {
    throw new RpcError(RPC.INVALID_PARAMS, 'param "values" must be {field: value, ...} or a list of {field, value}', { field: 'values' });
  }
  if (!pairs.length) throw new RpcError(RPC.INVALID_PARAMS, 'param "values" is empty: give at least one field', { field: 'values' });
  return pairs.map(([name, value, error]) => {
    const spec = fieldOf(t, name);
    if (error !== undefined) return { field: name, error: typeof error === 'string' && error ? error : 'sensor error' };
    const c = checkValue(value, spec);
    if (!c.ok) throw new RpcError(RPC.INVALID_PARAMS, `field "${t.id}.${name}": ${c.error}`, { field: `values.${name}` });
    return { field: name, value: c.value };
  });
}

export const METHODS: Record<string, Method> = {
  'agent.status': (_p, ctx) => {
    const s = ctx.opts.status();
    const drivers = ctx.opts.drivers.drivers();
    return {
      jid: s.jid,
      resource: s.resource,
      online: s.online,
      session: { state: s.state, sm: s.sm ?? null, tls: s.tls ?? null },
      uptime_s: Math.round((ctx.now() - s.startedAt) / 1000),
      outbox: { queued: s.queued },
      things: ctx.opts.drivers.things().length,
      drivers: drivers.map((d) => ({ id: d.id, kind: d.kind, state: d.state })),
      api: { clients: ctx.service.clientList().length, subscriptions: ctx.service.clientList().reduce((n, c) => n + c.subs.size, 0), dropped: ctx.service.droppedTotal() },
    };
  },

  'things.list': (_p, ctx) => {
    may(ctx, 'read', 'read things');
    const owners = new Map<string, { id: string; kind: string; state: string }>();
    for (const d of ctx.opts.drivers.drivers()) for (const t of d.things) owners.set(t, d);
    return ctx.opts.drivers.things().map((t) => {
      const d = owners.get(t.id);
      const api = d?.kind === 'api';
      return { id: t.id, ...(t.name ? { name: t.name } : {}), driver: d?.id ?? '', source: api ? 'api' : 'driver', online: api ? ctx.opts.flows.held(t.id) : d?.state === 'running', fields: t.fields };
    });
  },

  read: async (p, ctx) => {
    may(ctx, 'read', 'read values');
    const thing = optStr(p, 'thing');
    const field = optStr(p, 'field');
    const fresh = optBool(p, 'fresh') ?? false;
    if (field && !thing) throw new RpcError(RPC.INVALID_PARAMS, 'param "field" needs "thing" too', { field: 'field' });
    if (thing) {
      const t = thingOf(ctx, thing);
      if (field) fieldOf(t, field);
      const r = fresh ? await ctx.opts.drivers.readThing(thing, { fresh: true }) : ctx.opts.drivers.latestReadings().find((x) => x.thing === thing);
      return withUnitsAll(ctx, filterReadings(r ? [r] : [], thing, field));
    }
    return withUnitsAll(ctx, fresh ? await ctx.opts.drivers.readOnce() : ctx.opts.drivers.latestReadings());
  },

  set: async (p, ctx) => {
    may(ctx, 'control', 'set fields');
    const t = thingOf(ctx, str(p, 'thing'));
    const f = fieldOf(t, str(p, 'field'));
    const value = scalar(p, 'value');
    if (!f.writable) throw new RpcError(RPC.REFUSED, `field "${t.id}.${f.name}" is read-only`, { reason: 'read-only' });
    // Checked here, so a wrong value is the caller's bad param (-32602), not a driver's refusal.
    const checked = valueFor(t, f, value);
    // Who asked: another API client when the thing is a flow's (PROTOCOL.md `thing.set`).
    await ctx.opts.drivers.set(t.id, f.name, checked, `api:${ctx.client.id}`);
    return { ok: true };
  },

  subscribe: (p, ctx) => {
    may(ctx, 'read', 'subscribe to readings');
    const thing = optStr(p, 'thing');
    const field = optStr(p, 'field');
    if (field && !thing) throw new RpcError(RPC.INVALID_PARAMS, 'param "field" needs "thing" too', { field: 'field' });
    if (thing) {
      const t = thingOf(ctx, thing);
      if (field) fieldOf(t, field);
    }
    const s = ctx.service.addSub(ctx.client, { ...(thing ? { thing } : {}), ...(field ? { field } : {}) });
    return { subscription: s.id };
  },

  unsubscribe: (p, ctx) => {
    const id = str(p, 'subscription');
    if (!ctx.service.removeSub(ctx.client, id)) throw new RpcError(RPC.INVALID_PARAMS, `no subscription "${id}" on this connection`, { field: 'subscription' });
    return { ok: true };
  },

  'pubsub.subscribe': async (p, ctx) => {
    may(ctx, 'read', 'subscribe to PubSub nodes');
    const jid = str(p, 'jid');
    const node = str(p, 'node');
    const remote = ctx.service.remoteOr();
    // Count it before the round trip, so 5000 requests at once cannot pass the limit.
    const sub = ctx.service.addSub(ctx.client, { cancel: async () => undefined });
    try {
      const stop = await remote.watch(jid, node, (item) => {
        if (ctx.client.subs.has(sub.id)) ctx.client.notify('item', { subscription: sub.id, ...item });
      });
      if (!ctx.client.subs.has(sub.id)) { await stop(); return { subscription: sub.id }; }
      sub.cancel = stop;
    } catch (e) {
      ctx.service.removeSub(ctx.client, sub.id);
      throw e;
    }
    return { subscription: sub.id };
  },

  'remote.read': async (p, ctx) => {
    may(ctx, 'read', 'read other things');
    const jid = str(p, 'jid');
    const opts = {
      nodes: nodesOf(p),
      fields: optStrList(p, 'fields'),
      types: optStrList(p, 'types'),
      timeoutMs: optNum(p, 'timeout_ms', 1, 600_000),
    };
    return ctx.service.remoteOr().read(jid, opts);
  },

  'remote.set': async (p, ctx) => {
    may(ctx, 'control', 'set fields of other things');
    const jid = str(p, 'jid');
    const field = str(p, 'field');
    const value = scalar(p, 'value');
    const type = optStr(p, 'type');
    if (type && !(PARAM_TYPES as readonly string[]).includes(type)) throw new RpcError(RPC.INVALID_PARAMS, `param "type" must be one of ${PARAM_TYPES.join(', ')}`, { field: 'type' });
    await ctx.service.remoteOr().set(jid, { field, value, ...(type ? { type: type as ParamType } : {}), nodes: nodesOf(p), timeoutMs: optNum(p, 'timeout_ms', 1, 600_000) });
    return { ok: true };
  },

  'thing.declare': (p, ctx) => {
    may(ctx, 'control', 'declare things');
    const spec = checkThingSpec(p);
    if (!('fields' in spec)) throw new RpcError(RPC.INVALID_PARAMS, spec.message, { field: spec.field });
    const owner = ctx.opts.drivers.drivers().find((d) => d.things.includes(spec.id));
    if (owner && owner.kind !== 'api') throw new RpcError(RPC.INVALID_PARAMS, `thing "${spec.id}" belongs to driver ${owner.id}; give the flow's thing another id`, { field: 'id' });
    const holder = heldBy(ctx, spec.id);
    if (holder && holder !== ctx.client) throw new RpcError(RPC.INVALID_PARAMS, `thing "${spec.id}" is declared by another connected client; give this one another id, or stop the other`, { field: 'id' });
    ctx.opts.flows.declare(spec, ctx.client);
    return { thing: spec.id };
  },

  'thing.publish': async (p, ctx) => {
    may(ctx, 'control', 'publish readings');
    const t = thingOf(ctx, str(p, 'thing'));
    if (heldBy(ctx, t.id) !== ctx.client) throw new RpcError(RPC.FORBIDDEN, `thing "${t.id}" is not declared on this connection: call thing.declare first`, { thing: t.id });
    const values = valuesOf(t, p);
    const ts = optNum(p, 'timestamp', 1, 8.64e15) ?? ctx.now();
    await ctx.opts.flows.publish({ thing: t.id, timestamp: ts, values });
    return { accepted: true };
  },

  'thing.remove': (p, ctx) => {
    may(ctx, 'control', 'remove things');
    const id = str(p, 'thing');
    if (!ctx.opts.flows.things().some((t) => t.id === id)) throw new RpcError(RPC.UNKNOWN_THING, `no flow-defined thing "${id}"`, { thing: id });
    const holder = heldBy(ctx, id);
    if (holder && holder !== ctx.client) throw new RpcError(RPC.FORBIDDEN, `thing "${id}" is held by another connected client`, { thing: id });
    ctx.opts.flows.remove(id);
    return { ok: true };
  },
};

function heldBy(ctx: MethodContext, thing: string): ApiClient | undefined {
  return ctx.opts.flows.holderOf(thing) as ApiClient | undefined;
}
