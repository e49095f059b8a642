// A throwaway Prosody on 127.0.0.1 for tests, benchmarks and the demo: free ports, its own
// data directory, a self-signed certificate, accounts registered with prosodyctl. Follows
// the recipe checked in shared/DESIGN.md "Real servers here". Run directly to get one:
//   node dist/scripts/local-prosody.js [13]   (prints its details as JSON, stops on Ctrl-C)
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSelfSignedCert } from './certs';
import { freePorts, hasBinary, removeOnExit, spawnGuarded, tail, waitForPort, type GuardedChild } from '../test/servers/process';
import { registerAll, serveUntilSignal, type LocalServer } from './local-server';

export type ProsodyVersion = '0.12' | '13';
export const PROSODY_VERSIONS: readonly ProsodyVersion[] = ['0.12', '13'];
/** Where scripts/install-servers.sh unpacks the versions Debian 12 cannot install beside its own. */
const SERVERS_ROOT = process.env.XIOTA_SERVERS_ROOT ?? '/opt/xiota-servers';

/** The prosody and prosodyctl of a version, and its modules directory. */
export function prosodyPaths(version: ProsodyVersion): { prosody: string; prosodyctl: string; modulesDir: string } {
  if (version === '0.12') return { prosody: 'prosody', prosodyctl: 'prosodyctl', modulesDir: '/usr/lib/prosody/modules' };
  const root = join(SERVERS_ROOT, 'prosody-13');
  return { prosody: join(root, 'usr/bin/prosody'), prosodyctl: join(root, 'usr/bin/prosodyctl'), modulesDir: join(root, 'usr/lib/prosody/modules') };
}

export interface ProsodyOptions {
  /** '0.12' (Debian 12's package, default) or '13' (bookworm-backports, unpacked by scripts/install-servers.sh). */
  version?: ProsodyVersion;
  /** The VirtualHost (default 'xiota.test'); the PubSub component is pubsub.HOST. */
  host?: string;
  /** Working directory (config, certs, data, logs); default a fresh mkdtemp dir. */
  dir?: string;
  /** SHA-1 offers SCRAM-SHA-1, SHA-256 offers SCRAM-SHA-256 (internal_hashed). */
  passwordHash?: 'SHA-1' | 'SHA-256';
  users?: { user: string; password: string }[];
  /** Extra modules on top of the standard roster. */
  modules?: string[];
  /** Lua appended to the global section. */
  extraConfig?: string;
  /** c2s_require_encryption (default true; forced false when offerStartTls is false). */
  requireEncryption?: boolean;
  /** false: no mod_tls, so no STARTTLS at all (the "server without STARTTLS is refused" test). */
  offerStartTls?: boolean;
  /** allow_unencrypted_plain_auth (default: true only when offerStartTls is false). */
  allowUnencryptedPlainAuth?: boolean;
  /** mod_smacks, XEP-0198 (default true). */
  smacks?: boolean;
  /** Seconds a dropped SM session waits for resumption (default 60). */
  smacksHibernationS?: number;
  /** PEP nodes' item limit (Prosody's default 256 is low for long test streams). */
  pepMaxItems?: number;
  /** In-band registration, XEP-0077 (default false). */
  allowRegistration?: boolean;
  /** JIDs that may create nodes on pubsub.HOST (default admin@HOST). */
  pubsubAdmins?: string[];
  /** Prosody's file log level (default 'info'). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

export interface ProsodyServer extends LocalServer {
  readonly kind: 'prosody';
  readonly version: ProsodyVersion;
}

export function prosodyInstalled(version: ProsodyVersion = '0.12'): boolean {
  if (version !== '0.12') return existsSync(prosodyPaths(version).prosody);
  return hasBinary('prosody') && hasBinary('prosodyctl');
}

/**
 * Makes sure Prosody is there: installs it with apt-get when missing and we are root, else
 * says how. Never a silent skip: in CI a throw is a failed test.
 * Debian's postinst starts a system prosody where systemd runs; ours uses its own config,
 * ports and pidfile, so the two do not meet.
 */
export function ensureProsodyInstalled(opts: { ci?: boolean; log?: (s: string) => void } = {}): void {
  if (prosodyInstalled()) return;
  const ci = opts.ci ?? Boolean(process.env.CI);
  if (process.getuid?.() !== 0) {
    throw new Error(`Prosody is not installed${ci ? ' (CI: this is a failure, not a skip)' : ''}. Install it with: sudo apt-get install prosody`);
  }
  opts.log?.('Prosody is missing: installing it with apt-get...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'prosody'], { stdio: 'inherit', env });
  if (!prosodyInstalled()) throw new Error('apt-get install prosody did not provide prosody and prosodyctl');
}

interface ConfigInput {
  o: ProsodyOptions & { host: string };
  dir: string;
  c2s: number;
  dtls: number;
  cert: { certFile: string; keyFile: string };
  logFile: string;
}

const lua = (s: string) => JSON.stringify(s); // a JSON string literal is a valid Lua string here

export function prosodyConfig({ o, dir, c2s, dtls, cert, logFile }: ConfigInput): string {
  const offerStartTls = o.offerStartTls ?? true;
  const requireEncryption = offerStartTls && (o.requireEncryption ?? true);
  const modules = ['roster', 'saslauth', 'disco', 'ping', 'pep', 'register', 'time', 'version', 'posix'];
  if (offerStartTls) modules.push('tls');
  if (o.smacks ?? true) modules.push('smacks');
  for (const m of o.modules ?? []) if (!modules.includes(m)) modules.push(m);
  const admins = o.pubsubAdmins ?? [`admin@${o.host}`];
  return `-- throwaway Prosody for xiota (generated by scripts/local-prosody.ts)
run_as_root = true
daemonize = false
pidfile = ${lua(join(dir, 'prosody.pid'))}
data_path = ${lua(join(dir, 'data'))}
certificates = ${lua(join(dir, 'certs'))}
-- Also the default context, so the direct TLS port (XEP-0368) has a certificate for any SNI.
ssl = { key = ${lua(cert.keyFile)}, certificate = ${lua(cert.certFile)} }
interfaces = { "127.0.0.1" }
c2s_ports = { ${c2s} }
c2s_direct_tls_ports = { ${dtls} }
s2s_ports = {}
http_ports = {}
https_ports = {}
component_ports = {}
c2s_require_encryption = ${requireEncryption}
allow_unencrypted_plain_auth = ${o.allowUnencryptedPlainAuth ?? !offerStartTls}
authentication = "internal_hashed"
password_hash = ${lua(o.passwordHash ?? 'SHA-1')}
allow_registration = ${o.allowRegistration ?? false}
smacks_hibernation_time = ${o.smacksHibernationS ?? 60}
smacks_max_unacked_stanzas = 0
pep_max_items = ${o.pepMaxItems ?? 100000}
c2s_stanza_size_limit = 1024*1024
log = { ${o.logLevel ?? 'info'} = ${lua(logFile)} }
modules_enabled = { ${modules.map(lua).join(', ')} }
modules_disabled = { "s2s" }
${o.extraConfig ?? ''}
VirtualHost ${lua(o.host)}
Component ${lua('pubsub.' + o.host)} "pubsub"
  admins = { ${admins.map(lua).join(', ')} }
`;
}

export async function startProsody(opts: ProsodyOptions = {}): Promise<ProsodyServer> {
  const version = opts.version ?? '0.12';
  const bin = prosodyPaths(version);
  if (version === '0.12') ensureProsodyInstalled();
  else if (!prosodyInstalled(version)) throw new Error(`Prosody ${version} is not installed under ${SERVERS_ROOT}: run scripts/install-servers.sh as root`);
  const host = opts.host ?? 'xiota.test';
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'xiota-prosody-'));
  if (!opts.dir) removeOnExit(dir); // ours, so it goes with us even if a test forgets cleanup()
  mkdirSync(join(dir, 'data'), { recursive: true });
  const cert = await makeSelfSignedCert(join(dir, 'certs'), host);
  const [c2s, dtls] = await freePorts(2);
  const configFile = join(dir, 'prosody.cfg.lua');
  const logFile = join(dir, 'prosody.log');
  const outFile = join(dir, 'prosody.out'); // stdout/stderr: Lua errors before logging starts
  writeFileSync(configFile, prosodyConfig({ o: { ...opts, host }, dir, c2s, dtls, cert, logFile }));
  const logTail = () => `${tail(logFile, 25)}\n--- stdout/stderr ---\n${tail(outFile, 15)}`;
  let proc: GuardedChild | undefined;

  const srv: ProsodyServer = {
    kind: 'prosody',
    version,
    host,
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
      return proc?.isRunning() ? proc.pid : undefined;
    },
    async start() {
      if (proc?.isRunning()) return;
      // -F: foreground, so the PID we hold is prosody itself and SIGTERM reaches it.
      proc = spawnGuarded(bin.prosody, ['--config', configFile, '-F'], outFile, dir);
      try {
        await waitForPort(c2s, proc, 'prosody', logTail);
        await waitForPort(dtls, proc, 'prosody (direct TLS)', logTail);
      } catch (e) {
        await proc.terminate('SIGKILL');
        throw e;
      }
    },
    async stop() {
      await proc?.terminate('SIGTERM', 5000);
    },
    async kill() {
      await proc?.terminate('SIGKILL');
    },
    register(user, password) {
      return new Promise((resolve, reject) => {
        // prosodyctl writes the account straight into data_path; the running server reads
        // it at the next login, so this works while Prosody runs.
        execFile(bin.prosodyctl, ['--config', configFile, 'register', user, host, password], { timeout: 20_000 }, (err, stdout, stderr) =>
          err ? reject(new Error(`prosodyctl (${version}) register ${user}@${host} failed: ${stderr || stdout || err.message}`)) : resolve(),
        );
      });
    },
    async cleanup() {
      await srv.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await srv.start();
  await registerAll(srv, opts.users);
  return srv;
}

const ACCOUNTS = [{ user: 'dev', password: 'devpass' }, { user: 'admin', password: 'adminpass' }];

async function main(): Promise<void> {
  const version = (process.argv[2] ?? '0.12') as ProsodyVersion;
  if (!PROSODY_VERSIONS.includes(version)) throw new Error(`unknown Prosody version ${version}: one of ${PROSODY_VERSIONS.join(', ')}`);
  const srv = await startProsody({ version, users: ACCOUNTS });
  serveUntilSignal(srv, { version: srv.version }, ACCOUNTS);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
