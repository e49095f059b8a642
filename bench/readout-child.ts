// The xiota side of bench/readout.ts: the whole agent with its module list (sensordata
// included) and a simulated thing 'room' (temperature, humidity, fan) that a momentary readout
// samples fresh. Prints {"event":"ready","jid":...} once online; "quit" on stdin ends it.
//   node readout-child.js PORT DOMAIN USER PASSWORD CAFILE READER...
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent } from '../agent/agent';
import { configFromObject } from '../agent/config';
import { createSimulatedDriver } from '../drivers/simulated';
import { say } from './publish-pace';

const [port, domain, user, password, caFile, ...readers] = process.argv.slice(2) as [string, string, string, string, string, ...string[]];

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-bench-readout-'));
  const r = configFromObject({
    account: { jid: `${user}@${domain}/bench`, password },
    server: { host: '127.0.0.1', port: Number(port) },
    tls: { ca_file: caFile },
    outbox: { dir: join(dir, 'outbox') },
    access: { owners: [], readers },
    // XIOTA_BENCH_ACK_EVERY: the agent's XEP-0198 <r/> cadence (session.ack_request_every).
    ...(process.env.XIOTA_BENCH_ACK_EVERY ? { session: { ack_request_every: Number(process.env.XIOTA_BENCH_ACK_EVERY) } } : {}),
  });
  if (!r.config) throw new Error(`config: ${JSON.stringify(r.errors)}`);
  const driver = createSimulatedDriver('sim', {
    pollIntervalMs: 10_000,
    things: [{ id: 'room', fields: [
      { name: 'temperature', type: 'numeric', unit: '°C', precision: 2, min: 18, max: 26 },
      { name: 'humidity', type: 'numeric', unit: '%', precision: 0, min: 40, max: 60 },
      { name: 'fan', type: 'boolean', writable: true, initial: false },
    ] }],
  });
  const agent = new Agent({ config: r.config, credentials: { password, source: 'password', warnings: [] }, drivers: [driver] });
  await agent.start();
  await new Promise<void>((resolve) => {
    if (agent.client.state === 'online') return resolve();
    agent.client.once('online', () => resolve());
  });
  say({ event: 'ready', jid: agent.client.jid, modules: agent.modules.names() });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) if (line.trim() === 'quit') break;
  lines.close();
  await agent.stop();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`xiota readout child: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
