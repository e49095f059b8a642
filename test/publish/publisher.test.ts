// NodePublisher's decision paths with a scripted iq: the answers are XEP-0060's error shapes.
// The same paths run against a real Prosody in test/pubsub/prosody-pep.test.ts; these cover
// the answers Prosody does not give (admin-only create, no publish-options support...).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Element, x } from '../../agent/xml/element';
import { isXiotaError } from '../../agent/errors';
import { NodePublisher, errorStanzaOf, type IqSender } from '../../agent/publish/publisher';
import { NS_PUBSUB, NS_PUBSUB_OWNER } from '../../agent/xep/pubsub';

const STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const ERRORS = 'http://jabber.org/protocol/pubsub#errors';

function stanzaError(cond: string, pubsubCond?: string): Error & { stanza: Element } {
  const err = x('error', { type: 'cancel' }, x(cond, { xmlns: STANZAS }), pubsubCond ? x(pubsubCond, { xmlns: ERRORS }) : null);
  return Object.assign(new Error(cond), { stanza: x('iq', { type: 'error', from: 'pubsub.example' }, err) });
}

/** What a request is, in a word: publish+opts, publish, create, configure. */
function kind(req: Element): string {
  const ps = req.getChild('pubsub', NS_PUBSUB);
  if (ps?.getChild('publish')) return ps.getChild('publish-options') ? 'publish+opts' : 'publish';
  if (ps?.getChild('create')) return ps.getChild('configure') ? 'create+config' : 'create';
  if (req.getChild('pubsub', NS_PUBSUB_OWNER)?.getChild('configure')) return 'configure';
  return 'other';
}

function scripted(answers: ((req: Element) => Error | undefined)[]): { iq: IqSender; log: string[] } {
  const log: string[] = [];
  const iq: IqSender = async (req) => {
    log.push(kind(req));
    const next = answers.shift();
    const e = next ? next(req) : undefined;
    if (e) throw e;
    return x('iq', { type: 'result' });
  };
  return { iq, log };
}
const ok = () => undefined;
const fail = (c: string, p?: string) => () => stanzaError(c, p);
const payload = () => x('fields', { xmlns: 'urn:xmpp:iot:sensordata' });

test('publish-options accepted: one round trip, then plain publishes', async () => {
  const s = scripted([ok, ok]);
  const p = new NodePublisher({ iq: s.iq, config: { maxItems: 10 } });
  await p.publish('n', 'a', payload());
  assert.ok(p.isReady('n'));
  assert.is(p.lastSetupPath, 'publish-options');
  await p.publish('n', 'b', payload());
  assert.equal(s.log, ['publish+opts', 'publish']);
});

test('precondition-not-met: configure, then publish plain', async () => {
  const s = scripted([fail('conflict', 'precondition-not-met'), ok, ok]);
  const p = new NodePublisher({ iq: s.iq, config: { maxItems: 10 } });
  await p.publish('n', 'a', payload());
  assert.equal(s.log, ['publish+opts', 'configure', 'publish']);
  assert.is(p.lastSetupPath, 'configure');
});

test('item-not-found on a service: create with config, then publish', async () => {
  const s = scripted([fail('item-not-found'), ok, ok]);
  const p = new NodePublisher({ iq: s.iq, service: 'pubsub.example', config: { maxItems: 10 } });
  await p.publish('n', 'a', payload());
  assert.equal(s.log, ['publish+opts', 'create+config', 'publish']);
});

test('admin-only create: XIOTA_E_PUBSUB says to create the node or use PEP', async () => {
  const s = scripted([fail('item-not-found'), fail('forbidden')]);
  const p = new NodePublisher({ iq: s.iq, service: 'pubsub.example', config: {} });
  try {
    await p.publish('sensors/t1', 'a', payload());
    assert.unreachable('should fail');
  } catch (e) {
    assert.ok(isXiotaError(e, 'XIOTA_E_PUBSUB'));
    assert.match(e.message, 'pubsub.example lets only its admins create nodes');
    assert.match(e.message, 'create node sensors/t1');
    assert.match(e.message, 'use PEP');
    assert.is(e.detail.node, 'sensors/t1');
    assert.is(e.detail.condition, 'forbidden');
  }
  assert.not.ok(p.isReady('sensors/t1'));
});

test('forbidden first publish to a service (Prosody component, non-admin): says create it or use PEP', async () => {
  const s = scripted([fail('forbidden')]);
  const p = new NodePublisher({ iq: s.iq, service: 'pubsub.example', config: { maxItems: 1 } });
  const e = await p.publish('n', 'a', payload()).catch((err: unknown) => err);
  assert.ok(isXiotaError(e, 'XIOTA_E_PUBSUB'));
  assert.match(e.message, 'lets only its admins create nodes');
  assert.match(e.message, 'use PEP');
});

test('create conflict (created meanwhile): configure and publish', async () => {
  const s = scripted([fail('item-not-found'), fail('conflict'), ok, ok]);
  const p = new NodePublisher({ iq: s.iq, service: 'pubsub.example', config: { persistItems: true } });
  await p.publish('n', 'a', payload());
  assert.equal(s.log, ['publish+opts', 'create+config', 'configure', 'publish']);
});

test('configure refused (not owner): clear message', async () => {
  const s = scripted([fail('conflict', 'precondition-not-met'), fail('forbidden')]);
  const p = new NodePublisher({ iq: s.iq, config: { accessModel: 'open' } });
  const e = await p.publish('n', 'a', payload()).catch((err: unknown) => err);
  assert.ok(isXiotaError(e, 'XIOTA_E_PUBSUB'));
  assert.match(e.message, 'may not reconfigure it');
});

test('publish-options not supported: publish plain then configure', async () => {
  const s = scripted([fail('feature-not-implemented'), ok, ok]);
  const p = new NodePublisher({ iq: s.iq, config: { maxItems: 3 } });
  await p.publish('n', 'a', payload());
  assert.equal(s.log, ['publish+opts', 'publish', 'configure']);
  assert.is(p.lastSetupPath, 'plain-then-configure');
});

test('a ready node that vanished is set up again', async () => {
  const s = scripted([ok, fail('item-not-found'), fail('item-not-found'), ok, ok]);
  const p = new NodePublisher({ iq: s.iq, service: 'pubsub.example', config: { maxItems: 5 } });
  await p.publish('n', 'a', payload());
  await p.publish('n', 'b', payload());
  assert.equal(s.log, ['publish+opts', 'publish', 'publish+opts', 'create+config', 'publish']);
});

test('forget() makes the next publish carry options again', async () => {
  const s = scripted([ok, ok]);
  const p = new NodePublisher({ iq: s.iq, config: { maxItems: 1 } });
  await p.publish('n', 'a', payload());
  p.forget();
  await p.publish('n', 'b', payload());
  assert.equal(s.log, ['publish+opts', 'publish+opts']);
});

test('transport failures pass through untouched and the node stays unready', async () => {
  const timeout = Object.assign(new Error('no reply'), { code: 'XIOTA_E_TIMEOUT' });
  const p = new NodePublisher({ iq: async () => { throw timeout; }, config: {} });
  const e = await p.publish('n', 'a', payload()).catch((err: unknown) => err);
  assert.is(e, timeout);
  assert.not.ok(p.isReady('n'));
});

test('concurrent first publishes: one setup, the rest wait and go plain', async () => {
  const s = scripted([fail('conflict', 'precondition-not-met'), ok, ok, ok, ok]);
  const p = new NodePublisher({ iq: s.iq, config: { maxItems: 2 } });
  await Promise.all([p.publish('n', 'a', payload()), p.publish('n', 'b', payload()), p.publish('n', 'c', payload())]);
  assert.equal(s.log, ['publish+opts', 'configure', 'publish', 'publish', 'publish']);
});

test('errorStanzaOf reads .stanza and .detail.stanza', () => {
  const st = x('iq', { type: 'error' });
  assert.is(errorStanzaOf({ stanza: st }), st);
  assert.is(errorStanzaOf({ detail: { stanza: st } }), st);
  assert.is(errorStanzaOf(new Error('x')), undefined);
  assert.is(errorStanzaOf(null), undefined);
});

test('other publish errors name the node and the service', async () => {
  const s = scripted([fail('policy-violation')]);
  const p = new NodePublisher({ iq: s.iq, service: 'pubsub.example', config: {} });
  const e = await p.publish('n', 'a', payload()).catch((err: unknown) => err);
  assert.ok(isXiotaError(e, 'XIOTA_E_PUBSUB'));
  assert.match(e.message, 'could not publish to node n');
  assert.match(e.message, 'pubsub.example refused the item by policy');
});

test.run();
