// Where the JSON log lines go: stdout, through pino's asynchronous writer (sonic-boom), with
// limits. Left to its defaults the writer buffers every line while stdout is not read (a log
// driver stuck, a pipe nobody reads), so memory grows without end; pino throws a write error
// other than EPIPE (a full disk) as an uncaught exception; and its synchronous flush, run for a
// fatal line and at exit, retries a failing write forever, so the process never exits.
import { writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';
import { RateLimitedLog } from './log.js';

/**
 * Characters of log lines held while stdout is not read; past it each new line is dropped
 * whole and counted. A few seconds of access lines at full load, so a reader that only lags
 * loses nothing, and a small part of the memory bound (src/memory-bound.ts) for one that stalls.
 */
export const LOG_BUFFER_MAX_CHARS = 4 * 1024 * 1024;

/** How long a synchronous flush (a fatal line, the exit) waits for a stalled reader before it gives up the lines left. */
export const LOG_FLUSH_TIMEOUT_MS = 500;

/** Failures and drops are told on stderr at most this often. */
const REPORT_INTERVAL_MS = 1000;

/** Writes a line to stderr at once, or not at all: a stderr that is full or failing must not stop the server. */
export function writeToStderr(level: 'warn' | 'error' | 'fatal', fields: Record<string, unknown>, msg: string): void {
  try {
    // The shape of pino's lines, so a log shipper reading both streams parses these too.
    const line = `${JSON.stringify({ level, time: new Date().toISOString(), pid: process.pid, ...fields, msg })}\n`;
    // process.stderr first: for a pipe, opening it makes the descriptor non-blocking (libuv),
    // so a stalled reader fails this write (EAGAIN) instead of blocking the main thread.
    writeSync(process.stderr.fd, line);
  } catch {
    // Nowhere left to say it (or fields JSON cannot hold).
  }
}

/** The writer pino is given, and what it could not write. */
export class LogOutput {
  readonly stream: ReturnType<typeof pino.destination>;
  private dropped = 0;
  /** The code of the last write that failed, until one succeeds again. */
  private failure: string | null = null;
  /** Whether the last synchronous flush wrote every line held. */
  private flushedAll = true;
  /** Until when a synchronous flush retries a write the reader is not ready for (EAGAIN); none outside one. */
  private flushDeadline = Infinity;
  private readonly unboundedFlushSync: () => void;
  private readonly failureReports = new RateLimitedLog(REPORT_INTERVAL_MS);
  private readonly dropReports = new RateLimitedLog(REPORT_INTERVAL_MS);

  constructor(fd: number) {
    this.stream = pino.destination({
      fd,
      sync: false,
      maxLength: LOG_BUFFER_MAX_CHARS,
      // Asynchronous writes retry on a timer, which blocks nothing; a synchronous one sleeps.
      retryEAGAIN: () => performance.now() < this.flushDeadline,
    });
    // Our listener makes a write error an event, not an exception (pino rethrows it when it is the only one).
    this.stream.on('error', (error: NodeJS.ErrnoException) => this.failed(error.code ?? error.message));
    this.stream.on('write', () => (this.failure = null));
    this.stream.on('drop', () => this.droppedLine());
    this.unboundedFlushSync = this.stream.flushSync.bind(this.stream);
    // pino flushes synchronously after a fatal line and at exit: both get the bounded flush.
    this.stream.flushSync = () => this.flush();
  }

  /** Lines dropped because stdout was not taking them fast enough, since start. */
  get droppedLines(): number {
    return this.dropped;
  }

  /** Whether the last synchronous flush (pino's, after a fatal line) wrote every line held. */
  get lastFlushWroteAll(): boolean {
    return this.flushedAll;
  }

  /**
   * Writes what is held, waiting at most LOG_FLUSH_TIMEOUT_MS for a stalled reader. A failing
   * stdout is not tried: sonic-boom's synchronous flush retries any error but EAGAIN forever.
   */
  private flush(): void {
    this.flushedAll = false;
    if (this.failure !== null) return;
    this.flushDeadline = performance.now() + LOG_FLUSH_TIMEOUT_MS;
    try {
      this.unboundedFlushSync();
      this.flushedAll = true;
    } catch {
      // EAGAIN past the deadline: the lines left are given up.
    } finally {
      this.flushDeadline = Infinity;
    }
  }

  private failed(code: string): void {
    this.failure = code;
    // After EPIPE pino stops writing for good: the reader has gone, and no line reaches it again.
    const msg = code === 'EPIPE' ? 'logging to stdout failed: the reader closed it (EPIPE); log lines are discarded from now on' : `logging to stdout failed (${code}): lines are held up to the buffer's limit, then dropped and counted in http_server_log_lines_dropped_total`;
    this.failureReports.maybe((suppressed) => writeToStderr('error', { code, suppressed }, msg));
  }

  private droppedLine(): void {
    this.dropped++;
    this.dropReports.maybe(() => writeToStderr('warn', { dropped: this.dropped }, 'log lines dropped: stdout is not taking them as fast as they come (counted in http_server_log_lines_dropped_total)'));
  }
}

export function createLogger(level: Config['logLevel']): { log: Logger; output: LogOutput } {
  // process.stdout first, as pino's default destination does: for a pipe, opening it makes the
  // descriptor non-blocking (libuv), so a stalled reader makes writes wait on a timer rather
  // than hold a thread of libuv's pool, and lets a synchronous flush give up.
  const output = new LogOutput(process.stdout.fd);
  const log = pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    output.stream,
  );
  return { log, output };
}
