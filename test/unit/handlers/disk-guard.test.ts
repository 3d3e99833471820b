import assert from 'node:assert/strict';
import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freeBytes, hasRoom } from '../../../src/handlers/disk-guard.js';

const MiB = 1024 * 1024;

test('an upload fits when what stays free is at least the minimum', () => {
  assert.ok(hasRoom(300 * MiB, 44 * MiB, 256 * MiB));
  assert.ok(!hasRoom(300 * MiB, 44 * MiB + 1, 256 * MiB));
  assert.ok(!hasRoom(100 * MiB, 0, 256 * MiB));
  assert.ok(hasRoom(0, 0, 0));
});

test('free space the file system cannot tell does not refuse (ENOSPC still answers 507)', () => {
  assert.ok(hasRoom(null, 10 * MiB, 256 * MiB));
});

test('freeBytes: blocks available to unprivileged users times the block size', () => {
  const stats = statfsSync(tmpdir());
  const free = freeBytes(tmpdir());
  assert.ok(free !== null && free > 0);
  // Another process may write in between: the two readings agree to within a few MiB.
  assert.ok(Math.abs(free - stats.bavail * stats.bsize) < 64 * MiB);
  assert.equal(freeBytes(join(tmpdir(), 'rawhttp-no-such-folder', 'x')), null);
});
