// escapeText/escapeAttr skip plain strings with one test: the result must be what the two
// replaces give for every string, plain or not (lone surrogates, controls, specials).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import { escapeAttr, escapeText } from '../../agent/xml/element';

// The escapes as they were before the plain-string test (agent/xml/element.ts).
const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#13;', '\n': '&#10;', '\t': '&#9;' };
// eslint-disable-next-line no-control-regex
const INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const text = (s: string) => s.replace(INVALID, '').replace(/[&<>\r]/g, (c) => ESC[c]!);
const attr = (s: string) => s.replace(INVALID, '').replace(/[&<>"'\r\n\t]/g, (c) => ESC[c]!);

test('plain and special strings escape as the two replaces do', () => {
  for (const s of ['', 'urn:xiota:bench', 'p1a2b', '°C', 'a&b', '<x>', '"\'', '\r\n\t', '\u0001', '\uFFFE', '\uD83D\uDE00', '\uD83D', 'a\uDE00b', '\u0085\u2028']) {
    assert.is(escapeText(s), text(s), JSON.stringify(s));
    assert.is(escapeAttr(s), attr(s), JSON.stringify(s));
  }
  assert.is(escapeAttr('a"b<c>&\t'), 'a&quot;b&lt;c&gt;&amp;&#9;');
});

test('generated strings (full UTF-16, lone surrogates included)', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 12 }), fc.string({ unit: fc.constantFrom('a', '&', '<', '>', '"', "'", '\r', '\n', '\t', '\u0000', '\u001f', '\uD800', '\uDC00', '\uFFFF', 'é'), maxLength: 12 }),
    (a, b) => escapeText(a) === text(a) && escapeAttr(a) === attr(a) && escapeText(b) === text(b) && escapeAttr(b) === attr(b)), { numRuns: 20_000 });
});

test.run();
