// Configuration: one convict schema read from environment variables, `--kebab-case` flags
// and the seed's positional form `[port] [host] [max_threads]`. Bad values fail fast with one
// message that names the key, its variable and the value.
import convict from 'convict';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { normalizeHost } from './security/host.js';

const positiveInt = (value: unknown): void => {
  if (!Number.isInteger(value) || (value as number) < 1) throw new Error('must be a positive integer');
};

const nonNegativeInt = (value: unknown): void => {
  if (!Number.isInteger(value) || (value as number) < 0) throw new Error('must be a non-negative integer');
};

const commaList = {
  validate(value: unknown): void {
    if (!Array.isArray(value)) throw new Error('must be a comma-separated list');
  },
  coerce: (value: string): string[] => value.split(',').map((item) => item.trim()).filter((item) => item !== ''),
};
convict.addFormat({ name: 'comma-list', ...commaList });

// ALLOWED_HOSTS: normalised as it is read (see security/host.ts), so `example.com` means
// `example.com:80`; an entry left as given is not a host with an optional port.
convict.addFormat({
  name: 'host-list',
  validate(value: unknown): void {
    commaList.validate(value);
    const invalid = (value as string[]).find((entry) => normalizeHost(entry) !== entry);
    if (invalid !== undefined) throw new Error(`"${invalid}" is not a host with an optional port, such as example.com, example.com:8080 or [::1]:8080`);
  },
  coerce: (value: string): string[] => commaList.coerce(value).map((entry) => normalizeHost(entry) ?? entry),
});

// LISTEN_SOCKETS: `auto`, or how many listening sockets share the public port.
const MAX_LISTEN_SOCKETS = 256;
convict.addFormat({
  name: 'listen-sockets',
  validate(value: unknown): void {
    if (value === 'auto') return;
    if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > MAX_LISTEN_SOCKETS) {
      throw new Error(`must be "auto" or an integer from 1 to ${MAX_LISTEN_SOCKETS}`);
    }
  },
  coerce: (value: string): number | string => (/^\d+$/.test(value) ? Number(value) : value),
});

/**
 * Whether this Node.js can put several listening sockets on one port (SO_REUSEPORT through
 * `listen({ reusePort })`: Linux, Node.js 22.12 / 23.1 and later).
 */
export function reusePortSupported(nodeVersion: string, platform: NodeJS.Platform): boolean {
  const [major = 0, minor = 0] = nodeVersion.split('.').map(Number);
  const added = major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
  return platform === 'linux' && added;
}

/** Listening sockets under `auto` where SO_REUSEPORT exists (why several: see http/server.ts). */
const AUTO_LISTEN_SOCKETS = 64;

const existingDirectory = (value: unknown): void => {
  if (typeof value !== 'string' || value === '') throw new Error('must be a directory path');
  if (!existsSync(value) || !statSync(value).isDirectory()) throw new Error('directory does not exist');
};

const schema = {
  host: { doc: 'Bind address of the public listener', format: String, default: '127.0.0.1', env: 'HOST', arg: 'host' },
  port: { doc: 'Public port', format: 'port', default: 8080, env: 'PORT', arg: 'port' },
  maxThreads: { doc: 'Worker threads in the pool', format: positiveInt, default: 10, env: 'MAX_THREADS', arg: 'max-threads' },
  queueSize: { doc: 'Jobs that may wait for a worker before 503', format: nonNegativeInt, default: 1024, env: 'QUEUE_SIZE', arg: 'queue-size' },
  listenSockets: { doc: 'Listening sockets sharing the public port (auto: 64 where SO_REUSEPORT is available, else 1)', format: 'listen-sockets', default: 'auto' as number | 'auto', env: 'LISTEN_SOCKETS', arg: 'listen-sockets' },
  backlog: { doc: 'Listen backlog (sized for a burst of MAX_CONNECTIONS connects)', format: positiveInt, default: 1024, env: 'BACKLOG', arg: 'backlog' },
  keepAliveTimeoutMs: { doc: 'Idle time before a persistent connection is closed', format: positiveInt, default: 30_000, env: 'KEEP_ALIVE_TIMEOUT_MS', arg: 'keep-alive-timeout-ms' },
  maxRequestsPerConnection: { doc: 'Requests served on one connection before it closes', format: positiveInt, default: 100, env: 'MAX_REQUESTS_PER_CONNECTION', arg: 'max-requests-per-connection' },
  headersTimeoutMs: { doc: 'Time allowed for a request line and headers to arrive', format: positiveInt, default: 10_000, env: 'HEADERS_TIMEOUT_MS', arg: 'headers-timeout-ms' },
  requestTimeoutMs: { doc: 'Time allowed for a whole request, body included, to arrive', format: positiveInt, default: 30_000, env: 'REQUEST_TIMEOUT_MS', arg: 'request-timeout-ms' },
  maxHeaderBytes: { doc: 'Largest header section served (431 beyond)', format: positiveInt, default: 8192, env: 'MAX_HEADER_BYTES', arg: 'max-header-bytes' },
  maxRequestLineBytes: { doc: 'Longest request line served (414 beyond)', format: positiveInt, default: 8192, env: 'MAX_REQUEST_LINE_BYTES', arg: 'max-request-line-bytes' },
  maxBodyBytes: { doc: 'Largest request body accepted (413 beyond)', format: positiveInt, default: 1_048_576, env: 'MAX_BODY_BYTES', arg: 'max-body-bytes' },
  maxConnections: { doc: 'Open connections at most (503 beyond)', format: positiveInt, default: 1024, env: 'MAX_CONNECTIONS', arg: 'max-connections' },
  resourcesDir: { doc: 'Document root', format: existingDirectory, default: './resources', env: 'RESOURCES_DIR', arg: 'resources-dir' },
  uploadsDir: { doc: 'Where POST /upload writes (default <RESOURCES_DIR>/uploads)', format: String, default: '', env: 'UPLOADS_DIR', arg: 'uploads-dir' },
  allowedHosts: { doc: 'Host header values accepted; without a port, the default port 80 (default: localhost, 127.0.0.1, [::1] and HOST, each with PORT)', format: 'host-list', default: [] as string[], env: 'ALLOWED_HOSTS', arg: 'allowed-hosts' },
  inlineTypes: { doc: 'Media types shown in the browser', format: 'comma-list', default: ['text/html'], env: 'INLINE_TYPES', arg: 'inline-types' },
  downloadTypes: { doc: 'Media types sent as attachments', format: 'comma-list', default: ['text/plain', 'image/png', 'image/jpeg', 'application/json'], env: 'DOWNLOAD_TYPES', arg: 'download-types' },
  fileCacheTtlMs: { doc: 'How long the main thread answers a small file from memory (0 turns the cache off)', format: nonNegativeInt, default: 1000, env: 'FILE_CACHE_TTL_MS', arg: 'file-cache-ttl-ms' },
  fileCacheMaxBytes: { doc: 'Memory for cached small files', format: nonNegativeInt, default: 16 * 1024 * 1024, env: 'FILE_CACHE_MAX_BYTES', arg: 'file-cache-max-bytes' },
  cacheControl: { doc: 'Cache-Control of files from the document root', format: String, default: 'no-cache', env: 'CACHE_CONTROL', arg: 'cache-control' },
  adminHost: { doc: 'Bind address of the admin listener', format: String, default: '127.0.0.1', env: 'ADMIN_HOST', arg: 'admin-host' },
  adminPort: { doc: 'Admin port (metrics, health probes)', format: 'port', default: 9090, env: 'ADMIN_PORT', arg: 'admin-port' },
  logLevel: { doc: 'pino log level', format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', env: 'LOG_LEVEL', arg: 'log-level' },
  jobTimeoutMs: { doc: 'A worker holding a job longer than this is terminated and replaced (the job gets 500)', format: positiveInt, default: 30_000, env: 'JOB_TIMEOUT_MS', arg: 'job-timeout-ms' },
  poolStatusIntervalMs: { doc: 'Interval of the pool status log line (0 turns it off)', format: nonNegativeInt, default: 10_000, env: 'POOL_STATUS_INTERVAL_MS', arg: 'pool-status-interval-ms' },
  shutdownDelayMs: { doc: 'Drain delay after SIGTERM before the listener stops accepting', format: nonNegativeInt, default: 0, env: 'SHUTDOWN_DELAY_MS', arg: 'shutdown-delay-ms' },
  shutdownTimeoutMs: { doc: 'Grace period for in-flight requests on SIGTERM/SIGINT', format: positiveInt, default: 10_000, env: 'SHUTDOWN_TIMEOUT_MS', arg: 'shutdown-timeout-ms' },
};

type SchemaValues<S> = { [K in keyof S]: S[K] extends { default: infer D } ? D : never };
type RawConfig = SchemaValues<typeof schema>;

/** The validated configuration the server runs with; directories are absolute. */
export type Config = Readonly<Omit<RawConfig, 'allowedHosts' | 'inlineTypes' | 'downloadTypes' | 'logLevel' | 'listenSockets'>> & {
  /** Resolved from `auto`: how many listening sockets share the public port. */
  readonly listenSockets: number;
  readonly allowedHosts: readonly string[];
  readonly inlineTypes: readonly string[];
  readonly downloadTypes: readonly string[];
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
};

export class ConfigError extends Error {}

const POSITIONAL_FLAGS = ['--port', '--host', '--max-threads'] as const;
const USAGE = 'usage: server [port] [host] [max_threads] [--flags]';
const KNOWN_FLAGS = new Set(Object.values(schema).map((entry) => `--${entry.arg}`));

/** Turns `[port] [host] [max_threads]` into the equivalent flags; flags pass through. */
export function positionalToFlags(argv: readonly string[]): string[] {
  const flags: string[] = [];
  let position = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--')) {
      // convict ignores flags it does not know: a misspelt one would be dropped in silence.
      if (!KNOWN_FLAGS.has(arg.split('=', 1)[0]!)) throw new ConfigError(`unknown option "${arg}" (${USAGE})`);
      flags.push(arg);
      // a flag's value may follow as its own argument
      if (!arg.includes('=') && i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) flags.push(argv[++i]!);
      continue;
    }
    const flag = POSITIONAL_FLAGS[position++];
    if (flag === undefined) throw new ConfigError(`unexpected argument "${arg}" (${USAGE})`);
    flags.push(`${flag}=${arg}`);
  }
  return flags;
}

/** Every Host value a client on this address may send, derived from host and port, normalised. */
export function defaultAllowedHosts(host: string, port: number): string[] {
  const names = ['localhost', '127.0.0.1', '[::1]'];
  const configured = host.includes(':') ? `[${host}]` : host;
  if (host !== '0.0.0.0' && host !== '::') names.push(configured);
  // A HOST no client can name in a Host header (an IPv6 zone, say) adds nothing.
  const normalized = names.map((name) => normalizeHost(`${name}:${port}`)).filter((entry) => entry !== null);
  return [...new Set(normalized)];
}

const envNameOf = (key: string): string => (schema as Record<string, { env: string }>)[key]?.env ?? key;

function resolveListenSockets(value: number | 'auto', reusePort: boolean): number {
  if (value === 'auto') return reusePort ? AUTO_LISTEN_SOCKETS : 1;
  if (value > 1 && !reusePort) {
    throw new ConfigError(
      `invalid configuration: LISTEN_SOCKETS: more than one needs SO_REUSEPORT, which Node.js ${process.version} on ${process.platform} does not offer (Linux, Node.js 22.12 or later): value was "${value}"`,
    );
  }
  return value;
}

/** Reads and validates configuration; throws ConfigError with one clear line per problem. */
export function loadConfig(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Config {
  const config = convict(schema, { args: positionalToFlags(argv), env });
  try {
    config.validate({ allowed: 'strict' });
  } catch (error) {
    const lines = (error as Error).message.split('\n').map((line) => {
      const key = line.split(':', 1)[0]!;
      const problem = line.slice(key.length + 1).trim();
      // convict leaves out values that are falsy (0, NaN, ""): name them too.
      const given = env[envNameOf(key)] ?? String(config.get(key as keyof RawConfig));
      const value = problem.includes('value was') ? '' : `: value was ${JSON.stringify(given)}`;
      return `${envNameOf(key)}: ${problem}${value}`;
    });
    throw new ConfigError(`invalid configuration: ${lines.join('; ')}`);
  }
  const raw = config.getProperties() as RawConfig;
  const resourcesDir = resolve(raw.resourcesDir);
  return {
    ...raw,
    listenSockets: resolveListenSockets(raw.listenSockets, reusePortSupported(process.versions.node, process.platform)),
    logLevel: raw.logLevel as Config['logLevel'],
    resourcesDir,
    uploadsDir: resolve(raw.uploadsDir === '' ? resolve(resourcesDir, 'uploads') : raw.uploadsDir),
    // Empty means "derive from HOST and the bound port", which app.ts does once listening
    // (the port may be 0, an ephemeral port chosen by the system).
    allowedHosts: raw.allowedHosts,
  };
}
