// `xiota bridge pair` and `list` through the real command entry point (agent/cli/main.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chownSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../agent/cli/main';
import { readKeys } from '../../firmware-bridge/host/keys';

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

test.run();
