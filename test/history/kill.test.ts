// kill -9 during appends and rollups: a child process writes readings and closes buckets on a
// fast clock; it is SIGKILLed at random moments, reopened by the next child, again and again.
// Then every reading it reported on disk is there exactly once, and each rollup level (minute,
// hour, day) counts exactly the raw readings: nothing lost, nothing counted twice.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HistoryStore } from '../../agent/history/store';

const dir = mkdtempSync(join(tmpdir(), 'xiota-hkill-'));
const children = new Set<number>();
test.after(() => {
  for (const pid of children) try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  rmSync(dir, { recursive: true, force: true });
});
const T0 = Date.UTC(2026, 11, 1, 23, 50); // runs across midnight: a day closes too

/** Runs a child from `first`, kills it `afterMs` after it is ready; the last index it reported on disk. */
function runChild(first: number, afterMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, '_kill-child.js'), dir, String(first), String(T0)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(child.pid!);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      if (!out.includes('ready') && (out + d.toString()).includes('ready')) setTimeout(() => child.kill('SIGKILL'), afterMs);
      out += d.toString();
    });
    child.on('exit', (code, signal) => {
      children.delete(child.pid!);
      if (signal !== 'SIGKILL') return reject(new Error(`child exited ${code}: ${out.slice(-500)}`));
      const oks = [...out.matchAll(/ok (\d+)/g)].map((m) => Number(m[1]));
      resolve(oks.length ? oks[oks.length - 1]! : first - 1);
    });
  });
}

test('SIGKILL at random moments: every reading on disk once, and each rollup level counts them all', async () => {
  let next = 0;
  let acked = -1;
  const reported: [number, number][] = [];
  for (let round = 0; round < 8; round++) {
    const last = await runChild(next, 100 + Math.floor(Math.random() * 400));
    if (last > acked) acked = last;
    reported.push([next, last]);
    // Like the agent after a crash: new readings go on from now; nothing is written twice.
    next = Math.max(next, last + 1) + 100;
  }
  assert.ok(acked > 500, `only ${acked + 1} readings reported on disk`);
  const clock = { t: T0 + (next + 1) * 100 + 3 * 86_400_000 };
  const s = await HistoryStore.open({ dir, now: () => clock.t, timers: false, retentionMs: { raw: 30 * 86_400_000 } });
  await s.tick();
  const raw = (await s.query({ thing: 'a', field: 'n', limit: 1_000_000 })).rows.map((r) => r.value as number);
  const seen = new Map<number, number>();
  for (const v of raw) seen.set(v, (seen.get(v) ?? 0) + 1);
  for (const [a, b] of reported) for (let i = a; i <= b; i++) assert.ok(seen.has(i), `reading ${i} reported on disk is missing`);
  assert.equal([...seen].filter(([, n]) => n > 1), [], 'no reading twice');
  for (const p of ['minute', 'hour', 'day'] as const) {
    const rows = (await s.query({ thing: 'a', field: 'n', period: p, limit: 1_000_000 })).rows;
    const count = rows.reduce((k, r) => k + r.agg!.count, 0);
    assert.is(count, raw.length, `${p} rollups count ${count} of ${raw.length} raw readings`);
  }
  await s.close();
  const n = reported.reduce((k, [a, b]) => k + b - a + 1, 0);
  console.log(`  ${raw.length} readings after 8 kills (${n} reported on disk, the rest written before a kill without being reported)`);
});

test.run();
