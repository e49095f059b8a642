// The ids of one Outbox.ack() call reach the ack log together. The pipeline acks an item of
// several readings with one call; if the first reading's ack were on disk while a later one's
// frame was written but its ack not yet (a kill in between), a replay would find half an item,
// send the rest under other ids, and the server would store those readings twice. Real files;
// the kill is an ack-log write that never completes, and a second outbox opens the same dir.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFs, type OutboxFs } from '../../agent/outbox/fs';
import { Outbox } from '../../agent/outbox/outbox';

const dirs: string[] = [];
test.after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** Real fs; segment appends wait for `segGate`; ack-log appends after `ackFreezeAfterSegs` segment writes never finish. */
function gatedFs(): { fs: OutboxFs; g: { segGate?: Promise<void>; segWrites: number; ackFreezeAfterSegs: number; ackFrozen: boolean; ackWrites: number } } {
  const g = { segGate: undefined as Promise<void> | undefined, segWrites: 0, ackFreezeAfterSegs: Infinity, ackFrozen: false, ackWrites: 0 };
  const fs: OutboxFs = {
    ...nodeFs,
    async openAppend(path) {
      const f = await nodeFs.openAppend(path);
      const isAck = path.endsWith('acks.log');
      return {
        ...f,
        async append(data) {
          if (isAck) {
            if (g.segWrites >= g.ackFreezeAfterSegs) {
              g.ackFrozen = true;
              return new Promise<void>(() => undefined); // the process dies here
            }
            g.ackWrites++;
          } else if (g.segGate) await g.segGate;
          await f.append(data);
          if (!isAck) g.segWrites++;
        },
      };
    },
  };
  return { fs, g };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

test('an ack of [written, not yet written] is recorded only with both: a kill in between replays both, not half', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-ackgroup-'));
  dirs.push(dir);
  const { fs, g } = gatedFs();
  const ob = await Outbox.open({ dir, fs, flushIntervalMs: 60_000 });
  await Promise.all([ob.append({ key: 'k', id: 'a', payload: 'A' }), ob.flush()]);
  assert.is(g.segWrites, 1, 'a is on disk');
  // A write under way (c) while b arrives: b goes in the next write.
  let open!: () => void;
  g.segGate = new Promise<void>((r) => (open = r));
  void ob.append({ key: 'k', id: 'c', payload: 'C' });
  void ob.flush();
  await sleep(10);
  void ob.append({ key: 'k', id: 'b', payload: 'B' }).catch(() => undefined);
  const out = await ob.take(10);
  assert.equal(out.map((r) => r.id), ['a', 'c', 'b']);
  // One item holding a and b answered: a's frame is on disk, b's is not yet.
  assert.is(ob.ack(['a', 'b']), 2);
  // The process dies after b's frame is written, before the next ack-log write.
  g.ackFreezeAfterSegs = 3;
  g.segGate = undefined;
  open();
  void ob.flush();
  await until('b written and the ack write stuck', () => g.segWrites === 3 && g.ackFrozen);
  assert.is(g.ackWrites, 0, 'a\'s ack did not go to disk on its own');
  const again = await Outbox.open({ dir, flushIntervalMs: 0 });
  try {
    const ids = (await again.take(10)).map((r) => r.id);
    assert.equal(ids, ['a', 'c', 'b'], 'the whole item comes back (and c, never acked)');
    assert.is(again.firstNewSeq, 3, 'records below seq 3 were recovered from disk');
  } finally {
    await again.close();
  }
});

test('acks of written records go to the log at once; a later ack call is separate', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'xiota-ackgroup-'));
  dirs.push(dir);
  const ob = await Outbox.open({ dir, flushIntervalMs: 0 });
  for (const id of ['a', 'b', 'c']) await ob.append({ key: 'k', id, payload: id });
  await ob.take(3);
  assert.is(ob.ack(['a', 'b']), 2);
  assert.is(ob.ack(['a']), 0, 'an id already acked is not found again');
  await ob.flush();
  const again = await Outbox.open({ dir, flushIntervalMs: 0 });
  try {
    assert.equal((await again.take(10)).map((r) => r.id), ['c']);
  } finally {
    await again.close();
    await ob.close();
  }
});

test.run();
