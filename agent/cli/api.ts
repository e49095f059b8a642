// `xiota status`, `xiota set thing.field value`, `xiota read --follow [thing[.field]]` and
// `xiota read` while a daemon runs: clients of the running daemon's local API socket
// (agent/api/PROTOCOL.md). The socket is --socket, else api.socket of the config, else where the
// daemon puts it by default (agent/api/paths.ts).
import { existsSync } from 'node:fs';
import { parseArgs as nodeParseArgs } from 'node:util';
import type { FieldSpec, Reading, ThingSpec } from '../../drivers/types';
import { coerceValue } from '../../drivers/values';
import { ApiSocketClient, type ApiClientHandlers } from '../api/client';
import { clientSocketCandidates, pickClientSocket } from '../api/paths';
import { RpcError } from '../api/jsonrpc';
import { defaultConfigPaths, loadConfig, type Config } from '../config';
import { XiotaError } from '../errors';

/** A set may wait 10 s for a flow, a fresh read for a slow driver: longer than both. */
const CALL_MS = 20_000;

interface Io { out: (s: string) => void; err: (s: string) => void; env: NodeJS.ProcessEnv }

interface ThingInfo extends ThingSpec { online: boolean; source: string; driver: string }

export const API_USAGE = `  status       the running daemon's session, outbox, drivers and things (local API)
  read --follow [THING[.FIELD]]  print readings from the running daemon as they come (Ctrl-C ends)
  set THING.FIELD VALUE  set a writable field through the running daemon`;

function socketFor(flags: { socket?: string; config?: string }, env: NodeJS.ProcessEnv): string {
  if (flags.socket) return flags.socket;
  let config: Config | undefined;
  const path = flags.config ?? defaultConfigPaths().find((p) => existsSync(p));
  if (path) {
    // Only to find the socket: a config this user may not read is no error here.
    try { config = loadConfig(path, { env, checkFiles: false }).config; } catch { config = undefined; }
  }
  return pickClientSocket(clientSocketCandidates(config, env));
}

function split(target: string): { thing: string; field?: string } {
  const dot = target.lastIndexOf('.');
  return dot > 0 ? { thing: target.slice(0, dot), field: target.slice(dot + 1) } : { thing: target };
}

function valueText(v: { value?: unknown; error?: string; unit?: string }): string {
  if (v.error !== undefined) return `error: ${v.error}`;
  return `${String(v.value)}${v.unit ? ' ' + v.unit : ''}`;
}

function ago(s: number): string {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

interface Status {
  jid: string; resource: string; online: boolean; session: { state: string; sm: string | null; tls: string | null };
  uptime_s: number; outbox: { queued: number }; things: number; drivers: { id: string; kind: string; state: string }[];
  api?: { clients: number };
}

export function formatStatus(s: Status): string {
  const rows: [string, string][] = [
    ['jid', s.resource ? `${s.jid}/${s.resource}` : s.jid],
    ['session', `${s.session.state}${s.session.sm ? `, stream management ${s.session.sm}` : ''}${s.session.tls ? `, ${s.session.tls}` : ''}`],
    ['uptime', ago(s.uptime_s)],
    ['outbox', `${s.outbox.queued} reading(s) waiting for the server`],
    ['things', String(s.things)],
    ['drivers', s.drivers.map((d) => `${d.id} (${d.kind}) ${d.state}`).join(', ') || 'none'],
  ];
  if (s.api) rows.push(['clients', `${s.api.clients} on the local API`]);
  return rows.map(([k, v]) => `${k.padEnd(8)} ${v}`).join('\n');
}

async function connect(path: string, io: Io, h: ApiClientHandlers = {}): Promise<ApiSocketClient | undefined> {
  try {
    return await ApiSocketClient.connect(path, h);
  } catch (e) {
    io.err(`xiota: ${(e as Error).message}`);
    return undefined;
  }
}

function rpcMessage(e: unknown): string {
  if (e instanceof RpcError) return `${e.message} (error ${e.code})`;
  return (e as Error).message;
}

export async function apiMain(argv: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = nodeParseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        socket: { type: 'string' }, config: { type: 'string', short: 'c' }, follow: { type: 'boolean', short: 'f' }, json: { type: 'boolean' },
      },
    });
  } catch (e) {
    io.err(`xiota: ${(e as Error).message}\n\n${API_USAGE}\n      --socket PATH   the daemon's API socket`);
    return 2;
  }
  const [command, ...rest] = parsed.positionals;
  const flags = parsed.values;
  const path = socketFor(flags, io.env);
  if (command === 'status') {
    if (rest.length) { io.err(`xiota: status takes no argument (got ${rest.join(' ')})`); return 2; }
    const c = await connect(path, io);
    if (!c) return 1;
    try {
      const s = await c.call<Status>('agent.status', undefined, CALL_MS);
      io.out(flags.json ? JSON.stringify(s, null, 2) : formatStatus(s));
      return 0;
    } catch (e) { io.err(`xiota: ${rpcMessage(e)}`); return 1; } finally { c.close(); }
  }
  if (command === 'set') {
    if (rest.length !== 2 || !rest[0]!.includes('.')) { io.err('xiota: usage: xiota set THING.FIELD VALUE (for example: xiota set greenhouse.fan on)'); return 2; }
    const { thing, field } = split(rest[0]!);
    const c = await connect(path, io);
    if (!c) return 1;
    try {
      const things = await c.call<ThingInfo[]>('things.list', undefined, CALL_MS);
      const t = things.find((x) => x.id === thing);
      if (!t) { io.err(`xiota: no thing "${thing}"; the daemon has ${things.map((x) => x.id).join(', ') || 'none'}`); return 2; }
      const f: FieldSpec | undefined = t.fields.find((x) => x.name === field);
      if (!f) { io.err(`xiota: thing "${thing}" has no field "${field}"; it has ${t.fields.map((x) => x.name).join(', ')}`); return 2; }
      if (!f.writable) { io.err(`xiota: ${thing}.${field} is read-only; writable fields: ${things.flatMap((x) => x.fields.filter((y) => y.writable).map((y) => `${x.id}.${y.name}`)).join(', ') || 'none'}`); return 2; }
      const v = coerceValue(rest[1]!, f);
      if (!v.ok) { io.err(`xiota: ${thing}.${field}: ${v.error}${f.values ? ` (one of ${f.values.join(', ')})` : ''}`); return 2; }
      await c.call('set', { thing, field, value: v.value }, CALL_MS);
      io.out(`${thing}.${field} = ${String(v.value)}${f.unit ? ' ' + f.unit : ''}`);
      return 0;
    } catch (e) { io.err(`xiota: ${rpcMessage(e)}`); return 1; } finally { c.close(); }
  }
  if (command === 'read' && flags.follow) {
    if (rest.length > 1) { io.err('xiota: usage: xiota read --follow [THING[.FIELD]]'); return 2; }
    const target = rest[0] ? split(rest[0]) : undefined;
    let closed!: () => void;
    const done = new Promise<void>((r) => { closed = r; });
    const lines = (method: string, p: Record<string, unknown>) => {
      if (flags.json) { io.out(JSON.stringify({ method, params: p })); return; }
      if (method === 'reading') {
        const ts = new Date(p.timestamp as number).toISOString();
        for (const v of p.values as { field: string; value?: unknown; error?: string; unit?: string }[]) io.out(`${ts}  ${String(p.thing)}.${v.field}  ${valueText(v)}`);
      } else if (method === 'dropped') io.err(`xiota: ${String(p.count)} reading(s) were dropped (this terminal did not keep up)`);
      else if (method === 'session') io.err(`xiota: the daemon's XMPP session is ${p.online ? 'online' : 'offline'}`);
    };
    const f = await connect(path, io, { notification: lines, close: () => closed() });
    if (!f) return 1;
    // An unknown thing or field: name what the daemon has (the API's sentence speaks of things.list).
    const why = async (e: unknown): Promise<string> => {
      if (!(e instanceof RpcError && e.code === -32002)) return rpcMessage(e);
      const things = await f.call<ThingInfo[]>('things.list', undefined, CALL_MS).catch((): ThingInfo[] => []);
      return `no thing or field "${rest[0]!}"; the daemon has ${things.map((x) => x.id).join(', ') || 'none'} (xiota read shows their fields)`;
    };
    try {
      await f.call('subscribe', target ? { thing: target.thing, ...(target.field ? { field: target.field } : {}) } : {});
    } catch (e) {
      // `thing.field` may be a thing id with a dot: try it whole.
      if (target?.field && e instanceof RpcError && e.code === -32002) {
        try { await f.call('subscribe', { thing: rest[0] }); } catch (e2) { io.err(`xiota: ${await why(e2)}`); f.close(); return 2; }
      } else { io.err(`xiota: ${await why(e)}`); f.close(); return 2; }
    }
    const stop = () => f.close();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    await done;
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    return 0;
  }
  if (command === 'read') {
    // `xiota read --socket PATH`: the daemon's readings, sampled now.
    if (rest.length) { io.err('xiota: usage: xiota read [--follow [THING[.FIELD]]] [--socket PATH]'); return 2; }
    try {
      const d = await daemonRead(io, flags);
      if (!d) return 1;
      const { formatReadings } = require('./table') as typeof import('./table');
      io.out(flags.json ? JSON.stringify(d.readings, null, 2) : formatReadings(d.readings, d.things));
      return 0;
    } catch (e) { io.err(`xiota: ${(e as Error).message}`); return 1; }
  }
  io.err(`xiota: unknown command ${command ?? ''}\n\n${API_USAGE}`);
  return 2;
}

/**
 * `xiota read` while a daemon runs: its readings (sampled now) instead of opening the drivers a
 * second time (a serial port is the daemon's). Undefined when no daemon answers on the socket.
 */
export async function daemonRead(io: Io, flags: { socket?: string; config?: string }): Promise<{ readings: Reading[]; things: ThingSpec[] } | undefined> {
  const path = socketFor(flags, io.env);
  if (!flags.socket && !existsSync(path)) return undefined;
  let c: ApiSocketClient;
  try {
    c = await ApiSocketClient.connect(path);
  } catch (e) {
    if (flags.socket) throw e;
    return undefined;
  }
  try {
    const things = await c.call<ThingSpec[]>('things.list', undefined, CALL_MS);
    const readings = await c.call<Reading[]>('read', { fresh: true }, CALL_MS);
    return { readings, things };
  } catch (e) {
    throw new XiotaError('XIOTA_E_CONNECT', `the daemon on ${path} refused the read: ${rpcMessage(e)}`);
  } finally {
    c.close();
  }
}
