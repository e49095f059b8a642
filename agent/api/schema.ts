// The `api:` section of xiota.yaml: the local API socket (agent/api/PROTOCOL.md).
//
// api:
//   enabled: true           # serve the socket while `xiota run` runs
//   socket: /run/xiota/api.sock   # default: $RUNTIME_DIRECTORY/api.sock, /run/xiota/api.sock, <state dir>/api.sock
//   mode: "0660"            # file mode of the socket (octal); the permission is the credential
//   group: xiota            # group of the socket (a name or a gid); members may use the API
//   role: owner             # what a connected client may do: owner | controller | reader
//   queue: 1000             # notifications held per slow client before they are dropped (counted)
//   max_line_bytes: 65536   # longest request line accepted
//   max_subscriptions: 10000  # per client
import { isAbsolute, resolve } from 'node:path';
import { s, error, warn, describe, INVALID, type Schema } from '../config/schema';

export type ApiRole = 'owner' | 'controller' | 'reader';

export interface ApiConfig {
  enabled: boolean;
  /** Absolute path; absent: chosen at start (see defaultSocketPath). */
  socket?: string;
  /** File mode bits of the socket (0o660 by default). */
  mode: number;
  /** Group name or numeric gid the socket is given. */
  group?: string | number;
  role: ApiRole;
  queue: number;
  maxLineBytes: number;
  maxSubscriptions: number;
}

/** Linux sun_path is 108 bytes with its terminating NUL (unix(7)). */
export const MAX_SOCKET_PATH_BYTES = 107;

const socketPath = s.custom<string>('a socket path', (v, path, ctx) => {
  if (typeof v !== 'string' || v.trim() === '') { error(ctx, path, `expected a socket path like /run/xiota/api.sock, got ${describe(v)}`); return INVALID; }
  const p = isAbsolute(v) ? v : resolve(ctx.baseDir, v);
  if (Buffer.byteLength(p) > MAX_SOCKET_PATH_BYTES) {
    error(ctx, path, `${JSON.stringify(p)} is ${Buffer.byteLength(p)} bytes; a Unix socket path may have at most ${MAX_SOCKET_PATH_BYTES}: pick a shorter one`);
    return INVALID;
  }
  return p;
});

/**
 * The socket's mode, written like chmod: `"0660"`, `"660"`, or unquoted `0660` (YAML 1.2 reads
 * that as the number 660, whose digits are taken as octal). Other users' bits get a warning:
 * the permission is the only credential.
 */
const mode = s.custom<number>('a file mode like "0660"', (v, path, ctx) => {
  let digits: string | undefined;
  if (typeof v === 'string' && /^0?o?[0-7]{3}$/.test(v.trim())) digits = v.trim().slice(-3);
  else if (typeof v === 'number' && Number.isInteger(v) && /^[0-7]{1,3}$/.test(String(v))) digits = String(v);
  if (digits === undefined) {
    error(ctx, path, `expected a file mode in octal like "0660" (owner and group read/write), got ${describe(v)}`);
    return INVALID;
  }
  const m = parseInt(digits, 8);
  if ((m & 0o600) !== 0o600) { error(ctx, path, `mode ${digits} does not let the daemon's own user read and write the socket; use "0660"`); return INVALID; }
  if (m & 0o007) warn(ctx, path, `mode ${digits} lets every local user act with api.role's rights on the device; "0660" limits it to the group`);
  return m;
});

const group = s.custom<string | number>('a group name or gid', (v, path, ctx) => {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 32) return v;
  if (typeof v === 'string' && /^[a-z_][a-z0-9_-]*\$?$/i.test(v) && v.length <= 32) return v;
  error(ctx, path, `expected a group name (like xiota) or a numeric gid, got ${describe(v)}`);
  return INVALID;
});

export const apiSchema: Schema<ApiConfig> = s.object<ApiConfig>({
  enabled: s.boolean().default(true),
  socket: socketPath.optional(),
  mode: mode.default(0o660),
  group: group.optional(),
  role: s.enum(['owner', 'controller', 'reader'] as const).default('owner'),
  // Each held notification is a few hundred bytes: 1000 is well under a MiB per client.
  queue: s.integer().min(10).max(1_000_000).default(1000),
  maxLineBytes: s.integer().min(1024).max(16 * 1024 * 1024).default(65_536),
  maxSubscriptions: s.integer().min(1).max(1_000_000).default(10_000),
});
