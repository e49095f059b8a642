// One JSON-RPC 2.0 peer over a Channel (the daemon's Unix socket, or an in-process ApiService):
// requests with ids and timeouts, notifications, and the agent's own requests (`thing.set`,
// ids "s:N") answered by a handler. JSON-RPC 2.0 sections 4-6.
import { classify, RpcError, type RpcErrorObject, type RpcId, type RpcMessage } from './protocol';

/** A bidirectional message pipe; the transport frames and parses. */
export interface Channel {
  send(m: RpcMessage): void;
  close(): void;
}

/** What a transport calls back: every parsed message (objects, or arrays for batches) and the end. */
export interface ChannelEvents {
  message(m: unknown): void;
  close(err?: Error): void;
}

export type Opener = (events: ChannelEvents) => Promise<Channel>;

/** Local code for requests cut short because the link closed (outside JSON-RPC's reserved range). */
export const LINK_CLOSED = -32050;

export interface RpcHandlers {
  notification(method: string, params: unknown): void;
  /** The agent's request: resolve with a result or throw an RpcError. */
  request(method: string, params: unknown): Promise<unknown>;
  closed(err?: Error): void;
}

export class RpcPeer {
  private nextId = 1;
  private readonly pending = new Map<RpcId, { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout; method: string }>();
  private channel?: Channel;
  private ended = false;

  private constructor(private readonly h: RpcHandlers) {}

  static async open(opener: Opener, h: RpcHandlers): Promise<RpcPeer> {
    const peer = new RpcPeer(h);
    peer.channel = await opener({ message: (m) => peer.receive(m), close: (e) => peer.end(e) });
    return peer;
  }

  get open(): boolean {
    return !this.ended;
  }

  request<T = unknown>(method: string, params?: unknown, timeoutMs = 15_000): Promise<T> {
    if (this.ended || !this.channel) return Promise.reject(new RpcError(LINK_CLOSED, `the connection to the xiota agent is closed (${method} not sent)`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RpcError(LINK_CLOSED, `the xiota agent did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer, method });
      this.channel!.send({ jsonrpc: '2.0', id, method, params });
    });
  }

  close(): void {
    if (this.ended) return;
    this.channel?.close();
    this.end();
  }

  private end(err?: Error): void {
    if (this.ended) return;
    this.ended = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new RpcError(LINK_CLOSED, `the connection to the xiota agent closed before it answered ${p.method}`));
      this.pending.delete(id);
    }
    this.h.closed(err);
  }

  private receive(m: unknown): void {
    if (Array.isArray(m)) {
      for (const one of m) this.receive(one); // JSON-RPC 2.0 section 6: a batch
      return;
    }
    const c = classify(m);
    if (!c) return; // nothing this side can answer (JSON-RPC 2.0 section 5: no id known)
    if (c.kind === 'response') {
      const id = c.msg.id;
      const p = id === null ? undefined : this.pending.get(id);
      if (!p) return;
      this.pending.delete(id!);
      clearTimeout(p.timer);
      if (c.msg.error) p.reject(new RpcError(c.msg.error.code, c.msg.error.message, c.msg.error.data));
      else p.resolve(c.msg.result);
    } else if (c.kind === 'notification') {
      this.h.notification(c.msg.method, c.msg.params);
    } else {
      const { id, method, params } = c.msg;
      this.h.request(method, params).then(
        (result) => this.reply(id, { result: result ?? null }),
        (e: unknown) => this.reply(id, { error: errorObject(e) }),
      );
    }
  }

  private reply(id: RpcId, body: { result: unknown } | { error: RpcErrorObject }): void {
    if (this.ended) return;
    this.channel?.send({ jsonrpc: '2.0', id, ...body });
  }
}

function errorObject(e: unknown): RpcErrorObject {
  if (e instanceof RpcError) return { code: e.code, message: e.message, ...(e.data === undefined ? {} : { data: e.data }) };
  return { code: -32000, message: e instanceof Error ? e.message : String(e) };
}
