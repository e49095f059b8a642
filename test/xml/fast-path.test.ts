// The plain-stanza scan (agent/xml/fast.ts) must be invisible: on any input, in any chunking,
// the parser with it reports the same stanzas, stream end and stream errors as saxes alone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { Element } from '../../agent/xml/element';
import { HEADER, recorder, type Recorded } from './helpers';

// Fragments, well-formed or not, that a stream may carry between and inside stanzas: plain
// markup (the scan's case) and everything it must leave to saxes.
const FRAGMENTS = [
  "<iq type='result' id='a1' from='x@y'>", '</iq>', "<pubsub xmlns='http://jabber.org/protocol/pubsub'>", '</pubsub>',
  "<item id='i1'/>", "<r xmlns='urn:xmpp:sm:3'/>", "<a xmlns='urn:xmpp:sm:3' h='12'/>", '<message>', '</message>',
  '<body>', '</body>', 'hi there', ' ', '\n', '\t', "<x xml:lang='en'/>", '<empty xmlns=""/>', "<q a='1' b=\"2\"/>",
  // for saxes: references, CDATA, comments, PIs, prefixes, bad names, duplicates, mismatches, bad characters
  '&amp;', '&#65;', '&bogus;', '<![CDATA[c]]>', ']]>', ']', '<!-- c -->', '<?pi x?>', '<p:q/>', "<q xmlns:p='urn:p'/>",
  "<q a='1' a='2'/>", "<q xmlns='u' xmlns='v'/>", '</b>', '<1a/>', "<q a='x\ty'/>", "<q a='<'/>", '\r\n', '\u0001',
  '😀', 'é', "<q a='&lt;'/>", '</stream:stream>', '<', '>', "='", '<é/>', '<q/ >', '< q/>', "<q a = 'sp' />",
];

const normalize = (el: Element): unknown => ({
  name: el.name,
  xmlns: el.xmlns,
  attrs: Object.entries(el.attrs).sort(([a], [b]) => (a < b ? -1 : 1)),
  children: el.children.reduce<unknown[]>((out, c) => {
    if (typeof c !== 'string') out.push(normalize(c));
    else if (c !== '' && typeof out[out.length - 1] === 'string') out[out.length - 1] += c;
    else if (c !== '') out.push(c);
    return out;
  }, []),
});

function run(wire: Buffer, cuts: number[], fastPath: boolean): Recorded {
  const r = recorder({ fastPath, maxStanzaBytes: 300, maxDepth: 4 });
  let prev = 0;
  for (const p of [...cuts, wire.length]) {
    r.parser.write(wire.subarray(prev, p));
    prev = p;
  }
  return r;
}

test('any input, any chunking: the same stanzas, end and errors with and without the scan', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 40 }), fc.array(fc.nat(), { maxLength: 6 }), (parts, rawCuts) => {
      const wire = Buffer.from(HEADER + parts.join(''));
      const cuts = [...new Set(rawCuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
      const fast = run(wire, cuts, true);
      const slow = run(wire, cuts, false);
      assert.equal(fast.stanzas.map(normalize), slow.stanzas.map(normalize));
      assert.equal(fast.errors.map((e) => e.detail.condition), slow.errors.map((e) => e.detail.condition));
      assert.is(fast.ends, slow.ends);
    }),
    { numRuns: 3000 },
  );
});

test('a publisher\'s traffic (iq result + SM request) is read by the scan, as saxes reads it', () => {
  const results = Array.from({ length: 50 }, (_, i) =>
    `<iq type='result' id='p${i}' to='dev@xiota.test/x'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:xiota:t'><item id='k${i}'/></publish></pubsub></iq><r xmlns='urn:xmpp:sm:3'/>`).join('');
  const wire = Buffer.from(HEADER + results);
  const fast = run(wire, [HEADER.length, HEADER.length + 700], true);
  assert.is(fast.stanzas.length, 100);
  assert.equal(fast.stanzas.map(normalize), run(wire, [], false).stanzas.map(normalize));
  const iq = fast.stanzas[2]!;
  assert.is(iq.xmlns, 'jabber:client');
  assert.is(iq.getChild('pubsub', 'http://jabber.org/protocol/pubsub')?.getChild('publish')?.getChild('item')?.attrs.id, 'k1');
  assert.ok(fast.stanzas[3]!.is('r', 'urn:xmpp:sm:3'));
});

test('limits hold on the scan: a stanza over the size limit and a deep nest are stream errors', () => {
  const big = HEADER + `<message><body>${'x'.repeat(400)}</body></message>`;
  assert.equal(run(Buffer.from(big), [], true).errors.map((e) => e.detail.condition), ['policy-violation']);
  const deep = HEADER + '<a><b><c><d><e/></d></c></b></a>';
  assert.equal(run(Buffer.from(deep), [], true).errors.map((e) => e.detail.condition), ['policy-violation']);
});

test.run();
