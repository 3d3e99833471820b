// The descriptors a job holds open, told to whoever must close them if the worker stops first.
// A worker terminated in a system call (a read or an fsync on a hung NFS mount) never runs its
// `finally`, and Node does not close a worker's descriptors when it exits (the pool's workers
// hand some to the main thread): the pool closes those its worker reported open and not yet
// closing (pool/progress.ts).
import { fs } from './builtins.js';

/** Who keeps count of the descriptors a worker holds: the pool closes them if it stops the worker first. */
export interface DescriptorWatch {
  opened(fd: number): void;
  /** Called before the close. */
  closing(fd: number): void;
}

/** Closes `fd`, forgotten by `watch` first: once closed, the number may be reused for another file. */
export function closeWatched(fd: number, watch: DescriptorWatch): void {
  watch.closing(fd);
  fs.closeSync(fd);
}
