// The thin path end to end against each real server of the matrix (XIOTA_SERVER): connect, STARTTLS or direct TLS, SCRAM,
// bind, stream management, one iq out and back; and the failures a user can meet, each with
// the error code and a message naming the cause.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { XiotaError } from '../../agent/errors';
import { deriveScramKeys, ScramKeyCache } from '../../agent/sasl';
import { StanzaError } from '../../agent/session/stanza';
import { Disco, NS_DISCO_INFO } from '../../agent/xep/disco';
import * as basic from '../../agent/xep/basic';
import { NS_TIME, NS_VERSION } from '../../agent/xep/basic';
import * as discoModule from '../../agent/xep/disco';
import * as presence from '../../agent/xep/presence';
import { ModuleHost } from '../../agent/module';
import { silentLogger } from '../../agent/log';
import { x } from '../../agent/xml/element';
import { serverUnderTest, startServer, type XmppServer } from '../../scripts/servers';
import { onlyOn } from '../servers/matrix';
import { clientFor, waitFor } from './_helpers';

const t = suite('login');
const label = serverUnderTest();
let srv: XmppServer;
let plain: XmppServer | undefined;

t.before(async () => {
  srv = await startServer(label, { passwordHash: 'SHA-256', users: [{ user: 'dev', password: 'devpass' }, { user: 'watcher', password: 'watchpass' }] });
});
t.after(async () => {
  await srv?.cleanup();
  await plain?.cleanup();
});

async function expectError(p: Promise<unknown>, code: string, re: RegExp): Promise<XiotaError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, XiotaError);
    const err = e as XiotaError;
    assert.is(err.code, code, err.message);
    assert.match(err.message, re);
    return err;
  }
  assert.unreachable(`expected ${code}`);
  throw new Error('unreachable');
}

t('STARTTLS + SCRAM-SHA-256 + bind + SM, ping round trip', async () => {
  const c = clientFor(srv, 'dev', 'devpass');
  const states: string[] = [];
  c.on('state', (s) => states.push(s));
  const info = await c.connectOnce();
  assert.match(info.jid, /^dev@xiota\.test\//);
  assert.is(info.sm, 'enabled');
  assert.match(info.mechanism, /^SCRAM-SHA-256/);
  assert.ok(['TLSv1.2', 'TLSv1.3'].includes(info.tls.version));
  assert.equal(states, ['connecting', 'securing', 'authenticating', 'binding', 'online']);
  const rtt = await c.ping();
  assert.ok(rtt > 0 && rtt < 5000);
  await c.stop();
  assert.is(c.state, 'stopped');
});

t('direct TLS (XEP-0368)', async () => {
  const c = clientFor(srv, 'dev', 'devpass', { server: { host: '127.0.0.1', port: srv.directTlsPort, directTls: true } });
  const info = await c.connectOnce();
  assert.match(info.endpoint, /direct TLS/);
  await c.stop();
});

t('answers disco#info with caps-consistent features, version, time; service-unavailable for the unknown', async () => {
  const dev = clientFor(srv, 'dev', 'devpass');
  const disco = new Disco();
  const host = new ModuleHost(dev, disco, silentLogger);
  host.load('disco', (m) => discoModule.install(m, { disco }));
  host.load('basics', (m) => basic.install(m, { software: { name: 'xiota', version: '9.9.9' } }));
  host.load('presence', (m) => presence.install(m, { disco, presence: { status: 'up' } }));
  const w = clientFor(srv, 'watcher', 'watchpass', { resource: 'w' });
  await dev.connectOnce();
  await w.connectOnce();
  const to = dev.jid;
  const info = await w.iq(x('iq', { type: 'get', to }, x('query', { xmlns: NS_DISCO_INFO })));
  const feats = info.getChild('query', NS_DISCO_INFO)!.getChildren('feature').map((f) => f.attrs.var);
  for (const f of ['urn:xmpp:ping', NS_VERSION, NS_TIME, NS_DISCO_INFO]) assert.ok(feats.includes(f), `feature ${f}`);
  const ver = await w.iq(x('iq', { type: 'get', to }, x('query', { xmlns: NS_VERSION })));
  assert.is(ver.getChild('query', NS_VERSION)!.getChildText('version'), '9.9.9');
  const time = await w.iq(x('iq', { type: 'get', to }, x('time', { xmlns: NS_TIME })));
  assert.match(time.getChild('time', NS_TIME)!.getChildText('utc')!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const pong = await w.ping(to);
  assert.ok(pong > 0);
  // XEP-0115: querying node#ver answers too.
  const capsInfo = await w.iq(x('iq', { type: 'get', to }, x('query', { xmlns: NS_DISCO_INFO, node: `https://xiota.dev/caps#${disco.ver()}` })));
  assert.ok(capsInfo.getChild('query', NS_DISCO_INFO));
  try {
    await w.iq(x('iq', { type: 'get', to }, x('query', { xmlns: 'urn:example:nobody' })));
    assert.unreachable('expected an error');
  } catch (e) {
    assert.instance(e, StanzaError);
    assert.is((e as StanzaError).condition, 'service-unavailable');
  }
  await dev.stop();
  await w.stop();
});

t('caps ver hash matches XEP-0115 5.2 example', () => {
  const d = new Disco();
  d.identities = [{ category: 'client', type: 'pc', name: 'Exodus 0.9.1' }];
  // Remove our defaults and set the example's features exactly.
  for (const f of d.featureList()) d.addFeature(f)();
  for (const f of ['http://jabber.org/protocol/caps', 'http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/disco#items', 'http://jabber.org/protocol/muc']) d.addFeature(f);
  assert.is(d.ver(), 'QgayPKawpkPSDYmwT/WM94uAlu0=');
});

t('wrong password: XIOTA_E_SASL_AUTH naming the cause', async () => {
  const c = clientFor(srv, 'dev', 'wrong');
  await expectError(c.connectOnce(), 'XIOTA_E_SASL_AUTH', /not-authorized|password/i);
});

t('self-signed certificate without a CA: XIOTA_E_TLS_CERT', async () => {
  const c = clientFor(srv, 'dev', 'devpass', { tls: {} });
  await expectError(c.connectOnce(), 'XIOTA_E_TLS_CERT', /not signed by a trusted CA.*tls\.ca_file/);
});

t('certificate for another host: XIOTA_E_TLS_CERT names the host', async () => {
  const c = clientFor(srv, 'dev', 'devpass', { tls: { caFile: srv.caFile, servername: 'wrong.example' } });
  await expectError(c.connectOnce(), 'XIOTA_E_TLS_CERT', /not valid for wrong\.example/);
});

t('SPKI pin: the right pin logs in without a CA, a wrong pin is refused', async () => {
  const ok = clientFor(srv, 'dev', 'devpass', { tls: { pins: [srv.spkiSha256] } });
  const info = await ok.connectOnce();
  assert.is(info.tls.authorizedBy, 'pin');
  await ok.stop();
  const bad = clientFor(srv, 'dev', 'devpass', { tls: { pins: ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='] } });
  await expectError(bad.connectOnce(), 'XIOTA_E_TLS_PIN', /pin/);
});

onlyOn(t, 'prosody', 'a server that does not offer STARTTLS is refused',
  'the server without STARTTLS is a Prosody with mod_tls not loaded; no ejabberd config without STARTTLS is set up here (the case checks the client, not the server)',
  async () => {
    plain = await startServer(label, { prosody: { offerStartTls: false }, users: [{ user: 'dev', password: 'devpass' }] });
    const c = clientFor(plain, 'dev', 'devpass');
    await expectError(c.connectOnce(), 'XIOTA_E_TLS_REQUIRED', /does not offer STARTTLS/);
  });

t('unreachable host: XIOTA_E_CONNECT', async () => {
  const c = clientFor(srv, 'dev', 'devpass', { server: { host: '127.0.0.1', port: 1 } });
  await expectError(c.connectOnce(), 'XIOTA_E_CONNECT', /127\.0\.0\.1:1.*ECONNREFUSED/);
});

t('reconnect reuses the derived SCRAM keys: PBKDF2 runs once for two logins', async () => {
  let derivations = 0;
  const keyCache = new ScramKeyCache({ derive: (h, p, salt, it) => (derivations++, deriveScramKeys(h, p, salt, it)) });
  const c = clientFor(srv, 'dev', 'devpass', { keyCache });
  await c.connectOnce();
  await c.stop();
  await c.connectOnce();
  await c.stop();
  assert.is(derivations, 1);
});

t.run();
