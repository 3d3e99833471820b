// Worker thread entry: the handlers, run by the pool's worker loop.
import type { JobResult, WorkerJob } from './core/job.js';
import { doBatch, resultParts, type WorkContext } from './handlers/work.js';
import { serveBatches, workerInputData } from './pool/worker-loop.js';

const context = workerInputData() as WorkContext;
serveBatches<WorkerJob, JobResult>((batch) => doBatch(batch.jobs, context, batch), resultParts);
