// The protobuf wire format (protobuf.dev/programming-guides/encoding): varints, zigzag sint32,
// fixed32 and length-delimited fields, enough for the bridge's messages. Hand-written rather
// than protobufjs: see firmware-bridge/README.md for the memory figures behind that choice.

export const WT_VARINT = 0, WT_FIXED64 = 1, WT_LEN = 2, WT_FIXED32 = 5;

export class PbWriter {
  private bytes: number[] = [];

  private varint(v: number): void {
    // Up to 2^53: arithmetic, not 32-bit bitwise operators.
    while (v >= 0x80) {
      this.bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.bytes.push(v);
  }

  private tag(field: number, wt: number): void { this.varint(field * 8 + wt); }

  /** proto3: a zero or false value is not written. */
  uint(field: number, v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`field ${field}: ${v} is not an unsigned integer`);
    if (v !== 0) { this.tag(field, WT_VARINT); this.varint(v); }
    return this;
  }

  sint32(field: number, v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new RangeError(`field ${field}: ${v} is not a 32-bit integer`);
    if (v !== 0) { this.tag(field, WT_VARINT); this.varint(((v << 1) ^ (v >> 31)) >>> 0); }
    return this;
  }

  bool(field: number, v: boolean): this { return this.uint(field, v ? 1 : 0); }

  fixed32(field: number, v: number): this {
    if (v !== 0) { this.tag(field, WT_FIXED32); this.bytes.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff); }
    return this;
  }

  bytesField(field: number, v: Uint8Array): this {
    if (v.length) { this.tag(field, WT_LEN); this.varint(v.length); for (const b of v) this.bytes.push(b); }
    return this;
  }

  string(field: number, v: string): this { return this.bytesField(field, new TextEncoder().encode(v)); }

  /** An embedded message; written even when empty (it says the message is present). */
  message(field: number, v: Uint8Array): this {
    this.tag(field, WT_LEN); this.varint(v.length); for (const b of v) this.bytes.push(b);
    return this;
  }

  finish(): Uint8Array { return Uint8Array.from(this.bytes); }
}

export class PbError extends Error {}

export interface PbField { field: number; wt: number; /** varint or fixed32 value */ n: number; /** length-delimited payload */ b?: Uint8Array }

/** Every field of a message in order; throws PbError on truncation or a bad wire type. */
export function readFields(data: Uint8Array): PbField[] {
  const out: PbField[] = [];
  let i = 0;
  const varint = (): number => {
    let v = 0, mul = 1;
    for (let n = 0; n < 10; n++) {
      if (i >= data.length) throw new PbError('truncated varint');
      const b = data[i++];
      v += (b & 0x7f) * mul;
      if (!(b & 0x80)) {
        if (v > Number.MAX_SAFE_INTEGER) throw new PbError('varint above 2^53');
        return v;
      }
      mul *= 0x80;
    }
    throw new PbError('varint longer than 10 bytes');
  };
  while (i < data.length) {
    const key = varint();
    const field = Math.floor(key / 8), wt = key % 8;
    if (field === 0) throw new PbError('field number 0');
    if (wt === WT_VARINT) out.push({ field, wt, n: varint() });
    else if (wt === WT_FIXED32) {
      if (i + 4 > data.length) throw new PbError('truncated fixed32');
      out.push({ field, wt, n: (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) >>> 0 });
      i += 4;
    } else if (wt === WT_FIXED64) {
      if (i + 8 > data.length) throw new PbError('truncated fixed64');
      i += 8; // no fixed64 fields in the schema: skipped
    } else if (wt === WT_LEN) {
      const len = varint();
      if (i + len > data.length) throw new PbError('truncated length-delimited field');
      out.push({ field, wt, n: len, b: data.subarray(i, i + len) });
      i += len;
    } else throw new PbError(`wire type ${wt} not supported`);
  }
  return out;
}

export const unzigzag32 = (n: number): number => {
  const u = n >>> 0;
  return (u >>> 1) ^ -(u & 1);
};
