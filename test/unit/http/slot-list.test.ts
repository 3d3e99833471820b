import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SlotList } from '../../../src/http/slot-list.js';

test('items added are listed until removed, in any order', () => {
  const list = new SlotList<string>();
  const slots = ['a', 'b', 'c', 'd'].map((item) => list.add(item));
  assert.equal(list.size, 4);
  list.remove(slots[1]!);
  assert.deepEqual(list.snapshot().sort(), ['a', 'c', 'd']);
  list.remove(slots[0]!);
  list.remove(slots[3]!);
  assert.deepEqual(list.snapshot(), ['c']);
  list.remove(slots[2]!);
  assert.equal(list.size, 0);
  assert.deepEqual(list.snapshot(), []);
});

test('removing the item that took a removed one\'s place still removes the right one', () => {
  const list = new SlotList<number>();
  const slots = [0, 1, 2].map((item) => list.add(item));
  list.remove(slots[0]!); // 2 moves into slot 0
  list.remove(slots[2]!);
  assert.deepEqual(list.snapshot(), [1]);
});

test('removing twice does nothing the second time', () => {
  const list = new SlotList<string>();
  const first = list.add('first');
  list.add('second');
  list.remove(first);
  list.remove(first);
  assert.deepEqual(list.snapshot(), ['second']);
});

test('a snapshot is a copy: removing while going through it is safe', () => {
  const list = new SlotList<string>();
  const slots = new Map(['a', 'b', 'c'].map((item) => [item, list.add(item)]));
  for (const item of list.snapshot()) list.remove(slots.get(item)!);
  assert.equal(list.size, 0);
});
