// stop() while a login is still under way (`systemctl stop` on a slow or dead link) ends it at
// once: before, it waited for the login's own timeout (20 s by default), and a login that
// completed after stop() went online anyway. A stalled proxy in front of a real Prosody.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startServer, type XmppServer } from '../../scripts/servers';
import { startProxy, type TcpProxy } from '../servers/proxy';
import { clientFor } from './_helpers';

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
  const c = clientFor({ ...srv, host: srv.host, caFile: srv.caFile, c2sPort: proxy.port }, 'dev', 'devpass', { connectTimeoutMs: 20_000 });
  const states: string[] = [];
  c.on('state', (s: string) => states.push(s));
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
});

test('a stopped client can be started again', async () => {
  proxy.unstall();
  const c = clientFor(srv, 'dev', 'devpass');
  c.start();
  await c.stop();
  c.start();
  const t0 = Date.now();
  while (c.state !== 'online' && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 20));
  assert.is(c.state, 'online');
  await c.stop();
});

test.run();
