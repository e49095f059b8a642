// Writes made in one loop turn go out as one socket write (agent/session/connection.ts), and
// the server's XEP-0198 <r/> is answered inside the turn that read it, in the same write as
// what that turn sends. Against each real server of the matrix (XIOTA_SERVER): a burst sent
// in one tick arrives whole and in order in one or two writes, every request is answered,
// the server's acks account for every stanza (h right on both sides), and a receiver whose
// <a/>s rode along with other writes resumes with an h that makes the server resend nothing.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Socket } from 'node:net';
import type { XmppClient } from '../../agent/session/client';
import { x } from '../../agent/xml/element';
import { serverUnderTest, startServer, type XmppServer } from '../../scripts/servers';
import { clientFor, waitFor } from './_helpers';

const t = suite('coalesce');
let srv: XmppServer;
const clients: XmppClient[] = [];

t.before(async () => {
  srv = await startServer(serverUnderTest(), {
    smResumeTimeoutS: 10,
    throughput: true, // ejabberd's stock shaper (3000 B/s) would make the burst the test
    users: [{ user: 'dev', password: 'devpass' }, { user: 'watcher', password: 'watchpass' }],
  });
});
t.after(async () => {
  for (const c of clients) await c.stop().catch(() => {});
  await srv?.cleanup();
});

/** The socket under a client's current connection, with its write() calls counted. */
function countWrites(c: XmppClient): { n: number } {
  const conn = (c as unknown as { conn?: { socket: Socket } }).conn;
  assert.ok(conn, 'the client has a connection');
  const sock = conn.socket;
  const counter = { n: 0 };
  const write = sock.write.bind(sock) as (...a: unknown[]) => boolean;
  (sock as unknown as { write: (...a: unknown[]) => boolean }).write = (...a: unknown[]) => {
    counter.n++;
    return write(...a);
  };
  return counter;
}

t('a burst written in one tick: one socket write, every stanza delivered in order, every request answered, all acknowledged', async () => {
  // ackIntervalMs: the tail of the burst (400 is not a multiple of 32) is asked for when idle.
  const dev = clientFor(srv, 'dev', 'devpass', { resource: 'burst', ackEvery: 32, ackIntervalMs: 500 });
  const w = clientFor(srv, 'watcher', 'watchpass', { resource: 'w-burst' });
  clients.push(dev, w);
  const bodies: string[] = [];
  w.on('stanza', (s) => {
    const b = s.name === 'message' ? s.getChild('body')?.text() : undefined;
    if (b?.startsWith('burst:')) bodies.push(b);
  });
  await w.connectOnce();
  await dev.connectOnce();
  const writes = countWrites(dev);
  const N = 200;
  const pings: Promise<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    dev.send(x('message', { to: `watcher@${srv.host}/w-burst`, type: 'chat' }, x('body', {}, `burst:${i}`)));
    pings.push(dev.iq(x('iq', { type: 'get', to: srv.host }, x('ping', { xmlns: 'urn:xmpp:ping' }))));
  }
  // 400 stanzas and the <r/> every 32 of them asks for, written in one tick.
  await new Promise((r) => setImmediate(r));
  assert.is(writes.n, 1, `socket writes for a burst of ${2 * N} stanzas`);
  await Promise.all(pings);
  await waitFor('every message at the watcher', () => bodies.length === N, 15_000);
  assert.equal(bodies, Array.from({ length: N }, (_, i) => `burst:${i}`), 'in order, none twice');
  // Our h: the server acknowledges all 400 (an h off by one either way would leave some
  // pending, or end the stream with handled-count-too-high).
  await waitFor('all acknowledged by the server', () => dev.unackedCount === 0, 15_000);
  assert.is(dev.state, 'online');
});

t('a receiver answers the server\'s <r/>s inside the turn: its h is right, a resumption resends nothing', async () => {
  const dev = clientFor(srv, 'dev', 'devpass', { resource: 'sender' });
  const w = clientFor(srv, 'watcher', 'watchpass', { resource: 'w-recv', reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
  clients.push(dev, w);
  const seen = new Map<string, number>();
  w.on('stanza', (s) => {
    const b = s.name === 'message' ? s.getChild('body')?.text() : undefined;
    if (b?.startsWith('recv:')) seen.set(b, (seen.get(b) ?? 0) + 1);
  });
  const resumed: boolean[] = [];
  w.on('online', (info) => resumed.push(info.resumed));
  w.start();
  await waitFor('watcher online', () => w.state === 'online');
  await dev.connectOnce();
  const N = 300;
  // In bursts of 30 a few ms apart: the server asks for acks as it goes, the watcher answers
  // each in the turn that read it (riding with anything else it writes there).
  for (let i = 0; i < N; i += 30) {
    for (let k = i; k < i + 30; k++) dev.send(x('message', { to: `watcher@${srv.host}/w-recv`, type: 'chat' }, x('body', {}, `recv:${k}`)));
    await new Promise((r) => setTimeout(r, 5));
  }
  await waitFor('all 300 at the watcher', () => seen.size === N, 15_000);
  await new Promise((r) => setTimeout(r, 300)); // the last <r/> answered
  w.dropConnection();
  await waitFor('the watcher resumed', () => resumed.length === 2, 15_000);
  assert.equal(resumed, [false, true]);
  await new Promise((r) => setTimeout(r, 500)); // anything resent would arrive right behind <resumed/>
  const twice = [...seen].filter(([, n]) => n > 1).map(([b]) => b);
  assert.equal(twice, [], 'no message delivered twice after resumption');
  assert.is(seen.size, N);
});

t.run();
