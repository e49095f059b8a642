// The ad-hoc `history` command (agent/commands/history.ts) over a real store: its form, each
// value newest first as an XEP-0004 table, per-minute rows with mean/min/max/count from the
// rollups, PubSub rows when the store has none (the rows function is the fallback chain), bad
// input refused with what to type, and the rollups refused with the reason when history is off.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { historyCommand, type HistoryView } from '../../agent/commands/history';
import { HistoryStore } from '../../agent/history/store';
import type { FormValue } from '../../agent/xep/forms';
import type { Step } from '../../agent/xep/commands';
import type { ThingSpec } from '../../drivers/types';

const root = mkdtempSync(join(tmpdir(), 'xiota-hcmd-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const T0 = Date.UTC(2026, 11, 1, 9);
const THINGS: ThingSpec[] = [{ id: 'gh', name: 'Greenhouse', fields: [{ name: 'temperature', type: 'numeric', unit: '°C', precision: 1 }, { name: 'fan', type: 'boolean' }] }];
const ctx = { from: 'alice@example.org/x', role: 'owner' as const };

async function view(withStore = true): Promise<{ v: HistoryView; store: HistoryStore; clock: { t: number } }> {
  const clock = { t: T0 };
  const store = await HistoryStore.open({ dir: mkdtempSync(join(root, 's-')), now: () => clock.t, timers: false });
  for (let i = 0; i < 180; i++) { // 3 minutes at 1 Hz
    clock.t = T0 + i * 1000;
    store.append({ thing: 'gh', timestamp: clock.t, values: [{ field: 'temperature', value: 20 + (i % 60) / 10 }, { field: 'fan', value: i % 2 === 0 }] });
  }
  clock.t = T0 + 200_000;
  await store.tick();
  const v: HistoryView = {
    things: () => THINGS,
    now: () => clock.t,
    rows: async (thing, field, w) => (await store.query({ thing, field, from: w.sinceMs, limit: w.count ?? 100 })).rows.map((r) => ({ timestamp: r.ts, value: r.value })),
    store: () => (withStore ? store : undefined),
  };
  return { v, store, clock };
}

async function run(v: HistoryView, values: Record<string, FormValue>): Promise<Step> {
  const first = await historyCommand(v).execute(ctx);
  assert.is(first.status, 'executing');
  if (first.status !== 'executing') throw new Error('no form');
  return first.stage.submit(new Map(Object.entries(values)), ctx);
}

test('the form: every field to pick, how much (a count by default), the resolutions', async () => {
  const { v, store } = await view();
  const s = await historyCommand(v).execute(ctx);
  if (s.status !== 'executing') throw new Error('no form');
  const f = s.stage.form.fields;
  assert.equal(f.map((x) => x.var), ['field', 'window', 'resolution']);
  assert.equal(f[0]!.options!.map((o) => o.value), ['gh.temperature', 'gh.fan']);
  assert.equal(f[2]!.options!.map((o) => o.value), ['each', 'minute', 'hour', 'day']);
  await store.close();
});

test('each value: a table newest first with units; per minute: mean, min, max, count', async () => {
  const { v, store } = await view();
  const a = await run(v, { field: 'gh.temperature', window: '3', resolution: 'each' });
  if (a.status !== 'completed' || !a.form) throw new Error(JSON.stringify(a));
  assert.equal(a.form.reported!.map((r) => r.var), ['time', 'value']);
  assert.equal(a.form.items!.map((i) => i.map((c) => c.values![0])), [
    ['2026-12-01 09:02:59Z', '25.9 °C'], ['2026-12-01 09:02:58Z', '25.8 °C'], ['2026-12-01 09:02:57Z', '25.7 °C']]);
  const m = await run(v, { field: 'gh.temperature', window: '1h', resolution: 'minute' });
  if (m.status !== 'completed' || !m.form) throw new Error(JSON.stringify(m));
  assert.equal(m.form.reported!.map((r) => r.var), ['time', 'mean', 'min', 'max', 'count']);
  assert.equal(m.form.items!.map((i) => i.map((c) => c.values![0])), [
    ['2026-12-01 09:02:00Z', '22.9 °C', '20.0 °C', '25.9 °C', '60'],
    ['2026-12-01 09:01:00Z', '22.9 °C', '20.0 °C', '25.9 °C', '60'],
    ['2026-12-01 09:00:00Z', '22.9 °C', '20.0 °C', '25.9 °C', '60']]);
  const b = await run(v, { field: 'gh.fan', window: '10', resolution: 'minute' });
  if (b.status !== 'completed' || !b.form) throw new Error(JSON.stringify(b));
  assert.equal(b.form.reported!.map((r) => r.var), ['time', 'last', 'count']);
  assert.equal(b.form.items![0]!.map((c) => c.values![0]), ['2026-12-01 09:02:00Z', 'off', '60']);
  await store.close();
});

test('bad input is refused with what to type; rollups without a store say why', async () => {
  const { v, store } = await view(false);
  const w = await run(v, { field: 'gh.temperature', window: 'lots' });
  assert.equal(w, { status: 'invalid', errors: ['`lots` is neither a count nor a duration: type a number (10) or a time like 30s, 10m, 2h, 1d'] });
  const f = await run(v, { field: 'gh.pressure', window: '5' });
  assert.equal(f, { status: 'invalid', errors: ['"gh.pressure" is not a field of this device; pick one from the list'] });
  const r = await run(v, { field: 'gh.temperature', window: '5', resolution: 'hour' });
  assert.is(r.status, 'invalid');
  assert.match(JSON.stringify(r), /history store, which is off here \(history.enabled/);
  await store.close();
});

test.run();
