// SCRAM key derivation (RFC 5802 3) and the in-memory cache that lets a reconnect skip it.
//
//   SaltedPassword = Hi(Normalize(password), salt, i)      -- PBKDF2 with HMAC-H, one block
//   ClientKey      = HMAC(SaltedPassword, "Client Key")
//   ServerKey      = HMAC(SaltedPassword, "Server Key")
//
// Node's crypto.pbkdf2 runs Hi in native code on the libuv thread pool: a few milliseconds
// for 4096 iterations, against ~1 s for 10,000 async WebCrypto HMAC calls in @xmpp/client
// (DESIGN.md). The keys depend only on (hash, password, salt, i), so the cache is keyed on
// exactly that and a reconnect to the same account costs no PBKDF2 at all.

import { createHmac, pbkdf2, randomBytes } from 'node:crypto';
import { saslprep } from './saslprep';
import type { ScramHash, ScramKeyCacheLike, ScramKeys } from './types';

export type DeriveScramKeys = (hash: ScramHash, password: string, salt: Buffer, iterations: number) => Promise<ScramKeys>;

/** Node's digest name and output length for a SCRAM hash. */
export function digestOf(hash: ScramHash): { name: 'sha1' | 'sha256'; size: number } {
  return hash === 'SHA-1' ? { name: 'sha1', size: 20 } : { name: 'sha256', size: 32 };
}

/** RFC 5802 3. The password is SASLprep-normalized first (RFC 5802 2.2). */
export async function deriveScramKeys(hash: ScramHash, password: string, salt: Buffer, iterations: number): Promise<ScramKeys> {
  const { name, size } = digestOf(hash);
  const normalized = saslprep(password);
  // Hi() is PBKDF2 with dkLen = hash output length (RFC 5802 2.2).
  const salted = await new Promise<Buffer>((resolve, reject) =>
    pbkdf2(Buffer.from(normalized, 'utf8'), salt, iterations, size, name, (err, key) => (err ? reject(err) : resolve(key))));
  return {
    hash,
    salt: salt.toString('base64'),
    iterations,
    clientKey: createHmac(name, salted).update('Client Key').digest('base64'),
    serverKey: createHmac(name, salted).update('Server Key').digest('base64'),
  };
}

export interface ScramKeyCacheOptions {
  /** Replaces the derivation (tests count calls with it). */
  derive?: DeriveScramKeys;
  /** Entries kept; the oldest goes first. A device has one account, so a few suffice. */
  maxEntries?: number;
}

/**
 * In-memory cache of derived SCRAM keys, one per (hash, salt, iterations, password). The
 * password is never stored: it is represented by an HMAC under a per-cache random key, so
 * a memory dump of the cache does not give a fast-to-test password hash.
 */
export class ScramKeyCache implements ScramKeyCacheLike {
  private readonly entries = new Map<string, Promise<ScramKeys>>();
  private readonly secret = randomBytes(32);
  private readonly derive: DeriveScramKeys;
  private readonly maxEntries: number;

  constructor(opts: ScramKeyCacheOptions = {}) {
    this.derive = opts.derive ?? deriveScramKeys;
    this.maxEntries = opts.maxEntries ?? 8;
  }

  /** Opaque stand-in for a password in cache keys. */
  passwordFingerprint(password: string): string {
    return createHmac('sha256', this.secret).update(password, 'utf8').digest('base64');
  }

  private key(hash: ScramHash, salt: Buffer, iterations: number, fingerprint: string): string {
    return `${hash}|${salt.toString('base64')}|${iterations}|${fingerprint}`;
  }

  get(hash: ScramHash, salt: Buffer, iterations: number, password: string): Promise<ScramKeys> | undefined {
    return this.entries.get(this.key(hash, salt, iterations, this.passwordFingerprint(password)));
  }

  set(hash: ScramHash, salt: Buffer, iterations: number, password: string, keys: ScramKeys | Promise<ScramKeys>): void {
    const k = this.key(hash, salt, iterations, this.passwordFingerprint(password));
    this.entries.delete(k);
    this.entries.set(k, Promise.resolve(keys));
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
  }

  /**
   * Cached keys, or derives and caches them. Concurrent callers share one derivation; a
   * failed derivation is not cached.
   */
  getOrDerive(hash: ScramHash, password: string, salt: Buffer, iterations: number): Promise<ScramKeys> {
    const hit = this.get(hash, salt, iterations, password);
    if (hit) return hit;
    const p = this.derive(hash, password, salt, iterations);
    this.set(hash, salt, iterations, password, p);
    p.catch(() => {
      const k = this.key(hash, salt, iterations, this.passwordFingerprint(password));
      if (this.entries.get(k) === p) this.entries.delete(k);
    });
    return p;
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
