// The local API over a Unix stream socket: one JSON-RPC 2.0 message per `\n`-terminated line
// each way (PROTOCOL.md "Transport"), so `socat - UNIX-CONNECT:/run/xiota/api.sock` works.
// The file's mode and group are the credential. A line longer than max_line_bytes is answered
// with a parse error and skipped up to its newline; a client whose socket is full is not read
// from until it drains (its requests wait in the kernel), and its notifications are bounded by
// the service's queue.
import { chmodSync, chownSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { XiotaError } from '../errors';
import type { Logger } from '../log';
import { gidOf } from './paths';
import { MAX_SOCKET_PATH_BYTES } from './schema';
import type { ApiService } from './service';

export interface ApiSocketOptions {
  path: string;
  mode: number;
  group?: string | number;
  maxLineBytes: number;
  log: Logger;
}

const NL = 0x0a;

/** Splits a byte stream into lines of at most `max` bytes; longer ones are reported once and skipped. */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private skipping = false;

  constructor(private readonly max: number, private readonly onLine: (line: string) => void, private readonly onTooLong: () => void) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(NL, start);
      const end = nl < 0 ? chunk.length : nl;
      if (!this.skipping) {
        if (this.size + (end - start) > this.max) {
          this.skipping = true;
          this.parts = [];
          this.size = 0;
          this.onTooLong();
        } else {
          this.parts.push(chunk.subarray(start, end));
          this.size += end - start;
        }
      }
      if (nl < 0) break;
      if (!this.skipping) {
        const line = Buffer.concat(this.parts, this.size).toString('utf8');
        this.parts = [];
        this.size = 0;
        this.onLine(line);
      }
      this.skipping = false;
      start = nl + 1;
    }
  }
}

/** Is a daemon answering on this socket path? Resolves false on ECONNREFUSED (a stale file). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

export class ApiSocketServer {
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly service: ApiService, private readonly o: ApiSocketOptions) {}

  get path(): string { return this.o.path; }

  /** Checks the path is free (a stale socket file is removed; a live one, another daemon, is a
   *  clear error). The agent calls it before anything else, so a second daemon on the same
   *  config stops before opening the outbox; listen() checks again. */
  async claim(): Promise<void> {
    const path = this.o.path;
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
      throw new XiotaError('XIOTA_E_CONFIG', `the API socket path ${path} is longer than ${MAX_SOCKET_PATH_BYTES} bytes (a Unix socket limit): set a shorter api.socket`, { path });
    }
    mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
    let st;
    try { st = lstatSync(path); } catch { st = undefined; }
    if (!st) return;
    if (!st.isSocket()) throw new XiotaError('XIOTA_E_CONFIG', `${path} exists and is not a socket: remove it, or set api.socket to another path`, { path });
    if (await answers(path)) throw new XiotaError('XIOTA_E_CONFIG', `another process is already serving the API on ${path} (is a second \`xiota run\` using this config?): stop it, or set api.socket to another path`, { path });
    this.o.log.info('removing a stale API socket left by an earlier run', { path });
    unlinkSync(path);
  }

  /** Listens on the path, then gives the socket its mode and group. */
  async listen(): Promise<void> {
    await this.claim();
    const path = this.o.path;
    const server = createServer((s) => this.connection(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(new XiotaError('XIOTA_E_CONFIG', `cannot serve the API on ${path}: ${e.message}${e.code === 'EACCES' ? ' (no permission on its directory: run as the xiota user, or set api.socket)' : ''}`, { path, errno: e.code })));
      server.listen(path, () => resolve());
    });
    server.on('error', (e) => this.o.log.warn('API socket error', { path, error: e.message }));
    this.server = server;
    try {
      this.setOwnership(path);
    } catch (e) {
      await this.close();
      throw e;
    }
    this.o.log.info('local API listening', { path, mode: this.o.mode.toString(8), ...(this.o.group !== undefined ? { group: this.o.group } : {}) });
  }

  private setOwnership(path: string): void {
    // Until chmod the socket has the umask's mode (0755 under systemd's 0022): connecting needs
    // write permission, so nobody but the daemon's user could connect in that window.
    chmodSync(path, this.o.mode);
    if (this.o.group !== undefined) {
      const gid = gidOf(this.o.group);
      if (gid === undefined) throw new XiotaError('XIOTA_E_CONFIG', `api.group "${this.o.group}" is not a group on this system: create it (groupadd ${this.o.group}) or change api.group`, { group: this.o.group });
      try {
        chownSync(path, -1, gid);
      } catch (e) {
        throw new XiotaError('XIOTA_E_CONFIG', `cannot give ${path} to group ${this.o.group}: ${(e as Error).message} (the daemon's user must be a member of it, or systemd's Group= set to it)`, { path, group: this.o.group });
      }
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // net removes the file on close for a path socket; make sure of it.
    try { unlinkSync(this.o.path); } catch { /* already gone */ }
  }

  private connection(sock: Socket): void {
    this.sockets.add(sock);
    // Write coalescing: answers (an outbox flush resolves the thing.publish requests of the last
    // 200 ms at once) are corked until the end of the tick and leave in one writev, so the
    // client wakes once, not once per answer, and the agent's loop is free sooner. A
    // notification (a reading) is urgent: it leaves at once, with whatever answers wait.
    let corked = false;
    const uncork = () => {
      if (!corked) return;
      corked = false;
      sock.uncork();
    };
    const conn = this.service.attach((msg, urgent) => {
      if (sock.destroyed) return true;
      if (!urgent && !corked) {
        corked = true;
        sock.cork();
        process.nextTick(uncork);
      }
      const ok = sock.write(JSON.stringify(msg) + '\n');
      if (urgent) uncork();
      // Stop reading requests until it drains: its answers cannot pile up here.
      if (!ok) sock.pause();
      return ok;
    });
    sock.on('drain', () => { sock.resume(); conn.drain(); });
    const lines = new LineSplitter(this.o.maxLineBytes, (line) => {
      const text = line.endsWith('\r') ? line.slice(0, -1) : line;
      if (!text.trim()) return;
      let msg: unknown;
      try {
        msg = JSON.parse(text);
      } catch (e) {
        conn.refuse(`the line is not JSON (${(e as Error).message}): send one JSON-RPC 2.0 message per line`);
        return;
      }
      conn.receive(msg);
    }, () => conn.refuse(`a line longer than ${this.o.maxLineBytes} bytes (api.max_line_bytes) was skipped: send shorter messages`));
    sock.on('data', (chunk: Buffer) => lines.push(chunk));
    sock.on('error', (e) => this.o.log.debug('API client socket error', { error: e.message }));
    sock.on('close', () => {
      this.sockets.delete(sock);
      conn.close();
    });
  }
}
