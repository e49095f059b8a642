// Where the API socket lives (PROTOCOL.md "Transport"): the daemon picks one path, the CLI
// looks where a daemon would have put it.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/types';

export const RUN_DIR = '/run/xiota';

/** The daemon's socket: api.socket, else systemd's RuntimeDirectory, else /run/xiota when it is
 *  there and writable, else inside the outbox directory: one per outbox, so agents with their
 *  own outboxes in one parent directory (tests under /tmp) never meet on one socket, while a
 *  second daemon on the same outbox does (and is refused). The outbox ignores the file. */
export function daemonSocketPath(config: Pick<Config, 'api' | 'outbox'>, env: NodeJS.ProcessEnv = process.env): string {
  if (config.api.socket) return config.api.socket;
  // systemd.exec(5): RUNTIME_DIRECTORY lists the directories, colon-separated.
  const rd = env.RUNTIME_DIRECTORY?.split(':')[0];
  if (rd) return join(rd, 'api.sock');
  try {
    accessSync(RUN_DIR, constants.W_OK);
    return join(RUN_DIR, 'api.sock');
  } catch {
    return join(config.outbox.dir, 'api.sock');
  }
}

/** Where a client looks, in order, when no --socket is given. */
export function clientSocketCandidates(config: Pick<Config, 'api' | 'outbox'> | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  if (config?.api.socket) return [config.api.socket];
  const rd = env.RUNTIME_DIRECTORY?.split(':')[0];
  if (rd) out.push(join(rd, 'api.sock'));
  out.push(join(RUN_DIR, 'api.sock'));
  if (config) out.push(join(config.outbox.dir, 'api.sock'));
  return [...new Set(out)];
}

/** The first candidate that exists (else the first one, for the error message). */
export function pickClientSocket(candidates: string[]): string {
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}

/** A group name to its gid from /etc/group (Node has no getgrnam); a number is taken as it is. */
export function gidOf(group: string | number, file = '/etc/group'): number | undefined {
  if (typeof group === 'number') return group;
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch { return undefined; }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}
