// The metrics read the uploads file system's space without ever waiting for it: one read at a
// time, the latest figure at each scrape, and no figure while a read hangs or after one failed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DiskSpace } from '../../src/core/disk-space.js';
import { HUNG_AFTER_MS, UploadsDisk } from '../../src/uploads-disk.js';
import { waitFor } from '../fixtures/probes.js';

/** Reads the test settles by hand, on a clock it moves by hand. */
class HeldReads {
  readonly pending: { resolve(space: DiskSpace): void; reject(error: Error): void }[] = [];
  clock = 0;
  readonly disk = new UploadsDisk(
    () => new Promise<DiskSpace>((resolve, reject) => this.pending.push({ resolve, reject })),
    () => this.clock,
  );
  /** Settles the latest read, and lets its callbacks run. */
  async settle(outcome: DiskSpace | Error): Promise<void> {
    const read = this.pending.at(-1)!;
    if (outcome instanceof Error) read.reject(outcome);
    else read.resolve(outcome);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const FULLER: DiskSpace = { freeBytes: 1024, sizeBytes: 8192 };
const EMPTIER: DiskSpace = { freeBytes: 4096, sizeBytes: 8192 };

test('the first read starts at once; until it ends there is no figure, and no second read', () => {
  const reads = new HeldReads();
  assert.equal(reads.pending.length, 1);
  assert.equal(reads.disk.latest(), null);
  assert.equal(reads.disk.latest(), null);
  assert.equal(reads.pending.length, 1);
});

test('a scrape gets the latest figure at once and starts the next read, one at a time', async () => {
  const reads = new HeldReads();
  await reads.settle(FULLER);
  assert.deepEqual(reads.disk.latest(), FULLER);
  assert.equal(reads.pending.length, 2);
  // The next read has not ended: the same figure, and no read more.
  reads.clock += HUNG_AFTER_MS - 1;
  assert.deepEqual(reads.disk.latest(), FULLER);
  assert.equal(reads.pending.length, 2);
  await reads.settle(EMPTIER);
  assert.deepEqual(reads.disk.latest(), EMPTIER);
  assert.equal(reads.pending.length, 3);
});

test('while a read has been pending HUNG_AFTER_MS there is no figure and no other read; once it ends, its figure', async () => {
  const reads = new HeldReads();
  await reads.settle(FULLER);
  assert.deepEqual(reads.disk.latest(), FULLER);
  reads.clock += HUNG_AFTER_MS;
  for (let scrape = 0; scrape < 5; scrape++) {
    assert.equal(reads.disk.latest(), null);
    reads.clock += 15_000;
  }
  assert.equal(reads.pending.length, 2, 'the hung read is the only one');
  await reads.settle(EMPTIER);
  assert.deepEqual(reads.disk.latest(), EMPTIER);
  assert.equal(reads.pending.length, 3);
});

test('a failed read leaves no figure until a read succeeds', async () => {
  const reads = new HeldReads();
  await reads.settle(FULLER);
  reads.disk.latest();
  await reads.settle(new Error('ENOENT'));
  assert.equal(reads.disk.latest(), null);
  await reads.settle(EMPTIER);
  assert.deepEqual(reads.disk.latest(), EMPTIER);
});

test('of a folder: what statfs says of it; null once it is gone', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'rawhttp-disk-'));
  const disk = UploadsDisk.of(folder);
  const stats = statfsSync(folder);
  await waitFor(() => disk.latest()?.sizeBytes === stats.blocks * stats.bsize, 'the first read', 2000);
  rmSync(folder, { recursive: true });
  await waitFor(() => disk.latest() === null, 'a failed read', 2000);
});
