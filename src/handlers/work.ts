// The work a pool worker does for one job: static files or uploads. Never throws: an
// unexpected failure becomes a 500 whose stack goes to the log, not to the client.
import { errorResponse } from '../core/response.js';
import type { Job, JobResult } from '../core/job.js';
import { serveStatic, type StaticContext } from './static.js';
import { handleUpload, type UploadContext } from './upload.js';
import { NODE_FS } from './upload-storage.js';

export type WorkContext = StaticContext & UploadContext;

/** `onLinked`: an upload's document exists under this name (see upload.ts). */
export function doWork(job: Job, context: WorkContext, onLinked: (name: string) => void = () => undefined): JobResult {
  try {
    return job.kind === 'upload' ? handleUpload(job, context, NODE_FS, onLinked) : serveStatic(job, context);
  } catch (error) {
    return {
      response: errorResponse(500, job.kind === 'upload' ? 'POST' : job.method),
      log: { level: 'error', message: 'handler failed', fields: { error: String((error as Error).stack ?? error) } },
    };
  }
}

/** What a result hands to the main thread: buffers to move (a body and a cached file may share one), a file to stream. */
export const resultParts = {
  buffersOf: (result: JobResult): Array<Uint8Array | undefined> => [result.response.body.kind === 'bytes' ? result.response.body.bytes : undefined, result.cacheable?.bytes],
  descriptorsOf: (result: JobResult): number[] => (result.response.body.kind === 'file' ? [result.response.body.fd] : []),
};
