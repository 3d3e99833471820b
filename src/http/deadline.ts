// Which timeout a connection's one deadline stands for (docs/architecture.md, "Deadline
// phase"): the connection says what it is doing, this says which phase applies and when it
// expires. Pure but for the clock, and nothing here allocates. Times are milliseconds on the
// monotonic clock (performance.now), which a step of the wall clock (NTP, a VM resumed) does
// not move: a step of Date.now would expire every deadline at once, or hold them off for as long.
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
