import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { x, Element, escapeText } from '../../agent/xml/element';

test('serializes namespaces only where they change', () => {
  const iq = x('iq', { type: 'get', id: 'a1', xmlns: 'jabber:client' }, x('ping', { xmlns: 'urn:xmpp:ping' }));
  assert.is(iq.toString(), '<iq xmlns="jabber:client" type="get" id="a1"><ping xmlns="urn:xmpp:ping"/></iq>');
});

test('children inherit the parent namespace', () => {
  const q = new Element('query', 'jabber:iq:version');
  q.c('name').t('xiota');
  assert.is(q.getChild('name')?.xmlns, 'jabber:iq:version');
  assert.is(q.toString(), '<query xmlns="jabber:iq:version"><name>xiota</name></query>');
});

test('escapes text and attributes and strips characters XML forbids', () => {
  const m = x('body', { a: `"<'&>\n` }, 'a<b&c>\u0001d');
  assert.is(m.toString(), '<body a="&quot;&lt;&apos;&amp;&gt;&#10;">a&lt;b&amp;c&gt;d</body>');
  assert.is(escapeText('\uD800x'), 'x');
});

test('a subtree built bottom-up takes the namespace of the parent it is appended to, at every depth', () => {
  const form = x('x', { xmlns: 'jabber:x:data' }, x('field', { var: 'a' }, x('value', null, '1')));
  assert.is(form.getChild('field')?.getChild('value')?.xmlns, 'jabber:x:data');
  const iq = x('iq', { type: 'get' }, x('query', null));
  assert.is(iq.getChild('query')?.xmlns, '');
});

test.run();
