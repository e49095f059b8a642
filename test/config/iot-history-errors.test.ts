// Config mistakes in the provisioning:, discovery: and history: sections: each error names the
// key and its file:line:col (formatIssues, as every other config error) and says what to write
// instead, not only what is wrong.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatIssues, loadConfig, type LoadResult } from '../../agent/config';

const dir = mkdtempSync(join(tmpdir(), 'xiota-config-iot-'));
let n = 0;
const HEAD = 'account:\n  jid: gw@example.org\n  password_env: GW_PASS\naccess:\n  owners: [alice@example.org]\n';

/** Loads HEAD + `tail` from a file; returns the result and the formatted errors, one a line. */
function load(tail: string): { r: LoadResult; file: string; text: string } {
  const file = join(dir, `c${n++}.yaml`);
  writeFileSync(file, HEAD + tail);
  const r = loadConfig(file, { env: {} });
  return { r, file, text: formatIssues(file, r.errors) };
}

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('provisioning: without service names provisioning.service at the section and says what to write, or to remove the section', () => {
  const { r, file, text } = load('provisioning:\n  timeout_s: 5\n');
  assert.is(r.config, undefined);
  assert.is(r.errors.length, 1, text);
  assert.is(r.errors[0]!.path, 'provisioning.service');
  assert.ok(text.startsWith(`${file}:6:1: provisioning.service: is required: `), text);
  assert.match(text, /service: provisioning\.example\.org/);
  assert.match(text, /service: prov@example\.org/);
  assert.match(text, /remove the provisioning: section/);
});

test('provisioning: { service: } (a key with no value) says the same', () => {
  const { text } = load('provisioning:\n  service:\n');
  assert.match(text, /:7:\d+: provisioning\.service: needs a value: write the provisioning server's address/);
});

test('provisioning: true says to write the server under it', () => {
  const { text } = load('provisioning: true\n');
  assert.match(text, /:6:15: provisioning: expected a mapping, got true: write the provisioning server under it \(provisioning: \{ service: provisioning\.example\.org \}\)/);
});

test('an empty discovery.registry names the key at its value and offers auto, a component or an account', () => {
  const { r, file, text } = load('discovery:\n  registry: ""\n');
  assert.is(r.errors.length, 1, text);
  assert.ok(text.startsWith(`${file}:7:13: discovery.registry: must not be empty: `), text);
  assert.match(text, /registry: auto/);
  assert.match(text, /registry: registry\.example\.org/);
  assert.match(text, /leaving the key out means auto/);
  // ...and what it offers loads: auto, or no key at all
  assert.equal(load('discovery:\n  registry: auto\n').r.errors, []);
  assert.is(load('discovery:\n  enabled: true\n').r.config!.discovery!.registry, 'auto');
});

test('discovery: false (a boolean for the section) offers enabled: true / false', () => {
  const { text } = load('discovery: false\n');
  assert.match(text, /:6:12: discovery: expected a mapping, got false: write discovery: \{ enabled: true \}.* or discovery: \{ enabled: false \}/);
  assert.is(load('discovery: { enabled: false }\n').r.config!.discovery!.enabled, false);
});

test('history: true (a boolean where a mapping is expected) says to write history: { enabled: ... }; both spellings load', () => {
  for (const v of ['true', 'false']) {
    const { r, file, text } = load(`history: ${v}\n`);
    assert.is(r.errors.length, 1, text);
    assert.is(r.errors[0]!.path, 'history');
    assert.ok(text.startsWith(`${file}:6:10: history: expected a mapping, got ${v}: write history: { enabled: true } to keep it with the defaults or history: { enabled: false } to turn it off`), text);
  }
  assert.is(load('history: { enabled: true }\n').r.config!.history.enabled, true);
  assert.is(load('history: { enabled: false }\n').r.config!.history.enabled, false);
});

test('keys without advice keep their plain message (the hint is per key)', () => {
  const { text } = load('discovery:\n  self_owned: "yes please"\n');
  assert.match(text, /discovery\.self_owned: expected true or false, got "yes please"$/m);
});

test.run();
