// A TCP proxy on 127.0.0.1 in front of a real server, for fault injection: cut every
// connection abruptly (a Wi-Fi drop), stall the link without closing it (a dead route: no
// FIN, no RST, no bytes), refuse new connections (server down). Bytes pass untouched, so
// TLS runs end to end through it.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface ProxyStats {
  /** Client connections accepted since start (refused ones included). */
  accepted: number;
  /** Connections refused while refuse(true). */
  refused: number;
  /** Connections currently open. */
  active: number;
  /** Connections ended by cut(). */
  cut: number;
  /** Bytes forwarded client -> target and target -> client. */
  bytesUp: number;
  bytesDown: number;
}

export interface TcpProxy {
  port: number;
  host: '127.0.0.1';
  readonly stats: ProxyStats;
  /** Destroy every current connection with a TCP RST; keep listening. */
  cut(): void;
  /** Stop forwarding both ways without closing (new connections stall too). */
  stall(): void;
  /** Forward again; bytes held back by TCP flow control then flow. */
  unstall(): void;
  readonly stalled: boolean;
  /** While on, new connections are closed at once. */
  refuse(on: boolean): void;
  /** Resolves when `stats.accepted` reaches n (rejects after timeoutMs). */
  waitForConnections(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

interface Pair { client: Socket; upstream: Socket }

export function startProxy(target: { port: number; host?: string }): Promise<TcpProxy> {
  const targetHost = target.host ?? '127.0.0.1';
  if (!/^127\./.test(targetHost) && targetHost !== 'localhost') {
    // Tests must never reach beyond loopback.
    return Promise.reject(new Error(`startProxy: target ${targetHost} is not on 127.0.0.0/8`));
  }
  const pairs = new Set<Pair>();
  const stats: ProxyStats = { accepted: 0, refused: 0, active: 0, cut: 0, bytesUp: 0, bytesDown: 0 };
  let stalled = false;
  let refusing = false;
  const waiters: { n: number; resolve: () => void }[] = [];

  // Forward by hand (not pipe()) so a stall can stop reading on both sides at once:
  // paused sockets read nothing, so TCP windows fill and the peers see a silent link.
  const forward = (from: Socket, to: Socket, count: (n: number) => void) => {
    from.on('data', (chunk: Buffer) => {
      count(chunk.length);
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => { if (!stalled) from.resume(); });
      }
    });
    from.on('end', () => to.end());
  };

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    stats.accepted++;
    for (const w of waiters.slice()) if (stats.accepted >= w.n) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
    if (refusing) {
      stats.refused++;
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection({ port: target.port, host: targetHost });
    upstream.pause();
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    stats.active++;
    let gone = false;
    const drop = () => {
      if (gone) return;
      gone = true;
      pairs.delete(pair);
      stats.active--;
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    forward(client, upstream, (n) => (stats.bytesUp += n));
    forward(upstream, client, (n) => (stats.bytesDown += n));
    upstream.once('connect', () => {
      if (!stalled) { client.resume(); upstream.resume(); }
    });
  });

  const setFlow = (on: boolean) => {
    for (const { client, upstream } of pairs) {
      if (on) {
        if (upstream.connecting) continue; // resumed on connect
        client.resume();
        upstream.resume();
      } else {
        client.pause();
        upstream.pause();
      }
    }
  };

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        port,
        host: '127.0.0.1',
        stats,
        get stalled() { return stalled; },
        cut() {
          for (const pair of [...pairs]) {
            stats.cut++;
            // RST, not FIN: the peer learns nothing graceful, like a dropped link or a crash.
            pair.client.resetAndDestroy();
            pair.upstream.resetAndDestroy();
          }
        },
        stall() { stalled = true; setFlow(false); },
        unstall() { stalled = false; setFlow(true); },
        refuse(on: boolean) { refusing = on; },
        waitForConnections(n: number, timeoutMs = 10_000) {
          if (stats.accepted >= n) return Promise.resolve();
          return new Promise<void>((res, rej) => {
            const t = setTimeout(() => rej(new Error(`proxy: ${stats.accepted} connections after ${timeoutMs} ms, wanted ${n}`)), timeoutMs);
            waiters.push({ n, resolve: () => { clearTimeout(t); res(); } });
          });
        },
        close() {
          for (const pair of [...pairs]) { pair.client.destroy(); pair.upstream.destroy(); }
          return new Promise<void>((res) => server.close(() => res()));
        },
      });
    });
  });
}
