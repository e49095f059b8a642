// Self-test of the Mosquitto fixture: a real publish/subscribe round trip with the mqtt
// package, restart on the same port after a crash, and no broker left behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { ensureMosquittoInstalled, startMosquitto, type MosquittoServer } from '../servers/mosquitto';
import { canConnect } from '../servers/process';
import { alive } from './_raw';

let broker: MosquittoServer | undefined;

test.after(async () => {
  await broker?.stop();
});

async function roundTrip(url: string, topic: string, payload: string): Promise<string> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000 });
  try {
    const got = new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no message within 5 s')), 5000);
      client.on('message', (tp, msg) => {
        if (tp === topic) { clearTimeout(t); resolve(msg.toString()); }
      });
    });
    await client.subscribeAsync(topic, { qos: 1 });
    await client.publishAsync(topic, payload, { qos: 1 });
    return await got;
  } finally {
    await client.endAsync(true);
  }
}

test('publish/subscribe round trip through a real broker', async () => {
  broker = await startMosquitto();
  assert.ok(broker.pid && alive(broker.pid));
  assert.is(broker.url, `mqtt://127.0.0.1:${broker.port}`);
  assert.is(await roundTrip(broker.url, 'xiota/test/a', 'hello 21.5'), 'hello 21.5');
});

test('kill() then start() serves again on the same port', async () => {
  const pid = broker!.pid!;
  await broker!.kill();
  assert.not.ok(alive(pid));
  assert.not.ok(await canConnect(broker!.port));
  await broker!.start();
  assert.ok(broker!.pid && broker!.pid !== pid);
  assert.is(await roundTrip(broker!.url, 'xiota/test/b', 'again'), 'again');
});

test('stop() ends the broker and removes its directory', async () => {
  const pid = broker!.pid!;
  await broker!.stop();
  assert.not.ok(alive(pid));
  assert.not.ok(existsSync(broker!.dir));
  broker = undefined;
});

test('a test process SIGKILLed mid-run takes its servers with it (watchdog)', async () => {
  const child = spawn(process.execPath, [join(__dirname, '_orphan-child.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [pid, dir] = await new Promise<[number, string]>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) { const [p, d2] = out.trim().split(' '); resolve([Number(p), d2]); }
    });
    child.once('exit', () => reject(new Error('child exited early: ' + out)));
  });
  assert.ok(pid > 0 && alive(pid), 'broker running under the child');
  child.kill('SIGKILL');
  for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 10));
  assert.not.ok(alive(pid), 'broker killed by the watchdog');
  for (let i = 0; i < 100 && existsSync(dir); i++) await new Promise((r) => setTimeout(r, 10));
  assert.not.ok(existsSync(dir), 'its throwaway dir removed too');
});

test('missing mosquitto in CI: a clear error, never a skip', () => {
  const path = process.env.PATH;
  const ci = process.env.CI;
  process.env.PATH = '/nonexistent';
  process.env.CI = 'true';
  try {
    assert.throws(() => ensureMosquittoInstalled(), /mosquitto is not installed \(CI: this is a failure, not a skip\)\. Install it with: sudo apt-get install mosquitto/);
  } finally {
    process.env.PATH = path;
    if (ci === undefined) delete process.env.CI; else process.env.CI = ci;
  }
});

test.run();
