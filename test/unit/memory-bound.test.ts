import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryBound, memoryLimit, memoryLimitWarning as warningFor, type MemorySettings } from '../../src/memory-bound.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The defaults (README's configuration table). */
const DEFAULTS: MemorySettings = {
  maxThreads: 10,
  maxBodyMemoryBytes: 64 * MiB,
  maxBodyBytes: MiB,
  fileCacheMaxBytes: 16 * MiB,
  maxConnections: 1024,
  maxRequestLineBytes: 8192,
  maxHeaderBytes: 8192,
};

/** The warning under `limit`, given the bound for `settings` as the start computes it. */
const memoryLimitWarning = (limit: number | null, settings: MemorySettings): string | null => warningFor(limit, settings, memoryBound(settings));

test('the bound for the defaults, term by term: 917 MiB, as docs/deploy.md adds it up', () => {
  assert.deepEqual(memoryBound(DEFAULTS), {
    atRest: 190 * MiB,
    bodies: 65 * MiB,
    fileCache: 16 * MiB,
    connections: 80 * MiB,
    unreadResponses: 384 * MiB,
    droppedReads: 100 * MiB,
    mainHeap: 66 * MiB,
    admin: 8 * MiB,
    logBuffer: 8 * MiB,
    total: 917 * MiB,
  });
});

test('each setting moves its own terms', () => {
  const base = memoryBound(DEFAULTS);
  const delta = (settings: Partial<MemorySettings>): number => memoryBound({ ...DEFAULTS, ...settings }).total - base.total;
  assert.equal(delta({ maxThreads: 1 }), -9 * 11 * MiB);
  assert.equal(delta({ maxConnections: 100 }), -924 * (80 + 384) * KiB);
  assert.equal(delta({ maxBodyMemoryBytes: 8 * MiB }), -56 * MiB);
  assert.equal(delta({ maxBodyBytes: 2 * MiB }), MiB);
  assert.equal(delta({ fileCacheMaxBytes: 0 }), -16 * MiB);
  assert.equal(delta({ maxHeaderBytes: 16384 }), 1024 * 8 * KiB);
  assert.equal(delta({ maxRequestLineBytes: 4096 }), -1024 * 4 * KiB);
});

test('what Node.js reports as no memory limit is none: 0, and the huge values of an unlimited cgroup', () => {
  assert.equal(memoryLimit(0), null);
  assert.equal(memoryLimit(2 ** 64 - 1), null, "cgroup v2's max, as libuv passes it on");
  assert.equal(memoryLimit(9_223_372_036_854_771_712), null, "cgroup v1's unlimited");
  assert.equal(memoryLimit(256 * MiB), 256 * MiB);
});

test('no limit, or one at or above the bound: no warning', () => {
  assert.equal(memoryLimitWarning(null, DEFAULTS), null);
  assert.equal(memoryLimitWarning(917 * MiB, DEFAULTS), null);
  assert.equal(memoryLimitWarning(1024 * MiB, DEFAULTS), null);
});

test('a limit below the bound: a warning naming the limit, the bound and the settings that lower it', () => {
  const warning = memoryLimitWarning(256 * MiB, DEFAULTS);
  assert.equal(
    warning,
    "the memory limit (256 MiB) is below the server's memory bound for these settings (917 MiB, README, Memory): clients that flood it may get it killed for memory (OOM); raise the limit or lower what the bound counts (MAX_CONNECTIONS=1024: 464 MiB; MAX_THREADS=10: 190 MiB at rest; MAX_BODY_MEMORY_BYTES + MAX_BODY_BYTES: 65 MiB; FILE_CACHE_MAX_BYTES: 16 MiB)",
  );
  assert.match(memoryLimitWarning(917 * MiB - 1, DEFAULTS)!, /below the server's memory bound/, 'one byte short is short');
  // Smaller settings: the bound follows them (326 MiB), and under a 384 MiB limit the warning goes.
  const small = { ...DEFAULTS, maxThreads: 2, maxConnections: 64, maxBodyMemoryBytes: 8 * MiB, fileCacheMaxBytes: 4 * MiB };
  assert.equal(memoryBound(small).total, 326 * MiB);
  assert.match(memoryLimitWarning(256 * MiB, small)!, /\(256 MiB\) is below the server's memory bound for these settings \(326 MiB/);
  assert.equal(memoryLimitWarning(384 * MiB, small), null);
});

test('a limit below what the server holds at rest: stronger words, and MAX_THREADS named', () => {
  const warning = memoryLimitWarning(128 * MiB, DEFAULTS)!;
  assert.equal(
    warning,
    'the memory limit (128 MiB) is below what the server holds at rest with MAX_THREADS=10 (about 190 MiB, of a bound of 917 MiB): expect it to be killed for memory (OOM) at start or under its first requests, with no log line; raise the limit (README, Memory) or lower MAX_THREADS (each worker about 11 MiB)',
  );
  assert.match(memoryLimitWarning(128 * MiB, { ...DEFAULTS, maxThreads: 4 })!, /below the server's memory bound/, '80 + 4 x 11 = 124 MiB at rest fits 128 MiB');
});
