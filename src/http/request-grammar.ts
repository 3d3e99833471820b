// The grammar of an HTTP/1.1 request (RFC 9110, RFC 9112), line by line: the request line,
// field lines, the body's framing, keep-alive, Expect, a chunk's size line and trailers. Pure
// functions of strings; a violation throws ParseFailure, which the parser (parser.ts, the
// byte-level state machine) turns into an error event with its refusal (whose status
// refusals.ts gives).
import type { Refusal } from '../core/refusals.js';
import type { BodyFraming, HttpVersion, RequestHead } from '../core/request.js';

const NO_BODY: BodyFraming = { kind: 'none' };
const CHUNKED: BodyFraming = { kind: 'chunked' };

// RFC 9110 §5.6.2 token characters.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Request targets (RFC 9112 §3.2), in visible ASCII only and without a fragment ("#"), which
// the grammar has no place for. As llhttp requires, a scheme is letters only and an authority
// holds only RFC 3986 authority characters.
const ORIGIN_FORM = /^\/[\x21\x22\x24-\x7e]*$/;
const ABSOLUTE_FORM = /^[A-Za-z]+:\/\/[\w\-.~%!$&'()*+,;=:@[\]]*(?:[/?][\x21\x22\x24-\x7e]*)?$/;
// CONNECT's target: a host and a port, nothing else (RFC 9112 §3.2.3).
const AUTHORITY_FORM = /^(?:\[[0-9A-Fa-f:.]+\]|[\w\-.~%!$&'()*+,;=]+):(?:6553[0-5]|655[0-2]\d|65[0-4]\d\d|6[0-4]\d{3}|[1-5]\d{4}|\d{1,4})$/;
// Field values may hold VCHAR, SP, HTAB and obs-text, nothing else (no NUL, no controls).
const INVALID_FIELD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
const VERSION = /^HTTP\/(\d)\.(\d)$/;
const DECIMAL = /^\d{1,15}$/;
const HEX = /^[0-9a-fA-F]+$/;
/**
 * RFC 9112 §7.1.1: `*( ";" token [ "=" ( token / quoted-string ) ] )`, but without the BWS that
 * grammar allows around ";" and "=": llhttp refuses it, and two parsers that frame a chunk
 * differently are how smuggling starts. An empty name (`5;`, `5;=x`) is refused too.
 */
const CHUNK_EXTENSIONS = /^(?:;[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:=(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"(?:[\t\x20\x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t\x20-\x7e\x80-\xff])*"))?)*$/;
/**
 * RFC 9110 §6.5.1: fields needed before the content cannot come after it. Trailers are dropped
 * here, but these would change framing or routing for a parser that merged them (llhttp refuses
 * Content-Length and Transfer-Encoding there, and acts on Connection: close).
 */
const PROHIBITED_TRAILERS = new Set(['content-length', 'transfer-encoding', 'host', 'connection']);

/**
 * Common field names, in lowercase and in their usual capitalisation, mapped to the lowercase
 * name as a string constant. A hit skips the token check and toLowerCase, but mostly it helps
 * V8: `fields[name]` with a constant name is a direct lookup, while a freshly sliced string must
 * first be found in V8's table of names. Worse, when every request brings `host` as a new
 * string, the property cache in parseHead misses every time and V8 never optimises it.
 */
const COMMON_FIELD_NAMES = new Map<string, string>(
  [
    'accept', 'accept-encoding', 'accept-language', 'authorization', 'cache-control', 'connection',
    'content-length', 'content-type', 'cookie', 'expect', 'host', 'if-match', 'if-modified-since',
    'if-none-match', 'if-range', 'if-unmodified-since', 'origin', 'pragma', 'range', 'referer',
    'sec-ch-ua', 'sec-ch-ua-mobile', 'sec-ch-ua-platform', 'sec-fetch-dest', 'sec-fetch-mode',
    'sec-fetch-site', 'sec-fetch-user', 'transfer-encoding', 'upgrade-insecure-requests', 'user-agent',
  ].flatMap((name) => [
    [name, name],
    [name.replace(/(^|-)[a-z]/g, (initial) => initial.toUpperCase()), name],
  ]),
);

function isOws(code: number): boolean {
  return code === 32 || code === 9;
}

/** Strips optional whitespace (RFC 9110 §5.6.3: SP and HTAB only, not a Unicode space such as 0xA0). */
export function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return value.slice(start, end);
}

/**
 * Thrown by the grammar and the parser, caught in the parser's next(). Deliberately not an
 * Error: capturing a stack trace for every hostile request was the parser's largest cost on
 * malformed input.
 */
export class ParseFailure {
  constructor(
    /** Why, and so the status and what the client is told (refusals.ts). */
    readonly refusal: Refusal,
    /** What the log adds, with the detail the client is not shown. */
    readonly detail: string,
    readonly head?: RequestHead,
  ) {}
}

/**
 * Whether the whitespace at the end of `line` holds a tab. A scan back from the end keeps the
 * cost linear in the line's length; a regular expression anchored only at the end would retry
 * from every tab, quadratic on a line of alternating tabs and spaces that ends in another byte.
 */
function endsWithTab(line: string): boolean {
  for (let at = line.length - 1; at >= 0; at--) {
    const char = line.charCodeAt(at);
    if (char === 0x09) return true;
    if (char !== 0x20) return false;
  }
  return false;
}

/**
 * The head of a request: `text` holds it whole, decoded as latin1; `lines` gives each line's
 * start and end in it, CRLF excluded, the request line first.
 */
export function parseHead(text: string, lines: readonly number[]): RequestHead {
  const requestLine = text.slice(lines[0], lines[1]);
  const { method, target } = parseMethodAndTarget(requestLine);
  const version = parseVersion(requestLine.slice(method.length + target.length + 2));
  const fields: Record<string, string> = Object.create(null);
  let contentLength: number | null = null;
  for (let i = 2; i < lines.length; i += 2) {
    const line = text.slice(lines[i], lines[i + 1]);
    const [name, value] = parseFieldLine(line);
    if (name === 'content-length') {
      // RFC 9110 §8.6 lets a recipient refuse a repeated Content-Length, even with one value; llhttp does.
      if (contentLength !== null) throw new ParseFailure('duplicate_content_length', 'more than one Content-Length');
      contentLength = parseContentLength(value);
      fields[name] = String(contentLength);
    } else if (name === 'host' && fields.host !== undefined) {
      throw new ParseFailure('duplicate_host', 'more than one Host header');
    } else if (name === 'transfer-encoding' && endsWithTab(line)) {
      // OWS may hold a tab (RFC 9110 §5.6.3), but llhttp refuses one after a transfer coding.
      throw new ParseFailure('tab_after_transfer_encoding', 'tab after the Transfer-Encoding value');
    } else {
      fields[name] = joinFieldValues(fields[name], value);
    }
  }
  const framing = parseFraming(fields, contentLength, version);
  return { method, target, version, headers: fields, framing, keepAlive: wantsKeepAlive(version, fields.connection), expectContinue: parseExpect(fields.expect, framing) };
}

/** RFC 9112 §7.1: a chunk's size line (extensions validated and ignored) to its size; Infinity past any limit. */
export function parseChunkSize(line: string): number {
  const semicolon = line.indexOf(';');
  const sizeText = semicolon === -1 ? line : line.slice(0, semicolon);
  // chunk-size = 1*HEXDIG, nothing around it (the BWS before ";" is refused, as by llhttp).
  if (!HEX.test(sizeText)) throw new ParseFailure('invalid_chunk_size', 'invalid chunk size');
  if (semicolon !== -1 && !CHUNK_EXTENSIONS.test(line.slice(semicolon))) throw new ParseFailure('invalid_chunk_extension', 'invalid chunk extension');
  const digits = sizeText.replace(/^0+/, '');
  // More than 12 hex digits is far past any body limit and past exact float arithmetic.
  return digits.length > 12 ? Infinity : digits === '' ? 0 : parseInt(digits, 16);
}

/** A trailer field line: valid as a field, and not one that framing or routing depends on. */
export function checkTrailerField(line: string): void {
  const [name] = parseFieldLine(line);
  if (PROHIBITED_TRAILERS.has(name)) throw new ParseFailure('trailer_not_allowed', `${name} is not allowed in a trailer`);
}

/** What a request line names, known even when the rest of its head is refused. */
export interface RequestLine {
  readonly method: string;
  readonly target: string;
}

/** A token (RFC 9110 §5.6.2): one or more token characters. */
export function isToken(text: string): boolean {
  return TOKEN.test(text);
}

/** A method is a token (RFC 9110 §9.1); which methods are served is the router's to say. */
export function isMethod(text: string): boolean {
  return isToken(text);
}

/** The version at the end of a request line. */
function parseVersion(text: string): HttpVersion {
  // The two supported versions first; the regex only tells a malformed version from an unsupported one.
  if (text === 'HTTP/1.1') return '1.1';
  if (text === 'HTTP/1.0') return '1.0';
  const match = VERSION.exec(text);
  if (match === null) throw new ParseFailure('malformed_version', 'malformed HTTP version');
  // A later minor version of HTTP/1 is read as the highest we implement (RFC 9110 §2.5).
  if (match[1] === '1') return '1.1';
  throw new ParseFailure('version_not_supported', `HTTP/${match[1]}.${match[2]} is not supported`);
}

/** The method and target of a request line, whatever its version. */
export function parseMethodAndTarget(line: string): RequestLine {
  if (line.includes('\r')) throw new ParseFailure('bare_cr', 'bare CR in request line');
  // Exactly two spaces. indexOf rather than split(' '): split is a slow call into the runtime.
  const space1 = line.indexOf(' ');
  const space2 = space1 === -1 ? -1 : line.indexOf(' ', space1 + 1);
  if (space2 === -1 || line.indexOf(' ', space2 + 1) !== -1) throw new ParseFailure('malformed_request_line', 'malformed request line');
  const method = line.slice(0, space1);
  const target = line.slice(space1 + 1, space2);
  if (!isMethod(method)) throw new ParseFailure('invalid_method', 'invalid method token');
  if (!isRequestTarget(method, target)) throw new ParseFailure('invalid_target', 'invalid request target');
  return { method, target };
}

/** Each form where RFC 9112 §3.2 allows it: the authority form for CONNECT alone, `*` for OPTIONS alone. */
function isRequestTarget(method: string, target: string): boolean {
  if (method === 'CONNECT') return AUTHORITY_FORM.test(target);
  if (target.charCodeAt(0) === 0x2f) return ORIGIN_FORM.test(target);
  return target === '*' ? method === 'OPTIONS' : ABSOLUTE_FORM.test(target);
}

function parseFieldLine(line: string): [name: string, value: string] {
  if (isOws(line.charCodeAt(0))) throw new ParseFailure('obsolete_line_folding', 'obsolete line folding');
  if (line.includes('\r')) throw new ParseFailure('bare_cr', 'bare CR in header');
  const colon = line.indexOf(':');
  if (colon <= 0) throw new ParseFailure('header_without_colon', 'header line without a name and colon');
  const name = line.slice(0, colon);
  let key = COMMON_FIELD_NAMES.get(name);
  if (key === undefined) {
    if (!TOKEN.test(name)) {
      if (isOws(name.charCodeAt(name.length - 1))) throw new ParseFailure('whitespace_before_colon', 'whitespace before colon');
      throw new ParseFailure('invalid_header_name', 'invalid header name');
    }
    key = name.toLowerCase();
  }
  const value = trimOws(line.slice(colon + 1));
  if (INVALID_FIELD_VALUE.test(value)) throw new ParseFailure('invalid_header_value', `invalid byte in ${name} header`);
  return [key, value];
}

/** RFC 9110 §5.3: repeated fields join with a comma; no trailing space when the new value is empty. */
function joinFieldValues(previous: string | undefined, value: string): string {
  if (previous === undefined) return value;
  return value === '' ? `${previous},` : `${previous}, ${value}`;
}

/** The items of a comma-separated field value, OWS trimmed. */
function listItems(value: string): string[] {
  // Most lists hold a single item, and split() is a comparatively slow call into the runtime.
  return value.includes(',') ? value.split(',').map(trimOws) : [trimOws(value)];
}

/** RFC 9110 §8.6: `Content-Length = 1*DIGIT`. The list form `5, 5` is refused too, as llhttp does. */
function parseContentLength(value: string): number {
  if (!DECIMAL.test(value)) throw new ParseFailure('invalid_content_length', 'invalid Content-Length');
  return Number(value);
}

function parseFraming(fields: Record<string, string>, contentLength: number | null, version: HttpVersion): BodyFraming {
  const transferEncoding = fields['transfer-encoding'];
  if (transferEncoding === undefined) {
    return contentLength === null ? NO_BODY : { kind: 'length', length: contentLength };
  }
  if (contentLength !== null) throw new ParseFailure('length_and_chunked', 'both Content-Length and Transfer-Encoding');
  if (version === '1.0') throw new ParseFailure('transfer_encoding_in_http10', 'Transfer-Encoding in an HTTP/1.0 request');
  // Without chunked last, the body's length cannot be known (RFC 9112 §6.3).
  if (transferEncoding === '') throw new ParseFailure('empty_transfer_encoding', 'empty Transfer-Encoding');
  const codings = listItems(transferEncoding.toLowerCase());
  if (codings.length === 1 && codings[0] === 'chunked') return CHUNKED;
  if (codings.includes('chunked')) throw new ParseFailure('chunked_not_last', 'chunked must be the only and final transfer coding');
  throw new ParseFailure('transfer_coding_not_implemented', `unsupported transfer coding "${transferEncoding}"`);
}

function wantsKeepAlive(version: HttpVersion, connection: string | undefined): boolean {
  if (connection === undefined) return version === '1.1';
  const options = listItems(connection.toLowerCase());
  if (options.includes('close')) return false;
  return version === '1.1' || options.includes('keep-alive');
}

function parseExpect(expect: string | undefined, framing: BodyFraming): boolean {
  if (expect === undefined) return false;
  // A list (RFC 9110 §10.1.1): `100-continue` repeated, or in two fields, is still the one we
  // meet; an empty one expects nothing.
  const expectations = listItems(expect).filter((item) => item !== '');
  if (expectations.some((item) => item.toLowerCase() !== '100-continue')) throw new ParseFailure('expectation_unsupported', `unsupported expectation "${expect}"`);
  return expectations.length > 0 && framing.kind !== 'none';
}
