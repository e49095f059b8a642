import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isXiotaError } from '../../agent/errors';
import { selectMechanism } from '../../agent/sasl/select';
import { ScramMechanism } from '../../agent/sasl/scram';
import { deriveScramKeys } from '../../agent/sasl/scram-keys';
import type { ChannelBindingInfo, Credentials, MechanismContext } from '../../agent/sasl/types';

const ALL = ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'EXTERNAL', 'PLAIN'];
const creds: Credentials = { username: 'dev', password: 'secret' };
const TLS12: ChannelBindingInfo = { tlsVersion: 'TLSv1.2', tlsUnique: Buffer.alloc(12, 1) };
const TLS13: ChannelBindingInfo = { tlsVersion: 'TLSv1.3', tlsExporter: Buffer.alloc(32, 2) };

function ctx(over: Partial<MechanismContext> = {}): MechanismContext {
  return { secure: true, allowPlain: false, hasClientCert: false, cb: TLS12, ...over };
}

function pick(offered: string[], c: Partial<MechanismContext> = {}, cr: Credentials = creds): string {
  return selectMechanism(offered, cr, ctx(c)).name;
}

function mechError(fn: () => unknown): string {
  try { fn(); } catch (e) {
    assert.ok(isXiotaError(e, 'XIOTA_E_SASL_MECH'), String(e));
    return e.message;
  }
  assert.unreachable('expected XIOTA_E_SASL_MECH');
  return '';
}

async function gs2(offered: string[], c: Partial<MechanismContext> = {}): Promise<string> {
  const m = selectMechanism(offered, creds, ctx(c));
  const s = (await m.initialResponse())!.toString();
  return s.slice(0, s.indexOf(',n=') + 1);
}

test('preference order with channel binding on TLS 1.2', () => {
  assert.is(pick(ALL), 'SCRAM-SHA-256-PLUS');
  assert.is(pick(ALL.filter((m) => m !== 'SCRAM-SHA-256-PLUS')), 'SCRAM-SHA-1-PLUS');
  assert.is(pick(['SCRAM-SHA-1', 'SCRAM-SHA-256', 'PLAIN']), 'SCRAM-SHA-256');
  assert.is(pick(['PLAIN', 'SCRAM-SHA-1']), 'SCRAM-SHA-1');
  assert.is(pick(['plain', 'scram-sha-1 ']), 'SCRAM-SHA-1'); // tolerant of case and whitespace
});

test('EXTERNAL first when a client certificate is configured, never without one', () => {
  assert.is(pick(ALL, { hasClientCert: true }), 'EXTERNAL');
  assert.is(pick(ALL), 'SCRAM-SHA-256-PLUS');
  assert.match(mechError(() => pick(['EXTERNAL'])), /only EXTERNAL, and no client certificate configured/);
  assert.is(pick(['EXTERNAL'], { hasClientCert: true }, { username: '' }), 'EXTERNAL');
});

test('PLAIN only inside TLS and only when allowed', () => {
  assert.match(mechError(() => pick(['PLAIN'], { secure: false, allowPlain: true })), /only PLAIN, and the connection is not encrypted/);
  assert.match(mechError(() => pick(['PLAIN'])), /allow_plain is false/);
  assert.is(pick(['PLAIN'], { allowPlain: true }), 'PLAIN');
  assert.is(pick(['PLAIN', 'SCRAM-SHA-1'], { allowPlain: true }), 'SCRAM-SHA-1');
  assert.match(mechError(() => pick(['PLAIN'], { allowPlain: true }, { username: 'u', scramKeys: [] })), /needs the password/);
});

test('the error lists every offered mechanism with its reason', () => {
  const msg = mechError(() => pick(['X-OAUTH2', 'PLAIN', 'DIGEST-MD5']));
  assert.match(msg, /offers X-OAUTH2, PLAIN, DIGEST-MD5/);
  assert.match(msg, /X-OAUTH2: not supported/);
  assert.match(msg, /PLAIN: PLAIN is offered but allow_plain is false/);
  assert.match(mechError(() => pick([])), /offers no SASL mechanisms/);
});

test('TLS 1.2 without XEP-0440: -PLUS with tls-unique', async () => {
  assert.is(await gs2(ALL), 'p=tls-unique,,');
});

test('TLS 1.3 without XEP-0440: no -PLUS, flag n when the server offers -PLUS (ejabberd), y when it does not (Prosody)', async () => {
  assert.is(pick(ALL, { cb: TLS13 }), 'SCRAM-SHA-256');
  assert.is(await gs2(ALL, { cb: TLS13 }), 'n,,');
  assert.is(await gs2(['SCRAM-SHA-1', 'SCRAM-SHA-256'], { cb: TLS13 }), 'y,,');
});

test('TLS 1.3 with XEP-0440 tls-exporter: -PLUS with tls-exporter', async () => {
  const cb = { ...TLS13, serverCbTypes: ['tls-server-end-point', 'tls-exporter'] };
  assert.is(pick(ALL, { cb }), 'SCRAM-SHA-256-PLUS');
  assert.is(await gs2(ALL, { cb }), 'p=tls-exporter,,');
});

test('XEP-0440 list decides the type; tls-unique is never used on TLS 1.3', async () => {
  const cb13 = { ...TLS13, tlsUnique: Buffer.alloc(12), serverCbTypes: ['tls-unique', 'tls-server-end-point'] };
  assert.is(await gs2(ALL, { cb: cb13 }), 'n,,'); // server lists tls-server-end-point, which we lack data for
  const withEp = { ...cb13, tlsServerEndPoint: Buffer.alloc(32, 3) };
  assert.is(await gs2(ALL, { cb: withEp }), 'p=tls-server-end-point,,');
  const cb12 = { ...TLS12, serverCbTypes: ['tls-exporter', 'tls-unique'] };
  assert.is(await gs2(ALL, { cb: cb12 }), 'p=tls-unique,,');
});

test('XEP-0440 5: -PLUS offered, unusable types and no tls-server-end-point -> abort', () => {
  const cb = { ...TLS13, serverCbTypes: ['x-dummy'] };
  assert.match(mechError(() => pick(ALL, { cb })), /downgrade attack/);
});

test('flag y only when we could have bound; n without TLS data or without TLS', async () => {
  assert.is(await gs2(['SCRAM-SHA-1'], { cb: TLS12 }), 'y,,');
  assert.is(await gs2(['SCRAM-SHA-1'], { cb: {} }), 'n,,');
  assert.is(await gs2(['SCRAM-SHA-1'], { cb: { tlsUnique: Buffer.alloc(12) } }), 'n,,'); // version unknown
  assert.is(await gs2(['SCRAM-SHA-1', 'SCRAM-SHA-1-PLUS'], { secure: false, cb: {} }), 'n,,');
});

test('only -PLUS offered and no binding possible: explained', () => {
  assert.match(mechError(() => pick(['SCRAM-SHA-1-PLUS'], { cb: TLS13 })), /no channel binding type usable/);
});

test('a configured mechanism list restricts and orders; excluding -PLUS gives flag n', async () => {
  assert.is(pick(ALL, { preferred: ['SCRAM-SHA-1', 'SCRAM-SHA-256'] }), 'SCRAM-SHA-1');
  assert.is(await gs2(ALL, { preferred: ['scram-sha-1'] }), 'n,,');
  assert.match(mechError(() => pick(['PLAIN'], { preferred: ['SCRAM-SHA-1'] })), /excluded by the configured mechanism list/);
});

test('SCRAM keys without a password select only SCRAM of their hash', async () => {
  const keys = await deriveScramKeys('SHA-1', 'secret', Buffer.from('salt'), 4096);
  const cr: Credentials = { username: 'dev', scramKeys: [keys] };
  assert.is(pick(['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'], { allowPlain: true }, cr), 'SCRAM-SHA-1');
  assert.is(pick(ALL, {}, cr), 'SCRAM-SHA-1-PLUS');
  assert.match(mechError(() => pick(['SCRAM-SHA-256'], {}, cr)), /no password and no SHA-256 keys/);
  assert.ok(selectMechanism(['SCRAM-SHA-1'], cr, ctx()) instanceof ScramMechanism);
});

test('EXTERNAL sends an empty response or the authzid', async () => {
  const m = selectMechanism(['EXTERNAL'], { username: '', authzid: 'dev@example.org' }, ctx({ hasClientCert: true }));
  assert.is((await m.initialResponse())?.toString(), 'dev@example.org');
  const m2 = selectMechanism(['EXTERNAL'], { username: '' }, ctx({ hasClientCert: true }));
  assert.is((await m2.initialResponse())?.length, 0);
  assert.is((await m2.challenge(Buffer.alloc(0))).length, 0);
  try { await m2.challenge(Buffer.from('x')); assert.unreachable(); } catch (e) { assert.ok(isXiotaError(e, 'XIOTA_E_SASL_AUTH')); }
  m2.success(null);
});

test('PLAIN message layout (RFC 4616 2)', async () => {
  const m = selectMechanism(['PLAIN'], { username: 'dev', password: 'p\u00A0w', authzid: 'a@b' }, ctx({ allowPlain: true }));
  assert.is((await m.initialResponse())?.toString(), 'a@b\0dev\0p w');
});

test.run();
