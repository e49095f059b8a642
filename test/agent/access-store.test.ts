// The owners' run-time decisions: allow, deny, revoke, pending requests; persisted atomically
// in access.json beside the outbox and loaded at start; every decision logged with the JID.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessStore, ACCESS_FILE, MAX_PENDING, type AccessChange } from '../../agent/access-store';
import type { AccessPolicy } from '../../agent/access';
import { createLogger } from '../../agent/log';
import { nodeFs, type OutboxFs } from '../../agent/outbox/fs';

const t = suite('access store');
let dir: string;
t.before.each(() => { dir = mkdtempSync(join(tmpdir(), 'xiota-access-')); });
t.after.each(() => rmSync(dir, { recursive: true, force: true }));

const POLICY: AccessPolicy = { owners: ['alice@example.org'], controllers: [], readers: ['carol@example.org'], strangers: 'ask_owners' };

function store(o: { lines?: string[]; fs?: OutboxFs; now?: () => number } = {}) {
  const log = createLogger({ level: 'debug', json: true, write: (l) => o.lines?.push(l) });
  return new AccessStore({ policy: POLICY, self: 'gw@example.org', dir, log, fs: o.fs, now: o.now });
}

t('decide: roles from the config and the grants; every decision logged with the JID', async () => {
  const lines: string[] = [];
  const a = store({ lines });
  assert.ok(a.decide('alice@example.org/phone', 'admin').allowed);
  assert.ok(a.decide('gw@example.org/other', 'control').allowed, 'our own account');
  assert.ok(a.decide('carol@example.org', 'read').allowed);
  assert.not.ok(a.decide('carol@example.org', 'control').allowed);
  assert.not.ok(a.decide('bob@example.org/x', 'read').allowed);
  const logged = lines.map((l) => JSON.parse(l) as { level: string; msg: string; jid?: string; action?: string });
  assert.ok(logged.some((l) => l.level === 'debug' && l.msg === 'access allowed' && l.jid === 'alice@example.org' && l.action === 'admin'));
  assert.ok(logged.some((l) => l.level === 'info' && l.msg === 'access refused' && l.jid === 'bob@example.org' && l.action === 'read'));
  assert.ok(logged.some((l) => l.level === 'info' && l.msg === 'access refused' && l.jid === 'carol@example.org' && l.action === 'control'));
});

t('allow, deny, revoke, request: the state, the change events, and the file', async () => {
  const a = store();
  const changes: AccessChange[] = [];
  a.onChange((c) => changes.push(c));
  assert.is(await a.request('bob@example.org/phone'), true);
  assert.is(await a.request('Bob@example.org'), false, 'once');
  assert.equal(a.pending().map((p) => p.jid), ['bob@example.org']);
  await a.allow('bob@example.org', 'controller', 'alice@example.org');
  assert.equal(a.pending(), []);
  assert.is(a.roleOf('bob@example.org/x'), 'controller');
  assert.ok(a.decide('bob@example.org', 'control').allowed);
  await a.deny('dave@example.org');
  assert.is(a.roleOf('dave@example.org'), 'stranger');
  // revoking someone the config lets in must take effect: they become denied
  await a.revoke('carol@example.org');
  assert.is(a.roleOf('carol@example.org'), 'stranger');
  await a.revoke('bob@example.org');
  assert.is(a.roleOf('bob@example.org'), 'stranger');
  assert.equal(changes.map((c) => `${c.kind} ${c.jid}`), ['requested bob@example.org', 'allowed bob@example.org', 'denied dave@example.org', 'revoked carol@example.org', 'revoked bob@example.org']);
  const saved = JSON.parse(readFileSync(join(dir, ACCESS_FILE), 'utf8'));
  assert.equal(saved, { version: 1, allowed: {}, denied: ['carol@example.org', 'dave@example.org'], pending: {} });
  assert.equal(readdirSync(dir), [ACCESS_FILE], 'no temp file left');
  const list = a.list().map((e) => `${e.source}:${e.role}:${e.jid}`);
  assert.ok(list.includes('config:owner:alice@example.org'));
  assert.ok(list.includes('denied:stranger:carol@example.org'));
});

t('persisted: a new store (a restart) loads allowed, denied and pending', async () => {
  let now = 1000;
  const a = store({ now: () => now });
  await a.allow('bob@example.org');
  await a.deny('eve@example.org');
  now = 2000;
  await a.request('frank@example.org');
  const b = store();
  assert.is(b.roleOf('bob@example.org'), 'stranger', 'not loaded yet');
  await b.load();
  assert.is(b.roleOf('bob@example.org'), 'reader');
  assert.is(b.roleOf('eve@example.org'), 'stranger');
  assert.equal(b.pending(), [{ jid: 'frank@example.org', since: 2000 }]);
  assert.equal(b.list().filter((e) => e.source === 'denied').map((e) => e.jid), ['eve@example.org']);
});

t('no file yet: empty; an unreadable file is kept aside and logged, the store starts empty', async () => {
  const a = store();
  await a.load();
  assert.equal(a.list().filter((e) => e.source !== 'config'), []);
  writeFileSync(join(dir, ACCESS_FILE), '{"version":1,"allowed":{"bob@example.org":"king"}}');
  const lines: string[] = [];
  const b = store({ lines, now: () => 77 });
  await b.load();
  assert.is(b.roleOf('bob@example.org'), 'stranger');
  assert.ok(existsSync(join(dir, `${ACCESS_FILE}.bad-77`)));
  assert.not.ok(existsSync(join(dir, ACCESS_FILE)));
  const err = lines.map((l) => JSON.parse(l)).find((l) => l.level === 'error');
  assert.match(err.error, /allowed.bob@example.org: role "king" is not reader or controller/);
});

t('owners change only in the config; JIDs are checked', async () => {
  const a = store();
  for (const f of [() => a.deny('alice@example.org'), () => a.revoke('Alice@example.org/phone'), () => a.allow('gw@example.org')]) {
    try {
      await f();
      assert.unreachable('must refuse');
    } catch (e) {
      assert.match((e as Error).message, /is an owner; owners cannot be (denied|revoked|allowed) at run time: edit access.owners in the config file/);
    }
  }
  try {
    await a.allow('bob');
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /"bob" is not a JID: write it as name@domain/);
  }
  assert.not.ok(existsSync(join(dir, ACCESS_FILE)), 'nothing saved');
});

t('pending requests are capped: the oldest go first', async () => {
  let now = 0;
  const a = new AccessStore({ policy: POLICY, now: () => ++now });
  for (let i = 0; i < MAX_PENDING + 5; i++) await a.request(`s${i}@spam.example`);
  const p = a.pending();
  assert.is(p.length, MAX_PENDING);
  assert.is(p[0]!.jid, 's5@spam.example');
});

t('a failed save: the caller hears of it, the change holds and listeners still follow it', async () => {
  const failing: OutboxFs = { ...nodeFs, rename: async () => { throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }); } };
  const a = store({ fs: failing });
  const changes: string[] = [];
  a.onChange((c) => changes.push(c.kind));
  try {
    await a.allow('bob@example.org');
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /cannot save access decisions to .*access.json: EIO: i\/o error; the change holds until a restart/);
  }
  assert.is(a.roleOf('bob@example.org'), 'reader');
  assert.equal(changes, ['allowed']);
  // the next save works again once the disk does
  const b = store();
  await b.allow('bob@example.org');
  assert.ok(existsSync(join(dir, ACCESS_FILE)));
});

t.run();
