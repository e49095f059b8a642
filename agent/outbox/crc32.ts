// CRC-32 (IEEE 802.3, the zlib/PNG polynomial) for outbox record framing. Node >= 20.15 ships
// it natively in node:zlib; older Node 20 releases (package.json allows >= 20) get the
// classic table-driven version, which computes the same values.
import * as zlib from 'node:zlib';

type Crc32Fn = (data: Uint8Array, value?: number) => number;

let table: Uint32Array | undefined;

function crcTable(): Uint32Array {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  return table;
}

function tableCrc32(data: Uint8Array, value = 0): number {
  const table = crcTable();
  let crc = (value ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) crc = table[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const native = (zlib as unknown as { crc32?: Crc32Fn }).crc32;

/** crc32(data, previous) continues a running checksum, as zlib's crc32() does. */
export const crc32: Crc32Fn = typeof native === 'function' ? native : tableCrc32;
export { tableCrc32 };

/**
 * crc32 of the 4 bytes of `v` written big-endian (a frame's length field), without a buffer:
 * every outbox frame's crc starts with it (record.ts), and in lite mode a subarray and a native
 * call per record cost more than 4 table steps.
 */
export function crc32U32BE(v: number): number {
  const t = crcTable();
  let crc = 0xffffffff;
  crc = t[(crc ^ (v >>> 24)) & 0xff]! ^ (crc >>> 8);
  crc = t[(crc ^ (v >>> 16)) & 0xff]! ^ (crc >>> 8);
  crc = t[(crc ^ (v >>> 8)) & 0xff]! ^ (crc >>> 8);
  crc = t[(crc ^ v) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
