// SASL against each real server of the matrix (XIOTA_SERVER) on its direct TLS port
// (XEP-0368): SCRAM-SHA-1-PLUS and SCRAM-SHA-256-PLUS with tls-unique under TLS 1.2, what each
// server offers under TLS 1.3 (Prosody 0.12: no -PLUS, we send 'y'), the server signature
// checked, a tampered binding refused, the key cache and saved keys on re-login. A minimal raw
// client, so only the SASL code is under test. Two servers: one storing SCRAM-SHA-1 keys, one
// SCRAM-SHA-256 (Prosody password_hash, ejabberd auth_scram_hash).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { connect, type TLSSocket } from 'node:tls';
import { isXiotaError } from '../../agent/errors';
import { x } from '../../agent/xml/element';
import { channelBindingFromTls } from '../../agent/sasl/channel-binding';
import { saslFailureMessage, NS_SASL } from '../../agent/sasl/failure';
import { ScramMechanism } from '../../agent/sasl/scram';
import { deriveScramKeys, ScramKeyCache } from '../../agent/sasl/scram-keys';
import { selectMechanism } from '../../agent/sasl/select';
import type { Credentials, ScramKeys } from '../../agent/sasl/types';
import { serverUnderTest, startServer, type ServerLabel, type XmppServer } from '../../scripts/servers';

const label = serverUnderTest();
const creds: Credentials = { username: 'dev', password: 'p\u00E4ss w,rd=' };
let sha1: XmppServer;
let sha256: XmppServer;

/**
 * Under TLS 1.3, as observed on each server's direct TLS port: the mechanism we end up with and
 * its GS2 header. Prosody 0.12 offers no -PLUS, so 'y'. ejabberd 23.01 offers -PLUS without
 * XEP-0440 types, and tls-unique is undefined for TLS 1.3 (RFC 9266), so no binding: 'n'.
 * Prosody 13 and ejabberd 24.12 offer -PLUS and advertise tls-exporter (XEP-0440, RFC 9266).
 */
const TLS13: Record<ServerLabel, { mechanism: string; gs2: string; plusOffered: boolean }> = {
  'prosody-0.12': { mechanism: 'SCRAM-SHA-256', gs2: 'y,', plusOffered: false },
  'ejabberd-23.01': { mechanism: 'SCRAM-SHA-256', gs2: 'n,', plusOffered: true },
  'prosody-13': { mechanism: 'SCRAM-SHA-256-PLUS', gs2: 'p=tls-exporter,', plusOffered: true },
  'ejabberd-24.12': { mechanism: 'SCRAM-SHA-256-PLUS', gs2: 'p=tls-exporter,', plusOffered: true },
};

test.before(async () => {
  sha1 = await startServer(label, { host: 'sha1.test', passwordHash: 'SHA-1', users: [{ user: 'dev', password: creds.password! }] });
  sha256 = await startServer(label, { host: 'sha256.test', passwordHash: 'SHA-256', users: [{ user: 'dev', password: creds.password! }] });
});

test.after(async () => {
  await sha1?.cleanup();
  await sha256?.cleanup();
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

interface LoginResult { mechanism: string; cb?: string; gs2: string; keys?: ScramKeys; offered: string[] }

async function login(srv: XmppServer, tlsVersion: 'TLSv1.2' | 'TLSv1.3', creds: Credentials, keyCache?: ScramKeyCache, tamperCb = false): Promise<LoginResult> {
  const host = srv.host;
  const sock = connect({ host: '127.0.0.1', port: srv.directTlsPort, servername: host, ca: readFileSync(srv.caFile), minVersion: tlsVersion, maxVersion: tlsVersion });
  await new Promise<void>((res, rej) => { sock.once('secureConnect', res); sock.once('error', rej); });
  const wire = new Wire(sock);
  try {
    sock.write(`<?xml version='1.0'?><stream:stream to='${host}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`);
    const feats = (await wire.next(/<stream:features[\s\S]*?<\/stream:features>/))[0];
    const offered = [...feats.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1]!);
    // XEP-0440: the channel-binding types the server advertises, when it does.
    const cbTypes = /<sasl-channel-binding[\s\S]*?<\/sasl-channel-binding>/.exec(feats)?.[0];
    const serverCbTypes = cbTypes ? [...cbTypes.matchAll(/type=['"]([^'"]+)['"]/g)].map((m) => m[1]!) : undefined;
    const cb = channelBindingFromTls(sock, serverCbTypes);
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
        return { mechanism: mech.name, cb: scram?.channelBinding, gs2: initial.toString().split(',n=')[0]!, keys: scram?.keys, offered };
      } else {
        const cond = /<([a-z-]+)\/>/.exec(m[2] ?? '')?.[1] ?? '';
        throw saslFailureMessage(x('failure', { xmlns: NS_SASL }, cond ? x(cond) : null));
      }
    }
  } finally {
    sock.destroy();
  }
}

test('TLS 1.2: SCRAM-SHA-1-PLUS with tls-unique, server signature verified', async () => {
  const r = await login(sha1, 'TLSv1.2', creds);
  assert.is(r.mechanism, 'SCRAM-SHA-1-PLUS', `offered: ${r.offered.join(' ')}`);
  assert.is(r.cb, 'tls-unique');
  assert.is(r.gs2, 'p=tls-unique,');
});

test('TLS 1.2: SCRAM-SHA-256-PLUS with tls-unique', async () => {
  const r = await login(sha256, 'TLSv1.2', creds);
  assert.is(r.mechanism, 'SCRAM-SHA-256-PLUS', `offered: ${r.offered.join(' ')}`);
  assert.is(r.cb, 'tls-unique');
});

test(`TLS 1.3: ${label} ${TLS13[label].plusOffered ? 'offers -PLUS' : 'offers no -PLUS'}; we log in with ${TLS13[label].mechanism} (${TLS13[label].gs2})`, async () => {
  const r = await login(sha256, 'TLSv1.3', creds);
  console.log(`  ${label} TLS 1.3 offers: ${r.offered.join(' ')}; used ${r.mechanism} ${r.gs2}`);
  const want = TLS13[label];
  assert.is(r.offered.includes('SCRAM-SHA-256-PLUS'), want.plusOffered, `offered: ${r.offered.join(' ')}`);
  assert.is(r.mechanism, want.mechanism);
  assert.is(r.gs2, want.gs2);
});

test('a wrong password ends in not-authorized with advice', async () => {
  try {
    await login(sha1, 'TLSv1.3', { username: 'dev', password: 'wrong' });
    assert.unreachable();
  } catch (e) {
    assert.ok(isXiotaError(e, 'XIOTA_E_SASL_AUTH'), String(e));
    assert.is(e.detail.condition, 'not-authorized');
    assert.match(e.message, /check the JID and password/);
  }
});

test('the server checks the binding: wrong tls-unique data is refused', async () => {
  try {
    await login(sha1, 'TLSv1.2', creds, undefined, true);
    assert.unreachable();
  } catch (e) {
    assert.ok(isXiotaError(e, 'XIOTA_E_SASL_AUTH'), String(e));
  }
});

test('re-login uses cached keys (no PBKDF2), and saved keys work without the password', async () => {
  let derived = 0;
  const cache = new ScramKeyCache({ derive: (h, p, s, i) => { derived++; return deriveScramKeys(h, p, s, i); } });
  const first = await login(sha256, 'TLSv1.2', creds, cache);
  assert.is(derived, 1);
  await login(sha256, 'TLSv1.3', creds, cache);
  assert.is(derived, 1);
  const r = await login(sha256, 'TLSv1.2', { username: 'dev', scramKeys: [first.keys!] });
  assert.is(r.mechanism, 'SCRAM-SHA-256-PLUS');
});

test.run();
