// The chat interface's grammar: one plain-text message body -> one typed command, or an error
// that says what to type instead. Pure: no JIDs, no things; names are resolved later against
// the device's things (agent/chat/fields.ts).
//
// Conventions (shared/any-client.md 2 and 6): the first word is case-insensitive (phones
// capitalise it), an optional leading `!` is dropped, `/` is never ours (clients eat it).
// Shortcuts from the IoT chat proto-XEP and IoTGateway: `#` help, `?` status, `x?` read x,
// `x:=v` and `x=v` set x to v.

/** Bodies longer than this (UTF-8 bytes) are answered "too long" without being parsed. */
export const MAX_BODY_BYTES = 4096;
/** The most history rows one answer gives. */
export const MAX_HISTORY_COUNT = 100;
export const DEFAULT_HISTORY_COUNT = 10;
/** The longest history window asked for (30 days). */
export const MAX_HISTORY_MS = 30 * 24 * 3600_000;
/** Longest thing.field path or JID accepted. */
const MAX_NAME = 200;

export type GrantRole = 'reader' | 'controller';

export type Command =
  | { name: 'help'; topic?: string }
  | { name: 'status' }
  | { name: 'read'; target?: string }
  | { name: 'set'; target: string; value: string }
  | { name: 'history'; target: string; count?: number; durationMs?: number }
  | { name: 'alerts'; on?: boolean }
  | { name: 'ping' }
  | { name: 'allow'; jid: string; role: GrantRole }
  | { name: 'deny'; jid: string }
  | { name: 'revoke'; jid: string }
  | { name: 'who' }
  | { name: 'bridge'; verb: 'pending' | 'approve' | 'deny'; board?: string };

export type CommandName = Command['name'];

export type Parsed =
  | { ok: true; command: Command }
  /** `unknown`: the first word is no command (the caller answers with a short help). */
  | { ok: false; error: string; unknown?: string };

/** Each command once: its words, what it needs (agent/access.ts actions), how to type it. */
export interface CommandInfo {
  name: CommandName;
  words: string[];
  action: 'read' | 'control' | 'alerts' | 'admin';
  usage: string;
  summary: string;
}

export const COMMANDS: readonly CommandInfo[] = [
  { name: 'help', words: ['help', '#', '##'], action: 'read', usage: 'help [command]', summary: 'what you can type (also #)' },
  { name: 'status', words: ['status', '?', '??'], action: 'read', usage: 'status', summary: 'every value, with its age (also ?)' },
  { name: 'read', words: ['read', 'get'], action: 'read', usage: 'read [thing|thing.field]', summary: 'read now (also thing.field?)' },
  { name: 'set', words: ['set'], action: 'control', usage: 'set thing.field value', summary: 'switch or adjust (also field:=value)' },
  { name: 'history', words: ['history'], action: 'read', usage: 'history thing.field [count|10m|2h|1d]', summary: 'recent values' },
  { name: 'ping', words: ['ping'], action: 'read', usage: 'ping', summary: 'is the device there' },
  { name: 'alerts', words: ['alerts'], action: 'alerts', usage: 'alerts [on|off]', summary: 'alert messages to you' },
  { name: 'allow', words: ['allow'], action: 'admin', usage: 'allow JID [reader|controller]', summary: 'let someone read (or control)' },
  { name: 'deny', words: ['deny'], action: 'admin', usage: 'deny JID', summary: 'refuse someone' },
  { name: 'revoke', words: ['revoke'], action: 'admin', usage: 'revoke JID', summary: 'take back an allow or deny' },
  { name: 'who', words: ['who'], action: 'admin', usage: 'who', summary: 'who may do what, who asked' },
  { name: 'bridge', words: ['bridge'], action: 'admin', usage: 'bridge pending|approve BOARD|deny BOARD', summary: 'boards asking to pair (firmware bridge)' },
];

const BY_WORD = new Map<string, CommandInfo>(COMMANDS.flatMap((c) => c.words.map((w) => [w, c] as const)));

export function commandInfo(name: CommandName): CommandInfo {
  return COMMANDS.find((c) => c.name === name)!;
}

// C0/C1 controls, zero-width and bidi marks, BOM: junk a keyboard or a paste adds, never meaning.
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u001F\u007F-\u009F\u200B-\u200F\u202A-\u202E\u2060-\u2064\uFEFF]/g;
/** A thing.field path: thing ids are letters, digits, `.`, `_`, `-` (drivers-schema ID_RE). */
const PATH = /^[\p{L}\p{N}_][\p{L}\p{N}._-]*$/u;
/** `path:=value` / `path=value` / `path = value` (IoT chat, IoTGateway). */
const ASSIGN = /^([\p{L}\p{N}_][\p{L}\p{N}._-]*)\s*:?=\s*(.*)$/u;
const JID = /^[^\s@/"&'<>:]+@[^\s@/"&'<>]+$/;
const DURATION = /^(\d{1,6})\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days)$/i;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };

/** The text a command is read from: invisible characters gone, whitespace collapsed, NFC. */
export function normalize(body: string): string {
  return body.normalize('NFC').replace(INVISIBLE, ' ').replace(/\s+/g, ' ').trim();
}

/** A name as shown back in an error: short, printable. */
export function shown(s: string): string {
  const t = normalize(s);
  return t.length > 24 ? `${t.slice(0, 24)}…` : t;
}

const fail = (error: string, unknown?: string): Parsed => (unknown !== undefined ? { ok: false, error, unknown } : { ok: false, error });
const ok = (command: Command): Parsed => ({ ok: true, command });
const usage = (name: CommandName) => `type \`${commandInfo(name).usage}\``;

function isPath(s: string): boolean {
  return s.length <= MAX_NAME && PATH.test(s);
}

/** `10`, `10m`, `2 h`, `1d` -> count or duration; an error text otherwise. */
export function parseHistoryWindow(s: string): { count: number } | { durationMs: number } | string {
  const t = s.trim();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n < 1 || n > MAX_HISTORY_COUNT) return `the count must be 1 to ${MAX_HISTORY_COUNT}, not ${shown(t)}`;
    return { count: n };
  }
  const m = DURATION.exec(t);
  if (!m) return `\`${shown(t)}\` is neither a count nor a duration: type a number (10) or a time like 30s, 10m, 2h, 1d`;
  const ms = Number(m[1]) * UNIT_MS[m[2]!.toLowerCase()[0]!]!;
  if (ms < 1000 || ms > MAX_HISTORY_MS) return `the duration must be 1 s to 30 d, not ${shown(t)}`;
  return { durationMs: ms };
}

function parseOnOff(s: string): boolean | undefined {
  const w = s.toLowerCase();
  if (['on', 'yes', 'true', '1', 'enable'].includes(w)) return true;
  if (['off', 'no', 'false', '0', 'disable'].includes(w)) return false;
  return undefined;
}

function parseJidArg(name: CommandName, arg: string | undefined): string | Parsed {
  if (!arg) return fail(`${name} needs a JID: ${usage(name)}, e.g. \`${name} bob@example.org\``);
  const slash = arg.indexOf('/');
  const bare = (slash >= 0 ? arg.slice(0, slash) : arg).toLowerCase();
  if (bare.length > MAX_NAME || !JID.test(bare)) return fail(`\`${shown(arg)}\` is not a JID like bob@example.org: ${usage(name)}`);
  return bare;
}

/** Parses one message body. Never throws. */
export function parseCommand(body: string): Parsed {
  if (Buffer.byteLength(body, 'utf8') > MAX_BODY_BYTES) return fail(`that message is too long (over ${MAX_BODY_BYTES} bytes); commands are short: type \`help\``);
  let text = normalize(body);
  if (text.startsWith('/')) return fail('commands have no leading /: type `help` (or `!help`)');
  if (text.startsWith('!')) text = text.slice(1).trim();
  if (!text) return fail('an empty command: type `help` to see what you can ask');

  // Symbol shortcuts first: `#`, `?`, `thing.field?`, `field:=value`, `thing.field=value`.
  const word0 = text.split(' ', 1)[0]!;
  const info0 = BY_WORD.get(word0.toLowerCase());
  if (!info0) {
    if (text.endsWith('?')) {
      const target = text.slice(0, -1).trim();
      if (isPath(target)) return ok({ name: 'read', target });
    }
    const a = ASSIGN.exec(text);
    if (a) {
      const value = a[2]!.trim();
      if (!value) return fail(`no value after \`=\`: type \`${a[1]}:=VALUE\`, e.g. \`fan:=on\``);
      return ok({ name: 'set', target: a[1]!, value });
    }
    return fail(`I don't know \`${shown(word0)}\``, word0);
  }

  const rest = text.slice(word0.length).trim();
  const args = rest ? rest.split(' ') : [];
  switch (info0.name) {
    case 'help':
      if (args.length > 1) return fail(`help takes one command name: ${usage('help')}`);
      return ok(args[0] ? { name: 'help', topic: args[0].toLowerCase().replace(/^!/, '') } : { name: 'help' });
    case 'status':
      // `status greenhouse` is what people type for `read greenhouse`.
      if (args.length === 1 && isPath(args[0]!)) return ok({ name: 'read', target: args[0]! });
      if (args.length) return fail(`status takes no arguments: type \`status\`, or \`read thing.field\``);
      return ok({ name: 'status' });
    case 'read':
      if (args.length === 0) return ok({ name: 'read' });
      if (args.length === 1 && isPath(args[0]!.replace(/\?$/, ''))) return ok({ name: 'read', target: args[0]!.replace(/\?$/, '') });
      return fail(`read takes one name: ${usage('read')}, e.g. \`read greenhouse.temperature\``);
    case 'set': {
      // set thing.field value | set thing.field=value | set thing.field := value | set thing.field to value
      const a = ASSIGN.exec(rest);
      let target: string | undefined;
      let value: string | undefined;
      if (a) [target, value] = [a[1]!, a[2]!.trim()];
      else if (args.length >= 2) {
        target = args[0]!;
        value = (args[1]!.toLowerCase() === 'to' && args.length > 2 ? args.slice(2) : args.slice(1)).join(' ');
      }
      if (!target || !isPath(target) || !value) return fail(`set needs a field and a value: ${usage('set')}, e.g. \`set greenhouse.fan on\``);
      return ok({ name: 'set', target, value });
    }
    case 'history': {
      const target = args[0];
      if (!target || !isPath(target)) return fail(`history needs a field: ${usage('history')}, e.g. \`history greenhouse.temperature 1h\``);
      if (args.length === 1) return ok({ name: 'history', target, count: DEFAULT_HISTORY_COUNT });
      const w = parseHistoryWindow(args.slice(1).join(' '));
      if (typeof w === 'string') return fail(`${w} (${usage('history')})`);
      return ok({ name: 'history', target, ...w });
    }
    case 'alerts': {
      if (args.length === 0) return ok({ name: 'alerts' });
      const on = args.length === 1 ? parseOnOff(args[0]!) : undefined;
      if (on === undefined) return fail(`alerts takes on or off: ${usage('alerts')}`);
      return ok({ name: 'alerts', on });
    }
    case 'ping':
      return ok({ name: 'ping' });
    case 'allow': {
      const jid = parseJidArg('allow', args[0]);
      if (typeof jid !== 'string') return jid;
      if (args.length > 2) return fail(`allow takes a JID and a role: ${usage('allow')}`);
      const r = (args[1] ?? 'reader').toLowerCase();
      if (r === 'owner' || r === 'owners') return fail('owners are set in the config file (access.owners), not by chat: type `allow JID controller` for the most a chat can grant');
      const role: GrantRole | undefined = r === 'reader' || r === 'read' ? 'reader' : r === 'controller' || r === 'control' ? 'controller' : undefined;
      if (!role) return fail(`\`${shown(args[1]!)}\` is no role: ${usage('allow')}`);
      return ok({ name: 'allow', jid, role });
    }
    case 'deny':
    case 'revoke': {
      const name = info0.name;
      const jid = parseJidArg(name, args[0]);
      if (typeof jid !== 'string') return jid;
      if (args.length > 1) return fail(`${name} takes one JID: ${usage(name)}`);
      return ok({ name, jid });
    }
    case 'who':
      return ok({ name: 'who' });
    case 'bridge': {
      const verb = (args[0] ?? 'pending').toLowerCase();
      if (verb === 'pending' && args.length <= 1) return ok({ name: 'bridge', verb });
      if ((verb === 'approve' || verb === 'deny') && args.length === 2) return ok({ name: 'bridge', verb, board: args[1]! });
      return fail(`bridge takes pending, or approve or deny and a board id: ${usage('bridge')}`);
    }
  }
}
