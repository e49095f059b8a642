// XEP-0474 SASL SCRAM Downgrade Protection (SSDP): the server puts a hash of the mechanisms and
// channel-binding types it advertised into its server-first message (optional attribute h=);
// the client hashes what it saw and fails on a mismatch, because then someone between us
// removed or changed entries. The attribute is inside the SCRAM exchange, so a server
// without the password cannot forge it.
import { createHash } from 'node:crypto';
import type { ScramHash } from './types';

/** What the client saw advertised: the mechanism list of the SASL profile in use, and XEP-0440 types (undefined = not advertised). */
export interface AdvertisedSasl {
  mechanisms: string[];
  cbTypes?: string[];
}

// RFC 4790 9.3 i;octet: byte order. Names are ASCII, so code-unit order is byte order.
const octetSort = (a: string[]) => [...a].sort((p, q) => (p < q ? -1 : p > q ? 1 : 0));

/** XEP-0474 4.1 steps 1-5: base64(H(sorted mechanisms joined by 0x1E [0x1F sorted cb types joined by 0x1E])). */
export function ssdpHash(hash: ScramHash, seen: AdvertisedSasl): string {
  let s = octetSort(seen.mechanisms).join('\x1e');
  if (seen.cbTypes !== undefined) s += '\x1f' + octetSort(seen.cbTypes).join('\x1e');
  return createHash(hash === 'SHA-1' ? 'sha1' : 'sha256').update(s, 'utf8').digest('base64');
}

/**
 * XEP-0474 4.2: undefined when the server's h= (if any) matches what we saw; else the reason to
 * fail the authentication. A server that sends no h= does not implement SSDP: nothing to check.
 */
export function checkSsdp(hash: ScramHash, serverH: string | undefined, seen: AdvertisedSasl | undefined): string | undefined {
  if (serverH === undefined || seen === undefined) return undefined;
  const mine = ssdpHash(hash, seen);
  if (mine === serverH) return undefined;
  return `the server's downgrade-protection hash (XEP-0474 h=) does not match the mechanisms [${seen.mechanisms.join(', ')}]` +
    `${seen.cbTypes ? ` and channel bindings [${seen.cbTypes.join(', ')}]` : ''} it advertised to us: someone on the path changed the list (a downgrade attack); not authenticating`;
}
