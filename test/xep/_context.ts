// A ModuleContext over a real Router without a socket: what a module sends and asks is
// captured, sessions are started by hand, iq requests are answered by the test. For unit tests
// of modules (the XEP texts' stanzas in, the stanzas out).
import { silentLogger } from '../../agent/log';
import type { ModuleContext } from '../../agent/module';
import type { OnlineInfo } from '../../agent/session/client';
import { Router } from '../../agent/session/router';
import { Element, x } from '../../agent/xml/element';

export interface PendingIq { req: Element; resolve(el: Element): void; reject(e: Error): void }

export interface TestContext {
  ctx: ModuleContext;
  router: Router;
  /** Everything sent: m.send() and the router's replies. */
  sent: Element[];
  iqs: PendingIq[];
  /** Fires the module's onSession handlers. */
  online(o?: { resumed?: boolean; features?: Element }): void;
  unload(): void;
}

export function testContext(jid = 'dev@example.org'): TestContext {
  const sent: Element[] = [];
  const iqs: PendingIq[] = [];
  const router = new Router((el) => sent.push(el), silentLogger);
  const sessions: ((i: OnlineInfo) => void)[] = [];
  const undo: (() => void)[] = [];
  const ctx: ModuleContext = {
    name: 'test',
    log: silentLogger,
    jid,
    hook: (event, handler, priority) => { undo.push(router.on(event, handler, priority)); },
    addFeature: () => {},
    addItems: () => {},
    onSession: (fn) => { sessions.push(fn); },
    onOffline: () => {},
    send: (el) => { sent.push(el); },
    iq: (req) => new Promise<Element>((resolve, reject) => { iqs.push({ req, resolve, reject }); }),
    every: () => () => {},
    after: () => () => {},
    onUnload: (fn) => { undo.push(fn); },
  };
  return {
    ctx, router, sent, iqs,
    online: (o = {}) => {
      const info = { jid: `${jid}/r`, resumed: o.resumed ?? false, features: o.features ?? x('features') } as unknown as OnlineInfo;
      for (const fn of sessions) fn(info);
    },
    unload: () => { for (const f of undo.splice(0).reverse()) f(); },
  };
}

/** `type to` of each presence sent, for short assertions. */
export function presences(sent: Element[]): string[] {
  return sent.filter((e) => e.name === 'presence').map((e) => `${e.attrs.type ?? 'available'} ${e.attrs.to ?? ''}`.trim());
}

export const tick = () => new Promise((r) => setImmediate(r));
