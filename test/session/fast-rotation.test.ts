// XEP-0484 token rotation, played by a scripted server (test/servers/hostile.ts), for what a
// real server does not show on demand: a rotation on every FAST login and a server that forgot
// every token. Against ejabberd 24.12 (which rotates tokens older than token_refresh_age, an
// option it misreads 1000-fold) see fast-ejabberd.test.ts. Connection 1: PLAIN + <request-token/>, token t1.
// Connection 2: FAST with t1; the server proves t1 and hands out t2 unasked (rotation).
// Connection 3: FAST with t2. Connection 4: the server refuses t2; the client falls back to the
// password on the same stream and asks for a new token.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryFastStore } from '../../agent/session/fast-token';
import { makeSelfSignedCert } from '../../scripts/certs';
import { streamHeader } from '../servers/fake-xmpp';
import { startHostileServer, type HostileConn } from '../servers/hostile';
import { fixtureClient } from './_helpers';

const DOMAIN = 'xiota.test';
const SASL2 = 'urn:xmpp:sasl:2';
const FAST = 'urn:xmpp:fast:0';
const expiry = () => new Date(Date.now() + 3_600_000).toISOString();
const ht = (token: string, label: string) => createHmac('sha256', token).update(label).digest();

interface Seen { mechanism: string; from?: string; requested?: string; usedToken?: string }

/** One connection: SASL2 with FAST (HT-SHA-256-NONE only, so no TLS data is needed here), then an RFC 6120 bind. */
async function play(conn: HostileConn, tokens: { valid: Set<string>; next: () => string | undefined }, seen: Seen[]): Promise<void> {
  const header = await conn.readUntil(/<stream:stream\b[^>]*>/);
  const features = `<authentication xmlns='${SASL2}'><mechanism>PLAIN</mechanism><inline><fast xmlns='${FAST}'><mechanism>HT-SHA-256-NONE</mechanism></fast></inline></authentication>`;
  await conn.write(`${streamHeader(DOMAIN)}<stream:features>${features}</stream:features>`);
  for (;;) {
    const auth = await conn.readUntil(/<authenticate\b[\s\S]*?<\/authenticate>/);
    const mechanism = /mechanism=['"]([^'"]+)/.exec(auth)![1]!;
    const ir = Buffer.from(/<initial-response>([^<]*)</.exec(auth)![1]!, 'base64');
    const s: Seen = { mechanism, from: /from=['"]([^'"]+)/.exec(header)?.[1], requested: /<request-token[^>]*mechanism=['"]([^'"]+)/.exec(auth)?.[1] };
    seen.push(s);
    let proof = '';
    if (mechanism === 'HT-SHA-256-NONE') {
      const mac = ir.subarray(ir.indexOf(0) + 1);
      const used = [...tokens.valid].find((t) => ht(t, 'Initiator').equals(mac));
      if (!used) {
        await conn.write(`<failure xmlns='${SASL2}'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><text>token expired</text></failure>`);
        continue;
      }
      s.usedToken = used;
      proof = `<additional-data>${ht(used, 'Responder').toString('base64')}</additional-data>`;
    }
    const issue = s.requested ? tokens.next() : mechanism === 'HT-SHA-256-NONE' ? tokens.next() : undefined;
    if (issue) tokens.valid.add(issue);
    await conn.write(`<success xmlns='${SASL2}'>${proof}<authorization-identifier>dev@${DOMAIN}</authorization-identifier>${issue ? `<token xmlns='${FAST}' token='${issue}' expiry='${expiry()}'/>` : ''}</success>`);
    break;
  }
  // XEP-0388 2.6.1: no restart; features, then the RFC 6120 bind.
  await conn.write(`<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>`);
  const iq = await conn.readUntil(/<iq\b[\s\S]*?<\/iq>/);
  const id = /id=['"]([^'"]+)/.exec(iq)![1];
  await conn.write(`<iq type='result' id='${id}'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>dev@${DOMAIN}/r</jid></bind></iq>`);
  await conn.closed;
}

test('a token the server hands out unasked replaces the stored one; a refused token falls back to the password', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-fastrot-'));
  const cert = await makeSelfSignedCert(dir, DOMAIN);
  const issued = ['t1-aaaaaaaaaaaaaaaa', 't2-bbbbbbbbbbbbbbbb', null, 't4-dddddddddddddddd'];
  let n = 0;
  const tokens = { valid: new Set<string>(), next: () => issued[n++] ?? undefined };
  const seen: Seen[] = [];
  const srv = await startHostileServer({ tls: 'direct', cert, script: (conn) => play(conn, tokens, seen) });
  const store = new MemoryFastStore();
  const c = fixtureClient(srv.port, cert.caFile, { server: { host: '127.0.0.1', port: srv.port, directTls: true }, fast: store, streamManagement: false });
  try {
    await c.connectOnce(); // 1: password, token requested
    assert.is(seen[0]!.mechanism, 'PLAIN');
    assert.is(seen[0]!.requested, 'HT-SHA-256-NONE');
    assert.is(seen[0]!.from, `dev@${DOMAIN}`, 'RFC 6120 4.7.1 / XEP-0484 7: from= on the TLS stream');
    assert.is(store.get(c.bare)?.token, 't1-aaaaaaaaaaaaaaaa');
    await c.stop();

    await c.connectOnce(); // 2: FAST with t1, rotated to t2
    assert.is(seen[1]!.usedToken, 't1-aaaaaaaaaaaaaaaa');
    assert.is(seen[1]!.requested, undefined, 'not asked: the server rotated on its own');
    assert.ok(c.info?.fast.used && c.info.fast.issued);
    assert.is(store.get(c.bare)?.token, 't2-bbbbbbbbbbbbbbbb');
    assert.is(store.get(c.bare)?.mechanism, 'HT-SHA-256-NONE');
    await c.stop();

    await c.connectOnce(); // 3: FAST with t2 (no new token this time)
    assert.is(seen[2]!.usedToken, 't2-bbbbbbbbbbbbbbbb');
    assert.is(store.get(c.bare)?.token, 't2-bbbbbbbbbbbbbbbb');
    await c.stop();

    tokens.valid.clear(); // 4: the server forgot every token (XEP-0484 6: fall back)
    await c.connectOnce();
    assert.is(seen[3]!.mechanism, 'HT-SHA-256-NONE');
    assert.is(seen[4]!.mechanism, 'PLAIN', 'password on the same stream');
    assert.is(seen[4]!.requested, 'HT-SHA-256-NONE');
    assert.is(c.info?.fast.used, false);
    assert.is(store.get(c.bare)?.token, 't4-dddddddddddddddd');
    assert.equal(srv.errors, []);
  } finally {
    await c.stop();
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
