// Reads requests off a connection's stream: feeds the parser, hands each complete head or
// request to the connection, and stops reading while the connection has no room for more
// (a client that pipelines faster than it reads waits for us), or for the rest of the event
// loop's turn once it has taken its share (other clients wait for no one's pipeline). Remembers
// when the request being read began, for its deadlines.
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { Refusal } from '../core/refusals.js';
import type { ParsedRequest, RequestHead } from '../core/request.js';
import { RequestParser, type ParserLimits } from './parser.js';
import type { ReadSoFar } from './read-so-far.js';

export interface RequestEvents {
  /** Whether another request may be taken now. */
  hasRoom(): boolean;
  /** The head of a request whose body follows. */
  head(head: RequestHead): void;
  request(request: ParsedRequest): void;
  /** The bytes cannot be read as a request; nothing more is read. */
  invalid(refusal: Refusal, detail: string, read: ReadSoFar): void;
  /**
   * The client sent FIN and every complete request it sent before has been taken. When the
   * reader is `inRequest`, the bytes after them began a request that can never complete.
   */
  inputEnded(): void;
  /** The other connections have had their turn: call resume() to read on. */
  nextTurn(): void;
}

/**
 * Requests one connection takes in a row before the other connections get a turn. Answers
 * from the cache, and refusals, leave at once and free their place in flight, so without it
 * one read of such pipelined requests runs on in one synchronous burst to the connection's
 * last request while every other client waits. Sixteen, like the requests one may have in flight.
 */
const TURN_BUDGET = 16;

/**
 * `paused` while the connection has no room; `yielding` until the event loop's next turn,
 * once the connection has taken TURN_BUDGET requests; `done` after the last request.
 */
type Input = 'reading' | 'paused' | 'yielding' | 'done';

export class RequestReader {
  private input: Input = 'reading';
  /** The client sent FIN: what the parser holds is all there will be. */
  private endOfInput = false;
  private readonly parser: RequestParser;
  /** When the first byte of the request being read arrived (ms). */
  private begun = 0;
  /** Requests still to be taken in this turn before the reader yields (see TURN_BUDGET). */
  private budget = TURN_BUDGET;

  constructor(
    private readonly stream: Duplex,
    limits: ParserLimits,
    private readonly events: RequestEvents,
  ) {
    this.parser = new RequestParser(limits);
  }

  get done(): boolean {
    return this.input === 'done';
  }

  get paused(): boolean {
    return this.input === 'paused';
  }

  /** Requests have arrived that wait for the event loop's next turn: the server's to take, not the client's to send. */
  get yielding(): boolean {
    return this.input === 'yielding';
  }

  /** Part of a request has arrived, not all of it. */
  get inRequest(): boolean {
    return this.parser.inRequest;
  }

  /** What of the request being read has arrived (see ReadSoFar). */
  readSoFar(): ReadSoFar {
    return this.parser.readSoFar();
  }

  /** When the request being read began (ms on the monotonic clock, as deadline.ts counts). */
  get requestBegan(): number {
    return this.begun;
  }

  /** Reads nothing more: the last request has been read, or the connection ends. */
  stop(): void {
    this.input = 'done';
  }

  /**
   * The client sent FIN. The requests already received are still taken, as room allows
   * (pipelined ones may wait behind a full window), then `inputEnded` is reported.
   */
  clientEnded(): void {
    this.endOfInput = true;
    if (this.input === 'reading') this.read();
  }

  feed(chunk: Buffer): void {
    // Bytes after the input ended (endInputHere) came after the shutdown began: not read.
    if (this.input === 'done' || this.endOfInput) return;
    if (!this.parser.inRequest) this.begun = performance.now();
    this.parser.feed(chunk);
    this.read();
  }

  /** Reads on after a pause, if there is room again. */
  resume(): void {
    if (this.input !== 'paused' || !this.events.hasRoom()) return;
    this.input = 'reading';
    this.stream.resume();
    this.read();
  }

  /**
   * Shutdown, while requests that arrived wait to be taken (the reader yielded its turn, or
   * waits for room): they are all that will be read, as if the client had sent FIN after them.
   * They are still taken, as room allows and turn by turn, then `inputEnded` is reported. A
   * reader that took all it had is left alone: the request it is receiving may still come.
   */
  endInputHere(): void {
    if ((this.input !== 'yielding' && this.input !== 'paused') || !this.parser.inRequest) return;
    this.endOfInput = true;
  }

  /** The client sent FIN, or a shutdown ended the input: what the parser holds is all there will be. */
  get noMoreInput(): boolean {
    return this.endOfInput;
  }

  /** The input has ended, and requests that arrived before its end are still to be taken. */
  get takingLastRequests(): boolean {
    return this.endOfInput && this.input !== 'done';
  }

  /** Takes every complete request from what has arrived, while there is room. */
  private read(): void {
    while (this.input === 'reading') {
      if (!this.events.hasRoom()) {
        this.input = 'paused';
        this.stream.pause();
        return;
      }
      // Only when more has already arrived: a client that sent just its share waits for no turn.
      if (this.budget === 0 && this.parser.inRequest) return this.yieldTurn();
      const event = this.parser.next();
      if (event.type === 'need-more') {
        this.budget = TURN_BUDGET;
        if (!this.endOfInput) return;
        this.input = 'done';
        return this.events.inputEnded();
      }
      if (event.type === 'error') {
        this.input = 'done';
        return this.events.invalid(event.refusal, event.detail, event.read);
      }
      if (event.type === 'head') {
        // The body is part of the same request: its deadline still counts from the head's first byte.
        this.events.head(event.head);
      } else {
        this.budget--;
        this.events.request(event.request);
        if (this.parser.inRequest) this.begun = performance.now();
      }
    }
  }

  /** Takes nothing more until the event loop has served the other connections once. */
  private yieldTurn(): void {
    this.input = 'yielding';
    this.stream.pause();
    setImmediate(() => {
      if (this.input !== 'yielding') return;
      this.budget = TURN_BUDGET;
      this.input = 'paused';
      this.events.nextTurn();
    });
  }
}
