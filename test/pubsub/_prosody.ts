// Stopgap: a throwaway Prosody for the PubSub integration test until scripts/local-prosody.ts
// (the team's harness) lands; same shape as its startProsody() for the parts used here.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface MiniProsody {
  host: string;
  c2sPort: number;
  caFile: string;
  register(user: string, pass: string): Promise<void>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

export async function startMiniProsody(host = 'xiota.test'): Promise<MiniProsody> {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-pubsub-prosody-'));
  const [c2s, tls] = [await freePort(), await freePort()];
  const key = join(dir, `${host}.key`);
  const crt = join(dir, `${host}.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${host}`,
    '-addext', `subjectAltName=DNS:${host},DNS:*.${host},DNS:localhost,IP:127.0.0.1`, '-keyout', key, '-out', crt], { stdio: 'ignore' });
  const cfg = join(dir, 'prosody.cfg.lua');
  writeFileSync(cfg, `
run_as_root = true
pidfile = "${dir}/prosody.pid"
data_path = "${dir}"
certificates = "${dir}"
interfaces = { "127.0.0.1" }
c2s_ports = { ${c2s} }
c2s_direct_tls_ports = { ${tls} }
s2s_ports = {}
http_ports = {}
https_ports = {}
c2s_require_encryption = true
authentication = "internal_hashed"
log = { { levels = { min = "error" }, to = "console" } }
modules_enabled = { "roster", "saslauth", "tls", "disco", "ping", "pep", "register", "posix" }
ssl = { key = "${key}", certificate = "${crt}" }
VirtualHost "${host}"
Component "pubsub.${host}" "pubsub"
  admins = { "admin@${host}" }
`);
  const proc: ChildProcess = spawn('prosody', ['--config', cfg, '-F'], { stdio: ['ignore', 'inherit', 'inherit'] });
  // If the test process dies before after() runs, do not leave this Prosody behind.
  const killOnExit = () => { if (proc.exitCode === null) proc.kill('SIGKILL'); };
  process.once('exit', killOnExit);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (proc.exitCode === null && proc.pid) {
      proc.kill('SIGTERM');
      await new Promise<void>((r) => {
        const t = setTimeout(() => { proc.kill('SIGKILL'); r(); }, 3000);
        proc.once('exit', () => { clearTimeout(t); r(); });
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100 && !(await portOpen(c2s)); i++) await new Promise((r) => setTimeout(r, 50));
  if (!(await portOpen(c2s))) { await stop(); throw new Error('prosody did not open its c2s port'); }
  return {
    host, c2sPort: c2s, caFile: crt, stop,
    async register(user, pass) {
      execFileSync('prosodyctl', ['--config', cfg, 'register', user, host, pass], { stdio: 'ignore' });
    },
  };
}
