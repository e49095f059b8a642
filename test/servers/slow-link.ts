// A slow link in front of a real server, in userspace on 127.0.0.1: every byte is delayed by
// a one-way latency in each direction and serialized at a capped bandwidth, like a cellular
// or satellite hop. It counts round trips, so a login can be judged by what the protocol
// makes it wait for and not only by milliseconds on this machine.
//
// Round trips, per connection: the TCP connect is one (the proxy holds the client's first
// bytes for a full round trip, which is what the SYN/SYN-ACK would have cost), and every
// client->server flight that leaves after server bytes reached the client since the previous
// flight is one more: it is a flight that had to wait for an answer. Bytes the client sends
// without having heard anything new belong to the flight in progress (pipelining is free).
// Bytes pass untouched, so TLS runs end to end through it.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface SlowLinkOptions {
  target: { port: number; host?: string };
  /** One-way delay per direction (a 300 ms latency is a 600 ms round trip). */
  latencyMs: number;
  /** Bandwidth per direction in bytes per second (default unlimited). */
  bytesPerSecond?: number;
}

/** One connection through the link, as the round-trip counter saw it. */
export interface LinkTrace {
  /** The TCP connect plus every client flight that waited for the server. */
  roundTrips: number;
  bytesUp: number;
  bytesDown: number;
  /** Bytes of each client flight, in order (flight i is round trip i+2). */
  flights: number[];
  openedAt: number;
}

export interface SlowLink {
  port: number;
  host: '127.0.0.1';
  latencyMs: number;
  bytesPerSecond?: number;
  /** Every connection made through the link, oldest first. */
  readonly traces: LinkTrace[];
  /** The most recent connection's trace (throws when there is none yet). */
  last(): LinkTrace;
  /** Connections currently open. */
  readonly active: number;
  /** Destroys every open connection with a RST (a dropped link); keeps listening. */
  cut(): void;
  close(): Promise<void>;
}

/** One direction of one connection: a FIFO that serializes at the bandwidth, then waits the latency. */
class Lane {
  /** A null chunk is the peer's FIN: it travels behind the data queued before it. */
  private queue: { at: number; chunk: Buffer | null }[] = [];
  private timer?: NodeJS.Timeout;
  private freeAt = 0;
  constructor(private readonly to: Socket, private readonly latencyMs: number, private readonly bps: number | undefined,
    private readonly onDeliver: (n: number) => void, public notBefore = 0) {}

  push(chunk: Buffer | null): void {
    const now = Date.now();
    const start = Math.max(now, this.freeAt, this.notBefore);
    const end = start + (this.bps && chunk ? (chunk.length * 1000) / this.bps : 0);
    this.freeAt = end;
    this.queue.push({ at: end + this.latencyMs, chunk });
    if (this.queue.length === 1) this.arm();
  }

  private arm(): void {
    const head = this.queue[0];
    if (!head || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = Date.now();
      // Everything due goes out in order (delivery times are monotonic per lane).
      while (this.queue.length && this.queue[0]!.at <= now + 1) {
        const { chunk } = this.queue.shift()!;
        if (this.to.destroyed) continue;
        if (chunk === null) {
          this.to.end();
          continue;
        }
        this.onDeliver(chunk.length);
        this.to.write(chunk);
      }
      this.arm();
    }, Math.max(0, head.at - Date.now()));
  }

  /** Bytes waiting in this lane. */
  get queued(): number {
    return this.queue.reduce((n, q) => n + (q.chunk?.length ?? 0), 0);
  }

  drop(): void {
    clearTimeout(this.timer);
    this.queue = [];
  }
}

export function startSlowLink(o: SlowLinkOptions): Promise<SlowLink> {
  const targetHost = o.target.host ?? '127.0.0.1';
  if (!/^127\./.test(targetHost) && targetHost !== 'localhost') {
    return Promise.reject(new Error(`startSlowLink: target ${targetHost} is not on 127.0.0.0/8; tests must stay on loopback`));
  }
  if (!(o.latencyMs >= 0)) return Promise.reject(new Error(`startSlowLink: latencyMs must be >= 0, got ${o.latencyMs}`));
  if (o.bytesPerSecond !== undefined && !(o.bytesPerSecond > 0)) return Promise.reject(new Error(`startSlowLink: bytesPerSecond must be > 0, got ${o.bytesPerSecond}`));
  const traces: LinkTrace[] = [];
  const open = new Set<{ client: Socket; upstream: Socket; lanes: Lane[] }>();

  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    client.setNoDelay(true);
    const trace: LinkTrace = { roundTrips: 1, bytesUp: 0, bytesDown: 0, flights: [], openedAt: Date.now() };
    traces.push(trace);
    // The client may speak first only after the emulated SYN/SYN-ACK round trip.
    let heardSinceFlight = true;
    const upstream = createConnection({ port: o.target.port, host: targetHost });
    upstream.setNoDelay(true);
    const up = new Lane(upstream, o.latencyMs, o.bytesPerSecond, () => {}, Date.now() + 2 * o.latencyMs);
    const down = new Lane(client, o.latencyMs, o.bytesPerSecond, () => { heardSinceFlight = true; });
    const pair = { client, upstream, lanes: [up, down] };
    open.add(pair);
    let gone = false;
    const drop = () => {
      if (gone) return;
      gone = true;
      open.delete(pair);
      up.drop();
      down.drop();
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      s.on('error', drop);
      s.on('close', drop);
    }
    client.on('data', (chunk: Buffer) => {
      if (heardSinceFlight) {
        heardSinceFlight = false;
        trace.roundTrips++;
        trace.flights.push(0);
      }
      trace.flights[trace.flights.length - 1]! += chunk.length;
      trace.bytesUp += chunk.length;
      up.push(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      trace.bytesDown += chunk.length;
      down.push(chunk);
    });
    // A FIN travels like data would: after what is queued.
    client.on('end', () => up.push(null));
    upstream.on('end', () => down.push(null));
    upstream.once('connect', () => {
      client.resume();
      upstream.resume();
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        port,
        host: '127.0.0.1',
        latencyMs: o.latencyMs,
        bytesPerSecond: o.bytesPerSecond,
        traces,
        last() {
          const t = traces[traces.length - 1];
          if (!t) throw new Error('slow link: no connection yet');
          return t;
        },
        get active() { return open.size; },
        cut() {
          for (const p of [...open]) {
            for (const l of p.lanes) l.drop();
            p.client.resetAndDestroy();
            p.upstream.resetAndDestroy();
          }
        },
        close() {
          for (const p of [...open]) { p.client.destroy(); p.upstream.destroy(); }
          return new Promise<void>((res) => server.close(() => res()));
        },
      });
    });
  });
}
