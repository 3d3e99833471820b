// The progress cells a worker shares with the pool: which descriptors the pool must close
// when the worker stops.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BatchProgress } from '../../../src/pool/progress.js';

test('a descriptor released by the worker is no longer held, and its cell is reused', () => {
  const progress = new BatchProgress();
  progress.holding(10);
  progress.holding(11);
  progress.releasing(10);
  assert.deepEqual(progress.held(), [11]);
  progress.holding(12);
  assert.deepEqual(progress.held(), [12, 11]);
  progress.releasing(99);
  assert.deepEqual(progress.held(), [12, 11]);
});

test('the worker and the main thread see the same cells, and a new batch starts with none held', () => {
  const pool = new BatchProgress();
  const worker = new BatchProgress(pool.buffer);
  worker.starting(0);
  worker.holding(7);
  assert.equal(pool.started(), 1);
  assert.deepEqual(pool.held(), [7]);
  pool.reset();
  assert.deepEqual(worker.held(), []);
  assert.equal(worker.started(), 0);
});

test('descriptors past the cells are not tracked, and releasing one frees a cell again', () => {
  const progress = new BatchProgress();
  const many = Array.from({ length: 70 }, (_, n) => 100 + n);
  for (const fd of many) progress.holding(fd);
  assert.deepEqual(progress.held(), many.slice(0, 64));
  progress.releasing(100);
  progress.holding(5);
  assert.deepEqual(progress.held(), [5, ...many.slice(1, 64)]);
});

test('a descriptor held again is listed once: the job that opened it holds it, then its result does', () => {
  const progress = new BatchProgress();
  progress.holding(10);
  progress.holding(11);
  progress.holding(10);
  progress.holding(12);
  progress.holding(12);
  assert.deepEqual(progress.held(), [10, 11, 12]);
  // Once released it is not held at all: the pool must never close a number the worker closed, which may be reused.
  progress.releasing(10);
  progress.releasing(12);
  assert.deepEqual(progress.held(), [11]);
});
