// Configuration: one convict schema read from environment variables, `--kebab-case` flags
// and the seed's positional form `[port] [host] [max_threads]`. Bad values fail fast with one
// message that names the key, its variable and the value.
import convict from 'convict';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { isBearerToken } from './security/bearer.js';
import { cidrProblem } from './security/cidr.js';
import { CorsPolicy } from './security/cors.js';
import { normalizeHost } from './security/host.js';

/**
 * Integers written in decimal digits only. Without a coerce of its own, convict reads a
 * number with parseFloat: `30s` would be 30, `256MiB` 256, `1e1` 10, and `0x3c` 0 (a rate
 * limit turned off).
 */
function integerFormat(name: string, min: number, max: number, problem: string): void {
  convict.addFormat({
    name,
    validate(value: unknown): void {
      if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) throw new Error(problem);
    },
    // Past 2^53 a number is no longer the digits written: those stay text, and are refused as such.
    coerce: (value: string): number | string => (/^\d+$/.test(value.trim()) && Number.isSafeInteger(Number(value)) ? Number(value) : value),
  });
}
integerFormat('positive-int', 1, Number.MAX_SAFE_INTEGER, 'must be a positive integer');
integerFormat('non-negative-int', 0, Number.MAX_SAFE_INTEGER, 'must be a non-negative integer');
// Times in ms go to timers, which take at most 2^31 - 1 ms (about 24.8 days) and fire at
// once for anything larger: a grace period of 3e9 ms would cut every request at shutdown.
const MAX_TIMER_MS = 2 ** 31 - 1;
integerFormat('duration-ms', 1, MAX_TIMER_MS, `must be a number of milliseconds from 1 to ${MAX_TIMER_MS}`);
integerFormat('duration-ms-or-zero', 0, MAX_TIMER_MS, `must be a number of milliseconds from 0 to ${MAX_TIMER_MS}`);
// A prefix shorter than /32 (what a registry allots one provider) would lump providers together.
integerFormat('ipv6-prefix', 32, 128, 'must be an integer from 32 to 128');

const commaList = {
  validate(value: unknown): void {
    if (!Array.isArray(value)) throw new Error('must be a comma-separated list');
  },
  coerce: (value: string): string[] => value.split(',').map((item) => item.trim()).filter((item) => item !== ''),
};
convict.addFormat({ name: 'comma-list', ...commaList });

// `true`/`false` (or 1/0, yes/no, on/off). convict's own Boolean takes every value but
// "false" as true, so PROXY_PROTOCOL=0 would turn the protocol on.
const BOOLEAN_WORDS: Readonly<Record<string, boolean>> = { true: true, '1': true, yes: true, on: true, false: false, '0': false, no: false, off: false };
convict.addFormat({
  name: 'boolean-word',
  validate(value: unknown): void {
    if (typeof value !== 'boolean') throw new Error('must be true or false');
  },
  coerce: (value: string): boolean | string => BOOLEAN_WORDS[value.trim().toLowerCase()] ?? value,
});

/** A comma list whose every entry passes `problem` (null when fine). */
function checkedList(name: string, problem: (entry: string, index: number) => string | null): void {
  convict.addFormat({
    name,
    validate(value: unknown): void {
      commaList.validate(value);
      (value as string[]).forEach((entry, index) => {
        const found = problem(entry, index);
        if (found !== null) throw new Error(found);
      });
    },
    coerce: commaList.coerce,
  });
}
checkedList('cidr-list', (entry) => cidrProblem(entry));
// Secrets: a problem names the entry's position, never its text.
const TOKEN_SYNTAX = 'letters, digits, - . _ ~ + / and = at the end only (RFC 6750 b64token)';
checkedList('token-list', (entry, index) => (isBearerToken(entry) ? null : `entry ${index + 1} is not a bearer token: ${TOKEN_SYNTAX}`));
convict.addFormat({
  name: 'optional-token',
  validate(value: unknown): void {
    if (typeof value !== 'string' || (value !== '' && !isBearerToken(value))) throw new Error(`not a bearer token: ${TOKEN_SYNTAX}`);
  },
});
convict.addFormat({
  name: 'origin-list',
  validate(value: unknown): void {
    commaList.validate(value);
    CorsPolicy.parse(value as string[], false);
  },
  coerce: commaList.coerce,
});

/** A port a client can connect to, written as clients write it: 1-65535, no leading zero. */
const isUsablePort = (port: string): boolean => /^[1-9]\d{0,4}$/.test(port) && Number(port) <= 65535;

// ALLOWED_HOSTS: normalised as it is read (see security/host.ts), so `example.com` means
// `example.com:80`; an entry left as given is not a host with an optional port.
convict.addFormat({
  name: 'host-list',
  validate(value: unknown): void {
    commaList.validate(value);
    const invalid = (value as string[]).find((entry) => normalizeHost(entry) !== entry || !isUsablePort(entry.slice(entry.lastIndexOf(':') + 1)));
    if (invalid !== undefined) throw new Error(`"${invalid}" is not a host with an optional port, such as example.com, example.com:8080 or [::1]:8080`);
    // A pattern would read as one but match nothing: Host values are compared whole.
    if ((value as string[]).some((entry) => entry.includes('*'))) throw new Error('takes host names, not patterns ("*" matches no Host)');
  },
  coerce: (value: string): string[] => commaList.coerce(value).map((entry) => normalizeHost(entry) ?? entry),
});

// PORT, ADMIN_PORT: digits only, without leading zeros (00080 is no port a client writes).
// convict's own `port` reads the value with parseInt, so `1e4` would bind port 1, `0x10` an
// ephemeral port and `8080abc` port 8080.
convict.addFormat({
  name: 'tcp-port',
  validate(value: unknown): void {
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 65535) throw new Error('must be a port number from 0 to 65535');
  },
  coerce: (value: string): number | string => (/^(0|[1-9]\d{0,4})$/.test(value.trim()) ? Number(value) : value),
});

// HOST, ADMIN_HOST: an IP address or a host name. An empty value (an unset variable in a
// compose file) would otherwise listen on every interface, the admin port included.
const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$/;
convict.addFormat({
  name: 'bind-address',
  validate(value: unknown): void {
    if (typeof value !== 'string' || (isIP(value) === 0 && !HOST_NAME.test(value))) {
      throw new Error('must be an IP address (0.0.0.0 or :: for every interface) or a host name');
    }
  },
});

// CACHE_CONTROL goes on the wire as it is: a control character (the newline a YAML block
// scalar ends with, or CR LF and a header of the attacker's) would break every response.
convict.addFormat({
  name: 'header-value',
  validate(value: unknown): void {
    if (typeof value !== 'string' || value === '' || /[\x00-\x08\x0a-\x1f\x7f]/.test(value) || value !== value.trim()) {
      throw new Error('must be a header field value: visible characters and inner spaces only, not empty');
    }
  },
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
 * Listening sockets under `auto` on Linux (why several: see http/server.ts). Every supported
 * Node.js has `listen({ reusePort })`, but only Linux spreads connections over the sockets.
 * 256: libuv accepts one connection per socket per turn, and a burst of MAX_CONNECTIONS (1024)
 * reconnects must not wait dozens of turns (bench/README.md, 1000 connections).
 */
const AUTO_LISTEN_SOCKETS = 256;

const existingDirectory = (value: unknown): void => {
  if (typeof value !== 'string' || value === '') throw new Error('must be a directory path');
  if (!existsSync(value) || !statSync(value).isDirectory()) throw new Error('directory does not exist');
  // One this process may not list and enter would answer every request with 403.
  try {
    accessSync(value, constants.R_OK | constants.X_OK);
  } catch {
    throw new Error('directory is not readable by this process');
  }
};

const schema = {
  host: { doc: 'Bind address of the public listener', format: 'bind-address', default: '127.0.0.1', env: 'HOST', arg: 'host' },
  port: { doc: 'Public port', format: 'tcp-port', default: 8080, env: 'PORT', arg: 'port' },
  maxThreads: { doc: 'Worker threads in the pool', format: 'positive-int', default: 10, env: 'MAX_THREADS', arg: 'max-threads' },
  queueSize: { doc: 'Jobs that may wait for a worker before 503', format: 'non-negative-int', default: 1024, env: 'QUEUE_SIZE', arg: 'queue-size' },
  listenSockets: { doc: 'Listening sockets sharing the public port (auto: 256 on Linux, which spreads connections over them; else 1)', format: 'listen-sockets', default: 'auto' as number | 'auto', env: 'LISTEN_SOCKETS', arg: 'listen-sockets' },
  backlog: { doc: 'Listen backlog (sized for a burst of MAX_CONNECTIONS connects)', format: 'positive-int', default: 1024, env: 'BACKLOG', arg: 'backlog' },
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
  resourcesDir: { doc: 'Document root', format: existingDirectory, default: './resources', env: 'RESOURCES_DIR', arg: 'resources-dir' },
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

type SchemaValues<S> = { [K in keyof S]: S[K] extends { default: infer D } ? D : never };
type RawConfig = SchemaValues<typeof schema>;

type ListKey = 'allowedHosts' | 'inlineTypes' | 'downloadTypes' | 'trustedProxies' | 'uploadTokens' | 'corsOrigins';

/** The validated configuration the server runs with; directories are absolute. */
export type Config = Readonly<Omit<RawConfig, ListKey | 'logLevel' | 'listenSockets'>> & {
  /** Resolved from `auto`: how many listening sockets share the public port. */
  readonly listenSockets: number;
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

/** Turns `[port] [host] [max_threads]` into the equivalent flags; flags pass through. */
export function positionalToFlags(argv: readonly string[]): string[] {
  const flags: string[] = [];
  let position = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--')) {
      // convict ignores flags it does not know: a misspelt one would be dropped in silence.
      // Named without its value, which may be a secret (`--upload-token=...`).
      const flag = arg.split('=', 1)[0]!;
      if (!KNOWN_FLAGS.has(flag)) throw new ConfigError(`unknown option "${flag}" (${USAGE})`);
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

/** Each flag's variable, and whether the flag alone (no value) means true. */
const FLAG_SETTINGS = new Map(Object.values(schema).map((entry) => [`--${entry.arg}`, { env: entry.env, boolean: entry.format === 'boolean-word' }]));

/**
 * The environment with each flag set as the variable it stands for: a flag wins over its
 * variable, and the last of repeated flags wins. Flags are read here rather than by convict,
 * whose argument parser turns `0x10` or `1e4` into numbers and repeated flags into lists
 * before any format sees them.
 */
function withFlags(flags: readonly string[], env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const merged = { ...env };
  for (let i = 0; i < flags.length; i++) {
    const [flag, ...rest] = flags[i]!.split('=');
    const setting = FLAG_SETTINGS.get(flag!)!;
    let value: string | undefined = rest.length > 0 ? rest.join('=') : undefined;
    if (value === undefined && i + 1 < flags.length && !flags[i + 1]!.startsWith('--')) value = flags[++i];
    merged[setting.env] = value ?? (setting.boolean ? 'true' : '');
  }
  return merged;
}

/** Keys whose values are secrets: never written in an error message or a log line. */
const SENSITIVE = new Set(Object.entries(schema).filter(([, entry]) => 'sensitive' in entry && entry.sensitive).map(([key]) => key));

/** LISTEN_SOCKETS for this platform: `auto` resolved, more than one refused where the kernel cannot balance them. */
export function resolveListenSockets(value: number | 'auto', platform: NodeJS.Platform): number {
  const reusePort = platform === 'linux';
  if (value === 'auto') return reusePort ? AUTO_LISTEN_SOCKETS : 1;
  if (value > 1 && !reusePort) {
    throw new ConfigError(`invalid configuration: LISTEN_SOCKETS: more than one needs SO_REUSEPORT's load balancing, which ${platform} does not offer (Linux): value was "${value}"`);
  }
  return value;
}

/** Whether two bind addresses can take the same port: the same one, or either every interface. */
function sharesAnAddress(host: string, other: string): boolean {
  const everyInterface = (address: string): boolean => address === '0.0.0.0' || address === '::';
  return host === other || everyInterface(host) || everyInterface(other);
}

/** Reads and validates configuration; throws ConfigError with one clear line per problem. */
export function loadConfig(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Config {
  const given = withFlags(positionalToFlags(argv), env);
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
  return {
    ...raw,
    listenSockets: resolveListenSockets(raw.listenSockets, process.platform),
    logLevel: raw.logLevel as Config['logLevel'],
    resourcesDir,
    uploadsDir: resolve(raw.uploadsDir === '' ? resolve(resourcesDir, 'uploads') : raw.uploadsDir),
  };
}
