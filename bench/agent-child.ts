// The xiota side of bench/chat.ts and bench/adhoc.ts: the whole agent as `xiota run` builds it
// (its module list: chat and commands included), publishing readings from a push driver at a
// set rate while people ask it questions. JSON lines on stdout, commands on stdin:
//   run RATE SECONDS   publish RATE readings/s for SECONDS, then report what was acked
//   quit
//   node agent-child.js PORT DOMAIN USER PASSWORD CAFILE OWNER THING_ID
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent } from '../agent/agent';
import { configFromObject } from '../agent/config';
import { MODULES } from '../agent/modules';
import { pace, say } from './publish-pace';
import { PushDriver } from './push-driver';

const [port, domain, user, password, caFile, owner, thingId] = process.argv.slice(2) as [string, string, string, string, string, string, string];

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-bench-agent-'));
  const r = configFromObject({
    account: { jid: `${user}@${domain}/bench`, password },
    server: { host: '127.0.0.1', port: Number(port) },
    tls: { ca_file: caFile },
    outbox: { dir: join(dir, 'outbox') },
    pubsub: { access_model: 'open', max_items: 100 },
    publish: { deadband: 0, min_interval_s: 0 },
    access: { owners: [owner] },
  });
  if (!r.config) throw new Error(`config: ${JSON.stringify(r.errors)}`);
  const driver = new PushDriver(thingId);
  // BENCH_MODULES=disco,basics,chat: only these (to see what another module costs).
  const keep = process.env.BENCH_MODULES?.split(',');
  const modules = keep ? MODULES.filter((m) => keep.includes(m.name)) : MODULES;
  const agent = new Agent({ config: r.config, credentials: { password, source: 'password', warnings: [] }, drivers: [driver], modules });
  await agent.start();
  let acked = 0;
  const outbox = agent.outbox!;
  const ack = outbox.ack.bind(outbox);
  outbox.ack = (ids) => { acked += ids.length; return ack(ids); };
  await new Promise<void>((resolve) => {
    if (agent.client.state === 'online') return resolve();
    agent.client.once('online', () => resolve());
  });
  driver.emit(-1);
  say({ event: 'ready', jid: agent.client.jid, modules: agent.modules.names() });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const [cmd, rate, seconds] = line.trim().split(/\s+/);
    if (cmd === 'quit') break;
    if (cmd !== 'run') continue;
    const n = Math.round(Number(rate) * Number(seconds));
    const base = acked;
    const cpu0 = process.cpuUsage();
    await pace(Number(rate), n, (i) => driver.emit(i));
    await new Promise((res) => setTimeout(res, 500));
    const cpu = process.cpuUsage(cpu0);
    say({ event: 'done', sent: n, acked: acked - base, cpuUs: cpu.user + cpu.system });
  }
  lines.close();
  await agent.stop();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`xiota agent child: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
