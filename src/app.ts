// Wires the parts together: uploads folder, worker pool, metrics, public and admin listeners.
import { mkdirSync, readdirSync, realpathSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { AdminServer } from './admin/server.js';
import { defaultAllowedHosts, type Config } from './config.js';
import { Metrics } from './admin/metrics.js';
import { contentTable } from './handlers/content-types.js';
import { ResponseCache } from './handlers/response-cache.js';
import type { WorkContext } from './handlers/work.js';
import { isAbandoned, isTemporary, thisProcess } from './handlers/upload-temporaries.js';
import { FdMonitor } from './http/fd-monitor.js';
import { HttpServer } from './http/server.js';
import { RateLimitedLog } from './log.js';
import { WorkerPool } from './pool/pool.js';


export interface App {
  readonly config: Config;
  readonly log: Logger;
  readonly pool: WorkerPool;
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

/**
 * Creates the uploads folder and removes temporaries a crash left behind. Replicas may share
 * the folder: only provably abandoned ones go (see upload-temporaries.ts).
 */
function prepareUploads(uploadsDir: string, jobTimeoutMs: number, log: Logger): void {
  mkdirSync(uploadsDir, { recursive: true });
  const self = thisProcess();
  const now = Date.now();
  for (const name of readdirSync(uploadsDir)) {
    if (!isTemporary(name)) continue;
    const path = join(uploadsDir, name);
    try {
      if (!isAbandoned(name, statSync(path).mtimeMs, now, self, jobTimeoutMs)) continue;
      unlinkSync(path);
      log.warn({ file: name }, 'removed a stale upload temporary');
    } catch (error) {
      // Another replica starting at the same time removed it first.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

export async function startApp(config: Config, log: Logger): Promise<App> {
  prepareUploads(config.uploadsDir, config.jobTimeoutMs, log);
  const context: WorkContext = {
    resourcesRoot: realpathSync(config.resourcesDir),
    uploadsRoot: realpathSync(config.uploadsDir),
    contentTable: contentTable(config),
    smallFileBytes: SMALL_FILE_BYTES,
    cacheControl: config.cacheControl,
  };
  const saturatedLog = new RateLimitedLog(1000);
  const dequeuedLog = new RateLimitedLog(1000);
  let metrics: Metrics | null = null;
  const pool = new WorkerPool({
    size: config.maxThreads,
    queueSize: config.queueSize,
    jobTimeoutMs: config.jobTimeoutMs,
    workerFile: new URL('./pool/worker.js', import.meta.url),
    workerData: context,
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

  // Filled in as soon as the port is known, before the first connection is accepted.
  const allowedHosts = new Set(config.allowedHosts.map((host) => host.toLowerCase()));
  let http: HttpServer | null = null;
  metrics = new Metrics({ poolStats: () => pool.stats(), openConnections: () => http?.openConnections ?? 0 });
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
      dispatch: (work, transfer, done) => pool.submit(work, transfer, done),
      cache: new ResponseCache(config.fileCacheMaxBytes, config.fileCacheTtlMs),
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
      notReadyReason: () => {
        if (app.shuttingDown) return 'shutting down';
        if (!http.listening) return 'public listener not bound';
        const { workers } = pool.stats();
        if (!pool.healthy) return `worker pool degraded: ${workers}/${config.maxThreads} workers alive`;
        return null;
      },
    }),
  };
  const address = await http.listen();
  if (allowedHosts.size === 0) for (const host of defaultAllowedHosts(config.host, address.port)) allowedHosts.add(host);
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
