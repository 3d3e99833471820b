// piscina worker for the pool microbenchmark: the same doBatch() our own pool worker runs,
// with one job per task. workerData names the compiled work.js and carries the WorkContext.
import { workerData } from 'piscina';

const { doBatch } = await import(workerData.workModule);
const NO_REPORT = { starting() {}, note() {}, finished() {}, opened() {}, closing() {} };

export default function run(job) {
  return doBatch([job], workerData.context, NO_REPORT)[0];
}
