// Stanza routing, Prosody style: handlers hook a named event and the name carries the routing.
//   iq/get/<payload-ns>   iq/set/<payload-ns>   message   message/<child-ns>   presence
// Handlers run by priority (higher first); the first to return a value (an Element to send
// back, or true) ends the event. An iq get/set that nobody handles gets service-unavailable
// (RFC 6120 8.4). A module registers through a scope and loses all its handlers on unload.
import type { Logger } from '../log';
import { Element } from '../xml/element';
import { errorReply, iqResult, StanzaError } from './stanza';

export type HandlerResult = Element | boolean | void | undefined;
export type Handler = (stanza: Element) => HandlerResult | Promise<HandlerResult>;

interface Entry { handler: Handler; priority: number }

export class Router {
  private handlers = new Map<string, Entry[]>();

  constructor(private readonly send: (el: Element) => void, private readonly log: Logger) {}

  /** Hooks an event; returns a function that unhooks it. */
  on(event: string, handler: Handler, priority = 0): () => void {
    const list = this.handlers.get(event) ?? [];
    const entry = { handler, priority };
    list.push(entry);
    list.sort((a, b) => b.priority - a.priority);
    this.handlers.set(event, list);
    return () => {
      const l = this.handlers.get(event);
      if (!l) return;
      const i = l.indexOf(entry);
      if (i >= 0) l.splice(i, 1);
      if (l.length === 0) this.handlers.delete(event);
    };
  }

  /** A module's view: everything it hooks goes when it is unloaded. */
  scope(): { on: Router['on']; unload: () => void } {
    const offs: (() => void)[] = [];
    return {
      on: (event, handler, priority) => {
        const off = this.on(event, handler, priority);
        offs.push(off);
        return off;
      },
      unload: () => offs.splice(0).forEach((f) => f()),
    };
  }

  has(event: string): boolean {
    return (this.handlers.get(event)?.length ?? 0) > 0;
  }

  private async fire(event: string, stanza: Element): Promise<HandlerResult> {
    const list = this.handlers.get(event);
    if (!list) return undefined;
    for (const { handler } of [...list]) {
      const r = await handler(stanza);
      if (r !== undefined && r !== false) return r;
    }
    return undefined;
  }

  /** Routes one inbound stanza (not iq results/errors: those go to the iq tracker). */
  async dispatch(stanza: Element): Promise<void> {
    const type = stanza.attrs.type ?? (stanza.name === 'message' ? 'normal' : stanza.name === 'presence' ? 'available' : '');
    if (stanza.name === 'iq') {
      if (type !== 'get' && type !== 'set') return;
      // RFC 6120 8.2.3: exactly one payload child.
      const payload = stanza.elements;
      if (payload.length !== 1) {
        this.send(errorReply(stanza, new StanzaError('bad-request', 'an iq get/set carries exactly one payload element')));
        return;
      }
      try {
        const r = await this.fire(`iq/${type}/${payload[0]!.xmlns}`, stanza);
        if (r === undefined || r === false) this.send(errorReply(stanza, new StanzaError('service-unavailable')));
        else if (r instanceof Element) this.send(r.name === 'iq' ? r : iqResult(stanza, r));
      } catch (e) {
        const err = e instanceof StanzaError ? e : new StanzaError('internal-server-error');
        if (!(e instanceof StanzaError)) this.log.error('iq handler failed', { event: `iq/${type}/${payload[0]!.xmlns}`, error: e as Error });
        this.send(errorReply(stanza, err));
      }
      return;
    }
    try {
      // Payload-specific handlers first (a PubSub event, a chat state), then the generic one.
      let r: HandlerResult;
      for (const ns of new Set(stanza.elements.map((c) => c.xmlns))) {
        r = await this.fire(`${stanza.name}/${ns}`, stanza);
        if (r !== undefined && r !== false) break;
      }
      if (r === undefined || r === false) r = await this.fire(stanza.name, stanza);
      if (r instanceof Element) this.send(r);
    } catch (e) {
      this.log.error(`${stanza.name} handler failed`, { error: e as Error });
    }
  }
}
