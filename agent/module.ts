// The module API, Prosody style: a module gets a context, registers everything through it
// (stanza handlers, disco features and items, session hooks, timers), and `unload()` removes
// all of it. The agent installs its modules from one ordered list (agent/modules.ts).
//
//   export function install(m: ModuleContext, deps: {...}): void {
//     m.addFeature(NS_PING);
//     m.hook(`iq/get/${NS_PING}`, (iq) => x('iq', { type: 'result', id: iq.attrs.id, to: iq.attrs.from }));
//   }
import type { Logger } from './log';
import type { OnlineInfo, XmppClient } from './session/client';
import type { Handler } from './session/router';
import type { Element } from './xml/element';
import type { Disco, DiscoItem } from './xep/disco';

export interface ModuleContext {
  /** The module's name (logs carry it as `module`). */
  readonly name: string;
  readonly log: Logger;
  /** Our own bare JID (the account the agent runs as). */
  readonly jid: string;
  /**
   * Hooks a router event (`iq/get/<ns>`, `iq/set/<ns>`, `message`, `message/<ns>`,
   * `presence`, `presence/<ns>`). For an iq, return the payload element (or a whole iq) to
   * answer, or throw a StanzaError; return undefined to pass to the next handler.
   */
  hook(event: string, handler: Handler, priority?: number): void;
  /** A disco#info feature (XEP-0030), also hashed into caps (XEP-0115). */
  addFeature(ns: string): void;
  /** disco#items entries at the root node, computed on each query. */
  addItems(source: (asker: string) => DiscoItem[]): void;
  /** Called when a session is online: `resumed` says whether XEP-0198 resumed the old one. */
  onSession(fn: (info: OnlineInfo) => void): void;
  /** Called when the session drops (it will reconnect by itself). */
  onOffline(fn: () => void): void;
  /** Sends a stanza now or when back online (the session's bounded queue). */
  send(el: Element): void;
  /** An iq request; resolves with the result, rejects with a StanzaError or a timeout. */
  iq(req: Element, timeoutMs?: number): Promise<Element>;
  /** setInterval that unload() clears; returns a function that clears it earlier. */
  every(ms: number, fn: () => void): () => void;
  /** setTimeout that unload() clears; returns a function that clears it earlier. */
  after(ms: number, fn: () => void): () => void;
  /** Anything else to undo on unload (run in reverse order of registration). */
  onUnload(fn: () => void): void;
}

export interface LoadedModule {
  readonly name: string;
  unload(): void;
}

/** Gives modules their contexts over one client and one disco, and unloads them in reverse. */
export class ModuleHost {
  private readonly loaded: LoadedModule[] = [];

  constructor(private readonly client: XmppClient, private readonly disco: Disco, private readonly log: Logger) {}

  context(name: string): ModuleContext & { unload(): void } {
    const undo: (() => void)[] = [];
    const client = this.client;
    const disco = this.disco;
    const scope = client.router.scope();
    undo.push(scope.unload);
    const ctx = {
      name,
      log: this.log.child({ module: name }),
      get jid() { return client.bare; },
      hook: (event: string, handler: Handler, priority?: number) => { scope.on(event, handler, priority); },
      addFeature: (ns: string) => { undo.push(disco.addFeature(ns)); },
      addItems: (source: (asker: string) => DiscoItem[]) => { undo.push(disco.addItems(source)); },
      onSession: (fn: (info: OnlineInfo) => void) => {
        client.on('online', fn);
        undo.push(() => client.off('online', fn));
      },
      onOffline: (fn: () => void) => {
        client.on('offline', fn);
        undo.push(() => client.off('offline', fn));
      },
      send: (el: Element) => client.send(el),
      iq: (req: Element, timeoutMs?: number) => client.iq(req, timeoutMs),
      every: (ms: number, fn: () => void) => {
        const t = setInterval(fn, ms);
        t.unref?.();
        const clear = () => clearInterval(t);
        undo.push(clear);
        return clear;
      },
      after: (ms: number, fn: () => void) => {
        const t = setTimeout(fn, ms);
        t.unref?.();
        const clear = () => clearTimeout(t);
        undo.push(clear);
        return clear;
      },
      onUnload: (fn: () => void) => { undo.push(fn); },
      unload: () => {
        for (const f of undo.splice(0).reverse()) {
          try { f(); } catch (e) { this.log.warn('module unload step failed', { module: name, error: e as Error }); }
        }
      },
    };
    return ctx;
  }

  /** Loads one module: `install` registers through the context. */
  load(name: string, install: (m: ModuleContext) => void): LoadedModule {
    const ctx = this.context(name);
    try {
      install(ctx);
    } catch (e) {
      ctx.unload();
      throw e;
    }
    const mod = { name, unload: ctx.unload };
    this.loaded.push(mod);
    return mod;
  }

  names(): string[] {
    return this.loaded.map((m) => m.name);
  }

  /** Unloads every module, last loaded first. */
  unloadAll(): void {
    for (const m of this.loaded.splice(0).reverse()) m.unload();
  }
}
