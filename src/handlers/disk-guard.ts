// The disk guard: an upload is refused with 507 before anything is written when storing it
// would leave less than MIN_FREE_DISK_BYTES free on the uploads file system, so uploads
// cannot fill the disk the logs, temporaries and the rest of the host share. One statfs
// call per upload, on a worker thread (the metrics read the same figures on the main thread,
// asynchronously: src/uploads-disk.ts). Workers storing at the same
// moment do not see each other's uploads: together they may go below the minimum by up to
// MAX_THREADS x MAX_BODY_BYTES (docs/security.md).
import type { StatsFs } from 'node:fs';
import { fs } from './builtins.js';

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

/** Bytes this process may still write under `folder`, read now; null when the file system cannot tell (say, the folder was removed). */
export function freeBytes(folder: string): number | null {
  try {
    return spaceOf(fs.statfsSync(folder)).freeBytes;
  } catch {
    return null;
  }
}

/**
 * Whether `bytes` more can be stored and leave `minFree` free. Unknown free space does not
 * refuse: a disk that really is full still answers 507 through ENOSPC.
 */
export function hasRoom(free: number | null, bytes: number, minFree: number): boolean {
  return free === null || free - bytes >= minFree;
}
