// Worker thread entry: the handlers, run by the pool's worker loop.
import type { Job } from './core/job.js';
import { doWork, resultParts, type WorkContext } from './handlers/work.js';
import { serveJobs, workerInputData } from './pool/worker-loop.js';

const context = workerInputData() as WorkContext;
serveJobs((job: Job, note) => doWork(job, context, note), resultParts);
