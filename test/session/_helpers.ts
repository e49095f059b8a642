// Shared helpers for session integration tests: clients against the harness's Prosody.
import { XmppClient, type ClientOptions } from '../../agent/session/client';
import type { ProsodyServer } from '../../scripts/local-prosody';

export function clientFor(srv: Pick<ProsodyServer, 'host' | 'c2sPort' | 'caFile'>, user: string, password: string, extra: Partial<ClientOptions> = {}): XmppClient {
  return new XmppClient({
    jid: `${user}@${srv.host}`,
    credentials: { username: user, password },
    server: { host: '127.0.0.1', port: srv.c2sPort },
    tls: { caFile: srv.caFile },
    reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
    ...extra,
  });
}

/** A client for the hostile-server fixture (test/servers/fake-xmpp.ts: dev@xiota.test, SASL PLAIN inside TLS). */
export function fixtureClient(port: number, caFile: string, extra: Partial<ClientOptions> = {}): XmppClient {
  return new XmppClient({
    jid: 'dev@xiota.test',
    credentials: { username: 'dev', password: 'pw' },
    server: { host: '127.0.0.1', port },
    tls: { caFile },
    allowPlain: true, // the fixture speaks SASL PLAIN only (inside TLS)
    pingIntervalMs: 60_000,
    ...extra,
  });
}

/**
 * Polls `fn` until it gives a value other than undefined or false, and resolves with it. An
 * async `fn` is awaited (its promise is not the value: a pending promise would pass at once).
 */
export function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, everyMs = 20): Promise<T> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const check = (v: T | undefined | false) => {
      if (v !== undefined && v !== false) return resolve(v);
      if (Date.now() - t0 > timeoutMs) return reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      setTimeout(tick, everyMs);
    };
    const tick = () => {
      let v: T | undefined | false | Promise<T | undefined | false>;
      try {
        v = fn();
      } catch (e) {
        return reject(e);
      }
      if (v instanceof Promise) v.then(check, reject);
      else check(v);
    };
    tick();
  });
}

export function onceOnline(c: XmppClient, timeoutMs = 10_000): Promise<void> {
  if (c.state === 'online') return Promise.resolve();
  return waitFor('online', () => c.state === 'online', timeoutMs).then(() => undefined);
}
