// Which keys file `xiota bridge ...` works on: the one the agent's bridge drivers use. The CLI
// reads the same config file as `xiota run` (--config, else ./xiota.yaml, else
// /etc/xiota/xiota.yaml) and takes each `kind: bridge` driver's board and keys file from it;
// --keys wins over the config. Without a config it falls back to the driver's default (or
// $STATE_DIRECTORY/bridge-keys.json under systemd) and says so, naming what to give instead.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { XiotaError } from '../../agent/errors';
import { defaultConfigPaths, formatIssues, loadConfig } from '../../agent/config';
import { DEFAULT_KEYS_FILE, keysFileOf } from './keys';

/** One `kind: bridge` driver of the config. */
export interface ConfiguredBoard {
  driver: string;
  board: string;
  keysFile: string;
  pairing: 'preshared' | 'tofu';
}

export interface BridgeSettings {
  /** The config file read, when one was. */
  configPath?: string;
  /** Its bridge drivers (empty without a config, or when it has none). */
  boards: ConfiguredBoard[];
  /** --keys, resolved; wins over the config. */
  keysFlag?: string;
  /** Where a keys file comes from when neither --keys nor a bridge driver names one. */
  fallbackKeysFile: string;
  /** Lines for stderr: which config was (not) read and what to do about it. */
  notes: string[];
}

export interface SettingsInput {
  config?: string;
  keys?: string;
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Where to look for a config when --config is not given (tests); default as `xiota run`. */
  configSearch?: string[];
}

/** What the CLI used before it read the config: systemd's state directory, else the driver's default. */
function fallbackKeysFile(env: NodeJS.ProcessEnv): string {
  return env.STATE_DIRECTORY ? join(env.STATE_DIRECTORY.split(':')[0], 'bridge-keys.json') : DEFAULT_KEYS_FILE;
}

/** Reads the config (when there is one) for its bridge drivers. Throws XIOTA_E_CONFIG with what to do. */
export function bridgeSettings(i: SettingsInput): BridgeSettings {
  const cwd = i.cwd ?? process.cwd();
  const search = i.configSearch ?? defaultConfigPaths(cwd);
  const keysFlag = i.keys !== undefined ? resolve(cwd, i.keys) : undefined;
  const out: BridgeSettings = { boards: [], fallbackKeysFile: fallbackKeysFile(i.env), notes: [] };
  if (keysFlag !== undefined) out.keysFlag = keysFlag;
  const path = i.config !== undefined ? resolve(cwd, i.config) : search.find((p) => existsSync(p));
  if (path === undefined) {
    if (!keysFlag) out.notes.push(`no config file found (looked for ${search.join(', ')}): using ${out.fallbackKeysFile}, the bridge driver's default; give the agent's config with --config FILE, or a keys file with --keys FILE`);
    return out;
  }
  if (!existsSync(path)) {
    if (keysFlag) { out.notes.push(`config ${path} does not exist; using --keys ${keysFlag} alone`); return out; }
    throw new XiotaError('XIOTA_E_CONFIG', `config ${path} (--config) does not exist: give the agent's config file (the one \`xiota run --config\` reads), or the keys file with --keys FILE`, { path });
  }
  // No file checks: a password file readable only by the daemon must not stop pairing.
  const r = loadConfig(path, { env: i.env, checkFiles: false });
  if (!r.config) {
    const issues = formatIssues(path, r.errors, 'error');
    if (keysFlag) { out.notes.push(`config ${path} not read (${r.errors.length} problem(s), \`xiota check --config ${path}\` lists them); using --keys ${keysFlag} alone`); return out; }
    throw new XiotaError('XIOTA_E_CONFIG', `${issues}\nconfig ${path} has ${r.errors.length} problem(s): fix them (xiota check --config ${path}), or give the keys file with --keys FILE`, { path });
  }
  out.configPath = path;
  for (const d of r.config.drivers) {
    if (d.kind !== 'bridge') continue;
    out.boards.push({ driver: d.id, board: d.options.board, keysFile: keysFileOf(d.options), pairing: d.options.pairing ?? 'preshared' });
  }
  if (!out.boards.length && !keysFlag) {
    out.notes.push(`config ${path} has no bridge driver: using ${out.fallbackKeysFile}, the bridge driver's default; add a driver (drivers: - { id: ID, kind: bridge, options: { path: /dev/ttyUSB0, board: BOARD_ID } }) or give --keys FILE`);
  }
  return out;
}

/** The keys file for one board: --keys, else its driver's, else the one all bridge drivers share. */
export function keysFileForBoard(s: BridgeSettings, board: string): { keysFile: string; driver?: ConfiguredBoard; note?: string } {
  const driver = s.boards.find((b) => b.board === board);
  if (s.keysFlag !== undefined) {
    const note = driver && driver.keysFile !== s.keysFlag ? `warning: driver "${driver.driver}" in ${s.configPath} reads board "${board}"'s key from ${driver.keysFile}, not from --keys ${s.keysFlag}` : undefined;
    return { keysFile: s.keysFlag, ...(driver ? { driver } : {}), ...(note ? { note } : {}) };
  }
  if (driver) return { keysFile: driver.keysFile, driver };
  const files = [...new Set(s.boards.map((b) => b.keysFile))];
  if (files.length > 1) {
    throw new XiotaError('XIOTA_E_CONFIG', `no bridge driver in ${s.configPath} has board: ${board}, and its bridge drivers use different keys files (${files.join(', ')}): add a driver with board: ${board}, or give --keys FILE`, { board });
  }
  const keysFile = files[0] ?? s.fallbackKeysFile;
  const note = s.configPath && s.boards.length ? `warning: no bridge driver in ${s.configPath} has board: ${board}; add one (options: { path: ..., board: ${board} }) for the agent to use it` : undefined;
  return { keysFile, ...(note ? { note } : {}) };
}

/** Every keys file to list or look through: --keys, else the drivers' (each once), else the fallback. */
export function allKeysFiles(s: BridgeSettings): string[] {
  if (s.keysFlag !== undefined) return [s.keysFlag];
  const files = [...new Set(s.boards.map((b) => b.keysFile))];
  return files.length ? files : [s.fallbackKeysFile];
}

/** The line that says where the keys come from (stderr, so `xiota bridge list` stays a list); '' when a note said it. */
export function usingLine(s: BridgeSettings, keysFiles: string[], driver?: ConfiguredBoard): string {
  const files = keysFiles.join(', ');
  if (s.keysFlag !== undefined) return `xiota bridge: keys file ${files} (--keys)${s.configPath ? `; config ${s.configPath}` : ''}`;
  if (driver) return `xiota bridge: config ${s.configPath}, driver "${driver.driver}" (board ${driver.board}): keys file ${files}`;
  if (s.configPath && s.boards.length) return `xiota bridge: config ${s.configPath} (bridge drivers ${s.boards.map((b) => `"${b.driver}"`).join(', ')}): keys file${keysFiles.length > 1 ? 's' : ''} ${files}`;
  // Without a config (or a bridge driver in it) the note before this line named the file already.
  return s.notes.length ? '' : `xiota bridge: keys file ${files}`;
}
