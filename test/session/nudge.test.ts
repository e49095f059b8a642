// Connection.nudge(): after an element we answer with nothing (the server's XEP-0198 <a/>), a
// busy stream gets a single space so our TCP ACK leaves at once instead of after the kernel's
// delayed-ACK time (a server with Nagle on holds its next small segment until then). A quiet
// stream gets nothing, and a read turn that writes anyway adds no space. A real loopback TCP
// pair: the "server" side records every byte the Connection writes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Connection } from '../../agent/session/connection';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HEADER = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='xiota.test' id='s1' version='1.0'>";

interface Pair { conn: Connection; peer: Socket; seen: () => string; client: Socket; server: Server }

async function pair(): Promise<Pair> {
  let received = '';
  let peer!: Socket;
  const server = createServer((s) => {
    peer = s;
    s.setNoDelay(true);
    s.on('data', (d) => (received += d.toString()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const client = connect(port, '127.0.0.1');
  client.setNoDelay(true);
  await new Promise<void>((r) => client.once('connect', r));
  while (!peer) await sleep(5);
  const conn = new Connection(client, { domain: 'xiota.test', maxStanzaBytes: 65536 });
  peer.write(HEADER);
  await sleep(50);
  return { conn, peer, client, server, seen: () => received };
}

/** The server sends `data`; in that read turn the session nudges (as it does for an <a/>), and maybe writes. */
async function deliver(p: Pair, data: string, write?: string): Promise<void> {
  await new Promise<void>((resolve) => {
    p.client.once('data', () => {
      // Runs after Connection's own data listener, in the same read turn.
      p.conn.nudge();
      if (write) p.conn.write(write);
      resolve();
    });
    p.peer.write(data);
  });
  await sleep(60);
}

async function close(p: Pair): Promise<void> {
  p.client.destroy();
  p.peer.destroy();
  await new Promise((r) => p.server.close(r));
}

test('a busy stream: the read turn that only nudges writes one space', async () => {
  const p = await pair();
  await deliver(p, "<a xmlns='urn:xmpp:sm:3' h='1'/>");
  const before = p.seen();
  // Within NUDGE_BUSY_MS (200) of the previous data: busy.
  await deliver(p, "<a xmlns='urn:xmpp:sm:3' h='2'/>");
  assert.is(p.seen().slice(before.length), ' ', 'one space after the busy <a/>');
  await close(p);
});

test('a quiet stream: no byte is written for the nudge', async () => {
  const p = await pair();
  await sleep(300);
  const before = p.seen();
  await deliver(p, "<a xmlns='urn:xmpp:sm:3' h='1'/>");
  assert.is(p.seen().slice(before.length), '', 'nothing after a quiet <a/>');
  await close(p);
});

test('a busy read turn that writes anyway adds no space', async () => {
  const p = await pair();
  await deliver(p, "<a xmlns='urn:xmpp:sm:3' h='1'/>");
  const before = p.seen();
  await deliver(p, "<a xmlns='urn:xmpp:sm:3' h='2'/>", '<r/>');
  assert.is(p.seen().slice(before.length), '<r/>', 'only what the turn wrote');
  await close(p);
});

test.run();
