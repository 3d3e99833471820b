import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BoundedQueue } from '../../../src/pool/queue.js';

describe('BoundedQueue', () => {
  test('items come out in the order they went in', () => {
    const queue = new BoundedQueue<number>(5);
    for (const item of [3, 1, 4, 1, 5]) assert.equal(queue.push(item), true);
    assert.equal(queue.length, 5);
    assert.deepEqual([queue.shift(), queue.shift(), queue.shift(), queue.shift(), queue.shift()], [3, 1, 4, 1, 5]);
    assert.equal(queue.length, 0);
    assert.equal(queue.shift(), undefined);
  });

  test('push refuses beyond capacity and accepts again after a shift', () => {
    const queue = new BoundedQueue<string>(2);
    assert.equal(queue.capacity, 2);
    assert.equal(queue.push('a'), true);
    assert.equal(queue.push('b'), true);
    assert.equal(queue.push('c'), false);
    assert.equal(queue.length, 2);
    assert.equal(queue.shift(), 'a');
    assert.equal(queue.push('d'), true);
    assert.equal(queue.push('e'), false);
    assert.deepEqual(queue.drain(), ['b', 'd']);
  });

  test('a queue of capacity 0 holds nothing', () => {
    const queue = new BoundedQueue<number>(0);
    assert.equal(queue.push(1), false);
    assert.equal(queue.length, 0);
    assert.equal(queue.shift(), undefined);
    assert.deepEqual(queue.drain(), []);
  });

  test('order holds across many wraparounds of the ring', () => {
    const capacity = 7;
    const queue = new BoundedQueue<number>(capacity);
    const expected: number[] = [];
    const received: number[] = [];
    let next = 0;
    // Push three, shift two, repeatedly: the head and tail pass the end of the ring many times.
    for (let round = 0; round < 200; round++) {
      for (let i = 0; i < 3; i++) {
        const hasRoom = queue.length < capacity;
        assert.equal(queue.push(next), hasRoom);
        if (hasRoom) expected.push(next);
        next++;
      }
      for (let i = 0; i < 2; i++) {
        const item = queue.shift();
        if (item !== undefined) received.push(item);
      }
      assert.ok(queue.length <= capacity);
      assert.equal(queue.length, expected.length - received.length);
    }
    received.push(...queue.drain());
    assert.deepEqual(received, expected);
    assert.equal(queue.length, 0);
  });

  test('unshift on a full queue is refused and changes nothing', () => {
    const queue = new BoundedQueue<string>(2);
    queue.push('a');
    queue.push('b');
    assert.equal(queue.unshift('x'), false);
    assert.equal(queue.length, 2);
    assert.equal(queue.peek(), 'a');
    assert.deepEqual(queue.drain(), ['a', 'b']);
    assert.equal(new BoundedQueue<string>(0).unshift('x'), false);
  });

  test('unshift puts an item before the oldest, across the start of the ring', () => {
    const queue = new BoundedQueue<string>(3);
    assert.equal(queue.peek(), undefined);
    // The head sits at slot 0: the first unshift wraps it to the last slot.
    queue.push('b');
    assert.equal(queue.unshift('a'), true);
    assert.equal(queue.peek(), 'a');
    assert.equal(queue.unshift('first'), true);
    assert.equal(queue.length, 3);
    assert.equal(queue.peek(), 'first');
    assert.equal(queue.unshift('x'), false);
    assert.deepEqual(queue.drain(), ['first', 'a', 'b']);
    // After the ring has turned (head past its end), unshift and push still keep the order.
    for (const item of ['c', 'd', 'e']) queue.push(item);
    queue.shift();
    queue.shift();
    assert.equal(queue.unshift('back'), true);
    queue.push('f');
    assert.equal(queue.peek(), 'back');
    assert.deepEqual(queue.drain(), ['back', 'e', 'f']);
  });

  test('falsy items other than undefined are kept', () => {
    const queue = new BoundedQueue<number | string | null>(4);
    for (const item of [0, '', null]) queue.push(item);
    assert.deepEqual(queue.drain(), [0, '', null]);
  });

  test('drain empties the queue oldest first and leaves it usable', () => {
    const queue = new BoundedQueue<number>(3);
    queue.push(1);
    queue.push(2);
    queue.shift();
    queue.push(3);
    queue.push(4);
    assert.deepEqual(queue.drain(), [2, 3, 4]);
    assert.equal(queue.length, 0);
    assert.equal(queue.push(5), true);
    assert.equal(queue.shift(), 5);
  });
});
