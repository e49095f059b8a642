// Command-line arguments of `xiota`. Flags override the config file for quick use, and are
// enough on their own: `xiota check --jid a@b --server 127.0.0.1:5222 --ca ca.pem` with the
// password in XIOTA_PASSWORD needs no file. Overrides are applied to the YAML-shaped object
// before it is checked, so a bad flag is reported like a bad key, naming the flag.
import { parseArgs as nodeParseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { XiotaError } from '../errors';

export const COMMANDS = ['init', 'check', 'read', 'run', 'help', 'version'] as const;
export type Command = (typeof COMMANDS)[number];

export interface CliFlags {
  config?: string;
  jid?: string;
  /** host, host:port or [v6]:port */
  server?: string;
  ca?: string;
  directTls?: boolean;
  passwordFile?: string;
  logLevel?: string;
  json?: boolean;
  help?: boolean;
  version?: boolean;
}

export interface ParsedArgs {
  command: Command;
  /** The config file to read (or, for init, to write); undefined when none was found. */
  configPath?: string;
  flags: CliFlags;
  /** Arguments after the command: always empty today (an unexpected one is an error). */
  positionals: string[];
}

export const USAGE = `Usage: xiota <command> [options]

Commands:
  init [FILE]  write a commented starter config (to FILE or --config, default ./xiota.yaml)
  check        check the config, then connect and log in once
  read         print the readings now: from the running daemon when one answers, else by sampling every driver once
  run          run the agent (what the systemd unit starts)
  status       the running daemon's session, outbox and drivers (through its local API socket)
  read --follow [THING[.FIELD]]  readings from the running daemon as they come (Ctrl-C ends)
  set THING.FIELD VALUE  set a writable field through the running daemon
  bridge pair|list|pending|approve|deny  microcontroller boards of the bridge driver: keys and pairing (xiota bridge --help)
  claim        print the iotdisco: URI and QR code to claim the device in a Thing Registry (XEP-0347)
  logout       invalidate the device's FAST login token on the server and remove it here (XEP-0484; stop the agent first)
  help         show this text
  version      print the version

Options:
  -c, --config FILE         config file (default ./xiota.yaml if present, else /etc/xiota/xiota.yaml)
      --jid JID             account JID (overrides account.jid)
      --server HOST[:PORT]  server address, skipping the SRV lookup (server.host / server.port)
      --ca FILE             CA certificate file to trust (tls.ca_file)
      --direct-tls          TLS from the first byte, XEP-0368 (server.direct_tls)
      --password-file FILE  file holding the password (account.password_file)
      --log-level LEVEL     debug, info, warn or error (log.level)
      --json                JSON output and JSON log lines (log.format: json)
      --socket PATH         the daemon's API socket (status, read, set; default: api.socket, /run/xiota/api.sock)
  -h, --help                show this text
  -V, --version             print the version

Environment:
  XIOTA_PASSWORD            the account password, used unless --password-file is given`;

export interface ParseArgsOptions {
  cwd?: string;
  /** Injected for tests; default fs.existsSync. */
  exists?: (path: string) => boolean;
}

/** The default config locations, in order. */
export function defaultConfigPaths(cwd = process.cwd()): string[] {
  return [resolve(cwd, 'xiota.yaml'), '/etc/xiota/xiota.yaml'];
}

/** Parse argv (without node and the script). Throws XIOTA_E_CONFIG with the usage on bad input. */
export function parseArgs(argv: readonly string[], opts: ParseArgsOptions = {}): ParsedArgs {
  let parsed;
  try {
    parsed = nodeParseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        jid: { type: 'string' },
        server: { type: 'string' },
        ca: { type: 'string' },
        'direct-tls': { type: 'boolean' },
        'password-file': { type: 'string' },
        'log-level': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    });
  } catch (e) {
    // node's messages name the flag ("Unknown option '--jdi'"); add what to do.
    throw new XiotaError('XIOTA_E_CONFIG', `${(e as Error).message.split('. ')[0]}\n\n${USAGE}`, { argv: [...argv] });
  }
  const v = parsed.values;
  const flags: CliFlags = {};
  if (v.config !== undefined) flags.config = v.config;
  if (v.jid !== undefined) flags.jid = v.jid;
  if (v.server !== undefined) flags.server = v.server;
  if (v.ca !== undefined) flags.ca = v.ca;
  if (v['direct-tls']) flags.directTls = true;
  if (v['password-file'] !== undefined) flags.passwordFile = v['password-file'];
  if (v['log-level'] !== undefined) flags.logLevel = v['log-level'];
  if (v.json) flags.json = true;
  if (v.help) flags.help = true;
  if (v.version) flags.version = true;

  const [first, ...positionals] = parsed.positionals;
  let command: Command;
  if (flags.help) command = 'help';
  else if (flags.version) command = 'version';
  else if (first === undefined) command = 'help';
  else if ((COMMANDS as readonly string[]).includes(first)) command = first as Command;
  else throw new XiotaError('XIOTA_E_CONFIG', `unknown command "${first}"\n\n${USAGE}`, { command: first });

  const cwd = opts.cwd ?? process.cwd();
  const exists = opts.exists ?? existsSync;
  // `xiota init PATH` means `xiota init --config PATH`; any other argument is a mistake
  // (before, `xiota init /etc/xiota/x.yaml` silently wrote ./xiota.yaml).
  if (command === 'init' && positionals.length === 1 && flags.config === undefined) flags.config = positionals.shift()!;
  if (positionals.length) {
    const what = positionals.map((p) => `"${p}"`).join(' ');
    const hint = command === 'init' ? `give one path: xiota init PATH, or xiota init --config PATH`
      : command === 'read' ? `xiota read prints every thing; one thing or field, as it changes: xiota read --follow THING[.FIELD]; the config file: --config FILE`
      : `give the config file with --config FILE`;
    throw new XiotaError('XIOTA_E_CONFIG', `unexpected argument ${what} after "${command}": ${hint}\n\n${USAGE}`, { argv: [...argv] });
  }
  let configPath: string | undefined;
  if (flags.config !== undefined) configPath = resolve(cwd, flags.config);
  else if (command === 'init') configPath = resolve(cwd, 'xiota.yaml');
  else configPath = defaultConfigPaths(cwd).find((p) => exists(p));
  const out: ParsedArgs = { command, flags, positionals };
  if (configPath !== undefined) out.configPath = configPath;
  return out;
}

/** Which flag or variable set a config path, so its issues name it instead of a line. */
export interface OverrideSource { flag: string }

type Raw = Record<string, unknown>;

/**
 * Apply flags and XIOTA_PASSWORD to a YAML-shaped (snake_case) config object, returning a new
 * object and which paths the flags set. Precedence: flags > environment > file.
 */
export function applyOverrides(raw: unknown, flags: CliFlags, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): { raw: Raw; sources: Map<string, OverrideSource> } {
  const out: Raw = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? structuredClone(raw as Raw) : {};
  const sources = new Map<string, OverrideSource>();
  const set = (section: string, key: string, value: unknown, flag: string) => {
    const cur = out[section];
    const sec: Raw = cur !== null && typeof cur === 'object' && !Array.isArray(cur) ? (cur as Raw) : {};
    sec[key] = value;
    out[section] = sec;
    sources.set(`${section}.${key}`, { flag });
  };
  const drop = (section: string, keys: string[]) => {
    const sec = out[section];
    if (sec !== null && typeof sec === 'object' && !Array.isArray(sec)) for (const k of keys) delete (sec as Raw)[k];
  };

  if (flags.jid !== undefined) set('account', 'jid', flags.jid, '--jid');
  if (flags.server !== undefined) {
    const { host, port } = splitHostPort(flags.server);
    set('server', 'host', host, '--server');
    if (port !== undefined) set('server', 'port', port, '--server');
    else drop('server', ['port']);
  }
  if (flags.ca !== undefined) set('tls', 'ca_file', resolve(cwd, flags.ca), '--ca');
  if (flags.directTls) set('server', 'direct_tls', true, '--direct-tls');
  if (flags.passwordFile !== undefined) {
    drop('account', ['password', 'password_env']);
    set('account', 'password_file', resolve(cwd, flags.passwordFile), '--password-file');
  } else if (env.XIOTA_PASSWORD !== undefined && env.XIOTA_PASSWORD !== '') {
    drop('account', ['password', 'password_file']);
    set('account', 'password_env', 'XIOTA_PASSWORD', 'XIOTA_PASSWORD');
  }
  if (flags.logLevel !== undefined) set('log', 'level', flags.logLevel, '--log-level');
  if (flags.json) set('log', 'format', 'json', '--json');
  return { raw: out, sources };
}

/** `host`, `host:5222`, `[::1]:5222`, `::1` (a bare IPv6 address has no port). */
export function splitHostPort(s: string): { host: string; port?: number | string } {
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(s);
  if (v6) return v6[2] !== undefined ? { host: v6[1], port: portOf(v6[2]) } : { host: v6[1] };
  const parts = s.split(':');
  if (parts.length === 2) return { host: parts[0], port: portOf(parts[1]) };
  return { host: s };
}

// A non-numeric port stays a string so the schema reports it, naming --server.
function portOf(p: string): number | string {
  return /^\d+$/.test(p) ? Number(p) : p;
}
