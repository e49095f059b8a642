// ApiService: the local API (PROTOCOL.md) without a transport. A transport (the Unix socket,
// agent/api/socket.ts, or an in-process caller such as the Node-RED palette's "account" mode)
// calls attach(send) once per client and feeds it what the client sent; the service answers
// through send. Per client: its subscriptions, the things it declared, the sets it still has to
// answer, and a bounded queue of notifications (JSON-RPC 2.0 over anything that moves objects).
//
// Back-pressure: `send` may return false (the transport's buffer is full, like
// net.Socket.write); the client's messages then wait in its queue until the transport calls
// drain(). Notifications beyond `queue` are dropped and counted, and one `dropped` notification
// says how many once the queue has emptied. Responses and requests are never dropped.
import type { EventEmitter } from 'node:events';
import type { FieldValue, Reading, Value } from '../../drivers/types';
import type { ApiDriver, ThingHolder } from '../../drivers/api';
import type { DriverHost } from '../../drivers/host';
import { XiotaError } from '../errors';
import type { Logger } from '../log';
import type { AgentEvents } from '../modules';
import type { Remote } from '../iot/remote';
import type { ApiRole } from './schema';
import { classify, failure, notification, result, RPC, RpcError, type Request, type Response, type RpcId } from './jsonrpc';
import { METHODS, type MethodContext } from './methods';

export interface ApiStatusSource {
  jid: string;
  resource: string;
  state: string;
  online: boolean;
  sm?: string;
  tls?: string;
  startedAt: number;
  queued: number;
}

export interface ApiServiceOptions {
  drivers: Pick<DriverHost, 'things' | 'drivers' | 'latestReadings' | 'readOnce' | 'readThing' | 'set'>;
  flows: ApiDriver;
  events: EventEmitter<AgentEvents>;
  /** The session and outbox as they are now (agent.status). */
  status(): ApiStatusSource;
  /** What a connected client may do (api.role), decided with agent/access.ts. */
  role: ApiRole;
  /** Notifications held per client before dropping (api.queue). */
  queue: number;
  maxSubscriptions: number;
  /** How long a client has to answer a `thing.set` request (10 s). */
  setTimeoutMs?: number;
  log: Logger;
  now?: () => number;
}

/** What attach() returns: the transport's side of one client. */
export interface ApiConnection {
  /** A message (or batch) the client sent, already parsed from JSON. */
  receive(msg: unknown): void;
  /** A line the transport could not parse, or refused (too long): answered with -32700. */
  refuse(message: string): void;
  /** The transport can take more after send returned false. */
  drain(): void;
  /** The client went away: its subscriptions end, its things go offline, its pending sets fail. */
  close(): void;
}

/**
 * Hands one message to the client. `urgent`: a notification, which should leave now; the others
 * (responses, the agent's requests) may be coalesced by the transport until the end of the
 * tick, so the burst of answers an outbox flush releases leaves in one write.
 */
export type Send = (msg: object, urgent?: boolean) => boolean | void;

export interface Subscription {
  id: string;
  thing?: string;
  field?: string;
  /** pubsub.subscribe: ends the server subscription's use by this client. */
  cancel?: () => Promise<void>;
}

interface PendingSet { resolve(): void; reject(e: Error): void; timer: NodeJS.Timeout }

/** One attached client. */
export class ApiClient implements ThingHolder {
  readonly subs = new Map<string, Subscription>();
  private readonly out: { msg: object; droppable: boolean }[] = [];
  private heldNotifications = 0;
  private blocked = false;
  dropped = 0;
  droppedTotal = 0;
  closed = false;
  private nextSet = 1;
  private readonly pendingSets = new Map<string, PendingSet>();

  constructor(readonly id: number, private readonly sendFn: Send, private readonly service: ApiService) {}

  /** Responses and requests: never dropped. */
  reply(msg: object): void { this.push(msg, false, false); }

  /** Notifications: dropped (and counted) when the client's queue is full. */
  notify(method: string, params: object): void { this.push(notification(method, params), true, true); }

  private push(msg: object, droppable: boolean, urgent: boolean): void {
    if (this.closed) return;
    if (!this.blocked && this.out.length === 0) { this.write(msg, urgent); return; }
    if (droppable) {
      if (this.heldNotifications >= this.service.queueLimit) { this.dropped++; this.droppedTotal++; return; }
      this.heldNotifications++;
    }
    this.out.push({ msg, droppable });
  }

  private write(msg: object, urgent = false): void {
    try {
      if (this.sendFn(msg, urgent) === false) this.blocked = true;
    } catch (e) {
      this.service.log.warn('api client send failed', { client: this.id, error: (e as Error).message });
    }
  }

  drain(): void {
    this.blocked = false;
    while (!this.blocked && this.out.length) {
      const m = this.out.shift()!;
      if (m.droppable) this.heldNotifications--;
      this.write(m.msg, m.droppable);
    }
    if (!this.blocked && this.dropped > 0) {
      const count = this.dropped;
      this.dropped = 0;
      this.write(notification('dropped', { count }));
    }
  }

  /** Held in the queue now (tests, status). */
  get queued(): number { return this.out.length; }

  /** ThingHolder: a set of a thing this client declared, as a `thing.set` request (PROTOCOL.md). */
  set(thing: string, field: string, value: Value, from?: string): Promise<void> {
    if (this.closed) return Promise.reject(new XiotaError('XIOTA_E_DRIVER', `the flow that defines thing "${thing}" is not connected`));
    const id = `s:${this.nextSet++}`;
    const ms = this.service.setTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingSets.delete(id);
        reject(new XiotaError('XIOTA_E_DRIVER', `the flow that defines thing "${thing}" did not answer the set of ${field} within ${ms / 1000} s`, { thing, field, timeout_ms: ms }));
      }, ms);
      timer.unref?.();
      this.pendingSets.set(id, { resolve, reject, timer });
      this.reply({ jsonrpc: '2.0', id, method: 'thing.set', params: { thing, field, value, ...(from ? { from } : {}) } });
    });
  }

  /** The client answered one of our requests. */
  answered(res: Response): void {
    const p = typeof res.id === 'string' ? this.pendingSets.get(res.id) : undefined;
    if (!p) { this.service.log.debug('api client answered an unknown request', { client: this.id, id: res.id }); return; }
    this.pendingSets.delete(res.id as string);
    clearTimeout(p.timer);
    if (res.error) p.reject(new XiotaError('XIOTA_E_DRIVER', res.error.message || 'the flow refused the value', { reason: res.error.message, code: res.error.code }));
    else p.resolve();
  }

  failPending(why: string): void {
    for (const [id, p] of this.pendingSets) {
      clearTimeout(p.timer);
      p.reject(new XiotaError('XIOTA_E_DRIVER', why));
      this.pendingSets.delete(id);
    }
    this.out.length = 0;
    this.heldNotifications = 0;
  }
}

export class ApiService {
  readonly log: Logger;
  readonly queueLimit: number;
  readonly setTimeoutMs: number;
  private readonly clients = new Set<ApiClient>();
  private nextClient = 1;
  private nextSub = 1;
  /** Reading subscriptions by thing ('' = every thing), for a cheap fan-out. */
  private readonly byThing = new Map<string, Map<Subscription, ApiClient>>();
  private remote?: Remote;
  private remoteMissing = 'remote reads, sets and PubSub subscriptions are not available in this agent';
  private listening = false;
  /** Notifications dropped for clients that have left. */
  private droppedGone = 0;
  private readonly onReading = (r: Reading) => this.fanOut(r);
  /** Units by thing and field, for notifications; rebuilt when the things change. */
  private units?: Map<string, Map<string, string>>;
  private readonly onThings = () => { this.units = undefined; };

  constructor(readonly o: ApiServiceOptions) {
    this.log = o.log;
    this.queueLimit = o.queue;
    this.setTimeoutMs = o.setTimeoutMs ?? 10_000;
  }

  /** The remote side (agent/iot/remote.ts), given by the api module once it has a ModuleContext. */
  useRemote(remote: Remote | undefined, why?: string): void {
    this.remote = remote;
    if (why) this.remoteMissing = why;
  }

  remoteOr(): Remote {
    if (!this.remote) throw new RpcError(RPC.OFFLINE, `${this.remoteMissing}; run the API inside \`xiota run\``);
    return this.remote;
  }

  /** One client: the transport sends through `send`, and feeds the returned connection. */
  attach(send: Send): ApiConnection {
    if (!this.listening) {
      // First among the reading's listeners (history, alerts, presence, concentrator): a
      // subscriber's latency is the API's promise, the others are not waited on by anyone.
      (this.o.events as unknown as EventEmitter).prependListener('reading', this.onReading);
      (this.o.events as unknown as EventEmitter).on('things', this.onThings);
      this.listening = true;
    }
    const c = new ApiClient(this.nextClient++, send, this);
    this.clients.add(c);
    return {
      receive: (msg) => this.receive(c, msg),
      refuse: (message) => c.reply(failure(null, new RpcError(RPC.PARSE_ERROR, message))),
      drain: () => c.drain(),
      close: () => this.detach(c),
    };
  }

  /** Notifications dropped since the agent started, every client counted. */
  droppedTotal(): number {
    let n = this.droppedGone;
    for (const c of this.clients) n += c.droppedTotal;
    return n;
  }

  /** Every client, for status and tests. */
  clientList(): readonly ApiClient[] {
    return [...this.clients];
  }

  /** Ends every client (the agent stops). */
  close(): void {
    for (const c of [...this.clients]) this.detach(c);
    if (this.listening) {
      (this.o.events as unknown as EventEmitter).off('reading', this.onReading);
      (this.o.events as unknown as EventEmitter).off('things', this.onThings);
    }
    this.listening = false;
  }

  /** The XMPP session went up or down: every client hears it. */
  sessionChanged(online: boolean): void {
    for (const c of this.clients) c.notify('session', { online });
  }

  private detach(c: ApiClient): void {
    if (c.closed) return;
    c.failPending(`the flow that defines the thing disconnected before answering the set`);
    c.closed = true;
    this.droppedGone += c.droppedTotal;
    this.clients.delete(c);
    for (const s of c.subs.values()) this.dropSub(c, s);
    c.subs.clear();
    const offline = this.o.flows.release(c);
    this.log.debug('api client left', { client: c.id, things_offline: offline.length, dropped: c.droppedTotal });
  }

  private receive(c: ApiClient, msg: unknown): void {
    if (c.closed) return;
    if (Array.isArray(msg)) {
      // JSON-RPC 2.0 6: an empty batch is one invalid request; otherwise one array of answers.
      if (msg.length === 0) { c.reply(failure(null, new RpcError(RPC.INVALID_REQUEST, 'an empty batch: send at least one request in the list'))); return; }
      void Promise.all(msg.map((m) => this.one(c, m))).then((answers) => {
        const list = answers.filter((a): a is object => a !== undefined);
        if (list.length) c.reply(list);
      });
      return;
    }
    void this.one(c, msg).then((a) => { if (a) c.reply(a); });
  }

  /** One message: the response to send, if any. Never rejects. */
  private async one(c: ApiClient, msg: unknown): Promise<object | undefined> {
    const m = classify(msg);
    if (m.kind === 'invalid') return failure(m.id, m.error);
    if (m.kind === 'response') { c.answered(m.res); return undefined; }
    const req = m.req;
    try {
      const value = await this.call(c, req);
      return req.id === undefined ? undefined : result(req.id, value);
    } catch (e) {
      const err = toRpcError(e, req.method);
      if (err.code === RPC.INTERNAL_ERROR) this.log.warn('api method failed', { method: req.method, error: (e as Error).message });
      return req.id === undefined ? undefined : failure(req.id as RpcId, err);
    }
  }

  private call(c: ApiClient, req: Request): Promise<unknown> | unknown {
    const method = Object.prototype.hasOwnProperty.call(METHODS, req.method) ? METHODS[req.method] : undefined;
    if (!method) throw new RpcError(RPC.METHOD_NOT_FOUND, `no method "${req.method}": the methods are ${Object.keys(METHODS).join(', ')} (agent/api/PROTOCOL.md)`, { method: req.method });
    const ctx: MethodContext = { service: this, client: c, opts: this.o, now: this.o.now ?? Date.now };
    return method(req.params, ctx);
  }

  // --- subscriptions ---------------------------------------------------------------------

  addSub(c: ApiClient, s: Omit<Subscription, 'id'>): Subscription {
    if (c.subs.size >= this.o.maxSubscriptions) {
      throw new RpcError(RPC.TOO_MANY_SUBSCRIPTIONS, `this client has ${c.subs.size} subscriptions, the most api.max_subscriptions allows: unsubscribe some, or subscribe to a whole thing instead of each field`, { limit: this.o.maxSubscriptions });
    }
    const sub: Subscription = { ...s, id: `sub-${this.nextSub++}` };
    c.subs.set(sub.id, sub);
    if (!sub.cancel) {
      const key = sub.thing ?? '';
      let m = this.byThing.get(key);
      if (!m) this.byThing.set(key, (m = new Map()));
      m.set(sub, c);
    }
    return sub;
  }

  removeSub(c: ApiClient, id: string): boolean {
    const s = c.subs.get(id);
    if (!s) return false;
    c.subs.delete(id);
    this.dropSub(c, s);
    return true;
  }

  private dropSub(c: ApiClient, s: Subscription): void {
    if (s.cancel) {
      s.cancel().catch((e: Error) => this.log.debug('pubsub unsubscribe failed', { client: c.id, error: e.message }));
      return;
    }
    const key = s.thing ?? '';
    const m = this.byThing.get(key);
    m?.delete(s);
    if (m && m.size === 0) this.byThing.delete(key);
  }

  /** Number of reading subscriptions across clients (tests: none left after a disconnect). */
  subscriptionCount(): number {
    let n = 0;
    for (const m of this.byThing.values()) n += m.size;
    return n;
  }

  /** The units of a thing's fields (those that have one). A thing not seen yet rebuilds the map:
   *  a driver's things may come after the first reading without a 'things' event (start-up). */
  unitsOf(thing: string): Map<string, string> | undefined {
    if (!this.units?.has(thing)) {
      this.units = new Map();
      for (const t of this.o.drivers.things()) {
        const m = new Map<string, string>();
        for (const f of t.fields) if (f.unit) m.set(f.name, f.unit);
        this.units.set(t.id, m);
      }
    }
    return this.units.get(thing);
  }

  private fanOut(r: Reading): void {
    const all = this.byThing.get('');
    const one = this.byThing.get(r.thing);
    if (!all && !one) return;
    const values = withUnits(r.values, this.unitsOf(r.thing));
    for (const m of [all, one]) {
      if (!m) continue;
      for (const [s, c] of m) {
        const vs = s.field ? values.filter((v) => v.field === s.field) : values;
        if (!vs.length) continue;
        c.notify('reading', { subscription: s.id, thing: r.thing, timestamp: r.timestamp, values: vs });
      }
    }
  }
}

/** A reading's values with their fields' units (notifications and `read` carry them). */
export function withUnits(values: readonly FieldValue[], units: Map<string, string> | undefined): (FieldValue & { unit?: string })[] {
  return values.map((v) => {
    const unit = units?.get(v.field);
    return unit ? { ...v, unit } : { ...v };
  });
}

/** Typed errors of the agent as JSON-RPC errors (PROTOCOL.md "Errors"). */
export function toRpcError(e: unknown, method: string): RpcError {
  if (e instanceof RpcError) return e;
  if (e instanceof XiotaError) {
    const d = e.detail;
    switch (e.code) {
      case 'XIOTA_E_INVALID': return new RpcError(RPC.INVALID_PARAMS, e.message, { field: d.field });
      case 'XIOTA_E_TIMEOUT': return new RpcError(RPC.TIMEOUT, e.message, { timeout_ms: d.timeout_ms });
      case 'XIOTA_E_REMOTE': return new RpcError(RPC.REMOTE_ERROR, e.message, { condition: d.condition, text: d.text, ...(d.params ? { params: d.params } : {}) });
      case 'XIOTA_E_DISCONNECTED': return new RpcError(RPC.OFFLINE, e.message);
      case 'XIOTA_E_DRIVER': return new RpcError(d.timeout_ms ? RPC.TIMEOUT : RPC.REFUSED, e.message, { reason: (d.reason as string | undefined) ?? e.message });
      default: return new RpcError(RPC.INTERNAL_ERROR, e.message, { code: e.code });
    }
  }
  return new RpcError(RPC.INTERNAL_ERROR, `${method} failed: ${(e as Error)?.message ?? String(e)}`);
}
