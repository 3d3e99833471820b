// One connection to the admin port: reads requests with the project's parser and answers
// them one at a time, in order. Nothing is read while an answer is being made or waits for
// the client to read it, so whatever a client pipelines, a connection holds at most one
// socket read and one answer (docs/memory.md). Probes and scrapers send one request at a
// time; the port is for operators, and answers only GET and HEAD of a few paths.
import type { Socket } from 'node:net';
import { setTimeoutAfterPoll } from '../core/after-poll.js';
import { refusalStatus } from '../core/refusals.js';
import type { ParsedRequest } from '../core/request.js';
import { errorDocument, reasonPhrase, type Status } from '../core/status.js';
import { RequestParser, type ParserLimits } from '../http/parser.js';
import { methodRead } from '../http/read-so-far.js';

export interface AdminAnswer {
  readonly status: Status;
  readonly contentType: string;
  readonly body: string;
  /** Fields beyond Content-Type, Content-Length, Cache-Control and X-Content-Type-Options (Allow, WWW-Authenticate). */
  readonly fields?: ReadonlyArray<readonly [name: string, value: string]>;
}

/** The admin port's requests are short, and carry no body. */
const ADMIN_LIMITS: ParserLimits = { maxRequestLineBytes: 4096, maxHeaderBytes: 16_384, maxBodyBytes: 0 };
/** A head must arrive this soon after its first byte (a client that trickles one holds a descriptor). */
const HEAD_TIMEOUT_MS = 5000;
/** A connection with no traffic either way for this long is closed: idle, or a client that stopped reading. */
const IDLE_TIMEOUT_MS = 5000;

export class AdminConnection {
  private readonly parser = new RequestParser(ADMIN_LIMITS);
  /** An answer is being made or written: read nothing more until it has left. */
  private answering = false;
  /** The last answer has been sent: nothing more is read. */
  private ended = false;
  /** The client sent FIN: answer what it sent, then close. */
  private clientEnded = false;
  private headTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly socket: Socket,
    private readonly answer: (request: ParsedRequest) => AdminAnswer | Promise<AdminAnswer>,
    private readonly answerFailed: (error: unknown) => void,
  ) {
    socket.setTimeout(IDLE_TIMEOUT_MS, () => this.onIdle());
    socket.on('data', (chunk: Buffer) => {
      this.parser.feed(chunk);
      this.readOn();
    });
    socket.on('drain', () => this.readOn());
    socket.on('end', () => {
      this.clientEnded = true;
      this.readOn();
    });
    socket.on('error', () => undefined);
    socket.once('close', () => {
      this.ended = true;
      this.stopHeadTimer();
    });
  }

  /** Takes the next request the parser holds, or waits for more bytes. */
  private readOn(): void {
    if (this.ended) return;
    if (this.answering || this.socket.writableNeedDrain) {
      this.socket.pause();
      return;
    }
    const event = this.parser.next();
    if (event.type === 'need-more') {
      if (this.clientEnded) {
        // What is left of a request can never complete: it gets no answer.
        this.ended = true;
        this.socket.end();
        return;
      }
      this.socket.resume();
      if (this.parser.inRequest) this.startHeadTimer();
      return;
    }
    this.stopHeadTimer();
    if (event.type === 'error') return this.send(methodRead(event.read) ?? '', errorAnswer(refusalStatus(event.refusal), event.detail), false);
    if (event.type === 'head') return this.send(event.head.method, errorAnswer(413, 'the admin port takes no request body'), false);
    const request = event.request;
    this.answering = true;
    this.socket.pause();
    void Promise.resolve()
      .then(() => this.answer(request))
      // The error is for the operator's log; the client learns only that the answer failed.
      .catch((error: unknown) => {
        this.answerFailed(error);
        return errorAnswer(500, 'the answer could not be made: see the server log');
      })
      .then((answer) => {
        this.answering = false;
        this.send(request.method, answer, request.keepAlive);
        // The next request in a later turn of the event loop: answers made of promises alone
        // would otherwise run a whole pipeline in one go while the public port waits.
        if (request.keepAlive) setImmediate(() => this.readOn());
      });
  }

  private send(method: string, answer: AdminAnswer, keepAlive: boolean): void {
    if (this.ended) return;
    let head = `HTTP/1.1 ${answer.status} ${reasonPhrase(answer.status)}\r\nDate: ${new Date().toUTCString()}\r\nContent-Type: ${answer.contentType}\r\nContent-Length: ${Buffer.byteLength(answer.body)}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n`;
    for (const [name, value] of answer.fields ?? []) head += `${name}: ${value}\r\n`;
    head += keepAlive ? 'Connection: keep-alive\r\n\r\n' : 'Connection: close\r\n\r\n';
    // A HEAD request's answer is the head alone (RFC 9110 §9.3.2).
    this.socket.write(method === 'HEAD' ? head : head + answer.body);
    if (keepAlive) return;
    this.ended = true;
    this.socket.end();
  }

  /**
   * The socket's timeout, judged after the poll phase: the timer runs before it, and after the
   * process was frozen the client's request may be waiting to be read (core/after-poll.ts).
   * A read re-arms the timeout.
   */
  private onIdle(): void {
    const read = this.socket.bytesRead;
    setImmediate(() => {
      if (this.socket.bytesRead === read) this.idleTimedOut();
    });
  }

  /**
   * Nothing either way for IDLE_TIMEOUT_MS. A head begun and left unfinished gets its 408, as
   * one trickling in does, and the client one more IDLE_TIMEOUT_MS to take it and close. A
   * client that stopped reading, or one idle between requests, just loses the socket.
   */
  private idleTimedOut(): void {
    if (!this.ended && !this.answering && this.socket.writableLength === 0 && this.parser.inRequest) return this.headTimedOut();
    this.socket.destroy();
  }

  /** 408, and the client one more IDLE_TIMEOUT_MS to take it and close. */
  private headTimedOut(): void {
    this.stopHeadTimer();
    this.send('', errorAnswer(408, 'the request head was not received in time'), false);
    this.socket.setTimeout(IDLE_TIMEOUT_MS);
  }

  private startHeadTimer(): void {
    if (this.headTimer !== null) return;
    // After the poll phase, like onIdle: a head that completed meanwhile has stopped this timer.
    const timer = setTimeoutAfterPoll(() => {
      if (this.headTimer === timer) this.headTimedOut();
    }, HEAD_TIMEOUT_MS);
    this.headTimer = timer;
  }

  private stopHeadTimer(): void {
    if (this.headTimer === null) return;
    clearTimeout(this.headTimer);
    this.headTimer = null;
  }
}

/** A JSON document as an answer. */
export function jsonAnswer(status: Status, document: unknown, fields?: AdminAnswer['fields']): AdminAnswer {
  return { status, contentType: 'application/json', body: JSON.stringify(document), fields };
}

/** A JSON error document, as the admin port answers every refusal. */
export function errorAnswer(status: Status, message: string, fields?: AdminAnswer['fields']): AdminAnswer {
  return jsonAnswer(status, errorDocument(message), fields);
}
