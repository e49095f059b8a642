// Throwaway certificates for local servers (tests, the demo): a self-signed certificate that is
// its own CA file, valid for the host, its subdomains, localhost and 127.0.0.1.
import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface CertFiles {
  certFile: string;
  keyFile: string;
  /** The same file as certFile: a self-signed certificate is its own CA. */
  caFile: string;
  /** Base64 SHA-256 of the DER SubjectPublicKeyInfo (for tls.pin_sha256). */
  spkiSha256: string;
}

export function makeSelfSignedCert(dir: string, host: string): CertFiles {
  const certFile = join(dir, `${host}.crt`);
  const keyFile = join(dir, `${host}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650',
    '-subj', `/CN=${host}`,
    '-addext', `subjectAltName=DNS:${host},DNS:*.${host},DNS:localhost,IP:127.0.0.1`,
    '-keyout', keyFile, '-out', certFile,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  const spki = new X509Certificate(readFileSync(certFile)).publicKey.export({ type: 'spki', format: 'der' });
  return { certFile, keyFile, caFile: certFile, spkiSha256: createHash('sha256').update(spki).digest('base64') };
}
