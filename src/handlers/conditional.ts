// Validators, preconditions, ranges and content negotiation for static files (RFC 9110
// §8.8, §13, §14, §12.5.3). Pure: the request's header values and the file's facts in,
// a decision out.

export interface FileFacts {
  readonly size: number;
  readonly mtimeMs: number;
  /** A strong entity tag, quotes included. */
  readonly etag: string;
}

/** The request headers these rules read (lowercased names, raw values). */
export interface ConditionalHeaders {
  readonly ifMatch?: string;
  readonly ifNoneMatch?: string;
  readonly ifModifiedSince?: string;
  readonly ifUnmodifiedSince?: string;
  readonly range?: string;
  readonly ifRange?: string;
}

export type Decision =
  | { readonly kind: 'full' }
  | { readonly kind: 'not-modified' }
  | { readonly kind: 'precondition-failed' }
  | { readonly kind: 'partial'; readonly start: number; readonly end: number }
  | { readonly kind: 'unsatisfiable' };

/** Strong ETag from size and modification time (and a variant suffix for encoded files). */
export function entityTag(size: number, mtimeMs: number, variant = ''): string {
  return `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}${variant === '' ? '' : `-${variant}`}"`;
}

/** HTTP dates have one-second resolution, so file times are compared in whole seconds. */
function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

function parseHttpDate(value: string | undefined): number | null {
  if (value === undefined) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

function entityTags(list: string): string[] {
  return list.split(',').map((tag) => tag.trim()).filter((tag) => tag !== '');
}

const opaque = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);

/** If-None-Match uses the weak comparison: W/"x" matches "x". */
function weakMatch(list: string, etag: string): boolean {
  return entityTags(list).some((tag) => tag === '*' || opaque(tag) === etag);
}

/** If-Match and If-Range use the strong comparison: weak tags never match. */
function strongMatch(list: string, etag: string): boolean {
  return entityTags(list).some((tag) => tag === '*' || (!tag.startsWith('W/') && tag === etag));
}

/** Evaluates preconditions in RFC 9110 §13.2.2 order, then Range for a GET. */
export function decide(headers: ConditionalHeaders, file: FileFacts, isGet: boolean): Decision {
  if (headers.ifMatch !== undefined) {
    if (!strongMatch(headers.ifMatch, file.etag)) return { kind: 'precondition-failed' };
  } else {
    const unmodifiedSince = parseHttpDate(headers.ifUnmodifiedSince);
    if (unmodifiedSince !== null && seconds(file.mtimeMs) > seconds(unmodifiedSince)) return { kind: 'precondition-failed' };
  }
  if (headers.ifNoneMatch !== undefined) {
    if (weakMatch(headers.ifNoneMatch, file.etag)) return { kind: 'not-modified' };
  } else {
    const modifiedSince = parseHttpDate(headers.ifModifiedSince);
    if (modifiedSince !== null && seconds(file.mtimeMs) <= seconds(modifiedSince)) return { kind: 'not-modified' };
  }
  if (!isGet || headers.range === undefined || !ifRangeHolds(headers.ifRange, file)) return { kind: 'full' };
  return parseRange(headers.range, file.size);
}

/** If-Range: the range applies only while the validator still names the current file. */
function ifRangeHolds(ifRange: string | undefined, file: FileFacts): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return !value.startsWith('W/') && value === file.etag;
  const date = parseHttpDate(value);
  return date !== null && seconds(date) === seconds(file.mtimeMs);
}

const RANGE = /^bytes=(\d*)-(\d*)$/i;

/**
 * One range (`a-b`, `a-`, `-n`) gives a partial response. Several ranges are answered with
 * the whole file (allowed by RFC 9110 §14.2, and simpler than multipart/byteranges);
 * a Range header we cannot parse is ignored, as the RFC asks.
 */
export function parseRange(value: string, size: number): Decision {
  const spec = value.replace(/\s+/g, '');
  if (spec.includes(',')) return { kind: 'full' };
  const match = RANGE.exec(spec);
  if (match === null) return { kind: 'full' };
  const [, first, last] = match as unknown as [string, string, string];
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end };
}

export type Encoding = 'br' | 'gzip';

/** The precompressed encodings a client accepts, best first (q=0 means "not acceptable"). */
export function acceptedEncodings(acceptEncoding: string | undefined): Encoding[] {
  if (acceptEncoding === undefined) return [];
  const weights = new Map<string, number>();
  for (const item of acceptEncoding.split(',')) {
    const [name, ...params] = item.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    if (name) weights.set(name, Number.isNaN(weight) ? 0 : weight);
  }
  const weightOf = (encoding: Encoding): number => weights.get(encoding) ?? weights.get('*') ?? 0;
  return (['br', 'gzip'] as const).filter((encoding) => weightOf(encoding) > 0).sort((a, b) => weightOf(b) - weightOf(a));
}
