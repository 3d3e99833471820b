// Incremental HTTP/1.1 request parser. Pure: bytes in, events out, no I/O and no timers. This
// file frames the bytes (lines, limits, bodies, chunks); what each line may hold is
// request-grammar.ts's. Strict on purpose: anything that two implementations could frame
// differently (the root of request smuggling) is refused with a status code instead of guessed at.

import type { Refusal } from '../core/refusals.js';
import type { BodyFraming, ParsedRequest, RequestHead } from '../core/request.js';
import { headReadSoFar, NOTHING_READ, type ReadSoFar } from './read-so-far.js';
import { checkTrailerField, parseChunkSize, parseHead, ParseFailure } from './request-grammar.js';

export type ParseEvent =
  /** Feed more bytes. */
  | { readonly type: 'need-more' }
  /** The head of a request that has a body; the body follows in a later 'request' event. */
  | { readonly type: 'head'; readonly head: RequestHead }
  /** A complete request. */
  | { readonly type: 'request'; readonly request: ParsedRequest }
  /** The bytes cannot be served; the connection must answer with the refusal's status and close. */
  | { readonly type: 'error'; readonly refusal: Refusal; readonly detail: string; readonly read: ReadSoFar };

export interface ParserLimits {
  readonly maxRequestLineBytes: number;
  /** Bytes of the field lines of a request, head and trailers together (CRLFs included, request line and final CRLFs excluded). */
  readonly maxHeaderBytes: number;
  readonly maxBodyBytes: number;
}

const CR = 13;
const LF = 10;
const NEED_MORE: ParseEvent = { type: 'need-more' };
const NOTHING = Buffer.alloc(0);
const NO_BODY_BYTES = new Uint8Array(0);
const MAX_CHUNK_SIZE_LINE = 1024;
/** Input that spans reads is copied into storage of at least this size, so small reads rarely reallocate it. */
const MIN_INPUT_STORAGE = 4096;
/** A chunked body's first buffer; it then doubles as bytes arrive, up to maxBodyBytes. */
const MIN_BODY_CAPACITY = 1024;

/**
 * The first LF in `bytes` from `from` on, or -1. For the head, whose lines are tens of bytes
 * and scanned once each: there a loop costs less than Buffer#indexOf's call into C++.
 */
function indexOfLf(bytes: Uint8Array, from: number): number {
  for (let i = from; i < bytes.length; i++) {
    if (bytes[i] === LF) return i;
  }
  return -1;
}

type State = 'head' | 'body-length' | 'chunk-size' | 'chunk-data' | 'chunk-data-end' | 'trailers' | 'failed';

/**
 * Memory: a parser holds its unconsumed input (bounded by the limits while a head or chunk line
 * is incomplete, by one socket read otherwise) and the body of the request in progress: exactly
 * its Content-Length, or for a chunked body at most twice the bytes received (MIN_BODY_CAPACITY
 * at least), never past maxBodyBytes. `heldBytes` reports both.
 */
export class RequestParser {
  /** The bytes received; a socket read as is, or a view of `storage` when input spans reads. */
  private buffer: Buffer = NOTHING;
  /** Our own copy of input that spans reads, with room to append the next ones. */
  private storage: Buffer | null = null;
  /** Start of the bytes not consumed yet. */
  private offset = 0;
  private state: State = 'head';

  // Line scanning, relative to `offset` so that compaction needs no bookkeeping. `scanned`
  // bytes are known to hold no LF: a line that arrives in pieces is searched once, not from
  // its start on every read (the head's lines, a chunk size, a trailer).
  private scanned = 0;
  private lineStart = 0;
  private lines: number[] = [];
  /** Field line bytes of the request so far: its head, then its trailers, share maxHeaderBytes. */
  private headerBytes = 0;

  // Body assembly: bytes are copied into `body` as they arrive; its length is the capacity.
  private head: RequestHead | null = null;
  private body: Uint8Array = NO_BODY_BYTES;
  private bodyLength = 0;
  /** Sum of the chunk sizes announced so far, checked against maxBodyBytes before their data. */
  private bodyAnnounced = 0;
  private chunkRemaining = 0;

  constructor(private readonly limits: ParserLimits) {}

  /** Appends bytes from the socket. */
  feed(chunk: Buffer): void {
    // A failed parser keeps nothing more: the connection answers the error and closes.
    if (this.state === 'failed') return;
    const pending = this.pendingBytes;
    if (pending === 0) {
      // The common case: parse the socket's buffer in place.
      this.buffer = chunk;
      this.storage = null;
      this.offset = 0;
    } else if (this.storage !== null && this.storage.length - this.buffer.length >= chunk.length) {
      chunk.copy(this.storage, this.buffer.length);
      this.buffer = this.storage.subarray(0, this.buffer.length + chunk.length);
    } else {
      // Room for the pending part to double: a head that arrives a byte at a time is copied a
      // few times, not once per byte.
      const storage = Buffer.allocUnsafeSlow(Math.max(2 * pending + chunk.length, MIN_INPUT_STORAGE));
      this.buffer.copy(storage, 0, this.offset);
      chunk.copy(storage, pending);
      this.storage = storage;
      this.buffer = storage.subarray(0, pending + chunk.length);
      this.offset = 0;
    }
  }

  /** True while part of a request has arrived but not all of it. */
  get inRequest(): boolean {
    if (this.state !== 'head') return true;
    // A lone CR may begin one of the empty lines ignored before a request line (parseHead): no
    // request has begun with it, or a CR and its LF sent apart would restart the idle timeout.
    const pending = this.buffer.length - this.offset;
    return pending > 1 || (pending === 1 && this.buffer[this.offset] !== CR);
  }

  /** Bytes received and not yet consumed by a complete request. */
  get pendingBytes(): number {
    return this.buffer.length - this.offset;
  }

  /** Memory this parser holds now: its input buffer and the capacity of the body being read. */
  get heldBytes(): number {
    return (this.storage ?? this.buffer).length + this.body.length;
  }

  /** Returns the next event; call repeatedly until 'need-more' or 'error'. */
  next(): ParseEvent {
    if (this.state === 'failed') return NEED_MORE;
    try {
      return this.state === 'head' ? this.parseHead() : this.parseBody();
    } catch (error) {
      if (!(error instanceof ParseFailure)) throw error;
      const read: ReadSoFar = error.head !== undefined ? { kind: 'head', head: error.head } : this.readSoFar();
      this.state = 'failed';
      this.body = NO_BODY_BYTES;
      this.releaseInput();
      return { type: 'error', refusal: error.refusal, detail: error.detail, read };
    }
  }

  /** What of the request being read has arrived, for an answer that cannot wait for the rest (a timeout). */
  readSoFar(): ReadSoFar {
    return this.state === 'head' ? headReadSoFar(this.buffer, this.offset, this.lines, this.lineStart) : NOTHING_READ;
  }

  /** Asks for more bytes; once all input is consumed, keeps no reference to the socket's buffer. */
  private needMore(): ParseEvent {
    if (this.offset === this.buffer.length) this.releaseInput();
    return NEED_MORE;
  }

  private releaseInput(): void {
    this.buffer = NOTHING;
    this.storage = null;
    this.offset = 0;
  }

  private parseHead(): ParseEvent {
    const buf = this.buffer;
    // Nothing pending means nothing begun: no partial line is kept outside the buffer.
    if (this.offset === buf.length) return this.needMore();
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
      const lf = indexOfLf(buf, base + this.scanned);
      if (lf === -1) {
        this.scanned = buf.length - base;
        // The part of the line that has arrived, less a CR whose LF may be next.
        const partial = this.scanned - this.lineStart;
        this.checkHeadLimits(partial > 0 && buf[buf.length - 1] === CR ? partial - 1 : partial);
        return this.needMore();
      }
      const end = lf - base;
      const bareLf = end === 0 || buf[lf - 1] !== CR;
      const lineEnd = bareLf ? end : end - 1;
      // Limits before the line ending: a long line gets the same answer whether or not its LF has arrived.
      this.checkHeadLimits(lineEnd - this.lineStart);
      if (bareLf) throw new ParseFailure('bare_lf', 'line ending without CR (bare LF)');
      this.scanned = end + 1;
      if (lineEnd === this.lineStart) {
        if (this.lines.length === 0) throw new ParseFailure('missing_request_line', 'missing request line');
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
      if (content > this.limits.maxRequestLineBytes) throw new ParseFailure('request_line_too_long', 'request line too long');
    } else if (content > 0 && this.headerBytes + content + 2 > this.limits.maxHeaderBytes) {
      throw new ParseFailure('header_section_too_large', 'header section too large');
    }
  }

  private finishHead(headEnd: number): ParseEvent {
    const head = this.readHead(headEnd);
    const { framing } = head;
    // With its head, so that the answer can be the request's own (its log line, CORS fields).
    if (framing.kind === 'length' && framing.length > this.limits.maxBodyBytes) {
      throw new ParseFailure('body_too_large', `body of ${framing.length} bytes exceeds the limit of ${this.limits.maxBodyBytes}`, head);
    }
    this.offset = headEnd;
    this.scanned = 0;
    this.lineStart = 0;
    // A new array rather than `lines.length = 0`: the storage is dropped either way.
    this.lines = [];
    if (framing.kind === 'none' || (framing.kind === 'length' && framing.length === 0)) {
      this.headerBytes = 0;
      return { type: 'request', request: withBody(head, framing.kind === 'none' ? null : new Uint8Array(0)) };
    }
    this.startBody(head, framing);
    return { type: 'head', head };
  }

  /** The head whose lines have been scanned, up to `headEnd`. */
  private readHead(headEnd: number): RequestHead {
    // Decode the whole head once and slice strings: each Buffer.toString is a call into C++.
    return parseHead(this.buffer.toString('latin1', this.offset, headEnd), this.lines);
  }

  private startBody(head: RequestHead, framing: Exclude<BodyFraming, { kind: 'none' }>): void {
    this.head = head;
    this.bodyLength = 0;
    if (framing.kind === 'length') {
      // Its buffer comes with the first body byte (takeBodyBytes), not with the head: a request
      // refused on its head (the body budget, a token) never costs its announced size.
      this.body = NO_BODY_BYTES;
      this.chunkRemaining = framing.length;
      this.state = 'body-length';
    } else {
      this.body = new Uint8Array(0);
      this.bodyAnnounced = 0;
      this.state = 'chunk-size';
    }
  }

  private parseBody(): ParseEvent {
    for (;;) {
      switch (this.state) {
        case 'body-length':
          if (!this.takeBodyBytes()) return this.needMore();
          return this.finishBody();
        case 'chunk-size':
          if (!this.readChunkSize()) return this.needMore();
          break;
        case 'chunk-data':
          if (!this.takeBodyBytes()) return this.needMore();
          this.state = 'chunk-data-end';
          break;
        case 'chunk-data-end':
          if (this.pendingBytes < 2) return this.needMore();
          if (this.buffer[this.offset] !== CR || this.buffer[this.offset + 1] !== LF) {
            throw new ParseFailure('chunk_without_crlf', 'chunk data not followed by CRLF');
          }
          this.offset += 2;
          this.state = 'chunk-size';
          break;
        case 'trailers':
          if (!this.skipTrailers()) return this.needMore();
          return this.finishBody();
        default:
          throw new Error(`parser in state ${this.state} has no body to read`);
      }
    }
  }

  /** Copies up to `chunkRemaining` bytes into the body; true once they have all arrived. */
  private takeBodyBytes(): boolean {
    const take = Math.min(this.chunkRemaining, this.pendingBytes);
    if (take > 0) {
      // A Content-Length body: one buffer of exactly its length, never copied again.
      if (this.state === 'body-length' && this.body.length === 0) this.body = new Uint8Array(this.chunkRemaining);
      this.reserveBody(this.bodyLength + take);
      this.buffer.copy(this.body, this.bodyLength, this.offset, this.offset + take);
      this.bodyLength += take;
      this.offset += take;
      this.chunkRemaining -= take;
    }
    return this.chunkRemaining === 0;
  }

  /** Grows a chunked body's buffer to hold `needed` bytes; doubling keeps the copies linear in the body. */
  private reserveBody(needed: number): void {
    if (needed <= this.body.length) return;
    // `needed` is within maxBodyBytes: every chunk size was checked against it before its data.
    const capacity = Math.min(Math.max(needed, 2 * this.body.length, MIN_BODY_CAPACITY), this.limits.maxBodyBytes);
    const body = new Uint8Array(capacity);
    body.set(this.body.subarray(0, this.bodyLength));
    this.body = body;
  }

  private readChunkSize(): boolean {
    const line = this.readLine(MAX_CHUNK_SIZE_LINE, 'chunk_size_line_too_long', 'chunk size line too long');
    if (line === null) return false;
    const size = parseChunkSize(line);
    if (this.bodyAnnounced + size > this.limits.maxBodyBytes) {
      throw new ParseFailure('body_too_large', `chunked body exceeds the limit of ${this.limits.maxBodyBytes} bytes`);
    }
    this.bodyAnnounced += size;
    this.chunkRemaining = size;
    this.state = size === 0 ? 'trailers' : 'chunk-data';
    return true;
  }

  /** Trailer fields are validated and dropped; true once the final empty line has arrived. */
  private skipTrailers(): boolean {
    for (;;) {
      // Trailer lines spend what the head left of maxHeaderBytes, each with its CRLF.
      const room = Math.max(this.limits.maxHeaderBytes - this.headerBytes - 2, 0);
      const line = this.readLine(room, 'header_section_too_large', 'header and trailer sections too large');
      if (line === null) return false;
      if (line === '') return true;
      checkTrailerField(line);
      this.headerBytes += line.length + 2;
    }
  }

  /** One CRLF-terminated line from the buffer, or null if it has not arrived yet. */
  private readLine(maxLength: number, tooLongRefusal: Refusal, tooLong: string): string | null {
    const lf = this.buffer.indexOf(LF, this.offset + this.scanned);
    if (lf === -1) {
      if (this.pendingBytes > maxLength + 1) throw new ParseFailure(tooLongRefusal, tooLong);
      this.scanned = this.pendingBytes;
      return null;
    }
    this.scanned = 0;
    const bareLf = lf === this.offset || this.buffer[lf - 1] !== CR;
    // Length before the line ending, as for a line whose LF has not arrived yet.
    if (lf - this.offset - (bareLf ? 0 : 1) > maxLength) throw new ParseFailure(tooLongRefusal, tooLong);
    if (bareLf) throw new ParseFailure('bare_lf', 'line ending without CR (bare LF)');
    const line = this.buffer.toString('latin1', this.offset, lf - 1);
    if (line.includes('\r')) throw new ParseFailure('bare_cr', 'bare CR');
    this.offset = lf + 1;
    return line;
  }

  private finishBody(): ParseEvent {
    // A Content-Length body fills its buffer exactly. A chunked one may leave spare capacity, and
    // a view with spare capacity would be cloned whole to the worker instead of transferred (see
    // transferList): so it is trimmed, one copy of its bytes, while both buffers live (at most
    // three times the body for that moment).
    const body = this.bodyLength === this.body.length ? this.body : new Uint8Array(this.body.subarray(0, this.bodyLength));
    const request = withBody(this.head!, body);
    this.head = null;
    this.body = NO_BODY_BYTES;
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
