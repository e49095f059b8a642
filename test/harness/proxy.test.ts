// Self-test of the fault-injection proxy: it forwards both ways and counts, cut() resets
// live connections but keeps listening, stall() silences the link without closing it and
// unstall() lets the held bytes through, refuse() closes new connections; TLS to a real
// Prosody passes through untouched.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { startProxy, type TcpProxy } from '../servers/proxy';
import { startProsody, type ProsodyServer } from '../../scripts/local-prosody';
import { canConnect } from '../servers/process';
import { rawTcp, rawTls, type Raw } from './_raw';

// Target: an echo server counting what it received, so we can tell a stall from a loss.
let echo: Server;
let echoPort = 0;
let echoReceived = 0;
const echoSockets = new Set<Socket>();
let proxy: TcpProxy;
let prosody: ProsodyServer | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.before(async () => {
  echo = createServer((s) => {
    echoSockets.add(s);
    s.on('close', () => echoSockets.delete(s));
    s.on('error', () => {});
    s.on('data', (d) => { echoReceived += d.length; s.write(d); });
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  echoPort = (echo.address() as { port: number }).port;
  proxy = await startProxy({ port: echoPort });
});

test.after(async () => {
  await proxy?.close();
  for (const s of echoSockets) s.destroy();
  await new Promise<void>((r) => echo.close(() => r()));
  await prosody?.cleanup();
});

test('forwards both ways and counts connections and bytes', async () => {
  const c = await rawTcp(proxy.port);
  c.write('ping-1');
  assert.is(await c.until(/ping-1/), 'ping-1');
  assert.is(proxy.stats.accepted, 1);
  assert.is(proxy.stats.active, 1);
  assert.is(proxy.stats.bytesUp, 6);
  assert.is(proxy.stats.bytesDown, 6);
  c.close();
});

test('refuses a target outside loopback', async () => {
  let err: unknown;
  try { await startProxy({ port: 1, host: '192.0.2.1' }); } catch (e) { err = e; }
  assert.match(String(err), /not on 127\.0\.0\.0\/8/);
});

test('cut() resets live connections and keeps listening', async () => {
  const c = await rawTcp(proxy.port);
  c.write('x');
  await c.until(/x/);
  let resetSeen = '';
  c.sock.on('error', (e: NodeJS.ErrnoException) => (resetSeen = e.code ?? ''));
  proxy.cut();
  await waitUntil(() => c.closed);
  assert.is(resetSeen, 'ECONNRESET', 'abrupt reset, not a graceful FIN');
  assert.ok(proxy.stats.cut >= 1);
  await waitUntil(() => proxy.stats.active === 0);
  const again = await rawTcp(proxy.port);
  again.write('after-cut');
  assert.is(await again.until(/after-cut/), 'after-cut');
  again.close();
});

test('stall() holds bytes without closing; unstall() delivers them', async () => {
  const c = await rawTcp(proxy.port);
  c.write('before');
  await c.until(/before/);
  proxy.stall();
  assert.ok(proxy.stalled);
  const before = echoReceived;
  c.write('during-stall');
  await sleep(300);
  assert.is(echoReceived, before, 'target received nothing while stalled');
  assert.is(c.buf, '', 'client received nothing while stalled');
  assert.not.ok(c.closed, 'connection stays open');
  // A connection made during the stall is accepted but silent too.
  const late = await rawTcp(proxy.port);
  late.write('late');
  await sleep(200);
  assert.is(late.buf, '');
  proxy.unstall();
  assert.is(await c.until(/during-stall/), 'during-stall');
  assert.is(await late.until(/late/), 'late');
  c.close();
  late.close();
});

test('refuse(true) closes new connections at once; refuse(false) restores service', async () => {
  proxy.refuse(true);
  const before = proxy.stats.refused;
  // The reset can land before or after the client sees the connect: both are a refusal.
  const received = await new Promise<string>((resolve) => {
    let got = '';
    const s = createConnection({ port: proxy.port, host: '127.0.0.1' }, () => s.write('hello'));
    s.on('data', (d) => (got += d));
    s.on('error', () => {});
    s.on('close', () => resolve(got));
  });
  assert.is(received, '');
  assert.is(proxy.stats.refused, before + 1);
  proxy.refuse(false);
  const ok = await rawTcp(proxy.port);
  ok.write('back');
  assert.is(await ok.until(/back/), 'back');
  ok.close();
});

test('waitForConnections() resolves when a client (re)connects', async () => {
  const n = proxy.stats.accepted + 1;
  const waiting = proxy.waitForConnections(n, 2000);
  const c = await rawTcp(proxy.port);
  await waiting;
  c.close();
  let err: unknown;
  try { await proxy.waitForConnections(n + 5, 100); } catch (e) { err = e; }
  assert.match(String(err), /wanted/);
});

test('TLS to a real Prosody passes through end to end and verifies', async () => {
  prosody = await startProsody({});
  const p = await startProxy({ port: prosody.directTlsPort });
  let c: Raw | undefined;
  try {
    c = await rawTls(p.port, { ca: readFileSync(prosody.caFile), servername: prosody.host });
    assert.ok((c.sock as TLSSocket).authorized);
    c.write(`<?xml version='1.0'?><stream:stream to='${prosody.host}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`);
    assert.match(await c.until(/<\/stream:features>/), /<mechanisms/);
    p.cut();
    await waitUntil(() => c!.closed);
  } finally {
    c?.close();
    await p.close();
  }
  assert.not.ok(await canConnect(p.port), 'closed proxy no longer listens');
});

async function waitUntil(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

test.run();
