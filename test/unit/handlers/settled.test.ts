import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSettled, SETTLE_MARGIN_MS } from '../../../src/handlers/settled.js';

const STATED_AT = 1_700_000_000_000;

test('a file changed well before it was stated is settled: a later change moves its times', () => {
  const longAgo = STATED_AT - SETTLE_MARGIN_MS - 1;
  assert.equal(isSettled({ ctimeMs: longAgo, mtimeMs: longAgo }, STATED_AT), true);
});

test('a file changed in the margin before it was stated is not: a second change in the same clock tick keeps its times', () => {
  for (const ago of [0, 1, 4, 10, SETTLE_MARGIN_MS - 1, SETTLE_MARGIN_MS]) {
    const at = STATED_AT - ago;
    assert.equal(isSettled({ ctimeMs: at, mtimeMs: at - 60_000 }, STATED_AT), false, `changed ${ago} ms before`);
  }
});

test('a file system that stamps whole seconds: a change in the second of the fstat is not settled', () => {
  const second = Math.floor(STATED_AT / 1000) * 1000;
  assert.equal(isSettled({ ctimeMs: second, mtimeMs: second }, second + 999), false);
  assert.equal(isSettled({ ctimeMs: second - SETTLE_MARGIN_MS, mtimeMs: second - SETTLE_MARGIN_MS }, second + 1), true);
});

test('the later of the two times counts: a modification time set ahead of the clock is never trusted', () => {
  const old = STATED_AT - 60_000;
  assert.equal(isSettled({ ctimeMs: old, mtimeMs: STATED_AT + 3_600_000 }, STATED_AT), false);
  assert.equal(isSettled({ ctimeMs: STATED_AT, mtimeMs: old }, STATED_AT), false);
});

test('vfat, whose modification times go in steps of two seconds: a change in the two seconds of the fstat is not settled', () => {
  const step = Math.floor(STATED_AT / 2000) * 2000;
  assert.equal(isSettled({ ctimeMs: step, mtimeMs: step }, step + 1999), false, 'written 1.999 s after the time it is stamped with');
  assert.equal(isSettled({ ctimeMs: step - 2000, mtimeMs: step - 2000 }, step + 1), true);
});
