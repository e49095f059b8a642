// Presence subscriptions and roster pushes (RFC 6121 2, 3) decided by access, without a
// server: the stanzas a person's server would deliver in, what the device sends out.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AccessStore } from '../../agent/access-store';
import type { AccessPolicy } from '../../agent/access';
import { x } from '../../agent/xml/element';
import { askOwnersText, install, isOwnPush, NS_PRE_APPROVAL, NS_ROSTER, parseRosterItems, RateLimit } from '../../agent/xep/subscriptions';
import { presences, testContext, tick } from './_context';

const t = suite('subscriptions');
const POLICY: AccessPolicy = { owners: ['alice@example.org', '@owners.example'], controllers: ['ctl@example.org'], readers: ['@readers.example'], strangers: 'refuse' };

function setup(policy: Partial<AccessPolicy> = {}, clock = { t: 0 }) {
  const access = new AccessStore({ policy: { ...POLICY, ...policy }, self: 'dev@example.org', now: () => clock.t });
  const tc = testContext('dev@example.org');
  install(tc.ctx, { access, now: () => clock.t });
  const sub = (from: string, type = 'subscribe') => tc.router.dispatch(x('presence', { from, to: 'dev@example.org', type }));
  return { ...tc, access, sub, clock };
}

t('roster items: RFC 6121 2.1.2 attributes; bad ones skipped or defaulted', () => {
  const q = x('query', { xmlns: NS_ROSTER },
    x('item', { jid: 'Juliet@example.com', subscription: 'both', name: 'J' }),
    x('item', { jid: 'romeo@example.net/balcony', subscription: 'none', ask: 'subscribe' }),
    x('item', { jid: 'nurse@example.com', subscription: 'bogus', approved: 'true' }),
    x('item', { subscription: 'to' }));
  assert.equal(parseRosterItems(q), [
    { jid: 'juliet@example.com', subscription: 'both', ask: false, approved: false },
    { jid: 'romeo@example.net', subscription: 'none', ask: true, approved: false },
    { jid: 'nurse@example.com', subscription: 'none', ask: false, approved: true },
  ]);
});

t('roster push origin (RFC 6121 2.1.6): none or our bare JID only', () => {
  assert.ok(isOwnPush(x('iq', { type: 'set' }), 'dev@example.org'));
  assert.ok(isOwnPush(x('iq', { type: 'set', from: 'Dev@example.org' }), 'dev@example.org'));
  assert.not.ok(isOwnPush(x('iq', { type: 'set', from: 'dev@example.org/evil' }), 'dev@example.org'));
  assert.not.ok(isOwnPush(x('iq', { type: 'set', from: 'mallory@example.org' }), 'dev@example.org'));
  assert.not.ok(isOwnPush(x('iq', { type: 'set', from: 'example.org' }), 'dev@example.org'));
});

t('rate limit: per key and overall, over an injected clock', () => {
  let now = 0;
  const r = new RateLimit(3, 60_000, 600_000, () => now);
  assert.ok(r.take('a'));
  assert.not.ok(r.take('a'), 'same key again');
  assert.ok(r.take('b'));
  assert.ok(r.take('c'));
  assert.not.ok(r.take('d'), 'over the window budget');
  now = 60_000;
  assert.ok(r.take('d'));
  assert.not.ok(r.take('a'), 'per-key still holds');
  now = 600_000;
  assert.ok(r.take('a'));
});

t('subscribe from a reader, a controller, an owner: subscribed, and a subscription back', async () => {
  const s = setup();
  await s.sub('someone@readers.example/phone');
  await s.sub('ctl@example.org');
  await s.sub('alice@example.org/laptop');
  assert.equal(presences(s.sent), [
    'subscribed someone@readers.example', 'subscribe someone@readers.example',
    'subscribed ctl@example.org', 'subscribe ctl@example.org',
    'subscribed alice@example.org', 'subscribe alice@example.org',
  ]);
});

t('strangers refused with unsubscribed, rate-limited per JID and overall (5 a minute)', async () => {
  const s = setup();
  await s.sub('bob@example.org');
  await s.sub('bob@example.org');
  for (let i = 0; i < 10; i++) await s.sub(`spam${i}@evil.example`);
  assert.equal(presences(s.sent), ['unsubscribed bob@example.org', ...[0, 1, 2, 3].map((i) => `unsubscribed spam${i}@evil.example`)]);
  s.clock.t = 61_000;
  await s.sub('spam9@evil.example');
  assert.is(presences(s.sent).at(-1), 'unsubscribed spam9@evil.example');
  // a domain JID (no local part) is never a follower
  s.clock.t = 200_000;
  await s.sub('evil.example');
  assert.is(presences(s.sent).at(-1), 'unsubscribed evil.example');
});

t('ask_owners: one chat message per stranger to each owner JID, the request kept pending', async () => {
  const s = setup({ strangers: 'ask_owners' });
  await s.sub('bob@example.org/phone');
  await tick();
  await s.sub('bob@example.org');
  await tick();
  const msgs = s.sent.filter((e) => e.name === 'message');
  assert.is(msgs.length, 1, 'the @domain owner entry is not written to; the second request is not re-announced');
  assert.is(msgs[0]!.attrs.to, 'alice@example.org');
  assert.is(msgs[0]!.attrs.type, 'chat');
  assert.is(msgs[0]!.getChildText('body'), askOwnersText('bob@example.org'));
  assert.is(askOwnersText('bob@x'), 'bob@x asks to follow the gateway: reply `allow bob@x` or `deny bob@x`');
  assert.equal(presences(s.sent), [], 'no answer to bob while pending');
  assert.equal(s.access.pending().map((p) => p.jid), ['bob@example.org']);
  // the owner allows: approved and asked back
  await s.access.allow('bob@example.org', 'reader', 'alice@example.org');
  assert.equal(presences(s.sent), ['subscribed bob@example.org', 'subscribe bob@example.org']);
  // an explicitly denied stranger is refused without asking the owners again
  await s.access.deny('carol@example.org');
  s.sent.length = 0;
  await s.sub('carol@example.org');
  await tick();
  assert.equal(s.sent.filter((e) => e.name === 'message'), []);
  assert.equal(presences(s.sent), ['unsubscribed carol@example.org']);
});

t('revoke: unsubscribed + unsubscribe + roster remove for a contact on the roster', async () => {
  const s = setup();
  s.online();
  const get = s.iqs.shift()!;
  assert.is(get.req.getChild('query', NS_ROSTER)?.xmlns, NS_ROSTER);
  get.resolve(x('iq', { type: 'result' }, x('query', { xmlns: NS_ROSTER }, x('item', { jid: 'ann@readers.example', subscription: 'both' }))));
  await tick();
  s.sent.length = 0;
  await s.access.revoke('ann@readers.example', 'alice@example.org');
  assert.equal(presences(s.sent), ['unsubscribed ann@readers.example', 'unsubscribe ann@readers.example']);
  const rm = s.iqs.shift()!;
  assert.is(rm.req.attrs.type, 'set');
  const item = rm.req.getChild('query', NS_ROSTER)!.getChild('item')!;
  assert.equal({ jid: item.attrs.jid, subscription: item.attrs.subscription }, { jid: 'ann@readers.example', subscription: 'remove' });
  assert.not.ok(s.access.decide('ann@readers.example', 'read').allowed);
});

t('roster pushes: acknowledged from our account, refused from anyone else; a pre-approved owner is asked back', async () => {
  const s = setup();
  await s.router.dispatch(x('iq', { type: 'set', id: 'p1', from: 'mallory@example.org' }, x('query', { xmlns: NS_ROSTER }, x('item', { jid: 'alice@example.org', subscription: 'from' }))));
  assert.is(s.sent.at(-1)!.attrs.type, 'error');
  assert.ok(s.sent.at(-1)!.getChild('error')!.getChild('service-unavailable'));
  assert.equal(presences(s.sent), [], 'a forged push changes nothing');
  await s.router.dispatch(x('iq', { type: 'set', id: 'p2' }, x('query', { xmlns: NS_ROSTER }, x('item', { jid: 'alice@example.org', subscription: 'from', approved: 'true' }))));
  assert.equal({ type: s.sent.at(-1)!.attrs.type, id: s.sent.at(-1)!.attrs.id }, { type: 'result', id: 'p2' });
  assert.equal(presences(s.sent), ['subscribe alice@example.org']);
  // the same push again: not asked twice
  await s.router.dispatch(x('iq', { type: 'set', id: 'p3' }, x('query', { xmlns: NS_ROSTER }, x('item', { jid: 'alice@example.org', subscription: 'from' }))));
  assert.equal(presences(s.sent), ['subscribe alice@example.org']);
});

t('new session: roster fetched; owners pre-approved (server offers it) or subscribed to; followers no longer allowed cut; resumed: nothing', async () => {
  const pre = setup();
  pre.online({ features: x('features', null, x('sub', { xmlns: NS_PRE_APPROVAL })) });
  pre.iqs.shift()!.resolve(x('iq', { type: 'result' }, x('query', { xmlns: NS_ROSTER },
    x('item', { jid: 'gone@example.org', subscription: 'from' }),
    x('item', { jid: 'ctl@example.org', subscription: 'both' }))));
  await tick();
  assert.equal(presences(pre.sent), ['subscribed alice@example.org', 'unsubscribed gone@example.org']);

  const plain = setup();
  plain.online();
  plain.iqs.shift()!.resolve(x('iq', { type: 'result' }, x('query', { xmlns: NS_ROSTER }, x('item', { jid: 'alice@example.org', subscription: 'from', approved: 'true' }))));
  await tick();
  assert.equal(presences(plain.sent), ['subscribe alice@example.org']);

  const already = setup();
  already.online({ features: x('features', null, x('sub', { xmlns: NS_PRE_APPROVAL })) });
  already.iqs.shift()!.resolve(x('iq', { type: 'result' }, x('query', { xmlns: NS_ROSTER }, x('item', { jid: 'alice@example.org', subscription: 'both' }))));
  await tick();
  assert.equal(presences(already.sent), [], 'an owner who follows already: nothing');

  const resumed = setup();
  resumed.online({ resumed: true });
  assert.is(resumed.iqs.length, 0, 'no roster fetch after a resumption');
  assert.equal(resumed.sent, []);
});

t('unload: the change listener goes too', async () => {
  const s = setup();
  s.unload();
  await s.access.allow('bob@example.org');
  assert.equal(s.sent, []);
});

t.run();
