// On-disk framing shared by the outbox's segment files and its ack log.
//
//   frame := length u32be | crc u32be | body[length]
//   crc   := crc32(length bytes ++ body)
//
// The crc covers the length too, so a zero-filled tail (what ext4 can leave after a power cut
// when the size was extended but the data never reached the card) never parses as a record:
// crc32 of four zero bytes is not zero. A frame whose length runs past the end of the file,
// or whose crc does not match, is a torn write or corruption; scanFrames() says where the
// last good frame ends so the caller can truncate there.
//
// Segment record body: seq u64be (as hi/lo u32) | keyLen u16be | idLen u16be | key | id | payload
// Ack log body:        type u8 = 1 (base) | nextSeq u64     -- written at compaction
//                      type u8 = 2 (acks) | (start u64, count u32)*  -- acked seq ranges
import { crc32, crc32U32BE } from './crc32';

export const FRAME_HEADER = 8;
export const RECORD_HEADER = 12; // seq 8 + keyLen 2 + idLen 2
/** No single frame body may exceed this; a longer length field is corruption. */
export const MAX_BODY = 16 * 1024 * 1024;

export interface OutboxRecord {
  /** Position in the outbox, strictly increasing in append order, never reused. */
  seq: number;
  key: string;
  id: string;
  payload: Buffer;
}

function writeU64(buf: Buffer, off: number, v: number): void {
  buf.writeUInt32BE(Math.floor(v / 0x100000000), off);
  buf.writeUInt32BE(v >>> 0, off + 4);
}

function readU64(buf: Buffer, off: number): number {
  return buf.readUInt32BE(off) * 0x100000000 + buf.readUInt32BE(off + 4);
}

function frameCrc(frame: Buffer, bodyLen: number): number {
  return crc32(frame.subarray(FRAME_HEADER, FRAME_HEADER + bodyLen), crc32(frame.subarray(0, 4)));
}

/** Wraps an already-sized frame buffer (header space reserved) with its length and crc. */
export function seal(frame: Buffer): Buffer {
  const bodyLen = frame.length - FRAME_HEADER;
  frame.writeUInt32BE(bodyLen, 0);
  frame.writeUInt32BE(frameCrc(frame, bodyLen), 4);
  return frame;
}

export function encodeRecord(seq: number, key: Buffer, id: Buffer, payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER + RECORD_HEADER + key.length + id.length + payload.length);
  let o = FRAME_HEADER;
  writeU64(frame, o, seq);
  frame.writeUInt16BE(key.length, o + 8);
  frame.writeUInt16BE(id.length, o + 10);
  o += RECORD_HEADER;
  o += key.copy(frame, o);
  o += id.copy(frame, o);
  payload.copy(frame, o);
  return seal(frame);
}

/**
 * encodeRecord() for fields given as text, written straight into the frame with no buffer per
 * field (appends are per reading; in lite mode each intermediate buffer shows). `key` is the
 * key's bytes (callers keep it: it repeats), `id` an ASCII or well-formed string of `idLen`
 * UTF-8 bytes, `payload` text of `payloadLen` bytes or bytes. Returns the frame and the
 * payload's offset in it.
 */
export function encodeRecordText(seq: number, key: Buffer, id: string, idLen: number, payload: string | Buffer, payloadLen: number): { frame: Buffer; payloadAt: number } {
  const bodyLen = RECORD_HEADER + key.length + idLen + payloadLen;
  const frame = Buffer.allocUnsafe(FRAME_HEADER + bodyLen);
  // The same bytes as encodeRecord (test/outbox/record-text.test.ts), with plain byte stores and
  // TypedArray.set instead of Buffer's checked writers and copy(): one call fewer each, per reading.
  putU32(frame, 0, bodyLen);
  putU32(frame, FRAME_HEADER, Math.floor(seq / 0x100000000));
  putU32(frame, FRAME_HEADER + 4, seq >>> 0);
  frame[FRAME_HEADER + 8] = key.length >>> 8;
  frame[FRAME_HEADER + 9] = key.length & 0xff;
  frame[FRAME_HEADER + 10] = idLen >>> 8;
  frame[FRAME_HEADER + 11] = idLen & 0xff;
  let o = FRAME_HEADER + RECORD_HEADER;
  frame.set(key, o);
  o += key.length;
  const payloadAt = o + idLen;
  // An ASCII id and a text payload are adjacent: one UTF-8 write for both (an ASCII id cannot
  // pair a surrogate with the payload's first character).
  if (typeof payload === 'string' && idLen === id.length) frame.write(id + payload, o, idLen + payloadLen, 'utf8');
  else {
    frame.write(id, o, idLen, 'utf8');
    if (typeof payload === 'string') frame.write(payload, payloadAt, payloadLen, 'utf8');
    else frame.set(payload, payloadAt);
  }
  putU32(frame, 4, crc32(frame.subarray(FRAME_HEADER), crc32U32BE(bodyLen)));
  return { frame, payloadAt };
}

function putU32(b: Buffer, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** Decodes a record body; undefined when its inner lengths do not add up (corruption). */
export function decodeRecord(body: Buffer): OutboxRecord | undefined {
  if (body.length < RECORD_HEADER) return undefined;
  const keyLen = body.readUInt16BE(8);
  const idLen = body.readUInt16BE(10);
  if (RECORD_HEADER + keyLen + idLen > body.length) return undefined;
  const k0 = RECORD_HEADER;
  const i0 = k0 + keyLen;
  const p0 = i0 + idLen;
  return {
    seq: readU64(body, 0),
    key: body.toString('utf8', k0, i0),
    id: body.toString('utf8', i0, p0),
    // A copy, so a cached record does not pin the whole segment buffer read at open.
    payload: Buffer.from(body.subarray(p0)),
  };
}

export interface AckRange { start: number; count: number }

export function encodeAckBase(nextSeq: number): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER + 9);
  frame.writeUInt8(1, FRAME_HEADER);
  writeU64(frame, FRAME_HEADER + 1, nextSeq);
  return seal(frame);
}

export function encodeAckRanges(ranges: AckRange[]): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER + 1 + ranges.length * 12);
  frame.writeUInt8(2, FRAME_HEADER);
  let o = FRAME_HEADER + 1;
  for (const r of ranges) {
    writeU64(frame, o, r.start);
    frame.writeUInt32BE(r.count, o + 8);
    o += 12;
  }
  return seal(frame);
}

export type AckEntry = { type: 'base'; nextSeq: number } | { type: 'acks'; ranges: AckRange[] };

export function decodeAck(body: Buffer): AckEntry | undefined {
  const type = body.length ? body.readUInt8(0) : 0;
  if (type === 1 && body.length === 9) return { type: 'base', nextSeq: readU64(body, 1) };
  if (type === 2 && (body.length - 1) % 12 === 0) {
    const ranges: AckRange[] = [];
    for (let o = 1; o < body.length; o += 12) ranges.push({ start: readU64(body, o), count: body.readUInt32BE(o + 8) });
    return { type: 'acks', ranges };
  }
  return undefined;
}

/** Collapses sorted-or-not seqs into ascending runs of consecutive numbers. */
export function toRanges(seqs: number[]): AckRange[] {
  const sorted = [...seqs].sort((a, b) => a - b);
  const out: AckRange[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s === last.start + last.count) last.count++;
    else if (!last || s >= last.start + last.count) out.push({ start: s, count: 1 });
  }
  return out;
}

export interface Frame { off: number; body: Buffer }

export interface ScanResult {
  frames: Frame[];
  /** Where the last good frame ends: everything from here on is a torn tail to truncate. */
  end: number;
  /** Frames skipped in the middle because their crc failed but the next frame is intact. */
  corrupt: number;
}

function frameAt(buf: Buffer, off: number, valid: (body: Buffer) => boolean): 'ok' | 'short' | 'bad' {
  if (buf.length - off < FRAME_HEADER) return 'short';
  const len = buf.readUInt32BE(off);
  if (len > MAX_BODY || off + FRAME_HEADER + len > buf.length) return 'short';
  const body = buf.subarray(off + FRAME_HEADER, off + FRAME_HEADER + len);
  const crc = crc32(body, crc32(buf.subarray(off, off + 4)));
  return crc === buf.readUInt32BE(off + 4) && valid(body) ? 'ok' : 'bad';
}

/**
 * Walks the frames of one file. A bad frame (crc mismatch or malformed body) whose length
 * still lands on an intact frame is counted as corrupt and skipped: a bit flipped in one
 * record then costs that record only. Anything else ends the scan: a torn tail, or a length
 * field so damaged that there is no trustworthy way to find the next frame.
 */
export function scanFrames(buf: Buffer, valid: (body: Buffer) => boolean = () => true): ScanResult {
  const frames: Frame[] = [];
  let off = 0;
  let corrupt = 0;
  while (off < buf.length) {
    const state = frameAt(buf, off, valid);
    if (state === 'short') break;
    const next = off + FRAME_HEADER + buf.readUInt32BE(off);
    if (state === 'bad') {
      if (next < buf.length && frameAt(buf, next, valid) === 'ok') {
        corrupt++;
        off = next;
        continue;
      }
      break;
    }
    frames.push({ off, body: buf.subarray(off + FRAME_HEADER, next) });
    off = next;
  }
  return { frames, end: off, corrupt };
}
