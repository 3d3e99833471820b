// Entry point: config -> logger -> fatal process errors -> pool -> listeners -> signals.
import { startApp, type App } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './log.js';
import { exitOnProcessErrors } from './process-errors.js';
import { handleSignals } from './shutdown.js';

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(2);
}

const log = createLogger(config.logLevel);
let app: App | null = null;
exitOnProcessErrors(log, () => app);
try {
  app = await startApp(config, log);
  handleSignals(app);
} catch (error) {
  log.fatal({ err: error }, 'failed to start');
  process.exit(1);
}
