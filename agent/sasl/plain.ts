// PLAIN (RFC 4616): the password in the clear, so only inside TLS and only when the config
// allows it (selectMechanism enforces both; RFC 6120 6.3.2 / 13.8).

import { XiotaError } from '../errors';
import { saslprep } from './saslprep';
import type { SaslMechanism } from './types';

export class PlainMechanism implements SaslMechanism {
  readonly name = 'PLAIN';

  constructor(private readonly username: string, private readonly password: string, private readonly authzid?: string) {}

  async initialResponse(): Promise<Buffer> {
    // RFC 4616 2: message = [authzid] UTF8NUL authcid UTF8NUL passwd
    return Buffer.from(`${this.authzid ?? ''}\0${this.username}\0${saslprep(this.password)}`, 'utf8');
  }

  async challenge(): Promise<Buffer> {
    throw new XiotaError('XIOTA_E_SASL_AUTH', 'PLAIN: the server sent a challenge, which PLAIN never has (RFC 4616); aborting', { mechanism: this.name });
  }

  success(): void {
    // PLAIN has no server authentication; TLS certificate checking is what protects it.
  }
}
