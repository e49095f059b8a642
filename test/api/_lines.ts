// A raw JSON-lines client of the API socket for tests: sends objects or raw bytes, keeps every
// message it got, waits for one that matches. Can stop reading (a client that never reads).
import { createConnection, type Socket } from 'node:net';

export type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export class LineClient {
  readonly got: Msg[] = [];
  private buf = '';
  private n = 0;
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(readonly sock: Socket, private readonly onMsg?: (m: Msg, c: LineClient) => void) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const m = JSON.parse(line) as Msg;
        this.got.push(m);
        this.onMsg?.(m, this);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on('close', () => { this.closed = true; for (const w of this.waiters.splice(0)) w(); });
    sock.on('error', () => undefined);
  }

  static connect(path: string, onMsg?: (m: Msg, c: LineClient) => void): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once('connect', () => resolve(new LineClient(s, onMsg)));
      s.once('error', reject);
    });
  }

  raw(text: string | Buffer): void { this.sock.write(text); }

  send(m: object): void { this.sock.write(JSON.stringify(m) + '\n'); }

  async until(what: string, pred: (m: Msg) => boolean, ms = 10_000): Promise<Msg> {
    const end = Date.now() + ms;
    for (;;) {
      const hit = this.got.find(pred);
      if (hit) return hit;
      if (Date.now() > end || this.closed) throw new Error(`no ${what} within ${ms} ms (closed: ${this.closed}); last: ${JSON.stringify(this.got.slice(-3)).slice(0, 500)}`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50); });
    }
  }

  /** A request; resolves with the whole response (result or error). */
  async ask(method: string, params?: object, ms = 15_000): Promise<Msg> {
    const id = `t${++this.n}`;
    this.send({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });
    return this.until(`answer to ${method}`, (m) => m.id === id && !m.method, ms);
  }

  async call(method: string, params?: object): Promise<Msg> {
    const r = await this.ask(method, params);
    if (r.error) throw new Error(`${method}: ${JSON.stringify(r.error)}`);
    return r.result as Msg;
  }

  close(): void { this.sock.destroy(); }
}
