// The local API of a real `xiota run` (child process) on a real Prosody: socat and net clients
// on its socket, a flow-defined thing whose readings reach its PEP node and whose sets come
// back from slixmpp's XEP-0325 client and from chat, bad input, 5,000 subscriptions from one
// client that then stops reading (the agent keeps publishing on time; drops are counted), and
// the CLI (`xiota status`, `set`, `read --follow`) against it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProsody, type ProsodyServer } from '../../scripts/local-prosody';
import { removeOnExit, spawnGuarded, tail, type GuardedChild } from '../servers/process';
import { clientFor, waitFor } from '../session/_helpers';
import type { XmppClient } from '../../agent/session/client';
import { x, type Element } from '../../agent/xml/element';
import { IotClient } from '../iot/_iot';
import { CLI, killAll, runCli, startScript } from '../cli/_run';
import { LineClient, type Msg } from './_lines';

const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';
const t = suite('local API of xiota run on Prosody');
let prosody: ProsodyServer;
let dir: string;
let sock: string;
let config: string;
let daemon: GuardedChild;
let logFile: string;
let alice: XmppClient;
let dev: string;
let flow: LineClient;
const setsSeen: Msg[] = [];

function writeConfig(): void {
  writeFileSync(join(dir, 'pw'), 'dev-Pass-1\n', { mode: 0o600 });
  writeFileSync(config, `account:
  jid: dev@${prosody.host}/gw
  password_file: ${JSON.stringify(join(dir, 'pw'))}
server: { host: 127.0.0.1, port: ${prosody.c2sPort} }
tls: { ca_file: ${JSON.stringify(prosody.caFile)} }
outbox: { dir: ${JSON.stringify(join(dir, 'outbox'))}, flush_interval_ms: 20 }
access:
  owners: [alice@${prosody.host}]
pubsub: { access_model: open }
publish: { max_interval_s: 0 }
api:
  socket: ${JSON.stringify(sock)}
  mode: "0660"
  queue: 1000
log: { format: text }
drivers:
  - id: sim
    kind: simulated
    poll_interval_s: 0.2
    options:
      seed: 3
      things:
        - id: room
          fields:
            - { name: temperature, type: numeric, unit: "°C", precision: 2, waveform: sine, period_s: 5 }
`);
}

function startDaemon(file: string): GuardedChild {
  return spawnGuarded(process.execPath, [CLI, 'run', '--config', config], file, dir);
}

async function items(node: string): Promise<Element[]> {
  const r = await alice.iq(x('iq', { type: 'get', to: `dev@${prosody.host}` }, x('pubsub', { xmlns: NS_PUBSUB }, x('items', { node, max_items: '5' }))));
  return r.getChild('pubsub', NS_PUBSUB)?.getChild('items')?.getChildren('item') ?? [];
}

t.before(async () => {
  prosody = await startProsody({ users: [{ user: 'dev', password: 'dev-Pass-1' }, { user: 'alice', password: 'alice-Pass-1' }] });
  dir = mkdtempSync(join(tmpdir(), 'xiota-api-'));
  removeOnExit(dir);
  sock = join(dir, 'api.sock');
  config = join(dir, 'xiota.yaml');
  logFile = join(dir, 'xiota.log');
  dev = `dev@${prosody.host}/gw`;
  writeConfig();
  daemon = startDaemon(logFile);
  await waitFor('xiota run online with its API socket', () => {
    if (!daemon.isRunning()) throw new Error(`xiota run exited:\n${tail(logFile, 30)}`);
    return /session online/.test(readFileSync(logFile, 'utf8')) && /local API listening/.test(readFileSync(logFile, 'utf8'));
  }, 20_000, 50);
  alice = clientFor(prosody, 'alice', 'alice-Pass-1');
  await alice.connectOnce();
  // Available, so events and chat sent to the bare JID reach this resource (RFC 6121 8.5.2.1).
  alice.send(x('presence'));
});

t.after(async () => {
  if (process.env.XIOTA_TEST_LOG) console.log(tail(logFile, Number(process.env.XIOTA_TEST_LOG)));
  flow?.close();
  await alice?.stop().catch(() => undefined);
  await daemon?.terminate('SIGTERM', 8000);
  killAll();
  await prosody?.stop();

});

t('the socket has the configured mode; socat talks to it', async () => {
  const st = statSync(sock);
  assert.ok(st.isSocket());
  assert.is(st.mode & 0o777, 0o660);
  const out = execFileSync('socat', ['-t', '2', '-', `UNIX-CONNECT:${sock}`], { input: '{"jsonrpc":"2.0","id":1,"method":"agent.status"}\n', encoding: 'utf8' });
  const r = JSON.parse(out.trim().split('\n')[0]!) as Msg;
  assert.is(r.id, 1);
  assert.is(r.result.jid, `dev@${prosody.host}`);
  assert.is(r.result.online, true);
  assert.equal(r.result.drivers.map((d: Msg) => d.id), ['sim', 'api']);
});

t('a second xiota run on the same socket stops with a clear error', async () => {
  const second = startDaemon(join(dir, 'second.log'));
  await second.exited;
  assert.is(second.child.exitCode, 2, "a config problem: two daemons on one socket");
  assert.match(readFileSync(join(dir, 'second.log'), 'utf8'), `another process is already serving the API on ${sock}`);
});

t('garbage, oversized lines, unknown methods and wrong params get JSON-RPC errors, the connection survives', async () => {
  const c = await LineClient.connect(sock);
  c.raw('this is not json\n');
  assert.is((await c.until('parse error', (m) => m.error?.code === -32700)).id, null);
  c.raw(Buffer.alloc(200_000, 0x61)); // no newline yet: over the 64 KiB limit
  c.raw('\n');
  assert.match((await c.until('line too long', (m) => /longer than 65536/.test(m.error?.message ?? ''))).error.message, 'api.max_line_bytes');
  assert.is((await c.ask('nope')).error.code, -32601);
  const wrong = await c.ask('set', { thing: 'room', field: 7, value: 1 });
  assert.is(wrong.error.code, -32602);
  assert.is(wrong.error.data.field, 'field');
  assert.is((await c.ask('read', { thing: 'attic' })).error.code, -32002);
  c.raw('{"jsonrpc":"2.0","id":"a","method":"agent.status"}\r\n[{"jsonrpc":"2.0","id":"b","method":"things.list"},{"jsonrpc":"2.0","id":"c","method":"x"}]\n');
  assert.ok((await c.until('CRLF request', (m) => m.id === 'a')).result.online);
  const batch = await c.until('batch', (m) => Array.isArray(m));
  assert.equal((batch as unknown as Msg[]).map((m) => m.id), ['b', 'c']);
  c.close();
});

t('a flow-defined thing: its reading reaches its PEP node and an XEP-0323 readout', async () => {
  flow = await LineClient.connect(sock, (m, c) => {
    if (m.method === 'thing.set') { setsSeen.push(m); c.send({ jsonrpc: '2.0', id: m.id, result: { ok: true } }); }
  });
  assert.equal(await flow.call('thing.declare', { id: 'pump', name: 'Pump', fields: [{ name: 'level', type: 'numeric', unit: '%' }, { name: 'on', type: 'boolean', writable: true }] }), { thing: 'pump' });
  assert.equal(await flow.call('thing.publish', { thing: 'pump', values: { level: 42.5, on: false } }), { accepted: true });
  const got = await waitFor('the pump item on PEP', async () => undefined, 1).catch(() => undefined);
  void got;
  let xml = '';
  await waitFor('pump item in urn:xiota:pump', () => {
    void items('urn:xiota:pump').then((its) => { xml = its.map((i) => i.toString()).join(''); }, () => undefined);
    return xml.includes('42.5') ? xml : undefined;
  }, 10_000, 200);
  assert.match(xml, /name=['"]level['"]/);
  const iot = await IotClient.start(prosody, 'alice', 'alice-Pass-1', 'py');
  try {
    const r = await iot.read(dev, { nodes: ['pump'] });
    const fields = r.results.flatMap((x) => x.fields ?? []);
    assert.ok(fields.some((f) => f.name === 'level' && f.value === '42.5'), JSON.stringify(r));
    // XEP-0325 set from slixmpp reaches the flow, which answers.
    const s = await iot.set(dev, [['on', 'boolean', 'true']], ['pump']);
    assert.is(s.result, 'OK', JSON.stringify(s));
    assert.equal(setsSeen.at(-1)!.params, { thing: 'pump', field: 'on', value: true, from: iot.jid });
  } finally {
    await iot.close();
  }
});

t('a chat `set` reaches the flow too', async () => {
  const replies: string[] = [];
  const off = alice.router.on('message', (m) => { const b = m.getChildText('body'); if (b) replies.push(b); return true; });
  try {
    alice.send(x('message', { to: dev, type: 'chat', id: 'c1' }, x('body', {}, 'set pump.on off')));
    await waitFor('chat set answered', () => replies.length > 0, 10_000);
    const { from, ...rest } = setsSeen.at(-1)!.params as Msg;
    assert.equal(rest, { thing: 'pump', field: 'on', value: false });
    assert.is(from, `alice@${prosody.host}/${alice.jid.split('/')[1]}`, 'the chat set names who asked');
  } finally {
    off();
  }
});

t('remote.read, remote.set and pubsub.subscribe go through the agent\'s session (here to itself)', async () => {
  const c = await LineClient.connect(sock);
  try {
    const rs = await c.call('remote.read', { jid: dev, nodes: [{ nodeId: 'pump' }], fields: ['level'] }) as unknown as Msg[];
    assert.ok(rs.some((r) => r.jid === dev && r.values.some((v: Msg) => v.field === 'level' && v.value === 42.5)), JSON.stringify(rs));
    const bare = await c.ask('remote.read', { jid: `dev@${prosody.host}` });
    assert.is(bare.error.code, -32602);
    assert.match(bare.error.message, 'full JID');
    const before = setsSeen.length;
    assert.equal(await c.call('remote.set', { jid: dev, field: 'on', value: true, nodes: [{ nodeId: 'pump' }] }), { ok: true });
    assert.is(setsSeen.length, before + 1);
    const refused = await c.ask('remote.set', { jid: dev, field: 'level', value: 3, nodes: [{ nodeId: 'pump' }] });
    assert.is(refused.error.code, -32003, JSON.stringify(refused));
    const sub = await c.call('pubsub.subscribe', { jid: `dev@${prosody.host}`, node: 'urn:xiota:pump' });
    assert.match(sub.subscription, /^sub-/);
    await flow.call('thing.publish', { thing: 'pump', values: { level: 61 } });
    const item = await c.until('PubSub item', (m) => m.method === 'item' && /61/.test(m.params.xml));
    assert.is(item.params.node, 'urn:xiota:pump');
    assert.ok(item.params.readings?.[0]?.values?.some((v: Msg) => v.field === 'level' && v.value === 61), JSON.stringify(item.params));
  } finally {
    c.close();
  }
});

t('permission denied names the socket and the group to join', async () => {
  const nobody = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim());
  const r = spawnSync(process.execPath, [CLI, 'status', '--socket', sock], { uid: nobody, gid: nobody, encoding: 'utf8', cwd: '/' });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, `permission denied on ${sock}`);
  assert.match(r.stderr, 'usermod -aG xiota');
});

t('the CLI: status, set, read --follow, and a clear message when no daemon listens', async () => {
  const st = await runCli(['status', '--socket', sock]);
  assert.is(st.code, 0, st.stderr);
  assert.match(st.stdout, /session +online/);
  assert.match(st.stdout, /sim \(simulated\) running/);
  const before = setsSeen.length;
  const set = await runCli(['set', 'pump.on', 'yes', '--socket', sock]);
  assert.is(set.code, 0, set.stderr);
  assert.is(set.stdout.trim(), 'pump.on = true');
  assert.is(setsSeen.length, before + 1);
  const bad = await runCli(['set', 'pump.on', 'maybe', '--socket', sock]);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, 'expected a boolean');
  // Plain `xiota read` asks the running daemon (config's api.socket): the flow's thing is there,
  // which sampling the drivers locally could not show.
  const read = await runCli(['read', '--config', config]);
  assert.is(read.code, 0, read.stderr);
  assert.match(read.stdout, /^pump +level +\S+ +%/m);
  assert.match(read.stdout, /^room +temperature/m);
  const none = await runCli(['status', '--socket', join(dir, 'nothing.sock')]);
  assert.is(none.code, 1);
  assert.match(none.stderr, `no xiota daemon is listening on ${join(dir, 'nothing.sock')}`);
  const unknown = await runCli(['read', '--follow', 'nosuch.x', '--socket', sock]);
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, /^xiota: no thing or field "nosuch\.x"; the daemon has .*\broom\b.* \(xiota read shows their fields\)$/m);
  const follow = startScript(CLI, ['read', '--follow', 'room.temperature', '--socket', sock], { timeoutMs: 20_000 });
  await waitFor('two followed readings', () => (follow.out().stdout.match(/room\.temperature +-?[\d.]+ °C/g) ?? []).length >= 2, 10_000);
  follow.child.kill('SIGINT');
  const done = await follow.done;
  assert.is(done.code, 0, done.stderr);
});

t('5,000 subscriptions from one client that then never reads: publishing stays on time, drops are counted, disconnect leaves none', async () => {
  const status = await LineClient.connect(sock);
  const base = (await status.call('agent.status')).api.subscriptions as number;
  // PEP events at alice: the agent's publishing cadence (sim polls every 200 ms).
  await alice.iq(x('iq', { type: 'set', to: `dev@${prosody.host}` }, x('pubsub', { xmlns: NS_PUBSUB }, x('subscribe', { node: 'urn:xiota:room', jid: `alice@${prosody.host}` }))));
  const events: number[] = [];
  const off = alice.router.on('message/http://jabber.org/protocol/pubsub#event', () => { events.push(Date.now()); return true; });
  const slow = await LineClient.connect(sock);
  let lines = '';
  for (let i = 0; i < 5000; i++) lines += JSON.stringify({ jsonrpc: '2.0', id: i, method: 'subscribe', params: { thing: 'room' } }) + '\n';
  const t0 = Date.now();
  slow.raw(lines);
  await slow.until('5000th subscription', (m) => m.id === 4999, 30_000);
  const subMs = Date.now() - t0;
  assert.is(slow.got.filter((m) => m.result?.subscription).length, 5000);
  assert.is((await status.call('agent.status')).api.subscriptions, base + 5000);
  // Baseline cadence, then the client stops reading.
  events.length = 0;
  await new Promise((r) => setTimeout(r, 3000));
  const baseline = events.length;
  slow.sock.pause();
  events.length = 0;
  await new Promise((r) => setTimeout(r, 3000));
  const stalled = events.length;
  const mid = await status.call('agent.status');
  console.log(`    5000 subscriptions in ${subMs} ms; PEP events in 3 s: ${baseline} reading normally, ${stalled} with the client not reading; dropped so far ${mid.api.dropped}`);
  assert.ok(stalled >= baseline * 0.7, `publishing slowed: ${stalled} vs ${baseline} events in 3 s`);
  assert.ok(mid.api.dropped > 0, 'notifications were dropped and counted');
  // It reads again: after the backlog, one `dropped` notification with the count.
  slow.sock.resume();
  const dropped = await slow.until('dropped notification', (m) => m.method === 'dropped', 30_000);
  assert.ok(dropped.params.count > 0);
  slow.close();
  await new Promise((r) => setTimeout(r, 300));
  try {
    assert.is((await status.call('agent.status')).api.subscriptions, base, 'no subscription left after the disconnect');
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${tail(logFile, 40)}`);
  }
  off();
  status.close();
});

t('a dead daemon\'s socket file is replaced on the next start', async () => {
  flow?.close();
  await daemon.terminate('SIGKILL', 3000);
  assert.ok(statSync(sock).isSocket(), 'SIGKILL left the socket file');
  logFile = join(dir, 'xiota2.log');
  daemon = startDaemon(logFile);
  await waitFor('restarted daemon listening', () => {
    if (!daemon.isRunning()) throw new Error(`xiota run exited:\n${tail(logFile, 30)}`);
    return /session online/.test(readFileSync(logFile, 'utf8'));
  }, 20_000, 50);
  assert.match(readFileSync(logFile, 'utf8'), 'removing a stale API socket');
  // The flow's thing was kept across the restart; offline until a flow declares it again.
  const c = await LineClient.connect(sock);
  const list = (await c.call('things.list')) as unknown as Msg[];
  assert.equal(list.find((x) => x.id === 'pump')?.online, false);
  c.close();
});

t.run();
