// CRC-16/CCITT-FALSE (Rocksoft model: width 16, poly 0x1021, init 0xFFFF, refin/refout false,
// xorout 0x0000, check("123456789") = 0x29B1). The C twin is table-free (small on an AVR); here a
// 256-entry table: one lookup a byte instead of eight shifts, which matters without a JIT
// (`xiota` runs under --lite-mode, where the bitwise loop was most of a plaintext frame's cost).
const TABLE = new Uint16Array(256);
for (let n = 0; n < 256; n++) {
  let c = n << 8;
  for (let i = 0; i < 8; i++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
  TABLE[n] = c;
}

export function crc16(data: Uint8Array, crc = 0xffff): number {
  for (let i = 0; i < data.length; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[(crc >>> 8) ^ data[i]];
  return crc;
}
