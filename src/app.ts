// Wires the parts together: access rules, uploads folder, worker pool, metrics, public and
// admin listeners.
import { realpathSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { TemporarySweep } from './abandoned-temporaries.js';
import { OneAtATime } from './core/one-at-a-time.js';
import { ADMIN_REFUSAL_MESSAGES, AdminServer, type AdminRefusal } from './admin/server.js';
import { ConfigError, defaultAllowedHosts, type Config } from './config.js';
import { Metrics } from './admin/metrics.js';
import type { JobResult, WorkerJob } from './core/job.js';
import { codeOf } from './error-code.js';
import { contentTable } from './handlers/content-types.js';
import type { ContentTable } from './handlers/files.js';
import { WORKER_HEAP_LIMITS, type WorkContext } from './handlers/work.js';
import type { AccessPolicy } from './http/access-policy.js';
import { BodyBudget } from './http/body-budget.js';
import { FdMonitor } from './http/fd-monitor.js';
import { ResponseCache } from './http/response-cache.js';
import type { ConnectionSettings } from './http/connection-settings.js';
import { HttpServer } from './http/server.js';
import { UploadTokens } from './http/upload-tokens.js';
import { ConditionLogs, RateLimitedLog } from './log.js';
import type { LogOutput } from './log-output.js';
import { memoryBound, memoryLimit, memoryLimitWarning, type MemoryBound } from './memory-bound.js';
import { transferList } from './pool/messages.js';
import { WorkerPool } from './pool/pool.js';
import { TokenSet } from './security/bearer.js';
import { AddressRanges } from './security/cidr.js';
import { ClientLimits } from './security/client-limits.js';
import { CorsPolicy } from './security/cors.js';
import { UploadLeftovers } from './upload-leftovers.js';
import { UploadsDisk } from './uploads-disk.js';
import { prepareUploads } from './uploads-folder.js';

export interface App {
  readonly config: Config;
  readonly log: Logger;
  readonly pool: WorkerPool<WorkerJob, JobResult>;
  /** The pool as the engine uses it, and what removes the temporaries of uploads whose worker stopped. */
  readonly uploadLeftovers: UploadLeftovers;
  readonly http: HttpServer;
  readonly admin: AdminServer;
  readonly metrics: Metrics;
  /** The removal of abandoned upload temporaries, begun once the server is ready; stopped on shutdown. */
  temporarySweep: TemporarySweep | null;
  /** The upload token file's poller, stopped on shutdown; null without tokens. */
  readonly uploadTokens: UploadTokens | null;
  /** Set when shutdown begins; readiness turns 503 at once. */
  shuttingDown: boolean;
}

/** How often open descriptors are counted (see fd-monitor.ts). */
const FD_CHECK_INTERVAL_MS = 1000;

/** Files up to this size travel from the worker in one transferred buffer; larger ones stream. */
const SMALL_FILE_BYTES = 64 * 1024;

/** Why a listener could not bind, by error code, and which setting to look at. */
const BIND_FAILURES: Readonly<Record<string, { readonly setting: 'host' | 'port' | 'sockets'; readonly problem: string }>> = {
  EADDRINUSE: { setting: 'port', problem: 'is in use by another process' },
  EACCES: { setting: 'port', problem: 'needs a privilege this process lacks (ports below 1024)' },
  EADDRNOTAVAIL: { setting: 'host', problem: 'is not an address of this machine' },
  ENOTFOUND: { setting: 'host', problem: 'does not resolve to an address' },
  EAI_AGAIN: { setting: 'host', problem: 'could not be resolved (DNS)' },
  // An IPv6 link-local address without its zone (fe80::1 rather than fe80::1%eth0), say.
  EINVAL: { setting: 'host', problem: 'cannot be listened on (a link-local IPv6 address needs its interface, such as %eth0)' },
  EMFILE: { setting: 'sockets', problem: 'cannot all be opened under the open-file limit: raise `ulimit -n`' },
};

/** The settings a listener's bind failure names: its host and port, and for the public port how many sockets share it. */
interface ListenerSettings {
  readonly host: string;
  readonly port: string;
  readonly sockets?: string;
}

/** A listener that cannot bind stops the start with one line naming the setting, like a bad value. */
async function bound<T>(listening: Promise<T>, names: ListenerSettings, host: string, port: number, sockets: number): Promise<T> {
  try {
    return await listening;
  } catch (error) {
    const failure = BIND_FAILURES[codeOf(error)];
    if (failure === undefined) throw error;
    const address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const what =
      failure.setting !== 'sockets' ? `${names[failure.setting]}: ${address} ${failure.problem}`
      : names.sockets !== undefined ? `${names.sockets}: ${sockets} listening sockets on ${address} ${failure.problem} or lower ${names.sockets}`
      : `${names.port}: ${address} ${failure.problem}`;
    throw new ConfigError(`invalid configuration: ${what} (${codeOf(error)})`);
  }
}

/** The extension table the workers classify files with; an unknown media type is a setting to fix. */
function checkedContentTable(config: Config): ContentTable {
  try {
    return contentTable(config);
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${(error as Error).message}`);
  }
}

/** Reads UPLOAD_TOKENS_FILE once; a file that cannot be used stops the start like a bad setting. */
function startUploadTokens(config: Config, log: Logger): UploadTokens | null {
  try {
    return UploadTokens.start({ listed: config.uploadTokens, file: config.uploadTokensFile, log });
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${(error as Error).message}`);
  }
}

/** Who may do what on the public port; the settings were checked by loadConfig. */
function accessPolicy(config: Config, uploadTokens: UploadTokens | null): AccessPolicy {
  return {
    proxyProtocol: config.proxyProtocol,
    trustedProxies: AddressRanges.parse(config.trustedProxies),
    limits: new ClientLimits({
      maxConnectionsPerClient: config.maxConnectionsPerClient,
      uploadRatePerMinute: config.uploadRatePerMinute,
      uploadBurst: config.uploadBurst,
      ipv6PrefixBits: config.clientIpv6Prefix,
    }),
    uploadTokens,
    cors: CorsPolicy.parse(config.corsOrigins, uploadTokens !== null),
  };
}

/** `host:port`, an IPv6 address in brackets (RFC 3986 §3.2.2), as a URL names it. */
function authorityOf(address: AddressInfo): string {
  return address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

/** The process's memory limit (null: none) and README's bound for the settings, as found at start. */
interface MemoryAtStart {
  readonly limitBytes: number | null;
  readonly bound: MemoryBound;
}

/** The start line says what runs, who may do what (token counts, never tokens) and the memory it may take. */
function logStart(app: App, address: AddressInfo, adminAddress: AddressInfo, allowedHosts: ReadonlySet<string>, memory: MemoryAtStart): void {
  const { config, log, uploadTokens } = app;
  log.info(
    {
      address: authorityOf(address),
      listenSockets: config.listenSockets,
      admin: authorityOf(adminAddress),
      workers: config.maxThreads,
      queueSize: config.queueSize,
      documentRoot: config.resourcesDir,
      uploads: config.uploadsDir,
      allowedHosts: [...allowedHosts],
      proxyProtocol: config.proxyProtocol,
      trustedProxies: config.trustedProxies,
      maxConnectionsPerClient: config.maxConnectionsPerClient,
      clientIpv6Prefix: config.clientIpv6Prefix,
      uploadRatePerMinute: config.uploadRatePerMinute,
      uploadBurst: config.uploadBurst,
      uploadAuthorization: uploadTokens === null ? 'none' : 'bearer token',
      uploadTokenCount: uploadTokens?.tokens.size ?? 0,
      corsOrigins: config.corsOrigins,
      minFreeDiskBytes: config.minFreeDiskBytes,
      metricsAuthorization: config.metricsToken === '' ? 'none' : 'bearer token',
      memoryBoundBytes: memory.bound.total,
      memoryLimitBytes: memory.limitBytes,
    },
    `listening on http://${authorityOf(address)}`,
  );
  if (uploadTokens === null) log.warn('uploads are open: anyone who can reach the port may POST /upload (set UPLOAD_TOKENS or UPLOAD_TOKENS_FILE)');
  else if (uploadTokens.tokens.size === 0) log.warn('UPLOAD_TOKENS_FILE holds no token: every upload is refused until one is added');
}

/**
 * Warns when the process's memory limit (a container's) is below README's bound for the
 * settings. Before the workers start: under a limit below what they take at rest the kernel
 * may kill the process while they do, and this line is then the only word of why.
 */
function warnAboutMemory(config: Config, log: Logger, { limitBytes, bound }: MemoryAtStart): void {
  const warning = memoryLimitWarning(limitBytes, config, bound);
  if (warning === null) return;
  log.warn({ memoryLimitBytes: limitBytes, memoryBoundBytes: bound.total, atRestBytes: bound.atRest }, warning);
}

/**
 * What every worker needs: the roots, the content table, the size limits. The roots are real
 * paths as the file system spells them (native: on macOS and Windows the JS realpath keeps the
 * case it was given), the form the workers' checks compare with.
 */
function workContext(config: Config): WorkContext {
  return {
    resourcesRoot: realpathSync.native(config.resourcesDir),
    uploadsRoot: realpathSync.native(config.uploadsDir),
    minFreeDiskBytes: config.minFreeDiskBytes,
    contentTable: checkedContentTable(config),
    smallFileBytes: SMALL_FILE_BYTES,
    cacheControl: config.cacheControl,
  };
}

/** The worker pool, running; `restarted` counts a replaced worker. */
async function startPool(config: Config, context: WorkContext, log: Logger, restarted: () => void): Promise<WorkerPool<WorkerJob, JobResult>> {
  const saturatedLog = new RateLimitedLog(1000);
  const dequeuedLog = new RateLimitedLog(1000);
  const pool = new WorkerPool<WorkerJob, JobResult>({
    size: config.maxThreads,
    queueSize: config.queueSize,
    jobTimeoutMs: config.jobTimeoutMs,
    workerFile: new URL('./worker.js', import.meta.url),
    workerData: context,
    resourceLimits: WORKER_HEAP_LIMITS,
    // An upload's body is moved to the worker, and storing it twice would duplicate it.
    transferOf: (job) => (job.kind === 'upload' ? transferList([job.body]) : []),
    mayRepeat: (job) => job.kind === 'static',
    events: {
      saturated: (stats) => saturatedLog.maybe((suppressed) => log.warn({ ...stats, suppressed }, 'pool saturated, request queued')),
      dequeued: (worker, waitedMs) => dequeuedLog.maybe((suppressed) => log.info({ worker, waitedMs, suppressed }, `dequeued, assigned to worker ${worker}`)),
      workerExited: (worker, error) => log.error({ worker, err: error ?? undefined }, `worker ${worker} died, replacing it`),
      workerTimedOut: (worker, heldMs) => log.error({ worker, heldMs, jobTimeoutMs: config.jobTimeoutMs }, `worker ${worker} held a job past the job timeout, terminating it`),
      workerRestarted: (worker) => {
        restarted();
        log.warn({ worker }, `worker ${worker} replaced`);
      },
    },
  });
  await pool.start();
  return pool;
}

function connectionSettings(config: Config, allowedHosts: ReadonlySet<string>): ConnectionSettings {
  return {
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    headersTimeoutMs: config.headersTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs,
    maxRequestsPerConnection: config.maxRequestsPerConnection,
    limits: { maxRequestLineBytes: config.maxRequestLineBytes, maxHeaderBytes: config.maxHeaderBytes, maxBodyBytes: config.maxBodyBytes },
    allowedHosts,
  };
}

/** The admin listener; ready while the public listener is bound, every worker lives and no shutdown has begun. */
function adminServer(config: Config, log: Logger, pool: App['pool'], http: HttpServer, metrics: Metrics, shuttingDown: () => boolean): AdminServer {
  // A scrape that fails fails the same way every time: once a second is enough to see why.
  const failedLog = new RateLimitedLog(1000);
  // A client over a cap tries again and again: each refusal is counted, told once a second.
  const refusalLogs: Record<AdminRefusal, RateLimitedLog> = { admin_client_limit: new RateLimitedLog(1000), admin_connection_limit: new RateLimitedLog(1000) };
  return new AdminServer({
    host: config.adminHost,
    port: config.adminPort,
    registry: metrics.registry,
    metricsTokens: config.metricsToken === '' ? null : new TokenSet([config.metricsToken]),
    ipv6PrefixBits: config.clientIpv6Prefix,
    answerFailed: (error) => failedLog.maybe((suppressed) => log.error({ err: error, suppressed }, 'admin port: an answer could not be made, 500')),
    connectionRefused: (reason, peer) => {
      metrics.adminConnectionRefused(reason);
      refusalLogs[reason].maybe((suppressed) => log.warn({ peer, reason, suppressed }, ADMIN_REFUSAL_MESSAGES[reason]));
    },
    notReadyReason: () => {
      if (shuttingDown()) return 'shutting down';
      if (!http.listening) return 'public listener not bound';
      if (!pool.healthy) return `worker pool degraded: ${pool.stats().workers}/${config.maxThreads} workers alive`;
      return null;
    },
  });
}

/** Timers that watch the running server: open descriptors, and the pool status line. */
function startMonitors(app: App): void {
  const { config, log, pool, http } = app;
  const fdMonitor = FdMonitor.forThisProcess(log, config.maxConnections, config.openFileLimit);
  if (fdMonitor !== null) setInterval(() => fdMonitor.check(), FD_CHECK_INTERVAL_MS).unref();
  if (config.poolStatusIntervalMs === 0) return;
  const timer = setInterval(() => {
    const { busy, workers, queued } = pool.stats();
    log.info({ busy, workers, queued, connections: http.openConnections }, `busy ${busy}/${workers}, queue ${queued}`);
  }, config.poolStatusIntervalMs);
  timer.unref();
}

/** `logOutput`: the writer behind `log`, whose dropped lines the metrics count. */
export async function startApp(config: Config, log: Logger, logOutput: Pick<LogOutput, 'droppedLines'>): Promise<App> {
  // First: a token file that cannot be used stops the start before anything runs.
  const uploadTokens = startUploadTokens(config, log);
  const access = accessPolicy(config, uploadTokens);
  prepareUploads(config.uploadsDir, log);
  // The folders as resolved now: the workers write there, so the disk gauges measure it and
  // stopped uploads' temporaries are removed from it, even once UPLOADS_DIR, a link, leads elsewhere.
  const context = workContext(config);
  const memory: MemoryAtStart = { limitBytes: memoryLimit(process.constrainedMemory()), bound: memoryBound(config) };
  warnAboutMemory(config, log, memory);
  let metrics: Metrics | null = null;
  const pool = await startPool(config, context, log, () => metrics?.workerRestarted()).catch((error: Error) => {
    // A worker needs descriptors of its own (its message ports, an event loop).
    if (!error.message.includes('EMFILE')) throw error;
    throw new ConfigError(`invalid configuration: MAX_THREADS: ${config.maxThreads} workers cannot all start under the open-file limit: raise \`ulimit -n\` or lower MAX_THREADS (EMFILE)`);
  });
  // Normalised entries (config.ts); the default ones are added once the port is known.
  const allowedHosts = new Set(config.allowedHosts);
  const bodies = new BodyBudget(config.maxBodyMemoryBytes, { perClient: config.maxBodyMemoryPerClientBytes, maxBodyBytes: config.maxBodyBytes });
  let http: HttpServer | null = null;
  const uploadsDisk = UploadsDisk.of(context.uploadsRoot);
  metrics = new Metrics({
    poolStats: () => pool.stats(),
    bodyBytes: () => bodies.heldBytes,
    openConnections: () => http?.openConnections ?? 0,
    queueCapacity: config.queueSize,
    uploadsDisk: () => uploadsDisk.latest(),
    trackedClients: () => access.limits.size,
    droppedLogLines: () => logOutput.droppedLines,
  });
  const cache = new ResponseCache(config.fileCacheMaxBytes, config.fileCacheTtlMs, pool);
  // One call at a time on the uploads folder, from the sweep and the removals alike (core/one-at-a-time.ts).
  const uploadsFolderCalls = new OneAtATime();
  const uploadLeftovers = new UploadLeftovers(pool, context.uploadsRoot, log, uploadsFolderCalls);
  http = new HttpServer({
    host: config.host,
    port: config.port,
    listenSockets: config.listenSockets,
    backlog: config.backlog,
    maxConnections: config.maxConnections,
    log,
    connection: { settings: connectionSettings(config, allowedHosts), jobs: uploadLeftovers, bodies, cache, events: metrics, log, conditionLogs: new ConditionLogs(1000), access },
  });
  const app: App = { config, log, pool, uploadLeftovers, http, metrics, uploadTokens, temporarySweep: null, shuttingDown: false, admin: adminServer(config, log, pool, http, metrics, () => app.shuttingDown) };
  const listening = http.listen((port) => {
    if (config.allowedHosts.length === 0) for (const host of defaultAllowedHosts(config.host, port)) allowedHosts.add(host);
  });
  const address = await bound(listening, { host: 'HOST', port: 'PORT', sockets: 'LISTEN_SOCKETS' }, config.host, config.port, config.listenSockets);
  const adminAddress = await bound(app.admin.listen(), { host: 'ADMIN_HOST', port: 'ADMIN_PORT' }, config.adminHost, config.adminPort, 1);
  logStart(app, address, adminAddress, allowedHosts, memory);
  startMonitors(app);
  // Once ready: the sweep reads the whole folder, which holds every upload stored, so neither
  // the start's time nor its memory may depend on it.
  app.temporarySweep = TemporarySweep.start({
    uploadsDir: context.uploadsRoot,
    jobTimeoutMs: config.jobTimeoutMs,
    log,
    inFlight: (name) => uploadLeftovers.isInFlight(name),
    folderCalls: uploadsFolderCalls,
  });
  return app;
}
