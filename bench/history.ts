// History store benchmark: (a) the cost of recording a reading: CPU per reading and bytes written
// per reading against the raw value record (timestamp f64 + value f64 = 16 bytes), for a day of
// 1 Hz readings of one field, written as the agent writes them (one write + fdatasync per
// second of readings); (b) reading that day back: raw values (all, and the newest 100),
// per-minute and per-hour rollups; (c) the same values read back from the thing's PubSub node on
// a real Prosody (a PEP node holds at most its max_items: 10,000 here, the schema's ceiling),
// side by side with the store reading the same 10,000; (d) an XEP-0323 historical readout of
// 10,000 values through the whole agent (in its own process with the CLI's node flags,
// bench/history-child.ts) on that Prosody, asked by slixmpp 1.8.3's xep_0323 client and by this
// repo's XmppClient: time from req to the last <fields>, where it goes (the agent building the
// answer, the agent writing it, the trip through Prosody), and the answer's bytes; (e) the
// agent's RSS with a week of minute rollups of 10 things in its store, against an empty store.
//   node dist/bench/history.js [pubsub items=10000]   everything
//   node dist/bench/history.js readout [runs=5]       (d) alone, on a store of the last 3 hours
//   node dist/bench/history.js rss                    (e) alone
// XIOTA_BENCH_CPU_PROF=DIR: the agent child writes a V8 CPU profile there (node --cpu-prof).
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { x } from '../agent/xml/element';
import { countingFs } from '../agent/outbox/fs';
import { IotClient } from '../test/iot/_iot';
import { HistoryStore } from '../agent/history/store';
import { itemsIq, parseItems, publishIq } from '../agent/xep/pubsub';
import { fieldsToReadings, readingToFields } from '../agent/xep/sensordata-fields';
import type { ThingSpec } from '../drivers/types';
import { startProsody } from '../scripts/local-prosody';
import { memoryStoreConfig } from '../test/servers/prosody-memory';
import { clientFor, onceOnline } from '../test/session/_helpers';
import { historicalReadout, readoutRows, type ReadoutFigures } from './history-readout';
import { agentRss, rssRows } from './history-rss';

const DAY = 86_400;
const T0 = Date.UTC(2026, 10, 30);
const THING: ThingSpec = { id: 'boiler', fields: [{ name: 'temperature', type: 'numeric', unit: '°C', precision: 2 }] };
const valueAt = (i: number) => 60 + 10 * Math.sin(i / 600);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timed(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

const row = (a: string, b: string, c: string) => console.log(`| ${a} | ${b} | ${c} |`);

/** (d) alone: the last 3 hours at 1 Hz in a store, then the readout of the newest 10,000 s. */
async function readoutOnly(runs: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-bench-history-'));
  const end = Date.now() - 60_000;
  const clock = { t: end - 3 * 3600_000 };
  const store = await HistoryStore.open({ dir: join(dir, 'history'), now: () => clock.t, timers: false });
  for (let i = 0; i < 3 * 3600; i++) {
    clock.t = end - 3 * 3600_000 + i * 1000;
    store.append({ thing: THING.id, timestamp: clock.t, values: [{ field: 'temperature', value: valueAt(i) }] });
    if (i % 60 === 59) { await store.tick(); await store.flush(); }
  }
  await store.close();
  const srv = await startProsody({ users: [{ user: 'gw', password: 'gwpass' }, { user: 'reader', password: 'readerpass' }] });
  try {
    // XIOTA_BENCH_AB=<other build's dist/bench>: that build and this one in alternating rounds,
    // read by the Node client only.
    const builds = process.env.XIOTA_BENCH_AB ? [['other build', process.env.XIOTA_BENCH_AB], ['this build', __dirname]] : [['this build', __dirname]];
    const got = new Map<string, ReadoutFigures[]>();
    const rounds = process.env.XIOTA_BENCH_AB ? 2 : 1;
    for (let k = 0; k < rounds; k++) {
      for (const [name, benchDir] of builds) {
        const f = await historicalReadout(srv, dir, end - 10_000_000, end, runs, { benchDir, slixmpp: !process.env.XIOTA_BENCH_AB });
        got.set(name!, [...(got.get(name!) ?? []), f]);
      }
    }
    console.log(`\nXEP-0323 historical readout, ${new Date().toISOString()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    for (const [name, fs] of got) {
      const f = fs.reduce((a, b) => ({ ...b, slixmpp: [...a.slixmpp, ...b.slixmpp], node: [...a.node, ...b.node], hops: [...a.hops, ...b.hops] }));
      console.log(`\n${name}\n`);
      row('measure', 'xiota', '');
      row('---', '---', '---');
      readoutRows(f, row);
      console.log(`\nruns (ms): slixmpp ${f.slixmpp.map((v) => v.toFixed(0)).join(' ')}; node ${f.node.map((v) => v.toFixed(0)).join(' ')}`);
    }
  } finally {
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === 'readout') return readoutOnly(Number(process.argv[3] ?? 5));
  if (process.argv[2] === 'rss') {
    // XIOTA_BENCH_AB=<other build's dist/bench>: that build, then this one, twice.
    const dirs = process.env.XIOTA_BENCH_AB ? [process.env.XIOTA_BENCH_AB, __dirname, process.env.XIOTA_BENCH_AB, __dirname] : [__dirname];
    const fs = await agentRss(dirs);
    console.log(`\nagent RSS and the history store, ${new Date().toISOString()}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    for (const [i, f] of fs.entries()) {
      console.log(`\n${dirs[i] === __dirname ? 'this build' : 'other build'}\n`);
      row('measure', 'xiota', '');
      row('---', '---', '---');
      rssRows(f, row);
    }
    return;
  }
  const pubsubItems = Number(process.argv[2] ?? 10_000);
  const dir = mkdtempSync(join(tmpdir(), 'xiota-bench-history-'));
  const { fs, counters } = countingFs();
  const clock = { t: T0 };
  // The store where an agent whose outbox is <dir>/outbox keeps it (phase d runs one there).
  const store = await HistoryStore.open({ dir: join(dir, 'history'), fs, now: () => clock.t, timers: false });

  // (a) a day at 1 Hz. The first hour as the agent writes it at 1 Hz: a write + fdatasync per
  // second (the 1 s batch window), buckets closed every second; the other 23 hours flushed once
  // a minute (the bytes written are the same either way, only the syncs differ).
  const HOUR = 3600;
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  for (let i = 0; i < HOUR; i++) {
    clock.t = T0 + i * 1000;
    store.append({ thing: THING.id, timestamp: clock.t, values: [{ field: 'temperature', value: valueAt(i) }] });
    await store.flush();
    await store.tick();
  }
  const wallA = performance.now() - w0;
  const cpu = process.cpuUsage(cpu0);
  const cpuPerReading = (cpu.user + cpu.system) / HOUR;
  const syncsPerSecond = counters.syncs / HOUR;
  const c0 = process.cpuUsage();
  for (let i = HOUR; i < DAY; i++) {
    clock.t = T0 + i * 1000;
    store.append({ thing: THING.id, timestamp: clock.t, values: [{ field: 'temperature', value: valueAt(i) }] });
    if (i % 60 === 59) { await store.flush(); await store.tick(); }
  }
  clock.t = T0 + DAY * 1000 + 5000;
  await store.tick();
  await store.flush();
  const c1 = process.cpuUsage(c0);
  const cpuBatched = (c1.user + c1.system) / (DAY - HOUR);
  const bytesPerReading = counters.bytesWritten / DAY;
  const onDisk = store.bytes;

  // (b) reading the day back.
  const q = (o: Partial<Parameters<HistoryStore['query']>[0]>) => store.query({ thing: THING.id, field: 'temperature', limit: DAY, ...o });
  const rawDay = await q({});
  const msRawDay = await timed(5, () => q({}));
  const msRaw100 = await timed(9, () => q({ limit: 100 }));
  const msMinute = await timed(9, () => q({ period: 'minute' }));
  const msHour = await timed(9, () => q({ period: 'hour' }));
  const msRaw10k = await timed(9, () => q({ limit: pubsubItems }));
  const minuteRows = (await q({ period: 'minute' })).rows.length;

  // (c) the same values as PubSub items of the thing's PEP node, read back in one items request.
  const srv = await startProsody({ extraConfig: memoryStoreConfig(join(dir, 'prosody-plugins')), users: [{ user: 'dev', password: 'devpass' }, { user: 'gw', password: 'gwpass' }, { user: 'reader', password: 'readerpass' }] });
  let msPubsub = NaN;
  let msPubsubParse = NaN;
  let got = 0;
  let wireBytes = 0;
  let readout: ReadoutFigures | undefined;
  try {
    // 10,000 items are one 2.6 MB stanza: above the agent's default max_stanza_bytes (256 KiB,
    // about 900 items), so this reader takes the schema's ceiling.
    const c = clientFor(srv, 'dev', 'devpass', { maxStanzaBytes: 16 * 1024 * 1024 });
    c.start();
    await onceOnline(c);
    const node = 'urn:xiota:boiler';
    const inFlight = new Set<Promise<unknown>>();
    for (let i = 0; i < pubsubItems; i++) {
      const r = { thing: THING.id, timestamp: T0 + i * 1000, values: [{ field: 'temperature', value: valueAt(i) }] };
      const p = c.iq(publishIq({ node, itemId: `r${i}`, payload: readingToFields(r, THING), publishOptions: i === 0 ? { maxItems: pubsubItems, persistItems: true } : undefined }), 30_000);
      if (i === 0) { await p; continue; }
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      if (inFlight.size >= 64) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const read = async () => {
      const res = await c.iq(itemsIq(undefined, node, pubsubItems), 60_000);
      wireBytes = Buffer.byteLength(res.toString());
      return res;
    };
    msPubsub = await timed(5, read);
    const res = await read();
    msPubsubParse = await timed(5, async () => {
      got = 0;
      for (const it of parseItems(res)) if (it.payload) got += fieldsToReadings(it.payload).length;
    });
    await c.stop();
    // (d) the readout: the last 10,000 s of the day, raw (historicalOther), through the agent.
    await store.close();
    readout = await historicalReadout(srv, dir, T0 + (DAY - pubsubItems) * 1000, T0 + DAY * 1000, 5);
  } finally {
    await srv.stop();
  }

  console.log(`\nHistory store vs PubSub, one field at 1 Hz for a day (${DAY.toLocaleString('en')} readings), ${new Date().toISOString().slice(0, 10)}\n`);
  row('measure', 'history store', `PubSub node (Prosody 0.12, ${pubsubItems.toLocaleString('en')} items)`);
  row('---', '---', '---');
  row('record a reading at 1 Hz: CPU, one write + fdatasync a second', `${cpuPerReading.toFixed(1)} µs (${syncsPerSecond.toFixed(2)} syncs a second; ${(wallA / HOUR).toFixed(2)} ms wall each, most of it fdatasync)`, '');
  row('record a reading: CPU, flushed once a minute', `${cpuBatched.toFixed(1)} µs`, '');
  row('bytes written per reading (raw value record: 16 B)', `${bytesPerReading.toFixed(1)} B = ${(bytesPerReading / 16).toFixed(2)}× (rollups included)`, '');
  row('on disk after the day', `${(onDisk / 1024).toFixed(0)} KiB`, '');
  row(`read back ${pubsubItems.toLocaleString('en')} newest values`, `${msRaw10k.toFixed(1)} ms`, `${msPubsub.toFixed(0)} ms items request + ${msPubsubParse.toFixed(0)} ms parsing (${got.toLocaleString('en')} values, ${(wireBytes / 1024 / 1024).toFixed(1)} MiB on the wire)`);
  row(`read back the whole day (${rawDay.rows.length.toLocaleString('en')} values)`, `${msRawDay.toFixed(0)} ms`, `not possible: a node keeps at most max_items (≤ 10,000 in the config schema; pep_max_items 256 by default)`);
  row('newest 100 values (chat `history`)', `${msRaw100.toFixed(2)} ms`, '');
  row(`the day per minute (${minuteRows.toLocaleString('en')} rows, min/max/mean)`, `${msMinute.toFixed(1)} ms`, 'not kept');
  row('the day per hour (24 rows)', `${msHour.toFixed(2)} ms`, 'not kept');
  if (readout) readoutRows(readout, row);
  const [rss] = await agentRss();
  rssRows(rss!, row);
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
