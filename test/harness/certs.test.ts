// Self-test of the throwaway certificates: SAN coverage, the SPKI pin agrees with openssl's
// own computation, and a client certificate chains to its throwaway CA (SASL EXTERNAL).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeClientCert, makeSelfSignedCert, spkiSha256OfPem } from '../../scripts/certs';

const dir = mkdtempSync(join(tmpdir(), 'xiota-certs-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

for (const keyType of ['ec', 'rsa'] as const) {
  test(`self-signed ${keyType}: names, CA flag, pin equals openssl's`, async () => {
    const c = await makeSelfSignedCert(join(dir, keyType), 'dev.example', keyType);
    assert.is(c.caFile, c.certFile);
    const x = new X509Certificate(readFileSync(c.certFile));
    assert.is(x.subjectAltName, 'DNS:dev.example, DNS:*.dev.example, DNS:localhost, IP Address:127.0.0.1');
    assert.ok(x.verify(x.publicKey), 'self-signed');
    assert.is(x.publicKey.asymmetricKeyType, keyType);
    const viaOpenssl = execSync(`openssl x509 -in ${c.certFile} -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`).toString().trim();
    assert.is(c.spkiSha256, viaOpenssl);
    assert.is(spkiSha256OfPem(readFileSync(c.certFile)), viaOpenssl);
  });
}

test('client certificate chains to its throwaway CA and is for client auth', async () => {
  const c = await makeClientCert(join(dir, 'client'), 'dev@xiota.test');
  const ca = new X509Certificate(readFileSync(c.caFile));
  const leaf = new X509Certificate(readFileSync(c.certFile));
  assert.ok(leaf.checkIssued(ca));
  assert.ok(leaf.verify(ca.publicKey));
  assert.ok(ca.ca);
  assert.not.ok(leaf.ca);
  assert.match(leaf.subject, /CN=dev@xiota\.test/);
  assert.ok(leaf.keyUsage?.includes('1.3.6.1.5.5.7.3.2'), 'extendedKeyUsage clientAuth');
});

test('a host name that could inject openssl arguments is refused', async () => {
  let err: unknown;
  try { await makeSelfSignedCert(dir, 'x/CN=evil,DNS:other'); } catch (e) { err = e; }
  assert.match(String(err), /bad host name/);
});

test.run();
