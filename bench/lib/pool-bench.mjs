// HOOK: the worker-pool microbenchmark (issue 6), not written yet because the pool
// API is not ready. When it is, this module should measure the cost per job of
//   1. our pool's dispatch (src/pool/, from dist/src/pool/),
//   2. the same work done inline on a single event loop,
//   3. the same work through piscina (a devDependency),
// and return { skipped: false, rows: [{ name, jobsPerSec, usPerJob }] }.
// run.mjs calls runPoolBench() when --pool is given and stores the result
// under `pool` in latest.json; the report prints the rows when present.

export async function runPoolBench(/* { repoRoot, quick } */) {
  return { skipped: true, reason: 'pool microbenchmark not implemented yet (pool API not ready); see bench/lib/pool-bench.mjs' };
}
