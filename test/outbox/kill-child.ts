// Child process for kill.test.ts: appends records with increasing ids as fast as the outbox
// accepts them, several appends outstanding at once, and prints each id once its append has
// resolved (= on disk). The parent SIGKILLs it at a random moment.
//   node kill-child.js <dir> <firstId>
import { Outbox } from '../../agent/outbox/outbox';

async function main(): Promise<void> {
  const [dir, first] = process.argv.slice(2);
  const ob = await Outbox.open({ dir, flushIntervalMs: 2, segmentBytes: 64 * 1024 });
  let next = Number(first);
  // Ack a little of what is on disk, out of order, so acks and deletions race the kill too.
  setInterval(() => {
    void ob.take(50).then((rs) => {
      const ids = rs.filter((r) => r.seq % 5 === 0).map((r) => r.id).reverse();
      // Printed before acking (pipe writes are synchronous on Linux), so the parent knows
      // every id that may legitimately be gone.
      for (const id of ids) process.stdout.write(`ack ${id}\n`);
      ob.ack(ids);
    });
  }, 7);
  process.stdout.write('ready\n');
  const worker = async () => {
    for (;;) {
      const id = next++;
      await ob.append({ key: `node${id % 3}`, id: `r${id}`, payload: `<v n="${id}">${'x'.repeat(200)}</v>` });
      process.stdout.write(`ok r${id}\n`);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

void main();
