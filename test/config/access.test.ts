// The access: section of xiota.yaml: bare JIDs or @domain, clear errors with file:line, the
// starter's placeholder owner, and what `xiota check` advises.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accessAdvice, accessEntryProblem, loadConfig, PLACEHOLDER_OWNER, starterConfig, type LoadResult } from '../../agent/config';

const dir = mkdtempSync(join(tmpdir(), 'xiota-access-config-'));
let n = 0;
function load(yaml: string): LoadResult {
  const file = join(dir, `c${n++}.yaml`);
  writeFileSync(file, 'account:\n  jid: gw@example.org\n  password_env: GW_PASS\n' + yaml);
  return loadConfig(file, { env: {} });
}

test('absent: nobody listed, strangers refused', () => {
  const r = load('');
  assert.equal(r.errors, []);
  assert.equal(r.config!.access, { owners: [], controllers: [], readers: [], strangers: 'refuse' });
});

test('the issue example loads as written', () => {
  const r = load(`access:
  owners: [alice@example.org]
  controllers: []
  readers: ["@example.org"]
  strangers: ask_owners
`);
  assert.equal(r.errors, []);
  assert.equal(r.config!.access, { owners: ['alice@example.org'], controllers: [], readers: ['@example.org'], strangers: 'ask_owners' });
});

test('bad entries: each named with its line, and what to write instead', () => {
  const r = load(`access:
  owners: [alice@example.org/phone]
  controllers: [bob]
  readers: ["@", "carol@@x"]
  strangers: ask_owner
`);
  const by = new Map(r.errors.map((e) => [e.path, e]));
  assert.match(by.get('access.owners[0]')!.message, /has a resource \("\/phone"\): access lists take bare JIDs, write alice@example.org/);
  assert.is(by.get('access.owners[0]')!.line, 5);
  assert.match(by.get('access.controllers[0]')!.message, /"bob" is not a JID: write name@domain \(bob@example.org\), or @bob for every account of bob/);
  assert.match(by.get('access.readers[0]')!.message, /"@" is not a domain/);
  assert.match(by.get('access.readers[1]')!.message, /"carol@@x" is not a JID/);
  assert.match(by.get('access.strangers')!.message, /expected one of refuse, ask_owners, got "ask_owner" \(did you mean "ask_owners"\?\)/);
  const unknown = load('access:\n  owner: [a@b.org]\n');
  assert.match(unknown.errors[0]!.message, /unknown key "owner" \(did you mean "owners"\?\)/);
});

test('warnings: one person on two lists, a whole domain as owners, ask_owners without an owner', () => {
  const r = load(`access:
  owners: ["@example.org"]
  readers: [Bob@Example.org, bob@example.org]
  strangers: ask_owners
`);
  assert.equal(r.errors, []);
  const msgs = r.warnings.map((w) => `${w.path}: ${w.message}`).join('\n');
  assert.match(msgs, /access.owners\[0\]: every account of example.org is an owner/);
  assert.match(msgs, /access.readers\[1\]: "bob@example.org" is also in readers/);
  assert.match(msgs, /access.strangers: ask_owners needs an owner JID/);
});

test('entry rule by itself', () => {
  assert.is(accessEntryProblem('alice@example.org'), undefined);
  assert.is(accessEntryProblem('@example.org'), undefined);
  assert.is(accessEntryProblem('alice@[::1]'), undefined);
  assert.ok(accessEntryProblem('alice@exa mple.org'));
  assert.ok(accessEntryProblem('al ice@example.org'));
});

test('xiota init writes an access block with a placeholder owner; check advises on it', () => {
  const text = starterConfig();
  assert.match(text, /^access:\n(.*\n)*?  owners: \[you@example.org\] .*YOUR OWN JID/m);
  const file = join(dir, 'starter.yaml');
  writeFileSync(file, text);
  const r = loadConfig(file, { env: {}, checkFiles: false });
  assert.equal(r.errors, []);
  assert.equal(r.config!.access.owners, [PLACEHOLDER_OWNER]);
  assert.match(accessAdvice(r.config!.access).join('\n'), /still holds the placeholder you@example.org from xiota init; put your own JID there/);
  assert.match(accessAdvice({ owners: [], controllers: [], readers: [], strangers: 'refuse' }).join('\n'), /no owner configured: .*add your JID under access.owners/);
  assert.equal(accessAdvice({ owners: ['alice@example.org'], controllers: [], readers: [], strangers: 'refuse' }), []);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
