// XEP-0323 momentary readout round trip, req sent to the readout's end received at the client
// (slixmpp's end marker: `<fields done='true'>`), p50/p99. xiota (the whole agent with its
// module list, in its own process with the CLI's node flags, a simulated thing sampled fresh on
// every readout) side by side with the anchor: a thing served by slixmpp 1.8.3's own xep_0323
// device plugin with the same three fields (test/clients/iot_device.py). Both asked on the same
// Prosody, in alternating rounds, by slixmpp's xep_0323 client (test/clients/iot_client.py) and
// by xiota's own XmppClient.
//   npx tsc -p . && node dist/bench/readout.js [asks-per-round] [rounds] [stock: only Prosody as shipped]
// XIOTA_BENCH_ACK_EVERY=N sets the agent's session.ack_request_every (default 32), and the xiota
// reader's, for an A/B (the space that follows a busy <a/> is the session's own now:
// Connection.nudge). A hop-by-hop table of the xiota reader -> xiota readouts follows.
import { join } from 'node:path';
import { XmppClient } from '../agent/session/client';
import { x, type Element } from '../agent/xml/element';
import { NS_SENSORDATA } from '../agent/xep/sensordata';
import { startProsody } from '../scripts/local-prosody';
import { IotClient, PyLines } from '../test/iot/_iot';
import { shebangFlags } from './rss';
import { pct, spawnJsonChild, type Child } from './child';

const ASKS = Number(process.argv[2] ?? 200);
const ROUNDS = Number(process.argv[3] ?? 3);

function spawnXiota(args: string[]): Child {
  const flags = shebangFlags(join(__dirname, '..', 'agent', 'cli', 'main.js'));
  return spawnJsonChild('xiota', [...flags, join(__dirname, 'readout-child.js'), ...args]);
}

/** One readout as the xiota reader saw it (performance.timeOrigin + now): req sent, <accepted/> in, the end in. */
interface ReaderTimes { seqnr: string; sent: number; accepted: number; end: number }

/** xiota's own client as the reader: req out, accepted and then fields done='true' in. */
function nodeReader(c: XmppClient) {
  const waiting = new Map<string, () => void>();
  c.router.on(`message/${NS_SENSORDATA}`, (m: Element) => {
    const el = m.elements.find((e) => e.xmlns === NS_SENSORDATA);
    if (!el) return undefined;
    const end = (el.name === 'fields' || el.name === 'failure') && el.attrs.done === 'true';
    if (end) { waiting.get(el.attrs.seqnr ?? '')?.(); waiting.delete(el.attrs.seqnr ?? ''); }
    return true;
  });
  // Numeric (slixmpp's device reads seqnr as a number) and apart from the slixmpp reader's.
  let seq = 1_000_000;
  const now = () => performance.timeOrigin + performance.now();
  const times: ReaderTimes[] = [];
  const ask = async (to: string, n: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const s = String(++seq);
      const t0 = now();
      const done = new Promise<void>((resolve) => waiting.set(s, resolve));
      const res = await c.iq(x('iq', { type: 'get', to }, x('req', { xmlns: NS_SENSORDATA, seqnr: s, momentary: 'true' })), 10_000);
      const t1 = now();
      if (!res.getChild('accepted', NS_SENSORDATA)) throw new Error(`${to} did not accept: ${res.toString().slice(0, 300)}`);
      await Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error(`${to}: readout ${s} did not end within 10 s`)), 10_000))]);
      const t2 = now();
      out.push(t2 - t0);
      times.push({ seqnr: s, sent: t0, accepted: t1, end: t2 });
    }
    return out;
  };
  return { ask, times };
}

interface AgentHops { in?: number; accepted?: number; end?: number }

/**
 * Where the xiota reader -> xiota readouts spent their time, hop by hop (one clock: both
 * processes stamp performance.timeOrigin + now): all of them, and the slowest 2 %.
 */
function hopTable(agent: Record<string, AgentHops>, reader: ReaderTimes[]): void {
  const rows = reader.flatMap((r) => {
    const a = agent[r.seqnr];
    if (!a?.in || !a.accepted || !a.end) return [];
    return [{ total: r.end - r.sent, toAgent: a.in - r.sent, inAgent: a.end - a.in, acceptedBack: r.accepted - a.accepted, endBack: r.end - a.end }];
  });
  if (!rows.length) return;
  const tail = [...rows].sort((p, q) => q.total - p.total).slice(0, Math.max(1, Math.ceil(rows.length / 50)));
  const med = (xs: typeof rows, k: keyof typeof rows[number]) => pct(xs.map((v) => v[k]), 50).toFixed(2);
  console.log(`\nxiota reader → xiota, hop by hop (median ms; ${rows.length} readouts, the slowest ${tail.length} apart)\n`);
  console.log('| readouts | req → agent router | agent: req in → end sent | accepted sent → at reader | end sent → at reader | total |');
  console.log('|---|---|---|---|---|---|');
  for (const [name, xs] of [['all', rows], ['slowest 2 %', tail]] as const) {
    console.log(`| ${name} | ${med(xs, 'toAgent')} | ${med(xs, 'inAgent')} | ${med(xs, 'acceptedBack')} | ${med(xs, 'endBack')} | ${med(xs, 'total')} |`);
  }
}

/** One run on a fresh Prosody with `extra` in its config: the table's rows. */
async function runOn(title: string, extra: string): Promise<void> {
  const srv = await startProsody({ extraConfig: `storage = { pep_data = "memory" }\n${extra}` });
  for (const u of ['xiota', 'thing', 'reader', 'nodereader']) await srv.register(u, `${u}pass`);
  let child: ReturnType<typeof spawnXiota> | undefined;
  let device: PyLines | undefined;
  let py: IotClient | undefined;
  let node: XmppClient | undefined;
  try {
    child = spawnXiota([String(srv.c2sPort), srv.host, 'xiota', 'xiotapass', srv.caFile, `reader@${srv.host}`, `nodereader@${srv.host}`]);
    const ready = await child.next('ready', 30_000);
    if (!(ready.modules as string[]).includes('sensordata')) throw new Error('the agent has no sensordata module');
    const XIOTA = String(ready.jid);
    device = new PyLines('iot_device.py', [`thing@${srv.host}/dev`, 'thingpass', String(srv.c2sPort), srv.caFile], 'slixmpp device');
    const SLIX = String((await device.next('online', 20_000)).jid);
    py = await IotClient.start(srv, 'reader', 'readerpass');
    node = new XmppClient({ ...(process.env.XIOTA_BENCH_ACK_EVERY ? { ackEvery: Number(process.env.XIOTA_BENCH_ACK_EVERY) } : {}), jid: `nodereader@${srv.host}`, resource: 'node', credentials: { username: 'nodereader', password: 'nodereaderpass' }, server: { host: '127.0.0.1', port: srv.c2sPort }, tls: { caFile: srv.caFile } });
    const { ask: nodeAsk, times } = nodeReader(node);
    await node.connectOnce();
    const pyAsk = (to: string, n: number) => py!.bench(to, n);
    // Warm up each pair.
    for (const to of [XIOTA, SLIX]) { await pyAsk(to, 20); await nodeAsk(to, 20); }
    const res: Record<string, number[]> = { 'slixmpp reader → xiota': [], 'slixmpp reader → slixmpp device': [], 'xiota reader → xiota': [], 'xiota reader → slixmpp device': [] };
    for (let r = 0; r < ROUNDS; r++) {
      res['slixmpp reader → xiota']!.push(...await pyAsk(XIOTA, ASKS));
      res['slixmpp reader → slixmpp device']!.push(...await pyAsk(SLIX, ASKS));
      res['xiota reader → xiota']!.push(...await nodeAsk(XIOTA, ASKS));
      res['xiota reader → slixmpp device']!.push(...await nodeAsk(SLIX, ASKS));
    }
    console.log(`\n${title}\n`);
    console.log('| reader → thing | p50 ms | p99 ms | max ms | readouts |');
    console.log('|---|---|---|---|---|');
    for (const [k, v] of Object.entries(res)) console.log(`| ${k} | ${pct(v, 50).toFixed(2)} | ${pct(v, 99).toFixed(2)} | ${Math.max(...v).toFixed(2)} | ${v.length} |`);
    child.send('hops');
    hopTable((await child.next('hops')).hops as Record<string, AgentHops>, times);
  } finally {
    child?.send('quit');
    await py?.close();
    await device?.close();
    await node?.stop().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    child?.proc.kill();
    await srv.stop();
  }
}

async function main(): Promise<void> {
  console.log(`XEP-0323 momentary readout, req -> fields done='true' at the reader, ${ASKS * ROUNDS} readouts per pair (one at a time, ${ROUNDS} alternating rounds); 3 fields (2 numeric, 1 boolean), sampled fresh on every readout; loopback Prosody 0.12; agent ack_request_every ${process.env.XIOTA_BENCH_ACK_EVERY ?? '32 (default)'}`);
  // Prosody's sockets keep Nagle on by default (net/server_epoll.lua nagle = true): a stanza
  // written while an earlier one is unacknowledged waits for the reader's delayed ACK (~40 ms).
  // Both things pay it alike; the second run shows what the devices themselves take.
  await runOn('Prosody as shipped (Nagle on):', '');
  if (process.argv[4] !== 'stock') await runOn('Prosody with network_settings = { nagle = false }:', 'network_settings = { nagle = false }');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
