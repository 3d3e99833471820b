// JSON lines on stdout through pino.
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export function createLogger(level: Config['logLevel']): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}

/** Lets a message through at most once per interval and counts the ones it held back. */
export class RateLimitedLog {
  private last = 0;
  private suppressed = 0;

  constructor(private readonly intervalMs: number) {}

  /** Calls `write` with the number suppressed since the last write, or does nothing. */
  maybe(write: (suppressed: number) => void): void {
    const now = Date.now();
    if (now - this.last < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.last = now;
    write(this.suppressed);
    this.suppressed = 0;
  }
}

/**
 * One RateLimitedLog per message, for conditions that many requests meet at once (a disk
 * below its free-space minimum): the first says it, the rest are counted. The messages are
 * constants of the code, so the map stays small.
 */
export class ConditionLogs {
  private readonly byMessage = new Map<string, RateLimitedLog>();

  constructor(private readonly intervalMs: number) {}

  of(message: string): RateLimitedLog {
    let limited = this.byMessage.get(message);
    if (limited === undefined) this.byMessage.set(message, (limited = new RateLimitedLog(this.intervalMs)));
    return limited;
  }
}
