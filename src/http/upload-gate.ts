// POST /upload is decided at its head, before its body is read and before 100 Continue:
// a valid bearer token (when tokens are on), room in the client's upload bucket, then the
// request's preconditions.
// Pure apart from the bucket it takes from.
import type { RequestHead } from '../core/request.js';
import { checkBearer } from '../security/bearer.js';
import type { AccessPolicy } from './access-policy.js';
import type { Route } from './router.js';

type UploadRefusal = Extract<Route, { kind: 'reject' }>;

/**
 * Null when the upload may go on. The token comes first, so that a request without one
 * never spends the bucket of the client it comes from (behind a NAT, someone else's too).
 * The Authorization header is never part of the refusal: it must not reach a log.
 */
export function gateUpload(head: RequestHead, client: string, access: AccessPolicy): UploadRefusal | null {
  if (access.uploadTokens !== null) {
    const check = checkBearer(head.headers.authorization, access.uploadTokens.tokens);
    if (!check.ok) return { kind: 'reject', status: check.status, refusal: check.reason, reason: check.reason, rule: 'unauthorized', headers: check.headers };
  }
  const admission = access.limits.takeUpload(client);
  if (!admission.ok) return { kind: 'reject', status: 429, refusal: 'upload_rate', reason: 'upload rate exceeded', rule: 'upload_rate', headers: [['Retry-After', String(admission.retryAfterSeconds)]] };
  // Each upload makes a new document: /upload itself has no current representation, so any
  // If-Match is false and the method must not run (RFC 9110 §13.1.1). Evaluated last, as
  // preconditions are when the answer without them would be a 2xx (§13.2.1).
  // Nothing is stored, so nothing is spent either.
  if (head.headers['if-match'] !== undefined) {
    access.limits.returnUpload(client);
    return { kind: 'reject', status: 412, refusal: 'upload_if_match', reason: 'If-Match on /upload, which has no current representation' };
  }
  return null;
}
