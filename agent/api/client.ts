// A client of the local API socket (PROTOCOL.md): the CLI uses it, a script or the Node-RED
// palette may. Requests resolve with their result or reject with an RpcError; notifications
// and the agent's own requests (`thing.set`) go to handlers.
import { createConnection, type Socket } from 'node:net';
import { XiotaError } from '../errors';
import { RPC, RpcError, type RpcCode } from './jsonrpc';

type Json = Record<string, unknown>;

export interface ApiClientHandlers {
  /** A notification (`reading`, `item`, `session`, `dropped`). */
  notification?(method: string, params: Json): void;
  /** A request from the agent (`thing.set`): resolve to answer ok, throw to refuse. */
  request?(method: string, params: Json): Promise<unknown>;
  /** The socket closed. */
  close?(): void;
}

/** What went wrong reaching the daemon, with what to do. */
export function connectAdvice(path: string, e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT': return `no xiota daemon is listening on ${path} (no such socket): start it (systemctl start xiota, or xiota run), or give its socket with --socket PATH`;
    case 'ECONNREFUSED': return `no xiota daemon is listening on ${path} (a stale socket file): start it (systemctl start xiota, or xiota run)`;
    case 'EACCES':
    case 'EPERM': return `permission denied on ${path}: run as the daemon's user, or join the socket's group (sudo usermod -aG xiota $USER, then log in again)`;
    default: return `cannot reach the xiota daemon on ${path}: ${e.message}`;
  }
}

export class ApiSocketClient {
  private buf = '';
  private next = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

  private constructor(private readonly sock: Socket, private readonly h: ApiClientHandlers) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.data(d));
    sock.on('close', () => {
      for (const p of this.pending.values()) p.reject(new XiotaError('XIOTA_E_DISCONNECTED', 'the xiota daemon closed the API connection'));
      this.pending.clear();
      h.close?.();
    });
    sock.on('error', () => undefined);
  }

  static connect(path: string, h: ApiClientHandlers = {}): Promise<ApiSocketClient> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once('connect', () => { s.removeAllListeners('error'); resolve(new ApiSocketClient(s, h)); });
      s.once('error', (e: NodeJS.ErrnoException) => reject(new XiotaError('XIOTA_E_CONNECT', connectAdvice(path, e), { path, errno: e.code })));
    });
  }

  /** One request; with `timeoutMs`, no answer by then rejects with XIOTA_E_TIMEOUT. */
  call<T = unknown>(method: string, params?: Json, timeoutMs?: number): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new XiotaError('XIOTA_E_TIMEOUT', `the xiota daemon did not answer ${method} within ${timeoutMs / 1000} s: check it with journalctl -u xiota`, { timeout_ms: timeoutMs }));
        }, timeoutMs);
      }
      const done = () => { if (timer) clearTimeout(timer); };
      this.pending.set(id, { resolve: (v) => { done(); (resolve as (v: unknown) => void)(v); }, reject: (e) => { done(); reject(e); } });
      this.sock.write(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) }) + '\n');
    });
  }

  close(): void {
    this.sock.end();
    this.sock.destroy();
  }

  private data(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (!line.trim()) continue;
      let msg: unknown;
      try { msg = JSON.parse(line); } catch { continue; }
      for (const m of Array.isArray(msg) ? msg : [msg]) this.message(m as Json);
    }
  }

  private message(m: Json): void {
    if (typeof m.method === 'string') {
      const params = (m.params ?? {}) as Json;
      if (m.id === undefined) { this.h.notification?.(m.method, params); return; }
      const answer = (body: Json) => this.sock.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, ...body }) + '\n');
      const handler = this.h.request;
      if (!handler) { answer({ error: { code: RPC.METHOD_NOT_FOUND, message: `this client does not answer ${m.method}` } }); return; }
      handler(m.method, params).then(
        (result) => answer({ result: result ?? { ok: true } }),
        (e: Error) => answer({ error: { code: e instanceof RpcError ? e.code : RPC.REFUSED, message: e.message } }),
      );
      return;
    }
    const p = typeof m.id === 'number' ? this.pending.get(m.id) : undefined;
    if (!p) return;
    this.pending.delete(m.id as number);
    const err = m.error as { code: number; message: string; data?: Json } | undefined;
    if (err) p.reject(new RpcError(err.code as RpcCode, err.message, err.data));
    else p.resolve(m.result);
  }
}
