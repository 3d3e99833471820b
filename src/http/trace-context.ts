// The trace id of a request, after W3C Trace Context (https://www.w3.org/TR/trace-context/):
// taken from a valid `traceparent` header, or made up, so that every access log line can be
// found from a distributed trace and from the response. Pure apart from the random bytes.
import { randomFillSync } from 'node:crypto';

declare const traceIdBrand: unique symbol;
/** 32 lowercase hex digits, not all zero: safe to log and to echo in a header as it is. */
export type TraceId = string & { readonly [traceIdBrand]: true };

/** The response field that echoes the trace id (see docs/operations.md for why not `traceresponse`). */
export const TRACE_ID_FIELD = 'X-Trace-Id';

// version "-" trace-id "-" parent-id "-" trace-flags, then, from a later version only, "-" and
// fields this version knows nothing of, but never a comma: that is where a repeated header
// was joined. Lowercase hex only (HEXDIGLC in the spec's ABNF).
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-[^,]*)?$/;
const ALL_ZEROS = /^0+$/;

/**
 * The trace id of a `traceparent` value, or null when the value is absent or invalid (the
 * caller then starts a new trace; an invalid value is never an error). Version ff is
 * forbidden; version 00 has exactly four fields; a later version may add fields after a dash
 * (the spec's "Versioning of traceparent"). All-zero trace and parent ids are invalid. A
 * repeated header arrives joined with ", ", which no valid value matches, whatever its
 * versions: ignored, as the spec's test suite expects.
 */
export function traceIdFrom(traceparent: string | undefined): TraceId | null {
  if (traceparent === undefined) return null;
  const match = TRACEPARENT.exec(traceparent);
  if (match === null) return null;
  const [, version, traceId, parentId, laterFields] = match;
  if (version === 'ff' || (version === '00' && laterFields !== undefined)) return null;
  if (ALL_ZEROS.test(traceId!) || ALL_ZEROS.test(parentId!)) return null;
  return traceId as TraceId;
}

// A new id needs 16 random bytes. They are drawn from the system 4 KiB at a time: one
// randomFillSync call per 256 ids rather than one per request.
const TRACE_ID_BYTES = 16;
const randomBytes = Buffer.alloc(4096);
let nextRandomByte = randomBytes.length;
const INVALID_TRACE_ID = '0'.repeat(2 * TRACE_ID_BYTES);

/** A fresh random trace id, for a request that brought no valid one. */
export function newTraceId(): TraceId {
  if (nextRandomByte + TRACE_ID_BYTES > randomBytes.length) {
    randomFillSync(randomBytes);
    nextRandomByte = 0;
  }
  const id = randomBytes.toString('hex', nextRandomByte, nextRandomByte + TRACE_ID_BYTES);
  nextRandomByte += TRACE_ID_BYTES;
  // All zeros is an invalid trace id; 128 random bits never come up so, but refusing costs nothing.
  return id === INVALID_TRACE_ID ? newTraceId() : (id as TraceId);
}

/** The trace id of a request: its valid `traceparent`'s, or a new one. */
export function requestTraceId(traceparent: string | undefined): TraceId {
  return traceIdFrom(traceparent) ?? newTraceId();
}
