// Upload temporaries that stopped workers leave behind. A worker stopped while it stores an
// upload (the job timeout, a crash, a shutdown) never removes its temporary, and never links
// it either: a terminated thread runs no more JavaScript, even once a system call it was
// blocked in returns. So the main thread names each upload's temporary when it hands the job
// to the pool, and removes exactly that file when the job's worker stopped: no listing, and
// no waiting for other uploads. Asynchronous calls keep the event loop free when the uploads
// folder hangs.
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Job, JobResult, WorkerJob } from './core/job.js';
import { OneAtATime } from './core/one-at-a-time.js';
import { codeOf } from './error-code.js';
import { randomHex } from './handlers/builtins.js';
import { TEMP_RANDOM_BYTES, temporaryName, thisProcess } from './handlers/upload-temporaries.js';
import type { JobCallback, JobFailure, JobRunner } from './pool/pool.js';

/**
 * Failures of a job its worker held when it stopped: the upload may have left its temporary,
 * linked or not (a linked one's data is under its final name). `not-run` too: the watchdog
 * settles a timed-out batch while its thread may still run a few instructions, enough to
 * start the next upload and create its temporary, though never to link it. The others never
 * reached a worker (`queue-timeout`, `closed`).
 */
const WORKER_STOPPED: ReadonlySet<JobFailure> = new Set(['crashed', 'timed-out', 'lost', 'not-run']);

/** Runs jobs on `jobs`, naming each upload's temporary, and removes the temporaries of uploads whose worker stopped. */
export class UploadLeftovers implements JobRunner<Job, JobResult> {
  private readonly owner = thisProcess();
  /** Temporaries of uploads handed to the pool and not yet done. */
  private readonly inFlight = new Set<string>();
  /**
   * Temporaries to remove, one at a time: the uploads time out when their folder hangs, and
   * each unlink on it would hold one of libuv's 4 threadpool threads, which the engine's file
   * reads and the disk gauges share.
   */
  private readonly toRemove: string[] = [];
  /** The removals under way, which a shutdown waits for; null when none is. */
  private removing: Promise<void> | null = null;

  constructor(
    private readonly jobs: JobRunner<WorkerJob, JobResult>,
    private readonly uploadsDir: string,
    private readonly log: Logger,
    /** The calls on the uploads folder, which the sweep of abandoned temporaries shares. */
    private readonly folderCalls: OneAtATime = new OneAtATime(),
  ) {}

  submit(job: Job, done: JobCallback<JobResult>): boolean {
    if (job.kind !== 'upload') return this.jobs.submit(job, done);
    const temporary = temporaryName(this.owner, randomHex(TEMP_RANDOM_BYTES));
    const taken = this.jobs.submit({ kind: 'upload', body: job.body, temporary }, (outcome) => {
      this.inFlight.delete(temporary);
      // A crash's outcome comes once the thread has exited; a timeout's at once, while the thread
      // may still be in a system call, but it runs no more JavaScript: docs/uploads.md says why
      // removing the temporary under it is harmless.
      if (!outcome.ok && WORKER_STOPPED.has(outcome.failure)) this.remove(temporary);
      done(outcome);
    });
    if (taken) this.inFlight.add(temporary);
    return taken;
  }

  /** Whether `temporary` is the name of an upload handed to the pool and not yet done. */
  isInFlight(temporary: string): boolean {
    return this.inFlight.has(temporary);
  }

  /**
   * For the end of a shutdown, once the pool was closed: every worker was told to stop, so an
   * upload still without an outcome belongs to a thread stuck in a system call, which will
   * never link it. Its temporary goes, and the removals under way finish. No listing of the
   * folder is needed: every temporary this process writes was named here. (A thread stuck in
   * the open that creates its temporary may still create it after this: left for the next start.)
   */
  async removeRemaining(): Promise<void> {
    for (const temporary of this.inFlight) this.remove(temporary);
    this.inFlight.clear();
    await this.removing;
  }

  private remove(name: string): void {
    this.toRemove.push(name);
    this.removing ??= this.removeQueued();
  }

  /** Temporaries are hidden and never served: one that cannot be removed is logged and left for the next start. */
  private async removeQueued(): Promise<void> {
    for (let name = this.toRemove.shift(); name !== undefined; name = this.toRemove.shift()) {
      try {
        await this.folderCalls.run(() => unlink(join(this.uploadsDir, name)));
        this.log.warn({ file: name }, 'removed the temporary of an upload whose worker stopped');
      } catch (error) {
        // ENOENT: the worker stopped before creating it, or after removing or renaming it.
        if (codeOf(error) !== 'ENOENT') this.log.warn({ file: name, code: codeOf(error) }, 'cannot remove the temporary of an upload whose worker stopped; removed at the next start');
      }
    }
    this.removing = null;
  }
}
