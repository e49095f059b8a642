import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromObject, loadConfig, resolvePassword, formatIssues, Config, expandEnv } from '../../agent/config';
import { isXiotaError } from '../../agent/errors';

const dir = mkdtempSync(join(tmpdir(), 'xiota-secrets-'));
const SECRET = 'Tr0ub4dor&3-s3cr3t';

function config(account: Record<string, unknown>, extra: Record<string, unknown> = {}): Config {
  const r = configFromObject({ account: { jid: 'gw@example.org', ...account }, ...extra });
  assert.equal(r.errors, []);
  return r.config!;
}

function thrown(fn: () => unknown): Error {
  try { fn(); } catch (e) { return e as Error; }
  throw new assert.Assertion({ message: 'expected a throw', generated: false, operator: 'throws', expects: 'throw', actual: 'none' });
}

test('password_file: read, one trailing newline trimmed, mode 600 gives no warning', () => {
  const f = join(dir, 'pw');
  writeFileSync(f, SECRET + ' \n\n');
  chmodSync(f, 0o600);
  const r = resolvePassword(config({ password_file: f }), {});
  assert.is(r.password, SECRET + ' \n');
  assert.is(r.source, 'password_file');
  assert.equal(r.warnings, []);
});

test('password_file readable by others warns with the fix, without the secret', () => {
  const f = join(dir, 'pw-open');
  writeFileSync(f, SECRET + '\n');
  chmodSync(f, 0o644);
  const r = resolvePassword(config({ password_file: f }), {});
  assert.is(r.password, SECRET);
  assert.is(r.warnings.length, 1);
  assert.is(r.warnings[0].path, 'account.password_file');
  assert.match(r.warnings[0].message, 'chmod 600');
  assert.match(r.warnings[0].message, '0644');
  assert.not.match(r.warnings[0].message, SECRET);
});

test('${VAR} and ${VAR:-fallback} expand in password_file (systemd LoadCredential)', () => {
  const creds = mkdtempSync(join(dir, 'creds-'));
  writeFileSync(join(creds, 'password'), SECRET);
  chmodSync(join(creds, 'password'), 0o400);
  const c = config({ password_file: '${CREDENTIALS_DIRECTORY}/password' });
  assert.is(resolvePassword(c, { CREDENTIALS_DIRECTORY: creds }).password, SECRET);
  const e = thrown(() => resolvePassword(c, {}));
  assert.ok(isXiotaError(e, 'XIOTA_E_CONFIG'));
  assert.match(e.message, 'account.password_file');
  assert.match(e.message, 'CREDENTIALS_DIRECTORY');
  const fb = config({ password_file: `\${CREDENTIALS_DIRECTORY:-${creds}}/password` });
  assert.is(resolvePassword(fb, {}).password, SECRET);
  assert.is(expandEnv('${A}/${B:-x}', { A: '1' }, 'k'), '1/x');
});

test('a relative password_file is relative to the config file', () => {
  writeFileSync(join(dir, 'rel-pw'), SECRET);
  chmodSync(join(dir, 'rel-pw'), 0o600);
  const file = join(dir, 'rel.yaml');
  writeFileSync(file, 'account:\n  jid: gw@example.org\n  password_file: rel-pw\n');
  const r = loadConfig(file, { env: {} });
  assert.equal(r.errors, []);
  assert.is(resolvePassword(r.config!, {}).password, SECRET);
});

test('missing password file, unset variable, nothing configured: errors name the key and the fix', () => {
  const a = thrown(() => resolvePassword(config({ password_file: join(dir, 'absent') }), {}));
  assert.match(a.message, /^account\.password_file: .*does not exist/);
  const b = thrown(() => resolvePassword(config({ password_env: 'GW_PASS' }), {}));
  assert.match(b.message, 'account.password_env');
  assert.match(b.message, 'GW_PASS is not set');
  const c = thrown(() => resolvePassword(config({}), {}));
  assert.ok(isXiotaError(c, 'XIOTA_E_CONFIG'));
  assert.match(c.message, 'account.password_file');
  assert.match(c.message, 'XIOTA_PASSWORD');
  const empty = join(dir, 'empty');
  writeFileSync(empty, '\n');
  assert.match(thrown(() => resolvePassword(config({ password_file: empty }), {})).message, 'is empty');
});

test('sources in order: env var, inline, XIOTA_PASSWORD fallback, scram keys, client cert', () => {
  assert.is(resolvePassword(config({ password_env: 'GW_PASS' }), { GW_PASS: SECRET }).password, SECRET);
  assert.is(resolvePassword(config({ password: SECRET }), {}).source, 'password');
  const x = resolvePassword(config({}), { XIOTA_PASSWORD: SECRET });
  assert.is(x.source, 'XIOTA_PASSWORD');
  assert.is(x.password, SECRET);
  const key32 = Buffer.alloc(32, 7).toString('base64');
  const keys = { hash: 'SHA-256', salt: 'c2FsdHNhbHQ=', iterations: 4096, client_key: key32, server_key: key32 };
  const k = resolvePassword(config({ scram_keys: [keys] }), {});
  assert.is(k.source, 'scram_keys');
  assert.is(k.password, undefined);
  assert.is(k.scramKeys![0].clientKey, key32);
});

test('secrets never appear in errors or warnings', () => {
  // Inline password: warned about, not echoed.
  const file = join(dir, 'leak.yaml');
  writeFileSync(file, `account:\n  jid: gw@example.org\n  password: "${SECRET}"\n`);
  const r = loadConfig(file, { env: {} });
  assert.is(r.warnings.length, 1);
  assert.match(r.warnings[0].message, 'password_file');
  const all: string[] = [formatIssues(file, r.warnings)];

  // A password of the wrong type, a short scram key, a YAML syntax error on the secret line.
  const bad: string[] = [
    `account:\n  jid: gw@example.org\n  password: [${SECRET}]\n`,
    `account:\n  jid: gw@example.org\n  password: 123456789\n`,
    `account:\n  jid: gw@example.org\n  scram_keys:\n    - { hash: SHA-256, salt: c2FsdA==, iterations: 10, client_key: ${Buffer.from(SECRET).toString('base64')}, server_key: "${SECRET}" }\n`,
    `account:\n  jid: gw@example.org\n  password: "${SECRET}\n  resource: x\n`,
    `account:\n  jid: gw@example.org\n  password: ${SECRET}: x\n`,
    `account:\n  jid: gw@example.org\n  password: "${SECRET}"\n  password_file: /x\n`,
  ];
  bad.forEach((yaml, i) => {
    const f = join(dir, `leak${i}.yaml`);
    writeFileSync(f, yaml);
    const res = loadConfig(f, { env: {} });
    assert.ok(res.errors.length > 0, `case ${i} has errors`);
    all.push(formatIssues(f, res.errors), formatIssues(f, res.warnings));
  });
  // Errors thrown when reading the secret.
  const pw = join(dir, 'pw-leak');
  writeFileSync(pw, SECRET);
  chmodSync(pw, 0o666);
  const ok = resolvePassword(config({ password_file: pw }), {});
  all.push(...ok.warnings.map((w) => w.message));
  all.push(thrown(() => resolvePassword(config({ password_env: 'NOPE' }), { XIOTA_PASSWORD: SECRET })).message);
  const text = all.join('\n');
  assert.ok(text.length > 200, 'messages were produced');
  for (const piece of [SECRET, 'Tr0ub4dor', Buffer.from(SECRET).toString('base64'), '123456789']) {
    assert.not.ok(text.includes(piece), `leaked ${piece}:\n${text}`);
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
