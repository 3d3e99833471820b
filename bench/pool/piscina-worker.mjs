// piscina worker for the pool microbenchmark: the same doWork() our own pool worker runs,
// one task per call. workerData names the compiled work.js and carries the WorkContext.
import { workerData } from 'piscina';

const { doWork } = await import(workerData.workModule);

export default function run(work) {
  return doWork(work, workerData.context);
}
