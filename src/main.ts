// Entry point: signals -> config -> logger (and misspelt variables) -> fatal process errors -> pool -> listeners.
// Only the signal handling is imported statically: the rest loads after its handlers are in
// place, so that a SIGTERM while the modules load is not dropped (as PID 1 it would be).
import type { App } from './app.js';
import type { Config } from './config.js';
import { handleSignals } from './shutdown.js';

const signals = handleSignals();

// Older runtimes lack what the server relies on (reusePort among others): say so plainly.
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(`rawhttp needs Node.js 22.12 or later; this is ${process.version}\n`);
  process.exit(2);
}

const { asksForHelp, ConfigError, helpText, loadConfig, SETTING_NAMES } = await import('./config.js');
if (asksForHelp(process.argv.slice(2))) {
  process.stdout.write(helpText());
  process.exit(0);
}
let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(2);
}

const { createLogger } = await import('./log-output.js');
const { misspeltSettings, misspellingWarning } = await import('./config-typos.js');
const { exitOnProcessErrors, FATAL_GRACE_MS, logFatal } = await import('./process-errors.js');
const { startApp } = await import('./app.js');
const { log, output } = createLogger(config.logLevel);
// A misspelt variable is ignored, leaving its setting at the default: say so before anything runs.
const misspelt = misspeltSettings(SETTING_NAMES, Object.keys(process.env));
if (misspelt.length > 0) log.warn({ misspelt: Object.fromEntries(misspelt.map(({ name, meant }) => [name, meant])) }, misspellingWarning(misspelt));
signals.logTo(log);
let app: App | null = null;
exitOnProcessErrors(log, output, () => app);
try {
  app = await startApp(config, log, output);
  signals.started(app);
} catch (error) {
  // A setting found bad only at start (an unreadable token file): one line, like the others.
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  logFatal(log, 'failed to start', error);
  await output.settled(FATAL_GRACE_MS);
  process.exit(1);
}
