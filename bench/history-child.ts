// The agent side of bench/history.ts: the whole agent with its module list, in its own process
// (bench/history.ts starts it with the CLI's node flags, as `xiota run` runs), on a state
// directory whose history store the parent filled. Prints {"event":"ready","jid":...,"rss":...}
// once online. Commands on stdin, one a line:
//   rss      -> {"event":"rss","rss":bytes,"heapUsed":bytes} after a full GC (--expose-gc)
//   trace    -> {"event":"trace","sends":[[ms, seqnr, payloads, bytes, sendMs], ...]}: when each
//               XEP-0323 message was handed to the session (performance.timeOrigin + now, ms),
//               its bytes before TLS and the time send() took; then forgets them; and
//               cpuMs: the process's CPU time so far
//   quit     -> ends it
//   node history-child.js PORT DOMAIN USER PASSWORD CAFILE DIR THINGS_JSON READER...
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent } from '../agent/agent';
import { configFromObject } from '../agent/config';
import { NS_SENSORDATA } from '../agent/iot/readout';
import type { Element } from '../agent/xml/element';
import { createSimulatedDriver, type SimulatedThingOptions } from '../drivers/simulated';
import { say } from './publish-pace';

const [port, domain, user, password, caFile, dir, thingsJson, ...readers] = process.argv.slice(2) as [string, string, string, string, string, string, string, ...string[]];

async function main(): Promise<void> {
  const r = configFromObject({
    account: { jid: `${user}@${domain}/bench`, password },
    server: { host: '127.0.0.1', port: Number(port) },
    tls: { ca_file: caFile },
    outbox: { dir: join(dir, 'outbox') },
    access: { owners: [], readers },
  });
  if (!r.config) throw new Error(`config: ${JSON.stringify(r.errors)}`);
  const things = JSON.parse(thingsJson) as SimulatedThingOptions[];
  const driver = createSimulatedDriver('sim', { pollIntervalMs: 3_600_000, things });
  const agent = new Agent({ config: r.config, credentials: { password, source: 'password', warnings: [] }, drivers: [driver] });
  // Every XEP-0323 message as it is handed to the session (the socket write follows at once).
  // [when (ms), seqnr, payload names, bytes written (before TLS), ms spent in send].
  const sends: [number, string, string, number, number][] = [];
  const send = agent.client.send.bind(agent.client);
  const conn = () => (agent.client as unknown as { conn?: { bytesOut: number } }).conn;
  agent.client.send = (el: Element) => {
    const p = el.name === 'message' ? el.elements.find((e) => e.xmlns === NS_SENSORDATA) : undefined;
    const t = performance.now();
    const b0 = conn()?.bytesOut ?? 0;
    send(el);
    if (p) sends.push([performance.timeOrigin + t, p.attrs.seqnr ?? '', el.elements.map((e) => e.name).join('+'), (conn()?.bytesOut ?? 0) - b0, performance.now() - t]);
  };
  await agent.start();
  await new Promise<void>((resolve) => {
    if (agent.client.state === 'online') return resolve();
    agent.client.once('online', () => resolve());
  });
  say({ event: 'ready', jid: agent.client.jid, rss: process.memoryUsage().rss });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const cmd = line.trim();
    if (cmd === 'quit') break;
    if (cmd === 'rss') {
      (globalThis as { gc?: () => void }).gc?.();
      const m = process.memoryUsage();
      say({ event: 'rss', rss: m.rss, heapUsed: m.heapUsed });
    }
    if (cmd === 'trace') { const c = process.cpuUsage(); say({ event: 'trace', sends: sends.splice(0), cpuMs: (c.user + c.system) / 1000 }); }
  }
  lines.close();
  await agent.stop();
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`xiota history child: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
