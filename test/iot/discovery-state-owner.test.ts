// discovery.json written by root (`sudo xiota claim` before the daemon wrote one) into a state
// directory another user owns (systemd's DynamicUser=yes owns /var/lib/xiota): the file must
// belong to that user, still mode 0600, or the daemon could not read its KEY.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chownSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateState, readDiscoveryState } from '../../agent/iot/discovery-meta';

const dir = mkdtempSync(join(tmpdir(), 'xiota-disco-owner-'));

test('written as root into a directory owned by another user: the file is that user\'s, 0600, and reads back', () => {
  if (process.getuid?.() !== 0) throw new Error('this test chowns a directory: run it as root (CI does)');
  const state = join(dir, 'state');
  mkdirSync(state, { mode: 0o700 });
  chownSync(state, 61234, 61234);
  const made = loadOrCreateState(state);
  const st = statSync(join(state, 'discovery.json'));
  assert.is(st.uid, 61234);
  assert.is(st.gid, 61234);
  assert.is(st.mode & 0o777, 0o600);
  assert.is(readDiscoveryState(state)?.key, made.key);
});

test('written as root into root\'s own directory: stays root\'s', () => {
  const state = join(dir, 'root-state');
  mkdirSync(state, { mode: 0o700 });
  loadOrCreateState(state);
  assert.is(statSync(join(state, 'discovery.json')).uid, process.getuid?.());
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
