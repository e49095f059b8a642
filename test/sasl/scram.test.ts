import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isXiotaError } from '../../agent/errors';
import { ScramMechanism, escapeSaslname, type ScramOptions } from '../../agent/sasl/scram';
import { deriveScramKeys } from '../../agent/sasl/scram-keys';

const b = (s: string) => Buffer.from(s, 'utf8');

// RFC 5802 5
const SHA1 = {
  nonce: 'fyko+d2lbbFgONRv9qkxdawL',
  first: 'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL',
  serverFirst: 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096',
  final: 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
  serverFinal: 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=',
};
// RFC 7677 3
const SHA256 = {
  nonce: 'rOprNGfwEbeRWgbNEkqO',
  first: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  final: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

function sha1(over: Partial<ScramOptions> = {}): ScramMechanism {
  return new ScramMechanism({ hash: 'SHA-1', plus: false, username: 'user', password: 'pencil', cb: { flag: 'n' }, clientNonce: SHA1.nonce, ...over });
}

async function rejects(p: Promise<unknown> | (() => unknown), code: string, re?: RegExp): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(isXiotaError(e), `expected XiotaError, got ${String(e)}`);
    assert.is(e.code, code);
    if (re) assert.match(e.message, re);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

test('RFC 5802 5 SCRAM-SHA-1 example, byte for byte', async () => {
  const m = sha1();
  assert.is(m.name, 'SCRAM-SHA-1');
  assert.is((await m.initialResponse()).toString(), SHA1.first);
  assert.is((await m.challenge(b(SHA1.serverFirst))).toString(), SHA1.final);
  m.success(b(SHA1.serverFinal));
});

test('RFC 7677 3 SCRAM-SHA-256 example, byte for byte', async () => {
  const m = new ScramMechanism({ hash: 'SHA-256', plus: false, username: 'user', password: 'pencil', cb: { flag: 'n' }, clientNonce: SHA256.nonce });
  assert.is(m.name, 'SCRAM-SHA-256');
  assert.is((await m.initialResponse()).toString(), SHA256.first);
  assert.is((await m.challenge(b(SHA256.serverFirst))).toString(), SHA256.final);
  m.success(b(SHA256.serverFinal));
});

test('server-final sent as a challenge, then <success/> without data', async () => {
  const m = sha1();
  await m.initialResponse();
  await m.challenge(b(SHA1.serverFirst));
  assert.is((await m.challenge(b(SHA1.serverFinal))).length, 0);
  m.success(null);
});

test('a wrong server signature is rejected', async () => {
  const m = sha1();
  await m.initialResponse();
  await m.challenge(b(SHA1.serverFirst));
  await rejects(() => m.success(b('v=rmF9pqV8S7suAoZWja4dJRkFsKA=')), 'XIOTA_E_SASL_SERVER_SIGNATURE', /wrong/);
});

test('a missing v= is rejected (success without data, and success with junk)', async () => {
  const m = sha1();
  await m.initialResponse();
  await m.challenge(b(SHA1.serverFirst));
  await rejects(() => m.success(null), 'XIOTA_E_SASL_SERVER_SIGNATURE');
  const m2 = sha1();
  await m2.initialResponse();
  await m2.challenge(b(SHA1.serverFirst));
  await rejects(() => m2.success(b('x=abc')), 'XIOTA_E_SASL_SERVER_SIGNATURE');
  // success before the exchange even started
  const m3 = sha1();
  await m3.initialResponse();
  await rejects(() => m3.success(null), 'XIOTA_E_SASL_SERVER_SIGNATURE');
});

test('server e= in the final message is an auth error', async () => {
  const m = sha1();
  await m.initialResponse();
  await m.challenge(b(SHA1.serverFirst));
  await rejects(() => m.success(b('e=invalid-proof')), 'XIOTA_E_SASL_AUTH', /invalid-proof/);
});

test('malformed server-first messages are refused', async () => {
  const cases: [string, RegExp][] = [
    ['r=someoneelse123,s=QSXCR+Q6sek8bf92,i=4096', /nonce/],
    [`r=${SHA1.nonce},s=QSXCR+Q6sek8bf92,i=4096`, /nonce/], // server added nothing
    [`r=${SHA1.nonce}x,s=not base64!,i=4096`, /salt/],
    [`r=${SHA1.nonce}x,s=,i=4096`, /salt/],
    [`r=${SHA1.nonce}x,s=QSXCR+Q6sek8bf92,i=0`, /iteration/],
    [`r=${SHA1.nonce}x,s=QSXCR+Q6sek8bf92,i=12abc`, /iteration/],
    [`r=${SHA1.nonce}x,i=4096,s=QSXCR+Q6sek8bf92`, /r=,s=,i=/],
    [`m=ext,r=${SHA1.nonce}x,s=QSXCR+Q6sek8bf92,i=4096`, /mandatory extension/],
    ['e=unknown-user', /unknown-user/],
    ['', /r=,s=,i=/],
  ];
  for (const [msg, re] of cases) {
    const m = sha1();
    await m.initialResponse();
    await rejects(m.challenge(b(msg)), 'XIOTA_E_SASL_AUTH', re);
  }
});

test('iteration counts above the limit are refused before any hashing', async () => {
  let derived = 0;
  const m = sha1({ maxIterations: 10_000, keyCache: { getOrDerive: async () => { derived++; throw new Error('must not derive'); } } });
  await m.initialResponse();
  await rejects(m.challenge(b(`r=${SHA1.nonce}x,s=QSXCR+Q6sek8bf92,i=2000000000`)), 'XIOTA_E_SASL_AUTH', /limit of 10000/);
  assert.is(derived, 0);
});

test('iterations below 4096 are accepted with a warning', async () => {
  const warnings: string[] = [];
  const log = { debug() {}, info() {}, warn: (m: string) => { warnings.push(m); }, error() {}, child() { return log; } };
  const m = sha1({ log });
  await m.initialResponse();
  const out = (await m.challenge(b(`r=${SHA1.nonce}x,s=QSXCR+Q6sek8bf92,i=1`))).toString();
  assert.match(out, /^c=biws,r=fyko\+d2lbbFgONRv9qkxdawLx,p=/);
  assert.is(warnings.length, 1);
});

test('username and authzid are escaped (RFC 5802 5.1) and authzid goes in the gs2 header', async () => {
  assert.is(escapeSaslname('a=b,c'), 'a=3Db=2Cc');
  const m = sha1({ username: 'u=1,2', authzid: 'admin,x' });
  assert.is((await m.initialResponse()).toString(), `n,a=admin=2Cx,n=u=3D1=2C2,r=${SHA1.nonce}`);
  // c= carries the same gs2 header
  const final = (await m.challenge(b(SHA1.serverFirst))).toString();
  assert.is(final.split(',')[0], 'c=' + Buffer.from('n,a=admin=2Cx,').toString('base64'));
});

test('random nonces differ between exchanges', async () => {
  const a = new ScramMechanism({ hash: 'SHA-1', plus: false, username: 'u', password: 'p', cb: { flag: 'n' } });
  const c = new ScramMechanism({ hash: 'SHA-1', plus: false, username: 'u', password: 'p', cb: { flag: 'n' } });
  const na = (await a.initialResponse()).toString().split('r=')[1]!;
  const nc = (await c.initialResponse()).toString().split('r=')[1]!;
  assert.ok(na.length >= 32);
  assert.is.not(na, nc);
});

test('config keys replace the password when salt and iterations match', async () => {
  const keys = await deriveScramKeys('SHA-1', 'pencil', Buffer.from('QSXCR+Q6sek8bf92', 'base64'), 4096);
  const m = sha1({ password: undefined, configKeys: [keys] });
  await m.initialResponse();
  assert.is((await m.challenge(b(SHA1.serverFirst))).toString(), SHA1.final);
  m.success(b(SHA1.serverFinal));
  assert.equal(m.keys, keys);
});

test('stale config keys without a password fail with a clear message', async () => {
  const keys = await deriveScramKeys('SHA-1', 'pencil', Buffer.from('QSXCR+Q6sek8bf92', 'base64'), 4096);
  const m = sha1({ password: undefined, configKeys: [{ ...keys, iterations: 10000 }] });
  await m.initialResponse();
  await rejects(m.challenge(b(SHA1.serverFirst)), 'XIOTA_E_SASL_AUTH', /made for salt .* 10000 iterations.*put the password in the config/);
  // with the password as well, the stale keys are ignored and it works
  const m2 = sha1({ configKeys: [{ ...keys, salt: 'AAAA' }] });
  await m2.initialResponse();
  assert.is((await m2.challenge(b(SHA1.serverFirst))).toString(), SHA1.final);
});

test('non-ASCII spaces in the password are SASLprep-mapped', async () => {
  // U+00A0 maps to U+0020 (RFC 4013 2.1), so both give the same proof.
  const a = sha1({ password: 'pen\u00A0cil' });
  const c = sha1({ password: 'pen cil' });
  await a.initialResponse(); await c.initialResponse();
  assert.is((await a.challenge(b(SHA1.serverFirst))).toString(), (await c.challenge(b(SHA1.serverFirst))).toString());
});

test.run();
