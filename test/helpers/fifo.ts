// A named pipe that holds a thread in a blocking open(2) until the test lets it go. Neither
// worker.terminate() nor process.exit() can interrupt a system call, so such a thread stands
// for one stuck in an fsync on a hung NFS mount.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { join } from 'node:path';

/** Makes a FIFO in `dir`; opening it for reading blocks until a writer opens it. */
export function makeFifo(dir: string): string {
  const path = join(dir, 'hold.fifo');
  execFileSync('mkfifo', [path]);
  return path;
}

/** Lets go the threads blocked opening `fifo` for reading; false when none is waiting yet. */
export function releaseFifo(fifo: string): boolean {
  try {
    closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENXIO') return false;
    throw error;
  }
}
