// XEP-0484 FAST against a real ejabberd 24.12.
// How ejabberd rotates, read from its source (src/mod_auth_fast.erl, mod_auth_fast_mnesia.erl,
// and p1_xmpp's xmpp_sasl_fast.erl): it keeps two tokens per account and user-agent id, `next`
// (just issued) and `current`. A login with `next` moves it to `current` (the older `current` is
// gone from then on); a login with a token whose created_at < now - token_refresh_age (whole
// seconds) gets a new `next` in the <success/>, unasked. A rotated-but-unused token therefore
// keeps working until its successor is used once. Tokens are looked up by (account, user-agent
// id): a replay must present the same id, as a copy of fast-token.json would.
// Why the tokens are aged in ejabberd's store here instead of configuring a short refresh age:
// in 24.12 a configured token_refresh_age is read by econf:timeout(second), which returns
// milliseconds, and mod_auth_fast subtracts it from a time in seconds, so every configured age
// acts 1000 times longer (1 s -> 16 min 40 s; "2 s did not rotate"); only the built-in default
// (86400, one day) is right. Fixed upstream in a8639cfe8 "Fix token life time calculation in
// mod_auth_fast" (April 2026, in 26.07). token_lifetime has the same slip.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveScramKeys, ScramKeyCache } from '../../agent/sasl';
import { XmppClient, type ClientOptions } from '../../agent/session/client';
import { FileFastStore } from '../../agent/session/fast-token';
import { startServer, type XmppServer } from '../../scripts/servers';
import { envWith, killAll, runCli, startScript } from '../cli/_run';
import { waitFor } from './_helpers';

const t = suite('FAST on ejabberd 24.12');
let srv: XmppServer;
let dir: string;
const clients: XmppClient[] = [];

t.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'xiota-fastej-'));
  srv = await startServer('ejabberd-24.12', { users: [{ user: 'dev', password: 'devpass' }], ejabberd: { fast: true } });
});
t.after(async () => {
  killAll();
  for (const c of clients) await c.stop().catch(() => undefined);
  await srv?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function client(store: FileFastStore, extra: Partial<ClientOptions> = {}): XmppClient {
  const c = new XmppClient({
    jid: `dev@${srv.host}`,
    credentials: { username: 'dev', password: 'devpass' },
    server: { host: '127.0.0.1', port: srv.directTlsPort, directTls: true },
    tls: { caFile: srv.caFile },
    reconnect: { initialDelayMs: 0, maxDelayMs: 0 },
    fast: store,
    ...extra,
  });
  clients.push(c);
  return c;
}

interface OnDisk { userAgentId: string; token?: { token: string; mechanism: string; expiry: string } }
const onDisk = (state: string): OnDisk => JSON.parse(readFileSync(join(state, 'fast-token.json'), 'utf8')) as OnDisk;

/**
 * Makes every FAST token in ejabberd's mnesia table `seconds` older (created_at is the 4th field
 * of its #mod_auth_fast{} record), over Erlang distribution on the node's own port and cookie
 * (scripts/local-ejabberd.ts writes both to ejabberdctl.cfg; epmd is off).
 */
function ageTokens(seconds: number): number {
  const cfg = readFileSync(join(srv.dir, 'ejabberdctl.cfg'), 'utf8');
  const port = /^ERL_DIST_PORT=(\d+)/m.exec(cfg)?.[1];
  const cookie = /-setcookie (\S+)/.exec(cfg)?.[1];
  if (!port || !cookie) throw new Error(`no ERL_DIST_PORT or cookie in ${srv.dir}/ejabberdctl.cfg`);
  const expr = `length([ok = mnesia:dirty_write(setelement(4, R, element(4, R) - ${seconds})) || K <- mnesia:dirty_all_keys(mod_auth_fast), R <- mnesia:dirty_read(mod_auth_fast, K)]).\n`;
  const out = execFileSync('erl_call', ['-address', `127.0.0.1:${port}`, '-c', cookie, '-e'], { input: expr, encoding: 'utf8', timeout: 10_000 });
  const n = /\{ok,\s*(\d+)\}/.exec(out)?.[1];
  if (n === undefined) throw new Error(`erl_call did not age the tokens: ${out.trim()}`);
  return Number(n);
}

/** A copy of the state directory's token file, as someone who read the SD card would hold it. */
function copyOf(state: string, name: string): string {
  const to = join(dir, name);
  mkdirSync(to, { recursive: true });
  copyFileSync(join(state, 'fast-token.json'), join(to, 'fast-token.json'));
  return to;
}

t('a token older than token_refresh_age is rotated at login; the new one is stored (0600, by rename) and used next; the old one is then refused', async () => {
  const state = join(dir, 'rotate');
  let derivations = 0;
  const keyCache = new ScramKeyCache({ derive: (h, p, s, i) => (derivations++, deriveScramKeys(h, p, s, i)) });
  const c = client(new FileFastStore(state), { keyCache });

  await c.connectOnce(); // 1: SCRAM, <request-token/>: t1 (ejabberd's `next`)
  assert.ok(c.info?.sasl2 && c.info.fast.issued && !c.info.fast.used);
  const t1 = onDisk(state).token!.token;
  const ua = onDisk(state).userAgentId;
  const stolen = copyOf(state, 'stolen-t1'); // t1 with the installation's user-agent id
  await c.stop();

  assert.is(ageTokens(86_400 + 60), 1, "one token in ejabberd's store"); // older than the default token_refresh_age, one day
  const file = join(state, 'fast-token.json');
  const inoBefore = statSync(file).ino;
  await c.connectOnce(); // 2: FAST with t1; ejabberd rotates: t2 in the <success/>, unasked
  assert.ok(c.info?.fast.used, 'logged in with t1');
  assert.ok(c.info?.fast.issued, 'ejabberd rotated the old token');
  assert.match(c.info!.mechanism, /^HT-SHA-256-/);
  const t2 = onDisk(state).token!.token;
  assert.is.not(t2, t1, 'the rotated token replaced the stored one');
  assert.is(onDisk(state).userAgentId, ua, 'the user-agent id (which tokens are bound to) is kept');
  assert.is(statSync(file).mode & 0o777, 0o600);
  assert.is.not(statSync(file).ino, inoBefore, 'written to a new file and renamed over the old one');
  assert.equal(readdirSync(state).filter((n) => n !== 'fast-token.json'), [], 'no temporary file left behind');
  await c.stop();

  await c.connectOnce(); // 3: FAST with t2 (young: no further rotation); t2 becomes ejabberd's `current`
  assert.ok(c.info?.fast.used, 'logged in with the rotated token');
  assert.not.ok(c.info?.fast.issued, 'a young token is not rotated');
  assert.is(onDisk(state).token!.token, t2);
  assert.is(derivations, 1, 'PBKDF2 only for the first login');
  await c.stop();

  // 4: t1, replayed with the same user-agent id, is refused: the client falls back to the
  // password on the same stream (XEP-0484 6) and asks for a token of its own.
  const replayStore = new FileFastStore(stolen);
  assert.is(replayStore.get(c.bare)?.token, t1);
  const thief = client(replayStore);
  await thief.connectOnce();
  assert.is(thief.info?.fast.used, false, 'the old token no longer logs in');
  assert.match(thief.info!.mechanism, /^SCRAM-/);
  await thief.stop();
});

/** A config for the `xiota` CLI: the agent keeps fast-token.json beside the outbox, in `state`. */
function configFile(state: string, port = srv.directTlsPort): string {
  mkdirSync(state, { recursive: true });
  const pw = join(state, 'password');
  writeFileSync(pw, 'devpass\n', { mode: 0o600 });
  const path = join(state, `xiota-${port}.yaml`);
  writeFileSync(path, `account:
  jid: dev@${srv.host}
  password_file: ${JSON.stringify(pw)}
server:
  host: 127.0.0.1
  port: ${port}
  direct_tls: true
tls:
  ca_file: ${JSON.stringify(srv.caFile)}
outbox:
  dir: ${JSON.stringify(join(state, 'outbox'))}
log:
  format: text
`, { mode: 0o600 });
  return path;
}

t('xiota logout: refused while the agent runs; then the token is invalidated on ejabberd and removed here; a copy of it no longer logs in', async () => {
  const state = join(dir, 'logout');
  const config = configFile(state);
  // The daemon logs in (SCRAM, token requested) and keeps running.
  const daemon = startScript(join(__dirname, '../../agent/cli/main.js'), ['run', '--config', config], { env: envWith(), timeoutMs: 30_000 });
  await waitFor('session online', () => /session online/.test(daemon.out().stderr), 15_000).catch((e: Error) => { throw new Error(`${e.message}\n${daemon.out().stderr}`); });
  // No resource in the config: ejabberd picks it with XEP-0386 Bind 2 (tag `xiota` + a hash of the user-agent id).
  assert.match(daemon.out().stderr, /session online.*dev@xiota\.test\/xiota\.[A-Za-z0-9+/_=-]{10}\s/, `the bound JID is not xiota.<10 hash characters>:\n${daemon.out().stderr.slice(-1500)}`);
  const token = await waitFor('a stored token', () => { try { return onDisk(state).token?.token; } catch { return undefined; } });
  const ua = onDisk(state).userAgentId;

  const busy = await runCli(['logout', '--config', config], { env: envWith() });
  assert.is(busy.code, 1, busy.stdout + busy.stderr);
  assert.match(busy.stderr, /the agent is running .* stop it first/);
  assert.is(onDisk(state).token?.token, token, 'nothing changed while the agent runs');
  daemon.child.kill('SIGTERM');
  assert.is((await daemon.done).code, 0);

  // A copy of the file (the same user-agent id) logs in with FAST before the logout: the
  // refusal afterwards is the invalidation's doing, not a foreign id's.
  const copy = copyOf(state, 'logout-copy');
  const before = client(new FileFastStore(copy));
  await before.connectOnce();
  assert.ok(before.info?.fast.used, 'the copy works before the logout');
  await before.stop();

  const r = await runCli(['logout', '--config', config], { env: envWith() });
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^Logged out: 127\.0\.0\.1:\d+ invalidated the FAST token of dev@xiota\.test \(XEP-0484\), and it was removed from .*fast-token\.json/);
  assert.not.match(r.stdout + r.stderr, token, 'the token is never printed');
  assert.is(onDisk(state).token, undefined, 'no token on disk');
  assert.is(onDisk(state).userAgentId, ua, 'the user-agent id stays (the Bind 2 resource derives from it)');
  assert.is(statSync(join(state, 'fast-token.json')).mode & 0o777, 0o600);

  // The old token, replayed with the same id: ejabberd refuses it; the client falls back to
  // the password on the same stream (XEP-0484 4.1).
  assert.is(onDisk(copy).token?.token, token);
  const thief = client(new FileFastStore(copy));
  await thief.connectOnce();
  assert.is(thief.info?.fast.used, false, 'the invalidated token no longer logs in');
  assert.match(thief.info!.mechanism, /^SCRAM-/);
  await thief.stop();

  const again = await runCli(['logout', '--config', config], { env: envWith() });
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stdout, /^No FAST token for dev@xiota\.test in .*: nothing to log out/);

  // The agent's next login: the password, and a new token.
  const next = client(new FileFastStore(state));
  await next.connectOnce();
  assert.is(next.info?.fast.used, false);
  assert.match(next.info!.mechanism, /^SCRAM-/);
  assert.ok(next.info?.fast.issued);
  await next.stop();
});

t('xiota logout with the server unreachable: exit 1, the token kept so it can be run again', async () => {
  const state = join(dir, 'logout-unreachable');
  const c = client(new FileFastStore(state));
  await c.connectOnce();
  await c.stop();
  const token = onDisk(state).token!.token;
  const config = configFile(state, 9); // discard: nothing listens there
  const r = await runCli(['logout', '--config', config], { env: envWith() });
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /not logged out: .*\nThe token is kept in .*fast-token\.json so that xiota logout can be run again/);
  assert.is(onDisk(state).token?.token, token);
});

t.run();
