// The sweep of upload temporaries that crashed or killed processes left in the uploads folder.
// The folder holds every upload ever stored, so its listing grows without bound: the sweep
// reads it a buffer of entries at a time, in constant memory, after the server is ready, and
// each read, stat and unlink is asynchronous, so the event loop turns between them even on a
// slow NFS folder. Replicas may share the folder: only provably abandoned temporaries go
// (handlers/upload-temporaries.ts), and never one of this process's uploads in flight.
import { opendir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { OneAtATime } from './core/one-at-a-time.js';
import { codeOf } from './error-code.js';
import { isAbandoned, isTemporary, thisProcess, type TempOwner } from './handlers/upload-temporaries.js';

/** Entries read from the folder per system call: what the sweep holds of the listing at once. */
export const SWEEP_BUFFER_ENTRIES = 256;

/** What the sweep needs of the file system. */
export interface SweepFs {
  opendir(path: string, options: { bufferSize: number }): Promise<AsyncIterable<{ readonly name: string }>>;
  stat(path: string): Promise<{ readonly mtimeMs: number }>;
  unlink(path: string): Promise<void>;
}

const NODE_SWEEP_FS: SweepFs = { opendir, stat, unlink };

export interface SweepOptions {
  readonly uploadsDir: string;
  readonly jobTimeoutMs: number;
  readonly log: Logger;
  /**
   * Whether this process has handed the upload that writes temporary `name` to a worker and
   * not yet had its outcome: such a temporary bears this process's own host and pid, which
   * otherwise mark one of an earlier life of it.
   */
  readonly inFlight: (name: string) => boolean;
  /**
   * The calls on the uploads folder, shared with the removal of stopped uploads' temporaries
   * (upload-leftovers.ts): on a hung mount the sweep and the removals hold one threadpool
   * thread between them.
   */
  readonly folderCalls?: OneAtATime;
  readonly fs?: SweepFs;
  readonly isRunning?: (pid: number) => boolean;
  readonly now?: () => number;
}

/** What a sweep did, as its last log line says. */
export interface SweepCount {
  /** Entries read from the folder. */
  readonly entries: number;
  readonly removed: number;
  /** Abandoned temporaries that could not be removed. */
  readonly left: number;
}

/** Whether a process of this host is running (one of another user answers EPERM: it is). */
function isRunningHere(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** A sweep under way, which a shutdown stops. */
export class TemporarySweep {
  private stopping = false;
  private readonly self: TempOwner = thisProcess();
  /** Settles when the sweep has ended: done, stopped, or failed to read the folder (logged). */
  readonly ended: Promise<SweepCount>;

  private constructor(private readonly options: SweepOptions) {
    this.ended = this.run();
  }

  static start(options: SweepOptions): TemporarySweep {
    return new TemporarySweep(options);
  }

  /** Stops after the entry in hand: what is left waits for the next start. */
  stop(): Promise<SweepCount> {
    this.stopping = true;
    return this.ended;
  }

  /**
   * Temporaries are hidden and never served, so one that cannot be removed (another user's, in
   * a shared folder) is logged and left, and so is a folder that cannot be read: the server
   * serves and stores as well without the sweep.
   */
  private async run(): Promise<SweepCount> {
    const { uploadsDir, log, fs = NODE_SWEEP_FS, folderCalls = new OneAtATime() } = this.options;
    const count = { entries: 0, removed: 0, left: 0 };
    try {
      const folder = await folderCalls.run(() => fs.opendir(uploadsDir, { bufferSize: SWEEP_BUFFER_ENTRIES }));
      const entries = folder[Symbol.asyncIterator]();
      try {
        // Each read of the next buffer of entries is a call on the folder, and waits its turn.
        for (let next = await folderCalls.run(() => entries.next()); next.done !== true && !this.stopping; next = await folderCalls.run(() => entries.next())) {
          count.entries++;
          const { name } = next.value;
          if (!isTemporary(name) || this.options.inFlight(name)) continue;
          const outcome = await this.removeIfAbandoned(name, fs, folderCalls);
          if (outcome === 'removed') count.removed++;
          else if (outcome === 'left') count.left++;
        }
      } finally {
        // Closes the folder when the sweep stops or fails before its end (a failed read has
        // closed it already: the error to log is that read's); a call on the folder like the others.
        await folderCalls.run(async () => entries.return?.()).catch(() => undefined);
      }
    } catch (error) {
      log.warn({ folder: uploadsDir, code: codeOf(error), ...count }, 'cannot read the uploads folder to remove stale upload temporaries; the rest are left for the next start');
      return count;
    }
    log.info({ ...count, stopped: this.stopping }, 'stale upload temporaries swept');
    return count;
  }

  private async removeIfAbandoned(name: string, fs: SweepFs, folderCalls: OneAtATime): Promise<'removed' | 'left' | 'kept'> {
    const { uploadsDir, jobTimeoutMs, log, isRunning = isRunningHere, now = Date.now } = this.options;
    const path = join(uploadsDir, name);
    try {
      const { mtimeMs } = await folderCalls.run(() => fs.stat(path));
      if (!isAbandoned(name, mtimeMs, now(), this.self, jobTimeoutMs, isRunning)) return 'kept';
      await folderCalls.run(() => fs.unlink(path));
      log.warn({ file: name }, 'removed a stale upload temporary');
      return 'removed';
    } catch (error) {
      // ENOENT: another replica removed it first, or its upload ended.
      if (codeOf(error) === 'ENOENT') return 'kept';
      log.warn({ file: name, code: codeOf(error) }, 'cannot remove a stale upload temporary; left in place');
      return 'left';
    }
  }
}
