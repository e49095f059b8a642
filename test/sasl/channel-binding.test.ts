import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { ScramMechanism } from '../../agent/sasl/scram';
import { channelBindingFromTls, chooseChannelBinding, tlsServerEndPoint } from '../../agent/sasl/channel-binding';
import type { AddressInfo } from 'node:net';

const SF = 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096';

test('c= is base64 of the gs2 header followed by the binding data (RFC 5802 7)', async () => {
  const data = Buffer.from('0123456789ab', 'hex');
  const choice = chooseChannelBinding(true, true, { tlsVersion: 'TLSv1.2', tlsUnique: data });
  assert.is(choice.flag, 'p');
  const m = new ScramMechanism({ hash: 'SHA-1', plus: true, username: 'user', password: 'pencil', cb: choice, clientNonce: 'fyko+d2lbbFgONRv9qkxdawL' });
  assert.is(m.name, 'SCRAM-SHA-1-PLUS');
  assert.is(m.channelBinding, 'tls-unique');
  assert.is((await m.initialResponse()).toString(), 'p=tls-unique,,n=user,r=fyko+d2lbbFgONRv9qkxdawL');
  const final = (await m.challenge(Buffer.from(SF))).toString();
  const c = Buffer.from(final.split(',')[0]!.slice(2), 'base64');
  assert.equal(c, Buffer.concat([Buffer.from('p=tls-unique,,'), data]));
  // the proof covers the binding: different data, different proof
  const m2 = new ScramMechanism({ hash: 'SHA-1', plus: true, username: 'user', password: 'pencil', cb: { flag: 'p', type: 'tls-unique', data: Buffer.alloc(6) }, clientNonce: 'fyko+d2lbbFgONRv9qkxdawL' });
  await m2.initialResponse();
  assert.is.not((await m2.challenge(Buffer.from(SF))).toString().split('p=')[1], final.split('p=')[1]);
});

test('flag y gives c=eSws ("y,,")', async () => {
  const m = new ScramMechanism({ hash: 'SHA-1', plus: false, username: 'user', password: 'pencil', cb: { flag: 'y' }, clientNonce: 'fyko+d2lbbFgONRv9qkxdawL' });
  assert.is((await m.initialResponse()).toString(), 'y,,n=user,r=fyko+d2lbbFgONRv9qkxdawL');
  assert.match((await m.challenge(Buffer.from(SF))).toString(), /^c=eSws,/);
});

// A real TLS connection on 127.0.0.1: the data we read must be what the server side sees.
function makeCert(dir: string, sigHash: string): { key: Buffer; cert: Buffer } {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', `-${sigHash}`, '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
  return { key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) };
}

async function handshake(maxVersion: 'TLSv1.2' | 'TLSv1.3', sigHash = 'sha256'): Promise<{ client: TLSSocket; server: TLSSocket; certPem: Buffer; close: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-cb-'));
  try {
    const { key, cert } = makeCert(dir, sigHash);
    let serverSock!: TLSSocket;
    const srv = createServer({ key, cert, maxVersion }, (s) => { serverSock = s; });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    const client = connect({ host: '127.0.0.1', port, ca: cert, servername: 'localhost', maxVersion });
    await new Promise<void>((res, rej) => { client.once('secureConnect', res); client.once('error', rej); });
    while (!serverSock) await new Promise((r) => setTimeout(r, 5));
    return { client, server: serverSock, certPem: cert, close: () => { client.destroy(); serverSock.destroy(); srv.close(); } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('TLS 1.2: tls-unique is the client Finished the server also sees; server-end-point is SHA-256 of the cert', async () => {
  const h = await handshake('TLSv1.2');
  try {
    const info = channelBindingFromTls(h.client, undefined);
    assert.is(info.tlsVersion, 'TLSv1.2');
    assert.ok(info.tlsUnique && info.tlsUnique.length >= 12);
    assert.equal(info.tlsUnique, h.server.getPeerFinished());
    assert.is(info.tlsExporter, undefined);
    const raw = new X509Certificate(h.certPem).raw;
    assert.equal(info.tlsServerEndPoint, createHash('sha256').update(raw).digest());
  } finally { h.close(); }
});

test('TLS 1.2 resumed session: tls-unique is the server Finished, sent first in an abbreviated handshake (RFC 5929 3.1)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-cb-'));
  const { key, cert } = makeCert(dir, 'sha256');
  rmSync(dir, { recursive: true, force: true });
  const servers: TLSSocket[] = [];
  const srv = createServer({ key, cert, maxVersion: 'TLSv1.2' }, (s) => { servers.push(s); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  const open = async (session?: Buffer): Promise<TLSSocket> => {
    const c = connect({ host: '127.0.0.1', port, ca: cert, servername: 'localhost', maxVersion: 'TLSv1.2', session });
    await new Promise<void>((res, rej) => { c.once('secureConnect', res); c.once('error', rej); });
    return c;
  };
  const first = await open();
  const second = await open(first.getSession());
  try {
    assert.ok(second.isSessionReused());
    while (servers.length < 2) await new Promise((r) => setTimeout(r, 5));
    const info = channelBindingFromTls(second);
    assert.equal(info.tlsUnique, servers[1]!.getFinished());
    assert.is.not(info.tlsUnique?.toString('hex'), second.getFinished()?.toString('hex'));
  } finally {
    first.destroy(); second.destroy(); for (const s of servers) s.destroy(); srv.close();
  }
});

test('TLS 1.3: tls-exporter matches the server side (RFC 9266), no tls-unique', async () => {
  const h = await handshake('TLSv1.3');
  try {
    const info = channelBindingFromTls(h.client, ['tls-exporter']);
    assert.is(info.tlsVersion, 'TLSv1.3');
    assert.is(info.tlsUnique, undefined);
    assert.is(info.tlsExporter?.length, 32);
    assert.equal(info.tlsExporter, h.server.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0)));
    assert.equal(info.serverCbTypes, ['tls-exporter']);
  } finally { h.close(); }
});

test('tls-server-end-point uses the certificate signature hash (SHA-384 stays SHA-384, RFC 5929 4.1)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-cb-'));
  try {
    const raw = new X509Certificate(makeCert(dir, 'sha384').cert).raw;
    assert.equal(tlsServerEndPoint(raw), createHash('sha384').update(raw).digest());
    assert.is(tlsServerEndPoint(Buffer.from('not a certificate')), undefined);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test.run();
