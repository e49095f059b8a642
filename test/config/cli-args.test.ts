import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, applyOverrides, loadConfig, splitHostPort, resolvePassword, USAGE } from '../../agent/config';
import { isXiotaError } from '../../agent/errors';

const dir = mkdtempSync(join(tmpdir(), 'xiota-cli-'));
const none = () => false;

test('commands and flags parse', () => {
  const a = parseArgs(['check', '--jid', 'a@b.org', '--server', '127.0.0.1:5222', '--ca', 'ca.pem', '--direct-tls', '--log-level', 'debug', '--json'], { cwd: dir, exists: none });
  assert.is(a.command, 'check');
  assert.is(a.configPath, undefined);
  assert.equal(a.flags, { jid: 'a@b.org', server: '127.0.0.1:5222', ca: 'ca.pem', directTls: true, logLevel: 'debug', json: true });
  assert.is(parseArgs([]).command, 'help');
  assert.is(parseArgs(['run', '-h']).command, 'help');
  assert.is(parseArgs(['-V']).command, 'version');
  assert.throws(() => parseArgs(['read', 'cpu'], { exists: none }), /unexpected argument "cpu" after "read": .*xiota read --follow THING\[\.FIELD\]; the config file: --config FILE/);
  assert.throws(() => parseArgs(['check', 'cpu'], { exists: none }), /unexpected argument "cpu" after "check": give the config file with --config FILE/);
});

test('init PATH means init --config PATH; anything more is an error', () => {
  assert.is(parseArgs(['init', 'conf/x.yaml'], { cwd: '/srv', exists: none }).configPath, '/srv/conf/x.yaml');
  assert.is(parseArgs(['init', '/etc/xiota/x.yaml'], { cwd: '/srv', exists: none }).configPath, '/etc/xiota/x.yaml');
  assert.throws(() => parseArgs(['init', 'a.yaml', 'b.yaml'], { exists: none }), /unexpected argument "a.yaml" "b.yaml" after "init": give one path/);
  assert.throws(() => parseArgs(['init', 'a.yaml', '--config', 'b.yaml'], { exists: none }), /unexpected argument "a.yaml" after "init"/);
  assert.throws(() => parseArgs(['run', 'x.yaml'], { exists: none }), /unexpected argument "x.yaml" after "run"/);
});

test('config path: --config, else ./xiota.yaml if present, else /etc/xiota/xiota.yaml', () => {
  assert.is(parseArgs(['run', '--config', 'x.yaml'], { cwd: '/srv' }).configPath, '/srv/x.yaml');
  assert.is(parseArgs(['run', '-c', '/etc/a.yaml']).configPath, '/etc/a.yaml');
  assert.is(parseArgs(['run'], { cwd: '/srv', exists: (p) => p === '/srv/xiota.yaml' || p === '/etc/xiota/xiota.yaml' }).configPath, '/srv/xiota.yaml');
  assert.is(parseArgs(['run'], { cwd: '/srv', exists: (p) => p === '/etc/xiota/xiota.yaml' }).configPath, '/etc/xiota/xiota.yaml');
  assert.is(parseArgs(['init'], { cwd: '/srv', exists: none }).configPath, '/srv/xiota.yaml');
});

test('unknown flags and commands: a clear error with the usage', () => {
  for (const argv of [['check', '--jdi', 'a@b'], ['frobnicate'], ['check', '--jid']]) {
    try {
      parseArgs(argv);
      assert.unreachable(`${argv.join(' ')} should fail`);
    } catch (e) {
      assert.ok(isXiotaError(e, 'XIOTA_E_CONFIG'), String(e));
      assert.ok((e as Error).message.includes(USAGE));
    }
  }
  try { parseArgs(['check', '--jdi', 'x']); } catch (e) { assert.match((e as Error).message, '--jdi'); }
});

test('host:port forms', () => {
  assert.equal(splitHostPort('h.example:5223'), { host: 'h.example', port: 5223 });
  assert.equal(splitHostPort('[::1]:5222'), { host: '::1', port: 5222 });
  assert.equal(splitHostPort('::1'), { host: '::1' });
  assert.equal(splitHostPort('h.example'), { host: 'h.example' });
});

test('flags alone make a config: check --jid --server --ca with XIOTA_PASSWORD', () => {
  writeFileSync(join(dir, 'ca.pem'), 'pem');
  const args = parseArgs(['check', '--jid', 'a@b.org', '--server', '127.0.0.1:5222', '--ca', 'ca.pem'], { cwd: dir, exists: none });
  const prev = process.cwd();
  process.chdir(dir);
  try {
    const env = { XIOTA_PASSWORD: 'pw' };
    const r = loadConfig(args.configPath, { env, overrides: args.flags });
    assert.equal(r.errors, []);
    const c = r.config!;
    assert.is(c.account.jid, 'a@b.org');
    assert.is(c.server.host, '127.0.0.1');
    assert.is(c.server.port, 5222);
    assert.is(c.tls.caFile, join(dir, 'ca.pem'));
    assert.is(resolvePassword(c, env).password, 'pw');
  } finally {
    process.chdir(prev);
  }
});

test('no file and no --jid: an error that says what to do', () => {
  const r = loadConfig(undefined, { env: {}, overrides: {} });
  assert.is(r.config, undefined);
  assert.match(r.errors[0].message, 'xiota init');
});

test('flags override the file; env XIOTA_PASSWORD overrides its secret; issues name the flag', () => {
  const file = join(dir, 'x.yaml');
  writeFileSync(file, 'account:\n  jid: file@example.org\n  password: inline\nserver:\n  host: file.example.org\n  port: 5269\nlog:\n  level: info\n');
  const r = loadConfig(file, { env: { XIOTA_PASSWORD: 'envpw' }, overrides: { jid: 'flag@example.org', server: 'flag.example.org', logLevel: 'debug', json: true, directTls: true } });
  assert.equal(r.errors, []);
  const c = r.config!;
  assert.is(c.account.jid, 'flag@example.org');
  assert.is(c.server.host, 'flag.example.org');
  assert.is(c.server.port, undefined, '--server without a port drops the file port');
  assert.is(c.server.directTls, true);
  assert.is(c.log.level, 'debug');
  assert.is(c.log.format, 'json');
  assert.is(c.account.password, undefined);
  assert.is(c.account.passwordEnv, 'XIOTA_PASSWORD');
  assert.equal(r.warnings, [], 'the inline password was replaced, so no warning about it');

  const bad = loadConfig(file, { env: {}, overrides: { server: 'h:often', logLevel: 'loud' } });
  const port = bad.errors.find((e) => e.path === 'server.port')!;
  assert.match(port.message, '(from --server)');
  assert.is(port.line, undefined);
  assert.match(bad.errors.find((e) => e.path === 'log.level')!.message, '(from --log-level)');
});

test('--password-file wins over XIOTA_PASSWORD and the file', () => {
  const { raw, sources } = applyOverrides({ account: { jid: 'a@b.org', password_env: 'X' } }, { passwordFile: 'pw' }, { XIOTA_PASSWORD: 'e' }, '/srv');
  assert.equal(raw.account, { jid: 'a@b.org', password_file: '/srv/pw' });
  assert.equal(sources.get('account.password_file'), { flag: '--password-file' });
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
