// Graceful shutdown on SIGTERM and SIGINT. The process handles the signals itself, so it
// behaves as PID 1 in a container with no init or shell to forward them.
import { constants } from 'node:os';
import type { App } from './app.js';
import type { Logger } from 'pino';

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * How long an idle keep-alive connection stays open once the listener has closed: a client that
 * has just read a response promising keep-alive may already be sending its next request,
 * which is then served with `Connection: close` instead of meeting a closed connection.
 */
const IDLE_GRACE_MS = 1000;

/** How long a process that something still holds open may take to end after shutdown. */
const EXIT_GRACE_MS = 2000;

/**
 * How long the shutdown waits for each of its last steps: the workers to stop, the upload
 * temporaries they left to be removed, the sweep of stale ones to stop, the admin listener to close. A worker thread blocked
 * in a system call (an fsync on a hung NFS mount) stops only when the call returns, which may
 * be never; the shutdown completes without it.
 */
export const STOP_GRACE_MS = 1000;

/** Whether `stopping` settles within `ms`. */
async function settlesWithin(stopping: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([stopping.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Ends the process with `code` once the last log lines are written. pino writes stdout
 * asynchronously, and process.exit() right away could reorder or lose the final lines. With
 * listeners, connections and workers closed the event loop empties as soon as the writes are
 * done and the process ends by itself; the unref'd timer only ends one that something holds.
 */
function exitWhenIdle(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
}

/**
 * Readiness turns 503 at once; after SHUTDOWN_DELAY_MS (time for orchestrators to stop routing
 * here) the listener closes, in-flight requests finish with `Connection: close`, idle
 * connections close after a short grace, and the workers stop. Resolves with the exit code:
 * 0 when everything finished, 1 when connections had to be cut at SHUTDOWN_TIMEOUT_MS. The
 * workers, the removal of upload temporaries they left, the sweep of stale ones and the admin
 * listener get STOP_GRACE_MS each, so the whole is bounded.
 */
export async function shutdown(app: App, signal: string): Promise<number> {
  const { log, config } = app;
  app.shuttingDown = true;
  app.http.windDown();
  const sweepEnded = app.temporarySweep?.stop() ?? Promise.resolve();
  log.info({ signal, delayMs: config.shutdownDelayMs }, 'shutdown: not ready any more, draining');
  if (config.shutdownDelayMs > 0) await delay(config.shutdownDelayMs);

  // At most half the timeout, so an idle connection is never what the timeout has to cut.
  const idleGraceMs = Math.min(IDLE_GRACE_MS, Math.floor(config.shutdownTimeoutMs / 2));
  const drained = app.http.drain(idleGraceMs);
  log.info({ connections: app.http.openConnections, idleGraceMs, timeoutMs: config.shutdownTimeoutMs }, 'shutdown: listener closed, finishing in-flight requests');
  const clean = await settlesWithin(drained, config.shutdownTimeoutMs);
  let exitCode = 0;
  if (clean) {
    log.info('shutdown: all connections finished');
  } else {
    const cut = app.http.destroyAll();
    log.warn({ connections: cut, timeoutMs: config.shutdownTimeoutMs }, 'shutdown: timeout reached, closed remaining connections');
    exitCode = 1;
  }
  if (await settlesWithin(app.pool.close(), STOP_GRACE_MS)) log.info('shutdown: workers stopped');
  else log.warn({ graceMs: STOP_GRACE_MS }, 'shutdown: workers not stopped within the grace (a thread blocked in a system call); going on without them');
  // Uploads whose worker is still stuck can never be linked any more.
  if (!(await settlesWithin(app.uploadLeftovers.removeRemaining(), STOP_GRACE_MS))) log.warn({ graceMs: STOP_GRACE_MS }, 'shutdown: upload temporaries not removed within the grace; removed at the next start');
  if (!(await settlesWithin(sweepEnded, STOP_GRACE_MS))) log.warn({ graceMs: STOP_GRACE_MS }, 'shutdown: the removal of stale upload temporaries not stopped within the grace (a folder that hangs); going on');
  app.uploadTokens?.close();
  if (!(await settlesWithin(app.admin.close(), STOP_GRACE_MS))) log.warn({ graceMs: STOP_GRACE_MS }, 'shutdown: admin listener not closed within the grace; going on');
  log.info({ exitCode }, 'shutdown complete');
  return exitCode;
}

/** What the entry point tells the signal handling as start-up goes on. */
export interface StartingSignals {
  /** The logger exists: a signal from now on is logged when it comes. */
  logTo(log: Logger): void;
  /** The server has started: a signal that came before shuts it down now. */
  started(app: App): void;
}

/**
 * Installs SIGTERM and SIGINT handling before the server's modules load: as PID 1 in a
 * container a signal with no handler is dropped, so one sent during start-up would otherwise
 * be lost and the server would come up and serve. Such a signal shuts the server down as soon
 * as it has started. A second signal exits at once, with the shell's code for death by that
 * signal (128 + n).
 */
export function handleSignals(): StartingSignals {
  let log: Logger | null = null;
  let app: App | null = null;
  let received: NodeJS.Signals | null = null;
  /** Whether the signal that came during start-up has been logged (there may be no logger yet). */
  let noted = false;
  const noteEarly = (to: Logger, signal: NodeJS.Signals): void => {
    to.info({ signal }, 'shutdown: signal during start-up, shutting down once started');
    noted = true;
  };
  const begin = (started: App, signal: NodeJS.Signals): void => {
    shutdown(started, signal).then(exitWhenIdle, (error: Error) => {
      started.log.error({ err: error }, 'shutdown failed');
      exitWhenIdle(1);
    });
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received !== null) {
      const exitCode = 128 + constants.signals[signal];
      log?.warn({ signal, exitCode }, 'shutdown: second signal, exiting now');
      process.exit(exitCode);
    }
    received = signal;
    if (app !== null) begin(app, signal);
    else if (log !== null) noteEarly(log, signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    logTo(to) {
      log = to;
      if (received !== null && !noted) noteEarly(to, received);
    },
    started(started) {
      app = started;
      if (received !== null) begin(started, received);
    },
  };
}
