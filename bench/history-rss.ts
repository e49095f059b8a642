// bench/history.ts (e): the agent's RSS with a week of minute rollups of 10 things (3 fields
// each) in its history store, against the same agent on an empty store, each in its own process
// with the CLI's node flags (bench/history-child.ts), after a full GC; then after a readout of
// the week per minute of one thing (the readout cap: 10,000 values), after GC again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HistoryStore } from '../agent/history/store';
import { NS_SENSORDATA } from '../agent/iot/readout';
import { x, type Element } from '../agent/xml/element';
import { startProsody } from '../scripts/local-prosody';
import { clientFor, onceOnline } from '../test/session/_helpers';
import { spawnJsonChild } from './child';
import { shebangFlags } from './rss';

const WEEK_MIN = 7 * 24 * 60;
const THINGS = Array.from({ length: 10 }, (_, i) => ({
  id: `thing${i}`,
  fields: [
    { name: 'temperature', type: 'numeric' as const, unit: '°C', precision: 2, waveform: 'sine' as const, min: 15, max: 25 },
    { name: 'humidity', type: 'numeric' as const, unit: '%', precision: 1, waveform: 'random' as const, min: 30, max: 70 },
    { name: 'pressure', type: 'numeric' as const, unit: 'hPa', precision: 1, waveform: 'random' as const, min: 990, max: 1030 },
  ],
}));

export interface RssFigures {
  empty: number;
  week: number;
  afterReadout: number;
  /** V8 heap in use after GC, at the same three points. */
  heap: [number, number, number];
  storeBytes: number;
  minuteRows: number;
  readoutValues: number;
}

/** A week up to `end` for every thing: 3 readings a minute (so min/max/mean differ), rolled up as the agent does. */
async function fillWeek(dir: string, end: number): Promise<{ bytes: number; rows: number }> {
  const clock = { t: end - WEEK_MIN * 60_000 };
  const store = await HistoryStore.open({ dir, now: () => clock.t, timers: false });
  const t0 = clock.t;
  for (let m = 0; m < WEEK_MIN; m++) {
    for (let k = 0; k < 3; k++) {
      clock.t = t0 + m * 60_000 + k * 20_000;
      for (const [i, t] of THINGS.entries()) {
        store.append({ thing: t.id, timestamp: clock.t, values: [
          { field: 'temperature', value: 20 + 5 * Math.sin((m + i) / 90) }, { field: 'humidity', value: 50 + (m % 17) }, { field: 'pressure', value: 1000 + (m % 23) },
        ] });
      }
    }
    if (m % 10 === 9) await store.tick();
    if (m % 60 === 59) await store.flush();
  }
  clock.t = end;
  await store.tick();
  await store.flush();
  const bytes = store.bytes;
  const rows = (await store.query({ thing: 'thing0', field: 'temperature', period: 'minute', limit: 20_000 })).rows.length;
  await store.close();
  return { bytes, rows };
}

export async function agentRss(benchDirs: string[] = [__dirname]): Promise<RssFigures[]> {
  const empty = mkdtempSync(join(tmpdir(), 'xiota-bench-rss-empty-'));
  const full = mkdtempSync(join(tmpdir(), 'xiota-bench-rss-week-'));
  const filled = await fillWeek(join(full, 'history'), Date.now());
  const srv = await startProsody({ users: [{ user: 'gw', password: 'gwpass' }, { user: 'reader', password: 'readerpass' }] });
  const measure = async (dir: string, read: boolean, benchDir: string): Promise<[number, number, number, number]> => {
    const main = join(benchDir, '..', 'agent', 'cli', 'main.js');
    const child = spawnJsonChild('history child', [...shebangFlags(main), join(benchDir, 'history-child.js'),
      String(srv.c2sPort), srv.host, 'gw', 'gwpass', srv.caFile, dir, JSON.stringify(THINGS), `reader@${srv.host}`]);
    try {
      const jid = String((await child.next('ready', 30_000)).jid);
      await new Promise((r) => setTimeout(r, 3000)); // the store opens, the first samples land
      child.send('rss');
      const r0 = await child.next('rss');
      const idle = Number(r0.rss);
      let after = NaN;
      let afterHeap = NaN;
      if (read) {
        const c = clientFor(srv, 'reader', 'readerpass', { resource: 'rss', maxStanzaBytes: 16 * 1024 * 1024 });
        c.start();
        await onceOnline(c);
        const done = new Promise<void>((resolve) => c.router.on('message', (m: Element) => {
          if (m.elements.some((e) => e.name === 'done' && e.xmlns === NS_SENSORDATA)) resolve();
          return true;
        }));
        await c.iq(x('iq', { type: 'get', to: jid }, x('req', { xmlns: NS_SENSORDATA, seqnr: '1', historicalMinute: 'true', from: new Date(Date.now() - WEEK_MIN * 60_000).toISOString() }, x('node', { nodeId: 'thing0' }))), 30_000);
        await done;
        await c.stop();
        child.send('rss');
        const r1 = await child.next('rss');
        after = Number(r1.rss);
        afterHeap = Number(r1.heapUsed);
      }
      return [idle, after, Number(r0.heapUsed), afterHeap];
    } finally {
      child.send('quit');
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => { child.proc.kill(); resolve(); }, 5000);
        child.proc.once('exit', () => { clearTimeout(t); resolve(); });
      });
    }
  };
  try {
    // Each build (an A/B: another build's dist/bench first) on the same two stores.
    const out: RssFigures[] = [];
    for (const b of benchDirs) {
      const [e, , he] = await measure(empty, false, b);
      const [w, r, hw, hr] = await measure(full, true, b);
      out.push({ empty: e, week: w, afterReadout: r, heap: [he, hw, hr], storeBytes: filled.bytes, minuteRows: filled.rows, readoutValues: 10_000 });
    }
    return out;
  } finally {
    await srv.stop();
    rmSync(empty, { recursive: true, force: true });
    rmSync(full, { recursive: true, force: true });
  }
}

export function rssRows(f: RssFigures, row: (a: string, b: string, c: string) => void): void {
  const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  row('agent RSS (CLI node flags, after GC), empty history store', `${mib(f.empty)} (heap in use ${mib(f.heap[0])})`, '');
  row(`agent RSS, store with a week of minute rollups of 10 things × 3 fields (${f.minuteRows.toLocaleString('en')} minutes a field, ${mib(f.storeBytes)} on disk)`, `${mib(f.week)} (+${mib(f.week - f.empty)}; heap ${mib(f.heap[1])})`, '');
  row('  … after a readout of one thing per minute over the week (10,000 values, capped)', `${mib(f.afterReadout)} (heap ${mib(f.heap[2])})`, '');
}
