// Entry point: config -> logger -> fatal process errors -> signals -> pool -> listeners.
import { startApp, type App } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './log.js';
import { exitOnProcessErrors } from './process-errors.js';
import { handleSignals } from './shutdown.js';

// Older runtimes lack what the server relies on (reusePort among others): say so plainly.
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(`rawhttp needs Node.js 22.12 or later; this is ${process.version}\n`);
  process.exit(2);
}

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
const started = handleSignals(log);
try {
  app = await startApp(config, log);
  started(app);
} catch (error) {
  // A setting found bad only at start (an unreadable token file): one line, like the others.
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  log.fatal({ err: error }, 'failed to start');
  process.exit(1);
}
