// AgentLink: the one connection a xiota-agent config node shares among all the nodes using it.
// Opened when the first node acquires it, kept through redeploys of its users (a user closing
// without `removed` is coming back), closed when the last user is removed or the config node
// closes. A lost link is reopened after a capped, fully jittered delay; subscriptions and
// flow-defined things are restored on every reconnect, so users never notice beyond status.
import { EventEmitter } from 'node:events';
import { E, RpcError, type ItemNote, type ReadingNote, type ThingSetRequest, type ThingSpec } from './protocol';
import { LINK_CLOSED, RpcPeer, type Opener } from './rpc';

export type LinkState = 'idle' | 'connecting' | 'connected' | 'disconnected' | 'closed';

export interface LinkEvents {
  /** The link's state, and for `disconnected` the reason. */
  state: [state: LinkState, reason?: string];
  /** The agent's own XMPP session went up or down (notification `session`). */
  session: [online: boolean];
}

export interface Transport {
  open: Opener;
  /** Releases what the transport holds beyond the channel (account mode: stops the agent). */
  dispose?(): Promise<void>;
  /** Said in logs and errors: the socket path or the account's JID. */
  readonly describe: string;
}

export type SubscribeParams = { kind: 'local'; thing?: string; field?: string } | { kind: 'pubsub'; jid: string; node: string };
export type NoteHandler = (n: ReadingNote | ItemNote) => void;
/** Resolves true when it delivered the set, false when the set is not for it (another field). */
export type ThingSetHandler = (set: ThingSetRequest) => Promise<boolean>;

export interface Subscription {
  close(): Promise<void>;
}

interface SubEntry {
  params: SubscribeParams;
  handler: NoteHandler;
  serverId?: string;
  onError(e: Error): void;
  retry?: NodeJS.Timeout;
}

export interface BackoffOptions {
  initialDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
  /** A PubSub subscription the remote refused is tried again after this long (default 60 s): the presence subscription it needs may be approved meanwhile. */
  resubscribeMs?: number;
}

/** Full jitter: random(0, min(cap, base * 2^attempt)), so many Node-REDs do not retry in step. */
export function backoffDelay(attempt: number, o: BackoffOptions = {}): number {
  const base = o.initialDelayMs ?? 500;
  const cap = Math.max(o.maxDelayMs ?? 30_000, base);
  return (o.random ?? Math.random)() * Math.min(cap, base * 2 ** Math.min(attempt, 30));
}

export class AgentLink extends EventEmitter<LinkEvents> {
  state: LinkState = 'idle';
  sessionOnline = false;
  /** Times the transport was opened (tests and logs: redeploys must not add any). */
  opens = 0;
  private peer?: RpcPeer;
  private readonly users = new Set<object>();
  private readonly subs = new Set<SubEntry>();
  private readonly byServerId = new Map<string, SubEntry>();
  private readonly things = new Map<string, { spec: ThingSpec; onError(e: Error): void }>();
  private readonly setHandlers = new Map<string, Set<ThingSetHandler>>();
  private attempt = 0;
  private retry?: NodeJS.Timeout;
  private lastReason?: string;
  private dropped = 0;
  private droppedSaidAt = -Infinity;
  /** Bumped by every connect: a stale attempt (stopped meanwhile) gives up. */
  private epoch = 0;

  constructor(
    private readonly transport: Transport,
    private readonly backoff: BackoffOptions = {},
    private readonly onError: (m: string) => void = () => {},
  ) {
    super();
    this.setMaxListeners(0); // one listener per user node
  }

  get describe(): string {
    return this.transport.describe;
  }

  /** A getter, so checks after an await are not narrowed away by the compiler. */
  get closed(): boolean {
    return this.state === 'closed';
  }

  get reason(): string | undefined {
    return this.lastReason;
  }

  /** A node starts using the link: the first one opens it. */
  acquire(user: object): void {
    this.users.add(user);
    if (this.state === 'idle') void this.connect();
  }

  /**
   * A node stops using it. Only a removed node may end the link (node-red/node-red#3927: a
   * redeployed user re-registers at once, and a disconnect in between left MQTT dead).
   */
  async release(user: object, removed: boolean): Promise<void> {
    this.users.delete(user);
    if (removed && this.users.size === 0) await this.stop('idle');
  }

  /** Ends the link for good (the config node closed): no reconnect, no reopening after this. */
  close(): Promise<void> {
    return this.stop('closed');
  }

  /**
   * Closes the connection. `idle`: the last user was deleted but the config node stays (a
   * "modified nodes" deploy does not restart it), so the next user to come opens it again.
   */
  private async stop(to: 'idle' | 'closed'): Promise<void> {
    if (this.state === 'closed' || (this.state === 'idle' && to === 'idle')) return;
    clearTimeout(this.retry);
    this.attempt = 0;
    const peer = this.peer;
    this.peer = undefined;
    this.byServerId.clear();
    for (const s of this.subs) {
      s.serverId = undefined;
      clearTimeout(s.retry);
    }
    this.setState(to);
    peer?.close();
    await this.transport.dispose?.();
  }

  private setState(s: LinkState, reason?: string): void {
    if (reason) this.lastReason = reason;
    if (this.state === s && s !== 'disconnected') return;
    this.state = s;
    this.emit('state', s, reason);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    this.setState('connecting');
    const epoch = ++this.epoch;
    let peer: RpcPeer;
    const holder: { peer?: RpcPeer } = {};
    try {
      this.opens++;
      peer = holder.peer = await RpcPeer.open(this.transport.open, {
        notification: (m, p) => this.notification(m, p),
        request: (m, p) => this.agentRequest(m, p),
        closed: (err) => this.lost(holder.peer, err?.message ?? 'the xiota agent closed the connection'),
      });
    } catch (e) {
      if (epoch !== this.epoch) return; // stopped and reopened meanwhile: the newer attempt goes on
      return this.scheduleRetry((e as Error).message);
    }
    if (this.closed || epoch !== this.epoch || this.state !== 'connecting') return peer.close();
    this.peer = peer;
    try {
      const st = await peer.request<{ online?: boolean }>('agent.status');
      this.sessionOnline = Boolean(st?.online);
      for (const t of this.things.values()) await this.declareOn(peer, t);
      this.byServerId.clear();
      for (const s of this.subs) await this.subscribeOn(peer, s);
    } catch (e) {
      if (peer !== this.peer) return;
      const reason = `setting up the link failed: ${(e as Error).message}`;
      this.onError(`xiota agent ${this.describe}: ${reason}`);
      peer.close();
      this.lost(peer, reason); // when the peer had ended already, close() did not call back
      return;
    }
    if (peer !== this.peer || this.closed || epoch !== this.epoch) return;
    this.attempt = 0;
    this.setState('connected');
    this.emit('session', this.sessionOnline);
  }

  private lost(peer: RpcPeer | undefined, reason: string): void {
    if (!peer || peer !== this.peer) return; // a stale or stopped attempt's peer
    this.peer = undefined;
    if (this.state === 'closed' || this.state === 'idle') return;
    this.scheduleRetry(reason);
  }

  private scheduleRetry(reason: string): void {
    if (this.state === 'closed' || this.state === 'idle') return;
    this.setState('disconnected', reason);
    const delay = backoffDelay(this.attempt++, this.backoff);
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.connect(), delay);
  }

  private notification(method: string, params: unknown): void {
    const p = params as Record<string, unknown> | undefined;
    if (method === 'reading' || method === 'item') {
      const s = typeof p?.subscription === 'string' ? this.byServerId.get(p.subscription) : undefined;
      s?.handler(p as unknown as ReadingNote | ItemNote);
    } else if (method === 'session') {
      this.sessionOnline = Boolean(p?.online);
      this.emit('session', this.sessionOnline);
    } else if (method === 'dropped') {
      // At most one line a minute, with the sum: a flow that keeps falling behind must not flood the log.
      this.dropped += typeof p?.count === 'number' ? p.count : 0;
      const now = Date.now();
      if (now - this.droppedSaidAt >= 60_000) {
        this.onError(`xiota agent ${this.describe}: ${this.dropped} notifications dropped (Node-RED did not keep up with the readings)`);
        this.dropped = 0;
        this.droppedSaidAt = now;
      }
    }
  }

  private async agentRequest(method: string, params: unknown): Promise<unknown> {
    if (method !== 'thing.set') throw new RpcError(E.METHOD_NOT_FOUND, `the Node-RED palette does not answer ${method}`);
    const set = params as ThingSetRequest;
    const handlers = [...(this.setHandlers.get(set?.thing) ?? [])];
    if (!handlers.length) throw new RpcError(E.UNKNOWN_THING, `no xiota-control-in node in Node-RED handles sets of thing ${String(set?.thing)}: add one to the flow`, { thing: set?.thing, field: set?.field });
    const handled = await Promise.all(handlers.map((h) => h(set)));
    if (!handled.includes(true)) throw new RpcError(E.UNKNOWN_THING, `no xiota-control-in node in Node-RED handles sets of ${set.thing}.${set.field}: add one for that field (or leave its field blank)`, { thing: set.thing, field: set.field });
    return { ok: true };
  }

  /** Resolves once connected; rejects after timeoutMs (or at once when closed). */
  whenConnected(timeoutMs: number): Promise<RpcPeer> {
    if (this.state === 'connected' && this.peer) return Promise.resolve(this.peer);
    if (this.state === 'closed') return Promise.reject(new RpcError(E.OFFLINE, `the xiota-agent config node ${this.describe} is closed`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('state', on);
        reject(new RpcError(E.OFFLINE, `not connected to the xiota agent (${this.describe}) within ${timeoutMs} ms: ${this.lastReason ?? 'still connecting'}`));
      }, timeoutMs);
      const on = (s: LinkState) => {
        if (s === 'connected' && this.peer) {
          clearTimeout(timer);
          this.off('state', on);
          resolve(this.peer);
        } else if (s === 'closed') {
          clearTimeout(timer);
          this.off('state', on);
          reject(new RpcError(E.OFFLINE, `the xiota-agent config node ${this.describe} closed`));
        }
      };
      this.on('state', on);
    });
  }

  /** One request, waiting up to waitMs for the link first. */
  async request<T = unknown>(method: string, params?: unknown, o: { waitMs?: number; timeoutMs?: number } = {}): Promise<T> {
    const peer = await this.whenConnected(o.waitMs ?? 5000);
    return peer.request<T>(method, params, o.timeoutMs);
  }

  /** A subscription kept across reconnects; `onError` hears a refusal (unknown thing ...). */
  subscribe(params: SubscribeParams, handler: NoteHandler, onError: (e: Error) => void): Subscription {
    const entry: SubEntry = { params, handler, onError };
    this.subs.add(entry);
    if (this.state === 'connected' && this.peer) void this.subscribeOn(this.peer, entry);
    return {
      close: async () => {
        this.subs.delete(entry);
        clearTimeout(entry.retry);
        const id = entry.serverId;
        if (!id) return;
        this.byServerId.delete(id);
        entry.serverId = undefined;
        if (this.state === 'connected' && this.peer) await this.peer.request('unsubscribe', { subscription: id }, 3000).catch(() => undefined);
      },
    };
  }

  private async subscribeOn(peer: RpcPeer, s: SubEntry): Promise<void> {
    const p = s.params;
    const [method, params] = p.kind === 'pubsub' ? ['pubsub.subscribe', { jid: p.jid, node: p.node }] : ['subscribe', { ...(p.thing ? { thing: p.thing } : {}), ...(p.field ? { field: p.field } : {}) }];
    try {
      const r = await peer.request<{ subscription: string }>(method, params);
      if (!this.subs.has(s)) {
        await peer.request('unsubscribe', { subscription: r.subscription }, 3000).catch(() => undefined);
        return;
      }
      s.serverId = r.subscription;
      this.byServerId.set(r.subscription, s);
    } catch (e) {
      // A refused subscription (unknown thing, forbidden) is the user's to fix, not the link's.
      if (!(e instanceof RpcError) || e.code === LINK_CLOSED) throw e;
      s.onError(e);
      // A remote refusal may be lifted (a presence subscription approved): ask again later.
      if (p.kind === 'pubsub' && e.code === E.REMOTE_ERROR) {
        clearTimeout(s.retry);
        s.retry = setTimeout(() => {
          if (this.subs.has(s) && !s.serverId && this.peer === peer && this.state === 'connected') void this.subscribeOn(peer, s).catch(() => undefined);
        }, this.backoff.resubscribeMs ?? 60_000);
      }
    }
  }

  /**
   * Declares a flow-defined thing now and after every reconnect; the agent's refusal (a bad
   * spec) goes to `onError`, and never stops the link's set-up for the other nodes.
   */
  declare(spec: ThingSpec, onError: (e: Error) => void): void {
    const t = { spec, onError };
    this.things.set(spec.id, t);
    if (this.state === 'connected' && this.peer) void this.declareOn(this.peer, t).catch(() => undefined);
  }

  private async declareOn(peer: RpcPeer, t: { spec: ThingSpec; onError(e: Error): void }): Promise<void> {
    try {
      await peer.request('thing.declare', t.spec);
    } catch (e) {
      if (!(e instanceof RpcError) || e.code === LINK_CLOSED) throw e;
      t.onError(e);
    }
  }

  /** Forgets a thing; with `remove` the agent drops it too (its node was deleted from the flow). */
  async undeclare(id: string, remove: boolean): Promise<void> {
    this.things.delete(id);
    if (remove && this.state === 'connected' && this.peer) await this.peer.request('thing.remove', { thing: id }, 3000);
  }

  /** Sets addressed to a flow-defined thing reach `h` (xiota-control-in). */
  onThingSet(thing: string, h: ThingSetHandler): () => void {
    let set = this.setHandlers.get(thing);
    if (!set) this.setHandlers.set(thing, (set = new Set()));
    set.add(h);
    return () => {
      set!.delete(h);
      if (!set!.size) this.setHandlers.delete(thing);
    };
  }
}
