// Graceful shutdown on SIGTERM and SIGINT. The process handles the signals itself, so it
// behaves as PID 1 in a container with no init or shell to forward them.
import type { App } from './app.js';

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Exit codes: 0 clean, 1 connections had to be cut at the timeout, 130 a second signal. */
export async function shutdown(app: App, signal: string): Promise<number> {
  const { log, config } = app;
  app.shuttingDown = true;
  log.info({ signal, delayMs: config.shutdownDelayMs }, 'shutdown: not ready any more, draining');
  if (config.shutdownDelayMs > 0) await delay(config.shutdownDelayMs);

  log.info({ connections: app.http.openConnections }, 'shutdown: listener closed, finishing in-flight requests');
  const drained = app.http.drain().then(() => true);
  const timedOut = delay(config.shutdownTimeoutMs).then(() => false);
  const clean = await Promise.race([drained, timedOut]);
  let exitCode = 0;
  if (!clean) {
    const cut = app.http.destroyAll();
    log.warn({ connections: cut, timeoutMs: config.shutdownTimeoutMs }, 'shutdown: timeout reached, closed remaining connections');
    exitCode = 1;
  }
  await app.pool.close();
  log.info('shutdown: workers stopped');
  await app.admin.close();
  log.info({ exitCode }, 'shutdown complete');
  return exitCode;
}

export function handleSignals(app: App): void {
  let started = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (started) {
      app.log.warn({ signal }, 'shutdown: second signal, exiting now');
      process.exit(130);
    }
    started = true;
    shutdown(app, signal).then(
      (code) => process.exit(code),
      (error: Error) => {
        app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
