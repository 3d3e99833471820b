// Worker faults through the pool's own API: a worker that throws or exits fails the jobs it
// held (the connection layer answers those 500), everything else completes, the worker is
// replaced and the restart counter moves. Ends with a printed (not asserted) figure: the cost
// per job of pool dispatch against the same work done inline.
import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { Metrics } from '../../src/admin/metrics.js';
import { contentTable } from '../../src/handlers/content-types.js';
import { ResponseCache } from '../../src/handlers/response-cache.js';
import { doWork, type WorkContext } from '../../src/handlers/work.js';
import { route } from '../../src/handlers/router.js';
import { Connection } from '../../src/http/connection.js';
import type { RequestHead } from '../../src/http/parser.js';
import type { StaticWork } from '../../src/pool/messages.js';
import { WorkerPool, type JobOutcome, type PoolEvents } from '../../src/pool/pool.js';
import { waitFor } from '../fixtures/probes.js';
import { defaultConnectionSettings } from '../helpers/connection.js';
import { RawClient } from '../helpers/raw.js';
import { RESOURCES_DIR } from '../helpers/server.js';

const FAULTY_WORKER = new URL('../fixtures/faulty-worker.js', import.meta.url);
const REAL_WORKER = new URL('../../src/pool/worker.js', import.meta.url);

/** Pool events recorded for assertions; `restarts` feeds the product's metric like app.ts does. */
class RecordedEvents implements PoolEvents {
  readonly exits: { workerId: number; error: Error | null }[] = [];
  readonly restarts: number[] = [];
  constructor(private readonly metrics: Metrics | null = null) {}
  saturated(): void {}
  dequeued(): void {}
  workerExited(workerId: number, error: Error | null): void {
    this.exits.push({ workerId, error });
  }
  workerRestarted(workerId: number): void {
    this.restarts.push(workerId);
    this.metrics?.workerRestarted();
  }
  readonly timeouts: number[] = [];
  workerTimedOut(workerId: number): void {
    this.timeouts.push(workerId);
  }
}

async function startPool(size: number, events: PoolEvents, options: { maxBatch?: number; workerFile?: URL; workerData?: unknown; jobTimeoutMs?: number } = {}): Promise<WorkerPool> {
  const pool = new WorkerPool({
    size,
    queueSize: 1024,
    jobTimeoutMs: options.jobTimeoutMs ?? 30_000,
    workerFile: options.workerFile ?? FAULTY_WORKER,
    workerData: options.workerData ?? null,
    events,
    ...(options.maxBatch === undefined ? {} : { maxBatch: options.maxBatch }),
  });
  await pool.start();
  return pool;
}

const ROUTING_HOST = 'localhost:80';

/** The work the router makes of `GET path`, so the job has exactly the product's shape. */
function work(path: string): StaticWork {
  const head: RequestHead = { method: 'GET', target: path, version: '1.1', headers: { host: ROUTING_HOST }, framing: { kind: 'none' }, keepAlive: true, expectContinue: false };
  const decision = route(head, new Set([ROUTING_HOST]));
  assert.equal(decision.kind, 'static');
  return decision as StaticWork;
}

function submit(pool: WorkerPool, path: string): Promise<JobOutcome> {
  return new Promise((resolve, reject) => {
    if (!pool.submit(work(path), [], resolve)) reject(new Error(`pool refused ${path}`));
  });
}

/** The text a successful job answered with. */
function textOf(outcome: JobOutcome): string {
  assert.ok(outcome.ok, `job failed: ${outcome.ok ? '' : outcome.error.message}`);
  const { body } = outcome.result.response;
  assert.equal(body.kind, 'bytes');
  return Buffer.from(body.bytes).toString();
}

async function assertServes(pool: WorkerPool, count: number): Promise<void> {
  const paths = Array.from({ length: count }, (_, n) => `/after-${n}`);
  const outcomes = await Promise.all(paths.map((path) => submit(pool, path)));
  assert.deepEqual(outcomes.map(textOf), paths.map((path) => `served ${path}`));
}

test('a worker that throws fails only the job it held; queued jobs complete on its replacement', async () => {
  const events = new RecordedEvents();
  // One worker, one job per message: /a and /b wait in the queue while /throw kills the worker.
  const pool = await startPool(1, events, { maxBatch: 1 });
  try {
    const [thrown, a, b] = await Promise.all([submit(pool, '/throw'), submit(pool, '/a'), submit(pool, '/b')]);
    assert.equal(thrown!.ok, false);
    assert.match((thrown as Extract<JobOutcome, { ok: false }>).error.message, /asked to throw/);
    assert.equal(textOf(a!), 'served /a');
    assert.equal(textOf(b!), 'served /b');
    assert.equal(events.exits.length, 1);
    assert.match(events.exits[0]!.error?.message ?? '', /asked to throw/);
    await waitFor(() => events.restarts.length === 1, 'the replacement worker');
    assert.deepEqual(pool.stats(), { workers: 1, busy: 0, queued: 0 });
    await assertServes(pool, 20);
  } finally {
    await pool.close();
  }
});

test('a worker that calls process.exit fails only its job; the other worker and the queue go on', async () => {
  const events = new RecordedEvents();
  const pool = await startPool(2, events, { maxBatch: 1 });
  try {
    const paths = ['/a', '/exit', '/b', '/c', '/d'];
    const outcomes = await Promise.all(paths.map((path) => submit(pool, path)));
    const exited = outcomes[1]!;
    assert.equal(exited.ok, false);
    assert.match((exited as Extract<JobOutcome, { ok: false }>).error.message, /exited/);
    for (const [n, path] of paths.entries()) if (path !== '/exit') assert.equal(textOf(outcomes[n]!), `served ${path}`);
    await waitFor(() => events.restarts.length === 1, 'the replacement worker');
    assert.deepEqual(events.restarts, [exited.workerId]);
    assert.equal(pool.stats().workers, 2);
    assert.ok(pool.healthy);
    await assertServes(pool, 20);
  } finally {
    await pool.close();
  }
});

test('a worker stuck past the job timeout is terminated: its job fails, the rest are served, it is replaced', async () => {
  const events = new RecordedEvents();
  const pool = await startPool(2, events, { maxBatch: 1, jobTimeoutMs: 300 });
  try {
    const started = Date.now();
    const paths = ['/hang', '/a', '/b', '/c'];
    const outcomes = await Promise.all(paths.map((path) => submit(pool, path)));
    const hung = outcomes[0]!;
    assert.equal(hung.ok, false);
    assert.match((hung as Extract<JobOutcome, { ok: false }>).error.message, /exceeded the job timeout/);
    assert.ok(Date.now() - started >= 300, 'not before the timeout');
    for (const [n, path] of paths.entries()) if (path !== '/hang') assert.equal(textOf(outcomes[n]!), `served ${path}`);
    assert.deepEqual(events.timeouts, [hung.workerId]);
    await waitFor(() => events.restarts.length === 1, 'the replacement worker');
    assert.equal(pool.stats().workers, 2);
    await assertServes(pool, 20);
  } finally {
    await pool.close();
  }
});

test('with batching, a crash fails only jobs held by the dying worker', async (t: TestContext) => {
  const events = new RecordedEvents();
  const pool = await startPool(2, events);
  try {
    // Submitted in one event-loop turn, so they may travel in one batch.
    const paths = ['/a', '/b', '/throw', '/c', '/d'];
    const outcomes = await Promise.all(paths.map((path) => submit(pool, path)));
    const crashed = outcomes[2]!;
    assert.equal(crashed.ok, false);
    let collateral = 0;
    for (const [n, outcome] of outcomes.entries()) {
      if (outcome.ok) assert.equal(textOf(outcome), `served ${paths[n]}`);
      else {
        // A failed job must have been on the worker that died, never on a healthy one.
        assert.equal(outcome.workerId, crashed.workerId, `${paths[n]} failed on another worker`);
        if (n !== 2) collateral++;
      }
    }
    t.diagnostic(`jobs that shared the crashing worker's batch and failed with it: ${collateral} of ${paths.length - 1}`);
    await waitFor(() => events.restarts.length === 1, 'the replacement worker');
    assert.equal(pool.stats().workers, 2);
    await assertServes(pool, 20);
  } finally {
    await pool.close();
  }
});

test('through the connection layer: the held request is a 500, the rest are served, the restart counter moves', async () => {
  const metrics = new Metrics({ poolStats: () => pool.stats(), openConnections: () => 0 });
  const events = new RecordedEvents(metrics);
  const pool = await startPool(2, events, { maxBatch: 1 });
  const allowedHosts = new Set<string>();
  let nextId = 1;
  const deps = {
    settings: defaultConnectionSettings(allowedHosts),
    dispatch: pool.submit.bind(pool),
    // No room in the main thread's file cache: every request goes through the pool.
    cache: new ResponseCache(0, 0),
    events: metrics,
    log: pino({ level: 'silent' }),
  };
  const server = createServer({ allowHalfOpen: true }, (socket) => new Connection(nextId++, socket, deps, () => undefined));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const host = `127.0.0.1:${port}`;
  allowedHosts.add(host);
  const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
  const pipelined = await RawClient.connect(port);
  const other = await RawClient.connect(port);
  try {
    pipelined.write(get('/a') + get('/throw') + get('/b'));
    other.write(get('/c'));
    const responses = await pipelined.responses(3, 10_000);
    assert.deepEqual(responses.map((r) => r.status), [200, 500, 200]);
    assert.equal(responses[0]!.body.toString(), 'served /a');
    assert.equal(responses[2]!.body.toString(), 'served /b');
    const [fromOther] = await other.responses(1, 10_000);
    assert.equal(fromOther!.status, 200);
    assert.equal(fromOther!.body.toString(), 'served /c');

    await waitFor(() => events.restarts.length === 1, 'the replacement worker');
    const restarts = await metrics.registry.getSingleMetricAsString('http_server_worker_restarts_total');
    assert.match(restarts, /^http_server_worker_restarts_total 1$/m);
    const requests = await metrics.registry.getSingleMetricAsString('http_server_requests_total');
    assert.match(requests, /^http_server_requests_total\{method="GET",status="500"\} 1$/m);
    assert.match(requests, /^http_server_requests_total\{method="GET",status="200"\} 3$/m);

    // The same connection keeps working after its 500.
    pipelined.write(get('/d'));
    const [later] = (await pipelined.responses(4, 10_000)).slice(3);
    assert.equal(later!.body.toString(), 'served /d');
  } finally {
    pipelined.close();
    other.close();
    await new Promise((resolve) => server.close(resolve));
    await pool.close();
  }
});

test('dispatch cost: the real static handler through the pool against inline (printed, not asserted)', async (t: TestContext) => {
  const context: WorkContext = {
    resourcesRoot: realpathSync(RESOURCES_DIR),
    uploadsRoot: realpathSync(join(RESOURCES_DIR, 'uploads')),
    minFreeDiskBytes: 0,
    contentTable: contentTable({ inlineTypes: ['text/html'], downloadTypes: ['text/plain', 'image/png', 'image/jpeg', 'application/json'] }),
    smallFileBytes: 64 * 1024,
    cacheControl: 'no-cache',
  };
  const job = work('/sample.txt');
  const JOBS = 5_000;
  const WAVE = 256; // requests arriving in one event-loop turn, as under load

  const inlineStart = performance.now();
  for (let n = 0; n < JOBS; n++) assert.equal(doWork(job, context).response.status, 200);
  const inlineUs = ((performance.now() - inlineStart) * 1000) / JOBS;

  for (const size of [1, 2]) {
    const pool = await startPool(size, new RecordedEvents(), { workerFile: REAL_WORKER, workerData: context });
    try {
      const started = performance.now();
      for (let done = 0; done < JOBS; done += WAVE) {
        const outcomes = await Promise.all(Array.from({ length: WAVE }, () => new Promise<JobOutcome>((resolve) => assert.ok(pool.submit(job, [], resolve)))));
        for (const outcome of outcomes) assert.ok(outcome.ok && outcome.result.response.status === 200);
      }
      const poolUs = ((performance.now() - started) * 1000) / (Math.ceil(JOBS / WAVE) * WAVE);
      t.diagnostic(`GET /sample.txt: inline ${inlineUs.toFixed(1)} us/job; pool of ${size}, waves of ${WAVE}: ${poolUs.toFixed(1)} us/job (${(poolUs / inlineUs).toFixed(2)}x)`);
    } finally {
      await pool.close();
    }
  }
});
