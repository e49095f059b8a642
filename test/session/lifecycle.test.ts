// connectOnce() then start(): one connection, not two. A second one resumed the session from
// a new socket while the first still delivered stanzas; both were counted, the client
// reported an h above what the server sent, and Prosody ended the stream (found by the
// Prosody-kill fault test's watcher: "Client acknowledged more stanzas than sent by server").
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { x } from '../../agent/xml/element';
import { startProsody, type ProsodyServer } from '../../scripts/local-prosody';
import { startProxy, type TcpProxy } from '../servers/proxy';
import { clientFor, waitFor } from './_helpers';

const t = suite('session lifecycle');
let srv: ProsodyServer;
let proxy: TcpProxy;
t.before(async () => {
  srv = await startProsody({ users: [{ user: 'a', password: 'apass' }, { user: 'b', password: 'bpass' }] });
  proxy = await startProxy({ port: srv.c2sPort });
});
t.after(async () => {
  await proxy?.close();
  await srv?.stop();
});

t('start() after connectOnce() keeps the one session; SM counts stay right under traffic', async () => {
  const a = clientFor(srv, 'a', 'apass', { server: { host: '127.0.0.1', port: proxy.port }, resource: 'r' });
  const b = clientFor(srv, 'b', 'bpass', { resource: 'r' });
  const got: string[] = [];
  a.router.on('message', (m) => {
    got.push(m.getChildText('body') ?? '');
    return true;
  });
  const offline: string[] = [];
  a.on('offline', (e: Error) => offline.push(e.message));
  try {
    await a.connectOnce();
    await b.connectOnce();
    a.start();
    // Available (RFC 6121 4.2): chat to a full JID reaches a resource that sent presence.
    a.send(x('presence'));
    await a.ping();
    const N = 300;
    for (let i = 0; i < N; i++) b.send(x('message', { to: `a@${srv.host}/r`, type: 'chat' }, x('body', {}, String(i))));
    await waitFor('all messages at a', () => got.length >= N, 10_000);
    // Acks both ways after the burst: an over-counted h would end the stream here.
    await a.ping();
    await new Promise((r) => setTimeout(r, 300));
    assert.is(proxy.stats.accepted, 1, 'one connection through the proxy');
    assert.equal(offline, []);
    assert.is(a.state, 'online');
    assert.is(got.length, N);
    // The loop still owns the session: a drop reconnects.
    a.dropConnection();
    await waitFor('online again', () => a.state === 'online' && proxy.stats.accepted === 2, 10_000);
  } finally {
    await a.stop();
    await b.stop();
  }
});

t.run();
