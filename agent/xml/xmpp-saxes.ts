// A saxes parser (xmlns on) whose object shape stays fast in V8. Private to agent/xml.
import { SaxesParser } from 'saxes';

type HandlerField =
  | 'xmldeclHandler' | 'textHandler' | 'piHandler' | 'doctypeHandler' | 'commentHandler' | 'openTagStartHandler'
  | 'attributeHandler' | 'openTagHandler' | 'closeTagHandler' | 'cdataHandler' | 'errorHandler' | 'endHandler' | 'readyHandler';

// saxes' on() adds one property per handler through a computed-key store; after the
// seventh, V8 turns the parser object into a dictionary and every field access in its hot
// loop becomes a hash lookup (measured: parsing 4x slower). Creating all handler fields in
// the constructor keeps the object's shape fast.
export class XmppSaxes extends SaxesParser<{ xmlns: true }> {
  constructor() {
    super({ xmlns: true });
    const self = this as unknown as Record<HandlerField, unknown>;
    self.xmldeclHandler = undefined;
    self.textHandler = undefined;
    self.piHandler = undefined;
    self.doctypeHandler = undefined;
    self.commentHandler = undefined;
    self.openTagStartHandler = undefined;
    self.attributeHandler = undefined;
    self.openTagHandler = undefined;
    self.closeTagHandler = undefined;
    self.cdataHandler = undefined;
    self.errorHandler = undefined;
    self.endHandler = undefined;
    self.readyHandler = undefined;
  }
}
