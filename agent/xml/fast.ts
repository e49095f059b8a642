// A scan for plain stanzas, the common case of what a server sends between stanzas: complete
// elements with unprefixed names, attributes in quotes, text without references, nothing
// else. It builds the same Elements the saxes path does (parser.ts) for exactly that subset
// and stops at the first thing outside it, so saxes reads the rest and judges it: an entity
// or character reference, CDATA, a comment or PI, a prefix, a character XML forbids or would
// normalize (CR, tab or newline in an attribute value), a ']' in text, a mismatched end
// tag, a duplicate attribute, a stanza over the size limit, a deep nest, an unfinished
// element at the end of the chunk. Those are all well-formed XML 1.0 (2.3, 2.4, 3.1) when
// they pass; anything else goes to the parser that reports errors.
import { Element, type Attrs, type Child } from './element';

const S = /[ \t\r\n]*/y; // XML 1.0 2.3 S
const NAME = '(?:[A-Za-z_][A-Za-z0-9_.-]*)';
// An attribute value without '<' (3.1), '&' (references) or any C0 control: tab, CR and LF
// are normalized to spaces in attribute values (3.3.3), which is saxes' job.
const VALUE = `(?:'[^'<&\\x00-\\x1F\\uD800-\\uDFFF\\uFFFE\\uFFFF]*'|"[^"<&\\x00-\\x1F\\uD800-\\uDFFF\\uFFFE\\uFFFF]*")`;
const ATTR_NAME = `(?:xml:lang|${NAME})`;
const OPEN = new RegExp(`<(${NAME})((?:[ \\t\\r\\n]+${ATTR_NAME}[ \\t\\r\\n]*=[ \\t\\r\\n]*${VALUE})*)[ \\t\\r\\n]*(/?)>`, 'y');
const ATTR = new RegExp(`(${ATTR_NAME})[ \\t\\r\\n]*=[ \\t\\r\\n]*(?:'([^']*)'|"([^"]*)")`, 'g');
const CLOSE = new RegExp(`</(${NAME})[ \\t\\r\\n]*>`, 'y');
// Text: no markup, no references, no CR (line ends are normalized, 2.11), no ']' (so never
// ']]>', 2.4), only characters XML allows (2.2); surrogate pairs (valid) are left to saxes too.
// eslint-disable-next-line no-control-regex
const TEXT = /[^<&\r\]\x00-\x08\x0B\x0C\x0E-\x1F\uD800-\uDFFF\uFFFE\uFFFF]*/y;
const NO_CHILDREN: Child[] = [];

/**
 * Reads complete plain top-level elements (and the whitespace between them) from the front of
 * `s`, handing each to `deliver` as soon as it is read; stops when `deliver` returns false (the
 * parser was reset or failed). Returns how many characters were consumed: the rest is for saxes.
 * `ns` is the stream's default namespace, `maxDepth` the deepest nesting to read here,
 * `maxBytes` the stanza size limit (a bigger one is left to the parser that reports it).
 */
export function scanPlainStanzas(s: string, ns: string, maxDepth: number, maxBytes: number, deliver: (el: Element) => boolean): number {
  const len = s.length;
  let consumed = 0;
  const stack: Element[] = [];
  for (;;) {
    S.lastIndex = consumed;
    S.exec(s);
    let pos = S.lastIndex;
    if (pos >= len) return len; // whitespace keepalives: dropped, as saxes' path drops them
    if (s.charCodeAt(pos) !== 60 || s.charCodeAt(pos + 1) === 47) return consumed; // not '<', or '</' (the stream's end)
    const start = pos;
    stack.length = 0;
    let root: Element | undefined;
    while (root === undefined) {
      if (s.charCodeAt(pos) !== 60) return consumed;
      if (s.charCodeAt(pos + 1) === 47) {
        CLOSE.lastIndex = pos;
        const m = CLOSE.exec(s);
        if (m === null) return consumed;
        const el = stack.pop()!;
        if (m[1] !== el.name) return consumed;
        pos = CLOSE.lastIndex;
        if (stack.length === 0) {
          root = el;
          break;
        }
      } else {
        OPEN.lastIndex = pos;
        const m = OPEN.exec(s);
        if (m === null) return consumed;
        const parent = stack.length === 0 ? undefined : stack[stack.length - 1]!;
        let elNs = parent === undefined ? ns : parent.xmlns;
        const attrs: Attrs = {};
        const list = m[2]!;
        if (list.length !== 0) {
          let sawNs = false;
          ATTR.lastIndex = 0;
          for (let a = ATTR.exec(list); a !== null; a = ATTR.exec(list)) {
            const name = a[1]!;
            const value = a[2] ?? a[3]!;
            if (name === 'xmlns') {
              if (sawNs) return consumed;
              sawNs = true;
              elNs = value;
            } else {
              if (name in attrs) return consumed;
              attrs[name] = value;
            }
          }
        }
        const el = new Element(m[1]!, elNs, attrs, NO_CHILDREN);
        if (parent !== undefined) (parent.children as Child[]).push(el);
        pos = OPEN.lastIndex;
        if (m[3] === '/') {
          if (parent === undefined) {
            root = el;
            break;
          }
        } else {
          stack.push(el);
          if (stack.length > maxDepth) return consumed;
        }
      }
      TEXT.lastIndex = pos;
      TEXT.exec(s);
      const end = TEXT.lastIndex;
      if (end > pos) {
        (stack[stack.length - 1]!.children as Child[]).push(s.slice(pos, end));
        pos = end;
      }
      if (pos >= len) return consumed; // unfinished: saxes collects it from its start
    }
    // The size limit in UTF-8 bytes, as the saxes path counts it (3 bytes per UTF-16 unit at most).
    if ((pos - start) * 3 > maxBytes && Buffer.byteLength(s.slice(start, pos)) > maxBytes) return consumed;
    consumed = pos;
    if (!deliver(root)) return consumed;
  }
}
