// Session keys and nonces (NaCl secretbox = XSalsa20-Poly1305, tweetnacl on the host). Keys come
// from the board's pre-shared secret and both sides' fresh nonces, so every session has its own
// pair; the frame header is bound into the secretbox nonce, so a changed type or counter
// fails the MAC like a changed body. Layout: firmware-bridge/proto/bridge.proto.
import nacl from 'tweetnacl';

export const PSK_BYTES = 32;
export const SESSION_NONCE_BYTES = 16;
export const TAG_BYTES = 16;
export const DIR_HOST_TO_BOARD = 1;
export const DIR_BOARD_TO_HOST = 2;
const LABEL = new TextEncoder().encode('xiota-bridge-v1');

export interface SessionKeys { hostToBoard: Uint8Array; boardToHost: Uint8Array }

/** SHA-512(label ‖ psk ‖ host nonce ‖ board nonce ‖ len ‖ board id [‖ X25519 shared secret]):
 *  two 32-byte keys. With the ephemeral exchange a key leaked later does not open old sessions. */
export function deriveKeys(psk: Uint8Array, hostNonce: Uint8Array, boardNonce: Uint8Array, boardId: string, shared?: Uint8Array): SessionKeys {
  if (psk.length !== PSK_BYTES) throw new RangeError(`a board key is ${PSK_BYTES} bytes, got ${psk.length}`);
  if (hostNonce.length !== SESSION_NONCE_BYTES || boardNonce.length !== SESSION_NONCE_BYTES) throw new RangeError(`session nonces are ${SESSION_NONCE_BYTES} bytes`);
  const id = new TextEncoder().encode(boardId);
  if (id.length > 255) throw new RangeError('board id longer than 255 bytes');
  const parts = [LABEL, psk, hostNonce, boardNonce, Uint8Array.of(id.length), id, ...(shared ? [shared] : [])];
  const input = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const part of parts) { input.set(part, o); o += part.length; }
  const h = nacl.hash(input);
  return { hostToBoard: h.slice(0, 32), boardToHost: h.slice(32, 64) };
}

/** direction ‖ ver_flags ‖ type ‖ ctr LE ‖ zeros: unique per key while counters never repeat. */
export function frameNonce(direction: number, verFlags: number, type: number, ctr: number): Uint8Array {
  const n = new Uint8Array(nacl.secretbox.nonceLength);
  n[0] = direction; n[1] = verFlags; n[2] = type;
  n[3] = ctr & 0xff; n[4] = (ctr >>> 8) & 0xff; n[5] = (ctr >>> 16) & 0xff; n[6] = (ctr >>> 24) & 0xff;
  return n;
}

export function seal(key: Uint8Array, nonce: Uint8Array, body: Uint8Array): Uint8Array {
  return nacl.secretbox(body, nonce, key);
}

const SIGMA = new TextEncoder().encode('expand 32-byte k');
// tweetnacl's exported lowlevel functions (nacl-fast.js), not in its type declarations.
const ll = (nacl as unknown as { lowlevel: {
  crypto_core_hsalsa20(out: Uint8Array, inp: Uint8Array, k: Uint8Array, c: Uint8Array): number;
  crypto_stream_salsa20(c: Uint8Array, cpos: number, b: number, n: Uint8Array, k: Uint8Array): number;
  crypto_onetimeauth_verify(h: Uint8Array, hpos: number, m: Uint8Array, mpos: number, n: number, k: Uint8Array): number;
} }).lowlevel;

/** nacl.secretbox.open, null when the tag does not verify. The same function as tweetnacl's
 *  (the vectors and a differential test pin it), with HSalsa20 and the first Salsa20 block
 *  computed once instead of twice and no padded copies: under --lite-mode (no JIT, no wasm)
 *  that halves the cost of a received frame. */
export function open(key: Uint8Array, nonce: Uint8Array, boxed: Uint8Array): Uint8Array | null {
  const n = boxed.length - TAG_BYTES;
  if (n < 0 || key.length !== 32 || nonce.length !== 24) return null;
  const subkey = new Uint8Array(32);
  ll.crypto_core_hsalsa20(subkey, nonce, key, SIGMA);
  const ks = new Uint8Array(32 + n); // bytes 0-31 key Poly1305, the rest is XORed with the message
  ll.crypto_stream_salsa20(ks, 0, 32 + n, nonce.subarray(16), subkey);
  if (ll.crypto_onetimeauth_verify(boxed, 0, boxed, TAG_BYTES, n, ks) !== 0) return null;
  const m = new Uint8Array(n);
  for (let i = 0; i < n; i++) m[i] = boxed[TAG_BYTES + i] ^ ks[32 + i];
  return m;
}

export const randomBytes = (n: number): Uint8Array => nacl.randomBytes(n);
