// Records taken from the outbox and not yet sent, per PubSub node, waiting for a slot in the
// publish window. The pump takes many records at once (more than the window holds items) so
// that readings of one thing which arrive interleaved with those of a hundred others still meet
// here and travel in one item (XEP-0323: one `<timestamp>` per reading). Pure bookkeeping, no
// I/O: the pipeline owns the outbox and the session.
//
// Guarantees kept (test/publish/item-queue.test.ts):
// - per node, records leave in the order they were added (the outbox's append order);
// - a fixed unit (an item already sent once and resent whole, or a record recovered from disk
//   that must go alone under its own id) leaves exactly as it was added, never merged;
// - an item holds at most `maxReadings` records and MAX_ITEM_PAYLOAD_BYTES of payload (one record
//   more only when a single record is larger);
// - nodes take turns (round robin in the order they got work), so one busy thing does not hold
//   back the others.
import type { OutboxRecord } from '../outbox/outbox';

/** An item's payload stays well below every server's stanza limit (ejabberd: 64 KiB). */
export const MAX_ITEM_PAYLOAD_BYTES = 16 * 1024;

interface Unit { recs: OutboxRecord[]; fixed: boolean }

export class ItemQueue {
  private readonly byKey = new Map<string, Unit[]>();
  private count = 0;

  /** Records waiting (all keys). */
  get size(): number {
    return this.count;
  }

  /** A record that may share an item with its neighbours of the same key. */
  add(rec: OutboxRecord): void {
    this.push(rec.key, { recs: [rec], fixed: false });
  }

  /** Records that must travel as exactly this one item (same key, in order). */
  addFixed(recs: OutboxRecord[]): void {
    if (recs.length) this.push(recs[0]!.key, { recs, fixed: true });
  }

  private push(key: string, u: Unit): void {
    const list = this.byKey.get(key);
    if (list) list.push(u);
    else this.byKey.set(key, [u]);
    this.count += u.recs.length;
  }

  /**
   * The next item: from the key whose turn it is, a fixed unit alone or up to `maxReadings`
   * mergeable records in order. Undefined when nothing waits.
   */
  next(maxReadingsOf: (key: string) => number): OutboxRecord[] | undefined {
    const first = this.byKey.entries().next();
    if (first.done) return undefined;
    const [key, list] = first.value;
    let item: OutboxRecord[];
    if (list[0]!.fixed) item = list.shift()!.recs;
    else {
      const max = Math.max(1, maxReadingsOf(key));
      item = [];
      let bytes = 0;
      while (list.length && !list[0]!.fixed && item.length < max) {
        const rec = list[0]!.recs[0]!;
        if (item.length && bytes + rec.payload.length > MAX_ITEM_PAYLOAD_BYTES) break;
        item.push(rec);
        bytes += rec.payload.length;
        list.shift();
      }
    }
    this.count -= item.length;
    // Round robin: this key goes to the back of the line (Map keeps insertion order).
    this.byKey.delete(key);
    if (list.length) this.byKey.set(key, list);
    return item;
  }

  /** Forgets everything (the records go back to the outbox's queue: requeueInFlight). */
  clear(): void {
    this.byKey.clear();
    this.count = 0;
  }
}
