// The responses the engine makes itself: refusals and OPTIONS decided from the head, and the
// answer to a job that has no result. Pure.
import { errorResponse, jsonResponse, optionsResponse, refusalResponse, RETRY_IN_A_SECOND, storedUnconfirmedResponse, type Response } from '../core/response.js';
import type { Refusal } from '../core/refusals.js';
import { UPLOADS_PREFIX } from '../core/routes.js';
import { errorDocument } from '../core/status.js';
import type { Job } from '../core/job.js';
import type { JobFailure } from '../pool/pool.js';
import type { ImmediateRoute } from './router.js';

const MAY_BE_STORED = 'the server failed while storing the document: it may exist under /uploads; check before sending it again';


/** Answers that need no worker. */
export function immediateRouteResponse(decision: ImmediateRoute, method: string): Response {
  return decision.kind === 'options' ? optionsResponse(decision.allow) : refusalResponse(decision.refusal, method, decision.headers);
}

/** 503, try again in a second: every worker busy and the queue full, or a job that never ran. */
export function unavailable(method: string, refusal: Extract<Refusal, 'queue_full' | 'queue_timeout' | 'worker_lost'>): Response {
  return refusalResponse(refusal, method, RETRY_IN_A_SECOND);
}

/** The job failed before any worker ran it: nothing was done, and sending it again is safe. */
export function neverRan(failure: JobFailure): boolean {
  return failure === 'not-run' || failure === 'queue-timeout' || failure === 'closed';
}

/**
 * A job without a result. Where it never ran the client may simply retry (503). Where it ran,
 * an upload may have been stored, so the answer says so rather than invite a blind retry.
 */
export function failedJobResponse(failure: JobFailure, job: Job, method: string, note: string | null): Response {
  if (neverRan(failure)) return unavailable(method, failure === 'queue-timeout' ? 'queue_timeout' : 'worker_lost');
  if (job.kind !== 'upload') return errorResponse(500, method);
  // An upload's note is the name it was linked under: the document exists.
  if (note !== null) return storedUnconfirmedResponse(`${UPLOADS_PREFIX}/${note}`);
  return jsonResponse(500, errorDocument(MAY_BE_STORED));
}
