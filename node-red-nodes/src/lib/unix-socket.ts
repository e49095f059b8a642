// The daemon's local API socket as a Channel: one JSON message per `\n`-terminated UTF-8 line
// (agent/api/PROTOCOL.md "Transport"). Lines are split on bytes, so a character cut between
// two chunks is decoded whole; an unparseable line is dropped, not fatal.
import { createConnection, type Socket } from 'node:net';
import type { Channel, ChannelEvents, Opener } from './rpc';

/** The daemon's default socket when `api.socket` is not configured (PROTOCOL.md). */
export const DEFAULT_SOCKET = '/run/xiota/api.sock';
/** A line from the agent longer than this is a broken peer: the link is closed. */
const MAX_LINE_BYTES = 16 * 1024 * 1024;

const ADVICE: Record<string, string> = {
  ENOENT: 'is xiota run running, with api.enabled, and is this its api.socket path?',
  ECONNREFUSED: 'the socket file is there but nobody listens: is xiota run running?',
  EACCES: 'permission denied: add the Node-RED user to the group in api.group (mode 0660)',
  ENOTSOCK: 'that path is not a socket: check api.socket in the agent config',
};

export function socketOpener(path: string, timeoutMs = 5000): Opener {
  return (events: ChannelEvents) =>
    new Promise<Channel>((resolve, reject) => {
      const sock: Socket = createConnection({ path });
      let ready = false;
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`no connection to the xiota agent at ${path} within ${timeoutMs} ms`));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        ready = true;
        resolve({
          send(m) {
            if (!sock.destroyed) sock.write(JSON.stringify(m) + '\n');
          },
          close() {
            sock.end();
            sock.destroySoon?.();
            setTimeout(() => sock.destroy(), 500).unref();
          },
        });
      });
      let chunks: Buffer[] = [];
      let size = 0;
      sock.on('data', (d: Buffer) => {
        let start = 0;
        for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, start)) {
          // Most lines arrive whole in one chunk: decoded in place, no copy.
          let line: string;
          if (chunks.length === 0) line = d.toString('utf8', start, i);
          else {
            chunks.push(d.subarray(start, i));
            line = Buffer.concat(chunks).toString('utf8');
            chunks = [];
            size = 0;
          }
          start = i + 1;
          if (!line.trim()) continue;
          let m: unknown;
          try {
            m = JSON.parse(line);
          } catch {
            continue;
          }
          events.message(m);
        }
        if (start < d.length) {
          chunks.push(d.subarray(start));
          size += d.length - start;
          if (size > MAX_LINE_BYTES) sock.destroy(new Error(`the xiota agent sent a line over ${MAX_LINE_BYTES} bytes`));
        }
      });
      sock.on('error', (e: NodeJS.ErrnoException) => {
        const err = new Error(`xiota agent socket ${path}: ${e.code ?? e.message}${e.code && ADVICE[e.code] ? ` (${ADVICE[e.code]})` : ''}`);
        if (!ready) {
          clearTimeout(timer);
          reject(err);
        } else events.close(err);
      });
      sock.on('close', () => {
        if (ready) events.close();
      });
    });
}
