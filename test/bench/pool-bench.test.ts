// The pool microbenchmark (`npm run bench:pool`) is not run by CI, so a change to the pool or
// the worker could break it unnoticed (it once called a function the batch worker replaced).
// This runs it for a few milliseconds against the build and checks that every implementation
// answered real jobs.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

// dist/test/bench/ -> the repository.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface PoolBenchRow {
  readonly impl: string;
  readonly threads: number;
  readonly jobs: number;
}

test('the pool microbenchmark runs inline, our pool and piscina on real jobs', { timeout: 60_000 }, async () => {
  const script = pathToFileURL(path.join(repoRoot, 'bench', 'lib', 'pool-bench.mjs')).href;
  const { runPoolBench } = (await import(script)) as { runPoolBench: (options: object) => Promise<{ skipped: boolean; reason?: string; rows: PoolBenchRow[] }> };
  const result = await runPoolBench({ repoRoot, preset: { ms: 40, warmupMs: 10, rounds: 1 }, sizes: [1, 2] });
  assert.equal(result.skipped, false, result.reason);
  for (const threads of [1, 2]) {
    for (const impl of ['inline', 'pool', 'piscina']) {
      const rows = result.rows.filter((row) => row.impl === impl && row.threads === threads);
      assert.equal(rows.length, 2, `${impl} with ${threads} threads: one row per feed`);
      for (const row of rows) assert.ok(row.jobs > 0, `${impl} with ${threads} threads answered no job`);
    }
  }
});
