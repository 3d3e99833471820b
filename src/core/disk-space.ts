// Space on the file system that holds the uploads folder: the disk guard reads it on a worker
// before each upload, the metrics on the main thread (src/uploads-disk.ts).
import type { StatsFs } from 'node:fs';

/** Space on the file system that holds a folder, as statfs(2) reports it. */
export interface DiskSpace {
  /** Bytes an unprivileged process may still write (f_bavail: the blocks reserved for root left out). */
  readonly freeBytes: number;
  /** The file system's size in bytes. */
  readonly sizeBytes: number;
}

/** The space `stats` (from statfs, in a worker or on the main thread) describes. */
export function spaceOf(stats: Pick<StatsFs, 'bavail' | 'blocks' | 'bsize'>): DiskSpace {
  // Node reports f_bsize, which is the counting unit (f_frsize) on Linux's usual file systems.
  return { freeBytes: stats.bavail * stats.bsize, sizeBytes: stats.blocks * stats.bsize };
}
