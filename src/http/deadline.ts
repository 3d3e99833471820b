// A connection's one deadline (docs/architecture.md, "Deadline phase"): the connection says
// what it is doing, this says which phase applies, when it expires, and once it has. Pure but
// for the clock; nothing here allocates but the connection's one Deadline. Times are
// milliseconds on the monotonic clock (performance.now), which a step of the wall clock (NTP,
// a VM resumed) does not move: a step of Date.now would expire every deadline at once, or
// hold them off for as long.
// Imported, not the global: reading the global `performance` (a lazy accessor on globalThis)
// costs more than the clock itself (bench/README.md, "Instructions per exchange").
import { performance } from 'node:perf_hooks';

/**
 * What the deadline is for; `none`: the server holds the requests (with the pool, bounded by
 * JOB_TIMEOUT_MS there, or waiting for the reader's next turn).
 */
export type Phase = 'idle' | 'headers' | 'body' | 'write' | 'closing' | 'none';

/** How long a closing socket may linger before it is destroyed. */
export const CLOSE_GRACE_MS = 2000;

export interface DeadlineSettings {
  readonly keepAliveTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
}

/**
 * The phase the connection's state calls for, or null to keep the current deadline: an idle
 * connection's counts from when it fell idle, not from the latest event.
 * `writing`: a file is being streamed, or responses wait in the socket's buffer.
 */
export function phaseFor(current: Phase, readingBody: boolean, writing: boolean, inFlight: boolean, inRequest: boolean): Phase | null {
  if (readingBody) return 'body';
  if (writing) return 'write';
  if (inFlight) return 'none';
  if (inRequest) return 'headers';
  return current === 'idle' ? null : 'idle';
}

/**
 * When `phase`, entered now, expires (ms on the monotonic clock); 0 for never. `requestBegan`: the
 * request's first byte. The clock is read only for the phases that count from now.
 */
export function deadlineOf(phase: Phase, settings: DeadlineSettings, requestBegan: number): number {
  switch (phase) {
    case 'body':
      return requestBegan + settings.requestTimeoutMs;
    case 'headers':
      return requestBegan + settings.headersTimeoutMs;
    case 'write':
    case 'idle':
      return performance.now() + settings.keepAliveTimeoutMs;
    case 'closing':
      return performance.now() + CLOSE_GRACE_MS;
    case 'none':
      return 0;
  }
}

/**
 * A connection's deadline: the phase it stands for and when that expires. The connection
 * tells it what it is doing (follow); the server's sweep asks what has expired.
 */
export class Deadline {
  /** When `phase` expires; 0 for never. */
  private at = 0;
  private phase: Phase = 'idle';
  /**
   * When the latest request began. A request answered at once (a cached file, OPTIONS) never
   * moves the phase off idle, so an idle deadline set before it counts from here instead.
   */
  private latestRequestBegan = 0;

  constructor(private readonly settings: DeadlineSettings) {}

  /** Enters `phase` now. `requestBegan`: the first byte of the request being read. */
  enter(phase: Phase, requestBegan: number): void {
    this.phase = phase;
    this.at = deadlineOf(phase, this.settings, requestBegan);
  }

  /** Enters, from now, the phase the connection's state calls for; an idle deadline is kept (see phaseFor). */
  follow(readingBody: boolean, writing: boolean, inFlight: boolean, inRequest: boolean, requestBegan: number): void {
    const phase = phaseFor(this.phase, readingBody, writing, inFlight, inRequest);
    if (phase !== null) this.enter(phase, requestBegan);
  }

  /** A request began at `began` (its first byte). */
  noteRequest(began: number): void {
    this.latestRequestBegan = began;
  }

  /** No deadline any more: the socket is gone. */
  clear(): void {
    this.at = 0;
  }

  /**
   * The phase whose deadline has passed by `now`, told once (there is no deadline after it);
   * null while none has. An idle deadline runs on to the latest request's first byte plus the
   * keep-alive timeout, if that is later.
   */
  expired(now: number): Phase | null {
    if (this.at === 0 || now < this.at) return null;
    if (this.phase === 'idle') {
      const idleUntil = this.latestRequestBegan + this.settings.keepAliveTimeoutMs;
      if (now < idleUntil) {
        this.at = idleUntil;
        return null;
      }
    }
    this.at = 0;
    return this.phase;
  }
}
