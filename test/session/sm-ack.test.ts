// XEP-0198 on a scripted server. (1) The server's <r/> is answered with <a h/> at once, h counting the stanzas that
// arrived. At once matters: a late <a/> leaves the server's next segment waiting behind a
// delayed TCP ACK and Nagle (measured with bench/publish.js: p50 latency 2 -> 13 ms).
// (2) A resumed stream on which the server then answers nothing is given up for a new session
// (Prosody 0.12 can resume a session into a parser stuck inside an unfinished stanza).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { XmppClient } from '../../agent/session/client';
import { makeSelfSignedCert, type SelfSignedCert } from '../../scripts/certs';
import { acceptStream, NS, playXmppUntilAuthenticated, playXmppUntilSmEnabled } from '../servers/fake-xmpp';
import { startHostileServer, type HostileConn, type HostileServer } from '../servers/hostile';
import { x } from '../../agent/xml/element';
import { fixtureClient, waitFor } from './_helpers';

const DOMAIN = 'xiota.test';
const SM = 'urn:xmpp:sm:3';
let dir: string;
let cert: SelfSignedCert;
const servers: HostileServer[] = [];
const clients: XmppClient[] = [];

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'xiota-smack-'));
  cert = await makeSelfSignedCert(dir, DOMAIN);
});
test.after(async () => {
  for (const c of clients) await c.stop().catch(() => undefined);
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A bound client with SM enabled on the fixture; returns the server side of the stream. */
async function session(): Promise<{ c: XmppClient; conn: HostileConn }> {
  let got!: (c: HostileConn) => void;
  const ready = new Promise<HostileConn>((r) => (got = r));
  const srv = await startHostileServer({
    tls: 'starttls',
    cert,
    script: async (conn) => {
      await playXmppUntilSmEnabled(conn, { domain: DOMAIN });
      got(conn);
      await conn.closed;
    },
  });
  servers.push(srv);
  const c = fixtureClient(srv.port, cert.caFile);
  clients.push(c);
  c.start();
  const conn = await ready;
  await waitFor('online', () => c.state === 'online');
  return { c, conn };
}

test('an <r/> is answered at once, with h counting the stanzas that arrived', async () => {
  const { conn } = await session();
  await conn.write(`<message xmlns='jabber:client' from='a@${DOMAIN}' type='chat'><body>1</body></message><message xmlns='jabber:client' from='a@${DOMAIN}' type='chat'><body>2</body></message><r xmlns='${SM}'/>`);
  const t0 = Date.now();
  const a = await conn.readUntil(/<a\b[^>]*\/>/, 5000);
  const waited = Date.now() - t0;
  assert.match(a, /h=['"]2['"]/);
  assert.ok(waited < 200, `answered after ${waited} ms`);
  await conn.write(`<message xmlns='jabber:client' from='a@${DOMAIN}' type='chat'><body>3</body></message><r xmlns='${SM}'/>`);
  assert.match(await conn.readUntil(/<a\b[^>]*\/>/, 5000), /h=['"]3['"]/);
});

test('a resumed stream the server never answers on: the next connection binds a new session and resends', async () => {
  const conns: HostileConn[] = [];
  const srv = await startHostileServer({
    tls: 'starttls',
    cert,
    script: async (conn) => {
      conns.push(conn);
      if (conn.index === 2) {
        // Accepts the resumption, then reads everything and answers nothing.
        await playXmppUntilAuthenticated(conn, { domain: DOMAIN });
        await acceptStream(conn, DOMAIN, `<bind xmlns='${NS.bind}'/><sm xmlns='${SM}'/>`);
        await conn.readUntil(/<resume\b[^>]*\/>/);
        await conn.write(`<resumed xmlns='${SM}' h='0' previd='sm-1'/>`);
      } else {
        await playXmppUntilSmEnabled(conn, { domain: DOMAIN }, `sm-${conn.index}`);
      }
      await conn.closed;
    },
  });
  servers.push(srv);
  const c = fixtureClient(srv.port, cert.caFile, { pingIntervalMs: 300, pingTimeoutMs: 500, reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
  clients.push(c);
  const online: boolean[] = [];
  c.on('online', (info: { resumed: boolean }) => online.push(info.resumed));
  c.start();
  await waitFor('online', () => c.state === 'online');
  await conns[0]!.readUntil(/<r\b[^>]*\/>|<enable\b/, 1000).catch(() => undefined);
  c.dropConnection();
  await waitFor('resumed on connection 2', () => online.length === 2, 5000);
  c.send(x('message', { to: `a@${DOMAIN}`, type: 'chat' }, x('body', {}, 'kept')));
  await waitFor('connection 3 online', () => online.length === 3 && conns.length === 3, 10_000);
  assert.equal(online, [false, true, false], 'resumed once, then a new session');
  await conns[2]!.readUntil(/<body>kept<\/body>/, 3000);
  assert.not.match(conns[2]!.received, /<resume\b/, 'connection 3 did not try to resume');
});

test.run();
