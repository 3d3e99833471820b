// Space on the uploads file system, for the metrics. statfs(2) on a hung hard NFS mount blocks
// until the server comes back, and a statfsSync on the main thread would freeze every
// connection and probe with it. So the main thread reads it asynchronously (on libuv's
// threadpool), and a scrape takes the latest figure without waiting for a new one. At most one
// read is in flight: a hung mount holds one of the threadpool's 4 threads, which also serve
// the engine's file reads, not one more per scrape.
import { statfs } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { spaceOf, type DiskSpace } from './core/disk-space.js';

/**
 * A read pending this long counts as hung, and its figure as unknown. A statfs takes
 * microseconds on a local disk and milliseconds on a healthy NFS mount, plus its wait for a
 * threadpool thread behind the engine's file reads: seconds never happen to a healthy server,
 * however busy. And 5 s is well under Prometheus's 15 s scrape interval: the scrape after the
 * one whose read hung already says NaN.
 */
export const HUNG_AFTER_MS = 5000;

export class UploadsDisk {
  /** The latest read's figure; null before the first one ends, or when the latest failed. */
  private space: DiskSpace | null = null;
  /** When the read in flight started (on `now`'s clock), or null when none is. */
  private readingSince: number | null = null;

  /** Starts the first read, so that the first scrape has a figure. */
  constructor(
    private readonly read: () => Promise<DiskSpace>,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.refresh();
  }

  /** Space on the file system holding `folder`. */
  static of(folder: string): UploadsDisk {
    return new UploadsDisk(async () => spaceOf(await statfs(folder)));
  }

  /**
   * The latest figure, and a new read started unless one is in flight. Null (no value, like a
   * failed read) while the read in flight has hung: a figure from before the hang would pass
   * for the present one.
   */
  latest(): DiskSpace | null {
    if (this.readingSince === null) this.refresh();
    else if (this.now() - this.readingSince >= HUNG_AFTER_MS) return null;
    return this.space;
  }

  private refresh(): void {
    this.readingSince = this.now();
    const settle = (space: DiskSpace | null): void => {
      this.space = space;
      this.readingSince = null;
    };
    this.read().then(settle, () => settle(null));
  }
}
