// bench/history.ts (d): an XEP-0323 historical readout of 10,000 values through the whole agent,
// in its own process with the CLI's node flags (bench/history-child.ts) on a history store the
// bench filled, asked by slixmpp 1.8.3's xep_0323 client and by this repo's XmppClient, one at a
// time. Besides req -> last <fields>, it splits the time at each hop from timestamps on one
// clock (performance.timeOrigin + now, both processes): req sent -> the agent hands its first
// message to the session (reading the store, building) -> its last one -> the reader receives the
// first and the last (Prosody, TLS, the reader's parser).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { x, type Element } from '../agent/xml/element';
import { NS_SENSORDATA } from '../agent/iot/readout';
import type { ProsodyServer } from '../scripts/local-prosody';
import { IotClient } from '../test/iot/_iot';
import { clientFor, onceOnline } from '../test/session/_helpers';
import { pct, spawnJsonChild } from './child';
import { shebangFlags } from './rss';

export const BOILER = { id: 'boiler', fields: [{ name: 'temperature', type: 'numeric' as const, unit: '°C', precision: 2, waveform: 'constant' as const, initial: 60 }] };

export interface ReadoutFigures {
  values: number;
  messages: number;
  /** Bytes the agent wrote for one readout (XML before TLS), its largest message. */
  bytes: number;
  largest: number;
  /** Reader -> last fields, ms, one entry per run. */
  slixmpp: number[];
  node: number[];
  /** Node reader runs: req -> agent's first send, -> agent's last send, -> reader got the first, -> the last. */
  hops: { first: number; lastSent: number; firstIn: number; lastIn: number; sendMs: number; agentCpu: number; prosodyCpu: number }[];
}

const now = () => performance.timeOrigin + performance.now();

/** CPU time (user + system) of a process, ms, from /proc (Linux). */
function cpuOf(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * (1000 / 100); // clock ticks of 10 ms (USER_HZ 100)
}

/** The agent child on `dir` (its store filled), the readers on `srv`: `runs` readouts of [from, to] each. */
export async function historicalReadout(srv: Pick<ProsodyServer, 'host' | 'c2sPort' | 'caFile' | 'pid'>, dir: string, from: number, to: number, runs: number, o: { user?: string; reader?: string; benchDir?: string; slixmpp?: boolean } = {}): Promise<ReadoutFigures> {
  const user = o.user ?? 'gw';
  const readerUser = o.reader ?? 'reader';
  // benchDir: the dist/bench of another build (an A/B in one run); its history-child.js is copied in by hand.
  const benchDir = o.benchDir ?? __dirname;
  const main = join(benchDir, '..', 'agent', 'cli', 'main.js');
  const prof = process.env.XIOTA_BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.XIOTA_BENCH_CPU_PROF}`] : [];
  const child = spawnJsonChild('history child', [...shebangFlags(main), ...prof, join(benchDir, 'history-child.js'),
    String(srv.c2sPort), srv.host, user, `${user}pass`, srv.caFile, dir, JSON.stringify([BOILER]), `${readerUser}@${srv.host}`]);
  const out: ReadoutFigures = { values: 0, messages: 0, bytes: 0, largest: 0, slixmpp: [], node: [], hops: [] };
  let py: IotClient | undefined;
  try {
    const jid = String((await child.next('ready', 30_000)).jid);
    const flags = { historicalOther: 'true', from: new Date(from).toISOString(), to: new Date(to).toISOString() };
    // o.slixmpp false: the Node reader only (an A/B on a loaded machine: slixmpp parsing 10,000
    // values takes seconds there, and the hop split comes from the Node reader).
    if (o.slixmpp !== false) py = await IotClient.start(srv, readerUser, `${readerUser}pass`);
    for (let i = 0; py && i < runs; i++) {
      const r = await py.read(jid, { nodes: [BOILER.id], flags });
      if (r.results[r.results.length - 1]!.result !== 'done' || r.ms === null) throw new Error(`readout did not finish: ${JSON.stringify(r.results.slice(-2))}`);
      out.slixmpp.push(r.ms);
      out.values = r.results.filter((v) => v.result === 'fields').reduce((k, v) => k + (v.fields?.length ?? 0), 0);
    }
    child.send('trace');
    let agentCpu = Number((await child.next('trace')).cpuMs);

    // This repo's client as the reader: no Python parsing; arrival of every message noted.
    const node = clientFor(srv, readerUser, `${readerUser}pass`, { resource: 'node', maxStanzaBytes: 16 * 1024 * 1024 });
    node.start();
    await onceOnline(node);
    try {
      for (let i = 0; i < runs; i++) {
        const seqnr = `n${i}`;
        let fields = 0;
        const arrived: number[] = [];
        const done = new Promise<void>((resolve) => {
          const off = node.router.on('message', (m: Element) => {
            for (const e of m.elements) {
              if (e.attrs.seqnr !== seqnr || e.xmlns !== NS_SENSORDATA) continue;
              if (e.name === 'fields') { arrived.push(now()); fields += e.getChildren('node').flatMap((n) => n.getChildren('timestamp')).length; }
              if (e.name === 'done') { off(); resolve(); }
            }
            return true;
          });
        });
        const p0 = cpuOf(srv.pid);
        const t0 = now();
        await node.iq(x('iq', { type: 'get', to: jid }, x('req', { xmlns: NS_SENSORDATA, seqnr, ...flags }, x('node', { nodeId: BOILER.id }))), 30_000);
        await done;
        out.node.push(arrived[arrived.length - 1]! - t0);
        const prosodyCpu = cpuOf(srv.pid) - p0;
        if (py && fields !== out.values) throw new Error(`the node reader got ${fields} values, slixmpp ${out.values}`);
        child.send('trace');
        const tr = await child.next('trace');
        const sends = (tr.sends as [number, string, string, number, number][]).filter((s) => s[1] === seqnr);
        const cpuNow = Number(tr.cpuMs);
        out.messages = sends.length;
        out.bytes = sends.reduce((k, s) => k + s[3], 0);
        out.largest = Math.max(...sends.map((s) => s[3]));
        if (!py) out.values = fields;
        out.hops.push({
          first: sends[0]![0] - t0, lastSent: sends[sends.length - 1]![0] - t0,
          firstIn: arrived[0]! - t0, lastIn: arrived[arrived.length - 1]! - t0,
          sendMs: sends.reduce((k, s) => k + s[4], 0),
          agentCpu: cpuNow - agentCpu, prosodyCpu,
        });
        agentCpu = cpuNow;
      }
    } finally {
      await node.stop();
    }
  } finally {
    await py?.close();
    child.send('quit');
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { child.proc.kill(); resolve(); }, 5000);
      child.proc.once('exit', () => { clearTimeout(t); resolve(); });
    });
  }
  return out;
}

/** The rows bench/history.ts prints for (d). */
export function readoutRows(f: ReadoutFigures, row: (a: string, b: string, c: string) => void): void {
  const runs = f.node.length;
  const med = (k: keyof ReadoutFigures['hops'][number]) => pct(f.hops.map((h) => h[k]), 50).toFixed(0);
  const size = `${f.values.toLocaleString('en')} values in ${f.messages} messages, ${(f.bytes / 1024 / 1024).toFixed(2)} MiB of XML, largest ${(f.largest / 1024).toFixed(0)} KiB`;
  if (f.slixmpp.length) row(`XEP-0323 historical readout, slixmpp req → last fields, p50 of ${f.slixmpp.length}`, `${pct(f.slixmpp, 50).toFixed(0)} ms (${size})`, 'the items request above, then the client picks the values out itself');
  row(`${f.slixmpp.length ? 'same readout asked by' : 'XEP-0323 historical readout,'} a Node client (this repo's XmppClient), p50 of ${runs}`, `${pct(f.node, 50).toFixed(0)} ms${f.slixmpp.length ? '' : ` (${size})`}`, '');
  row('  where it goes (Node reader, p50): req → agent sends the first message', `${med('first')} ms`, '');
  row('  … → the agent sends the last (send() itself: serialize + TLS write)', `${med('lastSent')} ms (${med('sendMs')} ms)`, '');
  row('  … → the reader has the first / the last', `${med('firstIn')} / ${med('lastIn')} ms`, '');
  row('  CPU per readout (p50): the agent / Prosody', `${med('agentCpu')} / ${med('prosodyCpu')} ms`, '');
}
