// The XMPP servers the integration tests run against, behind one shape: Prosody 0.12 and
// ejabberd 23.01 from Debian 12, Prosody 13 and ejabberd 24.12 from bookworm-backports
// (scripts/install-servers.sh). A test asks for serverUnderTest() (env XIOTA_SERVER, set by
// the matrix runner in test/run.ts) and starts it with startServer().
import { randomBytes } from 'node:crypto';
import { XmppClient } from '../agent/session/client';
import { startEjabberd, type EjabberdOptions, type EjabberdVersion } from './local-ejabberd';
import { startProsody, type ProsodyOptions, type ProsodyVersion } from './local-prosody';
import type { LocalServer } from './local-server';

export const SERVER_KINDS = ['prosody-0.12', 'ejabberd-23.01', 'prosody-13', 'ejabberd-24.12'] as const;
export type ServerLabel = (typeof SERVER_KINDS)[number];
export type ServerKind = 'prosody' | 'ejabberd';

/** What every local server offers (LocalServer), with its kind, version and label. */
export interface XmppServer extends LocalServer {
  readonly kind: ServerKind;
  readonly version: string;
  /** 'prosody-0.12', 'ejabberd-24.12', ... */
  readonly label: ServerLabel;
}

export interface ServerOptions {
  /** Virtual host (default 'xiota.test'). */
  host?: string;
  dir?: string;
  users?: { user: string; password: string }[];
  /** Seconds a dropped XEP-0198 session may be resumed (Prosody smacks_hibernation_time, ejabberd resume_timeout). */
  smResumeTimeoutS?: number;
  /** PEP item limit per node (Prosody pep_max_items, ejabberd mod_pubsub max_items_node). */
  pepMaxItems?: number;
  /** The SCRAM hash accounts are stored with: SHA-1 offers SCRAM-SHA-1, SHA-256 SCRAM-SHA-256 (default SHA-1). */
  passwordHash?: 'SHA-1' | 'SHA-256';
  /** Long streams of publishes: ejabberd's stock c2s shaper (3000 B/s) off. Prosody has none. */
  throughput?: boolean;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Prosody-only settings (ignored on ejabberd). */
  prosody?: Omit<ProsodyOptions, 'version' | 'host' | 'dir' | 'users'>;
  /** ejabberd-only settings (ignored on Prosody). */
  ejabberd?: Omit<EjabberdOptions, 'version' | 'host' | 'dir' | 'users'>;
  /** Check that a login works before returning (default true). */
  checkLogin?: boolean;
  /** XEP-0114 external components `hosts` may connect on 127.0.0.1:port with `secret` (Prosody component_ports, ejabberd ejabberd_service). */
  components?: { port: number; secret: string; hosts: string[] };
}

/** Prosody's Lua for `components` (a Component section per host on its own component port). */
function prosodyComponents(c: NonNullable<ServerOptions['components']>): string {
  return `component_ports = { ${c.port} }\ncomponent_interfaces = { "127.0.0.1" }\n`
    + c.hosts.map((h) => `Component ${JSON.stringify(h)}\n  component_secret = ${JSON.stringify(c.secret)}\n`).join('');
}

export function isServerLabel(s: string): s is ServerLabel {
  return (SERVER_KINDS as readonly string[]).includes(s);
}

export function parseServerLabel(s: string, where = 'server'): ServerLabel {
  const v = s.trim();
  if (!isServerLabel(v)) throw new Error(`${where}: unknown server ${JSON.stringify(s)}; use one of ${SERVER_KINDS.join(', ')}`);
  return v;
}

/** The server this test process runs against: env XIOTA_SERVER (set by the matrix runner), default prosody-0.12. */
export function serverUnderTest(): ServerLabel {
  return parseServerLabel(process.env.XIOTA_SERVER || 'prosody-0.12', 'XIOTA_SERVER');
}

export function splitLabel(label: ServerLabel): { kind: ServerKind; version: string } {
  const [kind, version] = label.split('-') as [ServerKind, string];
  return { kind, version };
}

/**
 * Starts `label` on 127.0.0.1 free ports with a throwaway config. Ready = the c2s port
 * accepts and a login works (STARTTLS, SASL, bind), checked with a throwaway account.
 */
export async function startServer(label: ServerLabel, opts: ServerOptions = {}): Promise<XmppServer> {
  const { kind, version } = splitLabel(label);
  let srv: XmppServer;
  if (kind === 'prosody') {
    const p = await startProsody({
      ...opts.prosody,
      version: version as ProsodyVersion,
      host: opts.host,
      dir: opts.dir,
      users: opts.users,
      ...(opts.passwordHash ? { passwordHash: opts.passwordHash } : {}),
      ...(opts.smResumeTimeoutS !== undefined ? { smacksHibernationS: opts.smResumeTimeoutS } : {}),
      ...(opts.pepMaxItems !== undefined ? { pepMaxItems: opts.pepMaxItems } : {}),
      ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
      ...(opts.components ? { extraConfig: (opts.prosody?.extraConfig ?? '') + prosodyComponents(opts.components) } : {}),
    });
    srv = Object.assign(p, { label });
  } else {
    const e = await startEjabberd({
      ...opts.ejabberd,
      version: version as EjabberdVersion,
      host: opts.host,
      dir: opts.dir,
      users: opts.users,
      ...(opts.throughput ? { shaper: false } : {}),
      ...(opts.passwordHash ? { passwordHash: opts.passwordHash } : {}),
      ...(opts.smResumeTimeoutS !== undefined ? { smResumeTimeoutS: opts.smResumeTimeoutS } : {}),
      ...(opts.pepMaxItems !== undefined ? { maxItemsNode: opts.pepMaxItems } : {}),
      ...(opts.logLevel ? { logLevel: opts.logLevel === 'warn' ? 'warning' : opts.logLevel } : {}),
      ...(opts.components ? { components: { port: opts.components.port, secret: opts.components.secret } } : {}),
    });
    srv = Object.assign(e, { label });
  }
  const offersStartTls = kind !== 'prosody' || (opts.prosody?.offerStartTls ?? true);
  if ((opts.checkLogin ?? true) && offersStartTls) {
    try {
      await checkLogin(srv, opts.users?.[0]);
    } catch (e) {
      await srv.cleanup();
      throw e;
    }
  }
  return srv;
}

/**
 * Logs in once (the server answers XMPP, not just TCP) with `account`, or with a throwaway
 * account registered for it (ejabberdctl takes about a second per account).
 */
export async function checkLogin(srv: XmppServer, account?: { user: string; password: string }, timeoutMs = 15_000): Promise<void> {
  const user = account?.user ?? `ready-${randomBytes(3).toString('hex')}`;
  const password = account?.password ?? randomBytes(12).toString('hex');
  if (!account) await srv.register(user, password);
  const c = new XmppClient({
    jid: `${user}@${srv.host}`,
    credentials: { username: user, password },
    server: { host: '127.0.0.1', port: srv.c2sPort },
    tls: { caFile: srv.caFile },
    reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      c.connectOnce(),
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no login within ${timeoutMs} ms`)), timeoutMs); }),
    ]);
  } catch (e) {
    throw new Error(`${srv.label} accepts TCP on ${srv.c2sPort} but a login fails: ${e instanceof Error ? e.message : String(e)}; log: ${srv.logFile}`);
  } finally {
    clearTimeout(timer);
    await c.stop();
  }
}
