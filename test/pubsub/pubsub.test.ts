import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { x } from '../../agent/xml/element';
import {
  publishIq, createNodeIq, configureNodeIq, getNodeConfigIq, subscribeIq, itemsIq, deleteNodeIq,
  parseItems, parsePubSubEvent, parseNodeConfig, classifyPublishError, nodeConfigFields,
} from '../../agent/xep/pubsub';
import { parseXml, canon } from './xml';

// The examples below are XEP-0060's own, with `from`/`id` dropped (the session adds them)
// and the iq namespace-less as the session sends it.

test('publishIq with publish-options = XEP-0060 7.1.5 example', () => {
  const expected = parseXml(`
<iq type='set' to='pubsub.shakespeare.lit' id='pub1'>
  <pubsub xmlns='http://jabber.org/protocol/pubsub'>
    <publish node='princely_musings'>
      <item id='ae890ac52d0df67ed7cfdf51b644e901'>
        <entry xmlns='http://www.w3.org/2005/Atom'><title>Soliloquy</title></entry>
      </item>
    </publish>
    <publish-options>
      <x xmlns='jabber:x:data' type='submit'>
        <field var='FORM_TYPE' type='hidden'>
          <value>http://jabber.org/protocol/pubsub#publish-options</value>
        </field>
        <field var='pubsub#access_model'>
          <value>presence</value>
        </field>
      </x>
    </publish-options>
  </pubsub>
</iq>`);
  const got = publishIq({
    service: 'pubsub.shakespeare.lit', node: 'princely_musings', itemId: 'ae890ac52d0df67ed7cfdf51b644e901',
    payload: x('entry', { xmlns: 'http://www.w3.org/2005/Atom' }, x('title', null, 'Soliloquy')),
    publishOptions: { accessModel: 'presence' },
  });
  assert.is(got.toString(), canon(expected));
});

test('publishIq for PEP has no to, and no publish-options without options', () => {
  const got = publishIq({ node: 'n', itemId: 'i', payload: x('p', { xmlns: 'urn:x' }) });
  assert.is(got.toString(), '<iq type="set"><pubsub xmlns="http://jabber.org/protocol/pubsub"><publish node="n"><item id="i"><p xmlns="urn:x"/></item></publish></pubsub></iq>');
  // An empty options object sends no empty form either.
  assert.not.ok(publishIq({ node: 'n', itemId: 'i', payload: x('p', { xmlns: 'urn:x' }), publishOptions: {} }).toString().includes('publish-options'));
});

test('nodeConfigFields maps every option in order', () => {
  assert.equal(nodeConfigFields({ maxItems: 'max', persistItems: true, accessModel: 'open', sendLastPublishedItem: 'on_sub_and_presence', notifyRetract: false, title: 'T' }), [
    ['pubsub#max_items', 'max'], ['pubsub#persist_items', '1'], ['pubsub#access_model', 'open'],
    ['pubsub#send_last_published_item', 'on_sub_and_presence'], ['pubsub#notify_retract', '0'], ['pubsub#title', 'T'],
  ]);
});

test('createNodeIq = XEP-0060 8.1.3 create-and-configure (subset of fields)', () => {
  const expected = parseXml(`
<iq type='set' to='pubsub.shakespeare.lit' id='create1'>
  <pubsub xmlns='http://jabber.org/protocol/pubsub'>
    <create node='princely_musings'/>
    <configure>
      <x xmlns='jabber:x:data' type='submit'>
        <field var='FORM_TYPE' type='hidden'>
          <value>http://jabber.org/protocol/pubsub#node_config</value>
        </field>
        <field var='pubsub#max_items'><value>10</value></field>
        <field var='pubsub#persist_items'><value>1</value></field>
        <field var='pubsub#access_model'><value>open</value></field>
        <field var='pubsub#send_last_published_item'><value>never</value></field>
        <field var='pubsub#title'><value>Princely Musings (Atom)</value></field>
      </x>
    </configure>
  </pubsub>
</iq>`);
  const got = createNodeIq('pubsub.shakespeare.lit', 'princely_musings', {
    maxItems: 10, persistItems: true, accessModel: 'open', sendLastPublishedItem: 'never', title: 'Princely Musings (Atom)',
  });
  assert.is(got.toString(), canon(expected));
  assert.is(createNodeIq(undefined, 'n').toString(), '<iq type="set"><pubsub xmlns="http://jabber.org/protocol/pubsub"><create node="n"/></pubsub></iq>');
});

test('configureNodeIq = XEP-0060 8.2.4 submit (owner namespace)', () => {
  const expected = parseXml(`
<iq type='set' to='pubsub.shakespeare.lit' id='config2'>
  <pubsub xmlns='http://jabber.org/protocol/pubsub#owner'>
    <configure node='princely_musings'>
      <x xmlns='jabber:x:data' type='submit'>
        <field var='FORM_TYPE' type='hidden'>
          <value>http://jabber.org/protocol/pubsub#node_config</value>
        </field>
        <field var='pubsub#max_items'><value>10</value></field>
        <field var='pubsub#persist_items'><value>1</value></field>
        <field var='pubsub#access_model'><value>roster</value></field>
        <field var='pubsub#send_last_published_item'><value>never</value></field>
        <field var='pubsub#notify_retract'><value>0</value></field>
      </x>
    </configure>
  </pubsub>
</iq>`);
  const got = configureNodeIq('pubsub.shakespeare.lit', 'princely_musings', {
    maxItems: 10, persistItems: true, accessModel: 'roster', sendLastPublishedItem: 'never', notifyRetract: false,
  });
  assert.is(got.toString(), canon(expected));
});

test('getNodeConfigIq, subscribeIq, itemsIq, deleteNodeIq = XEP-0060 8.2.1, 6.1.1, 6.5.7, 8.4.1', () => {
  assert.is(getNodeConfigIq('pubsub.shakespeare.lit', 'princely_musings').toString(), canon(parseXml(`
<iq type='get' to='pubsub.shakespeare.lit' id='config1'>
  <pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='princely_musings'/></pubsub>
</iq>`)));
  assert.is(subscribeIq('pubsub.shakespeare.lit', 'princely_musings', 'francisco@denmark.lit').toString(), canon(parseXml(`
<iq type='set' from='francisco@denmark.lit/barracks' to='pubsub.shakespeare.lit' id='sub1'>
  <pubsub xmlns='http://jabber.org/protocol/pubsub'>
    <subscribe node='princely_musings' jid='francisco@denmark.lit'/>
  </pubsub>
</iq>`)));
  assert.is(itemsIq('pubsub.shakespeare.lit', 'princely_musings', 2).toString(), canon(parseXml(`
<iq type='get' from='francisco@denmark.lit/barracks' to='pubsub.shakespeare.lit' id='items2'>
  <pubsub xmlns='http://jabber.org/protocol/pubsub'>
    <items node='princely_musings' max_items='2'/>
  </pubsub>
</iq>`)));
  assert.not.ok(itemsIq(undefined, 'n').toString().includes('max_items'));
  assert.is(deleteNodeIq('pubsub.shakespeare.lit', 'princely_musings').toString(), canon(parseXml(`
<iq type='set' to='pubsub.shakespeare.lit' id='delete1'>
  <pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='princely_musings'/></pubsub>
</iq>`)));
});

const EVENT = `
<message from='pubsub.shakespeare.lit' to='francisco@denmark.lit' id='foo'>
  <event xmlns='http://jabber.org/protocol/pubsub#event'>
    <items node='princely_musings'>
      <item id='ae890ac52d0df67ed7cfdf51b644e901'>
        <entry xmlns='http://www.w3.org/2005/Atom'><title>Soliloquy</title></entry>
      </item>
      <retract id='old1'/>
    </items>
  </event>
</message>`;

test('parsePubSubEvent reads XEP-0060 7.1.2.1 notifications with retracts', () => {
  const ev = parsePubSubEvent(parseXml(EVENT))!;
  assert.is(ev.service, 'pubsub.shakespeare.lit');
  assert.is(ev.node, 'princely_musings');
  assert.is(ev.items.length, 1);
  assert.is(ev.items[0]!.id, 'ae890ac52d0df67ed7cfdf51b644e901');
  assert.is(ev.items[0]!.payload!.name, 'entry');
  assert.is(ev.items[0]!.payload!.getChildText('title'), 'Soliloquy');
  assert.equal(ev.retracts, ['old1']);
});

test('parsePubSubEvent ignores other messages', () => {
  assert.is(parsePubSubEvent(parseXml(`<message from='a@b'><body>hi</body></message>`)), undefined);
  assert.is(parsePubSubEvent(parseXml(`<iq type='result'/>`)), undefined);
  // XEP-0060 8.4.3 delete notification has no <items>: not an item event.
  assert.is(parsePubSubEvent(parseXml(`<message><event xmlns='http://jabber.org/protocol/pubsub#event'><delete node='n'/></event></message>`)), undefined);
});

test('parseItems reads an items result (XEP-0060 6.5.3) and an event', () => {
  const res = parseXml(`
<iq type='result' from='pubsub.shakespeare.lit' id='items1'>
  <pubsub xmlns='http://jabber.org/protocol/pubsub'>
    <items node='princely_musings'>
      <item id='368866411b877c30064a5f62b917cffe'><entry xmlns='http://www.w3.org/2005/Atom'/></item>
      <item id='3300659945416e274474e469a1f0154c' publisher='hamlet@denmark.lit'><entry xmlns='http://www.w3.org/2005/Atom'/></item>
    </items>
  </pubsub>
</iq>`);
  const items = parseItems(res);
  assert.equal(items.map((i) => i.id), ['368866411b877c30064a5f62b917cffe', '3300659945416e274474e469a1f0154c']);
  assert.is(items[1]!.publisher, 'hamlet@denmark.lit');
  assert.is(items[0]!.payload!.xmlns, 'http://www.w3.org/2005/Atom');
  assert.is(parseItems(parseXml(EVENT)).length, 1);
  assert.equal(parseItems(parseXml(`<iq type='result'/>`)), []);
});

test('parseNodeConfig reads the form fields', () => {
  const cfg = parseNodeConfig(parseXml(`
<iq type='result'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='n'>
  <x xmlns='jabber:x:data' type='form'>
    <field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field>
    <field var='pubsub#max_items'><value>10</value></field>
    <field var='pubsub#roster_groups_allowed'><value>a</value><value>b</value></field>
  </x></configure></pubsub></iq>`));
  assert.equal(cfg.get('pubsub#max_items'), ['10']);
  assert.equal(cfg.get('pubsub#roster_groups_allowed'), ['a', 'b']);
});

const errIq = (inner: string) => parseXml(`<iq type='error' from='pubsub.x' id='p1'><error type='cancel'>${inner}</error></iq>`);

test('classifyPublishError: XEP-0060 7.1.5 precondition-not-met and the other kinds', () => {
  const pre = classifyPublishError(errIq(`<conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><precondition-not-met xmlns='http://jabber.org/protocol/pubsub#errors'/>`));
  assert.is(pre.kind, 'precondition-not-met');
  assert.is(pre.condition, 'conflict');
  assert.is(pre.message, 'conflict/precondition-not-met (from pubsub.x)');
  const cases: [string, string][] = [
    ['item-not-found', 'item-not-found'], ['forbidden', 'forbidden'], ['not-allowed', 'not-allowed'],
    ['policy-violation', 'policy-violation'], ['resource-constraint', 'resource-constraint'],
    ['conflict', 'other'], ['bad-request', 'other'],
  ];
  for (const [cond, kind] of cases) {
    assert.is(classifyPublishError(errIq(`<${cond} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>`)).kind, kind, cond);
  }
  const withText = classifyPublishError(errIq(`<forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>only admins</text>`));
  assert.is(withText.text, 'only admins');
  assert.ok(withText.message.includes('only admins'));
  assert.is(classifyPublishError(parseXml(`<iq type='error'/>`)).kind, 'other');
});

test.run();
