// The work a pool worker does for a batch of jobs: static files or uploads. Never throws: an
// unexpected failure becomes a 500 whose stack goes to the log, not to the client.
import { errorResponse } from '../core/response.js';
import type { JobResult, WorkerJob } from '../core/job.js';
import { serveStatic, type StaticContext } from './static.js';
import { finishUploads, isLinked, linkUpload, type LinkedUpload, type UploadContext } from './upload.js';
import type { DescriptorWatch } from './descriptors.js';
import { NODE_FS, watched, type StorageFs } from './upload-storage.js';

export type WorkContext = StaticContext & UploadContext;

/**
 * V8 heap limits for a worker. Its heap holds little: bodies and file contents are Buffers,
 * outside it, and an upload is checked without decoding it into a string. An explicit old
 * generation limit also makes V8 start each worker with a smaller heap, and a small young
 * generation keeps ten workers from each growing one under load.
 */
export const WORKER_HEAP_LIMITS = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 4 } as const;

/** What a batch reports while it runs (the pool's worker loop passes its Batch). */
export interface BatchReport extends DescriptorWatch {
  starting(index: number): void;
  note(index: number, note: string): void;
  finished(result: JobResult): void;
}

/**
 * Frees a body's memory at once. V8 frees an ArrayBuffer's memory only when it collects the
 * object, and a worker's small heap is collected rarely, so ten workers each kept the bodies
 * of their recent uploads (measured in docs/memory.md). Detaching frees it now. Only
 * a buffer the body owns whole, as one moved to this worker does, is detached.
 */
function releaseBody(body: Uint8Array): void {
  const buffer = body.buffer;
  if (buffer instanceof ArrayBuffer && body.byteOffset === 0 && body.byteLength === buffer.byteLength) buffer.transfer(0);
}

/**
 * The job at `index`, up to the link for an upload. `report` hears of the descriptors a static
 * job opens (an upload's come through `fs`) and of the name an upload's document is linked
 * under; the note's closure is made for uploads only, not on the static files' hot path.
 */
function runJob(job: WorkerJob, index: number, context: WorkContext, fs: StorageFs, report: BatchReport): JobResult | LinkedUpload {
  try {
    if (job.kind === 'static') return serveStatic(job, context, report);
    try {
      return linkUpload(job, context, fs, (name) => report.note(index, name));
    } finally {
      releaseBody(job.body);
    }
  } catch (error) {
    return {
      response: errorResponse(500, job.kind === 'upload' ? 'POST' : job.method),
      log: { level: 'error', message: 'handler failed', fields: { error: String((error as Error).stack ?? error) } },
    };
  }
}

/**
 * A batch of jobs, in order, one result each. The uploads of the batch are linked one after
 * the other and then made durable together by one folder fsync (group commit), so each is
 * answered only once its name is on disk. Never throws.
 */
export function doBatch(jobs: readonly WorkerJob[], context: WorkContext, report: BatchReport, fs: StorageFs = NODE_FS): JobResult[] {
  const results: JobResult[] = new Array(jobs.length);
  // Built only for a batch that stores uploads: static batches pay nothing for it.
  const storage = jobs.some((job) => job.kind === 'upload') ? watched(fs, report) : fs;
  const linked: LinkedUpload[] = [];
  const linkedAt: number[] = [];
  jobs.forEach((job, index) => {
    report.starting(index);
    const outcome = runJob(job, index, context, storage, report);
    if (isLinked(outcome)) {
      linked.push(outcome);
      linkedAt.push(index);
    } else {
      results[index] = outcome;
      report.finished(outcome);
    }
  });
  finishUploads(linked, context, storage).forEach((result, n) => {
    results[linkedAt[n]!] = result;
    report.finished(result);
  });
  return results;
}

/** What a result hands to the main thread: buffers to move (a body and a cached file may share one), a file to stream. */
export const resultParts = {
  buffersOf: (result: JobResult): Array<Uint8Array | undefined> => [result.response.body.kind === 'bytes' ? result.response.body.bytes : undefined, result.cacheable?.bytes],
  descriptorsOf: (result: JobResult): number[] => (result.response.body.kind === 'file' ? [result.response.body.fd] : []),
};
