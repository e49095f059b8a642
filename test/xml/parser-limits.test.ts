// Resource limits of the stream parser: what a hostile or broken peer can make us hold.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HEADER, recorder, conditions, heapAfterGc } from './helpers';

const MB = 1024 * 1024;

test('a stanza of exactly maxStanzaBytes passes, one byte more is policy-violation (bytes, not characters)', () => {
  const max = 300;
  const make = (bytes: number): string => {
    const shell = "<message to='a'><body></body></message>";
    let body = '°'.repeat(Math.floor((bytes - shell.length) / 2));
    if (Buffer.byteLength(shell) + Buffer.byteLength(body) < bytes) body += 'x';
    const s = shell.replace('<body>', '<body>' + body);
    assert.is(Buffer.byteLength(s), bytes);
    return s;
  };
  for (const chunking of ['whole', 'bytewise'] as const) {
    for (const [bytes, ok] of [[max, true], [max + 1, false], [max - 1, true]] as const) {
      const r = recorder({ maxStanzaBytes: max });
      const input = Buffer.from(HEADER + '   ' + make(bytes) + ' ');
      if (chunking === 'whole') r.parser.write(input);
      else for (let i = 0; i < input.length; i++) r.parser.write(input.subarray(i, i + 1));
      assert.equal(conditions(r), ok ? [] : ['policy-violation'], `${chunking} ${bytes}`);
      assert.is(r.stanzas.length, ok ? 1 : 0);
    }
  }
});

test('an oversized stanza is stopped while it streams in, and its bytes are not kept', () => {
  const max = 4 * MB;
  const r = recorder({ maxStanzaBytes: max });
  r.parser.write(HEADER + "<message to='a'><body>");
  const base = heapAfterGc();
  const chunk = Buffer.alloc(64 * 1024, 'a');
  let fed = 0;
  // A peer that would send 100 MB.
  while (fed < 100 * MB && r.errors.length === 0) {
    r.parser.write(chunk);
    fed += chunk.length;
  }
  assert.equal(conditions(r), ['policy-violation']);
  assert.ok(fed <= max + 2 * chunk.length, `error only after ${fed} bytes`);
  assert.ok(fed >= max - 2 * chunk.length, `error already after ${fed} bytes`);
  // The parser has let go of the 4 MB of text it had collected.
  const grown = heapAfterGc() - base;
  assert.ok(grown < 2 * MB, `heap grew by ${grown} bytes`);
  // And further input is ignored without buffering.
  for (let i = 0; i < 64; i++) r.parser.write(chunk);
  assert.ok(heapAfterGc() - base < 2 * MB);
  assert.is(r.errors.length, 1);
});

test('an oversized stanza given in one write() is stopped too', () => {
  const r = recorder({ maxStanzaBytes: 64 * 1024 });
  r.parser.write(HEADER + "<message><body>" + 'b'.repeat(10 * MB) + '</body></message>');
  assert.equal(conditions(r), ['policy-violation']);
  assert.is(r.stanzas.length, 0);
});

test('an oversized stream header or stream-level junk is bounded too', () => {
  const r = recorder({ maxStanzaBytes: 64 * 1024 });
  r.parser.write("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' to='" + 'x'.repeat(200 * 1024));
  assert.equal(conditions(r), ['policy-violation']);
  const r2 = recorder({ maxStanzaBytes: 64 * 1024 });
  r2.parser.write(HEADER + '<' + 'n'.repeat(200 * 1024));
  assert.equal(conditions(r2), ['policy-violation']);
});

test('nesting: maxDepth levels pass, maxDepth+1 is policy-violation', () => {
  for (const maxDepth of [1, 5, 64]) {
    const r = recorder({ maxDepth });
    r.parser.write(HEADER);
    for (let d = 1; d <= maxDepth; d++) r.parser.write('<a>');
    assert.equal(r.errors, [], `depth ${maxDepth}`);
    r.parser.write('<a>');
    assert.equal(conditions(r), ['policy-violation'], `depth ${maxDepth + 1}`);
  }
  const ok = recorder({ maxDepth: 3 });
  ok.parser.write(HEADER + '<a><b><c/></b></a>');
  assert.equal(ok.stanzas.length, 1);
});

test('a 100,000-deep nest fed in chunks is stopped at maxDepth+1 with flat memory', () => {
  const r = recorder(); // default maxDepth 64
  r.parser.write(HEADER);
  const all = Buffer.from('<item>'.repeat(100_000));
  const base = heapAfterGc();
  let errorAtChunk = -1;
  for (let off = 0, i = 0; off < all.length; off += 1400, i++) {
    r.parser.write(all.subarray(off, off + 1400));
    if (errorAtChunk < 0 && r.errors.length > 0) errorAtChunk = i;
  }
  assert.equal(conditions(r), ['policy-violation']);
  assert.match(r.errors[0]!.message, /65 deep \(limit 64\)/);
  assert.is(errorAtChunk, 0); // 65 * 6 bytes < 1400: in the very first chunk
  const grown = heapAfterGc() - base;
  assert.ok(grown < 2 * MB, `heap grew by ${grown} bytes`);
});

test('10 MB of whitespace keepalives: nothing kept, no error, stanzas still parse', () => {
  const r = recorder();
  r.parser.write(HEADER + '<presence/>');
  const spaces = Buffer.alloc(64 * 1024, ' ');
  const base = heapAfterGc();
  for (let fed = 0; fed < 10 * MB; fed += spaces.length) r.parser.write(spaces);
  const grown = heapAfterGc() - base;
  assert.ok(grown < 1 * MB, `heap grew by ${grown} bytes`);
  r.parser.write("\n<message><body>still here</body></message>");
  assert.equal(r.errors, []);
  assert.equal(r.stanzas.map((s) => s.name), ['presence', 'message']);
  assert.is(r.stanzas[1]!.getChildText('body'), 'still here');
});

test('keepalives count toward no stanza: 1 MB of spaces then a stanza near the limit is fine', () => {
  const r = recorder({ maxStanzaBytes: 1024 });
  r.parser.write(HEADER + ' '.repeat(MB) + "<message><body>" + 'x'.repeat(900) + '</body></message>');
  assert.equal(r.errors, []);
  assert.is(r.stanzas.length, 1);
});

test.run();
