// Which history store belongs to which agent (by its state directory): the history module
// (agent/history/index.ts) registers its store here, the readers (XEP-0323 readout, chat,
// commands) look it up. Types only from the store, so a reader loads none of the store's code
// when history is off (agent/modules.ts loads the module on demand).
import type { HistoryReader } from './store';

const readers = new Map<string, HistoryReader>();

/** The history store of the agent whose state directory this is; undefined when history is off. */
export function historyFor(stateDir: string): HistoryReader | undefined {
  return readers.get(stateDir);
}

/** Registers a store for a state directory; the returned function takes it back (if still its). */
export function registerHistory(stateDir: string, h: HistoryReader): () => void {
  readers.set(stateDir, h);
  return () => { if (readers.get(stateDir) === h) readers.delete(stateDir); };
}
