// A fixed pool of worker threads behind one bounded FIFO queue, for any job and result types.
// Jobs submitted during one event-loop turn are handed out together: each idle worker gets a
// batch in one postMessage, and answers with one message whose buffers are transferred.
// Every job ends in exactly one outcome: a result, or a failure that says what happened.
import { closeSync } from 'node:fs';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { FromWorker, JobMessage, ToWorker } from './messages.js';
import { BatchProgress } from './progress.js';
import { BoundedQueue } from './queue.js';
import { JobWatch, PoolClock, queueExpired } from './watchdog.js';
import type { WorkerInput } from './worker-loop.js';

/**
 * Why a job has no result:
 * - `crashed`: its worker died while running it;
 * - `timed-out`: it ran longer than the job timeout, and its worker was terminated;
 * - `lost`: it ran to its end, but its worker died before sending the result (only for jobs
 *   that may not run twice; the others are run again);
 * - `not-run`: its worker stopped (it died, or the watchdog gave up on it) before starting it,
 *   and it could not be put back in the queue (it may not run twice: its buffers went to that
 *   worker), so it is safe to retry. A thread given up on may still begin it in its last
 *   instructions, never finish it (src/upload-leftovers.ts);
 * - `queue-timeout`: no worker took it within the job timeout (workers failing to start);
 * - `closed`: the pool was closed first.
 */
export type JobFailure = 'crashed' | 'timed-out' | 'lost' | 'not-run' | 'queue-timeout' | 'closed';

export type JobOutcome<Result> =
  | { readonly ok: true; readonly result: Result; readonly workerId: number }
  /**
   * `workerId`: the worker that held the job, or null when none took it (`queue-timeout`,
   * `closed`). `note`: the last note the job sent before its worker stopped (see
   * worker-loop.ts), or null.
   */
  | { readonly ok: false; readonly failure: JobFailure; readonly error: Error; readonly workerId: number | null; readonly note: string | null };

export type JobCallback<Result> = (outcome: JobOutcome<Result>) => void;

/** What runs jobs for the rest of the server: the pool, or a stand-in in tests. */
export interface JobRunner<Job, Result> {
  /** Calls `done` once, later; or returns false at once, and never calls it, when the job cannot be taken. */
  submit(job: Job, done: JobCallback<Result>): boolean;
}

export interface PoolEvents {
  /** A job had to wait because every worker was busy. */
  saturated(stats: PoolStats): void;
  /** A job that had waited was handed to a worker. */
  dequeued(workerId: number, waitedMs: number): void;
  workerExited(workerId: number, error: Error | null): void;
  /** A worker held one job past the job timeout and is being terminated. */
  workerTimedOut(workerId: number, heldMs: number): void;
  workerRestarted(workerId: number): void;
}

export interface PoolOptions<Job> {
  readonly size: number;
  readonly queueSize: number;
  /** The worker entry module; it calls serveBatches (worker-loop.ts). */
  readonly workerFile: URL;
  readonly workerData: unknown;
  readonly events: PoolEvents;
  /** Upper bound of jobs in one batch, so one worker never hoards the queue. */
  readonly maxBatch?: number;
  /** The longest one job may run, and the longest it may wait in the queue. */
  readonly jobTimeoutMs: number;
  /** V8 heap limits of each worker; a worker that runs out dies like any crashing worker. */
  readonly resourceLimits?: ResourceLimits;
  /** Buffers of a job that are moved to the worker with it. */
  transferOf(job: Job): ArrayBuffer[];
  /** Whether a job may run again when its worker died: it has no side effects (a job that moved buffers never does). */
  mayRepeat(job: Job): boolean;
}

export interface PoolStats {
  /** Workers serving jobs: a worker being stopped after the job timeout is not one of them. */
  readonly workers: number;
  /** Serving workers that run a batch now. */
  readonly busy: number;
  /** Jobs waiting for a worker: in the queue, and in a batch behind the job its worker runs. */
  readonly queued: number;
}

interface PendingJob<Job, Result> {
  readonly message: JobMessage<Job>;
  readonly done: JobCallback<Result>;
  readonly submittedAt: number;
  /** Whether the job waited for a busy pool (for the dequeued event). */
  readonly waited: boolean;
  /** Whether it was put back in the queue after its worker stopped (it died, or was timed out). */
  readonly putBack: boolean;
  /** Set when it is dispatched with buffers moved (transferOf): they go with the worker, so it can never be sent again. */
  moved: boolean;
  /** The last note the job sent while running. */
  note: string | null;
}

interface WorkerSlot<Job, Result> {
  readonly id: number;
  readonly worker: Worker;
  readonly progress: BatchProgress;
  online: boolean;
  /** When it was started (see onExit: when it is replaced). */
  readonly startedAt: number;
  /** The batch it runs now, in order; empty when idle. */
  batch: PendingJob<Job, Result>[];
  /** The watchdog's view of the batch: whether its running job is held past the job timeout. */
  readonly watch: JobWatch;
  /**
   * Set when the watchdog terminated it: its batch was settled then, the running job failed as
   * timed out. A thread blocked in a system call exits only when the call returns, and until
   * then it serves nothing.
   */
  timedOut: boolean;
}

/** Whether a worker takes jobs: started, and not being stopped by the watchdog. */
function isServing<Job, Result>(slot: WorkerSlot<Job, Result>): boolean {
  return slot.online && !slot.timedOut;
}

const DEFAULT_MAX_BATCH = 32;

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing is held.
  }
}
const RESTART_BACKOFF_MS = 1000;

export class WorkerPool<Job, Result> implements JobRunner<Job, Result> {
  private readonly slots: WorkerSlot<Job, Result>[] = [];
  private readonly queue: BoundedQueue<PendingJob<Job, Result>>;
  private readonly maxBatch: number;
  private nextJobId = 1;
  private flushScheduled = false;
  private closing = false;
  private watchdog: NodeJS.Timeout | null = null;
  /** The clock of job and queue timeouts (see PoolClock). */
  private readonly clock: PoolClock;

  constructor(private readonly options: PoolOptions<Job>) {
    this.maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    this.clock = new PoolClock(options.jobTimeoutMs);
    // The ring holds waiting jobs, the ones submitted in this turn for idle workers, and
    // the jobs of a dead worker's batch put back.
    this.queue = new BoundedQueue(options.queueSize + 2 * options.size * this.maxBatch);
  }

  /** Starts every worker and the watchdog, and resolves once all workers are online. */
  async start(): Promise<void> {
    const ready: Promise<void>[] = [];
    for (let id = 1; id <= this.options.size; id++) ready.push(this.spawn(id));
    await Promise.all(ready);
    this.clock.start();
    this.watchdog = setInterval(() => this.watch(), this.clock.interval);
    this.watchdog.unref();
  }

  stats(): PoolStats {
    let busy = 0;
    let live = 0;
    let queued = this.queue.length;
    for (const slot of this.slots) {
      queued += Math.max(0, slot.batch.length - slot.progress.started());
      if (!isServing(slot)) continue;
      live++;
      if (slot.batch.length > 0) busy++;
    }
    return { workers: live, busy, queued };
  }

  /** True while every worker is serving: none missing, starting, or being stopped. */
  get healthy(): boolean {
    return !this.closing && this.slots.length === this.options.size && this.slots.every(isServing);
  }

  /**
   * Queues a job. Returns false at once when every worker is busy and QUEUE_SIZE jobs already
   * wait; the caller answers 503. Otherwise `done` is called once, later.
   */
  submit(job: Job, done: JobCallback<Result>): boolean {
    if (this.closing) return false;
    const idle = this.idleCount();
    if (this.queue.length >= this.options.queueSize + idle) return false;
    const waited = idle === 0;
    this.queue.push({ message: { id: this.nextJobId++, job }, done, submittedAt: this.clock.now(), waited, putBack: false, moved: false, note: null });
    if (waited) this.options.events.saturated(this.stats());
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
    return true;
  }

  /** Stops the workers. Jobs still queued or running fail. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.watchdog !== null) clearInterval(this.watchdog);
    const error = new Error('worker pool closed');
    for (const job of this.queue.drain()) job.done({ ok: false, failure: 'closed', error, workerId: null, note: null });
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }

  private idleCount(): number {
    let idle = 0;
    for (const slot of this.slots) if (isServing(slot) && slot.batch.length === 0) idle++;
    return idle;
  }

  /**
   * Hands queued jobs to the idle workers, shared out evenly: every message has a fixed cost
   * (serialise, wake the thread), so jobs travel in batches, but spreading them keeps one slow
   * job (or one crashing worker) from holding up the rest while other workers sit idle.
   */
  private flush(): void {
    let idle = this.idleCount();
    for (const slot of this.slots) {
      if (this.queue.length === 0 || idle === 0) return;
      if (isServing(slot) && slot.batch.length === 0) this.dispatch(slot, idle--);
    }
  }

  /** Gives `slot` its share of the queue, with `idle` idle workers (itself included) to share it. */
  private dispatch(slot: WorkerSlot<Job, Result>, idle: number): void {
    const now = this.clock.now();
    const count = Math.min(this.maxBatch, Math.ceil(this.queue.length / idle));
    const batch: PendingJob<Job, Result>[] = [];
    const transfer: ArrayBuffer[] = [];
    for (let n = 0; n < count; n++) {
      const job = this.queue.shift();
      if (job === undefined) break;
      batch.push(job);
      const buffers = this.options.transferOf(job.message.job);
      if (buffers.length > 0) {
        job.moved = true;
        transfer.push(...buffers);
      }
      if (job.waited) this.options.events.dequeued(slot.id, now - job.submittedAt);
    }
    slot.batch = batch;
    slot.watch.reset(now);
    slot.progress.reset();
    const message: ToWorker<Job> = { type: 'batch', jobs: batch.map((job) => job.message) };
    slot.worker.postMessage(message, transfer);
  }

  private spawn(id: number): Promise<void> {
    const progress = new BatchProgress();
    const workerData: WorkerInput = { progress: progress.buffer, data: this.options.workerData };
    // trackUnmanagedFds off: a worker hands open file descriptors to the main thread, which
    // streams and closes them; a worker that tracked them would close them again on exit. So
    // what a stopped worker still held is closed by onExit, from its progress cells.
    const worker = new Worker(this.options.workerFile, { workerData, trackUnmanagedFds: false, resourceLimits: this.options.resourceLimits });
    const slot: WorkerSlot<Job, Result> = { id, worker, progress, online: false, startedAt: this.clock.now(), batch: [], watch: new JobWatch(), timedOut: false };
    this.slots[id - 1] = slot;
    let failure: Error | null = null;
    worker.on('message', (message: FromWorker<Result>) => this.onMessage(slot, message));
    worker.on('error', (error) => {
      failure = error;
    });
    worker.on('exit', () => this.onExit(slot, failure));
    return new Promise((resolve, reject) => {
      worker.once('online', () => {
        slot.online = true;
        resolve();
        // Jobs may have queued while this worker was starting.
        if (this.queue.length > 0) this.flush();
      });
      worker.once('exit', () => reject(failure ?? new Error(`worker ${id} exited during start`)));
    });
  }

  private onMessage(slot: WorkerSlot<Job, Result>, message: FromWorker<Result>): void {
    // Given up on: its jobs are answered, and the descriptors of its results closed when it exits.
    if (slot.timedOut) return;
    if (message.type === 'results') return this.complete(slot, message.results);
    const job = slot.batch.find((pending) => pending.message.id === message.id);
    if (job !== undefined) job.note = message.note;
  }

  private complete(slot: WorkerSlot<Job, Result>, results: Extract<FromWorker<Result>, { type: 'results' }>['results']): void {
    // The results answer the batch the worker holds, every job of it: a worker gets a batch
    // only when idle, and its batch is settled only when the watchdog gives up on it (onMessage
    // then takes nothing from it) or once it has exited (Node delivers a worker's messages
    // before its exit event).
    const byId = new Map(slot.batch.map((job) => [job.message.id, job]));
    slot.batch = [];
    for (const { id, result } of results) byId.get(id)!.done({ ok: true, result, workerId: slot.id });
    if (this.queue.length > 0) this.dispatch(slot, this.idleCount());
  }

  /** The watchdog's tick: a job running or waiting past the job timeout is ended. */
  private watch(): void {
    this.clock.tick();
    const now = this.clock.now();
    const limit = this.options.jobTimeoutMs;
    for (const slot of this.slots) {
      if (slot.batch.length === 0 || slot.timedOut) continue;
      const heldMs = slot.watch.overdue(slot.progress.started(), now, limit);
      if (heldMs !== null) this.giveUp(slot, heldMs);
    }
    // Jobs of a settled batch that were put back go to the idle workers.
    if (this.queue.length > 0) this.flush();
    const error = new Error(`no worker took the job within ${limit} ms`);
    for (let job = this.queue.peek(); job !== undefined && queueExpired(job.submittedAt, now, limit); job = this.queue.peek()) {
      this.queue.shift();
      job.done({ ok: false, failure: 'queue-timeout', error, workerId: null, note: null });
    }
  }

  /** Terminates a worker that held one job past the job timeout. */
  private giveUp(slot: WorkerSlot<Job, Result>, heldMs: number): void {
    slot.timedOut = true;
    this.options.events.workerTimedOut(slot.id, heldMs);
    void slot.worker.terminate();
    // Its jobs are answered now, not when it exits: a thread blocked in a system call (an
    // fsync on a hung NFS mount) exits only when the call returns, if ever. Its slot stays
    // taken until then, so stuck threads never outnumber MAX_THREADS.
    this.settle(slot, new Error(`worker ${slot.id} exceeded the job timeout`));
  }

  /**
   * Ends the batch of a worker that stopped (it died, or the watchdog gave up on it): the job
   * it was running fails; jobs it had not started go back to the head of the queue; jobs it
   * finished but never reported run again if they may, and fail as lost if not. Returns the
   * index of the job it was running; -1 when it stopped before starting any.
   */
  private settle(slot: WorkerSlot<Job, Result>, error: Error): number {
    const batch = slot.batch;
    slot.batch = [];
    const running = slot.progress.started() - 1;
    const fail = (job: PendingJob<Job, Result>, reason: JobFailure): void => job.done({ ok: false, failure: reason, error, workerId: slot.id, note: job.note });
    for (let index = batch.length - 1; index >= 0; index--) {
      const job = batch[index]!;
      if (index === running) fail(job, slot.timedOut ? 'timed-out' : 'crashed');
      // Not run again: it has run, or it has not but the buffers it moved died with the worker
      // (sending it again would throw DataCloneError), whatever mayRepeat says.
      else if (job.moved || !this.options.mayRepeat(job.message.job)) fail(job, index < running ? 'lost' : 'not-run');
      // Put back once: a job whose worker dies twice around it fails rather than loop.
      else if (job.putBack || this.closing || !this.queue.unshift({ ...job, putBack: true, submittedAt: this.clock.now() })) fail(job, 'not-run');
    }
    return running;
  }

  /**
   * A worker that exits unasked is replaced at once, and its batch settled. Descriptors it
   * held are closed: those of the job it was running (a file it was reading, a temporary it
   * was writing), and those it opened for results it never delivered: its batch's, or a
   * timed-out one's, whose late results were not taken (see onMessage). Only now, once its
   * thread has exited: before, it may still be in a system call on one of them.
   */
  private onExit(slot: WorkerSlot<Job, Result>, failure: Error | null): void {
    slot.online = false;
    if (slot.batch.length > 0 || slot.timedOut) for (const fd of slot.progress.held()) closeQuietly(fd);
    const running = this.settle(slot, failure ?? new Error(`worker ${slot.id} exited`));
    if (this.closing) return;
    this.options.events.workerExited(slot.id, failure);
    if (this.queue.length > 0) this.flush();
    const respawn = (): void => {
      if (this.closing) return;
      this.spawn(slot.id).then(
        () => this.options.events.workerRestarted(slot.id),
        () => undefined, // the new worker's own exit handler retries
      );
    };
    // A worker that dies before running any job (a broken install) is retried once a second, not in a hot loop.
    if (running >= 0 || this.clock.now() - slot.startedAt >= RESTART_BACKOFF_MS) respawn();
    else setTimeout(respawn, RESTART_BACKOFF_MS).unref();
  }
}
