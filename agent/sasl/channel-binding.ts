// Channel binding for SCRAM-*-PLUS (RFC 5802 6, RFC 5056): which type to use, which GS2 flag
// to send, and how to read the binding data off a Node TLS socket.
//
// What servers do (checked, DESIGN.md): Prosody 0.12 offers -PLUS only under TLS 1.2 with
// tls-unique and does not advertise XEP-0440; ejabberd 23.01 offers SCRAM-SHA-1-PLUS also
// under TLS 1.3. tls-unique is undefined for TLS 1.3 (RFC 9266 3); tls-exporter is only safe
// on TLS 1.2 with the extended master secret, which Node does not report, so we use it on
// TLS 1.3 only.

import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { ChannelBindingInfo, ChannelBindingType } from './types';

export interface ChannelBindingChoice {
  /** GS2 cbind-flag (RFC 5802 7): 'p' = binding to `type`, 'y' = we could bind but the server offered no -PLUS, 'n' = no binding. */
  flag: 'p' | 'y' | 'n';
  type?: ChannelBindingType;
  data?: Buffer;
  /** Set when XEP-0440 5 says to abort: the advertisement looks tampered with. */
  abort?: string;
}

/** Types we hold data for on this connection, strongest first (XEP-0440 5: prefer stronger than tls-server-end-point). */
export function localCbTypes(cb: ChannelBindingInfo): { type: ChannelBindingType; data: Buffer }[] {
  const out: { type: ChannelBindingType; data: Buffer }[] = [];
  const v = cb.tlsVersion;
  if (v === 'TLSv1.3' && cb.tlsExporter?.length) out.push({ type: 'tls-exporter', data: cb.tlsExporter });
  // RFC 9266 3: tls-unique must not be used with TLS 1.3. An unknown version is not trusted.
  if (v !== undefined && v !== 'TLSv1.3' && /^TLSv1(\.[0-2])?$/.test(v) && cb.tlsUnique?.length) out.push({ type: 'tls-unique', data: cb.tlsUnique });
  if (cb.tlsServerEndPoint?.length) out.push({ type: 'tls-server-end-point', data: cb.tlsServerEndPoint });
  return out;
}

/**
 * Decides the binding for SCRAM.
 * @param serverOffersPlus any SCRAM-*-PLUS among the offered mechanisms
 */
export function chooseChannelBinding(secure: boolean, serverOffersPlus: boolean, cb: ChannelBindingInfo): ChannelBindingChoice {
  if (!secure) return { flag: 'n' };
  const local = localCbTypes(cb);
  if (local.length === 0) return { flag: 'n' };
  const advertised = cb.serverCbTypes;
  if (!serverOffersPlus) {
    // RFC 5802 6 / XEP-0440 5: we support binding and see no -PLUS, so say 'y'. A server that
    // does support binding then fails the exchange, which is how a MITM stripping -PLUS is
    // caught. XEP-0440 5 adds that a client SHOULD abort when types are advertised without
    // -PLUS; sending 'y' gives the same protection (the server knows it can bind and refuses
    // 'y') without locking out a server whose advertisement merely does not apply here.
    return { flag: 'y' };
  }
  if (advertised === undefined) {
    // No XEP-0440: tls-unique is the SCRAM default (RFC 5802 6) and all Prosody 0.12 knows.
    // On TLS 1.3 the server's type is unknowable (ejabberd 23.01 offers -PLUS there), so do
    // not bind. The flag must then be 'n': 'y' would tell a -PLUS-offering server that we
    // saw no -PLUS, and it would rightly refuse.
    const unique = local.find((l) => l.type === 'tls-unique');
    return unique ? { flag: 'p', type: unique.type, data: unique.data } : { flag: 'n' };
  }
  const pick = local.find((l) => advertised.includes(l.type));
  if (pick) return { flag: 'p', type: pick.type, data: pick.data };
  // XEP-0440 5: -PLUS and types advertised, none of them ours, and no tls-server-end-point
  // (which every server MUST advertise) -> the list was tampered with.
  if (!advertised.includes('tls-server-end-point')) {
    return { flag: 'n', abort: `the server offers -PLUS mechanisms but advertises only channel binding types [${advertised.join(', ')}], none usable here and without tls-server-end-point (XEP-0440 5): this looks like a downgrade attack` };
  }
  // It advertises tls-server-end-point but the session did not give us its data.
  return { flag: 'n' };
}

/** The cbind-data for SCRAM's c= attribute: gs2-header followed by the binding data (RFC 5802 7). */
export function cbindInput(gs2Header: string, choice: ChannelBindingChoice): Buffer {
  const header = Buffer.from(gs2Header, 'utf8');
  return choice.flag === 'p' && choice.data ? Buffer.concat([header, choice.data]) : header;
}

type TlsChannel = Pick<TLSSocket, 'getProtocol' | 'getFinished' | 'getPeerFinished' | 'isSessionReused' | 'exportKeyingMaterial' | 'getPeerCertificate'>;

/**
 * Reads every binding we know off a connected TLS socket.
 * @param serverCbTypes the XEP-0440 types from the stream features (undefined when absent)
 */
export function channelBindingFromTls(socket: TlsChannel, serverCbTypes?: string[]): ChannelBindingInfo {
  const info: ChannelBindingInfo = { serverCbTypes };
  info.tlsVersion = socket.getProtocol() ?? undefined;
  if (info.tlsVersion === 'TLSv1.3') {
    // RFC 9266 2: label "EXPORTER-Channel-Binding", empty context, 32 bytes.
    try { info.tlsExporter = socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0)); } catch { /* not available */ }
  } else {
    // RFC 5929 3.1: the first Finished message of the latest handshake: ours on a full
    // handshake, the server's on an abbreviated (resumed) one.
    info.tlsUnique = (socket.isSessionReused() ? socket.getPeerFinished() : socket.getFinished()) ?? undefined;
  }
  try {
    const raw = socket.getPeerCertificate(false)?.raw;
    if (raw) info.tlsServerEndPoint = tlsServerEndPoint(raw);
  } catch { /* no certificate: leave it out */ }
  return info;
}

// Signature algorithm OIDs (DER content bytes, hex) -> the hash RFC 5929 4.1 says to use:
// the certificate's own signature hash, with MD5 and SHA-1 replaced by SHA-256.
const SIG_HASH: Record<string, 'sha256' | 'sha384' | 'sha512'> = {
  '2a864886f70d010104': 'sha256', // md5WithRSAEncryption
  '2a864886f70d010105': 'sha256', // sha1WithRSAEncryption
  '2a864886f70d01010b': 'sha256', // sha256WithRSAEncryption
  '2a864886f70d01010c': 'sha384',
  '2a864886f70d01010d': 'sha512',
  '2a8648ce3d0401': 'sha256', // ecdsa-with-SHA1
  '2a8648ce3d040302': 'sha256', // ecdsa-with-SHA256
  '2a8648ce3d040303': 'sha384',
  '2a8648ce3d040304': 'sha512',
};

/**
 * RFC 5929 4.1 tls-server-end-point: hash of the server's DER certificate. Undefined for
 * algorithms RFC 5929 leaves open (Ed25519, RSA-PSS) rather than guessing.
 */
export function tlsServerEndPoint(certDer: Buffer): Buffer | undefined {
  const oid = signatureAlgorithmOid(certDer);
  const hash = oid === undefined ? undefined : SIG_HASH[oid];
  return hash ? createHash(hash).update(certDer).digest() : undefined;
}

// Certificate ::= SEQUENCE { tbsCertificate SEQUENCE, signatureAlgorithm SEQUENCE { OID, ... }, BIT STRING }
function signatureAlgorithmOid(der: Buffer): string | undefined {
  const cert = readTlv(der, 0);
  if (!cert || cert.tag !== 0x30) return undefined;
  const tbs = readTlv(der, cert.start);
  if (!tbs || tbs.tag !== 0x30) return undefined;
  const alg = readTlv(der, tbs.end);
  if (!alg || alg.tag !== 0x30) return undefined;
  const oid = readTlv(der, alg.start);
  if (!oid || oid.tag !== 0x06 || oid.end > alg.end) return undefined;
  return der.subarray(oid.start, oid.end).toString('hex');
}

function readTlv(b: Buffer, off: number): { tag: number; start: number; end: number } | undefined {
  if (off + 2 > b.length) return undefined;
  const tag = b[off]!;
  let len = b[off + 1]!;
  let start = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > b.length) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
    start += n;
  }
  const end = start + len;
  return end <= b.length ? { tag, start, end } : undefined;
}
