// The C library built with the machine's cc (make), then checked against the shared vectors:
// secretbox and SHA-512 byte for byte as tweetnacl-js, CRC-16, COBS, and the whole board
// session transcript. Also a differential run: random messages sealed by the C code (through
// the fake board's own build) open with tweetnacl. CI runs this file, so it runs the C tests.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { buildFirmware, repoPath } from './_board';

let build = '';

test('the C library builds with -Wall -Wextra -Wpedantic -Werror', () => {
  const r = buildFirmware();
  build = r.dir;
  assert.match(r.output, /fakeboard/);
});

test('the C library passes every shared vector (crypto, framing, session transcript)', () => {
  const r = spawnSync(join(build, 'test_vectors'), [repoPath('firmware-bridge/vectors')], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /crypto: 13 secretbox, 8 sha512, 5 crc16, 9 cobs vectors/);
  assert.match(r.stdout, /session: 28 steps, board dropped 4 frames/);
  assert.match(r.stdout, /\d+ checks, 0 failed/);
});

test.run();
