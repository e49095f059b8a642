// EXTERNAL (RFC 4422 appendix A, XEP-0178): the TLS client certificate is the credential.

import { XiotaError } from '../errors';
import type { SaslMechanism } from './types';

export class ExternalMechanism implements SaslMechanism {
  readonly name = 'EXTERNAL';

  constructor(private readonly authzid?: string) {}

  async initialResponse(): Promise<Buffer> {
    // XEP-0178 3: an empty response (sent as "=") lets the server take the identity from the
    // certificate; an authzid asks for a specific one.
    return Buffer.from(this.authzid ?? '', 'utf8');
  }

  async challenge(data: Buffer): Promise<Buffer> {
    // RFC 4422 A.1: the only challenge is an empty one, asking for the (empty) response again.
    if (data.length === 0) return Buffer.from(this.authzid ?? '', 'utf8');
    throw new XiotaError('XIOTA_E_SASL_AUTH', 'EXTERNAL: the server sent a non-empty challenge, which EXTERNAL never has; aborting', { mechanism: this.name });
  }

  success(): void {
    // The server was authenticated by TLS certificate checking.
  }
}
