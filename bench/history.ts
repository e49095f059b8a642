// History store benchmark: (a) the cost of recording a reading: CPU per reading and bytes written
// per reading against the raw value record (timestamp f64 + value f64 = 16 bytes), for a day of
// 1 Hz readings of one field, written as the agent writes them (one write + fdatasync per
// second of readings); (b) reading that day back: raw values (all, and the newest 100),
// per-minute and per-hour rollups; (c) the same values read back from the thing's PubSub node on
// a real Prosody (a PEP node holds at most its max_items: 10,000 here, the schema's ceiling),
// side by side with the store reading the same 10,000; (d) an XEP-0323 historical readout of
// 10,000 values through the whole agent on that Prosody, asked by slixmpp 1.8.3's xep_0323
// client: time from req to the last <fields>, and the answer's bytes.
//   node dist/bench/history.js [pubsub items=10000]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../agent/agent';
import { configFromObject } from '../agent/config';
import { historicalPayloads } from '../agent/iot/history-readout';
import { parseReq, type ReadoutRequest } from '../agent/iot/readout';
import { x } from '../agent/xml/element';
import { countingFs } from '../agent/outbox/fs';
import { createSimulatedDriver } from '../drivers/simulated';
import { IotClient } from '../test/iot/_iot';
import { HistoryStore } from '../agent/history/store';
import { itemsIq, parseItems, publishIq } from '../agent/xep/pubsub';
import { fieldsToReadings, readingToFields } from '../agent/xep/sensordata-fields';
import type { ThingSpec } from '../drivers/types';
import { startProsody } from '../scripts/local-prosody';
import { memoryStoreConfig } from '../test/servers/prosody-memory';
import { clientFor, onceOnline } from '../test/session/_helpers';

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

async function main(): Promise<void> {
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
  const readoutMs: number[] = [];
  const nodeMs: number[] = [];
  let readoutValues = 0;
  let readoutMessages = 0;
  let readoutBytes = 0;
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
    const from = T0 + (DAY - pubsubItems) * 1000;
    const cfg = configFromObject({
      account: { jid: `gw@${srv.host}/bench`, password: 'gwpass' }, server: { host: '127.0.0.1', port: srv.c2sPort }, tls: { ca_file: srv.caFile },
      outbox: { dir: join(dir, 'outbox') }, access: { readers: [`reader@${srv.host}`] },
    });
    if (cfg.errors.length) throw new Error(JSON.stringify(cfg.errors));
    const agent = new Agent({ config: cfg.config!, credentials: { password: 'gwpass', source: 'password', warnings: [] },
      drivers: [createSimulatedDriver('sim', { pollIntervalMs: 3_600_000, things: [{ id: THING.id, fields: [{ name: 'temperature', type: 'numeric', unit: '°C', precision: 2, waveform: 'constant', initial: 60 }] }] })] });
    await agent.start();
    const py = await IotClient.start(srv, 'reader', 'readerpass');
    try {
      while (agent.client.state !== 'online') await new Promise((r) => setTimeout(r, 50));
      const flags = { historicalOther: 'true', from: new Date(from).toISOString(), to: new Date(T0 + DAY * 1000).toISOString() };
      for (let i = 0; i < 5; i++) {
        const r = await py.read(agent.client.jid, { nodes: [THING.id], flags });
        const n = r.results.filter((x) => x.result === 'fields').reduce((k, x) => k + (x.fields?.length ?? 0), 0);
        if (r.results[r.results.length - 1]!.result !== 'done' || r.ms === null) throw new Error(`readout did not finish: ${JSON.stringify(r.results.slice(-2))}`);
        readoutMs.push(r.ms);
        readoutValues = n;
      }
      // The same readout asked by a Node client (this repo's XmppClient): no Python parsing.
      const node = clientFor(srv, 'reader', 'readerpass', { resource: 'node', maxStanzaBytes: 16 * 1024 * 1024 });
      node.start();
      await onceOnline(node);
      for (let i = 0; i < 5; i++) {
        const seqnr = `n${i}`;
        let fields = 0;
        const t0 = performance.now();
        const done = new Promise<void>((resolve) => {
          const off = node.router.on('message', (m) => {
            for (const e of m.elements) {
              if (e.attrs.seqnr !== seqnr) continue;
              if (e.name === 'fields') fields += e.getChildren('node').flatMap((n) => n.getChildren('timestamp')).length;
              if (e.name === 'done') { off(); resolve(); }
            }
            return true;
          });
        });
        await node.iq(x('iq', { type: 'get', to: agent.client.jid }, x('req', { xmlns: 'urn:xmpp:iot:sensordata', seqnr, historicalOther: 'true', from: flags.from, to: flags.to }, x('node', { nodeId: THING.id }))), 30_000);
        await done;
        nodeMs.push(performance.now() - t0);
        if (fields !== readoutValues) throw new Error(`node reader got ${fields} values`);
      }
      await node.stop();
      // The same answer built in-process, for its size (what the agent writes, before TLS).
      const s3 = await HistoryStore.open({ dir: join(dir, 'history'), timers: false });
      const req = parseReq(x('req', { xmlns: 'urn:xmpp:iot:sensordata', seqnr: '1', historicalOther: 'true', from: flags.from, to: flags.to })) as ReadoutRequest;
      const a = await historicalPayloads('1', req, true, [THING], s3, { now: Date.now() });
      readoutMessages = a.messages.length;
      readoutBytes = a.messages.reduce((k, m) => k + Buffer.byteLength(x('message', { to: 'reader@xiota.test/py' }, m).toString()), 0);
      await s3.close();
    } finally {
      await py.close();
      await agent.stop();
    }
  } finally {
    await srv.stop();
  }

  const row = (a: string, b: string, c: string) => console.log(`| ${a} | ${b} | ${c} |`);
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
  row(`XEP-0323 historical readout of ${pubsubItems.toLocaleString('en')} values, slixmpp req → last fields, p50 of 5`, `${median(readoutMs).toFixed(0)} ms (${readoutValues.toLocaleString('en')} values in ${readoutMessages} messages, ${(readoutBytes / 1024 / 1024).toFixed(2)} MiB)`, `the items request above, then the client picks the values out itself`);
  row(`same readout asked by a Node client (this repo's XmppClient), p50 of 5`, `${median(nodeMs).toFixed(0)} ms`, '');
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
