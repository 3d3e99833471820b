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
    if (!check.ok) return { kind: 'reject', refusal: check.refusal, detail: check.detail, headers: check.headers };
  }
  const admission = access.limits.takeUpload(client);
  if (!admission.ok) return { kind: 'reject', refusal: 'upload_rate', detail: 'upload rate exceeded', headers: [['Retry-After', String(admission.retryAfterSeconds)]] };
  // Each upload makes a new document: /upload itself has no current representation, so any
  // If-Match is false and the method must not run (RFC 9110 §13.1.1). Evaluated last, as
  // preconditions are when the answer without them would be a 2xx (§13.2.1).
  // Nothing is stored, so nothing is spent either.
  if (head.headers['if-match'] !== undefined) {
    access.limits.returnUpload(client);
    return { kind: 'reject', refusal: 'upload_if_match', detail: 'If-Match on /upload, which has no current representation' };
  }
  return null;
}
