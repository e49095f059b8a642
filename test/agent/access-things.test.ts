// Owners of things behind the gateway (XEP-0347 'Registering Thing behind Concentrator' claims):
// the claimer reads and controls the thing it claimed, and nothing else of the gateway. One
// decision: agent/access.ts decide() marks it `delegate` (the scope is needed), forThings()
// completes it into a partial grant (nodes), AccessStore.check() applies it before any
// provisioning server; persisted in access.json.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessStore, ACCESS_FILE, type AccessChange, type Delegate } from '../../agent/access-store';
import { decide, forThings, type AccessPolicy, type Grants } from '../../agent/access';

const t = suite('access: owners of things behind the gateway');
let dir: string;
t.before.each(() => { dir = mkdtempSync(join(tmpdir(), 'xiota-access-things-')); });
t.after.each(() => rmSync(dir, { recursive: true, force: true }));

const POLICY: AccessPolicy = { owners: ['alice@example.org'], controllers: [], readers: ['carol@example.org'], strangers: 'refuse' };
const ERIN = 'erin@example.org';
const grants = (things: string[]): Grants => ({ allowed: new Map(), denied: new Set(), thingOwners: new Map([[ERIN, new Set(things)]]) });

t('decide (pure): a thing owner is no role on the gateway, marked delegate for read and control only; forThings grants its things', () => {
  const g = grants(['greenhouse']);
  const read = decide(POLICY, `${ERIN}/phone`, 'read', g);
  assert.equal([read.allowed, read.role, read.delegate], [false, 'stranger', true]);
  assert.is(decide(POLICY, ERIN, 'alerts', g).delegate, undefined);
  assert.is(decide(POLICY, ERIN, 'admin', g).delegate, undefined);
  assert.is(decide(POLICY, 'frank@example.org', 'read', g).delegate, undefined, 'nobody else is affected');
  // an owner's deny still wins
  assert.is(decide(POLICY, ERIN, 'read', { ...g, denied: new Set([ERIN]) }).delegate, undefined);

  const owned = g.thingOwners!.get(ERIN);
  assert.equal(forThings(read, owned)?.nodes, ['greenhouse'], 'nothing asked: its things');
  assert.equal(forThings(read, owned, { nodes: ['greenhouse', 'pump1'] })?.nodes, ['greenhouse'], 'narrowed to its things');
  assert.is(forThings(read, owned, { nodes: ['pump1'] }), undefined, 'another thing: no grant');
  assert.is(forThings(read, owned, { question: 'friend' }), undefined, 'following the gateway shows every thing: no');
  const ctl = forThings(decide(POLICY, ERIN, 'control', g), owned, { nodes: ['greenhouse'] })!;
  assert.equal([ctl.allowed, ctl.by, ctl.action, ctl.nodes], [true, 'local', 'control', ['greenhouse']]);
});

t('AccessStore: addThingOwner persists; check grants read/control of that thing only; decide and roleOf stay stranger; reload keeps it', async () => {
  const a = new AccessStore({ policy: POLICY, self: 'gw@example.org', dir });
  const seen: AccessChange[] = [];
  a.onChange((c) => seen.push(c));
  await a.addThingOwner(`${ERIN}/phone`, 'greenhouse', 'reg@example.org');
  assert.equal(seen, [{ kind: 'thing-owner-added', jid: ERIN, thing: 'greenhouse', by: 'reg@example.org' }]);
  assert.equal(JSON.parse(readFileSync(join(dir, ACCESS_FILE), 'utf8')).thingOwners, { [ERIN]: ['greenhouse'] });

  assert.is(a.roleOf(ERIN), 'stranger');
  assert.is(a.decide(ERIN, 'read').allowed, false, 'a caller that cannot give the scope gets no');
  const r = await a.check(ERIN, 'read', { question: 'read', nodes: [] });
  assert.equal([r.allowed, r.nodes], [true, ['greenhouse']]);
  assert.equal((await a.check(ERIN, 'control', { question: 'control', nodes: ['greenhouse'], fields: ['fan'] })).nodes, ['greenhouse']);
  assert.is((await a.check(ERIN, 'control', { question: 'control', nodes: ['pump1'] })).allowed, false);
  assert.is((await a.check(ERIN, 'read', { question: 'friend' })).allowed, false);
  assert.is((await a.check(ERIN, 'alerts')).allowed, false);
  assert.is((await a.check(ERIN, 'admin')).allowed, false);

  const b = new AccessStore({ policy: POLICY, self: 'gw@example.org', dir });
  await b.load();
  assert.equal(b.thingsOwnedBy(ERIN), ['greenhouse']);
  // Listed (chat `who`, the ad-hoc access list) with its things and no role on the gateway.
  assert.equal(b.list().filter((e) => e.source === 'thing-claim'), [{ jid: ERIN, role: 'stranger', source: 'thing-claim', things: ['greenhouse'] }]);
  // An owner's revoke takes the things back too (chat `revoke`, the ad-hoc access command).
  await b.revoke(ERIN, 'owner@example.org');
  assert.equal(b.thingsOwnedBy(ERIN), []);
  assert.is((await b.check(ERIN, 'read')).allowed, false);
  assert.is(JSON.parse(readFileSync(join(dir, ACCESS_FILE), 'utf8')).thingOwners, undefined, 'saved');
  await b.addThingOwner(ERIN, 'greenhouse', 'reg@example.org'); // as the next test expects
  assert.equal((await b.check(ERIN, 'read')).nodes, ['greenhouse']);
});

t('one owner a thing; removeThingOwner (disowned, gone) takes it back and is saved; unknown things are a no-op', async () => {
  const a = new AccessStore({ policy: POLICY, dir });
  await a.addThingOwner(ERIN, 'greenhouse');
  await a.addThingOwner(ERIN, 'pump1');
  await a.addThingOwner('frank@example.org', 'pump1'); // claimed anew after a disown the device missed
  assert.equal(a.thingsOwnedBy(ERIN), ['greenhouse']);
  assert.equal(a.thingsOwnedBy('frank@example.org'), ['pump1']);
  const seen: AccessChange[] = [];
  a.onChange((c) => seen.push(c));
  await a.removeThingOwner('greenhouse', 'reg@example.org');
  await a.removeThingOwner('nothing');
  assert.equal(seen, [{ kind: 'thing-owner-removed', jid: ERIN, thing: 'greenhouse', by: 'reg@example.org' }]);
  assert.is((await a.check(ERIN, 'read')).allowed, false);
  assert.equal(JSON.parse(readFileSync(join(dir, ACCESS_FILE), 'utf8')).thingOwners, { 'frank@example.org': ['pump1'] });
});

t('with a provisioning server: a thing owner\'s own things are decided locally (no question); other things still go to the server', async () => {
  const asked: string[] = [];
  const a = new AccessStore({ policy: POLICY, dir });
  const d: Delegate = { cached: () => undefined, ask: async (jid, scope) => { asked.push(`${jid}:${scope.nodes?.join(',') ?? ''}`); return { allowed: false }; } };
  a.delegateTo(d);
  await a.addThingOwner(ERIN, 'greenhouse');
  assert.equal((await a.check(ERIN, 'read', { nodes: ['greenhouse'] })).nodes, ['greenhouse']);
  assert.equal(asked, []);
  const other = await a.check(ERIN, 'read', { nodes: ['pump1'] });
  assert.equal([other.allowed, other.by], [false, 'provisioning']);
  assert.equal(asked, [`${ERIN}:pump1`]);
});

t('access.json with a bad thingOwners entry is kept aside, not trusted', async () => {
  const { writeFileSync, readdirSync } = await import('node:fs');
  writeFileSync(join(dir, ACCESS_FILE), JSON.stringify({ version: 1, allowed: {}, denied: [], pending: {}, thingOwners: { [ERIN]: 'greenhouse' } }));
  const a = new AccessStore({ policy: POLICY, dir });
  await a.load();
  assert.equal(a.thingsOwnedBy(ERIN), []);
  assert.ok(readdirSync(dir).some((f) => f.startsWith(`${ACCESS_FILE}.bad-`)));
});

t.run();
