// Disk full for real: a 256 KiB tmpfs mounted for this test (we run as root). Where mounting
// is not permitted the same scenario runs on the fault-injecting fs and says so.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox } from '../../agent/outbox/outbox';
import { OutboxFs } from '../../agent/outbox/fs';
import { XiotaError, isXiotaError } from '../../agent/errors';
import { faultFs } from './faultfs';

const root = mkdtempSync(join(tmpdir(), 'xiota-full-'));
let mounted = false;
test.after(() => {
  if (mounted) execFileSync('umount', [root]);
  rmSync(root, { recursive: true, force: true });
});

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await wait(10);
  }
}

test('disk full: says so, keeps handing out readings from memory, resumes on disk when space returns', async () => {
  let fs: OutboxFs | undefined;
  let setFull: (full: boolean) => void;
  const dir = join(root, 'ob');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', root], { stdio: 'ignore' });
    mounted = true;
    const filler = join(root, 'filler');
    writeFileSync(filler, Buffer.alloc(200 * 1024));
    setFull = (full) => { if (!full) unlinkSync(filler); };
  } catch {
    console.log('mount not permitted here: running the disk-full scenario on the fault-injecting fs');
    const ff = faultFs();
    fs = ff.fs;
    ff.faults.partialBytes = 100;
    let written = 0;
    const inner = fs.openAppend;
    fs.openAppend = async (p) => {
      const f = await inner(p);
      return { ...f, append: async (d) => { if ((written += d.length) > 48 * 1024) ff.faults.fail = 'ENOSPC'; await f.append(d); } };
    };
    setFull = (full) => { ff.faults.fail = full ? 'ENOSPC' : undefined; written = full ? Infinity : 0; };
  }
  const errors: XiotaError[] = [];
  let recovered = 0;
  const ob = await Outbox.open({
    dir, fs, flushIntervalMs: 1, diskRetryMs: 50, maxBytes: 1 << 20,
    onError: (e) => errors.push(e), onRecovered: () => recovered++,
  });
  const payload = 'p'.repeat(1000);
  const accepted: string[] = [];
  const held: string[] = [];
  let n = 0;
  let firstErr: unknown;
  while (held.length < 30 && n < 2000) {
    const batch = Array.from({ length: 10 }, () => ({ key: 'k', id: `r${n++}`, payload }));
    try {
      await ob.appendMany(batch);
      accepted.push(...batch.map((b) => b.id));
    } catch (e) {
      firstErr ??= e;
      held.push(...batch.map((b) => b.id));
    }
  }
  assert.ok(accepted.length > 0, 'some readings fit before the disk filled');
  assert.ok(isXiotaError(firstErr, 'XIOTA_E_OUTBOX'), 'append rejects with XIOTA_E_OUTBOX');
  const err = firstErr as XiotaError;
  assert.is(err.detail.errno, 'ENOSPC');
  assert.is(err.detail.heldInMemory, true);
  assert.match(err.message, dir);
  assert.match(err.message, /full/);
  assert.is(errors.length, 1, 'onError once per outage, not per reading');
  assert.is(ob.status().disk, 'failing');
  assert.is(ob.status().memoryRecords, held.length);

  // Still publishing: everything accepted plus what is held in memory, in order.
  const out = await ob.take(10_000);
  assert.equal(out.map((r) => r.id), [...accepted, ...held]);
  // The server acks some held ones and some disk ones, out of order.
  const ackedHeld = held.filter((_, i) => i % 3 === 0);
  ob.ack([...ackedHeld].reverse());
  ob.ack(accepted.slice(0, 5));
  ob.requeueInFlight();

  setFull(false);
  await until(() => recovered === 1);
  assert.is(ob.status().disk, 'ok');
  assert.is(ob.status().memoryRecords, 0);
  await ob.append({ key: 'k', id: 'after', payload: 'x' });
  await ob.close();

  const again = await Outbox.open({ dir, fs });
  const ids = (await again.take(10_000)).map((r) => r.id);
  const expect = [...accepted.slice(5), ...held.filter((id) => !ackedHeld.includes(id)), 'after'];
  assert.equal(ids, expect, 'what was held in memory went to disk in order once space returned');
  await again.close();
});

test('EIO mid-write: the partial frame is cut off, later records land on a clean boundary', async () => {
  const dir = join(tmpdir(), `xiota-eio-${process.pid}`);
  try {
    const { fs, faults } = faultFs();
    faults.partialBytes = 37;
    const ob = await Outbox.open({ dir, fs, flushIntervalMs: 1, diskRetryMs: 20 });
    await ob.append({ key: 'k', id: 'a', payload: 'one' });
    faults.fail = 'EIO';
    const e = await ob.append({ key: 'k', id: 'b', payload: 'two' }).catch((x: unknown) => x);
    assert.ok(isXiotaError(e, 'XIOTA_E_OUTBOX'));
    assert.match((e as XiotaError).message, /EIO/);
    assert.match((e as XiotaError).message, /SD card/);
    faults.fail = undefined;
    await wait(60);
    await ob.append({ key: 'k', id: 'c', payload: 'three' });
    await ob.close();
    const seg = readdirSync(dir).filter((f) => f.startsWith('seg-'));
    const size = seg.reduce((a, f) => a + statSync(join(dir, f)).size, 0);
    const bytes = Buffer.concat(seg.map((f) => readFileSync(join(dir, f))));
    assert.is(size, bytes.length);
    const again = await Outbox.open({ dir });
    assert.equal((await again.take(10)).map((r) => r.id), ['a', 'b', 'c']);
    assert.is(again.status().tornBytes, 0, 'no garbage was left between frames');
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a record held in memory and acknowledged while it is being written to disk: its ack is logged, nothing breaks', async () => {
  const dir = join(tmpdir(), `xiota-heldack-${process.pid}`);
  try {
    const { fs, faults } = faultFs();
    const ob = await Outbox.open({ dir, fs, flushIntervalMs: 1, diskRetryMs: 20 });
    faults.fail = 'ENOSPC';
    const e = await ob.append({ key: 'k', id: 'held', payload: 'one' }).catch((x: unknown) => x);
    assert.ok(isXiotaError(e, 'XIOTA_E_OUTBOX'));
    assert.equal((await ob.take(10)).map((r) => r.id), ['held'], 'handed out from memory');
    // Space returns, but the write that moves 'held' to disk is held at the gate...
    let open!: () => void;
    faults.gate = new Promise((r) => (open = r));
    faults.fail = undefined;
    await wait(60);
    // ...while the server acknowledges the publish.
    assert.is(ob.ack(['held']), 1);
    open();
    faults.gate = undefined;
    await ob.append({ key: 'k', id: 'after', payload: 'two' });
    assert.is(ob.status().disk, 'ok');
    assert.is(ob.status().memoryRecords, 0);
    await ob.close();
    const again = await Outbox.open({ dir });
    assert.equal((await again.take(10)).map((r) => r.id), ['after'], 'the early ack reached the ack log');
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
