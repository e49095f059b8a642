// Power cut at any byte: a copy of a segment cut at every length must reopen with exactly the
// records wholly before the cut, and the file cut back to the last frame boundary.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox } from '../../agent/outbox/outbox';
import { createLogger } from '../../agent/log';

const root = mkdtempSync(join(tmpdir(), 'xiota-torn-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

async function writeSample(dir: string, n: number): Promise<{ seg: string; ends: number[] }> {
  const ob = await Outbox.open({ dir, flushIntervalMs: 1 });
  for (let i = 0; i < n; i++) await ob.append({ key: 'temp', id: `r${i}`, payload: `<v n="${i}">${'z'.repeat(i * 7)}</v>` });
  await ob.close();
  const seg = readdirSync(dir).find((f) => f.startsWith('seg-'))!;
  // Frame boundaries, from the framing itself: length u32 + crc u32 + body.
  const buf = readFileSync(join(dir, seg));
  const ends: number[] = [];
  for (let off = 0; off < buf.length;) { off += 8 + buf.readUInt32BE(off); ends.push(off); }
  return { seg, ends };
}

async function reopenIds(dir: string, warns?: string[]): Promise<string[]> {
  const logger = createLogger({ level: 'warn', json: true, write: (l) => warns?.push(l) });
  const ob = await Outbox.open({ dir, logger });
  const got = (await ob.take(1000)).map((r) => r.id);
  await ob.close();
  return got;
}

test('cut at every byte offset: all complete records kept, nothing after, file truncated', async () => {
  const src = join(root, 'src');
  const { seg, ends } = await writeSample(src, 6);
  const full = statSync(join(src, seg)).size;
  assert.is(ends[ends.length - 1], full);
  for (let cut = 0; cut <= full; cut++) {
    const d = join(root, `cut-${cut}`);
    mkdirSync(d);
    copyFileSync(join(src, seg), join(d, seg));
    truncateSync(join(d, seg), cut);
    const complete = ends.filter((e) => e <= cut).length;
    const warns: string[] = [];
    const got = await reopenIds(d, warns);
    assert.equal(got, Array.from({ length: complete }, (_, i) => `r${i}`), `cut at ${cut}`);
    const boundary = complete ? ends[complete - 1] : 0;
    const left = readdirSync(d).filter((f) => f.startsWith('seg-'));
    if (complete) assert.is(statSync(join(d, seg)).size, boundary, `file cut back at ${cut}`);
    else assert.equal(left, [], `a segment with nothing good in it is removed (cut ${cut})`);
    if (cut !== boundary) assert.ok(warns.some((w) => w.includes('torn tail') && w.includes(`"droppedBytes":${cut - boundary}`)), `warned at ${cut}`);
    rmSync(d, { recursive: true });
  }
});

test('a zero-filled tail (size grew, data never landed) is a torn tail, not a record', async () => {
  const d = join(root, 'zeros');
  const { seg, ends } = await writeSample(d, 3);
  const p = join(d, seg);
  writeFileSync(p, Buffer.concat([readFileSync(p), Buffer.alloc(4096)]));
  assert.equal(await reopenIds(d), ['r0', 'r1', 'r2']);
  assert.is(statSync(p).size, ends[2]);
});

test('a bit flipped inside a record drops that record only, with a warning', async () => {
  const d = join(root, 'flip');
  const { seg, ends } = await writeSample(d, 6);
  const p = join(d, seg);
  const buf = readFileSync(p);
  const mid = ends[2] + 8 + 14; // inside record 3's body
  buf[mid] ^= 0x10;
  writeFileSync(p, buf);
  const warns: string[] = [];
  assert.equal(await reopenIds(d, warns), ['r0', 'r1', 'r2', 'r4', 'r5']);
  assert.ok(warns.some((w) => w.includes('corrupt') && w.includes('"corruptRecords":1')));
});

test('a flipped length field drops the rest of that segment (no trustworthy resync), with a warning', async () => {
  const d = join(root, 'flip-len');
  const { seg, ends } = await writeSample(d, 6);
  const p = join(d, seg);
  const buf = readFileSync(p);
  buf[ends[2] + 1] ^= 0x40; // record 3's length now points far past the file
  writeFileSync(p, buf);
  const warns: string[] = [];
  assert.equal(await reopenIds(d, warns), ['r0', 'r1', 'r2']);
  assert.ok(warns.some((w) => w.includes('torn tail')));
  assert.is(statSync(p).size, ends[2]);
});

test('a torn ack log tail loses only the torn acks: those records replay', async () => {
  const d = join(root, 'acks');
  const ob = await Outbox.open({ dir: d, flushIntervalMs: 1 });
  await ob.appendMany(Array.from({ length: 4 }, (_, i) => ({ key: 'k', id: `r${i}`, payload: 'p' })));
  await ob.take(4);
  ob.ack(['r0']);
  await ob.flush();
  ob.ack(['r2']);
  await ob.close();
  const ack = join(d, 'acks.log');
  truncateSync(ack, statSync(ack).size - 3);
  assert.equal(await reopenIds(d), ['r1', 'r2', 'r3']);
});

test.run();
