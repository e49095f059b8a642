// Self-test of the Prosody harness every integration test stands on: it starts, its TLS
// verifies against caFile for the host, accounts registered with prosodyctl log in, it
// restarts on the same ports and data after stop and after SIGKILL, variants (no STARTTLS,
// SHA-256) configure what they claim, and it leaves no process behind.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { startProsody, ensureProsodyInstalled, type ProsodyServer } from '../../scripts/local-prosody';
import { canConnect } from '../servers/process';
import { alive, openStream, plainAuth, rawTcp, rawTls } from './_raw';

const t = suite('prosody harness');
const started: ProsodyServer[] = [];
let srv: ProsodyServer;

async function start(opts: Parameters<typeof startProsody>[0]): Promise<ProsodyServer> {
  const s = await startProsody(opts);
  started.push(s);
  return s;
}

/** PLAIN login over direct TLS (XEP-0368); resolves with the server's SASL answer. */
async function login(s: ProsodyServer, user: string, pass: string): Promise<'success' | 'failure'> {
  const c = await rawTls(s.directTlsPort, { ca: readFileSync(s.caFile), servername: s.host });
  try {
    c.write(openStream(s.host));
    const features = await c.until(/<\/stream:features>/);
    assert.match(features, /<mechanism>PLAIN<\/mechanism>/);
    c.write(plainAuth(user, pass));
    const answer = await c.until(/<success|<failure[\s\S]*<\/failure>/);
    return answer.includes('<success') ? 'success' : 'failure';
  } finally {
    c.close();
  }
}

t.before(async () => {
  srv = await start({ users: [{ user: 'dev', password: 'devpass' }] });
});

t.after(async () => {
  for (const s of started) await s.cleanup();
});

t('starts a live prosody on loopback ports with its log in its dir', async () => {
  assert.ok(srv.pid && alive(srv.pid), 'prosody PID alive');
  assert.is(srv.host, 'xiota.test');
  assert.ok(await canConnect(srv.c2sPort));
  assert.ok(existsSync(srv.logFile));
  assert.match(readFileSync(srv.logFile, 'utf8'), new RegExp(`Activated service 'c2s' on \\[127\\.0\\.0\\.1\\]:${srv.c2sPort}`));
  assert.match(readFileSync(srv.configFile, 'utf8'), /Component "pubsub\.xiota\.test" "pubsub"/);
});

t('direct TLS verifies against caFile for the host, and the SPKI pin matches', async () => {
  const c = await rawTls(srv.directTlsPort, { ca: readFileSync(srv.caFile), servername: srv.host });
  const sock = c.sock as TLSSocket;
  assert.ok(sock.authorized, `authorized (${String(sock.authorizationError)})`);
  const x509 = sock.getPeerX509Certificate()!;
  const spki = x509.publicKey.export({ type: 'spki', format: 'der' });
  assert.is(createHash('sha256').update(spki).digest('base64'), srv.spkiSha256);
  // The certificate names the host and its subdomains, and nothing else.
  assert.is(x509.checkHost('pubsub.xiota.test'), '*.xiota.test');
  assert.is(x509.checkIP('127.0.0.1'), '127.0.0.1');
  assert.is(x509.checkHost('other.example'), undefined);
  c.close();
  // Prosody answers an SNI it does not host with a fatal unrecognized_name alert (RFC 6066 3).
  let sniErr: Error | undefined;
  try {
    (await rawTls(srv.directTlsPort, { ca: readFileSync(srv.caFile), servername: 'other.example' })).close();
  } catch (e) {
    sniErr = e as Error;
  }
  assert.match(String(sniErr), /unrecognized name/);
});

t('c2s port requires STARTTLS before offering SASL (RFC 6120 5.3.1)', async () => {
  const c = await rawTcp(srv.c2sPort);
  c.write(openStream(srv.host));
  const features = await c.until(/<\/stream:features>/);
  c.close();
  assert.match(features, /<starttls xmlns=['"]urn:ietf:params:xml:ns:xmpp-tls['"]><required\/><\/starttls>/);
  assert.not.match(features, /<mechanisms/);
});

t('registered account logs in; a wrong password does not', async () => {
  assert.is(await login(srv, 'dev', 'devpass'), 'success');
  assert.is(await login(srv, 'dev', 'wrong'), 'failure');
  assert.is(await login(srv, 'nobody', 'devpass'), 'failure');
});

t('register() works while the server runs', async () => {
  await srv.register('late', 'latepass');
  assert.is(await login(srv, 'late', 'latepass'), 'success');
});

t('stop() ends the process; start() comes back on the same ports with the same data', async () => {
  const { c2sPort, directTlsPort } = srv;
  const pid1 = srv.pid!;
  await srv.stop();
  assert.not.ok(alive(pid1), 'old prosody gone');
  assert.is(srv.pid, undefined);
  assert.not.ok(await canConnect(c2sPort), 'port closed after stop');
  await srv.start();
  assert.ok(srv.pid && srv.pid !== pid1 && alive(srv.pid));
  assert.is(srv.c2sPort, c2sPort);
  assert.is(srv.directTlsPort, directTlsPort);
  assert.is(await login(srv, 'late', 'latepass'), 'success');
});

t('kill() is a crash (SIGKILL) and start() recovers over the stale pidfile', async () => {
  const pid1 = srv.pid!;
  await srv.kill();
  assert.not.ok(alive(pid1));
  await srv.start();
  assert.ok(srv.pid && alive(srv.pid));
  assert.is(await login(srv, 'dev', 'devpass'), 'success');
});

t('offerStartTls:false gives a server with no STARTTLS and plain auth in the clear', async () => {
  const p = await start({ offerStartTls: false, users: [{ user: 'dev', password: 'devpass' }] });
  const c = await rawTcp(p.c2sPort);
  c.write(openStream(p.host));
  const features = await c.until(/<\/stream:features>/);
  assert.not.match(features, /starttls/);
  assert.match(features, /<mechanism>PLAIN<\/mechanism>/);
  c.write(plainAuth('dev', 'devpass'));
  assert.match(await c.until(/<success|<failure/), /<success/);
  c.close();
});

t('passwordHash SHA-256 offers SCRAM-SHA-256', async () => {
  const p = await start({ passwordHash: 'SHA-256' });
  const c = await rawTls(p.directTlsPort, { ca: readFileSync(p.caFile), servername: p.host });
  c.write(openStream(p.host));
  const features = await c.until(/<\/stream:features>/);
  c.close();
  assert.match(features, /<mechanism>SCRAM-SHA-256<\/mechanism>/);
});

t('a broken config fails fast with the tail of prosody\'s log in the error', async () => {
  let err: Error | undefined;
  const t0 = Date.now();
  try {
    await start({ extraConfig: 'this is not lua ((' });
  } catch (e) {
    err = e as Error;
  }
  assert.ok(err, 'startProsody rejected');
  assert.match(err!.message, /prosody exited before port \d+ was ready/);
  assert.match(err!.message, /log tail/);
  assert.ok(Date.now() - t0 < 10_000, 'did not wait for the full timeout');
});

t('missing prosody: a clear error naming the fix (never a skip)', () => {
  const path = process.env.PATH;
  const getuid = process.getuid;
  process.env.PATH = '/nonexistent';
  process.getuid = () => 1000; // as a non-root user, no auto-install
  try {
    assert.throws(() => ensureProsodyInstalled({ ci: true }), /not installed \(CI: this is a failure, not a skip\)\. Install it with: sudo apt-get install prosody/);
  } finally {
    process.env.PATH = path;
    process.getuid = getuid;
  }
});

t('cleanup() leaves no prosody behind', async () => {
  const pids = started.map((s) => s.pid).filter((p): p is number => p !== undefined);
  assert.ok(pids.length >= 3);
  for (const s of started) await s.cleanup();
  for (const pid of pids) assert.not.ok(alive(pid), `pid ${pid} gone`);
  for (const s of started) assert.not.ok(existsSync(s.dir));
  started.length = 0;
});

t.run();
