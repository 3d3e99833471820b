// How a request gets its response once it is read: routed (POST /upload through the upload
// gate), refusals and OPTIONS answered at once, small files from the cache, the rest by a job
// on the pool; and, once sent, counted and logged. Plain functions of the server's shared
// dependencies, so a connection allocates nothing for them; the connection owns the socket
// and the order in which responses leave.
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Job, JobResult, WorkLog } from '../core/job.js';
import type { RequestHead } from '../core/request.js';
import type { Response } from '../core/response.js';
import { securityRuleOf, type SecurityRule } from '../core/refusals.js';
import type { ConditionLogs } from '../log.js';
import type { JobOutcome, JobRunner } from '../pool/pool.js';
import type { CanonicalAddress } from '../security/address.js';
import type { AccessPolicy } from './access-policy.js';
import { failedJobResponse, immediateRouteResponse, neverRan, unavailable } from './answer.js';
import type { BodyShare } from './body-budget.js';
import type { ServerEvents } from './events.js';
import type { Exchange } from './exchange.js';
import type { ResponseCache } from './response-cache.js';
import { route, type ImmediateRoute, type Route } from './router.js';
import { gateUpload } from './upload-gate.js';

export interface DispatchDeps {
  readonly settings: { readonly allowedHosts: ReadonlySet<string> };
  /** Runs jobs off the main thread (the worker pool). */
  readonly jobs: JobRunner<Job, JobResult>;
  /** Small files the main thread answers itself, with no worker round trip. */
  readonly cache: ResponseCache;
  readonly events: ServerEvents;
  readonly log: Logger;
  /** The workers' logs of a condition of the whole server (`oncePerSecond`): one limit per message. */
  readonly conditionLogs: ConditionLogs;
  /** Trusted proxies, per-client limits, upload tokens, CORS. */
  readonly access: AccessPolicy;
}

/** The connection a request came on: where its response goes, now or when its job is done. */
export interface Responder {
  readonly id: number;
  respond(exchange: Exchange, response: Response): void;
}

/**
 * What happens to a request, decided from its head: refused first when a trusted proxy named
 * a source no client has, which leaves it no client to count against; else its route, and for
 * an upload the upload gate (its token, then its client's rate, which this spends).
 */
export function routeAndGate(deps: DispatchDeps, head: RequestHead, exchange: Exchange): Route {
  if (exchange.impossibleSource !== null) return impossibleSourceRefusal(exchange.impossibleSource);
  const decision = route(head, deps.settings.allowedHosts);
  if (decision.kind !== 'upload') return decision;
  return gateUpload(head, exchange.client, deps.access) ?? decision;
}

function impossibleSourceRefusal(source: CanonicalAddress): Route {
  return { kind: 'reject', refusal: 'bad_forwarded_source', detail: `X-Forwarded-For names ${source}, which no TCP client has` };
}

/**
 * An upload refused for a reason that is not its own (the server was busy, or its memory
 * full), or one a client could not have known to avoid (a chunked body found too large
 * midway, which announced at its head would have cost nothing): what the upload gate took
 * from its client's bucket goes back, so a client that retries as told does not empty it.
 */
export function giveUploadBack(deps: DispatchDeps, exchange: Exchange): void {
  deps.access.limits.returnUpload(exchange.client);
}

/** The response to a refusal or OPTIONS; a security refusal is counted and logged. */
export function immediateResponse(deps: DispatchDeps, connection: number, exchange: Exchange, decision: ImmediateRoute): Response {
  if (decision.kind === 'reject') {
    const rule = securityRuleOf(decision.refusal);
    if (rule !== undefined) {
      deps.events.securityRejection(rule);
      logSecurityRefusal(deps, rule, SECURITY_REFUSAL, { conn: connection, client: exchange.client, target: exchange.target, reason: decision.refusal, detail: decision.detail, traceId: exchange.traceId });
    }
  }
  return immediateRouteResponse(decision, exchange.method);
}

const SECURITY_REFUSAL = { level: 'warn', message: 'security refusal' } as const;

/**
 * A security refusal's line, at most once a second for each rule, with how many were held
 * back: the access line records every request already, and a client pipelining refused
 * requests must not turn each of its bytes into a dozen of log.
 */
function logSecurityRefusal(deps: DispatchDeps, rule: SecurityRule, { level, message }: Pick<WorkLog, 'level' | 'message'>, fields: Record<string, unknown>): void {
  deps.conditionLogs.of(`security refusal: ${rule}`).maybe((suppressed) => deps.log[level]({ ...fields, rule, suppressed }, message));
}

/**
 * Answers `job` from the cache, else through the pool, else (every worker busy and the queue
 * full) with 503. `share`, the memory of the request's body, is released once the job is done.
 */
export function dispatch(deps: DispatchDeps, to: Responder, exchange: Exchange, job: Job, share: BodyShare | null): void {
  if (job.kind === 'static') {
    const cached = deps.cache.lookup(job, performance.now());
    if (cached !== null) {
      exchange.answeredBy = 'cache';
      share?.release();
      return to.respond(exchange, cached);
    }
  }
  // Measured now: an upload's body moves to the worker with its job.
  const uploadBytes = job.kind === 'upload' ? job.body.length : 0;
  const submitted = deps.jobs.submit(job, (outcome) => {
    share?.release();
    to.respond(exchange, outcomeResponse(deps, to.id, exchange, job, outcome, uploadBytes));
  });
  if (!submitted) {
    share?.release();
    deps.events.rejected('queue_full');
    if (job.kind === 'upload') giveUploadBack(deps, exchange);
    to.respond(exchange, unavailable(exchange.method, 'queue_full'));
  }
}

/** A job's result becomes its response; what the worker reports is counted and logged. */
function outcomeResponse(deps: DispatchDeps, connection: number, exchange: Exchange, job: Job, outcome: JobOutcome<JobResult>, uploadBytes: number): Response {
  // A job no worker took is answered by the engine.
  exchange.answeredBy = outcome.workerId ?? 'engine';
  if (!outcome.ok) {
    deps.log.error({ conn: connection, worker: outcome.workerId, failure: outcome.failure, err: outcome.error, traceId: exchange.traceId }, 'job failed');
    // An upload's note is the name it was linked under: the document is in the folder.
    if (job.kind === 'upload' && outcome.note !== null) deps.events.uploadStored(uploadBytes);
    if (neverRan(outcome.failure)) {
      // Refused for the pool's own state, as a full queue is: a 503 with Retry-After.
      deps.events.rejected(outcome.failure === 'queue-timeout' ? 'queue_timeout' : 'worker_lost');
      if (job.kind === 'upload') giveUploadBack(deps, exchange);
    }
    return failedJobResponse(outcome.failure, job, exchange.method, outcome.note);
  }
  const { result } = outcome;
  if (result.cacheable !== undefined && job.kind === 'static') deps.cache.store(job, result.cacheable, performance.now());
  const refusal = result.response.refusal;
  const rule = refusal === undefined ? undefined : securityRuleOf(refusal);
  if (rule !== undefined) deps.events.securityRejection(rule);
  if (result.storedBytes !== undefined) deps.events.uploadStored(result.storedBytes);
  // Not stored, for the server's own reason (a folder it cannot write). Not a 507: the disk
  // guard weighs each upload's size, so a client could have large ones refused for free.
  else if (job.kind === 'upload' && result.response.status === 500) giveUploadBack(deps, exchange);
  if (result.log !== undefined) {
    const { level, message, oncePerSecond } = result.log;
    // A refusal's line names its code as `reason`, as its access line does; the worker's own words are `detail`.
    const fields = { conn: connection, client: exchange.client, target: exchange.target, worker: outcome.workerId, traceId: exchange.traceId, ...result.log.fields, reason: refusal };
    // A security refusal names its rule, as one made on the main thread does.
    if (rule !== undefined) logSecurityRefusal(deps, rule, result.log, fields);
    else if (oncePerSecond === undefined) deps.log[level](fields, message);
    else deps.conditionLogs.of(conditionOf(message, result.log.fields)).maybe((suppressed) => deps.log[level]({ ...fields, suppressed }, message));
  }
  return result.response;
}

/**
 * What a once-a-second log line stands for: its message, and the error code or the file when
 * it has one, so that a second failure (EACCES after ENOSPC), or the same one of a second
 * file, is told, not counted among the first's. Codes are errno names, a small fixed set;
 * files are the document root's, as many as it holds: ConditionLogs bounds what it keeps.
 */
function conditionOf(message: string, fields: WorkLog['fields']): string {
  const subject = fields?.code ?? fields?.file;
  return typeof subject === 'string' ? `${message} (${subject})` : message;
}

/** The access log's `worker`: null when the main thread answered. */
const workerOf = (exchange: Exchange): number | null => (typeof exchange.answeredBy === 'number' ? exchange.answeredBy : null);

/** What the log and metrics say of a request whose client closed the connection before any of its response was sent (nginx's 499). */
export const CLIENT_CLOSED = 499;

/**
 * The connection closed before `exchange`'s response was all sent: counted and logged like a
 * sent one, with `aborted` saying who closed it, so that requests clients give up on stay in
 * the latency figures. `status`: the response's, when it had begun; else CLIENT_CLOSED, or
 * 503 when the server cut it.
 */
export function abandoned(deps: DispatchDeps, connection: number, exchange: Exchange, status: number, by: 'client' | 'server'): void {
  recordRequest(deps, connection, exchange, status, undefined, undefined, by);
}

/** A response has been sent whole. */
export function completed(deps: DispatchDeps, connection: number, exchange: Exchange, status: number, bytes: number, keepAlive: boolean): void {
  recordRequest(deps, connection, exchange, status, bytes, keepAlive ? 'keep-alive' : 'close', undefined);
}

/**
 * Metrics and the access log line, whose fields are not even built when info is off. Of
 * `bytes` with `kept` (sent whole) and `aborted` (cut short), exactly one side is given, by
 * the two callers above; pino leaves out the fields that are undefined. A refusal's line
 * adds its `reason`, in a copy made for refusals alone: the field is not even present on
 * the line of a request served, which pays no more than the look at its response.
 */
function recordRequest(
  deps: DispatchDeps,
  connection: number,
  exchange: Exchange,
  status: number,
  bytes: number | undefined,
  kept: 'keep-alive' | 'close' | undefined,
  aborted: 'client' | 'server' | undefined,
): void {
  const seconds = (performance.now() - exchange.startedAt) / 1000;
  deps.events.requestCompleted(exchange.method, status, seconds);
  if (!deps.log.isLevelEnabled('info')) return;
  const ms = Math.round(seconds * 1e6) / 1e3;
  const fields = { conn: connection, client: exchange.client, method: exchange.method, path: exchange.target, status, bytes, aborted, ms, worker: workerOf(exchange), cached: exchange.answeredBy === 'cache', connection: kept, traceId: exchange.traceId };
  const reason = exchange.response?.refusal;
  deps.log.info(reason === undefined ? fields : { ...fields, reason }, 'request');
}
