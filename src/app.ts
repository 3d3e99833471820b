// Wires the parts together: uploads folder, worker pool, metrics, public and admin listeners.
import { mkdirSync, readdirSync, realpathSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AdminServer } from './admin/server.js';
import { defaultAllowedHosts, type Config } from './config.js';
import { diskSpace } from './admin/disk-space.js';
import { Metrics } from './admin/metrics.js';
import type { Job, JobResult } from './core/job.js';
import { contentTable } from './handlers/content-types.js';
import { TEMP_PREFIX, TEMP_SUFFIX } from './handlers/upload-storage.js';
import { resultParts, WORKER_HEAP_LIMITS, type WorkContext } from './handlers/work.js';
import { BodyBudget } from './http/body-budget.js';
import { FdMonitor } from './http/fd-monitor.js';
import { ResponseCache } from './http/response-cache.js';
import { HttpServer } from './http/server.js';
import { RateLimitedLog } from './log.js';
import { transferList } from './pool/messages.js';
import { WorkerPool } from './pool/pool.js';
import { TokenSet } from './security/bearer.js';


export interface App {
  readonly config: Config;
  readonly log: Logger;
  readonly pool: WorkerPool<Job, JobResult>;
  readonly http: HttpServer;
  readonly admin: AdminServer;
  readonly metrics: Metrics;
  /** Set when shutdown begins; readiness turns 503 at once. */
  shuttingDown: boolean;
}

/** How often open descriptors are counted (see fd-monitor.ts). */
const FD_CHECK_INTERVAL_MS = 1000;

/** Files up to this size travel from the worker in one transferred buffer; larger ones stream. */
const SMALL_FILE_BYTES = 64 * 1024;

/** Creates the uploads folder and removes temporaries a crash may have left behind. */
function prepareUploads(uploadsDir: string, log: Logger): void {
  mkdirSync(uploadsDir, { recursive: true });
  for (const name of readdirSync(uploadsDir)) {
    if (name.startsWith(TEMP_PREFIX) && name.endsWith(TEMP_SUFFIX)) {
      unlinkSync(join(uploadsDir, name));
      log.warn({ file: name }, 'removed a stale upload temporary');
    }
  }
}

export async function startApp(config: Config, log: Logger): Promise<App> {
  prepareUploads(config.uploadsDir, log);
  const context: WorkContext = {
    resourcesRoot: realpathSync(config.resourcesDir),
    uploadsRoot: realpathSync(config.uploadsDir),
    minFreeDiskBytes: config.minFreeDiskBytes,
    contentTable: contentTable(config),
    smallFileBytes: SMALL_FILE_BYTES,
    cacheControl: config.cacheControl,
  };
  const saturatedLog = new RateLimitedLog(1000);
  const dequeuedLog = new RateLimitedLog(1000);
  let metrics: Metrics | null = null;
  const pool = new WorkerPool<Job, JobResult>({
    size: config.maxThreads,
    queueSize: config.queueSize,
    jobTimeoutMs: config.jobTimeoutMs,
    workerFile: new URL('./worker.js', import.meta.url),
    workerData: context,
    resourceLimits: WORKER_HEAP_LIMITS,
    // An upload's body is moved to the worker, and storing it twice would duplicate it.
    transferOf: (job) => (job.kind === 'upload' ? transferList([job.body]) : []),
    mayRepeat: (job) => job.kind === 'static',
    descriptorsOf: resultParts.descriptorsOf,
    events: {
      saturated: (stats) => saturatedLog.maybe((suppressed) => log.warn({ ...stats, suppressed }, 'pool saturated, request queued')),
      dequeued: (worker, waitedMs) => dequeuedLog.maybe((suppressed) => log.info({ worker, waitedMs, suppressed }, `dequeued, assigned to worker ${worker}`)),
      workerExited: (worker, error) => log.error({ worker, err: error ?? undefined }, `worker ${worker} died, replacing it`),
      workerTimedOut: (worker, heldMs) => log.error({ worker, heldMs, jobTimeoutMs: config.jobTimeoutMs }, `worker ${worker} held a job past the job timeout, terminating it`),
      workerRestarted: (worker) => {
        metrics?.workerRestarted();
        log.warn({ worker }, `worker ${worker} replaced`);
      },
    },
  });
  await pool.start();

  // Normalised entries (config.ts); the default ones are added once the port is known.
  const allowedHosts = new Set(config.allowedHosts);
  let http: HttpServer | null = null;
  const bodies = new BodyBudget(config.maxBodyMemoryBytes);
  metrics = new Metrics({
    poolStats: () => pool.stats(),
    bodyBytes: () => bodies.heldBytes,
    openConnections: () => http?.openConnections ?? 0,
    queueCapacity: config.queueSize,
    uploadsDisk: () => diskSpace(config.uploadsDir),
  });
  http = new HttpServer({
    host: config.host,
    port: config.port,
    listenSockets: config.listenSockets,
    backlog: config.backlog,
    maxConnections: config.maxConnections,
    log,
    connection: {
      settings: {
        keepAliveTimeoutMs: config.keepAliveTimeoutMs,
        headersTimeoutMs: config.headersTimeoutMs,
        requestTimeoutMs: config.requestTimeoutMs,
        maxRequestsPerConnection: config.maxRequestsPerConnection,
        limits: { maxRequestLineBytes: config.maxRequestLineBytes, maxHeaderBytes: config.maxHeaderBytes, maxBodyBytes: config.maxBodyBytes },
        allowedHosts,
      },
      jobs: pool,
      bodies,
      cache: new ResponseCache(config.fileCacheMaxBytes, config.fileCacheTtlMs, pool),
      events: metrics,
      log,
    },
  });
  const app: App = {
    config,
    log,
    pool,
    http,
    metrics,
    shuttingDown: false,
    admin: new AdminServer({
      host: config.adminHost,
      port: config.adminPort,
      registry: metrics.registry,
      metricsTokens: config.metricsToken === '' ? null : new TokenSet([config.metricsToken]),
      notReadyReason: () => {
        if (app.shuttingDown) return 'shutting down';
        if (!http.listening) return 'public listener not bound';
        const { workers } = pool.stats();
        if (!pool.healthy) return `worker pool degraded: ${workers}/${config.maxThreads} workers alive`;
        return null;
      },
    }),
  };
  const address = await http.listen((port) => {
    if (config.allowedHosts.length === 0) for (const host of defaultAllowedHosts(config.host, port)) allowedHosts.add(host);
  });
  const adminAddress = await app.admin.listen();
  log.info(
    {
      address: `${address.address}:${address.port}`,
      listenSockets: config.listenSockets,
      admin: `${adminAddress.address}:${adminAddress.port}`,
      workers: config.maxThreads,
      queueSize: config.queueSize,
      documentRoot: config.resourcesDir,
      uploads: config.uploadsDir,
      allowedHosts: [...allowedHosts],
      metricsAuthorization: config.metricsToken === '' ? 'none' : 'bearer token',
    },
    `listening on http://${address.address}:${address.port}`,
  );
  const fdMonitor = FdMonitor.forThisProcess(log, config.maxConnections);
  if (fdMonitor !== null) setInterval(() => fdMonitor.check(), FD_CHECK_INTERVAL_MS).unref();
  if (config.poolStatusIntervalMs > 0) {
    const timer = setInterval(() => {
      const { busy, workers, queued } = pool.stats();
      log.info({ busy, workers, queued, connections: http.openConnections }, `busy ${busy}/${workers}, queue ${queued}`);
    }, config.poolStatusIntervalMs);
    timer.unref();
  }
  return app;
}
