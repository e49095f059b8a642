// The history module as the agent loads it: readings from the agent's `reading` event land in
// <state dir>/history (a thing no driver declared at start, added at run time, included), the
// config's keys reach the store (enabled, rollups, retention, max_bytes), readings that arrive
// while the store opens are kept, and unloading writes what is queued.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFromObject } from '../../agent/config';
import { historyFor, install } from '../../agent/history/index';
import { HistoryStore } from '../../agent/history/store';
import type { AgentEvents } from '../../agent/modules';
import { testContext } from '../xep/_context';
import { waitFor } from '../session/_helpers';
// waitFor takes a sync predicate; an async one needs until (it awaits the answer).
import { until } from '../node-red/_nodered';

const root = mkdtempSync(join(tmpdir(), 'xiota-hmod-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

function setup(history: Record<string, unknown>) {
  const stateDir = mkdtempSync(join(root, 'state-'));
  const r = configFromObject({ account: { jid: 'dev@example.org', password: 'x' }, outbox: { dir: join(stateDir, 'outbox') }, history });
  assert.equal(r.errors, []);
  const t = testContext();
  const events = new EventEmitter<AgentEvents>();
  install(t.ctx, { config: r.config!, stateDir, events, now: Date.now });
  return { t, events, stateDir };
}

test('readings from the agent events are recorded, a run-time thing too; unload writes what is queued', async () => {
  const { t, events, stateDir } = setup({ rollups: ['hour'], retention: { raw: '3h' }, max_bytes: 2 * 1024 * 1024 });
  const now = Date.now();
  events.emit('reading', { thing: 'gh', timestamp: now - 1000, values: [{ field: 't', value: 21 }] }, 'sim');
  const h = historyFor(stateDir)!;
  assert.equal(h.rollups, ['hour']);
  events.emit('reading', { thing: 'added-later', timestamp: now, values: [{ field: 'level', value: 7 }] }, 'api');
  assert.equal((await h.query({ thing: 'gh', field: 't', limit: 5 })).rows.map((r) => r.value), [21]);
  assert.equal((await h.query({ thing: 'added-later', field: 'level', limit: 5 })).rows.map((r) => r.value), [7]);
  events.emit('reading', { thing: 'gh', timestamp: now, values: [{ field: 't', value: 22 }] }, 'sim');
  t.unload();
  assert.is(historyFor(stateDir), undefined);
  assert.is(events.listenerCount('reading'), 0);
  // Only the levels asked for are on disk; the last reading was written by the unload.
  await until('closed', async () => {
    const s = await HistoryStore.open({ dir: join(stateDir, 'history'), timers: false, rollups: ['hour'] });
    const n = (await s.query({ thing: 'gh', field: 't', limit: 5 })).rows.length;
    await s.close();
    return n === 2;
  }, 3000, 20);
  assert.ok(readdirSync(join(stateDir, 'history')).every((f) => /^(raw|hour)-/.test(f)), readdirSync(join(stateDir, 'history')).join());
});

test('enabled: false records nothing and offers no store (chat then reads PubSub)', async () => {
  const { t, events, stateDir } = setup({ enabled: false });
  events.emit('reading', { thing: 'gh', timestamp: Date.now(), values: [{ field: 't', value: 21 }] }, 'sim');
  assert.is(historyFor(stateDir), undefined);
  assert.is(events.listenerCount('reading'), 0);
  await new Promise((r) => setTimeout(r, 50));
  assert.not.ok(existsSync(join(stateDir, 'history')));
  t.unload();
});

test.run();
