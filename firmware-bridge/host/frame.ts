// One frame, decoded from COBS: ver_flags u8 | type u8 | ctr u32 LE | body | crc16 u16 BE
// (firmware-bridge/proto/bridge.proto). The CRC is checked first: a line error is told apart
// from a forgery, and the MAC work is skipped for noise.
import { crc16 } from './crc16';
import { MAX_FRAME } from './cobs';
import { frameNonce, open, seal, TAG_BYTES } from './crypto';

export const PROTOCOL_VERSION = 1;
export const FLAG_AUTH = 0x01;
export const HEADER_BYTES = 6;
export const CRC_BYTES = 2;
export const verFlags = (auth: boolean): number => (PROTOCOL_VERSION << 4) | (auth ? FLAG_AUTH : 0);

export interface RawFrame { verFlags: number; type: number; ctr: number; /** plaintext body, or tag ‖ ciphertext when authenticated */ payload: Uint8Array }

export type FrameError = 'short' | 'crc' | 'version' | 'flags' | 'long';

/** Decoded bytes → header and payload, or why it was refused. Pure. */
export function parseFrame(f: Uint8Array): RawFrame | FrameError {
  if (f.length > MAX_FRAME) return 'long';
  if (f.length < HEADER_BYTES + CRC_BYTES) return 'short';
  const crc = (f[f.length - 2] << 8) | f[f.length - 1];
  if (crc16(f.subarray(0, f.length - 2)) !== crc) return 'crc';
  const vf = f[0];
  if (vf >> 4 !== PROTOCOL_VERSION) return 'version';
  if (vf & 0x0e) return 'flags';
  const ctr = (f[2] | (f[3] << 8) | (f[4] << 16) | (f[5] << 24)) >>> 0;
  const payload = f.slice(HEADER_BYTES, f.length - 2);
  if (vf & FLAG_AUTH && payload.length < TAG_BYTES) return 'short';
  return { verFlags: vf, type: f[1], ctr, payload };
}

/** Header + payload + CRC. */
export function buildFrame(vf: number, type: number, ctr: number, payload: Uint8Array): Uint8Array {
  const f = new Uint8Array(HEADER_BYTES + payload.length + CRC_BYTES);
  f[0] = vf; f[1] = type;
  f[2] = ctr & 0xff; f[3] = (ctr >>> 8) & 0xff; f[4] = (ctr >>> 16) & 0xff; f[5] = (ctr >>> 24) & 0xff;
  f.set(payload, HEADER_BYTES);
  const crc = crc16(f.subarray(0, f.length - 2));
  f[f.length - 2] = crc >> 8; f[f.length - 1] = crc & 0xff;
  if (f.length > MAX_FRAME) throw new RangeError(`frame of ${f.length} bytes is above the ${MAX_FRAME}-byte limit`);
  return f;
}

/** A frame with its body sealed under `key` (authenticated) or left plain (key undefined). */
export function sealFrame(type: number, ctr: number, body: Uint8Array, direction: number, key: Uint8Array | undefined): Uint8Array {
  const vf = verFlags(key !== undefined);
  return buildFrame(vf, type, ctr, key ? seal(key, frameNonce(direction, vf, type, ctr), body) : body);
}

/** The body of an authenticated frame, or null when its tag does not verify. */
export function openFrame(f: RawFrame, direction: number, key: Uint8Array): Uint8Array | null {
  return open(key, frameNonce(direction, f.verFlags, f.type, f.ctr), f.payload);
}
