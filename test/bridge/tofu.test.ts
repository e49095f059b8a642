// Trust on first use, confirmed by the owner: a board without a key asks to pair, the driver
// refuses it with the two commands that decide, `xiota bridge approve` makes the key and the
// driver sends it once; the board then talks authenticated. `deny` keeps a board out and it is
// never sent a key; a board that is already paired never takes a new key this way; and the
// driver refuses TOFU over MQTT, where the key would cross the broker in the clear. The owner
// decides by CLI or by chat (`bridge pending|approve|deny`, agent/chat).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDriver } from '../../drivers';
import type { Reading } from '../../drivers/types';
import { bridgeMain } from '../../firmware-bridge/host/cli';
import { readKeys } from '../../firmware-bridge/host/keys';
import { pairingPath } from '../../firmware-bridge/host/tofu';
import { recorder } from '../drivers/_fixtures';
import { buildFirmware, kill, ptyPair, sleep, until, startBoard, workDir } from './_board';
import { Agent } from '../../agent/agent';
import { configFromObject } from '../../agent/config';
import { createLogger } from '../../agent/log';
import { buildDrivers } from '../../agent/cli/drivers';
import { startProsody } from '../../scripts/local-prosody';
import { PyClient } from '../chat/_slixmpp';
import { waitFor } from '../session/_helpers';

const build = buildFirmware().dir;
const keysFile = join(workDir, 'tofu-keys.json');
const cli = (...args: string[]) => {
  const out: string[] = [];
  const code = bridgeMain([...args, '--keys', keysFile], { out: (s) => out.push(s), err: (s) => out.push(s), env: {} });
  return { code, text: out.join('\n') };
};

test('an unpaired board asks, the owner approves, the key goes out once and the board talks authenticated', async () => {
  const { a, b } = await ptyPair('tofu');
  const board = startBoard(build, ['--port', b, '--id', 'greenhouse-1', '--no-key', '--pairable', '--period', '50']);
  const readings: Reading[] = [];
  const rec = recorder((r) => readings.push(r));
  const d = createDriver('bridge', 'mcu', { path: a, board: 'greenhouse-1', keysFile, pairing: 'tofu', handshakeTimeoutMs: 1500, retryMs: 150 });
  let err = '';
  try {
    await d.start(rec.ctx).catch((e: Error) => { err = e.message; });
    assert.match(err, /board "greenhouse-1" on .*tofu-a has no key and asks to pair \(trust on first use\): if it is yours, `xiota bridge approve greenhouse-1`; otherwise `xiota bridge deny greenhouse-1`/);
    assert.match(cli('pending').text, /^greenhouse-1 {2}on .*tofu-a {2}asking since /m);
    assert.is(readKeys(keysFile).size, 0, 'nothing is made before the owner says yes');
    const approved = cli('approve', 'greenhouse-1');
    assert.is(approved.code, 0, approved.text);
    assert.match(approved.text, /approved board "greenhouse-1" \(seen on .*tofu-a\)/);
    assert.is(readKeys(keysFile).size, 1);
    await d.start(rec.ctx); // the DriverHost retries start(); here by hand
    await until(() => board.log.includes('paired'), 3000, 'the board to store its key');
    await until(() => readings.filter((r) => r.thing === 'greenhouse-1.1').length >= 3, 5000, 'authenticated readings');
    await d.set!('greenhouse-1.10', 'value', true);
    await until(() => board.sets().includes('set key=10 value=1'), 2000, 'the set');
    const state = JSON.parse(readFileSync(pairingPath(keysFile), 'utf8'));
    assert.equal([state.pending, state.deliver], [{}, {}], 'delivered once: nothing pending, nothing left to send');
    assert.is(board.log.filter((l) => l === 'paired').length, 1);
    assert.match(cli('pending').text, /no board is asking to pair/);
  } finally {
    await d.stop();
    kill(board.proc);
  }
});

test('deny: the board is refused and never sent a key; approve without a request needs --force', async () => {
  const { a, b } = await ptyPair('deny');
  const board = startBoard(build, ['--port', b, '--id', 'stranger-1', '--no-key', '--pairable', '--period', '50']);
  const rec = recorder();
  const d = createDriver('bridge', 'mcu', { path: a, board: 'stranger-1', keysFile, pairing: 'tofu', handshakeTimeoutMs: 1500, retryMs: 150 });
  try {
    let err = '';
    await d.start(rec.ctx).catch((e: Error) => { err = e.message; });
    assert.match(err, /asks to pair/);
    assert.is(cli('deny', 'stranger-1').code, 0);
    err = '';
    await d.start(rec.ctx).catch((e: Error) => { err = e.message; });
    assert.match(err, /board "stranger-1" asks to pair but the owner denied it .*xiota bridge approve stranger-1/);
    assert.not.ok(board.log.includes('paired'), 'no key went out');
    assert.not.ok(readKeys(keysFile).has('stranger-1'));
    const r = cli('approve', 'nobody-1');
    assert.is(r.code, 2);
    assert.match(r.text, /no board "nobody-1" is asking to pair .*--force/);
  } finally {
    await d.stop();
    kill(board.proc);
  }
});

test('a board without pairing enabled is told apart; TOFU over MQTT is refused at start', async () => {
  const { a, b } = await ptyPair('nopair');
  const board = startBoard(build, ['--port', b, '--id', 'sealed-1', '--no-key', '--period', '50']); // not --pairable
  const rec = recorder();
  const d = createDriver('bridge', 'mcu', { path: a, board: 'sealed-1', keysFile, pairing: 'tofu', handshakeTimeoutMs: 1500, retryMs: 150 });
  try {
    await d.start(rec.ctx).catch(() => undefined);
    assert.is(cli('approve', 'sealed-1').code, 0);
    let err = '';
    await d.start(rec.ctx).catch((e: Error) => { err = e.message; });
    assert.match(err, /did not take the key it was sent \(does its firmware allow pairing/);
  } finally {
    await d.stop();
    kill(board.proc);
  }
  const m = createDriver('bridge', 'wifi', { path: 'mqtt://127.0.0.1:1', board: 'greenhouse-1', keysFile, pairing: 'tofu' });
  let err = '';
  await m.start(recorder().ctx).catch((e: Error) => { err = e.message; });
  assert.match(err, /tofu sends the board its key in the clear, so it is for a serial wire only/);
  assert.ok(existsSync(keysFile));
});

test('by chat: the owner lists and approves a board asking to pair; a reader may not', async () => {
  const chatKeys = join(workDir, 'chat', 'keys.json');
  mkdirSync(join(workDir, 'chat'), { recursive: true });
  const { a, b } = await ptyPair('chat');
  const board = startBoard(build, ['--port', b, '--id', 'greenhouse-3', '--no-key', '--pairable', '--period', '100']);
  const srv = await startProsody({ users: [{ user: 'dev', password: 'devpass' }, { user: 'owner', password: 'ownerpass' }, { user: 'reader', password: 'readerpass' }] });
  const r = configFromObject({
    account: { jid: `dev@${srv.host}`, password: 'devpass' },
    server: { host: '127.0.0.1', port: srv.c2sPort },
    tls: { ca_file: srv.caFile },
    outbox: { dir: join(workDir, 'chat', 'outbox'), flush_interval_ms: 10 },
    access: { owners: [`owner@${srv.host}`], readers: [`reader@${srv.host}`] },
    drivers: [{ id: 'greenhouse', kind: 'bridge', options: { path: a, board: 'greenhouse-3', keys_file: chatKeys, pairing: 'tofu', handshake_timeout_ms: 1500, retry_ms: 150 } }],
  });
  assert.equal(r.errors, []);
  const { drivers, errors } = buildDrivers(r.config!);
  assert.equal(errors, []);
  const agent = new Agent({ config: r.config!, credentials: { password: 'devpass', source: 'password', warnings: [] }, drivers, log: createLogger({ level: 'warn', write: () => undefined }) });
  const people: PyClient[] = [];
  try {
    await agent.start();
    await waitFor('agent online', () => agent.client.state === 'online');
    const [owner, reader] = await Promise.all([PyClient.start(srv, 'owner', 'ownerpass'), PyClient.start(srv, 'reader', 'readerpass')]);
    people.push(owner, reader);
    const dev = `dev@${srv.host}`;
    let pending = '';
    for (let i = 0; i < 40 && !/greenhouse-3 on /.test(pending); i++) { // the driver's first attempt records it
      pending = await owner.text(dev, 'bridge pending');
      if (!/greenhouse-3 on /.test(pending)) await sleep(200);
    }
    assert.match(pending, /^greenhouse-3 on .*chat-a, asking since .*: bridge approve greenhouse-3 \| bridge deny greenhouse-3$/);
    assert.match(await reader.text(dev, 'bridge approve greenhouse-3'), /not authorized|only .*owner/i);
    assert.match(await owner.text(dev, 'bridge approve greenhouse-3'), /^approved greenhouse-3: its key is made/);
    await until(() => board.log.includes('paired'), 15_000, 'the board to get its key');
    await until(() => agent.drivers.things().some((t) => t.id === 'greenhouse-3.1'), 10_000, 'the board\'s things');
    assert.match(await owner.text(dev, 'bridge pending'), /no board is asking to pair/);
  } finally {
    await Promise.all(people.map((p) => p.close()));
    await agent.stop();
    await srv.stop();
    kill(board.proc);
  }
});

test.run();
