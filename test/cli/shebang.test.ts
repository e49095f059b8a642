// The installed `xiota` runs through its shebang, which carries the V8 memory flags (lite mode,
// bench/rss.ts). These check that the line is there and that it works as the kernel runs it:
// `/usr/bin/env "-S node FLAGS" /path/main.js ARGS` (everything after the interpreter path is
// one argument).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { delimiter, dirname } from 'node:path';
import { packageVersion } from '../../agent/xep/basic';
import { CLI } from './_run';

const line = readFileSync(CLI, 'utf8').split('\n', 1)[0]!;
const m = /^#!(\S+) (.*)$/.exec(line);

function viaShebang(args: string[]) {
  // `node` on PATH is the node running these tests.
  const env = { ...process.env, PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` };
  return spawnSync(m![1]!, [m![2]!, CLI, ...args], { encoding: 'utf8', env, timeout: 20_000 });
}

test('the compiled CLI starts with the env -S shebang and the lite-mode flags', () => {
  assert.ok(m, line);
  assert.is(m![1], '/usr/bin/env');
  const words = m![2]!.split(/\s+/);
  assert.equal(words.slice(0, 2), ['-S', 'node']);
  for (const f of ['--lite-mode', '--no-expose-wasm', '--expose-gc']) assert.ok(words.includes(f), `${f} in ${line}`);
});

test('run through the shebang: works, and no V8 flag warning on stderr', () => {
  const version = packageVersion();
  const r = viaShebang(['version']);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), version);
  assert.is(r.stderr, '');
  const h = viaShebang(['help']);
  assert.is(h.status, 0, h.stderr);
  assert.match(h.stdout, /^Usage: xiota /);
  assert.is(h.stderr, '');
});

test('the shebang flags are accepted by this node and turn on lite mode and gc()', () => {
  const words = m![2]!.split(/\s+/).slice(2);
  const r = spawnSync(process.execPath, [...words, '-p', 'typeof gc + " " + typeof WebAssembly'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  // jitless (implied by lite mode) removes WebAssembly.
  assert.is(r.stdout.trim(), 'function undefined');
  assert.is(r.stderr, '');
});

test.run();
