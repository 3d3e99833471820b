// Worker faults through the pool's own API: every job ends in exactly one outcome, a fault
// fails only the job it can be traced to, jobs are timed one by one, nothing a dead worker
// opened stays open, and the engine answers each failure (500, or 503 where a retry is safe).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { Metrics } from '../../../src/admin/metrics.js';
import type { Job, JobResult, StaticJob, WorkerJob } from '../../../src/core/job.js';
import { BodyBudget } from '../../../src/http/body-budget.js';
import { Connection } from '../../../src/http/connection.js';
import type { ConnectionDeps } from '../../../src/http/connection-settings.js';
import { ResponseCache } from '../../../src/http/response-cache.js';
import { transferList } from '../../../src/pool/messages.js';
import { WorkerPool, type JobOutcome, type JobRunner, type PoolEvents, type PoolStats } from '../../../src/pool/pool.js';
import { ConditionLogs } from '../../../src/log.js';
import { UploadLeftovers } from '../../../src/upload-leftovers.js';
import type { FaultyWorkerData } from '../../fixtures/faulty-worker.js';
import { waitFor } from '../../fixtures/probes.js';
import { makeFifo, releaseFifo } from '../../helpers/fifo.js';
import { defaultAccessPolicy, defaultConnectionSettings, direct, NO_OWNER } from '../../helpers/connection.js';
import { RawClient } from '../../helpers/raw.js';

const FAULTY_WORKER = new URL('../../fixtures/faulty-worker.js', import.meta.url);

type Outcome = JobOutcome<JobResult>;
type Pool = WorkerPool<Job, JobResult>;

/** Pool events recorded for assertions; `restarts` feeds the product's metric like app.ts does. */
class RecordedEvents implements PoolEvents {
  readonly exits: { workerId: number; error: Error | null }[] = [];
  readonly restarts: number[] = [];
  readonly timeouts: number[] = [];
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
  workerTimedOut(workerId: number): void {
    this.timeouts.push(workerId);
  }
}

interface PoolSetup {
  maxBatch?: number;
  jobTimeoutMs?: number;
  data?: Partial<FaultyWorkerData>;
  /** Move upload bodies to the worker, as app.ts does; by default nothing is moved. */
  transferBodies?: boolean;
  /** Say every job may run again, uploads too: the pool alone must keep one whose buffers moved from running again. */
  repeatAll?: boolean;
}

async function startPool(size: number, events: PoolEvents, setup: PoolSetup = {}): Promise<Pool> {
  const data: FaultyWorkerData = { openPath: '/dev/null', starts: new SharedArrayBuffer(4), startsBeforeFailing: Infinity, ...setup.data };
  const pool = new WorkerPool<Job, JobResult>({
    size,
    queueSize: 1024,
    jobTimeoutMs: setup.jobTimeoutMs ?? 30_000,
    workerFile: FAULTY_WORKER,
    workerData: data,
    events,
    transferOf: (job) => (setup.transferBodies === true && job.kind === 'upload' ? transferList([job.body]) : []),
    // Paths under /once stand for jobs with side effects, which must not run twice.
    mayRepeat: (job) => setup.repeatAll === true || (job.kind === 'static' && !job.path.startsWith('/once')),
    ...(setup.maxBatch === undefined ? {} : { maxBatch: setup.maxBatch }),
  });
  await pool.start();
  return pool;
}

function job(path: string): StaticJob {
  return { kind: 'static', method: 'GET', path, conditions: {}, acceptEncoding: undefined, query: '' };
}

function submit(pool: Pool, path: string): Promise<Outcome> {
  return submitJob(pool, job(path));
}

function submitJob(pool: Pool, job: Job): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    if (!pool.submit(job, resolve)) reject(new Error(`pool refused a ${job.kind} job`));
  });
}

/** The text a successful job answered with. */
function textOf(outcome: Outcome): string {
  assert.ok(outcome.ok, `job failed: ${outcome.ok ? '' : outcome.error.message}`);
  const { body } = outcome.result.response;
  assert.equal(body.kind, 'bytes');
  return Buffer.from(body.bytes).toString();
}

function failure(outcome: Outcome): Extract<Outcome, { ok: false }> {
  assert.equal(outcome.ok, false, 'the job should have failed');
  return outcome as Extract<Outcome, { ok: false }>;
}

async function assertServes(pool: Pool, count: number): Promise<void> {
  const paths = Array.from({ length: count }, (_, n) => `/after-${n}`);
  const outcomes = await Promise.all(paths.map((path) => submit(pool, path)));
  assert.deepEqual(outcomes.map(textOf), paths.map((path) => `served ${path}`));
}

/** Metrics over the pool's live stats, as app.ts makes them. */
function metricsOf(pool: () => { stats(): PoolStats }): Metrics {
  return new Metrics({ poolStats: () => pool().stats(), openConnections: () => 0, bodyBytes: () => 0, queueCapacity: 0, uploadsDisk: () => null, trackedClients: () => 0, droppedLogLines: () => 0 });
}

/** The real Connection in front of `jobs` (a pool), on an ephemeral loopback port, with no file cache. */
async function connectionServer(jobs: JobRunner<Job, JobResult>, metrics: Metrics): Promise<{ port: number; host: string; close(): Promise<void> }> {
  const allowedHosts = new Set<string>();
  let nextId = 1;
  const deps: ConnectionDeps = {
    settings: defaultConnectionSettings(allowedHosts),
    bodies: new BodyBudget(64 << 20, { perClient: 8 << 20, maxBodyBytes: 1 << 20 }),
    jobs,
    // No room in the main thread's file cache: every request goes through the pool.
    cache: new ResponseCache(0, 0),
    events: metrics,
    log: pino({ level: 'silent' }),
    conditionLogs: new ConditionLogs(1000),
    access: defaultAccessPolicy(),
  };
  const server = createServer({ allowHalfOpen: true }, (socket) => new Connection(nextId++, socket, direct('127.0.0.1'), deps, NO_OWNER));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const host = `127.0.0.1:${port}`;
  allowedHosts.add(host);
  return { port, host, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

test('a worker that throws fails only the job it was running, even inside a batch; the rest are served', async () => {
  const events = new RecordedEvents();
  // One worker: all five jobs travel in one batch, and /throw is the third.
  const pool = await startPool(1, events);
  try {
    const paths = ['/a', '/b', '/throw', '/c', '/d'];
    const outcomes = await Promise.all(paths.map((path) => submit(pool, path)));
    assert.equal(failure(outcomes[2]!).failure, 'crashed');
    assert.match(failure(outcomes[2]!).error.message, /asked to throw/);
    for (const [n, path] of paths.entries()) if (n !== 2) assert.equal(textOf(outcomes[n]!), `served ${path}`);
    assert.equal(events.exits.length, 1);
    await waitFor(() => events.restarts.length === 1, 'the replacement worker');
    assert.deepEqual(pool.stats(), { workers: 1, busy: 0, queued: 0 });
    await assertServes(pool, 20);
  } finally {
    await pool.close();
  }
});

test('a job with side effects that finished before its worker died is reported lost, not run again', async () => {
  const events = new RecordedEvents();
  const pool = await startPool(1, events);
  try {
    const outcomes = await Promise.all(['/once-stored', '/exit', '/once-later'].map((path) => submit(pool, path)));
    assert.equal(failure(outcomes[0]!).failure, 'lost');
    assert.equal(failure(outcomes[1]!).failure, 'crashed');
    // Never started, but its buffers may have gone to the dead worker: safe to retry, not to repeat.
    assert.equal(failure(outcomes[2]!).failure, 'not-run');
  } finally {
    await pool.close();
  }
});

test('a worker that dies after posting its results, before starting the batch it was handed next: its static job goes to the replacement; its upload, whose body went with the dead worker, fails as not-run', async () => {
  const events = new RecordedEvents();
  // mayRepeat says yes to everything: that the upload is not sent again is the pool's own rule.
  const pool = await startPool(1, events, { transferBodies: true, repeatAll: true });
  // The worker dies within a second of its start, before starting a job of its batch: it is
  // replaced after the restart backoff, whose timer does not hold the process open.
  const holdOpen = setInterval(() => undefined, 1000);
  try {
    const running = Promise.all(['/exit-on-next', '/sleep-300'].map((path) => submit(pool, path)));
    await waitFor(() => pool.stats().busy === 1, 'the first batch running', 2000);
    // Both wait for the one worker, and go to it in one batch as soon as it answers.
    const body = new TextEncoder().encode('{"stored":"once"}');
    const upload = submitJob(pool, { kind: 'upload', body });
    const after = submit(pool, '/a');
    assert.deepEqual((await running).map(textOf), ['served /exit-on-next', 'served /sleep-300']);
    const failed = failure(await upload);
    assert.equal(failed.failure, 'not-run');
    assert.equal(failed.workerId, 1);
    assert.equal(body.byteLength, 0, 'the body was moved to the worker that died: nothing is left to send again');
    assert.equal(textOf(await after), 'served /a');
    assert.deepEqual(events.exits.map(({ workerId }) => workerId), [1]);
    await waitFor(() => events.restarts.length === 1, 'the replacement worker');
    await assertServes(pool, 5);
  } finally {
    clearInterval(holdOpen);
    await pool.close();
  }
});

test('the job timeout applies to each job, not to the batch it travels in', async () => {
  const events = new RecordedEvents();
  const pool = await startPool(1, events, { jobTimeoutMs: 400 });
  try {
    // Together 750 ms in one batch, each well under the timeout.
    const outcomes = await Promise.all(['/sleep-250', '/sleep-250', '/sleep-250'].map((path) => submit(pool, path)));
    for (const outcome of outcomes) assert.equal(outcome.ok, true);
    assert.deepEqual(events.timeouts, []);
  } finally {
    await pool.close();
  }
});

test('a job stuck past the job timeout fails as timed out; the jobs behind it in its batch are served', async () => {
  const events = new RecordedEvents();
  const pool = await startPool(1, events, { jobTimeoutMs: 300 });
  try {
    const started = Date.now();
    const paths = ['/a', '/hang', '/b', '/c'];
    const outcomes = await Promise.all(paths.map((path) => submit(pool, path)));
    assert.equal(failure(outcomes[1]!).failure, 'timed-out');
    assert.match(failure(outcomes[1]!).error.message, /exceeded the job timeout/);
    assert.ok(Date.now() - started >= 300, 'not before the timeout');
    for (const [n, path] of paths.entries()) if (n !== 1) assert.equal(textOf(outcomes[n]!), `served ${path}`);
    assert.equal(events.timeouts.length, 1);
    await waitFor(() => events.restarts.length === 1, 'the replacement worker');
    await assertServes(pool, 20);
  } finally {
    await pool.close();
  }
});

test('a worker stopped at the job timeout but stuck in a system call: its job fails at once, and it is not counted alive until its replacement is online', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'rawhttp-stuck-'));
  const fifo = makeFifo(folder);
  const events = new RecordedEvents();
  const pool = await startPool(1, events, { jobTimeoutMs: 300, data: { openPath: fifo } });
  try {
    const outcome = submit(pool, '/open');
    await waitFor(() => events.timeouts.length === 1, 'the job timeout', 2000);
    // Terminated, but the thread stays in open(2) until the FIFO gets a writer: its job is
    // answered all the same, and the job behind it waits for a worker that serves.
    assert.equal(failure(await outcome).failure, 'timed-out');
    const behind = submit(pool, '/a');
    assert.equal(pool.healthy, false);
    assert.deepEqual(pool.stats(), { workers: 0, busy: 0, queued: 1 });
    await waitFor(() => releaseFifo(fifo), 'the worker blocked on the FIFO', 2000);
    assert.equal(textOf(await behind), 'served /a');
    await waitFor(() => events.restarts.length === 1, 'the replacement worker');
    assert.equal(pool.healthy, true);
    assert.deepEqual(pool.stats(), { workers: 1, busy: 0, queued: 0 });
  } finally {
    releaseFifo(fifo);
    await pool.close();
    rmSync(folder, { recursive: true, force: true });
  }
});

test('jobs waiting in a batch behind a running job count as queued', async () => {
  const pool = await startPool(1, new RecordedEvents());
  try {
    const outcomes = Promise.all(['/sleep-300', '/a', '/b', '/c'].map((path) => submit(pool, path)));
    // Once the first job runs, the three behind it in the batch are still waiting.
    await waitFor(() => pool.stats().busy === 1 && pool.stats().queued === 3, 'three jobs queued behind the running one', 2000);
    await outcomes;
    assert.deepEqual(pool.stats(), { workers: 1, busy: 0, queued: 0 });
  } finally {
    await pool.close();
  }
});

test('a job no worker takes within the job timeout fails as a queue timeout', async () => {
  const events = new RecordedEvents();
  // The first worker starts; every replacement exits at once, as with a broken install.
  const pool = await startPool(1, events, { jobTimeoutMs: 300, data: { startsBeforeFailing: 1 } });
  try {
    assert.equal(failure(await submit(pool, '/exit')).failure, 'crashed');
    const started = Date.now();
    // The pool's timers do not hold the process open (a server's listeners do): this one does.
    const holdOpen = setInterval(() => undefined, 1000);
    const waiting = failure(await submit(pool, '/a')).failure;
    clearInterval(holdOpen);
    assert.equal(waiting, 'queue-timeout');
    assert.ok(Date.now() - started >= 300, 'not before the timeout');
  } finally {
    await pool.close();
  }
});

test('descriptors opened for results a dead worker never delivered are closed', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'rawhttp-fds-'));
  const openPath = join(folder, 'held.txt');
  writeFileSync(openPath, 'held');
  const holding = (): number => readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === openPath;
    } catch {
      return false;
    }
  }).length;
  const pool = await startPool(1, new RecordedEvents(), { data: { openPath } });
  try {
    // /once-open is not run again, so its descriptor is the only one ever opened.
    const outcomes = await Promise.all(['/once-open', '/exit'].map((path) => submit(pool, path)));
    assert.equal(failure(outcomes[0]!).failure, 'lost');
    assert.equal(holding(), 0, 'the descriptor of the lost result is closed');
  } finally {
    await pool.close();
  }
});

test('a note sent before the worker died reaches the failed outcome', async () => {
  const pool = await startPool(1, new RecordedEvents());
  try {
    const [noted, plain] = await Promise.all(['/note-exit', '/a'].map((path) => submit(pool, path)));
    assert.equal(failure(noted!).failure, 'crashed');
    assert.equal(failure(noted!).note, 'noted before the end');
    assert.equal(textOf(plain!), 'served /a');
  } finally {
    await pool.close();
  }
});

test('an upload whose worker dies after the link is answered 500 naming the stored file', async () => {
  const uploadsRoot = mkdtempSync(join(tmpdir(), 'rawhttp-linked-'));
  const pool = new WorkerPool<WorkerJob, JobResult>({
    size: 1,
    queueSize: 16,
    jobTimeoutMs: 30_000,
    workerFile: new URL('../../fixtures/upload-dies-after-link.js', import.meta.url),
    workerData: { uploadsRoot },
    events: new RecordedEvents(),
    transferOf: () => [],
    mayRepeat: () => false,
  });
  await pool.start();
  const served = await connectionServer(new UploadLeftovers(pool, uploadsRoot, pino({ level: 'silent' })), metricsOf(() => pool));
  const { port, host } = served;
  const client = await RawClient.connect(port);
  try {
    const document = '{"kept":true}';
    client.write(`POST /upload HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${document.length}\r\n\r\n${document}`);
    const [response] = await client.responses(1, 10_000);
    assert.equal(response!.status, 500);
    const answer = JSON.parse(response!.body.toString()) as { status: string; message: string; filepath: string };
    assert.equal(answer.message, 'stored but not confirmed durable');
    const name = answer.filepath.replace(/^\/uploads\//, '');
    assert.equal(readFileSync(join(uploadsRoot, name), 'utf8'), document, 'the named file holds the document');
  } finally {
    client.close();
    await served.close();
    await pool.close();
  }
});

test('through the connection layer: the crashed request is a 500, the rest are served, the restart counter moves', async () => {
  const metrics = metricsOf(() => pool);
  const events = new RecordedEvents(metrics);
  const pool = await startPool(2, events, { maxBatch: 1 });
  const served = await connectionServer(pool, metrics);
  const { port, host } = served;
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
    await served.close();
    await pool.close();
  }
});

test('a step of the wall clock times out no job', async (t) => {
  const events = new RecordedEvents();
  const pool = await startPool(1, events, { jobTimeoutMs: 1000 });
  try {
    const outcome = submit(pool, '/sleep-700');
    await waitFor(() => pool.stats().busy === 1, 'the job running', 2000);
    // Once the watchdog (every 250 ms) has seen the job start, NTP sets the clock an hour forward.
    await sleep(400);
    const wallClock = Date.now;
    t.mock.method(Date, 'now', () => wallClock() + 3_600_000);
    assert.equal((await outcome).ok, true);
    assert.deepEqual(events.timeouts, []);
  } finally {
    await pool.close();
  }
});

test('a main thread that stood still longer than the job timeout (the process frozen) times out no job', async () => {
  const events = new RecordedEvents();
  const pool = await startPool(1, events, { jobTimeoutMs: 1000 });
  try {
    const outcome = submit(pool, '/sleep-800');
    await waitFor(() => pool.stats().busy === 1, 'the job running', 2000);
    // Once the watchdog (every 250 ms) has seen the job start, the main thread stands still.
    // The job ends meanwhile. Blocked in the check phase, the loop next runs its timers, the
    // watchdog's late tick among them, and only then reads the result, as after a freeze.
    await sleep(400);
    await new Promise((resolve) => setImmediate(resolve));
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2500);
    assert.equal((await outcome).ok, true);
    assert.deepEqual(events.timeouts, []);
  } finally {
    await pool.close();
  }
});
