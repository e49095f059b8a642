// stop() while a login is still under way (`systemctl stop` on a slow or dead link) ends it at
// once: before, it waited for the login's own timeout (20 s by default), and a login that
// completed after stop() went online anyway. A stalled proxy in front of a real Prosody.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type XmppServer } from '../../scripts/servers';
import { startProxy, type TcpProxy } from '../servers/proxy';
import { clientFor } from './_helpers';

/** What keeps the event loop alive (ref'd timers, sockets, servers, child processes), as counts.
 *  Taken from a setImmediate callback: inside a timer callback (uvu runs tests from one, and
 *  waitFor polls with one) the timer that is firing still counts. */
function loopHolders(): Promise<Map<string, number>> {
  return new Promise((resolve) => setImmediate(() => {
    const m = new Map<string, number>();
    for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
    resolve(m);
  }));
}
/** What is held now beyond `before` ("Timeout +1"), empty when nothing is. */
async function heldBeyond(before: Map<string, number>): Promise<string[]> {
  return [...await loopHolders()].filter(([k, n]) => n > (before.get(k) ?? 0)).map(([k, n]) => `${k} +${n - (before.get(k) ?? 0)}`);
}
/** A stopped client must leave nothing behind that keeps the process alive (a daemon that
 *  stops on SIGTERM would linger until a login timer fired, 20 s by default). The proxy's own
 *  side of a closed connection may take a moment to see the FIN: up to 1 s for it. */
async function assertNothingHeld(before: Map<string, number>, what: string): Promise<void> {
  let held = await heldBeyond(before);
  for (const t0 = Date.now(); held.length && Date.now() - t0 < 1000; held = await heldBeyond(before)) await new Promise((r) => setTimeout(r, 20));
  assert.equal(held, [], `${what} left active handles: ${held.join(', ')}`);
}

let srv: XmppServer;
let proxy: TcpProxy;
test.before(async () => {
  srv = await startServer('prosody-0.12', { users: [{ user: 'dev', password: 'devpass' }] });
  proxy = await startProxy({ port: srv.c2sPort });
});
test.after(async () => {
  await proxy?.close();
  await srv?.cleanup();
});

test('stop() during a stalled login returns at once and never goes online', async () => {
  proxy.stall();
  const before = await loopHolders();
  const c = clientFor({ ...srv, host: srv.host, caFile: srv.caFile, c2sPort: proxy.port }, 'dev', 'devpass', { connectTimeoutMs: 20_000 });
  const states: string[] = [];
  c.on('state', (s: string) => states.push(s));
  const errors: string[] = [];
  c.on('error', (e: Error & { code?: string }) => errors.push(e.code ?? e.message));
  c.start();
  let took: number;
  try {
    // The proxy takes the TCP connection but passes no byte: the login waits for the server.
    await new Promise((r) => setTimeout(r, 800));
    assert.ok(['connecting', 'securing'].includes(c.state), `logging in (${c.state})`);
  } finally {
    const t0 = Date.now();
    await c.stop();
    took = Date.now() - t0;
  }
  assert.ok(took < 1500, `stop took ${took} ms (the login timeout is 20 s)`);
  assert.is(c.state, 'stopped');
  // The link comes back: nothing may log in behind the stopped client's back.
  proxy.unstall();
  await new Promise((r) => setTimeout(r, 1000));
  assert.not.ok(states.includes('online'), `states: ${states.join(' ')}`);
  assert.is(c.state, 'stopped');
  // The login stop() ended is not an error the client reports.
  assert.equal(errors, [], 'errors reported for a login that stop() ended');
  await assertNothingHeld(before, 'stop() during a stalled login');
});

test('a stopped client can be started again', async () => {
  proxy.unstall();
  const before = await loopHolders();
  const c = clientFor(srv, 'dev', 'devpass');
  c.start();
  // stop() before the TCP connect completes: the connection it then gets is ended, and the
  // login of that older start neither waits for its 20 s stream timeout nor keeps a timer.
  let t0 = Date.now();
  await c.stop();
  const took = Date.now() - t0;
  await assertNothingHeld(before, 'stop() before the TCP connect completed');
  assert.ok(took < 1000, `stop() before the connect took ${took} ms (it waited for the login)`);
  c.start();
  t0 = Date.now();
  while (c.state !== 'online' && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
  assert.is(c.state, 'online');
  await c.stop();
  await assertNothingHeld(before, 'stop() of an online client');
});

test.run();
