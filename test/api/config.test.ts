// The `api:` config section (every key, bad values named by path) and the socket server's use of
// them: mode, group, line limit, a path that is not a socket, `enabled: false`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromObject, resolvePassword } from '../../agent/config';
import { Agent } from '../../agent/agent';
import { ApiService } from '../../agent/api/service';
import { ApiSocketServer, LineSplitter } from '../../agent/api/socket';
import { daemonSocketPath, gidOf } from '../../agent/api/paths';
import { silentLogger } from '../../agent/log';
import { ApiDriver } from '../../drivers/api';
import { DriverHost } from '../../drivers/host';
import type { AgentEvents } from '../../agent/modules';
import { LineClient } from './_lines';

const base = { account: { jid: 'dev@example.org', password: 'x' } };
const cfg = (api: unknown) => configFromObject({ ...base, api }, { checkFiles: false });
const dir = mkdtempSync(join(tmpdir(), 'xiota-apicfg-'));

test('defaults', () => {
  const r = cfg(undefined);
  assert.equal(r.errors, []);
  assert.equal(r.config!.api, { enabled: true, mode: 0o660, role: 'owner', queue: 1000, maxLineBytes: 65_536, maxSubscriptions: 10_000 });
});

test('every key is accepted', () => {
  const r = cfg({ enabled: false, socket: 'rel/api.sock', mode: 640, group: 'xiota', role: 'reader', queue: 50, max_line_bytes: 4096, max_subscriptions: 10 });
  assert.equal(r.errors, []);
  const a = r.config!.api;
  assert.is(a.enabled, false);
  assert.is(a.socket, join(process.cwd(), 'rel/api.sock'));
  assert.is(a.mode, 0o640, 'unquoted 0640 (YAML 1.2 reads 640) is octal');
  assert.equal([a.group, a.role, a.queue, a.maxLineBytes, a.maxSubscriptions], ['xiota', 'reader', 50, 4096, 10]);
  assert.is(cfg({ mode: '0660', group: 1001 }).config!.api.group, 1001);
});

test('bad values are errors naming the key and what to write', () => {
  const cases: [unknown, string, RegExp][] = [
    [{ mode: '0999' }, 'api.mode', /octal like "0660"/],
    [{ mode: '0060' }, 'api.mode', /daemon's own user/],
    [{ role: 'admin' }, 'api.role', /owner/],
    [{ queue: 0 }, 'api.queue', /10/],
    [{ max_line_bytes: 10 }, 'api.max_line_bytes', /1024/],
    [{ max_subscriptions: -1 }, 'api.max_subscriptions', /1/],
    [{ group: 'bad group!' }, 'api.group', /group name/],
    [{ socket: '/' + 'x'.repeat(120) }, 'api.socket', /at most 107/],
    [{ enabled: 'yes please' }, 'api.enabled', /./],
    [{ sockt: '/run/x.sock' }, 'api.sockt', /did you mean "socket"/],
  ];
  for (const [api, path, msg] of cases) {
    const r = cfg(api);
    const e = r.errors.find((x) => x.path === path);
    assert.ok(e, `${JSON.stringify(api)}: expected an error at ${path}, got ${JSON.stringify(r.errors)}`);
    assert.match(e!.message, msg);
  }
  const open = cfg({ mode: '0666' });
  assert.equal(open.errors, []);
  assert.match(open.warnings.find((w) => w.path === 'api.mode')!.message, 'every local user');
});

test('default socket path: RUNTIME_DIRECTORY, else in the outbox directory', () => {
  const c = cfg(undefined).config!;
  assert.is(daemonSocketPath(c, { RUNTIME_DIRECTORY: '/run/xiota:/run/other' }), '/run/xiota/api.sock');
  const outbox = { ...c.outbox, dir: join(dir, 'state', 'outbox') };
  assert.is(daemonSocketPath({ api: c.api, outbox }, {}), join(dir, 'state', 'outbox', 'api.sock'));
  assert.is(gidOf('daemon'), 1);
  assert.is(gidOf('no-such-group-here'), undefined);
});

test('line splitter: split chunks, long lines skipped once up to their newline', () => {
  const lines: string[] = [];
  let long = 0;
  const s = new LineSplitter(8, (l) => lines.push(l), () => long++);
  s.push(Buffer.from('ab'));
  s.push(Buffer.from('c\n0123456789'));
  s.push(Buffer.from('abc\nok\n\u00e9'));
  s.push(Buffer.from('\n'));
  assert.equal(lines, ['abc', 'ok', 'é']);
  assert.is(long, 1);
});

function service() {
  const flows = new ApiDriver();
  const host = new DriverHost({ drivers: [flows] });
  return new ApiService({ drivers: host, flows, events: new EventEmitter<AgentEvents>(), role: 'owner', queue: 10, maxSubscriptions: 10, log: silentLogger, status: () => ({ jid: 'a@b', resource: 'r', state: 'offline', online: false, startedAt: 0, queued: 0 }) });
}

test('socket server: mode, group, max_line_bytes; a regular file in the way; an unknown group', async () => {
  const path = join(dir, 'a.sock');
  const srv = new ApiSocketServer(service(), { path, mode: 0o640, group: 'daemon', maxLineBytes: 1024, log: silentLogger });
  await srv.listen();
  const st = statSync(path);
  assert.is(st.mode & 0o777, 0o640);
  assert.is(st.gid, 1);
  const c = await LineClient.connect(path);
  c.raw('x'.repeat(2000) + '\n');
  assert.match((await c.until('too long', (m) => m.error?.code === -32700)).error.message, 'longer than 1024 bytes');
  assert.is((await c.ask('agent.status')).result.jid, 'a@b');
  c.close();
  await srv.close();
  assert.throws(() => statSync(path), 'the socket file is removed on close');

  writeFileSync(join(dir, 'file.sock'), 'not a socket');
  const inTheWay = new ApiSocketServer(service(), { path: join(dir, 'file.sock'), mode: 0o660, maxLineBytes: 1024, log: silentLogger });
  const e1 = await inTheWay.listen().then(() => undefined, (e: Error) => e);
  assert.match(String(e1?.message), 'exists and is not a socket');

  const noGroup = new ApiSocketServer(service(), { path: join(dir, 'g.sock'), mode: 0o660, group: 'no-such-group-here', maxLineBytes: 1024, log: silentLogger });
  const e2 = await noGroup.listen().then(() => undefined, (e: Error) => e);
  assert.match(String(e2?.message), 'groupadd no-such-group-here');
  assert.throws(() => statSync(join(dir, 'g.sock')), 'no socket left behind');
});

test('enabled: false serves no socket; in-process attach still works', async () => {
  const r = configFromObject({ ...base, server: { host: '127.0.0.1', port: 9 }, outbox: { dir: join(dir, 'off', 'outbox') }, api: { enabled: false } }, { checkFiles: false });
  assert.equal(r.errors, []);
  const agent = new Agent({ config: r.config!, credentials: resolvePassword(r.config!, {}), drivers: [] });
  await agent.start();
  try {
    assert.is(agent.apiSocketPath, undefined);
    assert.throws(() => statSync(join(dir, 'off', 'outbox', 'api.sock')));
    const got: Record<string, unknown>[] = [];
    const conn = agent.api.attach((m) => { got.push(m as Record<string, unknown>); });
    conn.receive({ jsonrpc: '2.0', id: 1, method: 'thing.declare', params: { id: 'inproc', fields: [{ name: 'v', type: 'int' }] } });
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(got[0], { jsonrpc: '2.0', id: 1, result: { thing: 'inproc' } });
    assert.ok(agent.drivers.things().some((t) => t.id === 'inproc'));
    conn.close();
  } finally {
    await agent.stop();
  }
});

test('the systemd unit gives the socket a runtime directory its group may enter', () => {
  const unit = readFileSync(join(__dirname, '../../../examples/xiota.service'), 'utf8');
  const one = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(unit)?.[1];
  assert.is(one('RuntimeDirectory'), 'xiota');
  assert.is(one('RuntimeDirectoryMode'), '0750');
  assert.is(one('Group'), 'xiota');
  assert.match(one('RestrictAddressFamilies') ?? '', 'AF_UNIX');
  // systemd sets RUNTIME_DIRECTORY=/run/xiota: the daemon's default socket is there.
  assert.is(daemonSocketPath(cfg(undefined).config!, { RUNTIME_DIRECTORY: '/run/xiota' }), '/run/xiota/api.sock');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
