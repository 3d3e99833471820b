// What an error nobody caught does to the process. An uncaught exception or an unhandled
// rejection on the main thread leaves state nobody can vouch for (Node.js documents that
// resuming after 'uncaughtException' is not safe), so the process logs it with its stack,
// stops accepting, and exits non-zero for the orchestrator to restart it. It does not drain:
// requests in flight get FATAL_GRACE_MS at most, not SHUTDOWN_TIMEOUT_MS. Nothing on the way
// may wait without end for stdout (log-output.ts: pino's synchronous flush writes nothing), or
// the process would neither exit nor answer.
import type { Logger } from 'pino';
import type { App } from './app.js';
import { writeToStderr, type LogOutput } from './log-output.js';

/** How long requests in flight may take to finish before the process exits. */
export const FATAL_GRACE_MS = 1000;
/** The code Node.js itself exits with on an uncaught exception. */
export const FATAL_EXIT_CODE = 1;

/** Both listeners close at once; resolves once every connection has ended. */
async function stopAccepting(app: App): Promise<void> {
  await Promise.all([app.http.drain(0), app.admin.close()]);
}

/** The error as text for stderr: its stack, or what it turns into (a rejection may be any value). */
function described(error: unknown): string {
  try {
    return error instanceof Error ? (error.stack ?? error.message) : String(error);
  } catch {
    return 'an error that cannot be described';
  }
}

/**
 * Logs the fatal line, and says it on stderr too: stdout takes it asynchronously, if at all (a
 * stalled or failing reader, an exit before the write), and the reason for a restart must not be lost.
 */
export function logFatal(log: Logger, message: string, error: unknown): void {
  log.fatal({ err: error }, message);
  writeToStderr('fatal', { err: described(error) }, message);
}

/**
 * Makes uncaught exceptions and unhandled rejections fatal, the same way whatever
 * `--unhandled-rejections` says. `running` gives the app once it has started (null before).
 */
export function exitOnProcessErrors(log: Logger, output: LogOutput, running: () => App | null): void {
  let exiting = false;
  const fail = (message: string, error: unknown): void => {
    logFatal(log, message, error);
    // A second error while stopping: nothing is left worth waiting for.
    if (exiting) process.exit(FATAL_EXIT_CODE);
    exiting = true;
    const app = running();
    const stopped = app === null ? Promise.resolve() : stopAccepting(app);
    const grace = new Promise((resolve) => setTimeout(resolve, FATAL_GRACE_MS));
    // Until the requests in flight end and stdout has taken the lines held, the fatal one among them.
    void Promise.race([Promise.all([stopped, output.settled(FATAL_GRACE_MS)]), grace]).finally(() => process.exit(FATAL_EXIT_CODE));
  };
  process.on('uncaughtException', (error) => fail('uncaught exception, exiting', error));
  process.on('unhandledRejection', (reason) => fail('unhandled rejection, exiting', reason));
}
