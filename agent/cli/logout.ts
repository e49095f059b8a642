// `xiota logout`: this installation's XEP-0484 FAST token is invalidated on the server (3.6:
// authenticate with it once more, <fast invalidate='true'/>) and removed from fast-token.json in
// the state directory. The password is not needed (the token is the credential here) and keeps
// working: the next start logs in with it and asks for a new token.
// The token stays on disk when the server could not be asked (unreachable, no FAST offered), so
// the command can be run again; a token the server already refuses is dead and is removed.
// The user-agent id in the same file is kept: it is not a secret, and servers derive the XEP-0386
// Bind 2 resource from it (ejabberd: tag + hash of the id), so the device keeps its full JID.
//   xiota logout [--config FILE] [--log-level L]
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultConfigPaths, formatIssues, loadConfig, type Config } from '../config';
import { XiotaError } from '../errors';
import { createLogger, type Logger } from '../log';

export const LOGOUT_USAGE = `Usage: xiota logout [--config FILE] [--log-level L]

Logs this device out of its XMPP server: the FAST login token (XEP-0484) is invalidated on the
server and removed from fast-token.json in the state directory. The password keeps working; the
next start of the agent logs in with it and gets a new token. Stop the agent first.

Options:
  -c, --config FILE   config file (default ./xiota.yaml if present, else /etc/xiota/xiota.yaml)
      --log-level L   debug, info, warn (default) or error
  -h, --help          show this text`;

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

interface Io { out: (s: string) => void; err: (s: string) => void; env: NodeJS.ProcessEnv }

export async function logoutMain(argv: string[], io: Io): Promise<number> {
  let v;
  try {
    v = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, 'log-level': { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (e) {
    io.err(`xiota logout: ${(e as Error).message}\n\n${LOGOUT_USAGE}`);
    return 2;
  }
  if (v.help) { io.out(LOGOUT_USAGE); return 0; }
  const level = LEVELS.find((l) => l === (v['log-level'] ?? 'warn'));
  if (!level) {
    io.err(`xiota logout: --log-level ${v['log-level']}: expected ${LEVELS.join(', ')}`);
    return 2;
  }
  const path = v.config !== undefined ? resolve(v.config) : defaultConfigPaths().find((p) => existsSync(p));
  const r = loadConfig(path, { env: io.env, checkFiles: false });
  if (!r.config) {
    io.err(formatIssues(path ?? '(no config file)', r.errors, 'error'));
    return 2;
  }
  const log = createLogger({ level, write: (l) => io.err(l) });
  return logout(r.config, io, log);
}

/** The agent keeps its state beside the outbox (agent/agent.ts): the token file is there. */
function stateDirOf(config: Config): string {
  return dirname(config.outbox.dir);
}

async function logout(config: Config, io: Io, log: Logger): Promise<number> {
  const jid = config.account.jid;
  // A running agent holds the token in memory and would log in with it again (and be handed a
  // new one after the refusal): logging out under it achieves nothing.
  if (config.api.enabled) {
    const { daemonSocketPath } = require('../api/paths') as typeof import('../api/paths');
    const sock = daemonSocketPath(config, io.env);
    if (await answers(sock)) {
      io.err(`xiota logout: the agent is running (its API answers on ${sock}); stop it first (systemctl stop xiota), then run xiota logout again`);
      return 1;
    }
  }
  const { FileFastStore } = require('../session/fast-token') as typeof import('../session/fast-token');
  let store;
  let token;
  try {
    store = new FileFastStore(stateDirOf(config));
    token = store.get(jid);
  } catch (e) {
    io.err(`xiota logout: ${(e as Error).message}`);
    return 1;
  }
  if (!token) {
    io.out(`No FAST token for ${jid} in ${store.file}: nothing to log out (the agent logs in with its password).`);
    return 0;
  }
  try {
    const server = await invalidate(config, store, log);
    store.clear(); // already done when the server confirmed; idempotent
    io.out(`Logged out: ${server} invalidated the FAST token of ${jid} (XEP-0484), and it was removed from ${store.file}. The password still works: the next start logs in with it and gets a new token.`);
    return 0;
  } catch (e) {
    const err = e as XiotaError;
    if (err.code === 'XIOTA_E_SASL_AUTH') {
      // XEP-0484 4.1: the server refused the token: it is useless already (expired, invalidated, or
      // removed with a password change); forgetting it here finishes the logout.
      store.clear();
      const why = typeof err.detail?.condition === 'string' ? ` (${err.detail.condition})` : '';
      io.out(`Logged out: the server no longer accepts the FAST token of ${jid}${why}; it was removed from ${store.file}.`);
      return 0;
    }
    const until = token.expiry ? ` until ${token.expiry}` : '';
    io.err(`xiota logout: not logged out: ${err.message}.\nThe token is kept in ${store.file} so that xiota logout can be run again when the server can be asked; to forget it on this device only, delete that file (the server then accepts the token${until}).`);
    return 1;
  }
}

/** XEP-0484 3.6 over one login per endpoint; resolves with the endpoint that confirmed. */
async function invalidate(config: Config, store: import('../session/fast-token').FastStore, log: Logger): Promise<string> {
  const { negotiate } = require('../session/negotiate') as typeof import('../session/negotiate');
  const { resolveEndpoints } = require('../transport/endpoints') as typeof import('../transport/endpoints');
  const { ScramKeyCache } = require('../sasl') as typeof import('../sasl');
  const [local = '', domain = ''] = config.account.jid.split('@');
  let last: unknown;
  for (const ep of await resolveEndpoints(domain, { host: config.server.host, port: config.server.port, directTls: config.server.directTls })) {
    try {
      const n = await negotiate(ep, {
        domain,
        resource: '', // no bind: the stream ends after the SASL2 success
        credentials: { username: local }, // the token authenticates; the password is never read
        tls: {
          servername: config.tls.servername ?? domain,
          caFile: config.tls.caFile,
          pins: config.tls.pinSha256.length ? config.tls.pinSha256 : undefined,
          clientCert: config.tls.clientCert,
          clientKey: config.tls.clientKey,
        },
        allowPlain: false,
        keyCache: new ScramKeyCache(),
        maxStanzaBytes: 256 * 1024,
        timeoutMs: 20_000,
        useSm: false,
        log,
        bareJid: config.account.jid,
        fast: store,
        invalidateFastOnly: true,
      });
      n.conn.close();
      return `${ep.host}:${ep.port}`;
    } catch (e) {
      last = e;
      log.info('could not invalidate the FAST token here', { endpoint: `${ep.host}:${ep.port}`, error: (e as Error).message });
      // The token's verdict or the server's certificate will not differ on the next SRV target.
      if (e instanceof XiotaError && /SASL|TLS/.test(e.code)) break;
    }
  }
  throw last instanceof Error ? last : new XiotaError('XIOTA_E_CONNECT', `no server for ${domain}`);
}

/** Is a daemon answering on this socket path? False for a stale socket file or none. */
function answers(path: string): Promise<boolean> {
  if (!existsSync(path)) return Promise.resolve(false);
  const { createConnection } = require('node:net') as typeof import('node:net');
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}
