// The pure parts of SASL2 / FAST / SSDP: XEP-0474's own example hash, a downgrade caught in a
// SCRAM exchange, the HT mechanisms (XEP-0484, draft-schmaus-kitten-sasl-ht), the SASL2
// feature as XEP-0388 writes it, and the token file (mode 0600, atomic, refuses a readable one).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHmac } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XiotaError } from '../../agent/errors';
import { chooseHtMechanism, HtMechanism, ScramMechanism, ssdpHash } from '../../agent/sasl';
import { FileFastStore } from '../../agent/session/fast-token';
import { parseSasl2Offer } from '../../agent/session/sasl2';
import { parseXml } from '../pubsub/xml';

test('XEP-0474 5.3 example: h= for SCRAM-SHA-1(+PLUS) with tls-exporter and tls-server-end-point', () => {
  // Order as advertised is irrelevant: the lists are sorted (i;octet) before hashing.
  const h = ssdpHash('SHA-1', { mechanisms: ['SCRAM-SHA-1-PLUS', 'SCRAM-SHA-1'], cbTypes: ['tls-server-end-point', 'tls-exporter'] });
  assert.is(h, 'G6k/rBLDqgOhRRaCuuatSDFkJ08=');
  // Without XEP-0440 there is no 0x1F part: a different hash.
  assert.is.not(ssdpHash('SHA-1', { mechanisms: ['SCRAM-SHA-1-PLUS', 'SCRAM-SHA-1'] }), h);
});

async function serverFirstWith(h: string, advertised: { mechanisms: string[]; cbTypes?: string[] }): Promise<unknown> {
  const m = new ScramMechanism({ hash: 'SHA-1', plus: false, username: 'user', password: 'pencil', cb: { flag: 'n' }, clientNonce: 'fyko+d2lbbFgONRv9qkxdawL', advertised });
  await m.initialResponse();
  try {
    await m.challenge(Buffer.from(`r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096,h=${h}`));
    return undefined;
  } catch (e) {
    return e;
  }
}

test('XEP-0474 4.2: a SCRAM exchange whose h= does not match what was advertised fails, naming the downgrade', async () => {
  const real = { mechanisms: ['SCRAM-SHA-1', 'SCRAM-SHA-1-PLUS'], cbTypes: ['tls-exporter', 'tls-server-end-point'] };
  // What the server signed vs what reached us after someone removed -PLUS:
  const err = await serverFirstWith(ssdpHash('SHA-1', real), { mechanisms: ['SCRAM-SHA-1'], cbTypes: real.cbTypes });
  assert.instance(err, XiotaError);
  assert.is((err as XiotaError).code, 'XIOTA_E_SASL_AUTH');
  assert.match((err as XiotaError).message, /downgrade/);
  assert.is((err as XiotaError).detail.reason, 'downgrade');
  // The same list: the exchange goes on.
  assert.is(await serverFirstWith(ssdpHash('SHA-1', real), real), undefined);
});

const tls13 = { tlsVersion: 'TLSv1.3', tlsExporter: Buffer.alloc(32, 7), tlsServerEndPoint: Buffer.alloc(32, 9) };

test('HT-SHA-256-EXPR: authcid NUL HMAC(token, "Initiator" || exporter); the server must prove the token with "Responder"', async () => {
  const m = new HtMechanism('HT-SHA-256-EXPR', 'dev', 'secret-token', tls13);
  const ir = await m.initialResponse();
  const mac = (label: string) => createHmac('sha256', 'secret-token').update(Buffer.concat([Buffer.from(label), tls13.tlsExporter])).digest();
  assert.equal(ir, Buffer.concat([Buffer.from('dev\0'), mac('Initiator')]));
  assert.throws(() => m.success(Buffer.alloc(32)), (e: XiotaError) => e.code === 'XIOTA_E_SASL_SERVER_SIGNATURE');
  assert.throws(() => m.success(null), (e: XiotaError) => e.code === 'XIOTA_E_SASL_SERVER_SIGNATURE');
  m.success(mac('Responder'));
  assert.ok(m.isVerified);
});

test('FAST mechanism choice: channel binding preferred; tls-unique never on TLS 1.3; NONE as the last resort', () => {
  const all = ['HT-SHA-256-NONE', 'HT-SHA-256-UNIQ', 'HT-SHA-256-EXPR', 'HT-SHA-256-ENDP'];
  assert.is(chooseHtMechanism(all, tls13), 'HT-SHA-256-EXPR');
  assert.is(chooseHtMechanism(['HT-SHA-256-NONE', 'HT-SHA-256-UNIQ'], tls13), 'HT-SHA-256-NONE');
  assert.is(chooseHtMechanism(all, { tlsVersion: 'TLSv1.2', tlsUnique: Buffer.alloc(12, 1) }), 'HT-SHA-256-UNIQ');
  assert.is(chooseHtMechanism(['SCRAM-SHA-1'], tls13), undefined);
  assert.throws(() => new HtMechanism('HT-SHA-256-UNIQ', 'dev', 't', tls13), /no channel-binding data/);
});

test('XEP-0388 2.1 feature example: mechanisms, inline resume, Bind 2; FAST and Bind 2 inline features as ejabberd 24.12 sends them', () => {
  const spec = parseSasl2Offer(parseXml(`<stream:features xmlns:stream='http://etherx.jabber.org/streams'><authentication xmlns='urn:xmpp:sasl:2'>
    <mechanism>SCRAM-SHA-1</mechanism><mechanism>SCRAM-SHA-1-PLUS</mechanism>
    <inline><sm xmlns='urn:xmpp:sm:3'/><bind xmlns='urn:xmpp:bind:0'/></inline></authentication></stream:features>`))!;
  assert.equal(spec.mechanisms, ['SCRAM-SHA-1', 'SCRAM-SHA-1-PLUS']);
  assert.ok(spec.smInline);
  assert.equal(spec.bind2, { features: [] });
  assert.equal(spec.fast, []);
  const ej = parseSasl2Offer(parseXml(`<stream:features xmlns:stream='http://etherx.jabber.org/streams'><authentication xmlns='urn:xmpp:sasl:2'><inline><bind xmlns='urn:xmpp:bind:0'><inline><feature var='urn:xmpp:sm:3'/></inline></bind><sm xmlns='urn:xmpp:sm:3'/><fast xmlns='urn:xmpp:fast:0'><mechanism>HT-SHA-256-NONE</mechanism><mechanism>HT-SHA-256-EXPR</mechanism></fast></inline><mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1-PLUS</mechanism><mechanism>SCRAM-SHA-1</mechanism></authentication></stream:features>`))!;
  assert.equal(ej.bind2, { features: ['urn:xmpp:sm:3'] });
  assert.equal(ej.fast, ['HT-SHA-256-NONE', 'HT-SHA-256-EXPR']);
  assert.is(parseSasl2Offer(parseXml(`<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></stream:features>`)), undefined);
});

test('token file: 0600, one stable user-agent id, cleared on demand; a token others could read is not used', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-fast-'));
  try {
    const a = new FileFastStore(dir);
    const id = a.userAgentId();
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/); // XEP-0388 2.2: UUID v4
    a.set({ mechanism: 'HT-SHA-256-EXPR', token: 'tok-1', expiry: new Date(Date.now() + 86_400_000).toISOString(), jid: 'dev@x' });
    assert.is(statSync(a.file).mode & 0o777, 0o600);
    const b = new FileFastStore(dir);
    assert.is(b.userAgentId(), id, 'the id survives a restart');
    assert.is(b.get('dev@x')?.token, 'tok-1');
    assert.is(b.get('other@x'), undefined, 'a token is for its own JID only');
    // Someone made it world-readable: the token is treated as leaked and dropped.
    chmodSync(a.file, 0o644);
    const c = new FileFastStore(dir);
    assert.is(c.get('dev@x'), undefined);
    assert.is(c.userAgentId(), id);
    assert.is(statSync(a.file).mode & 0o777, 0o600);
    assert.not.match(readFileSync(a.file, 'utf8'), 'tok-1');
    // Expired tokens are not offered.
    c.set({ mechanism: 'HT-SHA-256-EXPR', token: 'tok-2', expiry: '2000-01-01T00:00:00Z', jid: 'dev@x' });
    assert.is(new FileFastStore(dir).get('dev@x'), undefined);
    c.clear();
    assert.not.match(readFileSync(a.file, 'utf8'), 'tok-2');
    // A corrupt file is replaced, not fatal.
    writeFileSync(a.file, '{not json', { mode: 0o600 });
    assert.is(new FileFastStore(dir).get('dev@x'), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
