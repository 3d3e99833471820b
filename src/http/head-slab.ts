// Puts a response head together in one piece: its start, the `X-Trace-Id` field and its
// connection fields, copied into a slice of a shared slab. The socket then takes the head as
// one chunk instead of three, and the trace id field costs no string or buffer of its own.
// A slice is never written again once handed out: a full slab is left to the slices that
// still point into it (and to the garbage collector), and a new one is started.
import { TRACE_ID_FIELD, type TraceId } from './trace-context.js';

const SLAB_BYTES = 64 * 1024;
const FIELD_START = Buffer.from(`${TRACE_ID_FIELD}: `, 'latin1');
const CRLF_BYTES = 2;
/** Slices start on 8-byte boundaries, so copies into them stay aligned. */
const ALIGN = 8;

let slab = Buffer.allocUnsafe(SLAB_BYTES);
let used = 0;

/** Room for `length` bytes: a slice of the slab, or a buffer of its own for an outsized head. */
function reserve(length: number): Buffer {
  if (length > SLAB_BYTES / 4) return Buffer.allocUnsafe(length);
  if (used + length > SLAB_BYTES) {
    slab = Buffer.allocUnsafe(SLAB_BYTES);
    used = 0;
  }
  const slice = slab.subarray(used, used + length);
  used = (used + length + ALIGN - 1) & ~(ALIGN - 1);
  return slice;
}

/**
 * The whole head: `start`, then `X-Trace-Id: <id>` CRLF, then `fieldLines` (more header lines,
 * CRLF included, latin1; usually empty), then `ending` (the connection fields and the empty line).
 */
export function assembleHead(start: Uint8Array, traceId: TraceId, fieldLines: string, ending: Uint8Array): Buffer {
  const fieldLength = FIELD_START.length + traceId.length + CRLF_BYTES + fieldLines.length;
  const head = reserve(start.length + fieldLength + ending.length);
  head.set(start, 0);
  let at = start.length;
  head.set(FIELD_START, at);
  at += FIELD_START.length;
  at += head.write(traceId, at, 'latin1');
  head[at++] = 0x0d;
  head[at++] = 0x0a;
  if (fieldLines !== '') at += head.write(fieldLines, at, 'latin1');
  head.set(ending, at);
  return head;
}
