// CRC-16/CCITT-FALSE (Rocksoft model: width 16, poly 0x1021, init 0xFFFF, refin/refout false,
// xorout 0x0000, check("123456789") = 0x29B1). Table-free so the C twin stays small on an AVR.
export function crc16(data: Uint8Array, crc = 0xffff): number {
  for (const b of data) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}
