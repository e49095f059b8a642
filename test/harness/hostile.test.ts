// Self-test of the hostile-server fixture: a raw client walks the fake server's STARTTLS,
// SASL PLAIN and bind, then receives the script's hostile bytes; direct TLS works too, bad
// credentials get <failure/>, and reconnections are counted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { makeSelfSignedCert, type SelfSignedCert } from '../../scripts/certs';
import { startHostileServer, type HostileServer } from '../servers/hostile';
import { playXmppUntilBound, type BoundSession } from '../servers/fake-xmpp';
import { openStream, plainAuth, Raw, rawTcp, rawTls } from './_raw';

const DOMAIN = 'xiota.test';
const HOSTILE = '<message><body>&laugh;</body></message>';
let dir: string;
let cert: SelfSignedCert;
const servers: HostileServer[] = [];

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'xiota-hostile-'));
  cert = await makeSelfSignedCert(dir, DOMAIN);
});

test.after(async () => {
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function upgrade(raw: Raw): Promise<Raw> {
  raw.sock.removeAllListeners('data');
  const sock = await new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect({ socket: raw.sock, ca: readFileSync(cert.caFile), servername: DOMAIN }, () => resolve(s));
    s.once('error', reject);
  });
  assert.ok(sock.authorized, 'fixture TLS verifies against the cert');
  return new Raw(sock);
}

/** The client side up to a bound resource, as a well-behaved client would do it. */
async function clientLogin(c: Raw, pass = 'pw'): Promise<{ c: Raw; jid: string }> {
  c.write(openStream(DOMAIN));
  assert.match(await c.until(/<\/stream:features>/), /<mechanism>PLAIN<\/mechanism>/);
  c.write(plainAuth('dev', pass));
  const answer = await c.until(/<success[^>]*\/>|<\/failure>/);
  if (!answer.includes('<success')) throw new Error('auth failed: ' + answer);
  c.write(openStream(DOMAIN));
  assert.match(await c.until(/<\/stream:features>/), /<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'\/>/);
  c.write(`<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>sensor</resource></bind></iq>`);
  const bound = await c.until(/<\/iq>/);
  assert.match(bound, /id='b1'/);
  return { c, jid: /<jid>([^<]+)<\/jid>/.exec(bound)![1] };
}

test('starttls mode: STARTTLS, PLAIN, bind, then the script sends hostile bytes', async () => {
  const sessions: BoundSession[] = [];
  const srv = await startHostileServer({
    tls: 'starttls', cert,
    script: async (conn) => {
      sessions.push(await playXmppUntilBound(conn, { domain: DOMAIN }));
      await conn.write(HOSTILE);
    },
  });
  servers.push(srv);
  let c = await rawTcp(srv.port);
  c.write(openStream(DOMAIN));
  const features = await c.until(/<\/stream:features>/);
  assert.match(features, /<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required\/><\/starttls>/);
  c.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`);
  assert.match(await c.until(/<proceed[^>]*\/>/), /<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'\/>/);
  c = await upgrade(c);
  const { jid } = await clientLogin(c);
  assert.is(jid, 'dev@xiota.test/sensor');
  assert.is(await c.until(/<\/message>/), HOSTILE);
  assert.equal(sessions, [{ user: 'dev', password: 'pw', resource: 'sensor', jid: 'dev@xiota.test/sensor' }]);
  assert.is(srv.connections, 1);
  c.close();
  // A reconnect is counted, so a test can assert the agent came back.
  const again = await rawTcp(srv.port);
  await srv.waitForConnections(2, 2000);
  assert.is(srv.connections, 2);
  again.close();
  assert.equal(srv.errors, []);
});

test('direct mode: TLS from the first byte (XEP-0368)', async () => {
  const srv = await startHostileServer({
    tls: 'direct', cert,
    script: async (conn) => {
      assert.ok(conn.tls);
      await playXmppUntilBound(conn, { domain: DOMAIN });
      await conn.write(HOSTILE);
      conn.end();
    },
  });
  servers.push(srv);
  const c = await rawTls(srv.port, { ca: readFileSync(cert.caFile), servername: DOMAIN });
  assert.ok((c.sock as TLSSocket).authorized);
  await clientLogin(c);
  assert.is(await c.until(/<\/message>/), HOSTILE);
  c.close();
});

test('rejected credentials get <not-authorized/>; script errors are recorded, not thrown', async () => {
  const srv = await startHostileServer({
    tls: 'direct', cert,
    script: (conn) => playXmppUntilBound(conn, { domain: DOMAIN, checkCredentials: (u, p) => u === 'dev' && p === 'right' }).then(() => {}),
  });
  servers.push(srv);
  const c = await rawTls(srv.port, { ca: readFileSync(cert.caFile), servername: DOMAIN });
  let err: unknown;
  try { await clientLogin(c, 'wrong'); } catch (e) { err = e; }
  assert.match(String(err), /not-authorized/);
  // The script now waits for another <auth/>; a readUntil timeout would land in errors.
  c.close();
  const broken = await startHostileServer({ tls: 'none', script: async (conn) => { await conn.readUntil('never', 100); } });
  servers.push(broken);
  const d = await rawTcp(broken.port);
  d.write('<junk/>');
  for (let i = 0; i < 100 && broken.errors.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.is(broken.errors.length, 1);
  assert.match(broken.errors[0].message, /no never within 100 ms; unconsumed input: "<junk\/>"/);
  d.close();
});

test('tls modes without a cert are refused up front', async () => {
  let err: unknown;
  try { await startHostileServer({ tls: 'starttls', script: () => {} }); } catch (e) { err = e; }
  assert.match(String(err), /needs cert/);
});

test.run();
