// A scripted raw TCP/TLS server for hostile-server tests: a real Prosody cannot be made to
// send a billion laughs or a half-open stream, so this fixture plays the server by script.
// Each connection runs `script(conn)`; helpers play a minimal honest XMPP server up to
// "authenticated and bound" (RFC 6120 4-7, SASL PLAIN inside TLS) so the script can then
// misbehave at exactly the point it wants to test.
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, TLSSocket, type SecureContext } from 'node:tls';

export type HostileTlsMode = 'direct' | 'starttls' | 'none';

export interface HostileConn {
  /** Sequence number of this connection (1 for the first). */
  index: number;
  readonly tls: boolean;
  /** Everything received so far, decoded as UTF-8. */
  readonly received: string;
  /**
   * Resolve with the unconsumed input up to and including the first match of `pattern`
   * (consuming it); reject on close or after timeoutMs (default 10 s).
   */
  readUntil(pattern: string | RegExp, timeoutMs?: number): Promise<string>;
  write(data: string | Buffer): Promise<void>;
  /** Upgrade this connection to TLS as the server (after `<proceed/>`). */
  startTls(): Promise<void>;
  end(data?: string): void;
  destroy(): void;
  readonly closed: Promise<void>;
  readonly isClosed: boolean;
}

export interface HostileServerOptions {
  tls?: HostileTlsMode;
  /** Required for 'direct' and 'starttls'. */
  cert?: { certFile: string; keyFile: string };
  script: (conn: HostileConn) => void | Promise<void>;
}

export interface HostileServer {
  port: number;
  host: '127.0.0.1';
  /** Connections accepted so far (to assert that a client reconnected). */
  readonly connections: number;
  /** Errors thrown by scripts (a test should assert this is empty). */
  readonly errors: Error[];
  waitForConnections(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

class Conn implements HostileConn {
  received = '';
  private buf = '';
  private waiter: (() => void) | undefined;
  isClosed = false;
  readonly closed: Promise<void>;
  private markClosed!: () => void;
  private decoder = new TextDecoder('utf-8');

  constructor(public index: number, private sock: Socket, private ctx: SecureContext | undefined, public tls: boolean) {
    this.closed = new Promise((r) => (this.markClosed = r));
    this.attach(sock);
  }

  private attach(sock: Socket): void {
    sock.on('data', this.onData);
    sock.on('close', this.onClose);
    sock.on('error', () => { /* close follows */ });
  }

  private onData = (d: Buffer) => {
    const s = this.decoder.decode(d, { stream: true });
    this.received += s;
    this.buf += s;
    this.waiter?.();
  };

  private onClose = () => {
    this.isClosed = true;
    this.markClosed();
    this.waiter?.();
  };

  readUntil(pattern: string | RegExp, timeoutMs = 10_000): Promise<string> {
    const find = (): number => {
      if (typeof pattern === 'string') {
        const i = this.buf.indexOf(pattern);
        return i < 0 ? -1 : i + pattern.length;
      }
      const m = new RegExp(pattern.source, pattern.flags.replace('g', '')).exec(this.buf);
      return m ? m.index + m[0].length : -1;
    };
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.waiter = undefined; reject(new Error(`hostile server: no ${String(pattern)} within ${timeoutMs} ms; unconsumed input: ${JSON.stringify(this.buf.slice(0, 500))}`)); }, timeoutMs);
      const check = () => {
        const end = find();
        if (end >= 0) {
          clearTimeout(t);
          this.waiter = undefined;
          const out = this.buf.slice(0, end);
          this.buf = this.buf.slice(end);
          resolve(out);
        } else if (this.isClosed) {
          clearTimeout(t);
          this.waiter = undefined;
          reject(new Error(`hostile server: connection closed while waiting for ${String(pattern)}`));
        }
      };
      this.waiter = check;
      check();
    });
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.isClosed || this.sock.destroyed) return resolve();
      this.sock.write(data, () => resolve());
    });
  }

  async startTls(): Promise<void> {
    if (!this.ctx) throw new Error('hostile server: startTls() needs a cert');
    if (this.tls) throw new Error('hostile server: already TLS');
    const raw = this.sock;
    raw.removeListener('data', this.onData);
    raw.removeListener('close', this.onClose);
    const secure = new TLSSocket(raw, { isServer: true, secureContext: this.ctx });
    this.sock = secure;
    this.tls = true;
    this.buf = ''; // RFC 6120 5.4.3.3: nothing before the handshake carries over
    this.decoder = new TextDecoder('utf-8');
    this.attach(secure);
    await new Promise<void>((resolve, reject) => {
      secure.once('secure', () => resolve());
      secure.once('error', reject);
      secure.once('close', () => reject(new Error('hostile server: closed during TLS handshake')));
    });
  }

  end(data?: string): void {
    if (data !== undefined) this.sock.end(data);
    else this.sock.end();
  }

  destroy(): void {
    this.sock.destroy();
  }
}

export function startHostileServer(opts: HostileServerOptions): Promise<HostileServer> {
  const mode = opts.tls ?? 'none';
  if (mode !== 'none' && !opts.cert) return Promise.reject(new Error(`startHostileServer: tls '${mode}' needs cert`));
  const ctx = opts.cert ? createSecureContext({ cert: readFileSync(opts.cert.certFile), key: readFileSync(opts.cert.keyFile) }) : undefined;
  const socks = new Set<Socket>();
  const errors: Error[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let count = 0;

  const onSocket = async (raw: Socket) => {
    socks.add(raw);
    raw.on('close', () => socks.delete(raw));
    raw.on('error', () => { /* a hostile test expects resets */ });
    const index = ++count;
    for (const w of waiters.slice()) if (count >= w.n) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
    const conn = new Conn(index, raw, ctx, false);
    try {
      if (mode === 'direct') await conn.startTls(); // XEP-0368: TLS from the first byte
      await opts.script(conn);
    } catch (e) {
      // The client going away mid-script is usually the point of the test, not an error.
      if (!conn.isClosed) errors.push(e instanceof Error ? e : new Error(String(e)));
      conn.destroy();
    }
  };

  const server: Server = createServer((s) => void onSocket(s));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as { port: number }).port,
        host: '127.0.0.1',
        get connections() { return count; },
        errors,
        waitForConnections(n: number, timeoutMs = 10_000) {
          if (count >= n) return Promise.resolve();
          return new Promise<void>((res, rej) => {
            const t = setTimeout(() => rej(new Error(`hostile server: ${count} connections after ${timeoutMs} ms, wanted ${n}`)), timeoutMs);
            waiters.push({ n, resolve: () => { clearTimeout(t); res(); } });
          });
        },
        close() {
          for (const s of socks) s.destroy();
          return new Promise<void>((res) => server.close(() => res()));
        },
      });
    });
  });
}
