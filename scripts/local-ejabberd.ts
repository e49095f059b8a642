// A throwaway ejabberd on 127.0.0.1 for tests, benchmarks and the demo, the same shape as
// scripts/local-prosody.ts: free ports, its own config/spool/log directory, a self-signed
// certificate, accounts registered with ejabberdctl. Follows shared/DESIGN.md "Real servers
// here": ejabberd always runs as the `ejabberd` user (we chown its directory and start it
// as that user), epmd stays off (ERL_DIST_PORT, distribution on 127.0.0.1 only), and each
// instance has its own node name, cookie and distribution port so several can run at once.
// The config keeps the Debian package's stock choices (shaper, stream management, PubSub
// plugins and force_node_config) unless a test asks otherwise: we want what a user's
// ejabberd does. Run directly to get one:
//   node dist/scripts/local-ejabberd.js [24.12]   (prints its details as JSON, stops on Ctrl-C)
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSelfSignedCert } from './certs';
import { canConnect, freePorts, removeOnExit, tail } from '../test/servers/process';
import { registerAll, serveUntilSignal, type LocalServer } from './local-server';

export type EjabberdVersion = '23.01' | '24.12';
export const EJABBERD_VERSIONS: readonly EjabberdVersion[] = ['23.01', '24.12'];
/** Where scripts/install-servers.sh unpacks the versions Debian 12 cannot install beside its own. */
export const SERVERS_ROOT = process.env.XIOTA_SERVERS_ROOT ?? '/opt/xiota-servers';

export interface EjabberdOptions {
  /** '23.01' (Debian 12's package, default) or '24.12' (bookworm-backports, unpacked by scripts/install-servers.sh). */
  version?: EjabberdVersion;
  /** The virtual host (default 'xiota.test'); mod_pubsub serves pubsub.HOST. */
  host?: string;
  /** Working directory (config, certs, spool, logs); default a fresh mkdtemp dir. */
  dir?: string;
  users?: { user: string; password: string }[];
  /** The stock c2s shaper (3000 B/s, burst 20000 for non-admins; default true). Long fault tests turn it off. */
  shaper?: boolean;
  /** mod_stream_mgmt resume_timeout in seconds (default: ejabberd's own, 300). */
  smResumeTimeoutS?: number;
  /** mod_pubsub max_items_node (default: ejabberd's own, 1000). */
  maxItemsNode?: number;
  /** auth_scram_hash: SHA-1 (ejabberd's default) offers SCRAM-SHA-1, SHA-256 offers SCRAM-SHA-256. */
  passwordHash?: 'SHA-1' | 'SHA-256';
  /** ejabberd loglevel (default 'info'). */
  logLevel?: 'debug' | 'info' | 'warning' | 'error';
  /**
   * Load mod_auth_fast (XEP-0484 FAST tokens; "added in 24.12" per its own docs, SASL2 and Bind 2
   * are built into ejabberd_c2s). `tokenRefreshAge`: its token_refresh_age (default one day),
   * the age after which a token used to log in is rotated (YAML: a number or "10 seconds").
   * 24.12 reads a configured value in milliseconds and uses it as seconds, so it acts 1000 times
   * longer than written (test/session/fast-ejabberd.test.ts ages tokens in the store instead).
   */
  fast?: boolean | { tokenRefreshAge?: number | string };
  /** Load mod_client_state (XEP-0352 CSI: queue presence while the client is inactive). */
  clientState?: boolean;
  /** An XEP-0114 listener (ejabberd_service) on 127.0.0.1:port; any component domain may connect with `secret`. */
  components?: { port: number; secret: string };
}

export interface EjabberdServer extends LocalServer {
  readonly kind: 'ejabberd';
  readonly version: EjabberdVersion;
}

/** The ejabberdctl of a version, or undefined when it is not installed. */
export function ejabberdctlPath(version: EjabberdVersion): string | undefined {
  const p = version === '23.01' ? '/usr/sbin/ejabberdctl' : join(SERVERS_ROOT, 'ejabberd-24.12', 'usr/sbin/ejabberdctl');
  return existsSync(p) ? p : undefined;
}

function ejabberdUser(): { uid: number; gid: number } {
  const r = spawnSync('id', ['-u', 'ejabberd'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'ejabberd'], { encoding: 'utf8' });
  if (r.status !== 0 || g.status !== 0) {
    throw new Error('there is no `ejabberd` system user: install Debian\'s ejabberd (apt-get install ejabberd), which creates it');
  }
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

function chownTree(p: string, uid: number, gid: number): void {
  chownSync(p, uid, gid);
  for (const e of readdirSync(p, { withFileTypes: true })) {
    const q = join(p, e.name);
    if (e.isDirectory()) chownTree(q, uid, gid);
    else chownSync(q, uid, gid);
  }
}

const y = (s: string) => JSON.stringify(s); // a JSON string is a valid YAML scalar

interface ConfigInput {
  o: EjabberdOptions & { host: string };
  c2s: number;
  dtls: number;
  cert: { certFile: string; keyFile: string };
}

/** ejabberd.yml: Debian's stock file cut to what a c2s-only test server needs, on 127.0.0.1. */
export function ejabberdConfig({ o, c2s, dtls, cert }: ConfigInput): string {
  const shaper = o.shaper ?? true;
  const c2sCommon = `    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    shaper: c2s_shaper
    access: c2s
    protocol_options: 'TLS_OPTIONS'`;
  return `# throwaway ejabberd for xiota (generated by scripts/local-ejabberd.ts)
loglevel: ${o.logLevel ?? 'info'}
log_rotate_count: 0
hosts:
  - ${y(o.host)}
certfiles:
  - ${y(cert.certFile)}
  - ${y(cert.keyFile)}
define_macro:
  'TLS_CIPHERS': "HIGH:!aNULL:!eNULL:!3DES:@STRENGTH"
  'TLS_OPTIONS':
    - "no_sslv3"
    - "no_tlsv1"
    - "no_tlsv1_1"
    - "cipher_server_preference"
    - "no_compression"
c2s_ciphers: 'TLS_CIPHERS'
c2s_protocol_options: 'TLS_OPTIONS'
listen:
  -
    port: ${c2s}
${c2sCommon}
    starttls_required: true
  -
    port: ${dtls}
${c2sCommon}
    tls: true
${o.components ? `  -\n    port: ${o.components.port}\n    ip: "127.0.0.1"\n    module: ejabberd_service\n    password: ${y(o.components.secret)}\n` : ''}disable_sasl_mechanisms:
  - "digest-md5"
  - "X-OAUTH2"
auth_password_format: scram
${o.passwordHash === 'SHA-256' ? 'auth_scram_hash: sha256\n' : ''}acl:
  admin:
    user:
      - ${y('admin@' + o.host)}
  local:
    user_regexp: ""
  loopback:
    ip:
      - 127.0.0.0/8
access_rules:
  local:
    allow: local
  c2s:
    deny: blocked
    allow: all
  pubsub_createnode:
    allow: local
shaper:
  normal:
    rate: 3000
    burst_size: 20000
  fast: 200000
shaper_rules:
  max_user_sessions: 10
  max_user_offline_messages:
    5000: admin
    100: all
  c2s_shaper:
${shaper ? '    none: admin\n    normal: all' : '    none: all'}
modules:
  mod_adhoc: {}
${o.fast ? (typeof o.fast === 'object' && o.fast.tokenRefreshAge !== undefined ? `  mod_auth_fast:\n    token_refresh_age: ${JSON.stringify(o.fast.tokenRefreshAge)}\n` : '  mod_auth_fast: {}\n') : ''}${o.clientState ? '  mod_client_state: {}\n' : ''}  mod_caps: {}
  mod_disco: {}
  mod_offline:
    access_max_user_messages: max_user_offline_messages
  mod_ping: {}
  mod_pubsub:
    access_createnode: pubsub_createnode
    plugins:
      - flat
      - pep
    force_node_config:
      "eu.siacs.conversations.axolotl.*":
        access_model: open
      storage:bookmarks:
        access_model: whitelist
${o.maxItemsNode !== undefined ? `    max_items_node: ${o.maxItemsNode}\n` : ''}  mod_roster:
    versioning: true
  mod_stream_mgmt:
    resend_on_timeout: if_offline
${o.smResumeTimeoutS !== undefined ? `    resume_timeout: ${o.smResumeTimeoutS}\n` : ''}  mod_time: {}
  mod_version: {}
`;
}

/** ejabberdctl.cfg: a node of our own, epmd off, distribution on 127.0.0.1 only. */
function ctlConfig(node: string, distPort: number, cookie: string, pidFile: string): string {
  return `# generated by scripts/local-ejabberd.ts
ERLANG_NODE=${node}
ERL_DIST_PORT=${distPort}
# What INET_DIST_INTERFACE=127.0.0.1 does, without the extra erl run ejabberdctl makes on every
# call to parse it (~0.3 s per register).
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0 -setcookie ${cookie} -kernel inet_dist_use_interface {127,0,0,1}"
EJABBERD_PID_PATH=${pidFile}
EJABBERD_BYPASS_WARNINGS=true
`;
}

/** Live (non-zombie) processes whose process group is `pgid` (from /proc/PID/stat). */
function groupMembers(pgid: number): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      // fields[0] is the state: a zombie holds no sockets any more, whoever reaps it.
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') out.push({ pid: Number(name), comm: stat.slice(stat.indexOf('(') + 1, close) });
    } catch { /* gone meanwhile */ }
  }
  return out;
}

/** One running VM: the `ejabberdctl foreground` we spawned leads its own process group. */
interface Vm {
  child: ChildProcess;
  pgid: number;
  exited: Promise<void>;
  running(): boolean;
  beamPid(): number | undefined;
  signal(sig: NodeJS.Signals): void;
}

const liveGroups = new Set<number>();
let exitHook = false;

function spawnVm(ctl: string, args: string[], env: NodeJS.ProcessEnv, user: { uid: number; gid: number }, outFile: string, cwd: string): Vm {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => { for (const g of liveGroups) { try { process.kill(-g, 'SIGKILL'); } catch { /* gone */ } } });
  }
  const fd = openSync(outFile, 'a');
  // detached: a new session and process group, so the whole VM (bash, beam.smp,
  // erl_child_setup) can be signalled at once and a crash test reaches the real VM.
  const child = spawn(ctl, args, { stdio: ['ignore', fd, fd], cwd, env, uid: user.uid, gid: user.gid, detached: true });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not spawn ${ctl}`);
  const pgid = child.pid;
  liveGroups.add(pgid);
  child.unref();
  // Watchdog as in test/servers/process.ts: when we die (even by SIGKILL) its stdin pipe
  // closes and it kills the VM's process group.
  const dog = spawn('sh', ['-c', `read _ignored; kill -9 -- -${pgid} 2>/dev/null`], { stdio: ['pipe', 'ignore', 'ignore'] });
  dog.unref();
  (dog.stdin as unknown as { unref?: () => void }).unref?.();
  dog.on('error', () => { /* best effort */ });
  let done = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      // bash is gone; make sure nothing of the group is left (beam.smp holds the ports
      // until the kernel has reaped it), then stop the watchdog.
      try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ }
      const t0 = Date.now();
      const reaped = () => {
        if (groupMembers(pgid).length && Date.now() - t0 < 10_000) { setTimeout(reaped, 20); return; }
        done = true;
        liveGroups.delete(pgid);
        if (dog.exitCode === null) { try { dog.kill('SIGKILL'); } catch { /* gone */ } }
        resolve();
      };
      reaped();
    });
  });
  return {
    child,
    pgid,
    exited,
    running: () => !done,
    beamPid: () => groupMembers(pgid).find((p) => p.comm.startsWith('beam'))?.pid,
    signal(sig) { try { process.kill(-pgid, sig); } catch { /* gone */ } },
  };
}

/** Waits for the VM to exit; the timer also keeps our event loop alive (the child is unref'd). */
async function exitedWithin(v: Vm, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const ok = await Promise.race([v.exited.then(() => true), new Promise<boolean>((r) => { timer = setTimeout(() => r(false), ms); })]);
  clearTimeout(timer);
  return ok;
}

export async function startEjabberd(opts: EjabberdOptions = {}): Promise<EjabberdServer> {
  const version = opts.version ?? '23.01';
  const ctl = ejabberdctlPath(version);
  if (!ctl) {
    throw new Error(version === '23.01'
      ? 'ejabberd 23.01 is not installed: apt-get install ejabberd (then keep its system service stopped)'
      : `ejabberd ${version} is not installed under ${SERVERS_ROOT}: run scripts/install-servers.sh as root`);
  }
  const user = ejabberdUser();
  const host = opts.host ?? 'xiota.test';
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'xiota-ejabberd-'));
  if (!opts.dir) removeOnExit(dir);
  for (const d of ['spool', 'logs']) mkdirSync(join(dir, d), { recursive: true });
  const cert = await makeSelfSignedCert(join(dir, 'certs'), host);
  const [c2s, dtls, distPort] = await freePorts(3);
  const node = `xiota_${randomBytes(4).toString('hex')}@localhost`;
  const cookie = randomBytes(16).toString('hex');
  const configFile = join(dir, 'ejabberd.yml');
  const ctlFile = join(dir, 'ejabberdctl.cfg');
  const logFile = join(dir, 'logs', 'ejabberd.log');
  const outFile = join(dir, 'ejabberd.out');
  writeFileSync(configFile, ejabberdConfig({ o: { ...opts, host }, c2s, dtls, cert }));
  writeFileSync(ctlFile, ctlConfig(node, distPort, cookie, join(dir, 'ejabberd.pid')), { mode: 0o600 });
  writeFileSync(join(dir, 'inetrc'), '{lookup,["file","native"]}.\n{host,{127,0,0,1}, ["localhost"]}.\n{file, resolv, "/etc/resolv.conf"}.\n');
  chownTree(dir, user.uid, user.gid);
  const baseArgs = ['--config-dir', dir, '--config', configFile, '--ctl-config', ctlFile, '--logs', join(dir, 'logs'), '--spool', join(dir, 'spool')];
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: dir, LANG: 'C.UTF-8' };
  const logTail = () => `${tail(logFile, 25)}\n--- stdout/stderr ---\n${tail(outFile, 15)}`;
  let vm: Vm | undefined;

  const ctlRun = (args: string[], timeoutMs = 30_000): Promise<string> => new Promise((resolve, reject) => {
    execFile(ctl, [...baseArgs, ...args], { cwd: dir, env, uid: user.uid, gid: user.gid, timeout: timeoutMs }, (err, stdout, stderr) =>
      err ? reject(new Error(`ejabberdctl ${args[0]} failed: ${(stderr || stdout || err.message).trim()}`)) : resolve(stdout));
  });

  const waitReady = async (timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (const port of [c2s, dtls]) {
      for (;;) {
        if (!vm?.running()) throw new Error(`ejabberd ${version} exited before port ${port} was ready.\n--- log tail ---\n${logTail()}`);
        if (await canConnect(port)) break;
        if (Date.now() > deadline) throw new Error(`ejabberd ${version} did not accept connections on 127.0.0.1:${port} within ${timeoutMs} ms.\n--- log tail ---\n${logTail()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };

  // A SIGKILLed beam's main thread shows as a zombie while its other threads still hold the
  // sockets for a few ms: a VM is gone when its ports refuse too.
  const portsClosed = async (timeoutMs = 10_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while ((await canConnect(c2s, '127.0.0.1', 200)) || (await canConnect(dtls, '127.0.0.1', 200))) {
      if (Date.now() > deadline) throw new Error(`ejabberd ${version}: ports ${c2s}/${dtls} still accept ${timeoutMs} ms after the VM exited`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const srv: EjabberdServer = {
    kind: 'ejabberd',
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
      return vm?.running() ? vm.beamPid() : undefined;
    },
    async start() {
      if (vm?.running()) return;
      vm = spawnVm(ctl, [...baseArgs, 'foreground'], env, user, outFile, dir);
      try {
        await waitReady();
      } catch (e) {
        vm.signal('SIGKILL');
        await exitedWithin(vm, 10_000);
        throw e;
      }
    },
    async stop() {
      if (!vm?.running()) return;
      const v = vm;
      // Erlang/OTP 25 takes SIGTERM as init:stop(): a clean shutdown, faster than ejabberdctl stop.
      const beam = v.beamPid();
      if (beam) { try { process.kill(beam, 'SIGTERM'); } catch { /* gone */ } } else v.signal('SIGTERM');
      if (!(await exitedWithin(v, 10_000))) {
        v.signal('SIGKILL');
        await exitedWithin(v, 10_000);
      }
      await portsClosed();
    },
    async kill() {
      if (!vm?.running()) return;
      const v = vm;
      const beam = v.beamPid();
      if (beam) { try { process.kill(beam, 'SIGKILL'); } catch { /* gone */ } }
      v.signal('SIGKILL');
      if (!(await exitedWithin(v, 10_000))) throw new Error(`ejabberd ${version}: process group ${v.pgid} still there 10 s after SIGKILL`);
      await portsClosed();
    },
    async register(u, password) {
      // The node may still be starting its modules after the ports opened: retry briefly.
      let last: unknown;
      for (let i = 0; i < 10; i++) {
        try {
          await ctlRun(['register', u, host, password]);
          return;
        } catch (e) {
          last = e;
          if (!vm?.running()) break;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      throw new Error(`registering ${u}@${host} on ejabberd ${version}: ${last instanceof Error ? last.message : String(last)}\n--- log tail ---\n${logTail()}`);
    },
    async cleanup() {
      // The data goes anyway: no need for Erlang's clean shutdown (1-10 s).
      await srv.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await srv.start();
  await registerAll(srv, opts.users);
  return srv;
}

const ACCOUNTS = [{ user: 'dev', password: 'devpass' }, { user: 'admin', password: 'adminpass' }];

async function main(): Promise<void> {
  const version = (process.argv[2] ?? '23.01') as EjabberdVersion;
  if (!EJABBERD_VERSIONS.includes(version)) throw new Error(`unknown ejabberd version ${version}: one of ${EJABBERD_VERSIONS.join(', ')}`);
  const t0 = Date.now();
  const srv = await startEjabberd({ version, users: ACCOUNTS });
  serveUntilSignal(srv, { version: srv.version, startMs: Date.now() - t0 }, ACCOUNTS);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
