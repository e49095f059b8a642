// Helpers for the IoT client's integration tests: a xiota agent carrying a tiny test-only
// module that makes a Remote (agent/iot/remote.ts) over the agent's own session, and a bare
// session with only that module (a stranger, or a second login of an account).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { Agent } from '../../agent/agent';
import { configFromObject } from '../../agent/config';
import { createRemote, type Remote } from '../../agent/iot/remote';
import { silentLogger } from '../../agent/log';
import { ModuleHost } from '../../agent/module';
import type { ClientOptions, XmppClient } from '../../agent/session/client';
import { Disco } from '../../agent/xep/disco';
import type { Driver } from '../../drivers/types';
import type { XmppServer } from '../../scripts/servers';
import { clientFor, onceOnline, waitFor } from '../session/_helpers';

export const FAST_RECONNECT = { initialDelayMs: 50, maxDelayMs: 400 };

export interface AgentWithRemote { agent: Agent; remote: Remote; dir: string }

/** A xiota agent on `srv` (account user/password, resource `gw`), online, with a Remote. */
export async function startAgent(srv: XmppServer, user: string, password: string, o: { drivers?: Driver[]; access?: Record<string, unknown>; client?: Partial<ClientOptions> } = {}): Promise<AgentWithRemote> {
  const dir = mkdtempSync(join(tmpdir(), `xiota-remote-${user}-`));
  const r = configFromObject({
    account: { jid: `${user}@${srv.host}/gw`, password },
    server: { host: '127.0.0.1', port: srv.c2sPort },
    tls: { ca_file: srv.caFile },
    outbox: { dir: join(dir, 'outbox'), flush_interval_ms: 20 },
    publish: { deadband: 0, min_interval_s: 0 },
    ...(o.access ? { access: o.access } : {}),
  });
  assert.equal(r.errors, []);
  const agent = new Agent({
    config: r.config!, credentials: { password, source: 'password', warnings: [] }, drivers: o.drivers ?? [],
    client: { reconnect: FAST_RECONNECT, ...o.client },
  });
  let remote: Remote | undefined;
  // The test-only module: the local API's module does the same (createRemote in its install).
  agent.modules.load('remote-test', (m) => { remote = createRemote(m, { now: Date.now, log: m.log }); });
  await agent.start();
  await waitFor(`${user} online`, () => agent.client.state === 'online', 15_000);
  return { agent, remote: remote!, dir };
}

/** A plain session of `user` with only a Remote on it (no thing-side modules). */
export async function startBareRemote(srv: XmppServer, user: string, password: string, resource: string): Promise<{ client: XmppClient; remote: Remote }> {
  const client = clientFor(srv, user, password, { resource, reconnect: FAST_RECONNECT });
  const host = new ModuleHost(client, new Disco(), silentLogger);
  let remote: Remote | undefined;
  host.load('remote', (m) => { remote = createRemote(m, { now: Date.now, log: silentLogger }); });
  client.start();
  await onceOnline(client, 15_000);
  return { client, remote: remote! };
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; detail?: Record<string, unknown>; condition?: string; text?: string; params?: { var: string; message: string }[] }> {
  try {
    const v = await p;
    throw new Error(`expected a rejection, got ${JSON.stringify(v)}`);
  } catch (e) {
    if (e instanceof Error && e.message.startsWith('expected a rejection')) throw e;
    return e as Error;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Calls `fn` until it resolves (pausing `everyMs` after each failure), or rethrows its last error after `timeoutMs`. */
export async function retry<T>(what: string, fn: () => Promise<T>, timeoutMs = 10_000, everyMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw new Error(`${what}: still failing after ${timeoutMs} ms: ${(e as Error).message}`);
      await sleep(everyMs);
    }
  }
}
