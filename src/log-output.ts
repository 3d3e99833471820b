// Where the JSON log lines go: stdout, through pino's asynchronous writer (sonic-boom), with
// limits. Left to its defaults the writer buffers every line while stdout is not read (a log
// driver stuck, a pipe nobody reads), so memory grows without end; pino throws a write error
// other than EPIPE (a full disk) as an uncaught exception; and its synchronous flush, run for a
// fatal line and at exit, retries a failing write forever, so the process never exits.
import { writeSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';
import { RateLimitedLog } from './log.js';

/**
 * Bytes (UTF-8) of log lines held while stdout is not read; past it each new line is dropped
 * whole and counted. Held as JavaScript strings, they take at most twice that. A few seconds of access lines at full load, so a reader that only lags
 * loses nothing, and a small part of the memory bound (src/memory-bound.ts) for one that stalls.
 */
export const LOG_BUFFER_MAX_BYTES = 4 * 1024 * 1024;

/** Failures and drops are told on stderr at most this often. */
const REPORT_INTERVAL_MS = 1000;

/** How often an exit that waits for stdout looks whether it has taken every line. */
const SETTLED_POLL_MS = 10;

/** How soon a write that failed (a full disk) is tried again, when no new line would try it. */
const RETRY_FAILED_WRITE_MS = 1000;

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
  /** The reader closed stdout (EPIPE): every line from then on is dropped. */
  private readerGone = false;
  private retry: NodeJS.Timeout | null = null;
  private readonly failureReports = new RateLimitedLog(REPORT_INTERVAL_MS);
  private readonly dropReports = new RateLimitedLog(REPORT_INTERVAL_MS);

  constructor(fd: number) {
    this.stream = pino.destination({
      fd,
      sync: false,
      maxLength: LOG_BUFFER_MAX_BYTES,
    });
    // Our listener makes a write error an event, not an exception (pino rethrows it when it is the only one).
    // pino's own listener hands the first error other than EPIPE on by emitting it again: told once.
    let lastError: unknown = null;
    this.stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error === lastError) return;
      lastError = error;
      this.failed(error.code ?? error.message);
    });
    this.stream.on('drop', () => this.droppedLine());
    // pino flushes synchronously after a fatal line and at exit. Every line held then waits
    // behind an asynchronous write under way (sonic-boom starts one whenever none is), and
    // only that write knows how much of its chunk the kernel took: a line written now could
    // land inside it. And sonic-boom's own flush retries a failing write (ENOSPC, EPIPE)
    // without end. So the flush writes nothing: the event loop writes what is held (an exit
    // waits for it: settled), and a fatal line goes to stderr too (process-errors.ts).
    this.stream.flushSync = () => undefined;
  }

  /**
   * Resolves once stdout has taken every line held (or its reader has gone), or after `ms`: an
   * exit that does not wait for it may leave the last lines, a fatal one too, unwritten.
   */
  settled(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timeout);
        clearInterval(poll);
        resolve();
      };
      const timeout = setTimeout(done, ms);
      const poll = setInterval(() => {
        if (this.nothingHeld()) done();
      }, SETTLED_POLL_MS);
      if (this.nothingHeld()) done();
    });
  }

  /** Lines dropped since start: stdout was not taking them fast enough, or its reader had closed it. */
  get droppedLines(): number {
    return this.dropped;
  }

  /** Whether stdout has taken every line: sonic-boom 4 counts what it holds in `_len`; another version's shape counts as holding some. */
  private nothingHeld(): boolean {
    return this.readerGone || (this.stream as unknown as { _len?: unknown })._len === 0;
  }

  private failed(code: string): void {
    if (code === 'EPIPE') this.dropFromNowOn();
    else this.retryLater();
    const msg = code === 'EPIPE' ? 'logging to stdout failed: the reader closed it (EPIPE); log lines no longer reach it and are counted in http_server_log_lines_dropped_total' : `logging to stdout failed (${code}): lines are held up to the buffer's limit, then dropped and counted in http_server_log_lines_dropped_total`;
    this.failureReports.maybe((suppressed) => writeToStderr('error', { code, suppressed }, msg));
  }

  /**
   * sonic-boom tries a failed write again only when a new line comes, and drops a line that
   * would take it past its cap before trying: once the lines held after a failure reach the
   * cap, nothing would try again, and logging would not resume when the disk has room. So a
   * timer tries, through sonic-boom's own write step (held lines go out in order, once).
   */
  private retryLater(): void {
    if (this.retry !== null) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      const writer = this.stream as unknown as { destroyed?: unknown; _writing?: unknown; _len?: unknown; _actualWrite?: unknown };
      // Nothing to try (the stream closed, a write under way, nothing held), or another sonic-boom than the one read here.
      if (writer.destroyed === true || writer._writing !== false || typeof writer._len !== 'number' || writer._len === 0 || typeof writer._actualWrite !== 'function') return;
      (writer._actualWrite as () => void).call(writer);
    }, RETRY_FAILED_WRITE_MS).unref();
  }

  /**
   * A pipe whose reader has closed never has one again: the lines held are dropped, and so is
   * each line from now on (pino, when EPIPE is the first failure, has already made the
   * stream's write do nothing). Counted here, in place of sonic-boom's write, so that the
   * lines written while stdout works pass no check for it.
   */
  private dropFromNowOn(): void {
    if (this.readerGone) return;
    this.readerGone = true;
    this.dropped += heldLineCount(this.stream);
    this.stream.write = () => {
      this.dropped++;
      return true;
    };
  }

  private droppedLine(): void {
    this.dropped++;
    this.dropReports.maybe(() => writeToStderr('warn', { dropped: this.dropped }, 'log lines dropped: stdout is not taking them as fast as they come (counted in http_server_log_lines_dropped_total)'));
  }
}

/** The lines sonic-boom holds, the one an asynchronous write has taken included; 0 for another version's shape. */
function heldLineCount(stream: unknown): number {
  const { _bufs: chunks, _writingBuf: taken } = stream as Partial<Record<'_bufs' | '_writingBuf', unknown>>;
  if (!Array.isArray(chunks)) return 0;
  let lines = 0;
  for (const chunk of [taken, ...chunks]) {
    // A chunk is a string, or a Buffer once part of it was written; each line ends with a newline.
    if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) lines += chunk.toString().split('\n').length - 1;
  }
  return lines;
}

export function createLogger(level: Config['logLevel']): { log: Logger; output: LogOutput } {
  // process.stdout first, as pino's default destination does: for a pipe, opening it makes the
  // descriptor non-blocking (libuv), so a stalled reader makes writes wait on a timer rather
  // than hold a thread of libuv's pool.
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
