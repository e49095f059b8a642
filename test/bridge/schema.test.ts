// A firmware update changes the board's schema while the agent runs: the driver diffs it by
// key and adopts it at once (DriverContext.thingsChanged), without a restart. The new entity's
// readings reach its own PEP node on Prosody, the removed one is gone from the agent's things,
// and the renamed one keeps its thing id (ids are keys, not names).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { startProsody } from '../../scripts/local-prosody';
import { clientFor, waitFor } from '../session/_helpers';
import { bridgeAgent, pairedKey, pepReadings } from './_agent';
import { buildFirmware, kill, ptyPair, startBoard, until, workDir } from './_board';

test('firmware 1 → firmware 2 on the same port: pressure appears in PEP, humidity leaves, no restart', async () => {
  const build = buildFirmware().dir;
  const keysFile = join(workDir, 'schema-keys.json');
  const key = pairedKey(keysFile, 'greenhouse-1');
  const { a, b } = await ptyPair('schema');
  let board = startBoard(build, ['--port', b, '--id', 'greenhouse-1', '--key', key, '--period', '100']);
  const srv = await startProsody({ users: [{ user: 'dev', password: 'devpass' }, { user: 'watcher', password: 'watchpass' }] });
  const lines: string[] = [];
  const agent = bridgeAgent(srv, { path: a, keysFile, outbox: 'schema-outbox', bridge: { ping_ms: 200, dead_after_ms: 800, retry_ms: 100 }, log: (l) => lines.push(l) });
  const watcher = clientFor(srv, 'watcher', 'watchpass', { resource: 'w' });
  try {
    await agent.start();
    await waitFor('agent online', () => agent.client.state === 'online');
    assert.equal(agent.drivers.things().map((t) => t.id), ['greenhouse-1.1', 'greenhouse-1.2', 'greenhouse-1.10', 'greenhouse-1.11']);
    kill(board.proc);
    board = startBoard(build, ['--port', b, '--id', 'greenhouse-1', '--key', key, '--period', '100', '--firmware', '2']);
    await until(() => agent.drivers.things().some((t) => t.id === 'greenhouse-1.3'), 10_000, 'the new entity as a thing');
    const things = agent.drivers.things();
    assert.equal(things.map((t) => t.id), ['greenhouse-1.1', 'greenhouse-1.3', 'greenhouse-1.10', 'greenhouse-1.11']);
    assert.is(things[0].name, 'air temperature', 'renamed, same id');
    assert.equal([things[1].name, things[1].fields[0].unit], ['pressure', 'hPa']);
    assert.ok(lines.some((l) => /changed its schema \(firmware 2\.0\.0\): .*added 3 \(pressure\).*removed 2 \(humidity\)/.test(l)), lines.filter((l) => /schema/.test(l)).join('\n'));
    await watcher.connectOnce();
    const items = (node: string) => pepReadings(watcher, srv.host, node);
    let pressure: Awaited<ReturnType<typeof items>> = [];
    for (let i = 0; i < 50 && pressure.length < 2; i++) {
      await waitFor('outbox drained', () => agent.pipeline!.idle, 10_000);
      pressure = await items('urn:xiota:greenhouse-1.3').catch(() => []);
      if (pressure.length < 2) await new Promise((res) => setTimeout(res, 200));
    }
    assert.ok(pressure.length >= 2, `pressure items: ${pressure.length}`);
    for (const p of pressure) assert.ok((p.values[0].value as number) >= 1013 && (p.values[0].value as number) < 1014, JSON.stringify(p.values));
  } finally {
    await watcher.stop().catch(() => undefined);
    await agent.stop();
    await srv.stop();
    kill(board.proc);
  }
});

test.run();
