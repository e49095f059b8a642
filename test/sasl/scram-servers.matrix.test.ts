// SASL against a real Prosody 0.12 on 127.0.0.1 (direct TLS, XEP-0368): SCRAM-SHA-1-PLUS and
// SCRAM-SHA-256-PLUS with tls-unique under TLS 1.2, SCRAM-SHA-256 with flag 'y' under TLS 1.3,
// the server signature checked, the key cache and config keys on re-login. A minimal raw
// client, so only the SASL code is under test. Prosody is killed by PID even on failure.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { isXiotaError } from '../../agent/errors';
import { x } from '../../agent/xml/element';
import { channelBindingFromTls } from '../../agent/sasl/channel-binding';
import { saslFailureMessage, NS_SASL } from '../../agent/sasl/failure';
import { ScramMechanism } from '../../agent/sasl/scram';
import { deriveScramKeys, ScramKeyCache } from '../../agent/sasl/scram-keys';
import { selectMechanism } from '../../agent/sasl/select';
import type { Credentials, ScramKeys } from '../../agent/sasl/types';

const dir = mkdtempSync(join(tmpdir(), 'xiota-sasl-prosody-'));
let prosody: ChildProcess | undefined;
let tlsPort = 0;
const cfgFile = join(dir, 'prosody.cfg.lua');
const caFile = join(dir, 'cert.pem');

function cleanup(): void {
  if (prosody?.pid && prosody.exitCode === null) { try { process.kill(prosody.pid, 'SIGKILL'); } catch { /* gone */ } }
  rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanup);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as AddressInfo).port; s.close(() => resolve(p)); });
  });
}

async function waitPort(port: number, ms: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((r) => { const c = tcpConnect(port, '127.0.0.1'); c.once('connect', () => { c.destroy(); r(true); }); c.once('error', () => r(false)); });
    if (ok) return;
    if (Date.now() - t0 > ms) throw new Error(`prosody did not listen on ${port} within ${ms} ms: ${readFileSync(join(dir, 'prosody.log'), 'utf8').slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test.before(async () => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:sha1.test,DNS:sha256.test,DNS:localhost,IP:127.0.0.1',
    '-keyout', join(dir, 'key.pem'), '-out', caFile], { stdio: 'ignore' });
  mkdirSync(join(dir, 'certs'));
  mkdirSync(join(dir, 'data'));
  for (const h of ['sha1.test', 'sha256.test']) {
    copyFileSync(caFile, join(dir, 'certs', `${h}.crt`));
    copyFileSync(join(dir, 'key.pem'), join(dir, 'certs', `${h}.key`));
  }
  const c2s = await freePort();
  tlsPort = await freePort();
  writeFileSync(cfgFile, `
run_as_root = true
pidfile = "${dir}/prosody.pid"
data_path = "${dir}/data"
certificates = "${dir}/certs"
ssl = { certificate = "${caFile}", key = "${dir}/key.pem" }
interfaces = { "127.0.0.1" }
c2s_ports = { ${c2s} }
c2s_direct_tls_ports = { ${tlsPort} }
s2s_ports = {}
http_ports = {}
https_ports = {}
c2s_require_encryption = true
log = { info = "${dir}/prosody.log" }
modules_enabled = { "roster", "saslauth", "tls", "disco", "ping", "posix" }
authentication = "internal_hashed"
VirtualHost "sha1.test"
VirtualHost "sha256.test"
  password_hash = "SHA-256"
`);
  prosody = spawn('prosody', ['--config', cfgFile, '-F'], { stdio: 'ignore' });
  await waitPort(tlsPort, 10_000);
  for (const h of ['sha1.test', 'sha256.test']) execFileSync('prosodyctl', ['--config', cfgFile, 'register', 'dev', h, 'p\u00E4ss w,rd='], { stdio: 'ignore' });
});

test.after(() => {
  if (prosody?.pid && prosody.exitCode === null) process.kill(prosody.pid, 'SIGKILL');
});

/** Reads the socket as text and hands out the first match of a pattern. */
class Wire {
  private buf = '';
  private waiters: (() => void)[] = [];
  constructor(readonly sock: TLSSocket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => { this.buf += d; for (const w of this.waiters.splice(0)) w(); });
    sock.on('close', () => { for (const w of this.waiters.splice(0)) w(); });
  }
  async next(re: RegExp, ms = 5000): Promise<RegExpExecArray> {
    const t0 = Date.now();
    for (;;) {
      const m = re.exec(this.buf);
      if (m) { this.buf = this.buf.slice(m.index + m[0].length); return m; }
      if (this.sock.destroyed || Date.now() - t0 > ms) throw new Error(`no ${re} in ${JSON.stringify(this.buf)}`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 200); });
    }
  }
}

interface LoginResult { mechanism: string; cb?: string; gs2: string; keys?: ScramKeys }

async function login(host: string, tlsVersion: 'TLSv1.2' | 'TLSv1.3', creds: Credentials, keyCache?: ScramKeyCache, tamperCb = false): Promise<LoginResult> {
  const sock = connect({ host: '127.0.0.1', port: tlsPort, servername: host, ca: readFileSync(caFile), minVersion: tlsVersion, maxVersion: tlsVersion });
  await new Promise<void>((res, rej) => { sock.once('secureConnect', res); sock.once('error', rej); });
  const wire = new Wire(sock);
  try {
    sock.write(`<?xml version='1.0'?><stream:stream to='${host}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
    const feats = (await wire.next(/<stream:features[\s\S]*?<\/stream:features>/))[0];
    const offered = [...feats.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1]!);
    const cb = channelBindingFromTls(sock, undefined);
    if (tamperCb && cb.tlsUnique) cb.tlsUnique = Buffer.alloc(cb.tlsUnique.length);
    const mech = selectMechanism(offered, creds, { secure: true, allowPlain: false, hasClientCert: false, cb, keyCache });
    const initial = (await mech.initialResponse())!;
    sock.write(x('auth', { xmlns: NS_SASL, mechanism: mech.name }, initial.toString('base64')).toString());
    for (;;) {
      const m = await wire.next(/<(challenge|success|failure)\b[^>]*?(?:\/>|>([\s\S]*?)<\/\1>)/);
      const data = m[2] && m[2] !== '=' && !m[2].includes('<') ? Buffer.from(m[2], 'base64') : null;
      if (m[1] === 'challenge') {
        const answer = await mech.challenge(data ?? Buffer.alloc(0));
        sock.write(x('response', { xmlns: NS_SASL }, answer.toString('base64')).toString());
      } else if (m[1] === 'success') {
        mech.success(data);
        const scram = mech instanceof ScramMechanism ? mech : undefined;
        return { mechanism: mech.name, cb: scram?.channelBinding, gs2: initial.toString().split(',n=')[0]!, keys: scram?.keys };
      } else {
        const cond = /<([a-z-]+)\/>/.exec(m[2] ?? '')?.[1] ?? '';
        throw saslFailureMessage(x('failure', { xmlns: NS_SASL }, cond ? x(cond) : null));
      }
    }
  } finally {
    sock.destroy();
  }
}

const creds: Credentials = { username: 'dev', password: 'p\u00E4ss w,rd=' };

test('TLS 1.2: SCRAM-SHA-1-PLUS with tls-unique, server signature verified', async () => {
  const r = await login('sha1.test', 'TLSv1.2', creds);
  assert.is(r.mechanism, 'SCRAM-SHA-1-PLUS');
  assert.is(r.cb, 'tls-unique');
  assert.is(r.gs2, 'p=tls-unique,');
});

test('TLS 1.2: SCRAM-SHA-256-PLUS with tls-unique', async () => {
  const r = await login('sha256.test', 'TLSv1.2', creds);
  assert.is(r.mechanism, 'SCRAM-SHA-256-PLUS');
  assert.is(r.cb, 'tls-unique');
});

test('TLS 1.3: Prosody offers no -PLUS, we send y and it accepts', async () => {
  const r = await login('sha256.test', 'TLSv1.3', creds);
  assert.is(r.mechanism, 'SCRAM-SHA-256');
  assert.is(r.gs2, 'y,');
});

test('a wrong password ends in not-authorized with advice', async () => {
  try {
    await login('sha1.test', 'TLSv1.3', { username: 'dev', password: 'wrong' });
    assert.unreachable();
  } catch (e) {
    assert.ok(isXiotaError(e, 'XIOTA_E_SASL_AUTH'), String(e));
    assert.is(e.detail.condition, 'not-authorized');
    assert.match(e.message, /check the JID and password/);
  }
});

test('the server checks the binding: wrong tls-unique data is refused', async () => {
  try {
    await login('sha1.test', 'TLSv1.2', creds, undefined, true);
    assert.unreachable();
  } catch (e) {
    assert.ok(isXiotaError(e, 'XIOTA_E_SASL_AUTH'), String(e));
  }
});

test('re-login uses cached keys (no PBKDF2), and saved keys work without the password', async () => {
  let derived = 0;
  const cache = new ScramKeyCache({ derive: (h, p, s, i) => { derived++; return deriveScramKeys(h, p, s, i); } });
  const first = await login('sha256.test', 'TLSv1.2', creds, cache);
  assert.is(derived, 1);
  await login('sha256.test', 'TLSv1.3', creds, cache);
  assert.is(derived, 1);
  const r = await login('sha256.test', 'TLSv1.2', { username: 'dev', scramKeys: [first.keys!] });
  assert.is(r.mechanism, 'SCRAM-SHA-256-PLUS');
});

test.run();
