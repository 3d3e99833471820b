// What the HTTP engine reports as it runs. The admin side turns these into metrics; the
// engine itself knows nothing of Prometheus.
import type { SecurityRule } from '../core/routes.js';

/**
 * `client_limit`: one client address holds MAX_CONNECTIONS_PER_CLIENT connections already.
 * `queue_timeout`: a job waited JOB_TIMEOUT_MS for a worker; `worker_lost`: its worker died, or
 * the pool stopped at shutdown, before starting it.
 */
export type RejectionReason = 'queue_full' | 'queue_timeout' | 'worker_lost' | 'connection_limit' | 'draining' | 'body_memory' | 'client_limit';

export interface ServerEvents {
  connectionOpened(): void;
  requestCompleted(method: string, status: number, seconds: number): void;
  /** A request, or a connection before any request was read, refused with 503 for the server's own reasons. */
  rejected(reason: RejectionReason): void;
  securityRejection(rule: SecurityRule): void;
  uploadStored(bytes: number): void;
}
