// The xiota side of bench/readout.ts: the whole agent with its module list (sensordata
// included) and a simulated thing 'room' (temperature, humidity, fan) that a momentary readout
// samples fresh. Prints {"event":"ready","jid":...} once online; "hops" on stdin prints the hop
// timestamps of the readouts since the last "hops"; "quit" ends it.
//   node readout-child.js PORT DOMAIN USER PASSWORD CAFILE READER...
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent } from '../agent/agent';
import { configFromObject } from '../agent/config';
import { createSimulatedDriver } from '../drivers/simulated';
import { NS_SENSORDATA } from '../agent/xep/sensordata';
import type { Element } from '../agent/xml/element';
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
  // Hop timestamps (performance.timeOrigin + now, the reader's clock too) per seqnr: the req
  // reaching the router, <accepted/> handed to the session, the readout's end handed to it.
  const hops = new Map<string, { in?: number; accepted?: number; end?: number }>();
  const at = () => performance.timeOrigin + performance.now();
  const hop = (seqnr: string | undefined) => {
    if (seqnr === undefined) return undefined;
    let h = hops.get(seqnr);
    if (!h) hops.set(seqnr, (h = {}));
    return h;
  };
  const dispatch = agent.client.router.dispatch.bind(agent.client.router);
  agent.client.router.dispatch = (el: Element) => {
    const req = el.name === 'iq' ? el.getChild('req', NS_SENSORDATA) : undefined;
    if (req) hop(req.attrs.seqnr)!.in = at();
    return dispatch(el);
  };
  const send = agent.client.send.bind(agent.client);
  agent.client.send = (el: Element) => {
    const acc = el.name === 'iq' ? el.getChild('accepted', NS_SENSORDATA) : undefined;
    const end = el.name === 'message' ? el.getChild('done', NS_SENSORDATA) : undefined;
    if (acc) hop(acc.attrs.seqnr)!.accepted = at();
    if (end) hop(end.attrs.seqnr)!.end = at();
    send(el);
  };
  say({ event: 'ready', jid: agent.client.jid, modules: agent.modules.names() });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() === 'quit') break;
    if (line.trim() === 'hops') { say({ event: 'hops', hops: Object.fromEntries(hops) }); hops.clear(); }
  }
  lines.close();
  await agent.stop();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`xiota readout child: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
