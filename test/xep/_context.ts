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
  /** Fires the module's onOffline handlers. */
  offline(): void;
  /** The injected clock (ms) that m.after() timers run on. */
  clock: { t: number };
  now(): number;
  /** Moves the clock, running m.after() timers as they come due. */
  advance(ms: number): void;
  unload(): void;
}

export function testContext(jid = 'dev@example.org'): TestContext {
  const sent: Element[] = [];
  const iqs: PendingIq[] = [];
  const router = new Router((el) => sent.push(el), silentLogger);
  const sessions: ((i: OnlineInfo) => void)[] = [];
  const offlines: (() => void)[] = [];
  const undo: (() => void)[] = [];
  const clock = { t: 0 };
  let timers: { at: number; fn: () => void; seq: number }[] = [];
  let seq = 0;
  const ctx: ModuleContext = {
    name: 'test',
    log: silentLogger,
    jid,
    hook: (event, handler, priority) => { undo.push(router.on(event, handler, priority)); },
    addFeature: () => {},
    addItems: () => {},
    onSession: (fn) => { sessions.push(fn); },
    onOffline: (fn) => { offlines.push(fn); },
    send: (el) => { sent.push(el); },
    iq: (req) => new Promise<Element>((resolve, reject) => { iqs.push({ req, resolve, reject }); }),
    every: () => () => {},
    after: (ms, fn) => {
      const tm = { at: clock.t + ms, fn, seq: seq++ };
      timers.push(tm);
      return () => { timers = timers.filter((x) => x !== tm); };
    },
    onUnload: (fn) => { undo.push(fn); },
  };
  return {
    ctx, router, sent, iqs,
    online: (o = {}) => {
      const info = { jid: `${jid}/r`, resumed: o.resumed ?? false, features: o.features ?? x('features') } as unknown as OnlineInfo;
      for (const fn of sessions) fn(info);
    },
    offline: () => { for (const fn of offlines) fn(); },
    clock,
    now: () => clock.t,
    advance: (ms) => {
      const end = clock.t + ms;
      for (;;) {
        const due = timers.filter((tm) => tm.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
        if (!due) break;
        timers = timers.filter((tm) => tm !== due);
        clock.t = Math.max(clock.t, due.at);
        due.fn();
      }
      clock.t = end;
    },
    unload: () => { for (const f of undo.splice(0).reverse()) f(); timers = []; },
  };
}

/** `type to` of each presence sent, for short assertions. */
export function presences(sent: Element[]): string[] {
  return sent.filter((e) => e.name === 'presence').map((e) => `${e.attrs.type ?? 'available'} ${e.attrs.to ?? ''}`.trim());
}

export const tick = () => new Promise((r) => setImmediate(r));
