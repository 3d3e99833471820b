import assert from 'node:assert/strict';
import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { spaceOf } from '../../../src/core/disk-space.js';

test('spaceOf: the size is all blocks, the free space those an unprivileged user may write', () => {
  assert.deepEqual(spaceOf({ bavail: 3, blocks: 10, bsize: 4096 }), { freeBytes: 3 * 4096, sizeBytes: 10 * 4096 });
  const stats = statfsSync(tmpdir());
  const space = spaceOf(stats);
  assert.equal(space.sizeBytes, stats.blocks * stats.bsize);
  assert.ok(space.freeBytes <= space.sizeBytes);
});
