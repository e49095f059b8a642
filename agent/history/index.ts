// The history module as the agent loads it (agent/modules.ts): opens the store in
// `<state dir>/history`, records every reading the drivers give (the agent's `reading` event:
// things added at run time report through it too), and hands the store to the modules that read
// it (XEP-0323 readout, chat, commands) through `historyFor(stateDir)` (agent/history/registry.ts),
// one per state directory, as `alertSwitchFor` does. Readings that arrive while the store is still opening wait in a
// bounded queue; a store that cannot open is logged once and reads as empty (chat then falls
// back to the PubSub node).
import { join } from 'node:path';
import type { Reading } from '../../drivers/types';
import type { ModuleContext } from '../module';
import { listen, type AgentDeps } from '../modules';
import type { HistoryStore, HistoryAnswer, HistoryQuery, HistoryReader } from './store';
import type { RollupLevel } from './rollup';
import { historyFor, registerHistory } from './registry';

export type { HistoryReader, HistoryQuery, HistoryAnswer, HistoryRow } from './store';

const MAX_EARLY = 10_000;
/** A store still writing its last batch: the next agent on the same directory opens after it. */
const closing = new Map<string, Promise<void>>();

export { historyFor };

class OpeningStore implements HistoryReader {
  store?: HistoryStore;
  failed = false;
  private early: Reading[] = [];
  readonly ready: Promise<void>;

  constructor(readonly rollups: readonly RollupLevel[], open: () => Promise<HistoryStore>, onError: (e: Error) => void) {
    this.ready = open().then((s) => {
      this.store = s;
      for (const r of this.early.splice(0)) s.append(r);
    }, (e: Error) => {
      this.failed = true;
      this.early = [];
      onError(e);
    });
  }

  append(r: Reading): void {
    if (this.store) this.store.append(r);
    else if (!this.failed && this.early.length < MAX_EARLY) this.early.push(r);
  }

  async query(q: HistoryQuery): Promise<HistoryAnswer> {
    await this.ready;
    if (!this.store) return { rows: [], truncated: false, source: 'raw' };
    return this.store.query(q);
  }

  async close(): Promise<void> {
    await this.ready;
    await this.store?.close();
  }
}

export function install(m: ModuleContext, d: Pick<AgentDeps, 'config' | 'stateDir' | 'events' | 'now'>): void {
  const cfg = d.config.history;
  if (!cfg.enabled) return;
  // The store's code (segments, codec) loads only when history is on.
  const { HistoryStore } = require('./store') as typeof import('./store');
  const dir = join(d.stateDir, 'history');
  const retentionMs = Object.fromEntries(Object.entries(cfg.retention).map(([k, v]) => [k, v * 1000]));
  const before = closing.get(dir) ?? Promise.resolve();
  const h = new OpeningStore(cfg.rollups, () => before.then(() => HistoryStore.open({
    dir, rollups: cfg.rollups, retentionMs, maxBytes: cfg.maxBytes, now: d.now, log: m.log,
  })), (e) => m.log.warn('history store could not open; history answers come from PubSub only', { dir, error: e }));
  const unregister = registerHistory(d.stateDir, h);
  listen(m, d.events, 'reading', (r) => h.append(r));
  m.onUnload(() => {
    unregister();
    const done = h.close().catch((e: Error) => m.log.warn('history store did not close cleanly', { error: e }));
    closing.set(dir, done);
    void done.then(() => { if (closing.get(dir) === done) closing.delete(dir); });
  });
}
