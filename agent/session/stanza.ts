// Stanza helpers: replies, typed stanza errors (RFC 6120 8.3), and the JID pieces the
// session needs. Pure functions over elements.
import { XiotaError } from '../errors';
import { Element, x } from '../xml/element';

export const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';

/** RFC 6120 8.3.3 conditions with their usual error type. */
const DEFAULT_TYPE: Record<string, StanzaErrorType> = {
  'bad-request': 'modify', conflict: 'cancel', 'feature-not-implemented': 'cancel', forbidden: 'auth',
  gone: 'cancel', 'internal-server-error': 'cancel', 'item-not-found': 'cancel', 'jid-malformed': 'modify',
  'not-acceptable': 'modify', 'not-allowed': 'cancel', 'not-authorized': 'auth', 'policy-violation': 'modify',
  'recipient-unavailable': 'wait', redirect: 'modify', 'registration-required': 'auth',
  'remote-server-not-found': 'cancel', 'remote-server-timeout': 'wait', 'resource-constraint': 'wait',
  'service-unavailable': 'cancel', 'subscription-required': 'auth', 'undefined-condition': 'cancel',
  'unexpected-request': 'wait',
};

/** A stanza-level error: thrown by handlers to answer with it, or raised when a request fails. */
export class StanzaError extends XiotaError {
  readonly condition: string;
  readonly type: StanzaErrorType;
  readonly text?: string;
  /** Application-specific child of <error/> (RFC 6120 8.3.2). */
  readonly appElement?: Element;
  /** The error stanza received, when this came from the wire. */
  readonly stanza?: Element;
  constructor(condition: string, text?: string, opts: { type?: StanzaErrorType; appElement?: Element; stanza?: Element; by?: string } = {}) {
    super('XIOTA_E_STANZA', `${opts.by ? opts.by + ' answered ' : ''}${condition}${text ? ': ' + text : ''}`, { condition });
    this.condition = condition;
    this.type = opts.type ?? DEFAULT_TYPE[condition] ?? 'cancel';
    this.text = text;
    this.appElement = opts.appElement;
    this.stanza = opts.stanza;
  }

  static fromStanza(st: Element): StanzaError {
    const err = st.getChild('error');
    const cond = err?.elements.find((c) => c.xmlns === NS_STANZAS && c.name !== 'text')?.name ?? 'undefined-condition';
    const text = err?.getChildText('text', NS_STANZAS);
    const app = err?.elements.find((c) => c.xmlns !== NS_STANZAS);
    const type = (err?.attrs.type as StanzaErrorType | undefined) ?? undefined;
    return new StanzaError(cond, text, { type, appElement: app, stanza: st, by: st.attrs.from });
  }

  toElement(): Element {
    return x('error', { type: this.type }, x(this.condition, { xmlns: NS_STANZAS }), this.text ? x('text', { xmlns: NS_STANZAS }, this.text) : null, this.appElement);
  }
}

/** RFC 6120 8.2.3: an iq result to a request, with an optional payload. */
export function iqResult(req: Element, payload?: Element): Element {
  return x('iq', { type: 'result', id: req.attrs.id ?? '', to: req.attrs.from }, payload);
}

/** RFC 6120 8.3.1: an error reply swaps from/to, keeps the id. */
export function errorReply(req: Element, error: StanzaError): Element {
  const reply = x(req.name, { type: 'error', id: req.attrs.id, to: req.attrs.from });
  return reply.append(error.toElement());
}

export interface Jid {
  local?: string;
  domain: string;
  resource?: string;
}

/** RFC 7622 3.1 (structure only; full PRECIS enforcement is the server's job). */
export function parseJid(s: string): Jid {
  const slash = s.indexOf('/');
  const bare = slash >= 0 ? s.slice(0, slash) : s;
  const resource = slash >= 0 ? s.slice(slash + 1) : undefined;
  const at = bare.indexOf('@');
  const local = at >= 0 ? bare.slice(0, at) : undefined;
  const domain = (at >= 0 ? bare.slice(at + 1) : bare).toLowerCase();
  if (!domain || local === '' || resource === '' || /[\s]/.test(bare)) {
    throw new XiotaError('XIOTA_E_CONFIG', `'${s}' is not a valid JID; expected user@domain or user@domain/resource`);
  }
  return { local, domain, resource };
}

export function bareJid(s: string): string {
  const slash = s.indexOf('/');
  return (slash >= 0 ? s.slice(0, slash) : s).toLowerCase();
}
