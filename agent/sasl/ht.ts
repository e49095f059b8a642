// The Hashed Token mechanisms XEP-0484 (FAST) uses, client side (draft-schmaus-kitten-sasl-ht-09):
//   client  authcid NUL HMAC-SHA-256(token, "Initiator" || cb-data)
//   server  HMAC-SHA-256(token, "Responder" || cb-data)        (SASL2 additional-data)
// One round trip, no PBKDF2. The suffix names the channel binding: NONE (none), UNIQ
// (tls-unique), EXPR (tls-exporter), ENDP (tls-server-end-point). The server's answer is
// always checked: a server that cannot produce it does not hold the token.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { XiotaError } from '../errors';
import { localCbTypes } from './channel-binding';
import type { ChannelBindingInfo, ChannelBindingType, SaslMechanism } from './types';

const SUFFIX_CB: Record<string, ChannelBindingType | null> = { EXPR: 'tls-exporter', UNIQ: 'tls-unique', ENDP: 'tls-server-end-point', NONE: null };
/** Strongest first (XEP-0484 9: channel binding MUST be preferred). */
const PREFERENCE = ['HT-SHA-256-EXPR', 'HT-SHA-256-UNIQ', 'HT-SHA-256-ENDP', 'HT-SHA-256-NONE'] as const;

/** The channel-binding data an HT mechanism needs on this connection: Buffer (empty for NONE), or undefined when unavailable. */
export function htBindingData(mechanism: string, cb: ChannelBindingInfo): Buffer | undefined {
  const m = /^HT-SHA-256-(EXPR|UNIQ|ENDP|NONE)$/.exec(mechanism);
  if (!m) return undefined;
  const type = SUFFIX_CB[m[1]!];
  if (type === null) return Buffer.alloc(0);
  // localCbTypes applies the TLS-version rules (no tls-unique on TLS 1.3, exporter on 1.3 only).
  return localCbTypes(cb).find((l) => l.type === type)?.data;
}

/** The FAST mechanism to ask a token for: the strongest the server offers that this connection can bind. */
export function chooseHtMechanism(offered: string[], cb: ChannelBindingInfo): string | undefined {
  return PREFERENCE.find((m) => offered.includes(m) && htBindingData(m, cb) !== undefined);
}

export class HtMechanism implements SaslMechanism {
  private answered = false;
  private verified = false;
  private readonly cbData: Buffer;

  constructor(readonly name: string, private readonly username: string, private readonly token: string, cb: ChannelBindingInfo) {
    const data = htBindingData(name, cb);
    if (!data) throw new XiotaError('XIOTA_E_SASL_MECH', `${name}: this connection has no channel-binding data for it (TLS ${cb.tlsVersion ?? 'unknown'}); ask for a new token`, { mechanism: name });
    this.cbData = data;
  }

  private mac(label: string): Buffer {
    return createHmac('sha256', Buffer.from(this.token, 'utf8')).update(Buffer.concat([Buffer.from(label, 'ascii'), this.cbData])).digest();
  }

  async initialResponse(): Promise<Buffer> {
    if (this.answered) throw new XiotaError('XIOTA_E_SASL_AUTH', `${this.name}: initialResponse called twice`);
    this.answered = true;
    return Buffer.concat([Buffer.from(this.username, 'utf8'), Buffer.from([0]), this.mac('Initiator')]);
  }

  async challenge(): Promise<Buffer> {
    // One round trip by definition (XEP-0484 4): a challenge means this is not an HT server.
    throw new XiotaError('XIOTA_E_SASL_AUTH', `${this.name}: the server sent a challenge, which hashed-token mechanisms never do`, { mechanism: this.name });
  }

  success(additionalData: Buffer | null): void {
    const expected = this.mac('Responder');
    if (!additionalData || additionalData.length !== expected.length || !timingSafeEqual(additionalData, expected)) {
      throw new XiotaError('XIOTA_E_SASL_SERVER_SIGNATURE',
        `${this.name}: the server reported success without proving it holds the token; drop the connection: this may not be the real server`, { mechanism: this.name });
    }
    this.verified = true;
  }

  get isVerified(): boolean {
    return this.verified;
  }
}
