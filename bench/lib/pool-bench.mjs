// The worker-pool microbenchmark (issue 6, `--pool`): the cost per job of
//   inline  - the worker's doBatch() called with one job, synchronously on this thread, no pool;
//   pool    - our WorkerPool (dist/src/pool/pool.js) started as the server starts it, with its
//             real worker entry (dist/src/worker.js), batching and heap limits;
//   piscina - piscina running the same doBatch() once per task (bench/pool/piscina-worker.mjs);
// for one real static job, GET /index.html (~1.5 KiB): resolve, stat, open, read, headers.
// Jobs are fed the way a server feeds them: `steady` keeps 64 in flight and submits one more
// as each answer arrives; `burst` submits 256 in one turn and the next 256 once all answered.
// Each run lasts a fixed time; within each round the implementations alternate (A B C A B C),
// and rows report the medians of the rounds.
// Also runnable alone: `node bench/lib/pool-bench.mjs [--quick]` prints the tables.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createWorkDir, SMALL_PAGE } from './docroot.mjs';
import { median } from './stats.mjs';

const SIZES = [1, 2, 10];
const FEEDS = [
  { id: 'steady-64', window: 64, refillBelow: 64 },
  { id: 'burst-256', window: 256, refillBelow: 1 },
];
// Milliseconds per measured run, per unmeasured warm-up (each implementation and feed), rounds.
// Runs are time-bounded so the total time does not depend on how loaded the machine is.
const PRESETS = {
  quick: { ms: 300, warmupMs: 100, rounds: 3 },
  full: { ms: 1000, warmupMs: 300, rounds: 5 },
};
const JOB = { kind: 'static', method: 'GET', path: SMALL_PAGE, conditions: {}, acceptEncoding: undefined, query: '' };
const log = (msg) => process.stderr.write(`[bench] pool: ${msg}\n`);
/** doBatch reports each job's progress to the pool; inline and piscina have nobody to tell. */
const NO_REPORT = { starting() {}, note() {}, finished() {}, opened() {}, closing() {} };

/** A job that did not produce the page would measure an error path: fail the run instead. */
const check = (result) => (result.response.status === 200 ? null : new Error(`job answered ${result.response.status}`));

/**
 * Feeds jobs to `dispatch(job, done)` until `ms` have passed, topping up to `window` in flight
 * whenever fewer than `refillBelow` are, then waits for the jobs in flight; resolves with the
 * number done. `done(error|null)` may be called synchronously (inline): the `filling` guard
 * keeps that a flat loop instead of a recursion, and the clock stops even a loop that never yields.
 */
function drive(dispatch, ms, { window, refillBelow }) {
  return new Promise((resolve, reject) => {
    const deadline = performance.now() + ms;
    let submitted = 0;
    let completed = 0;
    let filling = false;
    let failed = false;
    const settle = () => {
      if (!filling && !failed && completed === submitted) resolve(completed);
    };
    const fill = () => {
      if (filling) return;
      filling = true;
      while (!failed && submitted - completed < window && performance.now() < deadline) {
        submitted++;
        dispatch(JOB, done);
      }
      filling = false;
      settle();
    };
    const done = (error) => {
      if (failed) return;
      if (error) {
        failed = true;
        reject(error);
        return;
      }
      completed++;
      if (submitted - completed < refillBelow) fill();
      settle();
    };
    fill();
  });
}

/**
 * One run: wall time per job, main-thread busy time per job (event-loop utilisation: what
 * the pool leaves for the HTTP work) and process CPU per job (all threads together).
 */
async function measure(dispatch, ms, feed) {
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const start = performance.now();
  const jobs = await drive(dispatch, ms, feed);
  const elapsed = performance.now() - start;
  const busy = performance.eventLoopUtilization(elu).active;
  const used = process.cpuUsage(cpu);
  return {
    jobs,
    jobsPerSec: jobs / (elapsed / 1000),
    usPerJob: (elapsed * 1000) / jobs,
    mainUsPerJob: (busy * 1000) / jobs,
    cpuUsPerJob: (used.user + used.system) / jobs,
  };
}

/** The implementations for one thread count, each { id, dispatch, close }. */
async function startImplementations(threads, env) {
  const { WorkerPool, doBatch, heapLimits, Piscina, context, dist } = env;
  const inline = { id: 'inline', dispatch: (job, done) => done(check(doBatch([job], context, NO_REPORT)[0])), close: async () => {} };

  const ignore = () => {};
  const pool = new WorkerPool({
    size: threads,
    queueSize: 1024, // above every feed's window: a refusal would be a bug, not load
    workerFile: dist('worker.js'),
    workerData: context,
    events: { saturated: ignore, dequeued: ignore, workerExited: ignore, workerRestarted: ignore, workerTimedOut: ignore },
    jobTimeoutMs: 30_000,
    resourceLimits: heapLimits,
    transferOf: () => [],
    mayRepeat: () => true,
  });
  await pool.start();
  const ours = {
    id: 'pool',
    dispatch: (job, done) => {
      const accepted = pool.submit(job, (outcome) => done(outcome.ok ? check(outcome.result) : outcome.error));
      if (!accepted) done(new Error('pool refused a job'));
    },
    close: () => pool.close(),
  };
  if (!Piscina) return [inline, ours];

  const piscina = new Piscina({
    filename: new URL('../pool/piscina-worker.mjs', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 60_000,
    workerData: { workModule: dist('handlers/work.js').href, context },
  });
  try {
    // piscina starts its threads lazily: one task per thread brings them all up before timing.
    await Promise.all(Array.from({ length: threads }, () => piscina.run(JOB)));
  } catch (error) {
    await Promise.all([pool.close(), piscina.destroy()]); // else their threads keep the process alive
    throw error;
  }
  const theirs = {
    id: 'piscina',
    dispatch: (job, done) => piscina.run(job).then((result) => done(check(result)), done),
    close: () => piscina.destroy(),
  };
  return [inline, ours, theirs];
}

/** Medians of the runs of one implementation, thread count and feed. */
function row(runs, impl, threads, feed) {
  const mine = runs.filter((r) => r.impl === impl && r.threads === threads && r.feed === feed);
  if (mine.length === 0) return null;
  const pick = (k) => median(mine.map((r) => r[k]));
  return {
    // inline uses no thread: it is measured in each group so that every ratio compares runs
    // made at the same time.
    name: impl === 'inline' ? `inline (main thread, beside ${threads}-thread pools), ${feed}` : `${impl}, ${threads} thread${threads > 1 ? 's' : ''}, ${feed}`,
    impl, threads, feed,
    jobsPerSec: pick('jobsPerSec'),
    usPerJob: pick('usPerJob'),
    mainUsPerJob: pick('mainUsPerJob'),
    cpuUsPerJob: pick('cpuUsPerJob'),
    jobs: mine.reduce((n, r) => n + r.jobs, 0),
    runs: mine.length,
  };
}

const fmt = (x, digits = 1) => (x === null || x === undefined ? '-' : x.toFixed(digits));

function markdown(rows, ratios) {
  const lines = [
    'inline runs on the main thread; it is measured beside each pool size so ratios compare runs made together.',
    'us/job is wall time; main-thread us/job is event-loop busy time (what is left for HTTP work);',
    'CPU us/job is the whole process, every thread. All are medians over the rounds.',
    '',
    '| pool threads | feed | impl | jobs/s | us/job | main-thread us/job | CPU us/job |',
    '| ---: | --- | --- | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.threads} | ${r.feed} | ${r.impl} | ${fmt(r.jobsPerSec, 0)} | ${fmt(r.usPerJob, 2)} | ${fmt(r.mainUsPerJob, 2)} | ${fmt(r.cpuUsPerJob, 2)} |`),
    '',
    'Throughput ratios (jobs/s, > 1 means the first is faster):',
    '',
    '| pool threads | feed | pool / inline | piscina / inline | pool / piscina |',
    '| ---: | --- | ---: | ---: | ---: |',
    ...ratios.map((r) => `| ${r.threads} | ${r.feed} | ${fmt(r.poolVsInline, 2)} | ${fmt(r.piscinaVsInline, 2)} | ${fmt(r.poolVsPiscina, 2)} |`),
  ];
  return lines.join('\n');
}

/** `preset`, `sizes`: shorter runs than the quick preset, for the test that keeps this script working. */
export async function runPoolBench({ repoRoot, quick, preset = PRESETS[quick ? 'quick' : 'full'], sizes = SIZES }) {
  const dist = (file) => pathToFileURL(path.join(repoRoot, 'dist', 'src', file));
  if (!fs.existsSync(dist('pool/pool.js'))) return { skipped: true, reason: 'dist/src/pool/pool.js is missing (run npm run build)' };
  const { WorkerPool } = await import(dist('pool/pool.js').href);
  const { doBatch, WORKER_HEAP_LIMITS: heapLimits } = await import(dist('handlers/work.js').href);
  const { contentTable } = await import(dist('handlers/content-types.js').href);
  const Piscina = await import('piscina').then((m) => m.Piscina, () => null);
  if (!Piscina) log('piscina is not installed (npm install): measuring inline and pool only');

  // Other work on the machine shows up as noise here too; record it and say so.
  const loadAvgStart = os.loadavg()[0];
  if (loadAvgStart > 0.5) log(`warning: load average is ${loadAvgStart.toFixed(2)}; results will be noisy`);
  const work = createWorkDir();
  const context = {
    resourcesRoot: fs.realpathSync(work.docroot),
    uploadsRoot: fs.realpathSync(work.uploads),
    contentTable: contentTable({ inlineTypes: ['text/html'], downloadTypes: ['text/plain', 'image/png', 'image/jpeg', 'application/json'] }),
    smallFileBytes: 65536,
    cacheControl: 'no-cache',
    minFreeDiskBytes: 0,
  };
  const runs = [];
  try {
    for (const threads of sizes) {
      const impls = await startImplementations(threads, { WorkerPool, doBatch, heapLimits, Piscina, context, dist });
      try {
        for (const feed of FEEDS) {
          for (const impl of impls) await measure(impl.dispatch, preset.warmupMs, feed);
          for (let round = 1; round <= preset.rounds; round++) {
            for (const impl of impls) {
              const r = await measure(impl.dispatch, preset.ms, feed);
              runs.push({ impl: impl.id, threads, feed: feed.id, ...r });
              log(`${threads} threads ${feed.id} round ${round}/${preset.rounds} ${impl.id}: ` +
                `${r.jobsPerSec.toFixed(0)} jobs/s, ${r.usPerJob.toFixed(2)} us/job, main ${r.mainUsPerJob.toFixed(2)} us/job`);
            }
          }
        }
      } finally {
        for (const impl of impls) await impl.close();
      }
    }
  } finally {
    fs.rmSync(work.dir, { recursive: true, force: true });
  }

  const rows = [];
  const ratios = [];
  for (const threads of sizes) {
    for (const feed of FEEDS) {
      const [inline, pool, piscina] = ['inline', 'pool', 'piscina'].map((impl) => row(runs, impl, threads, feed.id));
      rows.push(...[inline, pool, piscina].filter(Boolean));
      const ratio = (a, b) => (a && b ? a.jobsPerSec / b.jobsPerSec : null);
      ratios.push({ threads, feed: feed.id, poolVsInline: ratio(pool, inline), piscinaVsInline: ratio(piscina, inline), poolVsPiscina: ratio(pool, piscina) });
    }
  }
  return { skipped: false, runMs: preset.ms, rounds: preset.rounds, loadAvgStart, rows, ratios, table: markdown(rows, ratios), runs };
}

// `node bench/lib/pool-bench.mjs [--quick]`: this part alone, without the HTTP servers.
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const result = await runPoolBench({ repoRoot, quick: process.argv.includes('--quick') });
  console.log(result.skipped ? `pool microbenchmark skipped: ${result.reason}` : result.table);
}
