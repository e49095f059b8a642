// The board keys file: one pre-shared 32-byte key per board id, made by `xiota bridge pair`,
// kept in the state directory with mode 0600, and the schema cache beside it. Keys never reach
// a log; a key is shown once, when it is made.
import { chmodSync, chownSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { XiotaError } from '../../agent/errors';
import { PSK_BYTES, randomBytes } from './crypto';
import type { Entity } from './messages';

export const DEFAULT_KEYS_FILE = '/var/lib/xiota/bridge-keys.json';
/** The keys file a bridge driver reads: its keys_file, else the default. One rule for the
 *  driver, the owner's chat command and `xiota bridge` (which reads it from the config). */
export function keysFileOf(o: { keysFile?: string }): string { return o.keysFile ?? DEFAULT_KEYS_FILE; }

export const BOARD_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

interface KeysFile { version: 1; boards: Record<string, { key: string; paired_at: string }> }

function readJson<T>(path: string, what: string, empty: T): T {
  if (!existsSync(path)) return empty;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (e) {
    throw new XiotaError('XIOTA_E_CONFIG', `cannot read the ${what} ${path}: ${(e as Error).message} (fix or remove it, then pair again)`, { path });
  }
}

/** Writes through a temporary file and a rename: a crash leaves the old file or the new one. */
function writeAtomic(path: string, text: string): void {
  const tmp = join(dirname(path), `.${Date.now()}-${process.pid}.tmp`);
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  // `sudo xiota bridge pair` writing into the daemon's state directory: the file goes to the
  // directory's owner (systemd's DynamicUser owns /var/lib/xiota), or the daemon could not read it.
  if (process.getuid?.() === 0) {
    const dir = statSync(dirname(path));
    if (dir.uid !== 0) chownSync(tmp, dir.uid, dir.gid);
  }
  renameSync(tmp, path);
}

export function readKeys(path: string): Map<string, Uint8Array> {
  const f = readJson<KeysFile>(path, 'bridge keys file', { version: 1, boards: {} });
  const out = new Map<string, Uint8Array>();
  for (const [id, v] of Object.entries(f.boards ?? {})) {
    const key = Buffer.from(typeof v?.key === 'string' ? v.key : '', 'hex');
    if (key.length !== PSK_BYTES) throw new XiotaError('XIOTA_E_CONFIG', `bridge keys file ${path}: the key of board "${id}" is not ${PSK_BYTES} bytes of hex; pair the board again (xiota bridge pair ${id} --force)`, { path, board: id });
    out.set(id, new Uint8Array(key));
  }
  return out;
}

/** Makes a key for a board and stores it; refuses to replace one unless `force`. */
export function pairBoard(path: string, boardId: string, opts: { force?: boolean; now?: Date } = {}): Uint8Array {
  if (!BOARD_ID_RE.test(boardId)) throw new XiotaError('XIOTA_E_CONFIG', `"${boardId}" is not a board id: use 1-32 letters, digits, "_" or "-", starting with a letter or digit`, { board: boardId });
  if (!existsSync(dirname(path))) throw new XiotaError('XIOTA_E_CONFIG', `cannot write ${path}: its directory does not exist (create it, or give --keys FILE)`, { path });
  const f = readJson<KeysFile>(path, 'bridge keys file', { version: 1, boards: {} });
  f.boards ??= {};
  const had = f.boards[boardId];
  if (had && !opts.force) throw new XiotaError('XIOTA_E_CONFIG', `board "${boardId}" is already paired (since ${had.paired_at}); --force makes a new key, and the board must then get it too`, { board: boardId });
  const key = randomBytes(PSK_BYTES);
  f.boards[boardId] = { key: Buffer.from(key).toString('hex'), paired_at: (opts.now ?? new Date()).toISOString() };
  writeAtomic(path, JSON.stringify(f, null, 2) + '\n');
  return key;
}

/** Schema cache: entities by board id and schema hash, so reconnects skip DESCRIBE. */
export function schemaCachePath(keysFile: string): string { return join(dirname(keysFile), 'bridge-schemas.json'); }

type SchemaFile = Record<string, { hash: number; entities: Entity[] }>;

export function readSchema(path: string, boardId: string, hash: number): Entity[] | undefined {
  try {
    const s = readJson<SchemaFile>(path, 'bridge schema cache', {})[boardId];
    return s && s.hash === hash && Array.isArray(s.entities) ? s.entities : undefined;
  } catch {
    return undefined; // a broken cache only costs a DESCRIBE
  }
}

export function readAnySchema(path: string, boardId: string): { hash: number; entities: Entity[] } | undefined {
  try { return readJson<SchemaFile>(path, 'bridge schema cache', {})[boardId]; } catch { return undefined; }
}

export function writeSchema(path: string, boardId: string, hash: number, entities: Entity[]): void {
  let all: SchemaFile = {};
  try { all = readJson<SchemaFile>(path, 'bridge schema cache', {}); } catch { /* replaced */ }
  all[boardId] = { hash, entities };
  writeAtomic(path, JSON.stringify(all, null, 1) + '\n');
}

/** The key as a C initializer for the firmware's key storage. */
export function keyAsC(key: Uint8Array): string {
  const bytes = [...key].map((b) => '0x' + b.toString(16).padStart(2, '0'));
  return `static const uint8_t XIOTA_BRIDGE_KEY[32] = {\n  ${bytes.slice(0, 16).join(', ')},\n  ${bytes.slice(16).join(', ')}\n};`;
}
