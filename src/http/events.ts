// What the HTTP engine reports as it runs. The admin side turns these into metrics; the
// engine itself knows nothing of Prometheus.
import type { SecurityRule } from '../core/refusals.js';

/**
 * `client_limit`: one client address holds MAX_CONNECTIONS_PER_CLIENT connections already.
 * `queue_timeout`: a job waited JOB_TIMEOUT_MS for a worker; `worker_lost`: its worker died, or
 * the pool stopped at shutdown, before starting it.
 */
export type RejectionReason = 'queue_full' | 'queue_timeout' | 'worker_lost' | 'connection_limit' | 'draining' | 'body_memory' | 'client_limit';

/**
 * Why PROXY_PROTOCOL closed a connection unanswered: `untrusted_proxy`, its peer is outside
 * TRUSTED_PROXIES; `proxy_header`, what it sent is no valid header, or it closed part-way
 * through one; `proxy_header_timeout`, no complete header within HEADERS_TIMEOUT_MS. One the
 * peer closes before its first byte (a balancer's TCP health check) is no refusal.
 */
export type ProxyRefusal = 'untrusted_proxy' | 'proxy_header' | 'proxy_header_timeout';

export interface ServerEvents {
  connectionOpened(): void;
  requestCompleted(method: string, status: number, seconds: number): void;
  /** A request, or a connection before any request was read, refused with 503 for the server's own reasons. */
  rejected(reason: RejectionReason): void;
  securityRejection(rule: SecurityRule): void;
  /** A connection PROXY_PROTOCOL closed before any request, a refusal of who sent it. */
  proxyRefused(reason: ProxyRefusal): void;
  uploadStored(bytes: number): void;
}
