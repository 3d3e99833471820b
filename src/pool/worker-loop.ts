// The worker side of the pool: runs each batch of jobs and answers with one message whose
// buffers are transferred to the main thread. A worker entry module calls serveBatches (or
// serveJobs, for one job at a time) once.
import { parentPort, workerData } from 'node:worker_threads';
import { transferList, type FromWorker, type ResultMessage, type ToWorker } from './messages.js';
import { BatchProgress } from './progress.js';

/** What the pool passes to every worker: its progress cells and the caller's data. */
export interface WorkerInput {
  readonly progress: SharedArrayBuffer;
  readonly data: unknown;
}

export interface ResultParts<Result> {
  /** Buffers of the result that may be moved to the main thread. */
  buffersOf(result: Result): Iterable<Uint8Array | undefined>;
  /** Open descriptors the result hands to the main thread. */
  descriptorsOf(result: Result): readonly number[];
}

/** The data the pool was given for its workers (PoolOptions.workerData). */
export function workerInputData(): unknown {
  return (workerData as WorkerInput).data;
}

/**
 * What a job says while it runs, before its result: sent to the main thread at once, so it
 * survives the worker (an upload names the file it has just linked).
 */
export type Note = (note: string) => void;

/** One batch as its runner sees it: the jobs, and what to report while running them. */
export interface Batch<Job, Result> {
  readonly jobs: readonly Job[];
  /** The job at `index` starts now: a stall or a crash from here on is blamed on it. */
  starting(index: number): void;
  /** What the job at `index` says while it runs (see Note). */
  note(index: number, note: string): void;
  /** A result is complete; the descriptors it holds are released if the worker dies. */
  finished(result: Result): void;
  /** The running job opened `fd`: closed by the pool if the worker stops before the job closes it. */
  opened(fd: number): void;
  /** The running job closes `fd` now: call it before the close (see BatchProgress.releasing). */
  closing(fd: number): void;
}

/**
 * Runs every batch with `runBatch`, which returns one result per job, in order, and must not
 * throw. A runner may finish some jobs together after running them all, so that work they
 * share is done once (uploads share their folder's fsync).
 */
export function serveBatches<Job, Result>(runBatch: (batch: Batch<Job, Result>) => Result[], parts: ResultParts<Result>): void {
  const port = parentPort;
  if (port === null) throw new Error('serveBatches runs on a worker thread');
  const progress = new BatchProgress((workerData as WorkerInput).progress);
  port.on('message', (message: ToWorker<Job>) => {
    const batch: Batch<Job, Result> = {
      jobs: message.jobs.map(({ job }) => job),
      starting: (index) => progress.starting(index),
      note: (index, note) => port.postMessage({ type: 'note', id: message.jobs[index]!.id, note } satisfies FromWorker<Result>),
      finished: (result) => {
        for (const fd of parts.descriptorsOf(result)) progress.holding(fd);
      },
      opened: (fd) => progress.holding(fd),
      closing: (fd) => progress.releasing(fd),
    };
    const results: ResultMessage<Result>[] = runBatch(batch).map((result, index) => ({ id: message.jobs[index]!.id, result }));
    const reply: FromWorker<Result> = { type: 'results', results };
    port.postMessage(reply, transferList(results.flatMap(({ result }) => [...parts.buffersOf(result)])));
  });
}

/** Runs the jobs of every batch one by one with `run`, which must not throw. */
export function serveJobs<Job, Result>(run: (job: Job, note: Note) => Result, parts: ResultParts<Result>): void {
  serveBatches<Job, Result>((batch) => batch.jobs.map((job, index) => {
    batch.starting(index);
    const result = run(job, (note) => batch.note(index, note));
    batch.finished(result);
    return result;
  }), parts);
}
