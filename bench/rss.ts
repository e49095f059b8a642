// Memory of the running agent: peak RSS of an agent with 10 simulated things (1 s poll),
// online to a local Prosody and publishing for ~10 s, vs an idle Node process that only waits
// the same time. Target: the agent at most 12 MiB above idle Node.
//   npx tsc -p . --outDir OUT && node OUT/bench/rss.js       (the child: rss.js agent ...)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../agent/agent';
import { configFromObject } from '../agent/config';
import { createSimulatedDriver } from '../drivers/simulated';
import { startProsody } from '../scripts/local-prosody';

const RUN_MS = Number(process.env.BENCH_RSS_MS ?? 10_000);

/** Child: the agent itself. Prints {peak, rss, published} on stdout when done. */
async function agentChild(port: string, domain: string, caFile: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-bench-rss-'));
  const r = configFromObject({
    account: { jid: `dev@${domain}`, password: 'benchpass' },
    server: { host: '127.0.0.1', port: Number(port) },
    tls: { ca_file: caFile },
    outbox: { dir },
    pubsub: { access_model: 'open' },
    publish: { deadband: 0, min_interval_s: 0 },
  });
  if (!r.config) throw new Error(JSON.stringify(r.errors));
  const things = Array.from({ length: 10 }, (_, i) => ({
    id: `thing${i}`,
    fields: [
      { name: 'temperature', type: 'numeric' as const, unit: '°C', precision: 2, waveform: 'sine' as const, min: 15, max: 25, periodS: 30, noise: 0.1 },
      { name: 'humidity', type: 'numeric' as const, unit: '%', precision: 1, waveform: 'random' as const, min: 30, max: 70 },
    ],
  }));
  const driver = createSimulatedDriver('sim', { seed: 1, pollIntervalMs: 1000, things });
  const agent = new Agent({ config: r.config, credentials: { password: 'benchpass', source: 'password', warnings: [] }, drivers: [driver] });
  await agent.start();
  await new Promise((res) => setTimeout(res, RUN_MS));
  const out = { peak: process.resourceUsage().maxRSS * 1024, rss: process.memoryUsage().rss, published: agent.pipeline?.stats.published ?? 0, online: agent.client.state };
  await agent.stop();
  rmSync(dir, { recursive: true, force: true });
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

function runNode(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Record<string, number | string>> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    const kill = setTimeout(() => p.kill('SIGKILL'), RUN_MS + 30_000);
    p.on('exit', (code) => {
      clearTimeout(kill);
      if (code !== 0) return reject(new Error(`${args[0]} exited ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as Record<string, number | string>);
      } catch (e) {
        reject(e);
      }
    });
  });
}

export async function main(): Promise<void> {
  const srv = await startProsody({ users: [{ user: 'dev', password: 'benchpass' }] });
  try {
    const idleSrc = `setTimeout(() => { process.stdout.write(JSON.stringify({ peak: process.resourceUsage().maxRSS * 1024, rss: process.memoryUsage().rss }) + '\\n'); }, ${RUN_MS});`;
    const [agent, idle] = await Promise.all([
      runNode([__filename, 'agent', String(srv.c2sPort), srv.host, srv.caFile]),
      runNode(['-e', idleSrc]),
    ]);
    const mib = (b: number) => (b / 1048576).toFixed(1);
    const a = agent.peak as number;
    const i = idle.peak as number;
    console.log(`\nPeak RSS over ${RUN_MS / 1000} s (process.resourceUsage().maxRSS), Node ${process.version}`);
    console.log(`| ${'process'.padEnd(58)} | ${'peak RSS (MiB)'.padStart(14)} |`);
    console.log(`|${'-'.repeat(60)}|${'-'.repeat(16)}|`);
    console.log(`| ${`xiota agent, 10 simulated things x 2 fields, 1 s poll`.padEnd(58)} | ${mib(a).padStart(14)} |`);
    console.log(`| ${'idle node -e (waits the same time)'.padEnd(58)} | ${mib(i).padStart(14)} |`);
    console.log(`| ${'difference (target <= 12 MiB)'.padEnd(58)} | ${mib(a - i).padStart(14)} |`);
    console.log(`agent: ${String(agent.online)} at the end, ${String(agent.published)} readings published; RSS at the end ${mib(agent.rss as number)} MiB`);
  } finally {
    await srv.stop();
  }
}

if (require.main === module) {
  if (process.argv[2] === 'agent') {
    agentChild(process.argv[3]!, process.argv[4]!, process.argv[5]!).catch((e) => {
      process.stderr.write(`rss agent child: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    });
  } else {
    void main().catch((e) => { console.error(e); process.exit(1); });
  }
}
