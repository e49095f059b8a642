// XEP-0198 on a scripted server. (1) The server's <r/> is answered with <a h/>, h counting the stanzas that
// arrived: at once under load (an <r/> within 250 ms of the previous one), since a late <a/>
// then leaves the server's next segment waiting behind a delayed TCP ACK and Nagle (measured
// with bench/publish.js: p50 latency 2 -> 13 ms). On a quiet link it is due only after 16
// more stanzas from the server or ackLazyMs (servers ask nothing more until answered, so one
// <r/>/<a/> pair covers many readings: bench/wire.js), and then rides with our next stanza or
// goes alone within 2 s; a stanza of ours within 50 ms of the <r/> takes it along. A server
// streaming pushes to us is never a quiet link: deferring there stalled a subscriber 35 ms
// every 2 s.
// (2) Two resumed streams in a row on which the server then answers nothing: the session is
// given up for a new one (Prosody 0.12 can resume a session into a parser stuck inside an
// unfinished stanza; one silent resumption alone may be a stall: resume-silence.test.ts).
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
async function session(extra: Parameters<typeof fixtureClient>[2] = {}): Promise<{ c: XmppClient; conn: HostileConn }> {
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
  const c = fixtureClient(srv.port, cert.caFile, extra);
  clients.push(c);
  c.start();
  const conn = await ready;
  await waitFor('online', () => c.state === 'online');
  return { c, conn };
}

const msg = (n: number) => `<message xmlns='jabber:client' from='a@${DOMAIN}' type='chat'><body>${n}</body></message>`;
/** A chat message of ours with this body. */
const ours = (c: XmppClient, body: string) => c.send(x('message', { to: `a@${DOMAIN}`, type: 'chat' }, x('body', {}, body)));

test('an <r/> is answered with h counting the stanzas that arrived: on a quiet link after 16 more stanzas or ackLazyMs, with our next stanza; at once with an iq unanswered', async () => {
  const { c, conn } = await session();
  // Quiet link (first <r/>): not answered alone, nor with our next stanza (not due yet).
  await conn.write(`${msg(1)}${msg(2)}<r xmlns='${SM}'/>`);
  await new Promise((r) => setTimeout(r, 300));
  ours(c, 'mine-1');
  assert.not.match(await conn.readUntil(/<body>mine-1<\/body>/, 5000), /<a\b/, 'no <a/> before 16 more stanzas');
  // 16 more stanzas, slower than a push stream (one per 60 ms): now due, it rides with our next stanza.
  for (let i = 3; i <= 18; i++) {
    await conn.write(msg(i));
    await new Promise((r) => setTimeout(r, 60));
  }
  await new Promise((r) => setTimeout(r, 100));
  assert.not.match(conn.received, /<a\b/, 'a due <a/> waits for a stanza of ours');
  ours(c, 'mine-2');
  const got = await conn.readUntil(/<body>mine-2<\/body>/, 5000);
  assert.match(got, /<a\b[^>]*h=['"]18['"][^>]*\/>\s*<message\b/, 'the <a/> right before our message');
  assert.is(got.match(/<a\b/g)?.length, 1, 'one <a/>');
  // Readings often (an <r/> 100 ms after the previous), nothing of ours unanswered: the server
  // has nothing to send until our next stanza, so the <a/> rides with it at once (no lone write).
  await new Promise((r) => setTimeout(r, 300));
  await conn.write(`<r xmlns='${SM}'/>`);
  await new Promise((r) => setTimeout(r, 100));
  const mark = conn.received.length;
  await conn.write(`${msg(19)}<r xmlns='${SM}'/>`);
  await new Promise((r) => setTimeout(r, 60));
  ours(c, 'mine-3');
  await conn.readUntil(/<body>mine-3<\/body>/, 5000);
  const rode = conn.received.slice(mark);
  assert.match(rode, /^<a\b[^>]*h=['"]19['"][^>]*\/>\s*<message\b/, 'nothing alone, then the <a/> right before our message: ' + rode);
  // An iq of ours unanswered: the <r/> is answered at once (the server's answer to it would
  // otherwise wait behind our delayed TCP ACK under Nagle).
  const ping = c.iq(x('iq', { type: 'get', to: DOMAIN }, x('ping', { xmlns: 'urn:xmpp:ping' })), 5000).catch(() => undefined);
  const req = await conn.readUntil(/<iq\b[^>]*type=['"]get['"][^>]*>/, 5000);
  const id = /id=['"]([^'"]+)['"]/.exec(req.slice(req.lastIndexOf('<iq')))![1];
  const before = conn.received.length;
  await conn.write(`${msg(20)}<r xmlns='${SM}'/>`);
  const t0 = Date.now();
  await waitFor('the <a/>', () => /<a\b[^>]*h=['"]20['"]/.test(conn.received.slice(before)), 5000, 5);
  const waited = Date.now() - t0;
  assert.ok(waited < 200, `answered after ${waited} ms`);
  await conn.write(`<iq type='result' id='${id}' from='${DOMAIN}'/>`);
  await ping;
});

test('a quiet link\'s <a/> is due after ackLazyMs, then goes alone within 2 s when we send nothing; a stanza of ours right after the <r/> takes it along', async () => {
  const { c, conn } = await session({ ackLazyMs: 500 });
  await conn.write(`${msg(1)}<r xmlns='${SM}'/>`);
  const t0 = Date.now();
  assert.match(await conn.readUntil(/<a\b[^>]*\/>/, 5000), /h=['"]1['"]/);
  const late = Date.now() - t0;
  assert.ok(late >= 2000 && late < 3500, `alone after ${late} ms (500 ms to due, then up to 2 s for a stanza to ride with)`);
  // A stanza of ours within 50 ms of a deferred <r/>: the server's answer to it might wait
  // behind our delayed TCP ACK under Nagle, so the <a/> goes along.
  await new Promise((r) => setTimeout(r, 400));
  // Our message goes right after the client has read msg 2 and the <r/> behind it (one chunk).
  c.on('stanza', (el) => {
    if (el.getChildText('body') === '2') setImmediate(() => ours(c, 'soon'));
  });
  await conn.write(`${msg(2)}<r xmlns='${SM}'/>`);
  assert.match(await conn.readUntil(/<body>soon<\/body>/, 5000), /<a\b[^>]*h=['"]2['"][^>]*\/>\s*<message\b/);
});

test('a server streaming pushes to us (a subscriber\'s notifications): a deferred <a/> goes at once, and the next <r/> is answered at once', async () => {
  const { conn } = await session();
  // The first <r/> finds a quiet link: its <a/> is deferred.
  await conn.write(`${msg(1)}<r xmlns='${SM}'/>`);
  await new Promise((r) => setTimeout(r, 100));
  assert.not.match(conn.received, /<a\b/);
  // Then the server streams notifications, 10 ms apart; like Prosody, it asks nothing more
  // until its <r/> is answered.
  const t0 = Date.now();
  for (let i = 2; i <= 21; i++) {
    await conn.write(msg(i));
    await new Promise((r) => setTimeout(r, 10));
  }
  const first = await conn.readUntil(/<a\b[^>]*\/>/, 5000);
  // Pushes since the <r/> more often than one per 50 ms on average: the third, 120 ms after it.
  const h = Number(/h=['"](\d+)['"]/.exec(first)?.[1]);
  assert.ok(h >= 2 && h <= 6, `answered at h=${h}: at the first pushes, not held for the whole stream`);
  assert.ok(Date.now() - t0 < 2000);
  // Prosody asks again as soon as that <a/> arrives, with the next notification behind it.
  // Not a quiet link: answered at once, so our TCP ACK does not hold the server's next
  // segment for the delayed-ACK time.
  const seen = conn.received.length;
  await conn.write(`${msg(22)}<r xmlns='${SM}'/>`);
  const t1 = Date.now();
  await waitFor('the next <a/>', () => /<a\b[^>]*h=['"]22['"]/.test(conn.received.slice(seen)), 5000, 5);
  const waited = Date.now() - t1;
  assert.ok(waited < 200, `answered after ${waited} ms (deferred: the stream's next notification would wait behind our delayed ACK)`);
});

test('resumed streams the server never answers on, twice in a row: the next connection binds a new session and resends', async () => {
  const conns: HostileConn[] = [];
  const srv = await startHostileServer({
    tls: 'starttls',
    cert,
    script: async (conn) => {
      conns.push(conn);
      if (conn.index === 2 || conn.index === 3) {
        // Accepts the resumption, then reads everything and answers nothing (a stuck parser, every time).
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
  ours(c, 'kept');
  await waitFor('connection 4 online', () => online.length === 4 && conns.length === 4, 10_000);
  assert.equal(online, [false, true, true, false], 'resumed twice, then a new session');
  await conns[3]!.readUntil(/<body>kept<\/body>/, 3000);
  assert.not.match(conns[3]!.received, /<resume\b/, 'connection 4 did not try to resume');
});

test.run();
