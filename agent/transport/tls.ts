// TLS for the XMPP link: STARTTLS upgrade (RFC 6120 5) and direct TLS (XEP-0368).
// Certificates are verified against the system store by default, against the configured CA
// file when one is named, or against a SHA-256 pin of the server's public key
// (SubjectPublicKeyInfo, as HPKP/DANE SPKI pins) when pins are configured. A failed check says
// which check failed and what to do.
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import * as tls from 'node:tls';
import { XiotaError } from '../errors';
import { channelBindingFromTls } from '../sasl/channel-binding';
import type { ChannelBindingInfo } from '../sasl/types';

export interface TlsOptions {
  /** Name the certificate must match (RFC 6125); the JID's domain unless configured. */
  servername: string;
  /** PEM CA file to trust instead of the system store. */
  caFile?: string;
  /** Base64 SHA-256 pins of the server's SubjectPublicKeyInfo; any match is accepted. */
  pins?: string[];
  clientCert?: string;
  clientKey?: string;
}

export interface TlsInfo {
  version: string;
  cipher: string;
  /** Channel-binding data for SCRAM-*-PLUS (tls-unique, tls-exporter, tls-server-end-point). */
  cb: ChannelBindingInfo;
  peerFingerprint256: string;
  authorizedBy: 'system' | 'ca-file' | 'pin';
}

export function spkiSha256(cert: tls.PeerCertificate | X509Certificate): string {
  const x509 = cert instanceof X509Certificate ? cert : new X509Certificate(cert.raw);
  const spki = x509.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

const CA_CACHE = new Map<string, Buffer>();
function readCa(file: string): Buffer {
  let ca = CA_CACHE.get(file);
  if (!ca) {
    try {
      ca = readFileSync(file);
    } catch (e) {
      throw new XiotaError('XIOTA_E_CONFIG', `cannot read tls.ca_file ${file}: ${(e as Error).message}; fix the path or remove the key to use the system store`, { key: 'tls.ca_file' });
    }
    CA_CACHE.set(file, ca);
  }
  return ca;
}

function secureContextOptions(opts: TlsOptions): tls.ConnectionOptions {
  const o: tls.ConnectionOptions = {
    servername: opts.servername,
    minVersion: 'TLSv1.2',
    // With pins the pin is the trust anchor (checked in finishTls before any byte is sent);
    // the chain check still runs, its result is only reported.
    rejectUnauthorized: !(opts.pins && opts.pins.length),
  };
  if (opts.caFile) o.ca = readCa(opts.caFile);
  if (opts.clientCert) o.cert = readFileSync(opts.clientCert);
  if (opts.clientKey) o.key = readFileSync(opts.clientKey);
  return o;
}

function certError(err: Error & { code?: string }, opts: TlsOptions): XiotaError {
  const code = err.code ?? 'UNKNOWN';
  let what: string;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    what = `the server's certificate is not valid for ${opts.servername} (${err.message}); connect to the right host or set tls.servername`;
  } else if (code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'SELF_SIGNED_CERT_IN_CHAIN' || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY') {
    what = `the server's certificate is not signed by a trusted CA (${code}); ${opts.caFile ? `it is not signed by tls.ca_file ${opts.caFile}` : 'name the CA with tls.ca_file (--ca) or pin its key with tls.pin_sha256'}`;
  } else if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    what = `the server's certificate is outside its validity period (${code}); check the clock and the certificate`;
  } else {
    what = `TLS failed: ${err.message} (${code})`;
  }
  return new XiotaError('XIOTA_E_TLS_CERT', `certificate check failed: ${what}`, { tlsCode: code }, { cause: err });
}

/** Verifies pins, gathers channel-binding data. Throws XiotaError on a pin mismatch. */
function finishTls(sock: tls.TLSSocket, opts: TlsOptions): TlsInfo {
  const peer = sock.getPeerCertificate(false);
  if (!peer || !peer.raw) throw new XiotaError('XIOTA_E_TLS_CERT', 'the server sent no certificate');
  let authorizedBy: TlsInfo['authorizedBy'] = opts.caFile ? 'ca-file' : 'system';
  if (opts.pins && opts.pins.length) {
    const got = spkiSha256(peer);
    if (!opts.pins.includes(got)) {
      throw new XiotaError('XIOTA_E_TLS_PIN', `certificate pin check failed: the server's key SHA-256 is ${got}, which is not among tls.pin_sha256; if the server changed its key on purpose, update the pin`, { got });
    }
    authorizedBy = 'pin';
  }
  return {
    version: sock.getProtocol() ?? 'unknown',
    cipher: sock.getCipher()?.name ?? 'unknown',
    peerFingerprint256: peer.fingerprint256,
    authorizedBy,
    cb: channelBindingFromTls(sock),
  };
}

function handshake(make: () => tls.TLSSocket, opts: TlsOptions, timeoutMs: number): Promise<{ socket: tls.TLSSocket; info: TlsInfo }> {
  return new Promise((resolve, reject) => {
    const sock = make();
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new XiotaError('XIOTA_E_TIMEOUT', `TLS handshake with ${opts.servername} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (err: Error & { code?: string }) => {
      clearTimeout(timer);
      sock.destroy();
      if (err instanceof XiotaError) return reject(err);
      if (err.code && (/CERT|SELF_SIGNED|ALTNAME|ISSUER|VERIFY/.test(err.code))) return reject(certError(err, opts));
      reject(new XiotaError('XIOTA_E_CONNECT', `TLS with ${opts.servername} failed: ${err.message}`, { sysCode: err.code }, { cause: err }));
    };
    sock.once('error', fail);
    sock.once('secureConnect', () => {
      clearTimeout(timer);
      sock.off('error', fail);
      try {
        resolve({ socket: sock, info: finishTls(sock, opts) });
      } catch (e) {
        sock.destroy();
        reject(e);
      }
    });
  });
}

/** RFC 6120 5.4.3.3: after <proceed/>, the TLS handshake runs over the existing TCP socket. */
export function startTls(socket: Socket, opts: TlsOptions, timeoutMs = 20_000): Promise<{ socket: tls.TLSSocket; info: TlsInfo }> {
  return handshake(() => tls.connect({ ...secureContextOptions(opts), socket }), opts, timeoutMs);
}

/** XEP-0368: TLS from the first byte, ALPN `xmpp-client`. */
export function connectDirectTls(host: string, port: number, opts: TlsOptions, timeoutMs = 20_000): Promise<{ socket: tls.TLSSocket; info: TlsInfo }> {
  return handshake(() => tls.connect({ ...secureContextOptions(opts), host, port, ALPNProtocols: ['xmpp-client'] }), opts, timeoutMs);
}
