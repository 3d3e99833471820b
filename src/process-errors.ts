// What an error nobody caught does to the process. An uncaught exception or an unhandled
// rejection on the main thread leaves state nobody can vouch for (Node.js documents that
// resuming after 'uncaughtException' is not safe), so the process logs it with its stack,
// stops accepting, and exits non-zero for the orchestrator to restart it. It does not drain:
// requests in flight get FATAL_GRACE_MS at most, not SHUTDOWN_TIMEOUT_MS.
import type { Logger } from 'pino';
import type { App } from './app.js';

/** How long requests in flight may take to finish before the process exits. */
export const FATAL_GRACE_MS = 1000;
/** The code Node.js itself exits with on an uncaught exception. */
export const FATAL_EXIT_CODE = 1;

/** Both listeners close at once; resolves once every connection has ended. */
async function stopAccepting(app: App): Promise<void> {
  await Promise.all([app.http.drain(0), app.admin.close()]);
}

/**
 * Makes uncaught exceptions and unhandled rejections fatal, the same way whatever
 * `--unhandled-rejections` says. `running` gives the app once it has started (null before).
 */
export function exitOnProcessErrors(log: Logger, running: () => App | null): void {
  let exiting = false;
  const fail = (message: string, error: unknown): void => {
    log.fatal({ err: error }, message);
    // A second error while stopping: nothing is left worth waiting for.
    if (exiting) process.exit(FATAL_EXIT_CODE);
    exiting = true;
    const app = running();
    const stopped = app === null ? Promise.resolve() : stopAccepting(app);
    const grace = new Promise((resolve) => setTimeout(resolve, FATAL_GRACE_MS));
    // pino flushes its pending lines on exit, so the fatal line is not lost.
    void Promise.race([stopped, grace]).finally(() => process.exit(FATAL_EXIT_CODE));
  };
  process.on('uncaughtException', (error) => fail('uncaught exception, exiting', error));
  process.on('unhandledRejection', (reason) => fail('unhandled rejection, exiting', reason));
}
