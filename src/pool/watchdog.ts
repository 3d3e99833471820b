// The pool's watchdog as decisions, without threads or timers: the pool's clock, which leaves
// out the time the main thread stood still; which worker has held one job past the job
// timeout; which queued job has waited past it. pool.ts runs it on an interval and acts on
// what it decides (terminate the worker, settle its batch, fail the job).
import { performance } from 'node:perf_hooks';

/**
 * The pool's clock, for job and queue timeouts: monotonic, so that a step of the wall clock
 * neither times a job out nor lets it run on, and stopped while the main thread stood still.
 * A watchdog tick more than an interval late means the process was frozen (SIGSTOP, a paused
 * container or VM) or the event loop blocked: the workers were frozen too, or could not be
 * handed jobs or have their results taken, and a job running fine must not time out for it.
 * Judging after the poll phase, as the HTTP deadlines are, would not do: a job still running
 * when a freeze ends needs time to finish.
 */
export class PoolClock {
  /** How often the watchdog ticks: a quarter of the job timeout, between 10 ms and 1 s. */
  readonly interval: number;
  private lastTick = 0;
  private stalledMs = 0;

  constructor(jobTimeoutMs: number, private readonly monotonic: () => number = () => performance.now()) {
    this.interval = Math.max(10, Math.min(1000, Math.floor(jobTimeoutMs / 4)));
  }

  now(): number {
    return this.monotonic() - this.stalledMs;
  }

  /** The ticks start now: the time before (workers starting) is not a stall. */
  start(): void {
    this.lastTick = this.monotonic();
  }

  /** One tick of the watchdog: its lateness beyond an interval is time the main thread stood still. */
  tick(): void {
    const tickedAt = this.monotonic();
    const late = tickedAt - this.lastTick - this.interval;
    if (late > this.interval) this.stalledMs += late;
    this.lastTick = tickedAt;
  }
}

/**
 * The watchdog's view of one worker's batch: how many of its jobs had started when it last
 * looked, and since when on the pool's clock. The timeout applies to each job, not to the
 * batch: every job that starts restarts the count.
 */
export class JobWatch {
  private seenStarted = 0;
  private seenSince = 0;

  /** A batch was posted at `now`: none of its jobs has started. */
  reset(now: number): void {
    this.seenStarted = 0;
    this.seenSince = now;
  }

  /**
   * Looks at the batch, of which `started` jobs have started: how long the job it is on has
   * been held when that reaches `limitMs` (the worker is to be stopped), else null.
   */
  overdue(started: number, now: number, limitMs: number): number | null {
    if (started !== this.seenStarted) {
      this.seenStarted = started;
      this.seenSince = now;
      return null;
    }
    const heldMs = now - this.seenSince;
    return heldMs >= limitMs ? heldMs : null;
  }
}

/** Whether a job queued at `submittedAt` has waited its limit without a worker taking it. */
export function queueExpired(submittedAt: number, now: number, limitMs: number): boolean {
  return now - submittedAt >= limitMs;
}
