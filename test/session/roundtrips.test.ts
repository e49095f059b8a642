// Logging in over a slow link (test/servers/slow-link.ts: 300 ms each way, 8 KB/s), counted
// in round trips on real servers. Prosody 0.12 has no SASL2: the login is pipelined (the
// STARTTLS request with the stream header, resume or bind + SM enable with the restart).
// ejabberd 24.12 offers XEP-0388 SASL2, XEP-0386 Bind 2 and, with mod_auth_fast, XEP-0484
// FAST: a reconnect is TCP + TLS + one SASL2 exchange that also resumes or binds.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../agent/log';
import { deriveScramKeys, ScramKeyCache } from '../../agent/sasl';
import { XmppClient, type ClientOptions } from '../../agent/session/client';
import { FileFastStore } from '../../agent/session/fast-token';
import { startServer, type XmppServer } from '../../scripts/servers';
import { startSlowLink, type SlowLink } from '../servers/slow-link';
import { onceOnline } from './_helpers';

const LINK = { latencyMs: 300, bytesPerSecond: 8 * 1024 };
const t = suite('round trips');
let prosody: XmppServer;
let ejabberd: XmppServer;
const links: SlowLink[] = [];
const clients: XmppClient[] = [];
let dir: string;

t.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'xiota-rt-'));
  const users = [{ user: 'dev', password: 'devpass' }];
  [prosody, ejabberd] = await Promise.all([
    startServer('prosody-0.12', { users }),
    startServer('ejabberd-24.12', { users, ejabberd: { fast: true } }),
  ]);
});
t.after(async () => {
  for (const c of clients) await c.stop().catch(() => undefined);
  for (const l of links) await l.close();
  await prosody?.cleanup();
  await ejabberd?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function through(srv: XmppServer, direct: boolean): Promise<SlowLink> {
  const l = await startSlowLink({ target: { port: direct ? srv.directTlsPort : srv.c2sPort }, ...LINK });
  links.push(l);
  return l;
}

function client(srv: XmppServer, link: SlowLink, direct: boolean, extra: Partial<ClientOptions> = {}): XmppClient {
  const c = new XmppClient({
    jid: `dev@${srv.host}`,
    credentials: { username: 'dev', password: 'devpass' },
    server: { host: '127.0.0.1', port: link.port, directTls: direct },
    tls: { caFile: srv.caFile },
    reconnect: { initialDelayMs: 0, maxDelayMs: 0 },
    ...extra,
  });
  clients.push(c);
  return c;
}

/**
 * Round trips of the newest connection, read when 'online' fires: what the client sends
 * afterwards (an SM <a/> to the server's <r/>, presence) is the session, not the login.
 */
function countAtOnline(c: XmppClient, link: SlowLink): () => number {
  let rt = -1;
  c.once('online', () => (rt = link.last().roundTrips));
  return () => rt;
}

async function login(c: XmppClient, link: SlowLink): Promise<{ rt: number; ms: number }> {
  const rt = countAtOnline(c, link);
  const t0 = Date.now();
  await c.connectOnce();
  return { rt: rt(), ms: Date.now() - t0 };
}

async function reconnect(c: XmppClient, link: SlowLink): Promise<{ rt: number; ms: number }> {
  const n = link.traces.length;
  const rt = countAtOnline(c, link);
  const t0 = Date.now();
  c.dropConnection();
  await new Promise((r) => setTimeout(r, 50));
  await onceOnline(c, 20_000);
  assert.is(link.traces.length, n + 1, 'one new connection');
  return { rt: rt(), ms: Date.now() - t0 };
}

const say = (what: string, r: { rt: number; ms: number }) => console.log(`  ${what}: ${r.rt} round trips, ${r.ms} ms`);

t('Prosody 0.12, STARTTLS: first login pipelined into 7 round trips (was 10)', async () => {
  const link = await through(prosody, false);
  const c = client(prosody, link, false);
  const r = await login(c, link);
  say('prosody-0.12 STARTTLS first login', r);
  assert.is(c.info?.sm, 'enabled');
  assert.is(c.info?.sasl2, false);
  // TCP, header+<starttls/>, ClientHello, Finished+header, <auth/>, <response/>, restart+bind+enable.
  assert.ok(r.rt <= 7, `${r.rt} round trips`);
  await c.stop();
});

t('Prosody 0.12, direct TLS: first login in at most 6 round trips (was 8); a resumption in 6', async () => {
  const link = await through(prosody, true);
  const c = client(prosody, link, true);
  const firstRt = countAtOnline(c, link);
  c.start();
  await onceOnline(c, 20_000);
  const first = firstRt();
  say('prosody-0.12 direct TLS first login', { rt: first, ms: 0 });
  assert.ok(first <= 6, `${first} round trips`);
  assert.is(c.info?.sm, 'enabled');
  // The pipelined bind and enable really were answered: an iq works and SM counts it.
  await c.ping(undefined, 10_000);
  const r = await reconnect(c, link);
  say('prosody-0.12 direct TLS resumption', r);
  assert.ok(c.info?.resumed, 'resumed');
  assert.ok(r.rt <= 6, `${r.rt} round trips`);
  await c.stop();
});

t('ejabberd 24.12, direct TLS: SASL2 + Bind 2 + SM + FAST token request in 5; FAST reconnect (resume inline) in 4, no PBKDF2', async () => {
  const state = join(dir, 'state-a');
  const store = new FileFastStore(state);
  let derivations = 0;
  const keyCache = new ScramKeyCache({ derive: (h, p, s, i) => (derivations++, deriveScramKeys(h, p, s, i)) });
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', json: true, write: (l) => lines.push(l) });
  const link = await through(ejabberd, true);
  const c = client(ejabberd, link, true, { fast: store, keyCache, log });
  const firstRt = countAtOnline(c, link);
  c.start();
  await onceOnline(c, 20_000);
  const first = firstRt();
  say('ejabberd-24.12 direct TLS first login (SCRAM, token requested)', { rt: first, ms: 0 });
  assert.ok(c.info?.sasl2, 'SASL2 used');
  assert.is(c.info?.sm, 'enabled');
  assert.match(c.info!.mechanism, /^SCRAM-SHA-1-PLUS$/); // channel binding kept under SASL2
  assert.ok(c.info?.fast.issued, 'a token was issued');
  assert.match(c.jid, /^dev@xiota\.test\/.+/);
  assert.ok(first <= 5, `${first} round trips`);
  // XEP-0474: ejabberd signs its advertised list into the SCRAM exchange; it matched.
  assert.ok(lines.some((l) => l.includes('XEP-0474 downgrade protection')), 'SSDP hash checked');
  // The token: on disk, 0600, for a channel-binding mechanism, and in no log line.
  const file = join(state, 'fast-token.json');
  assert.is(statSync(file).mode & 0o777, 0o600);
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { token: { token: string; mechanism: string } };
  assert.is(saved.token.mechanism, 'HT-SHA-256-EXPR');
  assert.ok(saved.token.token.length >= 16);

  const r = await reconnect(c, link);
  say('ejabberd-24.12 direct TLS FAST reconnect (resumed)', r);
  assert.ok(c.info?.fast.used, 'logged in with the token');
  assert.ok(c.info?.resumed, 'resumed inline');
  assert.is(c.info?.mechanism, 'HT-SHA-256-EXPR');
  assert.ok(r.rt <= 4, `${r.rt} round trips`);
  assert.is(derivations, 1, 'PBKDF2 only for the first login');
  await c.ping(undefined, 10_000);
  assert.not.ok(lines.some((l) => l.includes(saved.token.token)), 'the token never reaches a log');
  await c.stop();
});

t('ejabberd 24.12: a restarted agent logs in with its stored token and Bind 2 in 4 round trips', async () => {
  const state = join(dir, 'state-a');
  const link = await through(ejabberd, true);
  let derivations = 0;
  const keyCache = new ScramKeyCache({ derive: (h, p, s, i) => (derivations++, deriveScramKeys(h, p, s, i)) });
  const c = client(ejabberd, link, true, { fast: new FileFastStore(state), keyCache });
  const r = await login(c, link);
  say('ejabberd-24.12 direct TLS FAST login, new session', r);
  assert.ok(c.info?.fast.used);
  assert.is(c.info?.resumed, false);
  assert.is(c.info?.sm, 'enabled');
  assert.is(derivations, 0);
  assert.ok(r.rt <= 4, `${r.rt} round trips`);
  await c.stop();
});

t('ejabberd 24.12: a new session binds with Bind 2 when the server may pick the resource (4 round trips, xiota.<id>, the same after a restart); a configured resource costs the RFC 6120 bind (5)', async () => {
  const store = new FileFastStore(join(dir, 'state-c'));
  const link = await through(ejabberd, true);
  const first = client(ejabberd, link, true, { fast: store });
  await first.connectOnce(); // SCRAM, token requested
  const jid = first.jid;
  await first.stop();
  // XEP-0386 5: no hostname in the tag; ejabberd appends a hash of the user-agent id.
  assert.match(jid, /^dev@xiota\.test\/xiota\.[A-Za-z0-9+/_=-]{10}$/);

  const restarted = client(ejabberd, link, true, { fast: store });
  const r = await login(restarted, link);
  say('ejabberd-24.12 direct TLS FAST login, new session, Bind 2', r);
  assert.ok(restarted.info?.fast.used);
  assert.is(restarted.info?.resumed, false);
  assert.is(restarted.info?.sm, 'enabled');
  assert.is(restarted.jid, jid, 'the same full JID after a restart (same user-agent id)');
  assert.ok(r.rt <= 4, `${r.rt} round trips`);
  await restarted.stop();

  const fixed = client(ejabberd, link, true, { fast: store, resource: 'kitchen' });
  const f = await login(fixed, link);
  say('ejabberd-24.12 direct TLS FAST login, new session, configured resource (RFC 6120 bind)', f);
  assert.is(fixed.jid, 'dev@xiota.test/kitchen', 'a configured resource is bound as it is');
  assert.ok(fixed.info?.fast.used);
  assert.is(fixed.info?.sm, 'enabled');
  assert.ok(f.rt <= 5, `${f.rt} round trips`);
  await fixed.stop();
});

t.run();
