// The worker side of the pool: runs each batch of jobs and answers with one message whose
// buffers are transferred to the main thread. A worker entry module calls serveJobs once.
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

/** `run` must not throw. */
export function serveJobs<Job, Result>(run: (job: Job, note: Note) => Result, parts: ResultParts<Result>): void {
  const port = parentPort;
  if (port === null) throw new Error('serveJobs runs on a worker thread');
  const progress = new BatchProgress((workerData as WorkerInput).progress);
  port.on('message', (message: ToWorker<Job>) => {
    const results: ResultMessage<Result>[] = message.jobs.map(({ id, job }, index) => {
      progress.starting(index);
      const result = run(job, (note) => port.postMessage({ type: 'note', id, note } satisfies FromWorker<Result>));
      progress.holding(parts.descriptorsOf(result));
      return { id, result };
    });
    const reply: FromWorker<Result> = { type: 'results', results };
    port.postMessage(reply, transferList(results.flatMap(({ result }) => [...parts.buffersOf(result)])));
  });
}
