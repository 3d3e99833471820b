// Rate limits for log lines a burst of events would repeat (the logger itself: log-output.ts).
import { performance } from 'node:perf_hooks';

/**
 * Lets a message through at most once per interval. The first of a burst is written at once;
 * those after it are held back, and when the interval ends the last of them is written with
 * how many others were held, so a burst's size is told within a second, not at the next burst.
 */
export class RateLimitedLog {
  private last = -Infinity;
  private suppressed = 0;
  /** The latest message held back, written when the interval ends. */
  private heldBack: ((suppressed: number) => void) | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly intervalMs: number) {}

  /** Calls `write` now, or later with the number of other messages held back, or not at all (a later one is written instead). */
  maybe(write: (suppressed: number) => void): void {
    // The monotonic clock: a step of the wall clock back would hold every line for as long.
    const now = performance.now();
    if (this.timer === null && now - this.last >= this.intervalMs) {
      this.last = now;
      write(0);
      return;
    }
    this.suppressed++;
    this.heldBack = write;
    if (this.timer !== null) return;
    // Unref'd: a line still held back is not worth keeping the process alive for.
    this.timer = setTimeout(() => this.writeHeldBack(), Math.max(0, this.last + this.intervalMs - now));
    this.timer.unref();
  }

  private writeHeldBack(): void {
    const write = this.heldBack!;
    const others = this.suppressed - 1;
    this.timer = null;
    this.heldBack = null;
    this.suppressed = 0;
    this.last = performance.now();
    write(others);
  }
}

/** More conditions than this at once are not remembered: the map starts over. */
const MAX_CONDITIONS = 64;

/**
 * One RateLimitedLog per message, for conditions that many requests meet at once (a disk
 * below its free-space minimum): the first says it, the rest are counted. A message may name
 * a file of the document root, so there can be as many as there are files: past
 * MAX_CONDITIONS the map is cleared. A limiter dropped so still writes what it held back (its
 * timer keeps it), and the next of its condition is written at once, as a first.
 */
export class ConditionLogs {
  private readonly byMessage = new Map<string, RateLimitedLog>();

  constructor(private readonly intervalMs: number) {}

  of(message: string): RateLimitedLog {
    let limited = this.byMessage.get(message);
    if (limited === undefined) {
      if (this.byMessage.size >= MAX_CONDITIONS) this.byMessage.clear();
      this.byMessage.set(message, (limited = new RateLimitedLog(this.intervalMs)));
    }
    return limited;
  }

  /** How many conditions are remembered: never more than MAX_CONDITIONS. */
  get size(): number {
    return this.byMessage.size;
  }
}
