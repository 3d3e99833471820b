// The disk guard: an upload is refused with 507 before anything is written when storing it
// would leave less than MIN_FREE_DISK_BYTES free on the uploads file system, so uploads
// cannot fill the disk the logs, temporaries and the rest of the host share. One statfs
// call per upload, on a worker thread (the metrics read the same figures on the main thread,
// asynchronously: src/uploads-disk.ts). Workers storing at the same
// moment do not see each other's uploads: together they may go below the minimum by up to
// MAX_THREADS x MAX_BODY_BYTES (docs/security.md).
import { spaceOf } from '../core/disk-space.js';
import { fs } from './builtins.js';

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
