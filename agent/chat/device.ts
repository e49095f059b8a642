// What the chat interface asks of the device, built from what the agent already has: the
// DriverHost (things, latest readings, a sample of every driver now, checked sets), and for
// history the device's own store (agent/history/), falling back to the thing's PubSub node
// (XEP-0060 6.5) through the session's iq when the store has nothing (history off, or older
// than the store).
import type { DriverHost } from '../../drivers/host';
import type { Value } from '../../drivers/types';
import type { Element } from '../xml/element';
import { itemsIq, parseItems } from '../xep/pubsub';
import { fieldsToReadings } from '../xep/sensordata-fields';
import type { ChatThing } from './fields';
import type { FieldState, HistoryRow, StateOf } from './format';
import { MAX_HISTORY_COUNT } from './parse';

/** How much history is asked for. */
export interface HistoryWindow { count?: number; sinceMs?: number }

/** The device as the chat interface sees it (agent/xep/chat.ts ChatDeps.device). */
export interface ChatDevice {
  things(): readonly ChatThing[];
  /** A lookup over the last known value of every field, taken now. */
  latest(): StateOf;
  /**
   * Samples `thing` now; resolves once latest() holds the fresh values. It may take as long
   * as the driver does: the caller races it against its deadline.
   */
  readFresh(thing: string): Promise<void>;
  /** Sets a writable field (the value already checked against the field); rejects with a clear error.
   *  `from`: who asked (passed on to the driver). */
  set(thing: string, field: string, value: Value, from?: string): Promise<void>;
  /** Past values of one field, newest first, at most MAX_HISTORY_COUNT. */
  history(thing: string, field: string, window: HistoryWindow): Promise<HistoryRow[]>;
}

export interface HostDeviceOptions {
  drivers: Pick<DriverHost, 'things' | 'latestReadings' | 'set'> & Partial<Pick<DriverHost, 'readOnce'>>;
  /** The session's iq (ModuleContext.iq). */
  iq: (req: Element, timeoutMs?: number) => Promise<Element>;
  /** Where a thing's readings are published: the service (undefined: our PEP) and node. */
  nodeOf: (thing: string) => { service?: string; node: string };
  /** Range of a numeric field when the configuration knows it (checked on set). */
  rangeOf?: (thing: string, field: string) => { min?: number; max?: number } | undefined;
  /** How long a history request may take (default 2000 ms). */
  historyTimeoutMs?: number;
  /** Past values from the device's own history store, newest first; [] sends the ask to PubSub. */
  local?: (thing: string, field: string, window: HistoryWindow) => Promise<HistoryRow[]>;
}

/** Items asked for when the window is a duration (PEP nodes keep up to pep_max_items). */
const DURATION_ITEMS = 500;

/** How often a waiting `read` looks for its thing's fresh reading. */
const FRESH_POLL_MS = 5;

export function hostDevice(o: HostDeviceOptions): ChatDevice {
  let reading: Promise<void> | undefined;
  const freshOf = (thing: string, since: number, done: Promise<void>): Promise<void> => new Promise((resolve) => {
    let over = false;
    void done.finally(() => { over = true; });
    const look = () => {
      if (over) return resolve();
      const r = o.drivers.latestReadings().find((x) => x.thing === thing);
      if (r && r.timestamp >= since) return resolve();
      setTimeout(look, FRESH_POLL_MS).unref?.();
    };
    look();
  });
  return {
    things() {
      return o.drivers.things().map((t) => ({
        id: t.id,
        ...(t.name !== undefined ? { name: t.name } : {}),
        fields: t.fields.map((f) => ({ ...f, ...(o.rangeOf?.(t.id, f.name) ?? {}) })),
      }));
    },
    latest() {
      const map = new Map<string, FieldState>();
      for (const r of o.drivers.latestReadings()) {
        for (const v of r.values) {
          const st: FieldState = { timestamp: r.timestamp };
          if (v.value !== undefined) st.value = v.value;
          if (v.error !== undefined) st.error = v.error;
          map.set(`${r.thing}\u0000${v.field}`, st);
        }
      }
      return (thing, field) => map.get(`${thing}\u0000${field}`);
    },
    readFresh(thing) {
      // DriverHost.readOnce samples every polled driver; concurrent asks share one sample,
      // so a flood of `read` messages cannot stack samples on a slow sensor.
      if (!o.drivers.readOnce) return Promise.resolve();
      const t0 = Date.now();
      reading ??= o.drivers.readOnce().then(() => undefined, () => undefined).finally(() => { reading = undefined; });
      // readOnce waits for every driver; this thing's driver may be done long before a slow
      // one elsewhere: its reading lands in latestReadings() as soon as it is taken.
      return Promise.race([reading, freshOf(thing, t0, reading)]);
    },
    set(thing, field, value, from) {
      return o.drivers.set(thing, field, value, from);
    },
    async history(thing, field, w) {
      const mine = await o.local?.(thing, field, w).catch(() => []);
      if (mine?.length) return mine.slice(0, w.count ?? MAX_HISTORY_COUNT);
      const { service, node } = o.nodeOf(thing);
      // XEP-0060 6.5.7: max_items asks for the N most recent items.
      const max = w.count !== undefined ? Math.min(w.count, MAX_HISTORY_COUNT) : DURATION_ITEMS;
      const res = await o.iq(itemsIq(service, node, max), o.historyTimeoutMs ?? 2000);
      const rows: HistoryRow[] = [];
      for (const item of parseItems(res)) {
        if (!item.payload) continue;
        for (const r of fieldsToReadings(item.payload)) {
          if (r.thing !== thing) continue;
          const v = r.values.find((x) => x.field === field);
          if (!v) continue;
          if (w.sinceMs !== undefined && r.timestamp < w.sinceMs) continue;
          const row: HistoryRow = { timestamp: r.timestamp };
          if (v.value !== undefined) row.value = v.value;
          if (v.error !== undefined) row.error = v.error;
          rows.push(row);
        }
      }
      rows.sort((a, b) => b.timestamp - a.timestamp);
      return rows.slice(0, w.count ?? MAX_HISTORY_COUNT);
    },
  };
}
