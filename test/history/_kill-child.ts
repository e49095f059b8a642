// Child process for kill.test.ts: appends readings of two things as fast as it can on a clock
// that runs 100 ms per reading (so minutes, hours and days close while it runs), flushes and
// closes buckets every 50 readings, and prints the last index on disk after each flush. The
// parent SIGKILLs it at a random moment.
//   node _kill-child.js <dir> <first index> <t0>
import { HistoryStore } from '../../agent/history/store';

async function main(): Promise<void> {
  const [dir, first, t0] = process.argv.slice(2);
  const clock = { t: Number(t0) };
  const s = await HistoryStore.open({ dir: dir!, now: () => clock.t, timers: false, segmentBytes: 16 * 1024 });
  process.stdout.write('ready\n');
  for (let i = Number(first); ; i++) {
    clock.t = Number(t0) + i * 100;
    s.append({ thing: 'a', timestamp: clock.t, values: [{ field: 'n', value: i }] });
    s.append({ thing: 'b', timestamp: clock.t, values: [{ field: 'n', value: -i }] });
    if (i % 50 === 49) {
      await s.flush();
      process.stdout.write(`ok ${i}\n`);
      await s.tick();
    }
  }
}

void main();
