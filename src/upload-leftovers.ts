// Upload temporaries that stopped workers leave behind. A worker stopped while it stores an
// upload (the job timeout, a crash, a shutdown) never removes its temporary, and never links
// it either: a terminated thread runs no more JavaScript, even once a system call it was
// blocked in returns. The main thread does not know the temporary's random name, only that
// it is one of this process's (handlers/upload-temporaries.ts), so it removes those when no
// upload is being stored, and all of them at shutdown. Asynchronous calls keep the event
// loop free when the uploads folder hangs.
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Job, JobResult } from './core/job.js';
import { codeOf } from './error-code.js';
import { isWrittenBy, thisProcess } from './handlers/upload-temporaries.js';
import type { JobCallback, JobFailure, JobRunner } from './pool/pool.js';

/** Failures of a job its worker held when it stopped: an upload may have left its temporary. */
const WORKER_STOPPED: ReadonlySet<JobFailure> = new Set(['crashed', 'timed-out', 'lost']);

/** Runs jobs on `jobs`, and removes the temporaries of uploads whose worker stopped. */
export class UploadLeftovers implements JobRunner<Job, JobResult> {
  private readonly owner = thisProcess();
  /** Uploads submitted and not yet done: a worker may be writing a temporary for each. */
  private storing = 0;
  /** Uploads ever submitted, to tell whether one began while the folder was being listed. */
  private submitted = 0;
  /** Whether a stopped worker may have left a temporary that is still to be removed. */
  private due = false;
  private sweeping = false;

  constructor(
    private readonly jobs: JobRunner<Job, JobResult>,
    private readonly uploadsDir: string,
    private readonly log: Logger,
  ) {}

  submit(job: Job, done: JobCallback<JobResult>): boolean {
    if (job.kind !== 'upload') return this.jobs.submit(job, done);
    const taken = this.jobs.submit(job, (outcome) => {
      this.storing--;
      if (!outcome.ok && WORKER_STOPPED.has(outcome.failure)) this.due = true;
      if (this.due) void this.sweep();
      done(outcome);
    });
    if (taken) {
      this.storing++;
      this.submitted++;
    }
    return taken;
  }

  /** Removes every temporary of this process: for the end of a shutdown, when no upload can be linked any more. */
  async removeAll(): Promise<void> {
    await this.remove(await this.ownTemporaries());
  }

  /**
   * Removes this process's temporaries once no upload is being stored. A listing during which
   * an upload began may name that upload's temporary: it is dropped, and the sweep waits again.
   */
  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      while (this.due && this.storing === 0) {
        this.due = false;
        const before = this.submitted;
        const names = await this.ownTemporaries();
        if (this.submitted === before) await this.remove(names);
        else this.due = true;
      }
    } finally {
      this.sweeping = false;
    }
  }

  private async ownTemporaries(): Promise<string[]> {
    try {
      return (await readdir(this.uploadsDir)).filter((name) => isWrittenBy(name, this.owner));
    } catch (error) {
      this.log.warn({ folder: this.uploadsDir, code: codeOf(error) }, 'cannot list the uploads folder for temporaries of stopped workers; they are removed at the next start');
      return [];
    }
  }

  /** Temporaries are hidden and never served: one that cannot be removed is logged and left for the next start. */
  private async remove(names: readonly string[]): Promise<void> {
    await Promise.all(
      names.map(async (name) => {
        try {
          await unlink(join(this.uploadsDir, name));
          this.log.warn({ file: name }, 'removed the temporary of an upload whose worker stopped');
        } catch (error) {
          if (codeOf(error) !== 'ENOENT') this.log.warn({ file: name, code: codeOf(error) }, 'cannot remove the temporary of an upload whose worker stopped; removed at the next start');
        }
      }),
    );
  }
}
