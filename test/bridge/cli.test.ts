// `xiota bridge pair` and `list` through the real command entry point (agent/cli/main.ts), and
// the keys file taken from the agent's config (firmware-bridge/host/cli-config.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chownSync, existsSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../agent/cli/main';
import { bridgeMain } from '../../firmware-bridge/host/cli';
import { readKeys } from '../../firmware-bridge/host/keys';
import { pendingPairings } from '../../firmware-bridge/host/tofu';

function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [], err: string[] = [];
  return main(argv, { out: (s) => out.push(s), err: (s) => err.push(s), env }).then((code) => ({ code, out: out.join('\n'), err: err.join('\n') }));
}

const dir = mkdtempSync(join(tmpdir(), 'xiota-bridge-cli-'));

test('pair prints the key once (hex, C, QR) and binds it to the board id in a 0600 keys file', async () => {
  const keys = join(dir, 'k.json');
  const r = await run(['bridge', 'pair', 'greenhouse-1', '--keys', keys]);
  assert.is(r.code, 0, r.err);
  const stored = Buffer.from(readKeys(keys).get('greenhouse-1')!).toString('hex');
  assert.ok(r.out.includes(`key (hex): ${stored}`));
  assert.ok(r.out.includes(`0x${stored.slice(0, 2)}, 0x${stored.slice(2, 4)}`), 'C initializer');
  assert.match(r.out, /[▀▄█]{20,}/, 'a QR code');
  assert.is(statSync(keys).mode & 0o777, 0o600);

  const again = await run(['bridge', 'pair', 'greenhouse-1', '--keys', keys]);
  assert.is(again.code, 2);
  assert.match(again.err, /already paired .*--force/);
  assert.is(Buffer.from(readKeys(keys).get('greenhouse-1')!).toString('hex'), stored, 'the old key is kept');

  const forced = await run(['bridge', 'pair', 'greenhouse-1', '--keys', keys, '--force', '--no-qr']);
  assert.is(forced.code, 0);
  assert.is.not(Buffer.from(readKeys(keys).get('greenhouse-1')!).toString('hex'), stored);
  assert.not.match(forced.out, /█/);
  const list = await run(['bridge', 'list', '--keys', keys]);
  assert.is(list.out, 'greenhouse-1');
  assert.not.match(list.out, /[0-9a-f]{64}/, 'list never shows keys');
});

test('STATE_DIRECTORY (systemd) is the default home of the keys file; bad input names the fix', async () => {
  const r = await run(['bridge', 'pair', 'b-2', '--no-qr'], { STATE_DIRECTORY: dir });
  assert.is(r.code, 0, r.err);
  assert.ok(readKeys(join(dir, 'bridge-keys.json')).has('b-2'));
  assert.match((await run(['bridge', 'pair', 'no spaces'], { STATE_DIRECTORY: dir })).err, /not a board id: use 1-32 letters/);
  assert.match((await run(['bridge', 'pair', 'x', '--keys', '/nonexistent/dir/k.json'])).err, /its directory does not exist/);
  assert.match((await run(['bridge', 'frobnicate'])).err, /expected "pair BOARD_ID", "list", "pending", "approve BOARD_ID" or "deny BOARD_ID"/);
});

test('sudo xiota bridge pair into the daemon\'s state directory: the keys file belongs to the directory\'s owner (systemd DynamicUser), still 0600', async () => {
  if (process.getuid?.() !== 0) throw new Error('this test chowns a directory: run it as root (CI does)');
  const state = join(dir, 'dynamic-user-state');
  mkdirSync(state, { mode: 0o700 });
  chownSync(state, 61234, 61234);
  const keys = join(state, 'bridge-keys.json');
  assert.is((await run(['bridge', 'pair', 'gh-9', '--keys', keys, '--no-qr'])).code, 0);
  const st = statSync(keys);
  assert.is(st.uid, 61234);
  assert.is(st.gid, 61234);
  assert.is(st.mode & 0o777, 0o600);
  // approve (trust on first use) writes the pairing state beside it: the same owner
  assert.is((await run(['bridge', 'approve', 'gh-10', '--force', '--keys', keys])).code, 0);
  const pairing = statSync(join(state, 'bridge-pairing.json'));
  assert.is(pairing.uid, 61234);
  assert.is(statSync(keys).uid, 61234);
});

/** A config as `xiota run` reads it, with these drivers (YAML flow mappings). */
function writeConfig(name: string, drivers: string[]): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  const path = join(d, 'xiota.yaml');
  writeFileSync(path, `account:\n  jid: gw@example.org\n  password_file: /root-only/password\noutbox:\n  dir: ${join(d, 'outbox')}\n${drivers.length ? `drivers:\n${drivers.map((x) => `  - ${x}\n`).join('')}` : ''}`);
  return path;
}
/** bridgeMain with a config search of our own (not ./xiota.yaml and /etc/xiota/xiota.yaml). */
function bridge(argv: string[], o: { search?: string[]; env?: NodeJS.ProcessEnv } = {}) {
  const out: string[] = [], err: string[] = [];
  const code = bridgeMain(argv, { out: (s) => out.push(s), err: (s) => err.push(s), env: o.env ?? {}, configSearch: o.search ?? [] });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('--config: every subcommand uses the keys file of the config\'s bridge driver (a relative keys_file is the config directory\'s), and says which', async () => {
  const cfg = writeConfig('with-bridge', ['{ id: greenhouse, kind: bridge, options: { path: /dev/ttyUSB0, board: gh-1, keys_file: keys/custom.json, pairing: tofu } }']);
  const keys = join(dir, 'with-bridge', 'keys', 'custom.json');
  mkdirSync(join(dir, 'with-bridge', 'keys'));
  const r = await run(['bridge', 'pair', 'gh-1', '--config', cfg, '--no-qr']);
  assert.is(r.code, 0, r.err);
  assert.ok(readKeys(keys).has('gh-1'), 'the key is in the config\'s keys_file, no --keys needed');
  assert.ok(r.err.includes(`config ${cfg}, driver "greenhouse" (board gh-1): keys file ${keys}`), r.err);
  assert.match(r.out, /the agent's driver "greenhouse" .* reads this key at the board's next handshake/);
  const list = await run(['bridge', 'list', '-c', cfg]);
  assert.is(list.out, 'gh-1', 'list stays a list: where it looked goes to stderr');
  assert.ok(list.err.includes(keys));
  // approve / deny / pending go to the same file's pairing state
  assert.is((await run(['bridge', 'approve', 'gh-2', '--force', '--config', cfg])).code, 0);
  assert.ok(readKeys(keys).has('gh-2'));
  assert.is((await run(['bridge', 'deny', 'gh-3', '--config', cfg])).code, 0);
  assert.is((await run(['bridge', 'pending', '--config', cfg])).out, 'no board is asking to pair');
  assert.ok(existsSync(join(dir, 'with-bridge', 'keys', 'bridge-pairing.json')));
  assert.not.ok(existsSync(join(dir, 'bridge-pairing.json')), 'nothing went to the default place');
});

test('the config is found where xiota run finds it; --keys wins over it and says when the driver reads another file', () => {
  const cfg = writeConfig('found', ['{ id: b, kind: bridge, options: { path: /dev/ttyACM0, board: found-1, keys_file: k.json } }']);
  const r = bridge(['pair', 'found-1', '--no-qr'], { search: [join(dir, 'nothing-here.yaml'), cfg] });
  assert.is(r.code, 0, r.err);
  assert.ok(readKeys(join(dir, 'found', 'k.json')).has('found-1'));
  assert.ok(r.err.includes(`config ${cfg}`));
  const other = join(dir, 'found', 'other.json');
  const w = bridge(['pair', 'found-1', '--keys', other, '--no-qr'], { search: [cfg] });
  assert.is(w.code, 0, w.err);
  assert.ok(readKeys(other).has('found-1'), '--keys wins');
  assert.ok(w.err.includes(`keys file ${other} (--keys)`), w.err);
  assert.match(w.err, /warning: driver "b" in .* reads board "found-1"'s key from .*k\.json, not from --keys/);
});

test('several bridge drivers: a board goes to its own driver\'s keys file; an unknown board is refused naming the files', () => {
  const cfg = writeConfig('two', [
    '{ id: left, kind: bridge, options: { path: /dev/ttyUSB0, board: left-1, keys_file: left.json, pairing: tofu } }',
    '{ id: right, kind: bridge, options: { path: /dev/ttyUSB1, board: right-1, keys_file: right.json } }',
  ]);
  const left = join(dir, 'two', 'left.json'), right = join(dir, 'two', 'right.json');
  assert.is(bridge(['pair', 'right-1', '--no-qr', '--config', cfg]).code, 0);
  assert.ok(readKeys(right).has('right-1'));
  assert.not.ok(existsSync(left));
  const a = bridge(['approve', 'left-1', '--force', '--config', cfg]);
  assert.is(a.code, 0, a.err);
  assert.ok(readKeys(left).has('left-1'));
  assert.not.ok(a.err.includes('warning'), a.err);
  // approve for a driver that never sends keys: done, with a warning that says what to do
  const p = bridge(['approve', 'right-1', '--force', '--config', cfg]);
  assert.match(p.err, /driver "right" pairs by pre-shared key .*xiota bridge pair right-1/);
  const u = bridge(['pair', 'stray-1', '--config', cfg]);
  assert.is(u.code, 2);
  assert.ok(u.err.includes(`no bridge driver in ${cfg} has board: stray-1, and its bridge drivers use different keys files (${left}, ${right}): add a driver with board: stray-1, or give --keys FILE`), u.err);
  // list looks through both
  assert.equal(bridge(['list', '--config', cfg]).out.split('\n').sort(), ['left-1', 'right-1']);
  assert.equal(pendingPairings(left), {});
});

test('a missing or broken config, or one without a bridge driver, says which file and what to do', () => {
  const missing = bridge(['pair', 'x-1', '--config', join(dir, 'nope.yaml')]);
  assert.is(missing.code, 2);
  assert.match(missing.err, /config .*nope\.yaml \(--config\) does not exist: give the agent's config file .*or the keys file with --keys FILE/);

  const broken = join(dir, 'broken.yaml');
  writeFileSync(broken, 'account:\n  jid: not a jid\n');
  const b = bridge(['list', '--config', broken]);
  assert.is(b.code, 2);
  assert.match(b.err, /broken\.yaml:2:\d+: error: account\.jid/);
  assert.match(b.err, /has \d problem\(s\): fix them \(xiota check --config .*broken\.yaml\), or give the keys file with --keys FILE/);
  const withKeys = bridge(['list', '--config', broken, '--keys', join(dir, 'k.json')]);
  assert.is(withKeys.code, 0, withKeys.err);
  assert.match(withKeys.err, /broken\.yaml not read .*using --keys/);

  const state = join(dir, 'state');
  mkdirSync(state);
  const none = writeConfig('no-bridge', []);
  const n = bridge(['pair', 'n-1', '--no-qr', '--config', none], { env: { STATE_DIRECTORY: state } });
  assert.is(n.code, 0, n.err);
  assert.ok(readKeys(join(state, 'bridge-keys.json')).has('n-1'));
  assert.match(n.err, /config .*no-bridge\/xiota\.yaml has no bridge driver: using .*state\/bridge-keys\.json, the bridge driver's default; add a driver .*kind: bridge.* or give --keys FILE/);

  const nowhere = bridge(['list'], { search: [join(dir, 'a.yaml'), join(dir, 'b.yaml')], env: { STATE_DIRECTORY: state } });
  assert.is(nowhere.code, 0);
  assert.ok(nowhere.err.includes(`no config file found (looked for ${join(dir, 'a.yaml')}, ${join(dir, 'b.yaml')}): using ${join(state, 'bridge-keys.json')}`), nowhere.err);
  assert.match(nowhere.err, /give the agent's config with --config FILE, or a keys file with --keys FILE/);
});

test.run();
