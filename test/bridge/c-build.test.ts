// The C library built with the machine's cc (make), then checked against the shared vectors:
// secretbox and SHA-512 byte for byte as tweetnacl-js, CRC-16, COBS, and the whole board
// session transcript. Also a differential run: random messages sealed by the C code (through
// the fake board's own build) open with tweetnacl. CI runs this file, so it runs the C tests.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import nacl from 'tweetnacl';
import { buildFirmware, repoPath } from './_board';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

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

test('differential: 600 random secretboxes and SHA-512s from the C code equal tweetnacl-js', () => {
  const cases = fc.sample(fc.record({ key: fc.uint8Array({ minLength: 32, maxLength: 32 }), nonce: fc.uint8Array({ minLength: 24, maxLength: 24 }), msg: fc.uint8Array({ maxLength: 600 }) }), { numRuns: 300, seed: 1202 });
  const input = cases.map((c) => `box ${hex(c.key)} ${hex(c.nonce)} ${hex(c.msg)}\nsha ${hex(c.msg)}`).join('\n') + '\n';
  const r = spawnSync(join(build, 'test_vectors'), ['--differential'], { input, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.is(lines.length, 600);
  cases.forEach((c, i) => {
    assert.is(lines[2 * i], hex(nacl.secretbox(c.msg, c.nonce, c.key)), `secretbox of ${c.msg.length} bytes`);
    assert.is(lines[2 * i + 1], hex(nacl.hash(c.msg)), `sha512 of ${c.msg.length} bytes`);
  });
});

test('differential: 200 X25519 (xb_x25519.c, for 32-bit boards) equal nacl.scalarMult of tweetnacl-js', () => {
  const cases = fc.sample(fc.record({ s: fc.uint8Array({ minLength: 32, maxLength: 32 }), p: fc.uint8Array({ minLength: 32, maxLength: 32 }), base: fc.boolean() }), { numRuns: 200, seed: 1202 });
  const pts = cases.map((c) => (c.base ? nacl.scalarMult.base(c.p) : c.p)); // real public keys and arbitrary points
  const r = spawnSync(join(build, 'test_vectors'), ['--differential'], { input: cases.map((c, i) => `x25519 ${hex(c.s)} ${hex(pts[i])}`).join('\n') + '\n', encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.is(lines.length, 200);
  cases.forEach((c, i) => assert.is(lines[i], hex(nacl.scalarMult(c.s, pts[i])), `x25519 case ${i}`));
});

test('fuzzing the board input path under ASan and UBSan: 20,000 mutated inputs, no crash, every answer well-formed', () => {
  const mk = spawnSync('make', ['-C', repoPath('firmware-bridge/c/linux'), `BUILD=${build}`, join(build, 'fuzz_feed')], { encoding: 'utf8' });
  assert.is(mk.status, 0, mk.stdout + mk.stderr);
  const seed = String(Date.now() % 100000 + 1); // a new seed each run; a failure names it
  const r = spawnSync(join(build, 'fuzz_feed'), ['20000', seed], { encoding: 'utf8', env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0' } });
  assert.is(r.status, 0, `a sanitizer or the output check failed; reproduce with fuzz_feed 20000 ${seed}:\n${r.stdout}${r.stderr.slice(0, 3000)}`);
  const m = /(\d+) inputs, (\d+) frames answered, (\d+) frames dropped by the board, 0 bad frames/.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.ok(Number(m![2]) > 5000 && Number(m![3]) > 5000, `both genuine and damaged frames reached the board: ${r.stdout}`);
});

test('libFuzzer (clang-14, ASan+UBSan) on the board input path for 20 s: 0 crashes', () => {
  const mk = spawnSync('make', ['-C', repoPath('firmware-bridge/c/linux'), `BUILD=${build}`, 'fuzz-libfuzzer'], { encoding: 'utf8' });
  assert.is(mk.status, 0, `needs Debian clang-14 and libclang-rt-14-dev (.ci/run installs them):\n${mk.stdout}${mk.stderr}`);
  const r = spawnSync(join(build, 'fuzz_libfuzzer'), ['-max_total_time=20', '-print_final_stats=1', `-artifact_prefix=${build}/`], { encoding: 'utf8', cwd: build, env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0' } });
  const runs = Number(/Done (\d+) runs/.exec(r.stderr)?.[1] ?? 0);
  assert.is(r.status, 0, `libFuzzer found a crash (the input is in ${build}/crash-*):\n${r.stderr.slice(-3000)}`);
  console.log(`  libFuzzer: ${runs} inputs in 20 s, 0 crashes, ${/cov: (\d+)/.exec(r.stderr.split('DONE')[1] ?? '')?.[1] ?? '?'} edges`);
  assert.ok(runs > 10_000, `only ${runs} inputs ran`);
});

test('the Arduino example sketch compiles as C++ against the library headers (stub Arduino.h)', () => {
  const r = spawnSync('make', ['-C', repoPath('firmware-bridge/c/linux'), 'sketch-check'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stdout + r.stderr);
});

test.run();
