// Where the chat `history` and the ad-hoc `history` command get past values: the device's own
// store first (agent/history/store.ts), the thing's PubSub node when the store has nothing
// (history off, values older than the store, a store that could not open). One place, so both
// answer the same.
import { pubsubFor } from '../config/thing-settings';
import { hostDevice, type HistoryWindow, type HostDeviceOptions } from '../chat/device';
import type { HistoryRow as ChatRow } from '../chat/format';
import { MAX_HISTORY_COUNT } from '../chat/parse';
import type { ModuleContext } from '../module';
import type { AgentDeps } from '../modules';
import { historyFor } from './registry';

/** Raw values of one field from the local store, newest first (at most MAX_HISTORY_COUNT). */
export function localRows(stateDir: string): NonNullable<HostDeviceOptions['local']> {
  return async (thing, field, w) => {
    const h = historyFor(stateDir);
    if (!h) return [];
    const a = await h.query({ thing, field, from: w.sinceMs, limit: Math.min(w.count ?? MAX_HISTORY_COUNT, MAX_HISTORY_COUNT) });
    return a.rows.map((r): ChatRow => ({ timestamp: r.ts, ...(r.value !== undefined ? { value: r.value } : {}), ...(r.error !== undefined ? { error: r.error } : {}) }));
  };
}

/** Where a thing publishes: 'pep' is our own account, so the request has no 'to' (XEP-0163). */
export function nodeOf(d: Pick<AgentDeps, 'config'>): HostDeviceOptions['nodeOf'] {
  return (thing) => {
    const p = pubsubFor(d.config, thing);
    return p.service === 'pep' ? { node: p.node } : { service: p.service, node: p.node };
  };
}

/** Past values of one field: the local store, else the PubSub node. */
export function fieldHistory(m: ModuleContext, d: Pick<AgentDeps, 'config' | 'drivers' | 'stateDir'>): (thing: string, field: string, w: HistoryWindow) => Promise<ChatRow[]> {
  const device = hostDevice({ drivers: d.drivers, iq: (req, ms) => m.iq(req, ms), nodeOf: nodeOf(d), local: localRows(d.stateDir) });
  return (thing, field, w) => device.history(thing, field, w);
}
