// The work a pool worker does for one request: static files or uploads. Never throws: an
// unexpected failure becomes a 500 whose stack goes to the log, not to the client.
import { errorResponse } from '../http/response.js';
import type { Work, WorkResult } from '../pool/messages.js';
import { serveStatic, type StaticContext } from './static.js';
import { handleUpload, type UploadContext } from './upload.js';

export type WorkContext = StaticContext & UploadContext;

export function doWork(work: Work, context: WorkContext): WorkResult {
  try {
    return work.kind === 'upload' ? handleUpload(work, context) : serveStatic(work, context);
  } catch (error) {
    return {
      response: errorResponse(500, work.kind === 'upload' ? 'POST' : work.method),
      log: { level: 'error', message: 'handler failed', fields: { error: String((error as Error).stack ?? error) } },
    };
  }
}
