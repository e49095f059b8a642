import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ItemIdAllocator } from '../../agent/publish/item-id';

test('ids are the instance and a base36 sequence', () => {
  const a = new ItemIdAllocator('mx5na0gx');
  assert.is(a.next(), 'mx5na0gx-0');
  assert.is(a.next(), 'mx5na0gx-1');
  assert.is(a.nextSeq, 2);
  assert.is(new ItemIdAllocator('', 36).next(), '10');
  assert.is(new ItemIdAllocator('k', 1_000_000).next(), 'k-lfls', 'a million ids: 4 characters');
});

test('ids never repeat within an allocator, nor across two instances', () => {
  const a = new ItemIdAllocator('k3x');
  const b = new ItemIdAllocator('k3y');
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    seen.add(a.next());
    seen.add(b.next());
  }
  assert.is(seen.size, 10_000);
  assert.ok([...seen].every((id) => id.startsWith('k3x-') || id.startsWith('k3y-')));
});

test('a bad start sequence starts at 0', () => {
  assert.is(new ItemIdAllocator('', -1).nextSeq, 0);
  assert.is(new ItemIdAllocator('', 1.5).nextSeq, 0);
});

test.run();
