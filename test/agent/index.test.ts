// The library's front door: another package requires `xiota` by name and gets, through
// package.json `main`, the agent, config loader, client, errors, XML, access and module API.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const t = suite('package main');
const ROOT = join(__dirname, '../../..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { main: string; types: string };

t('main and types name files that exist', () => {
  assert.ok(existsSync(join(ROOT, pkg.main)), pkg.main);
  assert.ok(existsSync(join(ROOT, pkg.types)), pkg.types);
});

t("require('xiota') from another package gives the public API", () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-consumer-'));
  try {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules', 'xiota'), 'dir');
    const script = `
      const xi = require('xiota');
      const kinds = {};
      for (const k of Object.keys(xi)) kinds[k] = typeof xi[k];
      const r = xi.configFromObject({ account: { jid: 'gw@example.org', password: 'p' }, outbox: { dir: '/tmp/xiota-consumer/outbox' } });
      const d = xi.decide({ owners: ['alice@example.org'], controllers: [], readers: ['@example.org'], strangers: 'refuse' }, 'bob@example.org/phone', 'read');
      process.stdout.write(JSON.stringify({ kinds, errors: r.errors, jid: r.config && r.config.account.jid, xml: xi.serialize(xi.x('a', { b: 'c' })), role: d.role, code: new xi.XiotaError('XIOTA_E_CONFIG', 'm').code }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' })) as { kinds: Record<string, string>; errors: unknown[]; jid: string; xml: string; role: string; code: string };
    for (const name of ['Agent', 'loadConfig', 'configFromObject', 'XmppClient', 'XiotaError', 'StanzaError', 'Element', 'x', 'DriverHost', 'createDriver', 'decide', 'AccessStore', 'ModuleHost', 'Disco', 'createLogger']) {
      assert.is(out.kinds[name], 'function', name);
    }
    assert.is(out.kinds.MODULES, 'object', 'MODULES');
    assert.equal(out.errors, []);
    assert.is(out.jid, 'gw@example.org');
    assert.is(out.xml, '<a b="c"/>');
    assert.is(out.role, 'reader');
    assert.is(out.code, 'XIOTA_E_CONFIG');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.run();
