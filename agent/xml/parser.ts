// The XMPP stream parser: bytes from the socket in, one Element per first-level child of
// <stream:stream> out (RFC 6120 4.2, 4.8). saxes does the XML; this file adds what an XMPP
// stream needs on top of it and what saxes does not do by itself:
//  - RFC 6120 11.1 restricted XML: comments, processing instructions (other than the
//    leading XML declaration) and DOCTYPE are refused with <restricted-xml/>.
//  - the first well-formedness error is fatal (saxes keeps going after one), and bytes that
//    are not UTF-8 (RFC 6120 11.6) are a well-formedness error too.
//  - a size limit per stanza and a nesting limit, enforced while bytes stream in, so a peer
//    cannot make us hold 100 MB or a 100,000-deep stack (<policy-violation/>, 4.9.3.14).
//  - whitespace keepalives (RFC 6120 4.6.1) are dropped without ever being stored.
// A new saxes parser is made at every reset() because each stream restart (after STARTTLS,
// RFC 6120 5.4.3.3; after SASL success, 6.4.6) may begin with a fresh <?xml?>, which one
// saxes parser accepts only once.
import type { SaxesParser, SaxesTagNS, SaxesStartTagNS } from 'saxes';
import { XmppSaxes } from './xmpp-saxes';
import { Element, Attrs, Child } from './element';
import { XiotaError } from '../errors';
import { TextDecoder } from 'node:util';
import { scanPlainStanzas } from './fast';

export const NS_STREAMS = 'http://etherx.jabber.org/streams';

/** RFC 6120 4.9.3 stream error conditions this parser can detect. */
export type XmlStreamCondition =
  | 'restricted-xml' // 4.9.3.18
  | 'policy-violation' // 4.9.3.14
  | 'not-well-formed' // 4.9.3.13
  | 'invalid-namespace' // 4.9.3.10
  | 'bad-namespace-prefix' // 4.9.3.2
  | 'bad-format'; // 4.9.3.1

export interface StreamParserOptions {
  /** Largest first-level element, counted in UTF-8 bytes as received. Default 256 KiB. */
  maxStanzaBytes?: number;
  /** Deepest nesting inside a stanza (the stanza itself is depth 1). Default 64. */
  maxDepth?: number;
  /** Plain stanzas without saxes (see fast.ts); default true. false: every byte through saxes (tests compare the two). */
  fastPath?: boolean;
}

export interface StreamParserHandlers {
  /** The stream header; `xmlns` is the content namespace (e.g. jabber:client). */
  onStreamStart(attrs: Record<string, string>, xmlns: string): void;
  /** Each complete first-level child of <stream:stream>, namespaces resolved. */
  onStanza(el: Element): void;
  /** </stream:stream> was received; further input is ignored until reset(). */
  onStreamEnd(): void;
  /** Fatal: code XIOTA_E_XML, detail.condition is the stream error to send. Further input is ignored until reset(). */
  onError(err: XiotaError): void;
}

const DEFAULT_MAX_STANZA_BYTES = 256 * 1024;
const DEFAULT_MAX_DEPTH = 64;
// Input is handed to saxes in slices of at most this many bytes/characters, and the size
// limit is checked between slices: whatever saxes buffers internally (a long text node, a
// long attribute) is therefore bounded by maxStanzaBytes + SLICE.
const SLICE = 16 * 1024;
const STREAM_OPTS = { stream: true } as const;
const NO_CHILDREN: Child[] = []; // shared, only iterated by the Element constructor
const NON_SPACE = /[^ \t\r\n]/g; // XML 1.0 2.3 S

type Sax = SaxesParser<{ xmlns: true }>;

export class StreamParser {
  private readonly handlers: StreamParserHandlers;
  private readonly maxBytes: number;
  private readonly maxDepth: number;
  private readonly fastPath: boolean;
  /** The stream's default namespace (jabber:client): the namespace of a stanza without xmlns. */
  private streamNs = '';

  private sax!: Sax;
  private decoder!: TextDecoder;
  private failed = false;
  private pending: Element | undefined = undefined;
  private pendingEnd = false;
  private pendingPos = -1;
  /** Bumped by reset(): a reset from inside a handler drops the rest of the chunk in flight. */
  private generation = 0;
  private ended = false;
  private rootOpen = false;
  /** Open elements inside the stream: 0 = stream level, 1 = inside a stanza. */
  private level = 0;
  private stack: Element[] = [];

  // Size accounting (UTF-8 bytes). The unit being counted is the stream header until the
  // root is open, then the current stanza from its '<'. `unitStart` is a character position
  // in saxes' input (its `position`), or -1 when nothing is being counted.
  private piece = '';
  private pieceBase = 0;
  private charPos = 0;
  private unitStart = 0;
  private unitBytes = 0;
  /** Position where stream level began (root opened or last stanza closed). */
  private boundary = 0;

  private readonly onText = (text: string): void => {
    const el = this.stack[this.level - 1];
    // saxes' text scan holds on to the handler it started with: after a failure or reset
    // mid-scan there is no element left to add to.
    if (el === undefined) return;
    const ch = el.children;
    const n = ch.length;
    // Text split by a CDATA section or an earlier flush is kept as one string, so a parsed
    // tree equals the tree that was serialized.
    if (n !== 0 && typeof ch[n - 1] === 'string') ch[n - 1] = (ch[n - 1] as string) + text;
    else ch.push(text);
  };

  private readonly onOpenTagStart = (tag: SaxesStartTagNS): void => {
    // Only armed at stream level: marks where the next stanza's bytes begin ('<' + name +
    // the character that ended the name have been read), unless counting already began at
    // an earlier non-space character (see feed()).
    if (this.pending !== undefined && !this.flush()) return;
    if (this.unitStart < 0) {
      this.unitStart = this.sax.position - tag.name.length - 2;
      this.unitBytes = 0;
    }
    this.sax.off('opentagstart');
  };

  // Attributes are collected as saxes reads them: reading them back from tag.attributes (a
  // null-prototype dictionary) cost more than the rest of building the element.
  private attrs: Attrs = {};
  private readonly onAttribute = (at: { name: string; prefix: string; value: string }): void => {
    // Namespace declarations are not attributes of the model: Element.xmlns carries the
    // resolved namespace and the serializer writes declarations where needed.
    if (at.prefix !== 'xmlns' && at.name !== 'xmlns') this.attrs[at.name] = at.value;
  };

  private readonly onOpenTag = (tag: SaxesTagNS): void => {
    if (!this.rootOpen) return this.openRoot(tag);
    const level = ++this.level;
    if (level > this.maxDepth) {
      return this.fail('policy-violation', `element nested ${level} deep (limit ${this.maxDepth})`);
    }
    const el = new Element(tag.local, tag.uri, this.attrs, NO_CHILDREN);
    this.attrs = {};
    if (level === 1) this.sax.on('text', this.onText);
    else (this.stack[level - 2]!.children as Child[]).push(el);
    this.stack[level - 1] = el;
  };

  private readonly onCloseTag = (): void => {
    const level = this.level;
    if (level === 0) {
      // </stream:stream>, RFC 6120 4.4. Reported when this slice is done, unless saxes
      // says at once that the end tag did not match (see onSaxError).
      if (this.pending !== undefined && !this.flush()) return;
      this.ended = true;
      this.pendingEnd = true;
      this.pendingPos = this.sax.position;
      this.quiet();
      this.sax.on('error', this.onSaxError);
      return;
    }
    this.level = level - 1;
    if (level !== 1) return;
    const bytes = this.unitBytes + this.bytesOfPiece(this.unitStart, this.sax.position);
    if (bytes > this.maxBytes) return this.fail('policy-violation', `stanza of ${bytes} bytes (limit ${this.maxBytes})`);
    const stanza = this.stack[0]!;
    this.stack.length = 0;
    this.unitStart = -1;
    this.boundary = this.sax.position;
    this.sax.off('text');
    this.sax.on('opentagstart', this.onOpenTagStart);
    // saxes calls the close-tag handler for the element it pops *before* it checks that the
    // end tag's name matches (`<message></iq>`), so the stanza is held until the next
    // event or the end of this slice; a mismatch error at this same position drops it.
    this.pending = stanza;
    this.pendingPos = this.sax.position;
  };

  /** Delivers a held stanza; false when the handler reset() the parser. */
  private flush(): boolean {
    const stanza = this.pending!;
    this.pending = undefined;
    const gen = this.generation;
    this.handlers.onStanza(stanza);
    return gen === this.generation;
  }

  private readonly onCdata = (text: string): void => {
    if (this.level !== 0) this.onText(text); // CDATA at stream level is dropped like whitespace
  };

  constructor(handlers: StreamParserHandlers, opts: StreamParserOptions = {}) {
    this.handlers = handlers;
    this.maxBytes = opts.maxStanzaBytes ?? DEFAULT_MAX_STANZA_BYTES;
    this.maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
    this.fastPath = opts.fastPath ?? true;
    this.reset();
  }

  /** Starts over for a new stream (after STARTTLS, after SASL success): fresh XML parser and UTF-8 decoder. */
  reset(): void {
    if (this.sax) this.quiet();
    this.generation++;
    this.failed = false;
    this.ended = false;
    this.pending = undefined;
    this.pendingEnd = false;
    this.rootOpen = false;
    this.level = 0;
    this.stack = [];
    this.attrs = {};
    this.piece = '';
    this.pieceBase = 0;
    this.charPos = 0;
    this.unitStart = 0;
    this.unitBytes = 0;
    this.boundary = 0;
    this.decoder = new TextDecoder('utf-8', { fatal: true });
    const sax: Sax = new XmppSaxes();
    this.sax = sax;
    sax.on('opentag', this.onOpenTag);
    // saxes' closeTag() keeps calling the handler it read before its loop, even after we
    // failed or were reset from inside a callback: ignore calls from a superseded parser.
    const gen = this.generation;
    sax.on('closetag', () => {
      if (gen === this.generation) this.onCloseTag();
    });
    sax.on('cdata', this.onCdata);
    sax.on('attribute', this.onAttribute);
    sax.on('error', this.onSaxError);
    // RFC 6120 11.1: no comments, PIs or DTDs. saxes reports the XML declaration through
    // 'xmldecl', not as a PI, so it stays allowed.
    sax.on('comment', () => this.fail('restricted-xml', 'an XML comment'));
    sax.on('processinginstruction', (pi) => this.fail('restricted-xml', `a processing instruction <?${pi.target}?>`));
    sax.on('doctype', () => this.fail('restricted-xml', 'a DOCTYPE declaration'));
  }

  /**
   * Feeds bytes (or already-decoded text) as they arrive; events fire synchronously. If a
   * handler calls reset() (on <proceed/> or SASL <success/>), the rest of this chunk is
   * dropped: what follows is TLS, or nothing until our new stream header (RFC 6120 5.4.3.3, 6.4.6).
   */
  write(chunk: Buffer | string): void {
    const gen = this.generation;
    const len = chunk.length;
    for (let off = 0; off < len && !this.failed && !this.ended && gen === this.generation; off += SLICE) {
      if (typeof chunk === 'string') {
        this.feed(len <= SLICE ? chunk : chunk.slice(off, off + SLICE));
        continue;
      }
      const part = len <= SLICE ? chunk : chunk.subarray(off, off + SLICE);
      let s: string;
      try {
        // {stream: true}: a character split across TCP segments is held until complete.
        s = this.decoder.decode(part, STREAM_OPTS);
      } catch {
        return this.fail('not-well-formed', 'bytes that are not valid UTF-8 (RFC 6120 11.6)');
      }
      if (s.length !== 0) this.feed(s);
    }
  }

  private feed(s: string): void {
    // Between stanzas, with nothing half-read inside saxes, the plain stanzas at the front of
    // the chunk (an iq result, the SM <r/>: most of what a publisher receives) are built
    // without saxes, which reads them a character at a time (in lite mode the biggest cost of
    // taking a result in). Whatever the scan does not fully understand goes to saxes as before.
    if (this.fastPath && this.rootOpen && this.level === 0 && this.unitStart < 0 && this.pending === undefined && !this.pendingEnd && !this.failed && !this.ended) {
      const gen = this.generation;
      const used = scanPlainStanzas(s, this.streamNs, Math.min(this.maxDepth, 16), this.maxBytes, this.deliverPlain);
      if (gen !== this.generation || this.failed || this.ended) return; // a handler reset the parser: the rest is dropped
      if (used === s.length) return;
      if (used > 0) s = s.slice(used);
    }
    const sax = this.sax;
    this.piece = s;
    // Not sax.position: between writes it can be one past the end (saxes advances its index
    // when it reads the end of a chunk). Inside callbacks it is exact.
    this.pieceBase = this.charPos;
    this.charPos += s.length;
    const gen = this.generation;
    sax.write(s);
    if (gen !== this.generation) return;
    if (this.pending !== undefined && !this.flush()) return;
    if (this.pendingEnd) {
      this.pendingEnd = false;
      this.handlers.onStreamEnd();
      return;
    }
    if (this.failed || this.ended) return;
    const end = this.pieceBase + s.length;
    if (this.unitStart < 0) {
      // Stream level with no stanza begun. Whitespace keepalives are not counted (nor
      // stored); anything else (a start tag not yet finished, a comment or CDATA saxes is
      // still collecting) starts counting at its first character.
      const from = this.boundary > this.pieceBase ? this.boundary - this.pieceBase : 0;
      NON_SPACE.lastIndex = from;
      const m = NON_SPACE.exec(s);
      if (m === null) return;
      this.unitStart = this.pieceBase + m.index;
      this.unitBytes = 0;
    }
    // End of slice: fold what the open unit used of it into unitBytes and check the limit
    // now, before more input can pile up inside saxes.
    this.unitBytes += this.bytesOfPiece(this.unitStart, end);
    this.unitStart = end;
    if (this.unitBytes > this.maxBytes) {
      const what = this.rootOpen ? 'stanza' : 'stream header';
      this.fail('policy-violation', `${what} of more than ${this.unitBytes} bytes (limit ${this.maxBytes})`);
    }
  }

  private readonly deliverPlain = (el: Element): boolean => {
    const gen = this.generation;
    this.handlers.onStanza(el);
    return gen === this.generation && !this.failed && !this.ended;
  };

  /** UTF-8 bytes of the current slice between two saxes positions (clamped to the slice). */
  private bytesOfPiece(from: number, to: number): number {
    const base = this.pieceBase;
    const a = from > base ? from - base : 0;
    const b = to - base;
    if (b <= a) return 0;
    const p = this.piece;
    return a === 0 && b >= p.length ? Buffer.byteLength(p) : Buffer.byteLength(p.slice(a, b));
  }

  private openRoot(tag: SaxesTagNS): void {
    // RFC 6120 4.8.1: the stream element is <stream> in the streams namespace.
    if (tag.local !== 'stream' || tag.uri !== NS_STREAMS) {
      return this.fail('invalid-namespace', `root element {${tag.uri}}${tag.local}, expected {${NS_STREAMS}}stream`);
    }
    const attrs = this.attrs;
    this.attrs = {};
    this.rootOpen = true;
    this.unitStart = -1;
    this.boundary = this.sax.position;
    this.sax.off('text'); // keepalive whitespace at stream level is never buffered by saxes
    this.sax.on('opentagstart', this.onOpenTagStart);
    this.streamNs = tag.ns[''] ?? '';
    this.handlers.onStreamStart(attrs, this.streamNs);
  }

  private readonly onSaxError = (e: Error): void => {
    const atClose = this.sax.position === this.pendingPos;
    if (this.pendingEnd) {
      if (!atClose) return; // after </stream:stream>: ignored
      this.pendingEnd = false;
      this.ended = false;
    } else if (this.pending !== undefined) {
      if (atClose) this.pending = undefined; // the end tag that closed it was wrong
      else if (!this.flush()) return;
    }
    // saxes continues after errors; the first one ends the stream for us (RFC 6120 4.9.1.1).
    const m = e.message;
    // A DOCTYPE after the root opened is a saxes error, not a 'doctype' event; it is still a
    // DTD, which RFC 6120 11.1 answers with <restricted-xml/>.
    const condition: XmlStreamCondition = /unbound namespace prefix/.test(m)
      ? 'bad-namespace-prefix'
      : /doctype declaration/.test(m)
        ? 'restricted-xml'
        : 'not-well-formed';
    this.fail(condition, m);
  };

  private fail(condition: XmlStreamCondition, what: string): void {
    if (this.failed) return;
    // A stanza completed before the offending input is still delivered.
    if (this.pending !== undefined && !this.flush()) return;
    this.failed = true;
    this.generation++;
    this.quiet();
    // Let go of everything the rejected input built up: our element stack and, with the
    // saxes parser itself, whatever text or attribute it was collecting.
    this.sax = new XmppSaxes();
    this.quiet();
    this.stack = [];
    this.attrs = {};
    this.piece = '';
    const err = new XiotaError(
      'XIOTA_E_XML',
      `XMPP stream rejected: ${what}. Send the stream error <${condition}/> (RFC 6120 4.9.3), close the connection, and call reset() before parsing a new stream.`,
      { condition },
    );
    // V8 keeps an error's stack frames (their receivers: the saxes parser and everything it
    // holds, e.g. 5,000 open tags of a deep-nest attack) until .stack is first read; read it
    // now so an error kept by a caller does not keep the rejected input alive.
    void err.stack;
    this.handlers.onError(err);
  }

  /** Stops every callback of the current saxes parser (it may still be mid-write). */
  private quiet(): void {
    const sax = this.sax;
    for (const ev of ['attribute', 'opentagstart', 'opentag', 'closetag', 'text', 'cdata', 'comment', 'processinginstruction', 'doctype'] as const) {
      sax.off(ev);
    }
    sax.on('error', () => undefined); // saxes throws from fail() when no handler is set
  }
}
