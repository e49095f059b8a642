import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { x } from '../../agent/xml/element';
import { isXiotaError } from '../../agent/errors';
import { deriveScramKeys, ScramKeyCache, type DeriveScramKeys } from '../../agent/sasl/scram-keys';
import { saslFailureMessage, NS_SASL } from '../../agent/sasl/failure';
import { selectMechanism } from '../../agent/sasl/select';
import { saslprep } from '../../agent/sasl/saslprep';

const SALT = Buffer.from('QSXCR+Q6sek8bf92', 'base64');
const SF = 'r=%NONCE%srv,s=QSXCR+Q6sek8bf92,i=4096';

test('deriveScramKeys gives the RFC 5802 5 keys (checked through the example proof elsewhere) and is stable', async () => {
  const a = await deriveScramKeys('SHA-1', 'pencil', SALT, 4096);
  const b = await deriveScramKeys('SHA-1', 'pencil', SALT, 4096);
  assert.equal(a, b);
  assert.is(a.salt, 'QSXCR+Q6sek8bf92');
  assert.is(Buffer.from(a.clientKey, 'base64').length, 20);
  // RFC 5802 5: SaltedPassword for this example is 1d96ee3a529b5a5f9e47c01f229a2cb8a6e15f7d; ClientKey = HMAC(that, "Client Key")
  const { createHmac } = await import('node:crypto');
  const salted = Buffer.from('1d96ee3a529b5a5f9e47c01f229a2cb8a6e15f7d', 'hex');
  assert.is(a.clientKey, createHmac('sha1', salted).update('Client Key').digest('base64'));
  const s256 = await deriveScramKeys('SHA-256', 'pencil', SALT, 4096);
  assert.is(Buffer.from(s256.serverKey, 'base64').length, 32);
});

function counting(): { derive: DeriveScramKeys; calls: () => number } {
  let n = 0;
  return { derive: (h, p, s, i) => { n++; return deriveScramKeys(h, p, s, i); }, calls: () => n };
}

async function login(cache: ScramKeyCache, password = 'pencil'): Promise<void> {
  const m = selectMechanism(['SCRAM-SHA-1'], { username: 'user', password }, { secure: true, allowPlain: false, hasClientCert: false, cb: {}, keyCache: cache });
  const first = (await m.initialResponse())!.toString();
  const nonce = first.split('r=')[1]!;
  const final = (await m.challenge(Buffer.from(SF.replace('%NONCE%', nonce)))).toString();
  assert.match(final, /,p=/);
}

test('a reconnect with cached keys does not run PBKDF2', async () => {
  const c = counting();
  const cache = new ScramKeyCache({ derive: c.derive });
  await login(cache);
  assert.is(c.calls(), 1);
  await login(cache);
  await login(cache);
  assert.is(c.calls(), 1);
  // a different password is a different entry
  await login(cache, 'other');
  assert.is(c.calls(), 2);
  assert.is(cache.size, 2);
});

test('concurrent lookups share one derivation; a failed one is not cached', async () => {
  const c = counting();
  const cache = new ScramKeyCache({ derive: c.derive });
  const [a, b] = await Promise.all([cache.getOrDerive('SHA-1', 'pw', SALT, 4096), cache.getOrDerive('SHA-1', 'pw', SALT, 4096)]);
  assert.equal(a, b);
  assert.is(c.calls(), 1);
  let fail = true;
  const flaky = new ScramKeyCache({ derive: async (h, p, s, i) => { if (fail) throw new Error('boom'); return deriveScramKeys(h, p, s, i); } });
  try { await flaky.getOrDerive('SHA-1', 'pw', SALT, 4096); assert.unreachable(); } catch (e) { assert.is((e as Error).message, 'boom'); }
  await new Promise((r) => setImmediate(r));
  fail = false;
  assert.is((await flaky.getOrDerive('SHA-1', 'pw', SALT, 4096)).clientKey, a.clientKey);
});

test('the cache is bounded and does not hold the password', async () => {
  const cache = new ScramKeyCache({ maxEntries: 2, derive: async (h, _p, s, i) => ({ hash: h, salt: s.toString('base64'), iterations: i, clientKey: '', serverKey: '' }) });
  for (const pw of ['a', 'b', 'c']) await cache.getOrDerive('SHA-1', pw, SALT, 1);
  assert.is(cache.size, 2);
  assert.is(cache.get('SHA-1', SALT, 1, 'a'), undefined);
  assert.ok(cache.get('SHA-1', SALT, 1, 'c'));
  assert.not.match(JSON.stringify([...(cache as unknown as { entries: Map<string, unknown> }).entries.keys()]), /\|c$/);
});

test('deriveScramKeys timing, 4096 iterations (printed)', async () => {
  for (const hash of ['SHA-1', 'SHA-256'] as const) {
    await deriveScramKeys(hash, 'pencil', SALT, 4096); // warm up
    const n = 20;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await deriveScramKeys(hash, 'pencil', SALT, 4096);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6 / n;
    console.log(`deriveScramKeys ${hash} 4096 iterations: ${ms.toFixed(2)} ms`);
    assert.ok(ms < 200, `${hash} took ${ms} ms`);
  }
});

test('saslFailureMessage: condition, text and advice', () => {
  const e = saslFailureMessage(x('failure', { xmlns: NS_SASL }, x('not-authorized'), x('text', { 'xml:lang': 'en' }, 'Unable to authorize you')), 'SCRAM-SHA-1');
  assert.ok(isXiotaError(e, 'XIOTA_E_SASL_AUTH'));
  assert.is(e.detail.condition, 'not-authorized');
  assert.is(e.detail.text, 'Unable to authorize you');
  assert.is(e.detail.transient, false);
  assert.match(e.message, /SCRAM-SHA-1 authentication failed \(not-authorized: Unable to authorize you\): check the JID and password/);
  const t = saslFailureMessage(x('failure', { xmlns: NS_SASL }, x('temporary-auth-failure')));
  assert.is(t.detail.transient, true);
  const u = saslFailureMessage(x('failure', { xmlns: NS_SASL }, x('made-up')));
  assert.is(u.detail.condition, 'not-authorized');
  assert.is(u.detail.rawCondition, 'made-up');
  const none = saslFailureMessage(x('failure', { xmlns: NS_SASL }));
  assert.match(none.message, /no condition/);
  assert.is(saslFailureMessage(x('failure', { xmlns: NS_SASL }, x('account-disabled'))).detail.condition, 'account-disabled');
});

test('saslprep: mapping, NFKC, control characters refused', () => {
  assert.is(saslprep('I\u00ADX'), 'IX'); // RFC 4013 3 examples
  assert.is(saslprep('user'), 'user');
  assert.is(saslprep('\u00AA'), 'a');
  assert.is(saslprep('\u2168'), 'IX');
  try { saslprep('a\u0007b'); assert.unreachable(); } catch (e) { assert.ok(isXiotaError(e, 'XIOTA_E_CONFIG')); }
});

test.run();
