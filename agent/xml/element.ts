// The element model every part of the agent works with: a parsed stanza, or one being built.
// Namespaces are resolved at parse time (RFC 6120 4.8): every Element knows its own `xmlns`,
// so lookups never depend on prefixes. Serialization writes `xmlns` only where it differs
// from the parent's, which is how stanzas look on the wire.

export type Attrs = Record<string, string>;
export type Child = Element | string;

export class Element {
  readonly name: string;
  /** Namespace of this element (inherited from the parent when not declared). */
  xmlns: string;
  readonly attrs: Attrs;
  readonly children: Child[] = [];
  /**
   * Pre-serialized form, for payloads kept as text (the outbox stores items as XML): when set,
   * serialize() writes it verbatim. It must be a complete element declaring its own xmlns.
   */
  raw?: string;

  constructor(name: string, xmlns = '', attrs: Attrs = {}, children: Child[] = []) {
    this.name = name;
    this.xmlns = xmlns;
    this.attrs = attrs;
    for (const c of children) this.append(c);
  }

  /** Adds a child; a child element without a namespace inherits ours. */
  append(child: Child | null | undefined | false): this {
    if (child === null || child === undefined || child === false) return this;
    if (typeof child !== 'string' && child.xmlns === '' && this.xmlns !== '') adoptNamespace(child, this.xmlns);
    this.children.push(child);
    return this;
  }

  /** Adds a child element and returns it (for building nested payloads). */
  c(name: string, xmlns = '', attrs: Attrs = {}): Element {
    const el = new Element(name, xmlns || this.xmlns, attrs);
    this.children.push(el);
    return el;
  }

  /** Adds text and returns this element. */
  t(text: string): this {
    this.children.push(text);
    return this;
  }

  attr(name: string): string | undefined {
    return this.attrs[name];
  }

  /** First child element with this name and (when given) namespace. */
  getChild(name: string, xmlns?: string): Element | undefined {
    for (const c of this.children) {
      if (typeof c !== 'string' && c.name === name && (xmlns === undefined || c.xmlns === xmlns)) return c;
    }
    return undefined;
  }

  getChildren(name?: string, xmlns?: string): Element[] {
    const out: Element[] = [];
    for (const c of this.children) {
      if (typeof c === 'string') continue;
      if (name !== undefined && c.name !== name) continue;
      if (xmlns !== undefined && c.xmlns !== xmlns) continue;
      out.push(c);
    }
    return out;
  }

  /** First child element in a namespace, whatever its name (an iq payload). */
  getChildByNs(xmlns: string): Element | undefined {
    for (const c of this.children) if (typeof c !== 'string' && c.xmlns === xmlns) return c;
    return undefined;
  }

  get elements(): Element[] {
    return this.children.filter((c): c is Element => typeof c !== 'string');
  }

  text(): string {
    let s = '';
    for (const c of this.children) if (typeof c === 'string') s += c;
    return s;
  }

  getChildText(name: string, xmlns?: string): string | undefined {
    return this.getChild(name, xmlns)?.text();
  }

  is(name: string, xmlns?: string): boolean {
    return this.name === name && (xmlns === undefined || this.xmlns === xmlns);
  }

  toString(): string {
    return serialize(this);
  }
}

/**
 * A subtree built bottom-up with x() has no namespace until it is appended: give it, and every
 * descendant still without one, the parent's (XML namespaces are inherited, not per level).
 */
function adoptNamespace(el: Element, ns: string): void {
  el.xmlns = ns;
  for (const c of el.children) if (typeof c !== 'string' && c.xmlns === '') adoptNamespace(c, ns);
}

export type AttrInput = Record<string, string | number | boolean | undefined | null>;

/**
 * Builder: `x('iq', {type: 'get', id}, x('ping', {xmlns: NS_PING}))`. `xmlns` in attrs sets the
 * namespace; undefined/null attributes are left out.
 */
export function x(name: string, attrs?: AttrInput | null, ...children: (Child | null | undefined | false)[]): Element {
  const a: Attrs = {};
  let ns = '';
  if (attrs) {
    for (const k of Object.keys(attrs)) {
      const v = attrs[k];
      if (v === undefined || v === null) continue;
      if (k === 'xmlns') ns = String(v);
      else a[k] = String(v);
    }
  }
  const el = new Element(name, ns, a);
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c);
  }
  return el;
}

// '\r' is escaped too: a literal CR would come back as LF (XML 1.0 2.11).
const TEXT_RE = /[&<>\r]/g;
const ATTR_RE = /[&<>"'\r\n\t]/g;
const ESC: Record<string, string> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;',
  '\r': '&#13;', '\n': '&#10;', '\t': '&#9;',
};
// XML 1.0 2.2: characters that may not appear at all (not even escaped) are removed, so a
// driver string with a control byte cannot make us send ill-formed XML.
// eslint-disable-next-line no-control-regex
const INVALID_RE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

// Most text needs nothing done (ids, node names, numbers): one test instead of two replaces,
// which every attribute of every stanza paid. Any surrogate takes the full path (pairs are
// checked there).
// eslint-disable-next-line no-control-regex
const TEXT_PLAIN = /^[^&<>\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]*$/;
// eslint-disable-next-line no-control-regex
const ATTR_PLAIN = /^[^&<>"'\r\n\t\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]*$/;

export function escapeText(s: string): string {
  if (TEXT_PLAIN.test(s)) return s;
  return s.replace(INVALID_RE, '').replace(TEXT_RE, (c) => ESC[c]!);
}

export function escapeAttr(s: string): string {
  if (ATTR_PLAIN.test(s)) return s;
  return s.replace(INVALID_RE, '').replace(ATTR_RE, (c) => ESC[c]!);
}

/** Serializes an element; `parentNs` is the namespace in scope (default: the stream's). */
export function serialize(el: Element, parentNs = ''): string {
  if (el.raw !== undefined) return el.raw;
  let s = '<' + el.name;
  if (el.xmlns !== parentNs) s += ' xmlns="' + escapeAttr(el.xmlns) + '"';
  for (const k in el.attrs) s += ' ' + k + '="' + escapeAttr(el.attrs[k]!) + '"';
  if (el.children.length === 0) return s + '/>';
  s += '>';
  for (const c of el.children) s += typeof c === 'string' ? escapeText(c) : serialize(c, el.xmlns);
  return s + '</' + el.name + '>';
}

/** An element standing for already-serialized XML (trusted: produced by serialize()). */
export function rawElement(name: string, xmlns: string, xml: string): Element {
  const el = new Element(name, xmlns);
  el.raw = xml;
  return el;
}
