// What of a refused request was read, so that its answer and its log line can still be the
// request's own. Pure: the parser hands over its input and the line offsets it has scanned.
import type { RequestHead } from '../core/request.js';
import { isMethod, parseMethodAndTarget, trimOws, type RequestLine } from './request-grammar.js';

/**
 * How much of a refused request was read: its whole head (a body announced too large), so the
 * answer is the request's own; its request line, whose method and target were valid (a header
 * or the version was refused, or the head did not come in time), so the log names the request,
 * with any `traceparent` among the header lines read, so its trace goes on; or its method
 * alone (the line was too long, or its target invalid). With the method known, the answer to
 * a HEAD has no body. Else nothing of use.
 */
export type ReadSoFar =
  | { readonly kind: 'head'; readonly head: RequestHead }
  | { readonly kind: 'line'; readonly line: RequestLine; readonly traceparent: string | undefined }
  | { readonly kind: 'method'; readonly method: string }
  | { readonly kind: 'nothing' };

export const NOTHING_READ: ReadSoFar = { kind: 'nothing' };

/** The method of a refused request, when that much of it was read. */
export function methodRead(read: ReadSoFar): string | undefined {
  if (read.kind === 'head') return read.head.method;
  if (read.kind === 'line') return read.line.method;
  return read.kind === 'method' ? read.method : undefined;
}

/**
 * What an unfinished head names. `lines` holds the start and end of each complete line, and
 * `lineStart` the start of the line in progress, all relative to `offset` in `input`.
 */
export function headReadSoFar(input: Buffer, offset: number, lines: readonly number[], lineStart: number): ReadSoFar {
  const whole = lines.length >= 2;
  const start = offset + (whole ? lines[0]! : lineStart);
  const end = whole ? offset + lines[1]! : input.length;
  if (whole) {
    try {
      return { kind: 'line', line: parseMethodAndTarget(input.toString('latin1', start, end)), traceparent: traceparentAmong(input, offset, lines) };
    } catch {
      // Not a valid line: its method may still be.
    }
  }
  const space = input.indexOf(0x20, start);
  if (space === -1 || space >= end) return NOTHING_READ;
  const method = input.toString('latin1', start, space);
  return isMethod(method) ? { kind: 'method', method } : NOTHING_READ;
}

/**
 * The `traceparent` values among the header lines, joined as a repeated field is, each
 * trimmed as the parser trims a field: a value it would ignore on a served request (one
 * ending in 0xA0, say) must not be honoured on a refused one.
 */
function traceparentAmong(input: Buffer, offset: number, lines: readonly number[]): string | undefined {
  const values: string[] = [];
  for (let i = 2; i + 1 < lines.length; i += 2) {
    const line = input.toString('latin1', offset + lines[i]!, offset + lines[i + 1]!);
    if (/^traceparent:/i.test(line)) values.push(trimOws(line.slice('traceparent:'.length)));
  }
  return values.length === 0 ? undefined : values.join(', ');
}
