import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, mkdtempSync, copyFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { starterConfig } from '../../agent/config';

function repoFile(rel: string): string {
  for (let d = __dirname; d !== dirname(d); d = dirname(d)) if (existsSync(join(d, rel))) return join(d, rel);
  return join(process.cwd(), rel);
}
const unit = readFileSync(repoFile('examples/xiota.service'), 'utf8');
const directives = new Map<string, string[]>();
for (const line of unit.split('\n')) {
  const m = /^([A-Za-z]+)=(.*)$/.exec(line);
  if (m) directives.set(m[1], [...(directives.get(m[1]) ?? []), m[2]]);
}
const one = (k: string) => directives.get(k)?.[0];

test('the unit is sandboxed as designed', () => {
  assert.is(one('DynamicUser'), 'yes');
  assert.is(one('StateDirectory'), 'xiota');
  assert.is(one('ConfigurationDirectory'), 'xiota');
  assert.is(one('ProtectSystem'), 'strict');
  assert.is(one('ProtectHome'), 'yes');
  assert.is(one('PrivateTmp'), 'yes');
  assert.is(one('NoNewPrivileges'), 'yes');
  assert.is(one('RestrictAddressFamilies'), 'AF_INET AF_INET6 AF_UNIX AF_NETLINK');
  assert.is(one('SupplementaryGroups'), 'dialout');
  assert.is(one('Restart'), 'always');
  assert.is(one('RestartSec'), '5');
  assert.is(one('ExecStart'), '/usr/bin/env xiota run --config /etc/xiota/xiota.yaml');
  // V8 needs W+X pages: this would kill node at start.
  assert.not.ok(directives.has('MemoryDenyWriteExecute'));
});

test('the credential the unit loads is the file the starter config reads', () => {
  const cred = /^password:(.+)$/.exec(one('LoadCredential') ?? '');
  assert.ok(cred, 'LoadCredential=password:...');
  assert.match(starterConfig(), /password_file: \$\{CREDENTIALS_DIRECTORY:-\/etc\/xiota\}\/password/);
  assert.is(cred![1], '/etc/xiota/password');
  // The outbox lives in the StateDirectory.
  assert.match(starterConfig(), /dir: \/var\/lib\/xiota\/outbox/);
});

test('systemd-analyze verify accepts the unit (when systemd-analyze is installed)', () => {
  const probe = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (probe.error) {
    // Not a skip of the checks above; only this external check needs the tool.
    console.log('systemd-analyze not installed; unit checked by the directive tests only');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'xiota-unit-'));
  try {
    copyFileSync(repoFile('examples/xiota.service'), join(dir, 'xiota.service'));
    const r = spawnSync('systemd-analyze', ['verify', join(dir, 'xiota.service')], { encoding: 'utf8' });
    const out = (r.stdout + r.stderr).split('\n').filter((l) => l.includes('xiota.service')).join('\n');
    assert.is(r.status, 0, out);
    assert.is(out, '', out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
