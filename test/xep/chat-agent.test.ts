// The chat module as the agent loads it (agent/modules.ts -> agent/chat/index.ts): the whole
// agent on Prosody with a simulated greenhouse, access from the config, history read back
// from the PEP node the agent's own pipeline publishes to, a `read` that samples now.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../../agent/agent';
import { configFromObject } from '../../agent/config';
import { NOT_AUTHORIZED, NS_RECEIPTS } from '../../agent/xep/chat';
import { createSimulatedDriver } from '../../drivers/simulated';
import { startProsody, type ProsodyServer } from '../../scripts/local-prosody';
import { waitFor } from '../session/_helpers';
import { PyClient } from '../chat/_slixmpp';

const t = suite('chat in the agent');
let srv: ProsodyServer;
let dir: string;
let agent: Agent;
let owner: PyClient;
let stranger: PyClient;
let DEV = '';

t.before(async () => {
  srv = await startProsody({ extraConfig: 'storage = { pep_data = "memory" }' });
  for (const u of ['dev', 'alice', 'eve']) await srv.register(u, `${u}pass`);
  dir = mkdtempSync(join(tmpdir(), 'xiota-chat-agent-'));
  const r = configFromObject({
    account: { jid: `dev@${srv.host}/gw`, password: 'devpass' },
    server: { host: '127.0.0.1', port: srv.c2sPort },
    tls: { ca_file: srv.caFile },
    outbox: { dir: join(dir, 'outbox'), flush_interval_ms: 20 },
    publish: { deadband: 0, min_interval_s: 0 },
    access: { owners: [`alice@${srv.host}`] },
  });
  assert.equal(r.errors, []);
  const driver = createSimulatedDriver('sim', {
    pollIntervalMs: 200,
    things: [{ id: 'greenhouse', fields: [
      { name: 'temperature', type: 'numeric', unit: '°C', precision: 2, waveform: 'ramp', min: 10, max: 30, periodS: 3600 },
      { name: 'fan', type: 'boolean', writable: true, initial: false },
      { name: 'setpoint', type: 'numeric', unit: '°C', precision: 1, writable: true, min: 5, max: 30, initial: 20 },
    ] }],
  });
  agent = new Agent({ config: r.config!, credentials: { password: 'devpass', source: 'password', warnings: [] }, drivers: [driver] });
  await agent.start();
  await waitFor('agent online', () => agent.client.state === 'online', 15_000);
  await waitFor('a few readings published', () => agent.pipeline!.stats.published >= 5, 15_000);
  DEV = `dev@${srv.host}`;
  [owner, stranger] = await Promise.all([PyClient.start(srv, 'alice', 'alicepass'), PyClient.start(srv, 'eve', 'evepass')]);
});

t.after(async () => {
  await Promise.all([owner?.close(), stranger?.close()]);
  await agent?.stop();
  await srv?.stop();
  rmSync(dir, { recursive: true, force: true });
});

t('the module list has chat, and disco advertises receipts', () => {
  assert.ok(agent.modules.names().includes('chat'));
  assert.ok(agent.disco.featureList().includes(NS_RECEIPTS));
});

t('owner: status, a fresh read, a set echoed and read back, history from the agent\'s own PEP node', async () => {
  assert.match(await owner.text(DEV, 'status'), /^greenhouse, (just now|\d s ago):\ntemperature: \d+\.\d\d °C\nfan: off \(settable\)\nsetpoint: 20\.0 °C \(settable\)$/);
  assert.match(await owner.text(DEV, 'temperature?'), /^greenhouse\.temperature: \d+\.\d\d °C, just now$/);
  assert.is(await owner.text(DEV, 'set greenhouse.fan on'), 'greenhouse.fan is now on (was off)');
  assert.match(await owner.text(DEV, 'fan?'), /^greenhouse\.fan: on, just now$/);
  const h = await owner.text(DEV, 'history greenhouse.temperature 3');
  assert.match(h, /^greenhouse\.temperature, 3 values \(newest first\):\n(just now|\d+ s ago): \d+\.\d\d °C\n.*°C\n.*°C$/);
  const values = h.split('\n').slice(1).map((l) => Number(/: (\d+\.\d\d) °C/.exec(l)![1]));
  assert.ok(values[0]! >= values[1]! && values[1]! >= values[2]!, `a rising ramp, newest first: ${values.join(', ')}`);
  const receipt = await owner.ask(DEV, 'ping', { receipt: true });
  assert.is(receipt.body, 'pong');
  assert.ok(receipt.receipt);
});

t('owner: the range the driver declares reaches chat: an out-of-range set is refused with the range, one inside is applied', async () => {
  assert.is(await owner.text(DEV, 'set greenhouse.setpoint 99'), 'greenhouse.setpoint takes a number in °C from 5 to 30; 99 is out of range');
  assert.match(await owner.text(DEV, 'setpoint?'), /^greenhouse\.setpoint: 20\.0 °C, /, 'the refused set changed nothing');
  assert.is(await owner.text(DEV, 'set greenhouse.setpoint 21,5'), 'greenhouse.setpoint is now 21.5 °C (was 20.0 °C)');
  // The host refuses it too, for whoever calls it (XEP-0325, ad-hoc commands), naming the range.
  try { await agent.drivers.set('greenhouse', 'setpoint', 99); assert.unreachable(); } catch (e) {
    assert.match((e as Error).message, /"greenhouse\/setpoint": 99 is out of range: it takes 5 to 30 °C/);
  }
});

t('stranger: not authorized, no value', async () => {
  assert.is(await stranger.text(DEV, 'status'), NOT_AUTHORIZED);
  const again = await stranger.ask(DEV, 'temperature?', { timeout: 1000 });
  assert.is(again.body, null, 'the second refusal within 30 s is not answered');
});

t.run();
