// Writes the session transcript vector (firmware-bridge/vectors/session.json) as a C header of
// PROGMEM byte strings for transcript.c:  node transcript-h.mjs OUT.h
import { readFileSync, writeFileSync } from 'node:fs';
const v = JSON.parse(readFileSync(new URL('../../vectors/session.json', import.meta.url), 'utf8'));
const bytes = (hex) => hex.match(/../g)?.map((b) => '0x' + b).join(',') ?? '';
const lines = ['/* generated from firmware-bridge/vectors/session.json by transcript-h.mjs */'];
const steps = [];
v.steps.forEach((s, i) => {
  if (s.wire !== undefined) lines.push(`static const uint8_t W${i}[] PROGMEM = {${bytes(s.wire) || '0'}};`);
  if (s.expect !== undefined) lines.push(`static const uint8_t E${i}[] PROGMEM = {${bytes(s.expect) || '0'}};`);
  const kind = { clock: 0, report: 1, host: 2, poll: 3, log: 4 }[s.do];
  steps.push(`{${kind}, ${s.ms ?? s.key ?? s.level ?? 0}, ${s.value ?? 0}, ${s.wire !== undefined ? `W${i}, ${s.wire.length / 2}` : '0, 0'}, ${s.expect !== undefined ? `E${i}, ${s.expect.length / 2}` : '0, 0'}, ${s.text ? JSON.stringify(s.text) : '0'}}`);
});
lines.push('static const struct step STEPS[] PROGMEM = {', '  ' + steps.join(',\n  '), '};');
lines.push(`static const uint8_t PSK[32] PROGMEM = {${bytes(v.board.psk)}};`, `static const uint8_t BOARD_NONCE[16] PROGMEM = {${bytes(v.board.board_nonce)}};`);
writeFileSync(process.argv[2], lines.join('\n') + '\n');
