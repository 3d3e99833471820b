// A fixed pool of worker threads behind one bounded FIFO queue.
// Jobs submitted during one event-loop turn are handed out together: each idle worker gets a
// batch in one postMessage, and answers with one message whose buffers are transferred.
import { Worker } from 'node:worker_threads';
import { BoundedQueue } from './queue.js';
import type { FromWorker, JobMessage, ToWorker, Work, WorkResult } from './messages.js';

/** Called once per job with the worker's result, or with `failure` when the worker died. */
export type JobCallback = (outcome: JobOutcome) => void;
export type JobOutcome =
  | { readonly ok: true; readonly result: WorkResult; readonly workerId: number }
  | { readonly ok: false; readonly error: Error; readonly workerId: number };

export interface PoolEvents {
  /** A job had to wait because every worker was busy. */
  saturated(stats: PoolStats): void;
  /** A job that had waited was handed to a worker. */
  dequeued(workerId: number, waitedMs: number): void;
  workerExited(workerId: number, error: Error | null): void;
  /** A worker held a batch past the job timeout and is being terminated. */
  workerTimedOut(workerId: number, heldMs: number): void;
  workerRestarted(workerId: number): void;
}

export interface PoolOptions {
  readonly size: number;
  readonly queueSize: number;
  /** The worker entry module. */
  readonly workerFile: URL;
  readonly workerData: unknown;
  readonly events: PoolEvents;
  /** Upper bound of jobs in one batch, so one worker never hoards the queue. */
  readonly maxBatch?: number;
  /** A worker that holds a batch longer than this is terminated and replaced (its jobs fail). */
  readonly jobTimeoutMs: number;
}

export interface PoolStats {
  readonly workers: number;
  readonly busy: number;
  readonly queued: number;
}

interface PendingJob {
  readonly message: JobMessage;
  readonly transfer: ArrayBuffer[];
  readonly done: JobCallback;
  /** When the job started waiting for a busy pool; null if a worker was idle. */
  readonly waitingSince: number | null;
}

interface Slot {
  readonly id: number;
  readonly worker: Worker;
  online: boolean;
  /** False while the worker starts; a worker that dies before it is online is retried slowly. */
  everOnline: boolean;
  /** When the batch it holds now was handed over. */
  busySince: number;
  /** Set when the watchdog terminated it, to say so in the jobs' error. */
  timedOut: boolean;
  /** Jobs this worker holds now, by job id. */
  readonly running: Map<number, PendingJob>;
}

const DEFAULT_MAX_BATCH = 32;
const RESTART_BACKOFF_MS = 1000;

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: BoundedQueue<PendingJob>;
  private readonly maxBatch: number;
  private nextJobId = 1;
  private flushScheduled = false;
  private closing = false;
  private watchdog: NodeJS.Timeout | null = null;

  constructor(private readonly options: PoolOptions) {
    this.maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    // The ring holds waiting jobs plus the ones submitted in this turn for idle workers.
    this.queue = new BoundedQueue(options.queueSize + options.size * this.maxBatch);
  }

  /** Starts every worker and the watchdog, and resolves once all workers are online. */
  async start(): Promise<void> {
    const ready: Promise<void>[] = [];
    for (let id = 1; id <= this.options.size; id++) ready.push(this.spawn(id));
    await Promise.all(ready);
    const interval = Math.max(10, Math.min(1000, Math.floor(this.options.jobTimeoutMs / 4)));
    this.watchdog = setInterval(() => this.terminateStuckWorkers(), interval);
    this.watchdog.unref();
  }

  /** A worker stuck on a job (an endless loop, a read that never returns) is cut loose. */
  private terminateStuckWorkers(): void {
    const now = Date.now();
    for (const slot of this.slots) {
      if (slot.running.size === 0 || slot.timedOut || now - slot.busySince < this.options.jobTimeoutMs) continue;
      slot.timedOut = true;
      this.options.events.workerTimedOut(slot.id, now - slot.busySince);
      void slot.worker.terminate();
    }
  }

  stats(): PoolStats {
    let busy = 0;
    let live = 0;
    for (const slot of this.slots) {
      if (slot.running.size > 0) busy++;
      if (slot.online) live++;
    }
    return { workers: live, busy, queued: this.queue.length };
  }

  /** True while every worker is running. */
  get healthy(): boolean {
    return !this.closing && this.slots.length === this.options.size && this.slots.every((slot) => slot.online);
  }

  /**
   * Queues a job. Returns false at once when every worker is busy and QUEUE_SIZE jobs already
   * wait; the caller answers 503. `transfer` lists buffers moved to the worker with the job.
   */
  submit(work: Work, transfer: ArrayBuffer[], done: JobCallback): boolean {
    if (this.closing) return false;
    const idle = this.idleCount();
    if (this.queue.length >= this.options.queueSize + idle) return false;
    const waiting = idle === 0;
    const job: PendingJob = { message: { id: this.nextJobId++, work }, transfer, done, waitingSince: waiting ? Date.now() : null };
    this.queue.push(job);
    if (waiting) this.options.events.saturated(this.stats());
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
    for (const job of this.queue.drain()) job.done({ ok: false, error, workerId: 0 });
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
  }

  private idleCount(): number {
    let idle = 0;
    for (const slot of this.slots) if (slot.online && slot.running.size === 0) idle++;
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
      if (slot.online && slot.running.size === 0) this.dispatch(slot, idle--);
    }
  }

  /** Gives `slot` its share of the queue, with `idle` idle workers (itself included) to share it. */
  private dispatch(slot: Slot, idle: number): void {
    const jobs: JobMessage[] = [];
    const transfer: ArrayBuffer[] = [];
    const now = Date.now();
    const count = Math.min(this.maxBatch, Math.ceil(this.queue.length / idle));
    for (let n = 0; n < count; n++) {
      const job = this.queue.shift();
      if (job === undefined) break;
      slot.running.set(job.message.id, job);
      jobs.push(job.message);
      transfer.push(...job.transfer);
      if (job.waitingSince !== null) this.options.events.dequeued(slot.id, now - job.waitingSince);
    }
    const message: ToWorker = { type: 'batch', jobs };
    slot.busySince = now;
    slot.worker.postMessage(message, transfer);
  }

  private spawn(id: number): Promise<void> {
    // trackUnmanagedFds off: a worker hands open file descriptors to the main thread, which
    // streams and closes them; a worker that tracked them would close them again on exit.
    const worker = new Worker(this.options.workerFile, { workerData: this.options.workerData, trackUnmanagedFds: false });
    const slot: Slot = { id, worker, online: false, everOnline: false, busySince: 0, timedOut: false, running: new Map() };
    this.slots[id - 1] = slot;
    let failure: Error | null = null;
    worker.on('message', (message: FromWorker) => this.complete(slot, message));
    worker.on('error', (error) => {
      failure = error;
    });
    worker.on('exit', () => this.onExit(slot, failure));
    return new Promise((resolve, reject) => {
      worker.once('online', () => {
        slot.online = true;
        slot.everOnline = true;
        resolve();
        // Jobs may have queued while this worker was starting.
        if (this.queue.length > 0) this.flush();
      });
      worker.once('exit', () => reject(failure ?? new Error(`worker ${id} exited during start`)));
    });
  }

  private complete(slot: Slot, message: FromWorker): void {
    for (const { id, result } of message.results) {
      const job = slot.running.get(id);
      if (job === undefined) continue;
      slot.running.delete(id);
      job.done({ ok: true, result, workerId: slot.id });
    }
    if (slot.running.size === 0 && this.queue.length > 0) this.dispatch(slot, this.idleCount());
  }

  /** A worker that exits unasked fails the jobs it held and is replaced at once. */
  private onExit(slot: Slot, failure: Error | null): void {
    slot.online = false;
    const error = failure ?? new Error(slot.timedOut ? `worker ${slot.id} exceeded the job timeout` : `worker ${slot.id} exited`);
    const held = [...slot.running.values()];
    slot.running.clear();
    for (const job of held) job.done({ ok: false, error, workerId: slot.id });
    if (this.closing) return;
    this.options.events.workerExited(slot.id, failure);
    const respawn = (): void => {
      if (this.closing) return;
      this.spawn(slot.id).then(
        () => this.options.events.workerRestarted(slot.id),
        () => undefined, // the new worker's own exit handler retries
      );
    };
    // A worker that cannot even start (a broken install) is retried once a second, not in a hot loop.
    if (slot.everOnline) respawn();
    else setTimeout(respawn, RESTART_BACKOFF_MS).unref();
  }
}
