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
