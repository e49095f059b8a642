import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HEADER, parseAll, recorder, conditions } from './helpers';
import { NS_STREAMS } from '../../agent/xml/parser';
import { setFlagsFromString } from 'node:v8';

const MESSAGE =
  "<message to='juliet@example.com' from='romeo@example.net/orchard' type='chat' xml:lang='en' id='m1'>" +
  "<body>Art thou not Romeo, &amp; a Montague? &lt;3 °C 🌡️</body>" +
  "<event xmlns='http://jabber.org/protocol/pubsub#event'><items node='n'><item id='i1'>" +
  "<fields xmlns='urn:xmpp:iot:sensordata' seqnr='1'><numeric name='temperature' value='21.5' unit='°C'/></fields>" +
  '</item></items></event></message>';

test('stream header: attributes by qualified name, xmlns declarations dropped, content namespace reported', () => {
  const r = parseAll(HEADER);
  assert.equal(r.starts, [{ attrs: { from: 'example.org', id: 's1', version: '1.0', 'xml:lang': 'en' }, xmlns: 'jabber:client' }]);
  assert.equal(r.errors, []);
});

test('stanza round-trip: parsed then serialized gives the same XML', () => {
  const r = parseAll(HEADER + MESSAGE);
  assert.is(r.stanzas.length, 1);
  const m = r.stanzas[0]!;
  assert.is(m.name, 'message');
  assert.is(m.xmlns, 'jabber:client');
  assert.equal(m.attrs, { to: 'juliet@example.com', from: 'romeo@example.net/orchard', type: 'chat', 'xml:lang': 'en', id: 'm1' });
  assert.is(m.getChildText('body'), 'Art thou not Romeo, & a Montague? <3 °C 🌡️');
  const fields = m.getChild('event', 'http://jabber.org/protocol/pubsub#event')?.getChild('items')?.getChild('item')?.getChild('fields');
  assert.is(fields?.xmlns, 'urn:xmpp:iot:sensordata');
  assert.equal(fields?.getChild('numeric')?.attrs, { name: 'temperature', value: '21.5', unit: '°C' });
  assert.is(m.toString(), MESSAGE.replace(/'/g, '"').replace(/^<message /, '<message xmlns="jabber:client" '));
  // And once more through the parser: serialize(parse(x)) is a fixed point.
  const again = parseAll(HEADER + m.toString());
  assert.is(again.stanzas[0]!.toString(), m.toString());
});

test('stream:features and other prefixed first-level elements resolve to the streams namespace', () => {
  const r = parseAll(HEADER + "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>");
  const f = r.stanzas[0]!;
  assert.is(f.name, 'features');
  assert.is(f.xmlns, NS_STREAMS);
  assert.is(f.getChild('starttls', 'urn:ietf:params:xml:ns:xmpp-tls')?.getChild('required')?.xmlns, 'urn:ietf:params:xml:ns:xmpp-tls');
});

test('CDATA and entities become text; text inside stanzas keeps its whitespace', () => {
  const r = parseAll(HEADER + '<message><body>  a<![CDATA[ <b>&amp; ]]>&#x1F600;&quot; </body></message>');
  assert.equal(r.errors, []);
  assert.equal(r.stanzas[0]!.getChild('body')!.children, ['  a <b>&amp; 😀" ']);
});

test('a chunk boundary at every byte, including inside multi-byte characters, gives the same stanzas', () => {
  const input = Buffer.from(HEADER + MESSAGE + ' \n' + "<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>" + '</stream:stream>');
  const whole = parseAll(input);
  assert.is(whole.stanzas.length, 2);
  assert.is(whole.ends, 1);
  const expected = whole.stanzas.map((s) => s.toString());
  // The degree sign is 2 bytes, the thermometer emoji 4 (plus a 3-byte variation selector).
  assert.ok(input.indexOf(Buffer.from('°')) > 0 && input.indexOf(Buffer.from('🌡')) > 0);
  for (let i = 1; i < input.length; i++) {
    const r = recorder();
    r.parser.write(input.subarray(0, i));
    r.parser.write(input.subarray(i));
    assert.equal(conditions(r), [], `split at ${i}`);
    assert.equal(r.stanzas.map((s) => s.toString()), expected, `split at ${i}`);
    assert.is(r.ends, 1);
  }
  const bytewise = recorder();
  for (let i = 0; i < input.length; i++) bytewise.parser.write(input.subarray(i, i + 1));
  assert.equal(bytewise.stanzas.map((s) => s.toString()), expected);
});

test('whitespace keepalives between stanzas are dropped', () => {
  const r = parseAll(HEADER + ' \n\t ' + "<presence/>" + '    ' + "<presence type='unavailable'/>" + '\r\n ');
  assert.equal(r.stanzas.map((s) => s.toString()), ['<presence xmlns="jabber:client"/>', '<presence xmlns="jabber:client" type="unavailable"/>']);
  assert.equal(r.errors, []);
});

test('restricted XML (RFC 6120 11.1): comment, processing instruction, DOCTYPE', () => {
  const cases: [string, string][] = [
    ['comment at stream level', HEADER + '<!-- hello -->'],
    ['comment inside a stanza', HEADER + '<message><!-- hi --><body/></message>'],
    ['comment before the header', '<!-- x -->' + HEADER],
    ['processing instruction', HEADER + "<?xml-stylesheet href='a.xsl'?>"],
    ['processing instruction inside a stanza', HEADER + '<message><?foo bar?></message>'],
    ['DOCTYPE', "<?xml version='1.0'?><!DOCTYPE stream>" + HEADER.replace("<?xml version='1.0'?>", '')],
  ];
  for (const [what, input] of cases) {
    const r = parseAll(input);
    assert.equal(conditions(r), ['restricted-xml'], what);
    assert.is(r.errors[0]!.code, 'XIOTA_E_XML', what);
    assert.is(r.stanzas.length, 0, what);
  }
});

test('DOCTYPE with an entity bomb is refused before any expansion', () => {
  const a = 'a'.repeat(100);
  const bomb =
    `<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a "${a}"><!ENTITY b "${'&a;'.repeat(10)}"><!ENTITY c "${'&b;'.repeat(10)}">` +
    `<!ENTITY d "${'&c;'.repeat(10)}"><!ENTITY e "${'&d;'.repeat(10)}">]>`;
  const r = recorder();
  const before = process.memoryUsage().heapUsed;
  r.parser.write(bomb);
  r.parser.write(HEADER.replace("<?xml version='1.0'?>", '') + '<message><body>&e;&e;&e;</body></message>');
  assert.equal(conditions(r), ['restricted-xml']);
  assert.is(r.stanzas.length, 0);
  assert.ok(process.memoryUsage().heapUsed - before < 20 * 1024 * 1024);
});

test('malformed XML is not-well-formed, and only the first error is reported', () => {
  const cases: [string, string][] = [
    ['mismatched end tag', HEADER + '<message><body></message>'],
    ['stanza closed by another name', HEADER + '<message></iq>'],
    ['undefined entity', HEADER + '<message><body>&nbsp;</body></message>'],
    ['bare ampersand', HEADER + '<message><body>a & b</body></message>'],
    ['duplicate attribute', HEADER + "<message to='a' to='b'/>"],
    ['unquoted attribute', HEADER + '<message to=a/>'],
    ['forbidden character', HEADER + '<message><body>\u0001</body></message>'],
    ['second XML declaration', HEADER + "<?xml version='1.0'?>"],
  ];
  for (const [what, input] of cases) {
    const r = parseAll(input + '<a></b><c>&bad;</c><!-- x -->');
    assert.equal(conditions(r), ['not-well-formed'], what);
    assert.is(r.stanzas.length, 0, what);
  }
});

test('a stanza completed before an error is delivered; a wrong end tag of the stream is an error, not an end', () => {
  const r = parseAll(HEADER + '<message/><presence/></stream:steam>');
  assert.equal(r.stanzas.map((s) => s.name), ['message', 'presence']);
  assert.equal(conditions(r), ['not-well-formed']);
  assert.is(r.ends, 0);
  const r2 = parseAll(HEADER + '<message/><!-- c -->');
  assert.equal(r2.stanzas.map((s) => s.name), ['message']);
  assert.equal(conditions(r2), ['restricted-xml']);
});

test('unbound namespace prefix is bad-namespace-prefix (RFC 6120 4.9.3.2)', () => {
  assert.equal(conditions(parseAll(HEADER + '<foo:message/>')), ['bad-namespace-prefix']);
});

test('invalid UTF-8 is not-well-formed (RFC 6120 11.6)', () => {
  const head = Buffer.from(HEADER + '<message><body>');
  for (const bad of [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
    const r = recorder();
    r.parser.write(head);
    r.parser.write(Buffer.from(bad));
    r.parser.write(Buffer.from('</body></message>'));
    // A truncated sequence (e2 82) is only known to be bad when the next byte arrives.
    assert.equal(conditions(r), ['not-well-formed'], Buffer.from(bad).toString('hex'));
    assert.is(r.stanzas.length, 0);
  }
});

test('root element must be <stream> in the streams namespace', () => {
  const wrongNs = "<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong'>";
  const wrongName = "<stream:session xmlns:stream='http://etherx.jabber.org/streams'>";
  const unprefixed = "<stream xmlns='jabber:client'>";
  for (const h of [wrongNs, wrongName, unprefixed]) {
    const r = parseAll(h + '<message/>');
    assert.equal(conditions(r), ['invalid-namespace'], h);
    assert.is(r.starts.length, 0);
    assert.is(r.stanzas.length, 0);
  }
  // The streams namespace as the default namespace is fine too.
  const ok = parseAll("<stream xmlns='http://etherx.jabber.org/streams'>");
  assert.is(ok.starts.length, 1);
});

test('errors after the first are ignored, and so is all input until reset()', () => {
  const r = recorder();
  r.parser.write(HEADER + '<!-- one -->');
  r.parser.write('<message/><!-- two --></stream:stream>');
  r.parser.write(Buffer.from([0xff]));
  assert.is(r.errors.length, 1);
  assert.is(r.stanzas.length, 0);
  assert.is(r.ends, 0);
});

test('reset() starts a new stream: a second <?xml?> and header are accepted', () => {
  const r = recorder();
  r.parser.write(HEADER + '<stream:features/>');
  r.parser.write(Buffer.from([0xe2, 0x82])); // half a character pending in the old decoder
  r.parser.reset();
  r.parser.write(HEADER + "<iq type='result' id='b'/>");
  assert.equal(conditions(r), []);
  assert.is(r.starts.length, 2);
  assert.equal(r.stanzas.map((s) => s.name), ['features', 'iq']);
  // After an error too.
  r.parser.write('<!-- x -->');
  assert.equal(conditions(r), ['restricted-xml']);
  r.parser.reset();
  r.parser.write(HEADER + '<message/>');
  assert.is(r.stanzas.length, 3);
  assert.is(r.starts.length, 3);
});

test('reset() from inside onStanza drops the rest of the chunk in flight', () => {
  const names: string[] = [];
  let starts = 0;
  const { StreamParser } = require('../../agent/xml/parser') as typeof import('../../agent/xml/parser');
  const p: InstanceType<typeof StreamParser> = new StreamParser({
    onStreamStart: () => void starts++,
    onStanza: (el) => {
      names.push(el.name);
      if (el.name === 'success') p.reset();
    },
    onStreamEnd: () => undefined,
    onError: (e) => assert.unreachable(e.message),
  });
  p.write(HEADER + "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/><leftover/>");
  p.write(HEADER + '<stream:features/>');
  assert.equal(names, ['success', 'features']);
  assert.is(starts, 2);
});

test('</stream:stream> ends the stream; later input is ignored', () => {
  const r = parseAll(HEADER + '<message/></stream:stream><message/>garbage<');
  assert.is(r.ends, 1);
  assert.is(r.stanzas.length, 1);
  assert.equal(r.errors, []);
});

test('the saxes parser inside keeps fast (non-dictionary) properties, which parsing speed depends on', () => {
  setFlagsFromString('--allow-natives-syntax');
  const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;
  const r = recorder();
  r.parser.write(HEADER + "<message><body>x</body></message>");
  const sax = (r.parser as unknown as { sax: object }).sax;
  assert.ok(hasFastProperties(sax));
});

test.run();
