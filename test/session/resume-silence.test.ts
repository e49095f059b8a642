// XEP-0198 5 on a scripted server: a resumed stream on which the server sends nothing after
// <resumed/> until the keepalive gives up. A link that stalls right after a resumption, before
// the server's first answer, looks exactly like that, and so does Prosody 0.12 resuming into a
// parser stuck inside a cut stanza (sm-ack.test.ts covers that case: two silent resumptions in
// a row, then a new session). A single silent resumed stream must be resumed again, not traded
// for a new session: the new session would resend every unacked stanza the old one had already
// handled, and the peer would get them twice (the flaky duplicates of resilience.matrix under load).
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
  dir = mkdtempSync(join(tmpdir(), 'xiota-silence-'));
  cert = await makeSelfSignedCert(dir, DOMAIN);
});
test.after(async () => {
  for (const c of clients) await c.stop().catch(() => undefined);
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Accepts the resumption of sm-1; `answer`: then answers every <r/> (a live link), else sends nothing more (a stall). */
async function playResume(conn: HostileConn, answer: boolean): Promise<void> {
  await playXmppUntilAuthenticated(conn, { domain: DOMAIN });
  await acceptStream(conn, DOMAIN, `<bind xmlns='${NS.bind}'/><sm xmlns='${SM}'/>`);
  await conn.readUntil(/<resume\b[^>]*\/>/);
  await conn.write(`<resumed xmlns='${SM}' h='0' previd='sm-1'/>`);
  if (!answer) return;
  for (;;) {
    const got = await conn.readUntil(/<r\b[^>]*\/>/, 20_000).catch(() => undefined);
    if (got === undefined) return;
    await conn.write(`<a xmlns='${SM}' h='0'/>`);
  }
}

test('a stall right after <resumed/> (no server byte): the next connection resumes again, no new session, nothing sent twice', async () => {
  // Connection 1: a new SM session. 2: resumed, then silent (the stall). 3: resumed and
  // answered. 4: resumed, silent again (a second stall, not in a row with 2). 5: resumed.
  const silent = new Set([2, 4]);
  const conns: HostileConn[] = [];
  const srv = await startHostileServer({
    tls: 'starttls',
    cert,
    script: async (conn) => {
      conns.push(conn);
      if (conn.index === 1) await playXmppUntilSmEnabled(conn, { domain: DOMAIN }, 'sm-1');
      else await playResume(conn, !silent.has(conn.index));
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
  await conns[0]!.readUntil(/<enable\b/, 1000).catch(() => undefined);
  c.dropConnection();
  await waitFor('resumed on connection 2', () => online.length === 2, 5000);
  c.send(x('message', { to: `a@${DOMAIN}`, type: 'chat' }, x('body', {}, 'kept')));
  // Connection 2 never answers: the probe times out and the agent reconnects on its own.
  await waitFor('connection 3 online', () => online.length === 3 && conns.length === 3, 10_000);
  assert.equal(online, [false, true, true], 'a silent resumed stream is resumed once more');
  // Read from `received`, not readUntil: the script is reading this connection (one reader at a time).
  await waitFor('the unacked message resent on connection 3', () => /<body>kept<\/body>/.test(conns[2]!.received), 3000);
  assert.match(conns[2]!.received, /<resume\b[^>]*previd=['"]sm-1['"]/, 'connection 3 resumed sm-1');
  assert.not.match(conns[2]!.received, /<enable\b|<bind\b/, 'connection 3 started no new session');
  // Connection 3 was answered, so a later silent resumption counts from zero again.
  await new Promise((r) => setTimeout(r, 700));
  assert.is(online.length, 3, 'an answered resumed stream stays up');
  c.dropConnection();
  await waitFor('connection 5 online', () => online.length === 5 && conns.length === 5, 10_000);
  assert.equal(online, [false, true, true, true, true], 'a silent resumption after an answered one is resumed again');
  assert.not.match(conns[4]!.received, /<enable\b|<bind\b/, 'connection 5 started no new session');
  await waitFor('the unacked message resent on connection 5', () => /<body>kept<\/body>/.test(conns[4]!.received), 3000);
});

test.run();
