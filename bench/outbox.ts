// Outbox benchmarks: (a) append rate, batched vs a naive write + fdatasync per reading;
// (b) replay rate of 100,000 readings queued during an outage (open + take + ack all);
// (c) bytes written to disk per reading against its payload size (target <= 2x).
// "logical" bytes are what the outbox hands to write(2); "device" bytes are this process's
// write_bytes from /proc/self/io: pages dirtied and sent to storage, which is what wears an
// SD card (a sync per reading rewrites a whole 4 KiB page each time).
//   node dist/bench/outbox.js [readings=100000]
import { closeSync, fdatasyncSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox } from '../agent/outbox/outbox';
import { countingFs } from '../agent/outbox/fs';
import { encodeRecord } from '../agent/outbox/record';

const KEY = 'xiota/sensors/boiler-room';

function payload(i: number): string {
  // A XEP-0323 3 momentary readout as the publisher puts it in a PubSub item: ~300 bytes.
  return `<fields xmlns='urn:xmpp:iot:sensordata' seqnr='${i}' done='true'><node nodeId='boiler'>` +
    `<timestamp value='2024-05-01T12:${String(i % 60).padStart(2, '0')}:00Z'>` +
    `<numeric name='temperature' momentary='true' automaticReadout='true' value='${(20 + (i % 100) / 10).toFixed(1)}' unit='°C'/>` +
    `<numeric name='humidity' momentary='true' value='41' unit='%'/></timestamp></node></fields>`;
}
const idOf = (i: number) => `r-2024-05-01-${String(i).padStart(8, '0')}`;

function deviceWriteBytes(): number {
  const m = /write_bytes:\s+(\d+)/.exec(readFileSync('/proc/self/io', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

interface Row { what: string; readings: number; ms: number; syncs: number; logical: number; device: number; payload: number }

/** Readings offered as a driver produces them: append() is not awaited before the next one. */
async function batched(n: number, flushIntervalMs: number): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-bench-'));
  const { fs, counters } = countingFs();
  const ob = await Outbox.open({ dir, fs, flushIntervalMs, maxBytes: 256 * 1024 * 1024 });
  let pay = 0;
  const d0 = deviceWriteBytes();
  const t0 = performance.now();
  const all: Array<Promise<void>> = [];
  for (let i = 0; i < n; i++) {
    const p = payload(i);
    pay += Buffer.byteLength(p);
    all.push(ob.append({ key: KEY, id: idOf(i), payload: p }));
    if (i % 1000 === 999) await new Promise((r) => setImmediate(r)); // let I/O run meanwhile
  }
  await Promise.all(all);
  const ms = performance.now() - t0;
  await ob.close();
  const what = flushIntervalMs ? `outbox, ${flushIntervalMs} ms batches` : 'outbox, group commit (flushIntervalMs 0)';
  const row = { what, readings: n, ms, syncs: counters.syncs, logical: counters.bytesWritten, device: deviceWriteBytes() - d0, payload: pay };
  rmSync(dir, { recursive: true, force: true });
  return row;
}

function naive(n: number): Row {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-bench-'));
  const fd = openSync(join(dir, 'naive.log'), 'a');
  let logical = 0;
  let pay = 0;
  const d0 = deviceWriteBytes();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const p = Buffer.from(payload(i));
    pay += p.length;
    const frame = encodeRecord(i, Buffer.from(KEY), Buffer.from(idOf(i)), p);
    writeSync(fd, frame);
    fdatasyncSync(fd);
    logical += frame.length;
  }
  const ms = performance.now() - t0;
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  return { what: 'naive: write + fdatasync per reading', readings: n, ms, syncs: n, logical, device: deviceWriteBytes() - d0, payload: pay };
}

async function replay(n: number): Promise<{ fill: Row; replay: Row }> {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-bench-'));
  const { fs, counters } = countingFs();
  let ob = await Outbox.open({ dir, fs, maxBytes: 256 * 1024 * 1024 });
  let pay = 0;
  const d0 = deviceWriteBytes();
  const t0 = performance.now();
  // The outage: readings queue up, offered in groups of 100 without waiting on each.
  const pending: Array<Promise<void>> = [];
  for (let i = 0; i < n; i += 100) {
    const recs = [];
    for (let k = i; k < Math.min(n, i + 100); k++) {
      const p = payload(k);
      pay += Buffer.byteLength(p);
      recs.push({ key: KEY, id: idOf(k), payload: p });
    }
    pending.push(ob.appendMany(recs));
    if (i % 10_000 === 0) await new Promise((r) => setImmediate(r));
  }
  await Promise.all(pending);
  await ob.close();
  const fill: Row = { what: `queue ${n} readings (outage)`, readings: n, ms: performance.now() - t0, syncs: counters.syncs, logical: counters.bytesWritten, device: deviceWriteBytes() - d0, payload: pay };

  // Reconnect: open, hand everything to the sender in windows, the server acks each window.
  const s0 = counters.syncs;
  const b0 = counters.bytesWritten;
  const d1 = deviceWriteBytes();
  const t1 = performance.now();
  ob = await Outbox.open({ dir, fs });
  let got = 0;
  for (;;) {
    const recs = await ob.take(500);
    if (!recs.length) break;
    got += recs.length;
    ob.ack(recs.map((r) => r.id));
  }
  await ob.close();
  const ms = performance.now() - t1;
  if (got !== n) throw new Error(`replayed ${got} of ${n}`);
  const rep: Row = { what: `replay ${n}: open + take + ack all`, readings: n, ms, syncs: counters.syncs - s0, logical: counters.bytesWritten - b0, device: deviceWriteBytes() - d1, payload: 0 };
  rmSync(dir, { recursive: true, force: true });
  return { fill, replay: rep };
}

const fmt = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

export async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 100_000);
  const naiveN = 2000;
  const rows: Row[] = [];
  rows.push(naive(naiveN));
  rows.push(await batched(20_000, 200));
  rows.push(await batched(20_000, 0));
  const { fill, replay: rep } = await replay(n);
  rows.push(fill, rep);

  console.log('\n(a) append, (b) replay after an outage  [payload ~%d bytes, %s]', Math.round(fill.payload / n), tmpdir());
  console.log(['what'.padEnd(42), 'readings'.padStart(9), 'seconds'.padStart(8), 'readings/s'.padStart(11), 'fsyncs'.padStart(8), 'disk B/reading'.padStart(15), 'device B/reading'.padStart(17)].join(' '));
  for (const r of rows) {
    console.log([r.what.padEnd(42), fmt(r.readings).padStart(9), fmt(r.ms / 1000, 2).padStart(8), fmt(r.readings / (r.ms / 1000)).padStart(11), fmt(r.syncs).padStart(8),
      fmt(r.logical / r.readings, 1).padStart(15), (Number.isNaN(r.device) ? 'n/a' : fmt(r.device / r.readings, 1)).padStart(17)].join(' '));
  }
  const perPayload = fill.payload / n;
  const total = fill.logical + rep.logical;
  console.log('\n(c) bytes written per reading over its life (append + ack), payload %s B', fmt(perPayload, 1));
  console.log(['', 'B/reading'.padStart(10), 'x payload'.padStart(10)].join(' '));
  console.log(['outbox, logical (write calls)'.padEnd(34), fmt(total / n, 1).padStart(10), fmt(total / n / perPayload, 2).padStart(10)].join(' '));
  if (!Number.isNaN(fill.device)) console.log(['outbox, device (/proc/self/io)'.padEnd(34), fmt((fill.device + rep.device) / n, 1).padStart(10), fmt((fill.device + rep.device) / n / perPayload, 2).padStart(10)].join(' '));
  const nv = rows[0];
  console.log(['naive, logical'.padEnd(34), fmt(nv.logical / nv.readings, 1).padStart(10), fmt(nv.logical / nv.payload, 2).padStart(10)].join(' '));
  if (!Number.isNaN(nv.device)) console.log(['naive, device'.padEnd(34), fmt(nv.device / nv.readings, 1).padStart(10), fmt(nv.device / nv.payload, 2).padStart(10)].join(' '));
}

if (require.main === module) void main();
