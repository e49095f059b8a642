// COBS (Cheshire & Baker, "Consistent Overhead Byte Stuffing", IEEE/ACM ToN 1999) with a 0x00
// frame delimiter, and the splitter that turns a byte stream into frames. A frame never holds
// 0x00 once encoded, so after garbage, a dropped byte or a board reset mid-frame the next
// 0x00 resynchronises: at most the frame under way is lost.

/** Largest decoded frame (header + body + tag + CRC). */
export const MAX_FRAME = 256;

/** Encodes one frame (no delimiter). */
export function cobsEncode(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + Math.ceil(data.length / 254) + 1);
  let codeAt = 0, o = 1, code = 1;
  for (const b of data) {
    if (b === 0) {
      out[codeAt] = code; codeAt = o++; code = 1;
    } else {
      out[o++] = b;
      if (++code === 0xff) { out[codeAt] = code; codeAt = o++; code = 1; }
    }
  }
  out[codeAt] = code;
  return out.subarray(0, o);
}

/** Decodes one frame (without its delimiter); undefined when it is not valid COBS. */
export function cobsDecode(data: Uint8Array): Uint8Array | undefined {
  const out = new Uint8Array(data.length);
  let i = 0, o = 0;
  while (i < data.length) {
    const code = data[i++];
    if (code === 0) return undefined;
    const end = i + code - 1;
    if (end > data.length) return undefined;
    while (i < end) {
      const b = data[i++];
      if (b === 0) return undefined;
      out[o++] = b;
    }
    if (code !== 0xff && i < data.length) out[o++] = 0;
  }
  return out.subarray(0, o);
}

/** Encoded frame with its delimiter, ready for the wire. */
export function wireFrame(frame: Uint8Array): Uint8Array {
  const enc = cobsEncode(frame);
  const out = new Uint8Array(enc.length + 1);
  out.set(enc, 0);
  return out;
}

/** Splits a byte stream on 0x00; an overlong run is dropped and reported, then skipped to the
 *  next delimiter. Empty runs (back-to-back delimiters) are ignored. */
export class FrameSplitter {
  private buf: Uint8Array;
  private len = 0;
  private overflow = false;

  constructor(private readonly onFrame: (encoded: Uint8Array) => void, private readonly onOverflow: (bytes: number) => void, private readonly maxEncoded = MAX_FRAME + 4) {
    this.buf = new Uint8Array(maxEncoded);
  }

  push(chunk: Uint8Array): void {
    let dropped = 0;
    for (const b of chunk) {
      if (b === 0) {
        // Reset before the callback: it may feed this splitter again (a synchronous echo).
        const n = this.len, over = this.overflow;
        this.len = 0;
        this.overflow = false;
        if (over) { this.onOverflow(n + dropped); dropped = 0; }
        else if (n > 0) this.onFrame(this.buf.slice(0, n));
      } else if (this.len < this.maxEncoded) {
        this.buf[this.len++] = b;
      } else {
        this.overflow = true;
        dropped++;
      }
    }
  }

  /** Forget a partial frame (the port reopened). */
  reset(): void {
    this.len = 0;
    this.overflow = false;
  }
}
