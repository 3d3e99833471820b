// Configuration: one convict schema read from environment variables, `--kebab-case` flags
// and the seed's positional form `[port] [host] [max_threads]`. Bad values fail fast with one
// message that names the key, its variable and the value.
import convict from 'convict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CONFIG_FORMATS } from './config-formats.js';
import { openFileLimit } from './core/open-files.js';
import { canonicalAddress } from './security/address.js';
import { normalizeHost } from './security/host.js';

convict.addFormats(CONFIG_FORMATS);

/**
 * Listening sockets under `auto` on Linux (why several: see http/server.ts). Every supported
 * Node.js has `listen({ reusePort })`, but only Linux spreads connections over the sockets.
 * 256: libuv accepts one connection per socket per turn, and a burst of MAX_CONNECTIONS (1024)
 * reconnects must not wait dozens of turns (bench/README.md, 1000 connections).
 */
const AUTO_LISTEN_SOCKETS = 256;

/**
 * Under `auto`, the listening sockets take at most this share of the open-file limit: each is
 * a descriptor, and the connections, their files and the workers need the rest. With 256
 * sockets whatever the limit, `ulimit -n 256` stopped the default configuration at start.
 */
const AUTO_LISTEN_SOCKETS_SHARE = 1 / 16;

const schema = {
  host: { doc: 'Bind address of the public listener', format: 'bind-address', default: '127.0.0.1', env: 'HOST', arg: 'host' },
  port: { doc: 'Public port', format: 'tcp-port', default: 8080, env: 'PORT', arg: 'port' },
  maxThreads: { doc: 'Worker threads in the pool', format: 'positive-int', default: 10, env: 'MAX_THREADS', arg: 'max-threads' },
  queueSize: { doc: 'Jobs that may wait for a worker before 503', format: 'non-negative-int', default: 1024, env: 'QUEUE_SIZE', arg: 'queue-size' },
  listenSockets: { doc: 'Listening sockets sharing the public port (auto: on Linux, which spreads connections over them, 256 or a sixteenth of the open-file limit if fewer; else 1)', format: 'listen-sockets', default: 'auto' as number | 'auto', env: 'LISTEN_SOCKETS', arg: 'listen-sockets' },
  backlog: { doc: 'Accept queue of the public port, shared by its listening sockets (sized for a burst of MAX_CONNECTIONS connects)', format: 'positive-int', default: 1024, env: 'BACKLOG', arg: 'backlog' },
  keepAliveTimeoutMs: { doc: 'Idle time before a persistent connection is closed', format: 'duration-ms', default: 30_000, env: 'KEEP_ALIVE_TIMEOUT_MS', arg: 'keep-alive-timeout-ms' },
  maxRequestsPerConnection: { doc: 'Requests served on one connection before it closes', format: 'positive-int', default: 100, env: 'MAX_REQUESTS_PER_CONNECTION', arg: 'max-requests-per-connection' },
  headersTimeoutMs: { doc: 'Time allowed for a request line and headers to arrive', format: 'duration-ms', default: 10_000, env: 'HEADERS_TIMEOUT_MS', arg: 'headers-timeout-ms' },
  requestTimeoutMs: { doc: 'Time allowed for a whole request, body included, to arrive', format: 'duration-ms', default: 30_000, env: 'REQUEST_TIMEOUT_MS', arg: 'request-timeout-ms' },
  maxHeaderBytes: { doc: 'Largest header section served (431 beyond)', format: 'positive-int', default: 8192, env: 'MAX_HEADER_BYTES', arg: 'max-header-bytes' },
  maxRequestLineBytes: { doc: 'Longest request line served (414 beyond)', format: 'positive-int', default: 8192, env: 'MAX_REQUEST_LINE_BYTES', arg: 'max-request-line-bytes' },
  maxBodyBytes: { doc: 'Largest request body accepted (413 beyond)', format: 'positive-int', default: 1_048_576, env: 'MAX_BODY_BYTES', arg: 'max-body-bytes' },
  maxBodyMemoryBytes: { doc: 'Request-body bytes all requests together may hold in memory (503 beyond; at least MAX_BODY_BYTES)', format: 'positive-int', default: 64 * 1024 * 1024, env: 'MAX_BODY_MEMORY_BYTES', arg: 'max-body-memory-bytes' },
  maxBodyMemoryPerClientBytes: { doc: 'Request-body bytes one client may hold in memory (429 beyond; never less than MAX_BODY_BYTES)', format: 'positive-int', default: 8 * 1024 * 1024, env: 'MAX_BODY_MEMORY_PER_CLIENT_BYTES', arg: 'max-body-memory-per-client-bytes' },
  maxConnections: { doc: 'Open connections at most (503 beyond)', format: 'positive-int', default: 1024, env: 'MAX_CONNECTIONS', arg: 'max-connections' },
  resourcesDir: { doc: 'Document root', format: 'existing-directory', default: './resources', env: 'RESOURCES_DIR', arg: 'resources-dir' },
  uploadsDir: { doc: 'Where POST /upload writes (default <RESOURCES_DIR>/uploads)', format: String, default: '', env: 'UPLOADS_DIR', arg: 'uploads-dir' },
  allowedHosts: { doc: 'Host header values accepted; without a port, the default port 80 (default: localhost, 127.0.0.1, [::1] and HOST, each with PORT)', format: 'host-list', default: [] as string[], env: 'ALLOWED_HOSTS', arg: 'allowed-hosts' },
  inlineTypes: { doc: 'Media types shown in the browser', format: 'comma-list', default: ['text/html'], env: 'INLINE_TYPES', arg: 'inline-types' },
  downloadTypes: { doc: 'Media types sent as attachments', format: 'comma-list', default: ['text/plain', 'image/png', 'image/jpeg', 'application/json'], env: 'DOWNLOAD_TYPES', arg: 'download-types' },
  fileCacheTtlMs: { doc: 'How long the main thread answers a small file from memory (0 turns the cache off)', format: 'duration-ms-or-zero', default: 1000, env: 'FILE_CACHE_TTL_MS', arg: 'file-cache-ttl-ms' },
  fileCacheMaxBytes: { doc: 'Memory for cached small files', format: 'non-negative-int', default: 16 * 1024 * 1024, env: 'FILE_CACHE_MAX_BYTES', arg: 'file-cache-max-bytes' },
  cacheControl: { doc: 'Cache-Control of files from the document root', format: 'header-value', default: 'no-cache', env: 'CACHE_CONTROL', arg: 'cache-control' },
  adminHost: { doc: 'Bind address of the admin listener', format: 'bind-address', default: '127.0.0.1', env: 'ADMIN_HOST', arg: 'admin-host' },
  adminPort: { doc: 'Admin port (metrics, health probes)', format: 'tcp-port', default: 9090, env: 'ADMIN_PORT', arg: 'admin-port' },
  logLevel: { doc: 'pino log level', format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', env: 'LOG_LEVEL', arg: 'log-level' },
  jobTimeoutMs: { doc: 'A worker holding a job longer than this is terminated and replaced (the job gets 500)', format: 'duration-ms', default: 30_000, env: 'JOB_TIMEOUT_MS', arg: 'job-timeout-ms' },
  poolStatusIntervalMs: { doc: 'Interval of the pool status log line (0 turns it off)', format: 'duration-ms-or-zero', default: 10_000, env: 'POOL_STATUS_INTERVAL_MS', arg: 'pool-status-interval-ms' },
  shutdownDelayMs: { doc: 'Drain delay after SIGTERM before the listener stops accepting', format: 'duration-ms-or-zero', default: 0, env: 'SHUTDOWN_DELAY_MS', arg: 'shutdown-delay-ms' },
  shutdownTimeoutMs: { doc: 'Grace period for in-flight requests on SIGTERM/SIGINT', format: 'duration-ms', default: 10_000, env: 'SHUTDOWN_TIMEOUT_MS', arg: 'shutdown-timeout-ms' },
  proxyProtocol: { doc: 'Every connection on the public port starts with a PROXY protocol v1 or v2 header, from TRUSTED_PROXIES only', format: 'boolean-word', default: false, env: 'PROXY_PROTOCOL', arg: 'proxy-protocol' },
  trustedProxies: { doc: 'Addresses and CIDR blocks of the proxies whose PROXY header and X-Forwarded-For are believed', format: 'cidr-list', default: [] as string[], env: 'TRUSTED_PROXIES', arg: 'trusted-proxies' },
  clientIpv6Prefix: { doc: 'IPv6 clients sharing this many leading address bits count as one for the per-client limits (128: every address)', format: 'ipv6-prefix', default: 64, env: 'CLIENT_IPV6_PREFIX', arg: 'client-ipv6-prefix' },
  maxConnectionsPerClient: { doc: 'Connections one client may hold (503 beyond)', format: 'positive-int', default: 128, env: 'MAX_CONNECTIONS_PER_CLIENT', arg: 'max-connections-per-client' },
  uploadRatePerMinute: { doc: 'Uploads per minute one client earns back (429 beyond the burst; 0 turns the limit off)', format: 'non-negative-int', default: 60, env: 'UPLOAD_RATE_PER_MINUTE', arg: 'upload-rate-per-minute' },
  uploadBurst: { doc: 'Uploads one client may make at once before UPLOAD_RATE_PER_MINUTE applies', format: 'positive-int', default: 20, env: 'UPLOAD_BURST', arg: 'upload-burst' },
  uploadTokens: { doc: 'Bearer tokens that may POST /upload (unset with UPLOAD_TOKENS_FILE: uploads are open)', format: 'token-list', default: [] as string[], env: 'UPLOAD_TOKENS', arg: 'upload-tokens', sensitive: true },
  uploadTokensFile: { doc: 'File of bearer tokens that may POST /upload, one a line; read again when it changes', format: String, default: '', env: 'UPLOAD_TOKENS_FILE', arg: 'upload-tokens-file' },
  metricsToken: { doc: 'Bearer token /metrics requires (unset: /metrics is open); probes stay open', format: 'optional-token', default: '', env: 'METRICS_TOKEN', arg: 'metrics-token', sensitive: true },
  corsOrigins: { doc: 'Origins whose pages may POST /upload (CORS), or * for any; unset: no CORS headers', format: 'origin-list', default: [] as string[], env: 'CORS_ORIGINS', arg: 'cors-origins' },
  minFreeDiskBytes: { doc: 'Uploads get 507 when the uploads file system would keep less free space than this (0 turns the check off)', format: 'non-negative-int', default: 256 * 1024 * 1024, env: 'MIN_FREE_DISK_BYTES', arg: 'min-free-disk-bytes' },
};

/** Every setting's environment variable, in the schema's order. */
export const SETTING_NAMES: readonly string[] = Object.values(schema).map((entry) => entry.env);

type SchemaValues<S> = { [K in keyof S]: S[K] extends { default: infer D } ? D : never };
type RawConfig = SchemaValues<typeof schema>;

type ListKey = 'allowedHosts' | 'inlineTypes' | 'downloadTypes' | 'trustedProxies' | 'uploadTokens' | 'corsOrigins';

/** The validated configuration the server runs with; directories are absolute. */
export type Config = Readonly<Omit<RawConfig, ListKey | 'logLevel' | 'listenSockets'>> & {
  /** Resolved from `auto`: how many listening sockets share the public port. */
  readonly listenSockets: number;
  /**
   * The process's soft open-file limit, read once here (null: unknown or unlimited): `auto`
   * above is sized from it, and the descriptor monitor (http/fd-monitor.ts) watches against it.
   */
  readonly openFileLimit: number | null;
  /** Empty means "derive from HOST and the bound port", which app.ts does once listening (the port may be 0, chosen by the system). */
  readonly allowedHosts: readonly string[];
  readonly inlineTypes: readonly string[];
  readonly downloadTypes: readonly string[];
  readonly trustedProxies: readonly string[];
  readonly uploadTokens: readonly string[];
  readonly corsOrigins: readonly string[];
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
};

export class ConfigError extends Error {}

const POSITIONAL_FLAGS = ['--port', '--host', '--max-threads'] as const;
const USAGE = 'usage: server [port] [host] [max_threads] [--flags]';
const KNOWN_FLAGS = new Set(Object.values(schema).map((entry) => `--${entry.arg}`));

/** `--help` or `-h` among the arguments: print the settings rather than start. */
export const asksForHelp = (argv: readonly string[]): boolean => argv.some((arg) => arg === '--help' || arg === '-h');

/** The usage line, then every setting: its flag, variable and default, and what it means. */
export function helpText(): string {
  const lines = [USAGE, '', 'Every setting is a flag and an environment variable; a flag wins over its variable.'];
  for (const entry of Object.values(schema)) {
    const value = Array.isArray(entry.default) ? entry.default.join(',') : String(entry.default);
    lines.push('', `  --${entry.arg}, ${entry.env} (default: ${value === '' ? 'unset' : value})`, `      ${entry.doc}`);
  }
  return `${lines.join('\n')}\n`;
}

/** A flag as given on the command line, with its value if one came (`--flag=value` or `--flag value`). */
export interface FlagValue {
  readonly flag: string;
  readonly value: string | undefined;
}

/** Reads the command line: flags with their values, and `[port] [host] [max_threads]` as the flags they stand for. */
export function flagValues(argv: readonly string[]): FlagValue[] {
  const flags: FlagValue[] = [];
  let position = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--')) {
      const equals = arg.indexOf('=');
      const flag = equals === -1 ? arg : arg.slice(0, equals);
      // convict ignores flags it does not know: a misspelt one would be dropped in silence.
      // Named without its value, which may be a secret (`--upload-token=...`).
      if (!KNOWN_FLAGS.has(flag)) throw new ConfigError(`unknown option "${flag}" (${USAGE}; --help lists them)`);
      // a flag's value may follow as its own argument
      const followed = equals === -1 && i + 1 < argv.length && !argv[i + 1]!.startsWith('--');
      flags.push({ flag, value: equals !== -1 ? arg.slice(equals + 1) : followed ? argv[++i] : undefined });
      continue;
    }
    const flag = POSITIONAL_FLAGS[position++];
    if (flag === undefined) throw new ConfigError(`unexpected argument "${arg}" (${USAGE}; --help lists the flags)`);
    flags.push({ flag, value: arg });
  }
  return flags;
}

/**
 * A bind address in one spelling, so that addresses compare as addresses: an IP address in
 * canonical form (`0::0` is `::`, `::ffff:127.0.0.1` is `127.0.0.1`, what a dual-stack
 * socket bound to it takes), its zone kept; a host name lowercased.
 */
function bindSpelling(host: string): string {
  const zone = host.indexOf('%');
  const address = canonicalAddress(zone === -1 ? host : host.slice(0, zone));
  if (address === null) return host.toLowerCase();
  return zone === -1 ? address : `${address}${host.slice(zone)}`;
}

/** Whether a bind address is every interface: 0.0.0.0 or ::, however written. */
function listensEverywhere(host: string): boolean {
  const address = bindSpelling(host).split('%', 1)[0];
  return address === '0.0.0.0' || address === '::';
}

/** Every Host value a client on this address may send, derived from host and port, normalised. */
export function defaultAllowedHosts(host: string, port: number): string[] {
  const names = ['localhost', '127.0.0.1', '[::1]'];
  const configured = host.includes(':') ? `[${host}]` : host;
  if (!listensEverywhere(host)) names.push(configured);
  // A HOST no client can name in a Host header (an IPv6 zone, say) adds nothing.
  const normalized = names.map((name) => normalizeHost(`${name}:${port}`)).filter((entry) => entry !== null);
  return [...new Set(normalized)];
}

const envNameOf = (key: string): string => (schema as Record<string, { env: string }>)[key]?.env ?? key;

/** Each flag's variable, and whether the flag alone (no value) means true. */
const FLAG_SETTINGS = new Map(Object.values(schema).map((entry) => [`--${entry.arg}`, { env: entry.env, boolean: entry.format === 'boolean-word' }]));

/**
 * The environment with each flag set as the variable it stands for: a flag wins over its
 * variable, and the last of repeated flags wins. Flags are read here rather than by convict,
 * whose argument parser turns `0x10` or `1e4` into numbers and repeated flags into lists
 * before any format sees them.
 */
function withFlags(flags: readonly FlagValue[], env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const merged = { ...env };
  for (const { flag, value } of flags) {
    const setting = FLAG_SETTINGS.get(flag)!;
    merged[setting.env] = value ?? (setting.boolean ? 'true' : '');
  }
  return merged;
}

/** Keys whose values are secrets: never written in an error message or a log line. */
const SENSITIVE = new Set(Object.entries(schema).filter(([, entry]) => 'sensitive' in entry && entry.sensitive).map(([key]) => key));

/**
 * LISTEN_SOCKETS for this platform and soft open-file limit (null: unknown or unlimited):
 * `auto` resolved, more than one refused where the kernel cannot balance them. A number is
 * taken as given: if its sockets cannot all be opened, the start stops naming it (app.ts).
 */
export function resolveListenSockets(value: number | 'auto', platform: NodeJS.Platform, openFiles: number | null): number {
  const reusePort = platform === 'linux';
  if (value === 'auto') return reusePort ? autoListenSockets(openFiles) : 1;
  if (value > 1 && !reusePort) {
    throw new ConfigError(`invalid configuration: LISTEN_SOCKETS: more than one needs SO_REUSEPORT's load balancing, which ${platform} does not offer (Linux): value was "${value}"`);
  }
  return value;
}

/** `auto` where the kernel balances sockets: 256, or a sixteenth of the open-file limit if that is fewer, at least 1. */
function autoListenSockets(openFiles: number | null): number {
  if (openFiles === null) return AUTO_LISTEN_SOCKETS;
  return Math.max(1, Math.min(AUTO_LISTEN_SOCKETS, Math.floor(openFiles * AUTO_LISTEN_SOCKETS_SHARE)));
}

/** This process's soft open-file limit; null where /proc cannot tell. */
function openFileLimitOfThisProcess(): number | null {
  try {
    return openFileLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Whether two bind addresses can take the same port: the same address, or either every
 * interface. Compared as addresses, not as written: `HOST=0::0` or `::ffff:0.0.0.0` beside
 * the admin port would otherwise fail only at bind, as a port "in use by another process".
 */
function sharesAnAddress(host: string, other: string): boolean {
  return bindSpelling(host) === bindSpelling(other) || listensEverywhere(host) || listensEverywhere(other);
}

/** Reads and validates configuration; throws ConfigError with one clear line per problem. */
export function loadConfig(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Config {
  const given = withFlags(flagValues(argv), env);
  const config = convict(schema, { args: [], env: given });
  try {
    config.validate({ allowed: 'strict' });
  } catch (error) {
    const lines = (error as Error).message.split('\n').map((line) => {
      const key = line.split(':', 1)[0]!;
      const problem = line.slice(key.length + 1).trim();
      // convict leaves out values that are falsy (0, NaN, ""): name them too.
      const text = given[envNameOf(key)] ?? String(config.get(key as keyof RawConfig));
      const value = problem.includes('value was') || SENSITIVE.has(key) ? '' : `: value was ${JSON.stringify(text)}`;
      return `${envNameOf(key)}: ${problem}${value}`;
    });
    throw new ConfigError(`invalid configuration: ${lines.join('; ')}`);
  }
  const raw = config.getProperties() as RawConfig;
  if (raw.maxBodyMemoryBytes < raw.maxBodyBytes) {
    // No body of the largest accepted size could ever be read.
    throw new ConfigError(`invalid configuration: MAX_BODY_MEMORY_BYTES: must be at least MAX_BODY_BYTES (${raw.maxBodyBytes}): value was "${raw.maxBodyMemoryBytes}"`);
  }
  if (raw.adminPort === raw.port && raw.port !== 0 && sharesAnAddress(raw.host, raw.adminHost)) {
    throw new ConfigError(`invalid configuration: ADMIN_PORT: must differ from PORT on the same address (${raw.host}, ${raw.adminHost}): value was "${raw.adminPort}"`);
  }
  if (raw.proxyProtocol && raw.trustedProxies.length === 0) {
    throw new ConfigError('invalid configuration: PROXY_PROTOCOL: needs TRUSTED_PROXIES, the addresses of the load balancers that send the header (anyone else could claim any client address)');
  }
  const resourcesDir = resolve(raw.resourcesDir);
  const openFiles = openFileLimitOfThisProcess();
  return {
    ...raw,
    listenSockets: resolveListenSockets(raw.listenSockets, process.platform, openFiles),
    openFileLimit: openFiles,
    logLevel: raw.logLevel as Config['logLevel'],
    resourcesDir,
    uploadsDir: resolve(raw.uploadsDir === '' ? resolve(resourcesDir, 'uploads') : raw.uploadsDir),
  };
}
