// The Prometheus registry: the metric names are the admin contract (docs/operations.md).
// Gauges of live state read the pool and server when scraped; counters follow events.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ProxyRefusal, RejectionReason, ServerEvents } from '../http/events.js';
import type { PoolStats } from '../pool/pool.js';
import type { DiskSpace } from '../core/disk-space.js';
import type { SecurityRule } from '../core/refusals.js';
import { STANDARD_METHODS } from '../core/routes.js';
import type { AdminRefusal } from './server.js';

export interface LiveState {
  poolStats(): PoolStats;
  openConnections(): number;
  /** Request-body bytes held in memory (see http/body-budget.ts). */
  bodyBytes(): number;
  /** QUEUE_SIZE: jobs that may wait for a worker before 503. */
  readonly queueCapacity: number;
  /** Space on the uploads file system as last read; null when it cannot be read. Must not block. */
  uploadsDisk(): DiskSpace | null;
  /** Client addresses the per-client limits remember now (see security/client-limits.ts). */
  trackedClients(): number;
  /** Log lines dropped since start because stdout did not take them (see log-output.ts). */
  droppedLogLines(): number;
}

/**
 * Method and status pairs whose label children are kept. Keyed by the method as sent, so that
 * the common case needs no label lookup: each odd method is a key of its own (all labelled
 * OTHER), and past this many the map starts afresh.
 */
const MAX_CACHED_SERIES = 256;

/** Methods outside the standard ones share one label value, so hostile clients cannot grow the series. */
function methodLabel(method: string): string {
  return STANDARD_METHODS.has(method) ? method : 'OTHER';
}

// A fast static server answers in well under a millisecond; the tail reaches into seconds.
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * prom-client keeps these gauges only for backward compatibility: each is the sum of its
 * `type`-labelled twin without the suffix (e.g. `nodejs_active_handles`), and a gauge named
 * `_total` breaks the Prometheus naming rules (`promtool check metrics` flags it).
 */
const DEPRECATED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

// Every label value of the two rejection counters (the security one counts PROXY refusals and
// the admin port's too), so each series exists (at 0) from the start and rate() and alerts work
// before the first event. A Record fails to compile when a new reason is added to the union but not here.
const REJECTION_REASONS: Record<RejectionReason, true> = { queue_full: true, queue_timeout: true, worker_lost: true, connection_limit: true, draining: true, body_memory: true, client_limit: true };
const SECURITY_RULES: Record<SecurityRule, true> = {
  bad_path: true,
  traversal: true,
  hidden_file: true,
  outside_root: true,
  missing_host: true,
  invalid_host: true,
  host_not_allowed: true,
  unauthorized: true,
  upload_rate: true,
  body_memory_share: true,
  bad_forwarded_source: true,
};
const PROXY_REFUSALS: Record<ProxyRefusal, true> = { untrusted_proxy: true, proxy_header: true, proxy_header_timeout: true };
const ADMIN_REFUSALS: Record<AdminRefusal, true> = { admin_client_limit: true, admin_connection_limit: true };

/**
 * The server-error series the alerts divide by, at 0 from the start like the rejection
 * reasons: a series born with a burst of errors has that burst as its first sample, which
 * rate() cannot see.
 */
const FAILURES_AT_ZERO: ReadonlyArray<readonly [method: string, status: string]> = [
  ['GET', '500'],
  ['GET', '503'],
  ['HEAD', '500'],
  ['HEAD', '503'],
  ['POST', '500'],
  ['POST', '503'],
  ['POST', '507'],
];

/** One method and status pair: its prom-client children and the durations not yet observed. */
interface RequestSeries {
  readonly count: Counter.Internal;
  readonly duration: Histogram.Internal<'method' | 'status'>;
  readonly durations: number[];
}

/** Completed requests kept before they are handed to prom-client in one go. */
const FLUSH_EVERY = 1024;

/** Gauges read from the live state when scraped. */
function registerLiveGauges(live: LiveState, registers: Registry[]): void {
  new Gauge({ name: 'http_server_queue_depth', help: 'Jobs waiting for a worker', registers, collect() { this.set(live.poolStats().queued); } });
  new Gauge({ name: 'http_server_queue_capacity', help: 'Jobs that may wait for a worker before 503 (QUEUE_SIZE)', registers, collect() { this.set(live.queueCapacity); } });
  new Gauge({ name: 'http_server_busy_workers', help: 'Workers running a job now', registers, collect() { this.set(live.poolStats().busy); } });
  new Gauge({ name: 'http_server_workers', help: 'Live workers in the pool', registers, collect() { this.set(live.poolStats().workers); } });
  new Gauge({ name: 'http_server_open_connections', help: 'Open client connections, those still reading their PROXY header included', registers, collect() { this.set(live.openConnections()); } });
  new Gauge({ name: 'http_server_tracked_clients', help: 'Clients (IPv4 addresses, IPv6 networks) the per-client limits remember: holding a connection, or with an upload bucket refilling', registers, collect() { this.set(live.trackedClients()); } });
  new Gauge({ name: 'http_server_body_memory_bytes', help: 'Request-body bytes held in memory, received or waiting for a worker', registers, collect() { this.set(live.bodyBytes()); } });
  // NaN when statfs fails or hangs: no value rather than a made-up one (an alert on it stays silent).
  new Gauge({ name: 'http_server_uploads_free_bytes', help: 'Bytes an unprivileged user may still write on the uploads file system', registers, collect() { this.set(live.uploadsDisk()?.freeBytes ?? NaN); } });
  new Gauge({ name: 'http_server_uploads_size_bytes', help: 'Size of the uploads file system', registers, collect() { this.set(live.uploadsDisk()?.sizeBytes ?? NaN); } });
}

export class Metrics implements ServerEvents {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'status'>;
  private readonly duration: Histogram<'method' | 'status'>;
  private readonly rejections: Counter<'reason'>;
  private readonly connections: Counter;
  private readonly securityRejections: Counter<'reason'>;
  private readonly workerRestarts: Counter;
  private readonly uploads: Counter;
  private readonly uploadBytes: Counter;
  private readonly requestSeries = new Map<string, RequestSeries>();
  /** Observations recorded but not yet handed to prom-client (see requestCompleted). */
  private unflushed = 0;

  constructor(live: LiveState) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    for (const name of DEPRECATED_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
    registerLiveGauges(live, registers);
    this.rejections = new Counter({ name: 'http_server_rejected_total', help: 'Requests, or connections before any request, refused with 503 for the server\'s own reasons: a limit hit, or a job no worker ran', labelNames: ['reason'], registers });
    // A scrape first hands over what requestCompleted has kept, so it reads exact values.
    const flush = (): void => this.flushRequests();
    this.requests = new Counter({ name: 'http_server_requests_total', help: 'Requests answered, or left unanswered when their connection closed (under their status if begun, else 499 or 503), by method and status', labelNames: ['method', 'status'], registers, collect: flush });
    this.duration = new Histogram({
      name: 'http_server_request_duration_seconds',
      help: 'Time from a complete request head to the last response byte written',
      labelNames: ['method', 'status'],
      buckets: DURATION_BUCKETS,
      registers,
      collect: flush,
    });
    this.connections = new Counter({ name: 'http_server_connections_total', help: 'Connections accepted for serving: within the connection caps and, with PROXY_PROTOCOL, their header read', registers });
    this.workerRestarts = new Counter({ name: 'http_server_worker_restarts_total', help: 'Workers replaced after they died', registers });
    this.securityRejections = new Counter({ name: 'http_server_security_rejections_total', help: 'Requests refused by a security rule, and connections closed unanswered: by PROXY_PROTOCOL, or by the admin port over its connection caps', labelNames: ['reason'], registers });
    this.uploads = new Counter({ name: 'http_server_uploads_total', help: 'JSON documents stored by POST /upload', registers });
    this.uploadBytes = new Counter({ name: 'http_server_upload_bytes_total', help: 'Bytes stored by POST /upload', registers });
    // Counted by the log's writer, which exists before the metrics: read when scraped.
    new Counter({
      name: 'http_server_log_lines_dropped_total',
      help: 'Log lines dropped because stdout was not taking them (its reader stalled or it failed) and the buffer was full, or its reader had closed it (EPIPE)',
      registers,
      collect() {
        this.reset();
        this.inc(live.droppedLogLines());
      },
    });
    for (const reason of Object.keys(REJECTION_REASONS)) this.rejections.inc({ reason }, 0);
    for (const [method, status] of FAILURES_AT_ZERO) this.requests.inc({ method, status }, 0);
    for (const reason of [...Object.keys(SECURITY_RULES), ...Object.keys(PROXY_REFUSALS), ...Object.keys(ADMIN_REFUSALS)]) this.securityRejections.inc({ reason }, 0);
  }

  connectionOpened(): void {
    this.connections.inc();
  }

  /**
   * Every prom-client update hashes its label object, a cost that showed per request
   * (bench/README.md). So durations are kept per series and handed over
   * in one loop every FLUSH_EVERY requests, and before every scrape.
   */
  requestCompleted(method: string, status: number, seconds: number): void {
    const key = `${method} ${status}`;
    let series = this.requestSeries.get(key);
    if (series === undefined) {
      const labels = { method: methodLabel(method), status: String(status) };
      series = { count: this.requests.labels(labels), duration: this.duration.labels(labels), durations: [] };
      if (this.requestSeries.size >= MAX_CACHED_SERIES) {
        // Only odd methods (each its own key, all labelled OTHER) get here: start afresh.
        this.flushRequests();
        this.requestSeries.clear();
      }
      this.requestSeries.set(key, series);
    }
    series.durations.push(seconds);
    if (++this.unflushed >= FLUSH_EVERY) this.flushRequests();
  }

  private flushRequests(): void {
    for (const series of this.requestSeries.values()) {
      if (series.durations.length === 0) continue;
      series.count.inc(series.durations.length);
      for (const seconds of series.durations) series.duration.observe(seconds);
      series.durations.length = 0;
    }
    this.unflushed = 0;
  }

  rejected(reason: RejectionReason): void {
    this.rejections.inc({ reason });
  }

  securityRejection(rule: SecurityRule): void {
    this.securityRejections.inc({ reason: rule });
  }

  proxyRefused(reason: ProxyRefusal): void {
    this.securityRejections.inc({ reason });
  }

  /** A connection the admin port closed unanswered over one of its caps. */
  adminConnectionRefused(reason: AdminRefusal): void {
    this.securityRejections.inc({ reason });
  }

  uploadStored(bytes: number): void {
    this.uploads.inc();
    this.uploadBytes.inc(bytes);
  }

  workerRestarted(): void {
    this.workerRestarts.inc();
  }
}
