// Test helper: literal XML (as written in the XEPs) -> Element, dropping whitespace-only text,
// so a builder's output can be compared with a known-good example by serialization.
import { SaxesParser } from 'saxes';
import { Element } from '../../agent/xml/element';

export function parseXml(src: string): Element {
  const parser = new SaxesParser({ xmlns: true });
  const stack: Element[] = [];
  let root: Element | undefined;
  parser.on('opentag', (t) => {
    const attrs: Record<string, string> = {};
    for (const a of Object.values(t.attributes)) {
      if (a.prefix === 'xmlns' || a.name === 'xmlns') continue;
      attrs[a.local] = a.value;
    }
    const el = new Element(t.local, t.uri ?? '', attrs);
    if (stack.length) stack[stack.length - 1]!.children.push(el);
    else root = el;
    stack.push(el);
  });
  parser.on('text', (txt) => {
    if (stack.length && txt.trim() !== '') stack[stack.length - 1]!.children.push(txt);
  });
  parser.on('closetag', () => { stack.pop(); });
  parser.on('error', (e) => { throw e; });
  parser.write(src).close();
  if (!root) throw new Error('no element');
  return root;
}

/** Serialization with the example's `from`/`id` dropped (the session adds those). */
export function canon(el: Element, drop: string[] = ['from', 'id']): string {
  const copy = new Element(el.name, el.xmlns, Object.fromEntries(Object.entries(el.attrs).filter(([k]) => !drop.includes(k))));
  for (const c of el.children) copy.children.push(typeof c === 'string' ? c : c);
  return copy.toString();
}
