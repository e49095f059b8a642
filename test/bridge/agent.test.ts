// End to end: the C fake board on a pty → the bridge driver (configured from YAML-shaped
// options) → the agent → PEP items on a real Prosody, read by another account. A set from the
// agent reaches the board, is acknowledged, and the resulting value is published too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { startProsody } from '../../scripts/local-prosody';
import { clientFor, waitFor } from '../session/_helpers';
import { bridgeAgent, pairedKey, pepReadings } from './_agent';
import { buildFirmware, kill, ptyPair, sleep, startBoard, until, workDir } from './_board';

test('board readings reach PEP items named by board id and key; a set from the agent is acked and published', async () => {
  const build = buildFirmware().dir;
  const keysFile = join(workDir, 'agent-keys.json');
  const key = pairedKey(keysFile, 'greenhouse-1');
  const { a, b } = await ptyPair('agent');
  const board = startBoard(build, ['--port', b, '--id', 'greenhouse-1', '--key', key, '--period', '100']);
  const srv = await startProsody({ users: [{ user: 'dev', password: 'devpass' }, { user: 'watcher', password: 'watchpass' }] });
  const agent = bridgeAgent(srv, { path: a, keysFile, outbox: 'outbox' });
  const watcher = clientFor(srv, 'watcher', 'watchpass', { resource: 'w' });
  try {
    await agent.start();
    await waitFor('agent online', () => agent.client.state === 'online');
    assert.equal(agent.drivers.things().map((t) => t.id), ['greenhouse-1.1', 'greenhouse-1.2', 'greenhouse-1.10', 'greenhouse-1.11']);
    await agent.drivers.set('greenhouse-1.10', 'value', true);
    await until(() => board.sets().includes('set key=10 value=1'), 2000, 'the board to log the set');
    await sleep(1500);
    await waitFor('outbox drained', () => agent.pipeline!.idle, 10_000);
    await watcher.connectOnce();
    const items = (node: string) => pepReadings(watcher, srv.host, node);
    const temps = await items('urn:xiota:greenhouse-1.1');
    assert.ok(temps.length >= 5, `temperature items: ${temps.length}`);
    const values = temps.sort((x, y) => x.timestamp - y.timestamp).map((t) => t.values[0].value as number);
    for (let i = 1; i < values.length; i++) assert.ok(values[i] > values[i - 1], `in order: ${values.join(' ')}`);
    const relay = await items('urn:xiota:greenhouse-1.10');
    assert.ok(relay.some((t) => t.values[0].value === true), `the acknowledged relay value is published: ${JSON.stringify(relay.map((t) => t.values))}`);
  } finally {
    await watcher.stop().catch(() => undefined);
    await agent.stop();
    await srv.stop();
    kill(board.proc);
  }
});

test.run();
