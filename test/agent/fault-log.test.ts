// A driver fault is logged once (by DriverHost) and reaches the modules as an agent event.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Agent } from '../../agent/agent';
import { configFromObject } from '../../agent/config';
import { createLogger } from '../../agent/log';
import type { DriverFault } from '../../drivers/host';
import type { Driver } from '../../drivers/types';

const t = suite('driver fault log');

t('a failing driver start: one log line, one fault event', async () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', json: true, write: (l) => lines.push(l) });
  const r = configFromObject({ account: { jid: 'dev@example.org', password: 'x' }, server: { host: '127.0.0.1', port: 1 }, outbox: { dir: '/tmp/xiota-fault-log/outbox' } });
  const broken: Driver = {
    id: 'broken', kind: 'test',
    start: async () => { throw new Error('bus 7 not found'); },
    stop: async () => {},
    things: () => [],
  };
  const agent = new Agent({ config: r.config!, credentials: { password: 'x', source: 'password', warnings: [] }, drivers: [broken], log });
  const faults: DriverFault[] = [];
  agent.events.on('fault', (f) => faults.push(f));
  await agent.drivers.start();
  await agent.drivers.stop();
  const logged = lines.filter((l) => l.includes('bus 7 not found'));
  assert.is(logged.length, 1, logged.join('\n'));
  assert.is(faults.length, 1);
  assert.match(faults[0]!.message, /bus 7 not found/);
  await agent.stop();
});

t.run();
