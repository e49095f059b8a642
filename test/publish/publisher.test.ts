// NodePublisher's decision paths with a scripted iq: the answers are XEP-0060's error shapes.
// The same paths run against every real server in test/pubsub/pep.matrix.test.ts; these cover
// each answer shape on its own, ejabberd 23.01's refusal of publish-options among them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Element, x } from '../../agent/xml/element';
import { isXiotaError } from '../../agent/errors';
import { NodePublisher, ServiceProfile, errorStanzaOf, type IqSender } from '../../agent/publish/publisher';
import { classifyPublishError, NS_PUBSUB, NS_PUBSUB_OWNER, publishOptionsRefusal } from '../../agent/xep/pubsub';
import { parseXml } from '../pubsub/xml';

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
  if (req.getChild('query', 'http://jabber.org/protocol/disco#info')) return 'disco';
  return 'other';
}

/** A disco#info result listing `features` (undefined: a result without a query, nothing learnt). */
function discoResult(features?: string[]): Element {
  if (!features) return x('iq', { type: 'result' });
  return x('iq', { type: 'result' }, x('query', { xmlns: 'http://jabber.org/protocol/disco#info' },
    x('identity', { category: 'pubsub', type: 'pep' }), ...features.map((f) => x('feature', { var: f }))));
}

function scripted(answers: ((req: Element) => Error | undefined)[], disco?: string[]): { iq: IqSender; log: string[] } {
  const log: string[] = [];
  const iq: IqSender = async (req) => {
    log.push(kind(req));
    if (kind(req) === 'disco') return discoResult(disco);
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
  assert.equal(s.log, ['disco', 'publish+opts', 'create+config', 'publish']);
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
  assert.equal(s.log, ['disco', 'publish+opts', 'create+config', 'configure', 'publish']);
});

test('configure refused (not owner): clear message', async () => {
  const s = scripted([fail('conflict', 'precondition-not-met'), fail('forbidden')]);
  const p = new NodePublisher({ iq: s.iq, config: { accessModel: 'open' } });
  const e = await p.publish('n', 'a', payload()).catch((err: unknown) => err);
  assert.ok(isXiotaError(e, 'XIOTA_E_PUBSUB'));
  assert.match(e.message, 'may not reconfigure it');
});

test('publish-options not supported (feature-not-implemented): configure, publish plain, remembered', async () => {
  const s = scripted([fail('feature-not-implemented'), ok, ok, ok, ok]);
  const profile = new ServiceProfile();
  const p = new NodePublisher({ iq: s.iq, config: { maxItems: 3 }, profile });
  await p.publish('n', 'a', payload());
  assert.equal(s.log, ['publish+opts', 'configure', 'publish']);
  assert.is(p.lastSetupPath, 'configure');
  assert.is(profile.acceptsPublishOptions, false);
  // Another node on the same service does not pay for the probe again.
  await p.publish('m', 'b', payload());
  assert.equal(s.log.slice(3), ['configure', 'publish']);
});

test('a ready node that vanished is set up again', async () => {
  const s = scripted([ok, fail('item-not-found'), fail('item-not-found'), ok, ok]);
  const p = new NodePublisher({ iq: s.iq, service: 'pubsub.example', config: { maxItems: 5 } });
  await p.publish('n', 'a', payload());
  await p.publish('n', 'b', payload());
  assert.equal(s.log, ['disco', 'publish+opts', 'publish', 'publish+opts', 'create+config', 'publish']);
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

// ejabberd 23.01's answer to a PEP publish with publish-options, as it sent it (issue 7).
const EJABBERD_REFUSAL = `<iq type='error' xmlns='jabber:client' from='dev@xiota.test'>
  <error code='500' type='wait'>
    <resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>
    <text xml:lang='en' xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>Unknown field 'pubsub#max_items' of type 'http://jabber.org/protocol/pubsub#publish-options'</text>
  </error>
</iq>`;
const ejabberdRefusal = () => Object.assign(new Error('resource-constraint'), { stanza: parseXml(EJABBERD_REFUSAL) });

test('publishOptionsRefusal names the field ejabberd names, and leaves real errors alone', () => {
  assert.is(publishOptionsRefusal(classifyPublishError(parseXml(EJABBERD_REFUSAL))), 'max_items');
  const err = (cond: string, ps?: string, text?: string) => classifyPublishError(x('iq', { type: 'error' },
    x('error', { type: 'cancel' }, x(cond, { xmlns: STANZAS }), ps ? x(ps, { xmlns: ERRORS }) : null, text ? x('text', { xmlns: STANZAS }, text) : null)));
  assert.is(publishOptionsRefusal(err('not-acceptable')), '');
  assert.is(publishOptionsRefusal(err('bad-request', 'invalid-options')), '');
  assert.is(publishOptionsRefusal(err('feature-not-implemented', 'unsupported')), '');
  assert.is(publishOptionsRefusal(err('conflict', 'precondition-not-met')), undefined);
  assert.is(publishOptionsRefusal(err('item-not-found')), undefined);
  assert.is(publishOptionsRefusal(err('forbidden')), undefined);
  assert.is(publishOptionsRefusal(err('policy-violation')), undefined);
});

test('ejabberd: publish-options refused -> configure (item-not-found) -> create+config -> publish; remembered; said once and truly', async () => {
  const lines: string[] = [];
  const log = { debug() {}, info(m: string) { lines.push(m); }, warn(m: string) { lines.push('WARN ' + m); }, error(m: string) { lines.push('ERROR ' + m); }, child() { return log; } };
  const s = scripted([ejabberdRefusal, fail('item-not-found'), ok, ok, /* second node */ fail('item-not-found'), ok, ok],
    ['http://jabber.org/protocol/pubsub#publish-options', 'http://jabber.org/protocol/pubsub#create-and-configure', 'http://jabber.org/protocol/pubsub#config-node']);
  const profile = new ServiceProfile();
  const p = new NodePublisher({ iq: s.iq, config: { maxItems: 10, accessModel: 'presence' }, profile, accountJid: 'dev@xiota.test', log });
  await p.publish('urn:xiota:thing:a', '1', payload());
  assert.equal(s.log, ['disco', 'publish+opts', 'configure', 'create+config', 'publish']);
  assert.is(p.lastSetupPath, 'create');
  assert.is(profile.acceptsPublishOptions, false);
  assert.equal(lines.filter((l) => l.includes('publish-options')).length, 1);
  assert.match(lines.join('\n'), 'does not accept publish-options for max_items');
  assert.match(lines.join('\n'), 'configured the node instead');
  assert.not.match(lines.join('\n'), 'out of resources');
  // A second thing on the same service: no disco, no publish-options probe.
  const p2 = new NodePublisher({ iq: s.iq, config: { maxItems: 10, accessModel: 'presence' }, profile, accountJid: 'dev@xiota.test', log });
  await p2.publish('urn:xiota:thing:b', '2', payload());
  assert.equal(s.log.slice(5), ['configure', 'create+config', 'publish']);
  assert.equal(lines.filter((l) => l.includes('publish-options')).length, 1);
});

test("a refused config value is named with the server limits (ejabberd: Bad value of field 'pubsub#max_items')", async () => {
  const bad = () => Object.assign(new Error('rc'), { stanza: parseXml(`<iq type='error' from='dev@xiota.test'><error type='wait'>
    <resource-constraint xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>
    <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>Bad value of field 'pubsub#max_items' of type 'http://jabber.org/protocol/pubsub#node_config'</text>
  </error></iq>`) });
  const s = scripted([ejabberdRefusal, bad]);
  const p = new NodePublisher({ iq: s.iq, config: { maxItems: 5000 } });
  const e = await p.publish('n', 'a', payload()).catch((err: unknown) => err);
  assert.ok(isXiotaError(e, 'XIOTA_E_PUBSUB'));
  assert.match(e.message, 'does not take max_items=5000');
  assert.match(e.message, 'max_items_node');
  assert.match(e.message, 'pubsub.max_items');
});

test('a genuinely full node still says so: the explicit path fails with resource-constraint, nothing remembered', async () => {
  const s = scripted([fail('resource-constraint'), ok, fail('resource-constraint')]);
  const profile = new ServiceProfile();
  const p = new NodePublisher({ iq: s.iq, config: { maxItems: 10 }, profile });
  const e = await p.publish('n', 'a', payload()).catch((err: unknown) => err);
  assert.equal(s.log, ['publish+opts', 'configure', 'publish']);
  assert.ok(isXiotaError(e, 'XIOTA_E_PUBSUB'));
  assert.match(e.message, 'out of resources');
  assert.is(profile.acceptsPublishOptions, undefined);
  assert.not.ok(p.isReady('n'));
});

test('disco lists no publish-options: no probe, the node is configured explicitly and the log says why', async () => {
  const lines: string[] = [];
  const log = { debug() {}, info(m: string) { lines.push(m); }, warn() {}, error() {}, child() { return log; } };
  const s = scripted([ok, ok], ['http://jabber.org/protocol/pubsub#config-node']);
  const p = new NodePublisher({ iq: s.iq, service: 'pubsub.example', config: { maxItems: 5 }, log });
  await p.publish('n', 'a', payload());
  assert.equal(s.log, ['disco', 'configure', 'publish']);
  assert.match(lines.join('\n'), 'does not advertise publish-options');
});

test('no create-and-configure advertised: create bare, then configure', async () => {
  const s = scripted([fail('item-not-found'), ok, ok, ok], ['http://jabber.org/protocol/pubsub#config-node', 'http://jabber.org/protocol/pubsub#create-nodes']);
  const p = new NodePublisher({ iq: s.iq, service: 'pubsub.example', config: { maxItems: 5 } });
  await p.publish('n', 'a', payload());
  assert.equal(s.log, ['disco', 'configure', 'create', 'configure', 'publish']);
});

test('disco is asked once per service even with concurrent first publishes to different nodes', async () => {
  const s = scripted([ok, ok], ['http://jabber.org/protocol/pubsub#publish-options']);
  const profile = new ServiceProfile();
  const a = new NodePublisher({ iq: s.iq, service: 'ps.example', config: { maxItems: 5 }, profile });
  const b = new NodePublisher({ iq: s.iq, service: 'ps.example', config: { maxItems: 6 }, profile });
  await Promise.all([a.publish('n1', '1', payload()), b.publish('n2', '2', payload())]);
  assert.equal(s.log, ['disco', 'publish+opts', 'publish+opts']);
});

test.run();
