// PubSub watches without a socket: the subscribe and unsubscribe sent (XEP-0060 6.1.1, 6.2.1),
// event notifications (7.1.2.1, literal XML) delivered to every watcher with XEP-0323 payloads
// read into readings, refusals explained, and subscriptions renewed after a new session.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRemote, RemoteError, type RemoteItem } from '../../agent/iot/remote';
import { silentLogger } from '../../agent/log';
import { StanzaError } from '../../agent/session/stanza';
import type { Element } from '../../agent/xml/element';
import { parseXml } from '../pubsub/xml';
import { testContext, tick } from '../xep/_context';

const ME = 'gw@example.org';
const PEER = 'thing@example.org';
const NODE = 'urn:xiota:greenhouse';

function setup() {
  const t = testContext(ME);
  const remote = createRemote(t.ctx, { now: t.now, log: silentLogger });
  const passed: Element[] = [];
  t.router.on('message', (m) => { passed.push(m); return true; }, -100);
  const msg = (xml: string) => t.router.dispatch(parseXml(xml));
  const subscribed = (i: number, node = NODE, jid = PEER) => t.iqs[i]!.resolve(parseXml(
    `<iq type='result' from='${jid}' id='x'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscription node='${node}' jid='${ME}' subscription='subscribed'/></pubsub></iq>`));
  return { t, remote, passed, msg, subscribed };
}

const event = (node: string, id: string, payload: string, extra = '') => `<message from='${PEER}' to='${ME}/gw' type='headline'>
  <event xmlns='http://jabber.org/protocol/pubsub#event'><items node='${node}'><item id='${id}'>${payload}</item></items></event>${extra}</message>`;

const FIELDS = `<fields xmlns='urn:xmpp:iot:sensordata'><node nodeId='greenhouse'><timestamp value='2026-12-02T01:00:00.000Z'>
  <numeric name='temperature' momentary='true' automaticReadout='true' value='22.5' unit='°C'/>
  <numeric name='humidity' momentary='true' missing='true' error='true' unit='%'/></timestamp></node>
  <error nodeId='greenhouse' timestamp='2026-12-02T01:00:00.000Z' field='humidity'>sensor unplugged</error></fields>`;

test('watch: one subscribe to the bare JID for our bare JID; each event item delivered with its readings; other nodes pass on', async () => {
  const { t, remote, passed, msg, subscribed } = setup();
  const items: RemoteItem[] = [];
  const w = remote.watch(`${PEER}/some-resource`, NODE, (i) => items.push(i));
  assert.is(t.iqs.length, 1);
  assert.is(t.iqs[0]!.req.toString(), `<iq type="set" to="${PEER}"><pubsub xmlns="http://jabber.org/protocol/pubsub"><subscribe node="${NODE}" jid="${ME}"/></pubsub></iq>`);
  // The last published item may come before the result (send_last_published_item).
  await msg(event(NODE, 'a1', FIELDS, `<delay xmlns='urn:xmpp:delay' stamp='2026-12-02T00:59:00Z'/>`));
  subscribed(0);
  const unwatch = await w;
  await msg(event(NODE, 'a2', FIELDS));
  await msg(event('urn:xiota:other', 'b1', FIELDS));
  assert.equal(items.map((i) => [i.jid, i.node, i.id, i.timestamp]), [[PEER, NODE, 'a1', Date.parse('2026-12-02T01:00:00Z')], [PEER, NODE, 'a2', Date.parse('2026-12-02T01:00:00Z')]]);
  assert.equal(items[0]!.readings, [{ jid: PEER, thing: 'greenhouse', node: 'greenhouse', timestamp: Date.parse('2026-12-02T01:00:00Z'), values: [
    { field: 'temperature', type: 'numeric', flags: ['momentary', 'automaticReadout'], unit: '°C', value: 22.5 },
    { field: 'humidity', type: 'numeric', flags: ['momentary', 'missing', 'error'], unit: '%', error: 'sensor unplugged' },
  ] }]);
  assert.match(items[0]!.xml, /^<fields xmlns="urn:xmpp:iot:sensordata"><node nodeId="greenhouse">/);
  assert.is(passed.length, 1, 'the unwatched node went to the other modules');
  const gone = unwatch();
  t.iqs[1]!.resolve(parseXml(`<iq type='result' from='${PEER}' id='u'/>`));
  await gone;
  assert.is(t.iqs[1]!.req.toString(), `<iq type="set" to="${PEER}"><pubsub xmlns="http://jabber.org/protocol/pubsub"><unsubscribe node="${NODE}" jid="${ME}"/></pubsub></iq>`);
  await msg(event(NODE, 'a3', FIELDS));
  assert.is(items.length, 2);
  assert.is(passed.length, 2);
});

test('a non-sensor payload: no readings, the XML, the delay stamp as timestamp', async () => {
  const { remote, msg, subscribed } = setup();
  const items: RemoteItem[] = [];
  const w = remote.watch(PEER, 'urn:xmpp:microblog:0', (i) => items.push(i));
  subscribed(0, 'urn:xmpp:microblog:0');
  await w;
  await msg(event('urn:xmpp:microblog:0', 'p1', `<entry xmlns='http://www.w3.org/2005/Atom'><title>hi &amp; bye</title></entry>`, `<delay xmlns='urn:xmpp:delay' stamp='2026-12-01T10:00:00Z'/>`));
  assert.equal(items, [{ jid: PEER, node: 'urn:xmpp:microblog:0', id: 'p1', timestamp: Date.parse('2026-12-01T10:00:00Z'), xml: '<entry xmlns="http://www.w3.org/2005/Atom"><title>hi &amp; bye</title></entry>' }]);
});

test('watchers of one node share one subscription; it ends with the last of them; unwatch twice is harmless', async () => {
  const { t, remote, msg, subscribed } = setup();
  const a: string[] = [];
  const b: string[] = [];
  const wa = remote.watch(PEER, NODE, (i) => a.push(i.id));
  const wb = remote.watch(PEER, NODE, (i) => b.push(i.id));
  assert.is(t.iqs.length, 1);
  subscribed(0);
  const [ua, ub] = await Promise.all([wa, wb]);
  await msg(event(NODE, '1', FIELDS));
  await ua();
  await ua();
  await msg(event(NODE, '2', FIELDS));
  assert.equal([a, b], [['1'], ['1', '2']]);
  assert.is(t.iqs.length, 1, 'no unsubscribe while a watcher is left');
  const gone = ub();
  assert.is(t.iqs.length, 2);
  t.iqs[1]!.reject(StanzaError.fromStanza(parseXml(`<iq type='error' from='${PEER}' id='u'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`)));
  await gone; // an unsubscribe the server refuses (node gone) is no caller's problem
  assert.ok(t.iqs[1]!.req.toString().includes('<unsubscribe'));
  // A new watch after that subscribes again.
  void remote.watch(PEER, NODE, () => {});
  assert.ok(t.iqs[2]!.req.toString().includes('<subscribe'));
});

test('refused for want of a presence subscription (XEP-0060 6.1.3.2): RemoteError says what to do; nothing is left behind', async () => {
  const { t, remote } = setup();
  const w = remote.watch(PEER, NODE, () => {});
  t.iqs[0]!.reject(StanzaError.fromStanza(parseXml(`<iq type='error' from='${PEER}' id='x'><error type='auth'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><presence-subscription-required xmlns='http://jabber.org/protocol/pubsub#errors'/></error></iq>`)));
  let err: unknown;
  await w.catch((e: unknown) => { err = e; });
  assert.instance(err, RemoteError);
  const e = err as RemoteError;
  assert.equal([e.code, e.condition, e.detail.pubsubCondition, e.detail.stage], ['XIOTA_E_REMOTE', 'not-authorized', 'presence-subscription-required', 'subscribe']);
  assert.match(e.message, `have ${ME} send ${PEER} a presence subscription request and ${PEER} approve it`);
  // Prosody's PEP answers a bare forbidden: for an account's PEP that is the same advice.
  const w2 = remote.watch(PEER, NODE, () => {});
  assert.is(t.iqs.length, 2, 'the failed watch was forgotten, so this one subscribes again');
  t.iqs[1]!.reject(StanzaError.fromStanza(parseXml(`<iq type='error' from='${PEER}' id='y'><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`)));
  await w2.catch((e2: unknown) => { err = e2; });
  assert.match((err as Error).message, 'presence subscription request');
  const w3 = remote.watch('pubsub.example.org', 'nope', () => {});
  t.iqs[2]!.reject(StanzaError.fromStanza(parseXml(`<iq type='error' from='pubsub.example.org' id='z'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`)));
  await w3.catch((e3: unknown) => { err = e3; });
  assert.match((err as Error).message, 'pubsub.example.org refused to subscribe gw@example.org to node nope (item-not-found): there is no such node');
  let bad: unknown;
  await remote.watch(PEER, '', () => {}).catch((x: unknown) => { bad = x; });
  assert.is((bad as RemoteError).code, 'XIOTA_E_INVALID');
});

test('a new session (not a resumed one) renews every confirmed subscription', async () => {
  const { t, remote, subscribed } = setup();
  const w1 = remote.watch(PEER, NODE, () => {});
  const w2 = remote.watch('pubsub.example.org', 'weather', () => {});
  subscribed(0);
  subscribed(1, 'weather', 'pubsub.example.org');
  await Promise.all([w1, w2]);
  t.online({ resumed: true });
  assert.is(t.iqs.length, 2);
  t.online({ resumed: false });
  await tick();
  assert.equal(t.iqs.slice(2).map((p) => `${p.req.attrs.to} ${p.req.toString().includes('<subscribe') ? 'subscribe' : '?'}`), [`${PEER} subscribe`, 'pubsub.example.org subscribe']);
  // Offline: a watcher joins a confirmed subscription, a new one is refused at once.
  t.offline();
  const joined = await remote.watch(PEER, NODE, () => {});
  assert.type(joined, 'function');
  let err: unknown;
  await remote.watch(PEER, 'urn:xiota:other', () => {}).catch((e: unknown) => { err = e; });
  assert.is((err as RemoteError).code, 'XIOTA_E_DISCONNECTED');
  assert.is(t.iqs.length, 4, 'nothing sent for it');
});

test.run();
