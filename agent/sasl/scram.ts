// SCRAM-SHA-1, SCRAM-SHA-256 and their -PLUS variants, client side (RFC 5802, RFC 7677).
//
//   client-first  gs2-header n=user,r=cnonce
//   server-first  r=cnonce+snonce,s=salt,i=iterations
//   client-final  c=base64(gs2-header + cb-data),r=cnonce+snonce,p=proof
//   server-final  v=ServerSignature   (or e=error)
//
// The server's v= is always checked: a server that cannot produce it does not hold the
// account's keys, and the session must drop the connection (RFC 5802 5.1).

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { XiotaError } from '../errors';
import type { Logger } from '../log';
import { cbindInput, type ChannelBindingChoice } from './channel-binding';
import { deriveScramKeys, digestOf } from './scram-keys';
import { checkSsdp, type AdvertisedSasl } from './ssdp';
import type { SaslMechanism, ScramHash, ScramKeyCacheLike, ScramKeys } from './types';

export interface ScramOptions {
  hash: ScramHash;
  /** The -PLUS variant; then `cb` must have flag 'p'. */
  plus: boolean;
  username: string;
  password?: string;
  /** Keys from the config, used when their salt and iterations are the server's. */
  configKeys?: ScramKeys[];
  authzid?: string;
  cb: ChannelBindingChoice;
  keyCache?: ScramKeyCacheLike;
  /** Upper bound on i= (default 1,000,000): a server cannot make us burn minutes of CPU. */
  maxIterations?: number;
  /** What the server advertised, to check its XEP-0474 downgrade-protection hash (h=) against. */
  advertised?: AdvertisedSasl;
  /** Fixed client nonce, for the RFC test vectors only. Normally random. */
  clientNonce?: string;
  log?: Logger;
}

/** RFC 5802 5.1 saslname: '=' -> '=3D', ',' -> '=2C'. */
export function escapeSaslname(s: string): string {
  return s.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// RFC 5802 7: printable = %x21-2B / %x2D-7E (no comma).
const PRINTABLE = /^[\x21-\x2B\x2D-\x7E]+$/;

type State = 'start' | 'first-sent' | 'final-sent' | 'verified' | 'failed';

export class ScramMechanism implements SaslMechanism {
  readonly name: string;
  private state: State = 'start';
  private readonly nonce: string;
  private gs2Header = '';
  private clientFirstBare = '';
  private expectedServerSignature?: Buffer;
  private derived?: ScramKeys;

  constructor(private readonly opts: ScramOptions) {
    this.name = `SCRAM-${opts.hash}${opts.plus ? '-PLUS' : ''}`;
    if (opts.plus !== (opts.cb.flag === 'p')) throw new Error(`${this.name}: channel binding flag '${opts.cb.flag}' does not fit`);
    // 24 random bytes: 192 bits of freshness; base64 never contains ','.
    this.nonce = opts.clientNonce ?? randomBytes(24).toString('base64');
  }

  /** The keys used in this exchange (after the server-first message), e.g. to save in the config instead of the password. */
  get keys(): ScramKeys | undefined {
    return this.derived;
  }

  /** The channel binding type in use, if any. */
  get channelBinding(): string | undefined {
    return this.opts.cb.flag === 'p' ? this.opts.cb.type : undefined;
  }

  async initialResponse(): Promise<Buffer> {
    if (this.state !== 'start') throw this.fail('initialResponse called twice');
    const { cb, authzid, username } = this.opts;
    const flag = cb.flag === 'p' ? `p=${cb.type}` : cb.flag;
    // RFC 5802 7: gs2-header = gs2-cbind-flag "," [ authzid ] ","
    this.gs2Header = `${flag},${authzid ? 'a=' + escapeSaslname(authzid) : ''},`;
    this.clientFirstBare = `n=${escapeSaslname(username)},r=${this.nonce}`;
    this.state = 'first-sent';
    return Buffer.from(this.gs2Header + this.clientFirstBare, 'utf8');
  }

  async challenge(data: Buffer): Promise<Buffer> {
    if (this.state === 'first-sent') return this.onServerFirst(data.toString('utf8'));
    // Some servers send server-final as a challenge and <success/> without data (RFC 6120 6.4.6 allows both).
    if (this.state === 'final-sent') {
      this.verifyServerFinal(data.toString('utf8'));
      return Buffer.alloc(0);
    }
    throw this.fail(`unexpected challenge in state ${this.state}`);
  }

  success(additionalData: Buffer | null): void {
    if (additionalData && additionalData.length > 0 && (this.state === 'final-sent' || this.state === 'verified')) {
      this.verifyServerFinal(additionalData.toString('utf8'));
    }
    if (this.state !== 'verified') {
      this.state = 'failed';
      throw new XiotaError('XIOTA_E_SASL_SERVER_SIGNATURE',
        `${this.name}: the server reported success without proving it knows the account's keys (no v= in the server-final message); drop the connection: this may not be the real server`,
        { mechanism: this.name });
    }
  }

  private async onServerFirst(msg: string): Promise<Buffer> {
    const attrs = msg.split(',');
    const get = (i: number, key: string): string | undefined => {
      const a = attrs[i];
      return a !== undefined && a.startsWith(key + '=') ? a.slice(key.length + 1) : undefined;
    };
    const err = get(0, 'e');
    if (err !== undefined) throw this.authError(`the server refused the first message: ${err}`, { serverError: err });
    // RFC 5802 5.1: a mandatory extension we do not know -> fail.
    if (get(0, 'm') !== undefined) throw this.malformed('it carries a mandatory extension (m=) this client does not know');
    const r = get(0, 'r');
    const s = get(1, 's');
    const i = get(2, 'i');
    if (r === undefined || s === undefined || i === undefined) throw this.malformed('expected r=,s=,i=');
    // RFC 5802 5.1: the nonce is ours with the server's appended.
    if (!r.startsWith(this.nonce) || r.length <= this.nonce.length || !PRINTABLE.test(r)) {
      throw this.malformed('the nonce does not extend ours (replayed or tampered exchange)');
    }
    if (s.length === 0 || !BASE64.test(s)) throw this.malformed('the salt is not base64');
    if (!/^[1-9][0-9]{0,9}$/.test(i)) throw this.malformed(`iteration count '${i}' is not a positive integer`);
    const iterations = Number(i);
    const max = this.opts.maxIterations ?? 1_000_000;
    if (iterations > max) {
      throw this.authError(`the server asks for ${iterations} PBKDF2 iterations, more than the limit of ${max}; raise the limit if this server is trusted`, { iterations });
    }
    // RFC 7677 4 recommends at least 4096; fewer is weak but some servers use it, so warn only.
    if (iterations < 4096) this.opts.log?.warn('SCRAM iteration count below 4096 (RFC 7677 4): weak password hashing on the server', { mechanism: this.name, iterations });
    const salt = Buffer.from(s, 'base64');
    // XEP-0474 4.2: an optional h= after i= is the server's hash of what it advertised.
    const h = attrs.slice(3).find((a) => a.startsWith('h='))?.slice(2);
    const downgrade = checkSsdp(this.opts.hash, h, this.opts.advertised);
    if (downgrade) throw this.authError(downgrade, { reason: 'downgrade' });
    if (h !== undefined && this.opts.advertised) this.opts.log?.debug('XEP-0474 downgrade protection: the server\'s hash matches what it advertised', { mechanism: this.name });

    const keys = await this.keysFor(salt, s, iterations);
    this.derived = keys;
    const { name } = digestOf(this.opts.hash);
    const clientKey = Buffer.from(keys.clientKey, 'base64');
    const serverKey = Buffer.from(keys.serverKey, 'base64');

    const c = cbindInput(this.gs2Header, this.opts.cb).toString('base64');
    const clientFinalWithoutProof = `c=${c},r=${r}`;
    // RFC 5802 3: AuthMessage = client-first-message-bare "," server-first-message "," client-final-message-without-proof
    const authMessage = `${this.clientFirstBare},${msg},${clientFinalWithoutProof}`;
    const storedKey = createHash(name).update(clientKey).digest();
    const clientSignature = createHmac(name, storedKey).update(authMessage, 'utf8').digest();
    const proof = Buffer.alloc(clientKey.length);
    for (let k = 0; k < proof.length; k++) proof[k] = clientKey[k]! ^ clientSignature[k]!;
    this.expectedServerSignature = createHmac(name, serverKey).update(authMessage, 'utf8').digest();
    this.state = 'final-sent';
    return Buffer.from(`${clientFinalWithoutProof},p=${proof.toString('base64')}`, 'utf8');
  }

  /** Config keys when they fit, else the cache / a fresh derivation from the password. */
  private async keysFor(salt: Buffer, saltB64: string, iterations: number): Promise<ScramKeys> {
    const { hash, password, configKeys, keyCache } = this.opts;
    const fromConfig = configKeys?.find((k) => k.hash === hash && k.iterations === iterations && Buffer.from(k.salt, 'base64').equals(salt));
    if (fromConfig) return fromConfig;
    if (password === undefined) {
      const stale = configKeys?.find((k) => k.hash === hash);
      throw new XiotaError('XIOTA_E_SASL_AUTH',
        stale
          ? `${this.name}: the configured ${hash} keys were made for salt ${stale.salt} and ${stale.iterations} iterations, but the server now uses salt ${saltB64} and ${iterations} iterations (password changed or account re-created); put the password in the config or derive new keys`
          : `${this.name}: no password and no ${hash} keys in the config; set the password`,
        { mechanism: this.name, reason: 'scram-keys-stale', iterations });
    }
    return keyCache ? keyCache.getOrDerive(hash, password, salt, iterations) : deriveScramKeys(hash, password, salt, iterations);
  }

  private verifyServerFinal(msg: string): void {
    const expected = this.expectedServerSignature;
    if (!expected) throw this.fail('server-final before server-first');
    const first = msg.split(',')[0] ?? '';
    if (first.startsWith('e=')) {
      this.state = 'failed';
      throw this.authError(`the server refused the proof: ${first.slice(2)}; check the JID and password`, { serverError: first.slice(2) });
    }
    if (!first.startsWith('v=') || !BASE64.test(first.slice(2))) {
      this.state = 'failed';
      throw new XiotaError('XIOTA_E_SASL_SERVER_SIGNATURE',
        `${this.name}: the server-final message has no valid v= server signature; drop the connection: this may not be the real server`,
        { mechanism: this.name });
    }
    const got = Buffer.from(first.slice(2), 'base64');
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
      this.state = 'failed';
      throw new XiotaError('XIOTA_E_SASL_SERVER_SIGNATURE',
        `${this.name}: the server's signature (v=) is wrong, so it does not hold this account's keys; drop the connection: this may be a man in the middle or the wrong server`,
        { mechanism: this.name });
    }
    this.state = 'verified';
  }

  private malformed(why: string): XiotaError {
    return this.authError(`malformed server-first message: ${why}; the server is broken or the exchange was tampered with`, { reason: 'malformed' });
  }

  private authError(message: string, detail: Record<string, unknown> = {}): XiotaError {
    this.state = 'failed';
    return new XiotaError('XIOTA_E_SASL_AUTH', `${this.name}: ${message}`, { mechanism: this.name, ...detail });
  }

  private fail(why: string): XiotaError {
    this.state = 'failed';
    return new XiotaError('XIOTA_E_SASL_AUTH', `${this.name}: protocol error: ${why}`, { mechanism: this.name });
  }
}
