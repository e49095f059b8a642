// Throwaway certificates for local servers and tests, made with the openssl CLI.
// A self-signed certificate whose SAN covers HOST, *.HOST, localhost and 127.0.0.1 is its
// own CA file for Node, Python, Prosody and ejabberd (DESIGN.md "Real servers here").
import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SelfSignedCert {
  certFile: string;
  keyFile: string;
  /** The certificate itself: it is its own trust anchor. */
  caFile: string;
  /** base64 SHA-256 of the DER SubjectPublicKeyInfo (the usual public-key pin format). */
  spkiSha256: string;
}

/** Former name, kept for callers written against the first harness. */
export type CertFiles = SelfSignedCert;

export interface ClientCert {
  certFile: string;
  keyFile: string;
  /** The throwaway CA that signed certFile (give it to the server as its client CA). */
  caFile: string;
  caKeyFile: string;
}

export type KeyType = 'ec' | 'rsa';

function keyArgs(keyType: KeyType): string[] {
  // EC keys take milliseconds; RSA 2048 takes ~100 ms and is there for peers that need RSA.
  return keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] : ['-newkey', 'rsa:2048'];
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 30_000 });
  } catch (e) {
    const err = e as { stderr?: string; message: string; code?: string };
    if (err.code === 'ENOENT') throw new Error('openssl is not installed: run `apt-get install openssl`');
    throw new Error(`openssl ${args[0]} failed: ${err.stderr || err.message}`);
  }
}

/** SHA-256 of the DER SubjectPublicKeyInfo of a PEM certificate, base64 (RFC 7469 pin). */
export function spkiSha256OfPem(pem: string | Buffer): string {
  const spki = new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/** Self-signed server certificate for `host` in `dir` as HOST.crt / HOST.key. */
export async function makeSelfSignedCert(dir: string, host: string, keyType: KeyType = 'ec'): Promise<SelfSignedCert> {
  if (!/^[A-Za-z0-9.-]+$/.test(host)) throw new Error(`makeSelfSignedCert: bad host name ${JSON.stringify(host)}`);
  mkdirSync(dir, { recursive: true });
  const certFile = join(dir, `${host}.crt`);
  const keyFile = join(dir, `${host}.key`);
  await openssl([
    'req', '-x509', ...keyArgs(keyType), '-nodes', '-days', '3650',
    '-keyout', keyFile, '-out', certFile,
    '-subj', `/CN=${host}`,
    '-addext', `subjectAltName=DNS:${host},DNS:*.${host},DNS:localhost,IP:127.0.0.1`,
  ]);
  return { certFile, keyFile, caFile: certFile, spkiSha256: spkiSha256OfPem(readFileSync(certFile)) };
}

/**
 * A client certificate with subject CN=`cn` (no xmppAddr SAN) for clientAuth, signed by a
 * fresh throwaway CA, for SASL EXTERNAL tests (XEP-0178). The server must be told to trust
 * `caFile`.
 */
export async function makeClientCert(dir: string, cn: string, keyType: KeyType = 'ec'): Promise<ClientCert> {
  if (!/^[A-Za-z0-9.@_-]+$/.test(cn)) throw new Error(`makeClientCert: bad common name ${JSON.stringify(cn)}`);
  mkdirSync(dir, { recursive: true });
  const safe = cn.replace(/[^A-Za-z0-9.-]/g, '_');
  const caFile = join(dir, 'client-ca.crt');
  const caKeyFile = join(dir, 'client-ca.key');
  const csrFile = join(dir, `${safe}.csr`);
  const certFile = join(dir, `${safe}.crt`);
  const keyFile = join(dir, `${safe}.key`);
  const extFile = join(dir, `${safe}.ext`);
  await openssl(['req', '-x509', ...keyArgs(keyType), '-nodes', '-days', '3650',
    '-keyout', caKeyFile, '-out', caFile, '-subj', '/CN=xiota throwaway client CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await openssl(['req', ...keyArgs(keyType), '-nodes', '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${cn}`]);
  writeFileSync(extFile, 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
  await openssl(['x509', '-req', '-in', csrFile, '-CA', caFile, '-CAkey', caKeyFile, '-CAcreateserial',
    '-days', '3650', '-out', certFile, '-extfile', extFile]);
  return { certFile, keyFile, caFile, caKeyFile };
}
