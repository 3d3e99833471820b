// Validators, preconditions, ranges and content negotiation for static files (RFC 9110
// §8.8, §13, §14, §12.5.3). Pure: the request's header values and the file's facts in,
// a decision out.
import type { ConditionalHeaders, FileFacts } from '../core/job.js';

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

/**
 * The date is the file's Last-Modified, to the second. A file stamped ahead of the clock is
 * sent the time of the response instead (static.ts), a date no version of it carries.
 */
function isLastModified(date: number, file: FileFacts): boolean {
  return seconds(date) === seconds(file.mtimeMs);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH = MONTHS.join('|');
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
// The three HTTP-date forms (RFC 9110 §5.6.7); day names are not checked against the date.
const IMF_FIXDATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\\d{2}) (${MONTH}) (\\d{4}) ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, (\\d{2})-(${MONTH})-(\\d{2}) ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (${MONTH}) ( \\d|\\d{2}) ${TIME} (\\d{4})$`);

/** Milliseconds of a valid UTC date-time, or null (e.g. 30 Feb or 25:00:00). */
function utc(year: number, month: string, day: string, hour: string, minute: string, second: string): number | null {
  const monthIndex = MONTHS.indexOf(month);
  const [d, h, m, s] = [day, hour, minute, second].map(Number) as [number, number, number, number];
  if (h > 23 || m > 59 || s > 60) return null;
  // setUTCFullYear, not Date.UTC, which reads years 0 to 99 as 1900 to 1999: year 0070 is year 70.
  const date = new Date(0);
  date.setUTCFullYear(year, monthIndex, d);
  date.setUTCHours(h, m, Math.min(s, 59));
  return date.getUTCDate() === d ? date.getTime() : null;
}

/**
 * A strict HTTP-date parser: Date.parse accepts almost anything ("x 5" is May 2001) and reads
 * asctime dates in local time, while RFC 9110 §13.1 asks to ignore a field that is not a valid
 * HTTP-date, and every form is UTC.
 */
export function parseHttpDate(value: string | undefined): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  let match = IMF_FIXDATE.exec(text);
  if (match !== null) return utc(Number(match[3]), match[2]!, match[1]!, match[4]!, match[5]!, match[6]!);
  match = ASCTIME_DATE.exec(text);
  if (match !== null) return utc(Number(match[6]), match[1]!, match[2]!.trim(), match[3]!, match[4]!, match[5]!);
  match = RFC850_DATE.exec(text);
  if (match === null) return null;
  // A two-digit year: a timestamp that would be more than 50 years ahead is of the century
  // before (§5.6.7), judged on the whole timestamp, not its year alone.
  const now = new Date();
  const year = now.getUTCFullYear() - (now.getUTCFullYear() % 100) + Number(match[3]);
  const [day, month, hour, minute, second] = [match[1]!, match[2]!, match[4]!, match[5]!, match[6]!];
  const date = utc(year, month, day, hour, minute, second);
  const fiftyYearsAhead = new Date(now);
  fiftyYearsAhead.setUTCFullYear(now.getUTCFullYear() + 50);
  return date !== null && date > fiftyYearsAhead.getTime() ? utc(year - 100, month, day, hour, minute, second) : date;
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
    // Only the exact Last-Modified date gives 304, as nginx's default does (RFC 9110 §13.1.3
    // allows it): a file replaced by an older version (tar x, cp -p, rsync -t) goes back in
    // time, and "not modified since a later date" would keep the client on the newer content.
    const modifiedSince = parseHttpDate(headers.ifModifiedSince);
    if (modifiedSince !== null && isLastModified(modifiedSince, file)) return { kind: 'not-modified' };
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
  return date !== null && isLastModified(date, file);
}

// RFC 9110 §14.1.2: `bytes=` (the unit in any case) and a list of range specs, here one.
// List elements may be empty, with whitespace beside their commas (§5.6.1, §5.6.1.2), so
// `bytes=0-1,` and `bytes=, 0-1` name one range; whitespace anywhere else (around "=", inside
// a spec) makes the header invalid. The lookahead refuses it between "=" and the spec.
const ONE_RANGE = /^bytes=(?![ \t]+[^ \t,])[ \t,]*(\d*)-(\d*)[ \t,]*$/i;

/**
 * One range (`a-b`, `a-`, `-n`) gives a partial response. Several ranges are answered with
 * the whole file (allowed by RFC 9110 §14.2, and simpler than multipart/byteranges);
 * a Range header we cannot parse is ignored, as the RFC asks.
 */
export function parseRange(value: string, size: number): Decision {
  const match = ONE_RANGE.exec(value);
  if (match === null) return { kind: 'full' };
  const [, first, last] = match as unknown as [string, string, string];
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return { kind: 'unsatisfiable' };
    // Satisfiable for an empty file (RFC 9110 §14.1.2), but no Content-Range can name zero
    // bytes: the whole (empty) representation is the answer.
    if (size === 0) return { kind: 'full' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  if (last !== '' && isLess(last, first)) return { kind: 'full' };
  // Number() rounds past 2^53, but no file is that large: a first byte there still rounds to
  // one past the end (unsatisfiable), and a last byte there is cut to the end like any other.
  const start = Number(first);
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}

const LEADING_ZEROS = /^0+/;

/**
 * `a` < `b` for decimal strings of any length. Compared as numbers, rounding past 2^53 would
 * let `bytes=9007199254740993-9007199254740992` (last before first) pass for a valid range.
 */
function isLess(a: string, b: string): boolean {
  const [x, y] = [a.replace(LEADING_ZEROS, ''), b.replace(LEADING_ZEROS, '')];
  return x.length === y.length ? x < y : x.length < y.length;
}

export type Encoding = 'br' | 'gzip';

/** The precompressed encodings a client accepts, best first (q=0 means "not acceptable"). */
/** RFC 9110 §12.4.2: 0 to 1 with at most three decimals; `0x1`, `1e0` or `1.5` are not weights. */
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

export function acceptedEncodings(acceptEncoding: string | undefined): Encoding[] {
  if (acceptEncoding === undefined) return [];
  const weights = new Map<string, number>();
  for (const item of acceptEncoding.split(',')) {
    // Whitespace may surround the ";" (RFC 9110 §12.4.2: OWS ";" OWS "q=" qvalue).
    const [name, ...params] = item.toLowerCase().split(';').map((part) => part.trim()) as [string, ...string[]];
    const q = params.find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : QVALUE.test(q.slice(2)) ? Number(q.slice(2)) : 0;
    // RFC 9110 §8.4.1.3: x-gzip is gzip.
    if (name !== '') weights.set(name === 'x-gzip' ? 'gzip' : name, weight);
  }
  const weightOf = (encoding: Encoding): number => weights.get(encoding) ?? weights.get('*') ?? 0;
  return (['br', 'gzip'] as const).filter((encoding) => weightOf(encoding) > 0).sort((a, b) => weightOf(b) - weightOf(a));
}
