// A throwaway Prosody on 127.0.0.1 for tests, benchmarks and the demo: free ports, its own
// data directory, a self-signed certificate, accounts registered with prosodyctl. Follows
// the recipe checked in shared/DESIGN.md. Run directly to get one for manual testing:
//   node dist/scripts/local-prosody.js     (prints its details as JSON, stops on Ctrl-C)
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSelfSignedCert } from './certs';
import { freePort, waitForPort } from './ports';

export interface ProsodyOptions {
  host?: string;
  dir?: string;
  passwordHash?: 'SHA-1' | 'SHA-256';
  users?: { user: string; password: string }[];
  /** Extra modules on top of the standard set. */
  modules?: string[];
  extraConfig?: string;
  /** false: a server that offers no STARTTLS at all (for the downgrade test). */
  offerStartTls?: boolean;
  smacks?: boolean;
  /** Seconds a dropped SM session waits for resumption (default 60). */
  smacksHibernationS?: number;
  /** PEP nodes' item limit (Prosody's default 256 is low for long test streams). */
  pepMaxItems?: number;
}

export interface ProsodyServer {
  host: string;
  c2sPort: number;
  directTlsPort: number;
  caFile: string;
  certFile: string;
  keyFile: string;
  spkiSha256: string;
  dir: string;
  configFile: string;
  logFile: string;
  readonly pid: number | undefined;
  register(user: string, password: string): Promise<void>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL (a crash) and wait for exit. */
  kill(): Promise<void>;
  /** (Re)start on the same ports and data. */
  start(): Promise<void>;
  /** Removes the directory (after stop). */
  cleanup(): void;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test process that dies must not leave servers behind.
  process.on('exit', () => {
    for (const p of live) if (p.exitCode === null) p.kill('SIGKILL');
  });
}

export function prosodyInstalled(): boolean {
  return spawnSync('sh', ['-c', 'command -v prosody && command -v prosodyctl'], { stdio: 'ignore' }).status === 0;
}

/**
 * Makes sure Prosody is there: installs it with apt-get when missing and we are root, else
 * says how. Never silently skips: callers in CI treat a throw as a failure.
 */
export function ensureProsodyInstalled(log: (s: string) => void = () => {}): void {
  if (prosodyInstalled()) return;
  if (process.getuid?.() !== 0) {
    throw new Error('Prosody is not installed. Install it with: sudo apt-get install prosody');
  }
  log('Prosody is missing: installing it with apt-get (once)...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'prosody'], { stdio: 'inherit', env });
  if (!prosodyInstalled()) throw new Error('apt-get install prosody did not provide prosody/prosodyctl');
}

function configText(o: Required<Pick<ProsodyOptions, 'host' | 'passwordHash' | 'offerStartTls' | 'smacks'>> & ProsodyOptions, dir: string, c2s: number, dtls: number, cert: { certFile: string; keyFile: string }): string {
  const modules = ['roster', 'saslauth', 'disco', 'ping', 'pep', 'register', 'time', 'version', 'posix'];
  if (o.offerStartTls) modules.push('tls');
  if (o.smacks) modules.push('smacks');
  modules.push(...(o.modules ?? []));
  return `-- throwaway Prosody for xiota (generated)
run_as_root = true
daemonize = false
pidfile = "${dir}/prosody.pid"
data_path = "${dir}/data"
certificates = "${dir}/certs"
ssl = { key = "${cert.keyFile}", certificate = "${cert.certFile}" }
interfaces = { "127.0.0.1" }
c2s_ports = { ${c2s} }
c2s_direct_tls_ports = { ${dtls} }
s2s_ports = {}
http_ports = {}
https_ports = {}
c2s_require_encryption = ${o.offerStartTls ? 'true' : 'false'}
allow_unencrypted_plain_auth = ${o.offerStartTls ? 'false' : 'true'}
authentication = "internal_hashed"
password_hash = "${o.passwordHash}"
allow_registration = false
smacks_hibernation_time = ${o.smacksHibernationS ?? 60}
smacks_max_unacked_stanzas = 0
pep_max_items = ${o.pepMaxItems ?? 100000}
c2s_stanza_size_limit = 1024*1024
log = { info = "${dir}/prosody.log"; error = "${dir}/prosody.err" }
modules_enabled = { ${modules.map((m) => `"${m}"`).join(', ')} }
modules_disabled = { "s2s" }
${o.extraConfig ?? ''}
VirtualHost "${o.host}"
Component "pubsub.${o.host}" "pubsub"
  admins = { "admin@${o.host}" }
`;
}

export async function startProsody(opts: ProsodyOptions = {}): Promise<ProsodyServer> {
  ensureProsodyInstalled();
  installExitHook();
  const o = { host: 'xiota.test', passwordHash: 'SHA-1' as const, offerStartTls: true, smacks: true, ...opts };
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'xiota-prosody-'));
  mkdirSync(join(dir, 'data'), { recursive: true });
  mkdirSync(join(dir, 'certs'), { recursive: true });
  const cert = makeSelfSignedCert(join(dir, 'certs'), o.host);
  const [c2s, dtls] = [await freePort(), await freePort()];
  const configFile = join(dir, 'prosody.cfg.lua');
  writeFileSync(configFile, configText(o, dir, c2s, dtls, cert));
  const logFile = join(dir, 'prosody.log');
  let proc: ChildProcess | undefined;

  const waitExit = (p: ChildProcess, ms: number) =>
    new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      const t = setTimeout(() => {
        p.kill('SIGKILL');
      }, ms);
      p.once('exit', () => {
        clearTimeout(t);
        live.delete(p);
        resolve();
      });
    });

  const srv: ProsodyServer = {
    host: o.host,
    c2sPort: c2s,
    directTlsPort: dtls,
    caFile: cert.caFile,
    certFile: cert.certFile,
    keyFile: cert.keyFile,
    spkiSha256: cert.spkiSha256,
    dir,
    configFile,
    logFile,
    get pid() {
      return proc?.pid;
    },
    async start() {
      if (proc && proc.exitCode === null && proc.signalCode === null) return;
      const p = spawn('prosody', ['--config', configFile, '-F'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      p.stderr!.on('data', (d) => (stderr += d));
      live.add(p);
      proc = p;
      if (!(await waitForPort(c2s, 15_000))) {
        p.kill('SIGKILL');
        const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
        throw new Error(`Prosody did not accept connections on 127.0.0.1:${c2s} within 15 s.\nstderr: ${stderr}\nlog tail:\n${tail}`);
      }
      await waitForPort(dtls, 5000);
    },
    async stop() {
      const p = proc;
      if (!p) return;
      p.kill('SIGTERM');
      await waitExit(p, 5000);
    },
    async kill() {
      const p = proc;
      if (!p) return;
      p.kill('SIGKILL');
      await waitExit(p, 5000);
    },
    register(user, password) {
      return new Promise((resolve, reject) => {
        execFile('prosodyctl', ['--config', configFile, 'register', user, o.host, password], { timeout: 20_000 }, (err, _out, stderr) =>
          err ? reject(new Error(`prosodyctl register ${user}@${o.host} failed: ${stderr || err.message}`)) : resolve(),
        );
      });
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await srv.start();
  for (const u of o.users ?? []) await srv.register(u.user, u.password);
  return srv;
}

if (require.main === module) {
  void (async () => {
    const srv = await startProsody({ users: [{ user: 'dev', password: 'devpass' }] });
    console.log(JSON.stringify({ host: srv.host, c2sPort: srv.c2sPort, directTlsPort: srv.directTlsPort, caFile: srv.caFile, dir: srv.dir, account: 'dev@' + srv.host, password: 'devpass' }, null, 2));
    process.once('SIGINT', () => void srv.stop().then(() => process.exit(0)));
  })();
}
