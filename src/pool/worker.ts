// Worker thread entry: runs each batch of jobs and answers with one message whose response
// buffers are transferred to the main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { doWork, type WorkContext } from '../handlers/work.js';
import { transferList, type FromWorker, type ResultMessage, type ToWorker } from './messages.js';

const context = workerData as WorkContext;

parentPort!.on('message', (message: ToWorker) => {
  const results: ResultMessage[] = message.jobs.map((job) => ({ id: job.id, result: doWork(job.work, context) }));
  // A cached file's bytes and a response body sliced from them share one buffer, moved once.
  const buffers = results.flatMap(({ result }) => [result.response.body.kind === 'bytes' ? result.response.body.bytes : undefined, result.cacheable?.bytes]);
  const reply: FromWorker = { type: 'results', results };
  parentPort!.postMessage(reply, transferList(buffers));
});
