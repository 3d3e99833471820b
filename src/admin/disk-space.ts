// Space on the file system that holds a folder, as statfs(2) reports it.
import { statfsSync } from 'node:fs';

export interface DiskSpace {
  /** Bytes an unprivileged process may still write (f_bavail: the blocks reserved for root left out). */
  readonly freeBytes: number;
  /** The file system's size in bytes. */
  readonly sizeBytes: number;
}

/** The file system holding `path`, read now; null when it cannot be read (say, the folder was removed). */
export function diskSpace(path: string): DiskSpace | null {
  try {
    // Node reports f_bsize, which is the counting unit (f_frsize) on Linux's usual file systems.
    const stats = statfsSync(path);
    return { freeBytes: stats.bavail * stats.bsize, sizeBytes: stats.blocks * stats.bsize };
  } catch {
    return null;
  }
}
