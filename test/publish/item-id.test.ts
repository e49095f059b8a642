import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ItemIdAllocator, itemIdTimestamp } from '../../agent/publish/item-id';

test('ids are base36 timestamp and a sequence', () => {
  const a = new ItemIdAllocator();
  const t = Date.UTC(2024, 0, 1);
  assert.is(a.next(t), `${t.toString(36)}-0`);
  assert.is(a.next(t), `${t.toString(36)}-1`);
  assert.is(a.next(t + 1), `${(t + 1).toString(36)}-2`);
  assert.is(a.nextSeq, 3);
  assert.is(new ItemIdAllocator('', 36).next(t), `${t.toString(36)}-10`);
});

test('ids never repeat within an allocator, even for bursts and out-of-order stamps', () => {
  const a = new ItemIdAllocator('k3x');
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) seen.add(a.next(1_700_000_000_000 + (i % 7 === 0 ? 0 : i >> 4)));
  assert.is(seen.size, 5000);
  assert.ok([...seen].every((id) => id.startsWith('k3x-')));
});

test('itemIdTimestamp reads the stamp back, with or without prefix', () => {
  const t = 1_700_000_123_456;
  assert.is(itemIdTimestamp(new ItemIdAllocator().next(t)), t);
  assert.is(itemIdTimestamp(new ItemIdAllocator('boot1').next(t)), t);
  assert.is(itemIdTimestamp('no id here!'), undefined);
});

test('garbage timestamps do not throw', () => {
  const a = new ItemIdAllocator();
  assert.is(a.next(NaN), '0-0');
  assert.is(a.next(-5), '0-1');
  assert.is(new ItemIdAllocator('', -1).nextSeq, 0);
});

test.run();
