// Incremental HTTP/1.1 request parser. Pure: bytes in, events out, no I/O and no timers.
// Strict on purpose: anything that two implementations could frame differently (the root of
// request smuggling) is refused with a status code instead of guessed at.

import type { BodyFraming, HttpVersion, ParsedRequest, RequestHead } from '../core/request.js';

export type ParseErrorStatus = 400 | 413 | 414 | 417 | 431 | 501 | 505;

export type ParseEvent =
  /** Feed more bytes. */
  | { readonly type: 'need-more' }
  /** The head of a request that has a body; the body follows in a later 'request' event. */
  | { readonly type: 'head'; readonly head: RequestHead }
  /** A complete request. */
  | { readonly type: 'request'; readonly request: ParsedRequest }
  /**
   * The bytes cannot be served; the connection must answer with `status` and close. `head`:
   * the request's head, when it was read whole before the error (a body announced too large).
   */
  | { readonly type: 'error'; readonly status: ParseErrorStatus; readonly reason: string; readonly head?: RequestHead };

export interface ParserLimits {
  readonly maxRequestLineBytes: number;
  /** Bytes of header field lines (CRLFs included, request line and final CRLF excluded). */
  readonly maxHeaderBytes: number;
  readonly maxBodyBytes: number;
}

const CR = 13;
const LF = 10;
const NEED_MORE: ParseEvent = { type: 'need-more' };
const NO_BODY: BodyFraming = { kind: 'none' };
const CHUNKED: BodyFraming = { kind: 'chunked' };
const MAX_CHUNK_SIZE_LINE = 1024;

// RFC 9110 §5.6.2 token characters.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Visible ASCII only: no spaces, controls or bytes above 0x7E in a request target.
const TARGET = /^[\x21-\x7e]+$/;
// Field values may hold VCHAR, SP, HTAB and obs-text, nothing else (no NUL, no controls).
const INVALID_FIELD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
const VERSION = /^HTTP\/(\d)\.(\d)$/;
const DECIMAL = /^\d{1,15}$/;
const HEX = /^[0-9a-fA-F]+$/;

/**
 * Common field names, in lowercase and in their usual capitalisation, mapped to the lowercase
 * name as a string constant. A hit skips the token check and toLowerCase, but mostly it helps
 * V8: `fields[name]` with a constant name is a direct lookup, while a freshly sliced string must
 * first be found in V8's table of names. Worse, when every request brings `host` as a new
 * string, the property cache in finishHead misses every time and V8 never optimises it.
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

type State = 'head' | 'body-length' | 'chunk-size' | 'chunk-data' | 'chunk-data-end' | 'trailers' | 'failed';

function isOws(code: number): boolean {
  return code === 32 || code === 9;
}

function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return value.slice(start, end);
}

/**
 * Thrown inside the parser and caught in next(). Deliberately not an Error: capturing a stack
 * trace for every hostile request was the parser's largest cost on malformed input.
 */
class ParseFailure {
  constructor(
    readonly status: ParseErrorStatus,
    readonly message: string,
    readonly head?: RequestHead,
  ) {}
}

export class RequestParser {
  private buffer: Buffer = Buffer.alloc(0);
  /** Start of the bytes not consumed yet. */
  private offset = 0;
  private state: State = 'head';

  // Head scanning, relative to `offset` so that compaction needs no bookkeeping.
  private scanned = 0;
  private lineStart = 0;
  private lines: number[] = [];
  private headerBytes = 0;

  // Body assembly.
  private head: RequestHead | null = null;
  private bodyParts: Buffer[] = [];
  private bodyReceived = 0;
  private chunkRemaining = 0;

  constructor(private readonly limits: ParserLimits) {}

  /** Appends bytes from the socket. */
  feed(chunk: Buffer): void {
    // A failed parser keeps nothing more: the connection answers the error and closes.
    if (this.state === 'failed') return;
    if (this.offset >= this.buffer.length) {
      this.buffer = chunk;
    } else {
      this.buffer = Buffer.concat([this.buffer.subarray(this.offset), chunk]);
    }
    this.offset = 0;
  }

  /** True while part of a request has arrived but not all of it. */
  get inRequest(): boolean {
    return this.state !== 'head' || this.buffer.length > this.offset;
  }

  /** Bytes received and not yet consumed by a complete request. */
  get pendingBytes(): number {
    return this.buffer.length - this.offset;
  }

  /** Returns the next event; call repeatedly until 'need-more' or 'error'. */
  next(): ParseEvent {
    if (this.state === 'failed') return NEED_MORE;
    try {
      return this.state === 'head' ? this.parseHead() : this.parseBody();
    } catch (error) {
      if (!(error instanceof ParseFailure)) throw error;
      this.state = 'failed';
      this.bodyParts = [];
      if (error.head !== undefined) return { type: 'error', status: error.status, reason: error.message, head: error.head };
      return { type: 'error', status: error.status, reason: error.message };
    }
  }

  private parseHead(): ParseEvent {
    const buf = this.buffer;
    // RFC 9112 §2.2: ignore empty lines before the request line.
    if (this.lines.length === 0 && this.lineStart === 0) {
      while (buf.length - this.offset >= 2 && buf[this.offset] === CR && buf[this.offset + 1] === LF) {
        this.offset += 2;
        // A lone CR scanned earlier was part of the skipped line.
        this.scanned = 0;
      }
    }
    const base = this.offset;
    for (;;) {
      const lf = buf.indexOf(LF, base + this.scanned);
      if (lf === -1) {
        this.scanned = buf.length - base;
        // The part of the line that has arrived, less a CR whose LF may be next.
        const partial = this.scanned - this.lineStart;
        this.checkHeadLimits(partial > 0 && buf[buf.length - 1] === CR ? partial - 1 : partial);
        return NEED_MORE;
      }
      const end = lf - base;
      const bareLf = end === 0 || buf[lf - 1] !== CR;
      const lineEnd = bareLf ? end : end - 1;
      // Limits before the line ending: a long line gets the same answer whether or not its LF has arrived.
      this.checkHeadLimits(lineEnd - this.lineStart);
      if (bareLf) throw new ParseFailure(400, 'line ending without CR (bare LF)');
      this.scanned = end + 1;
      if (lineEnd === this.lineStart) {
        if (this.lines.length === 0) throw new ParseFailure(400, 'missing request line');
        return this.finishHead(base + end + 1);
      }
      if (this.lines.length > 0) this.headerBytes += lineEnd - this.lineStart + 2;
      this.lines.push(this.lineStart, lineEnd);
      this.lineStart = end + 1;
    }
  }

  /**
   * `content` is the length of the line being scanned, or of the part that has arrived, without
   * its CRLF. The same bytes give the same answer however they were split: a header line counts
   * with its CRLF, and an empty line (possibly the end of the head) counts as nothing.
   */
  private checkHeadLimits(content: number): void {
    if (this.lines.length === 0) {
      if (content > this.limits.maxRequestLineBytes) throw new ParseFailure(414, 'request line too long');
    } else if (content > 0 && this.headerBytes + content + 2 > this.limits.maxHeaderBytes) {
      throw new ParseFailure(431, 'header section too large');
    }
  }

  private finishHead(headEnd: number): ParseEvent {
    const lines = this.lines;
    // Decode the whole head once and slice strings: each Buffer.toString is a call into C++.
    const text = this.buffer.toString('latin1', this.offset, headEnd);
    const { method, target, version } = parseRequestLine(text.slice(lines[0], lines[1]));
    const fields: Record<string, string> = Object.create(null);
    let contentLength: number | null = null;
    for (let i = 2; i < lines.length; i += 2) {
      const [name, value] = parseFieldLine(text.slice(lines[i], lines[i + 1]));
      if (name === 'content-length') {
        const length = parseContentLength(value);
        if (contentLength !== null && contentLength !== length) throw new ParseFailure(400, 'conflicting Content-Length values');
        contentLength = length;
        fields[name] = String(length);
      } else if (name === 'host' && fields.host !== undefined) {
        throw new ParseFailure(400, 'more than one Host header');
      } else {
        fields[name] = joinFieldValues(fields[name], value);
      }
    }
    const framing = parseFraming(fields, contentLength, version);
    const head: RequestHead = {
      method,
      target,
      version,
      headers: fields,
      framing,
      keepAlive: wantsKeepAlive(version, fields.connection),
      expectContinue: parseExpect(fields.expect, framing),
    };
    // With its head, so that the answer can be the request's own (its log line, CORS fields).
    if (framing.kind === 'length' && framing.length > this.limits.maxBodyBytes) {
      throw new ParseFailure(413, `body of ${framing.length} bytes exceeds the limit of ${this.limits.maxBodyBytes}`, head);
    }
    this.offset = headEnd;
    this.scanned = 0;
    this.lineStart = 0;
    // A new array rather than `lines.length = 0`, which measured slower: it drops the storage anyway.
    this.lines = [];
    this.headerBytes = 0;

    if (framing.kind === 'none' || (framing.kind === 'length' && framing.length === 0)) {
      return { type: 'request', request: withBody(head, framing.kind === 'none' ? null : new Uint8Array(0)) };
    }
    this.head = head;
    this.bodyReceived = 0;
    this.bodyParts = [];
    if (framing.kind === 'length') {
      this.chunkRemaining = framing.length;
      this.state = 'body-length';
    } else {
      this.state = 'chunk-size';
    }
    return { type: 'head', head };
  }

  private parseBody(): ParseEvent {
    for (;;) {
      switch (this.state) {
        case 'body-length':
          if (!this.takeBodyBytes()) return NEED_MORE;
          return this.finishBody();
        case 'chunk-size':
          if (!this.readChunkSize()) return NEED_MORE;
          break;
        case 'chunk-data':
          if (!this.takeBodyBytes()) return NEED_MORE;
          this.state = 'chunk-data-end';
          break;
        case 'chunk-data-end':
          if (this.pendingBytes < 2) return NEED_MORE;
          if (this.buffer[this.offset] !== CR || this.buffer[this.offset + 1] !== LF) {
            throw new ParseFailure(400, 'chunk data not followed by CRLF');
          }
          this.offset += 2;
          this.state = 'chunk-size';
          break;
        case 'trailers':
          if (!this.skipTrailers()) return NEED_MORE;
          return this.finishBody();
        default:
          throw new Error(`parser in state ${this.state} has no body to read`);
      }
    }
  }

  /** Moves up to `chunkRemaining` bytes into the body; true once they have all arrived. */
  private takeBodyBytes(): boolean {
    const take = Math.min(this.chunkRemaining, this.pendingBytes);
    if (take > 0) {
      this.bodyParts.push(this.buffer.subarray(this.offset, this.offset + take));
      this.offset += take;
      this.chunkRemaining -= take;
    }
    return this.chunkRemaining === 0;
  }

  private readChunkSize(): boolean {
    const line = this.readLine(MAX_CHUNK_SIZE_LINE, 'chunk size line too long');
    if (line === null) return false;
    const semicolon = line.indexOf(';');
    // Whitespace may only come between the size and a chunk extension (RFC 9112 §7.1.1, BWS).
    const sizeText = semicolon === -1 ? line : line.slice(0, semicolon).replace(/[ \t]+$/, '');
    if (!HEX.test(sizeText)) throw new ParseFailure(400, 'invalid chunk size');
    if (semicolon !== -1 && INVALID_FIELD_VALUE.test(line)) throw new ParseFailure(400, 'invalid chunk extension');
    const digits = sizeText.replace(/^0+/, '');
    // More than 12 hex digits is far past any body limit and past exact float arithmetic.
    const size = digits.length > 12 ? Infinity : digits === '' ? 0 : parseInt(digits, 16);
    if (this.bodyReceived + size > this.limits.maxBodyBytes) {
      throw new ParseFailure(413, `chunked body exceeds the limit of ${this.limits.maxBodyBytes} bytes`);
    }
    this.bodyReceived += size;
    this.chunkRemaining = size;
    this.state = size === 0 ? 'trailers' : 'chunk-data';
    return true;
  }

  /** Trailer fields are validated and dropped; true once the final empty line has arrived. */
  private skipTrailers(): boolean {
    for (;;) {
      const line = this.readLine(this.limits.maxHeaderBytes - this.headerBytes, 'trailer section too large', 431);
      if (line === null) return false;
      if (line === '') return true;
      parseFieldLine(line);
      this.headerBytes += line.length + 2;
    }
  }

  /** One CRLF-terminated line from the buffer, or null if it has not arrived yet. */
  private readLine(maxLength: number, tooLong: string, tooLongStatus: ParseErrorStatus = 400): string | null {
    const lf = this.buffer.indexOf(LF, this.offset);
    if (lf === -1) {
      if (this.pendingBytes > maxLength + 1) throw new ParseFailure(tooLongStatus, tooLong);
      return null;
    }
    const bareLf = lf === this.offset || this.buffer[lf - 1] !== CR;
    // Length before the line ending, as for a line whose LF has not arrived yet.
    if (lf - this.offset - (bareLf ? 0 : 1) > maxLength) throw new ParseFailure(tooLongStatus, tooLong);
    if (bareLf) throw new ParseFailure(400, 'line ending without CR (bare LF)');
    const line = this.buffer.toString('latin1', this.offset, lf - 1);
    if (line.includes('\r')) throw new ParseFailure(400, 'bare CR');
    this.offset = lf + 1;
    return line;
  }

  private finishBody(): ParseEvent {
    // Copy into a buffer of its own: socket chunks may share pooled memory that cannot be transferred.
    const body = new Uint8Array(this.bodyParts.reduce((sum, part) => sum + part.length, 0));
    let at = 0;
    for (const part of this.bodyParts) {
      body.set(part, at);
      at += part.length;
    }
    const request = withBody(this.head!, body);
    this.head = null;
    this.bodyParts = [];
    this.headerBytes = 0;
    this.state = 'head';
    return { type: 'request', request };
  }
}

/** The complete request; built field by field, which is much cheaper than an object spread. */
function withBody(head: RequestHead, body: Uint8Array | null): ParsedRequest {
  return {
    method: head.method,
    target: head.target,
    version: head.version,
    headers: head.headers,
    framing: head.framing,
    keepAlive: head.keepAlive,
    expectContinue: head.expectContinue,
    body,
  };
}

function parseRequestLine(line: string): { method: string; target: string; version: HttpVersion } {
  if (line.includes('\r')) throw new ParseFailure(400, 'bare CR in request line');
  // Exactly two spaces. indexOf rather than split(' '): split is a slow call into the runtime.
  const space1 = line.indexOf(' ');
  const space2 = space1 === -1 ? -1 : line.indexOf(' ', space1 + 1);
  if (space2 === -1 || line.indexOf(' ', space2 + 1) !== -1) throw new ParseFailure(400, 'malformed request line');
  const method = line.slice(0, space1);
  const target = line.slice(space1 + 1, space2);
  const versionText = line.slice(space2 + 1);
  if (!TOKEN.test(method)) throw new ParseFailure(400, 'invalid method token');
  if (!TARGET.test(target)) throw new ParseFailure(400, 'invalid request target');
  // The two supported versions first; the regex only tells a malformed version from an unsupported one.
  if (versionText === 'HTTP/1.1') return { method, target, version: '1.1' };
  if (versionText === 'HTTP/1.0') return { method, target, version: '1.0' };
  const match = VERSION.exec(versionText);
  if (match === null) throw new ParseFailure(400, 'malformed HTTP version');
  throw new ParseFailure(505, `HTTP/${match[1]}.${match[2]} is not supported`);
}

function parseFieldLine(line: string): [name: string, value: string] {
  if (isOws(line.charCodeAt(0))) throw new ParseFailure(400, 'obsolete line folding');
  if (line.includes('\r')) throw new ParseFailure(400, 'bare CR in header');
  const colon = line.indexOf(':');
  if (colon <= 0) throw new ParseFailure(400, 'header line without a name and colon');
  const name = line.slice(0, colon);
  let key = COMMON_FIELD_NAMES.get(name);
  if (key === undefined) {
    if (!TOKEN.test(name)) {
      throw new ParseFailure(400, isOws(name.charCodeAt(name.length - 1)) ? 'whitespace before colon' : 'invalid header name');
    }
    key = name.toLowerCase();
  }
  const value = trimOws(line.slice(colon + 1));
  if (INVALID_FIELD_VALUE.test(value)) throw new ParseFailure(400, `invalid byte in ${name} header`);
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

/** `Content-Length: 5` or the list form `5, 5`; anything else, including `+5`, is refused. */
function parseContentLength(value: string): number {
  let length: number | null = null;
  for (const text of listItems(value)) {
    if (!DECIMAL.test(text)) throw new ParseFailure(400, 'invalid Content-Length');
    const parsed = Number(text);
    if (length !== null && parsed !== length) throw new ParseFailure(400, 'conflicting Content-Length values');
    length = parsed;
  }
  return length!;
}

function parseFraming(fields: Record<string, string>, contentLength: number | null, version: HttpVersion): BodyFraming {
  const transferEncoding = fields['transfer-encoding'];
  if (transferEncoding === undefined) {
    return contentLength === null ? NO_BODY : { kind: 'length', length: contentLength };
  }
  if (contentLength !== null) throw new ParseFailure(400, 'both Content-Length and Transfer-Encoding');
  if (version === '1.0') throw new ParseFailure(400, 'Transfer-Encoding in an HTTP/1.0 request');
  const codings = listItems(transferEncoding.toLowerCase());
  if (codings.length === 1 && codings[0] === 'chunked') return CHUNKED;
  if (codings.includes('chunked')) throw new ParseFailure(400, 'chunked must be the only and final transfer coding');
  throw new ParseFailure(501, `unsupported transfer coding "${transferEncoding}"`);
}

function wantsKeepAlive(version: HttpVersion, connection: string | undefined): boolean {
  if (connection === undefined) return version === '1.1';
  const options = listItems(connection.toLowerCase());
  if (options.includes('close')) return false;
  return version === '1.1' || options.includes('keep-alive');
}

function parseExpect(expect: string | undefined, framing: BodyFraming): boolean {
  if (expect === undefined) return false;
  if (expect.toLowerCase() !== '100-continue') throw new ParseFailure(417, `unsupported expectation "${expect}"`);
  return framing.kind !== 'none';
}
