// One client socket's life: parse requests, hand them to the pool, write the responses back
// in request order, keep the connection alive or close it, and enforce the time limits.
import { close as closeFd } from 'node:fs';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ResponseCache } from '../handlers/response-cache.js';
import { route, type Route } from '../handlers/router.js';
import { transferList, type Work } from '../pool/messages.js';
import type { JobOutcome } from '../pool/pool.js';
import type { ServerEvents } from './events.js';
import { FileSender, type SendOutcome } from './file-sender.js';
import { RequestParser, type ParserLimits, type RequestHead } from './parser.js';
import { connectionFieldBytes, type PreparedHead } from './prepared-head.js';
import { connectionFields, errorResponse, headStart, httpDate, optionsResponse, type ConnectionHeaders, type HandlerResponse, type ResponseBody } from './response.js';
import { newTraceId, requestTraceId, traceIdFieldLine, type TraceId } from './trace-context.js'; // trace

export interface ConnectionSettings {
  readonly keepAliveTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly maxRequestsPerConnection: number;
  readonly limits: ParserLimits;
  readonly allowedHosts: ReadonlySet<string>;
}

/** Queues work on the pool; false when the pool is saturated. */
export type Dispatch = (work: Work, transfer: ArrayBuffer[], done: (outcome: JobOutcome) => void) => boolean;

export interface ConnectionDeps {
  readonly settings: ConnectionSettings;
  readonly dispatch: Dispatch;
  /** Small files the main thread answers itself, with no worker round trip. */
  readonly cache: ResponseCache;
  readonly events: ServerEvents;
  readonly log: Logger;
}

/** A request that has been read, in the order responses must go out. */
interface Slot {
  readonly method: string;
  readonly target: string;
  /** 1-based number of the request on this connection. */
  readonly index: number;
  /** Whether the connection may stay open after this response. */
  keepAlive: boolean;
  readonly startedAt: number;
  wantsContinue: boolean;
  response: HandlerResponse | null;
  workerId: number | null;
  /** Answered from the main thread's file cache. */
  cached: boolean;
  /** trace: logged with the request line and echoed in the response. */
  readonly traceId: TraceId;
}

type Phase = 'idle' | 'headers' | 'body' | 'write' | 'closing' | 'none';

/** Pipelined requests in flight per connection before we stop reading from it. */
const MAX_IN_FLIGHT = 16;
/** How long a closing socket may linger before it is destroyed. */
const CLOSE_GRACE_MS = 2000;
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

export class Connection {
  /** Absolute time (ms) at which `phase` expires; 0 for none. Checked by the server's sweep. */
  deadline = 0;
  private phase: Phase = 'idle';
  private readonly parser: RequestParser;
  private readonly slots: Slot[] = [];
  /** The request whose body is being read, with the route chosen from its head. */
  private bodyRequest: { readonly slot: Slot; readonly route: Extract<Route, { kind: 'static' | 'upload' }> } | null = null;
  private requestCount = 0;
  private requestStartedAt = 0;
  /** No further requests are parsed (close requested, error, or drain). */
  private readingDone = false;
  private paused = false;
  /** The file being sent, while one is. */
  private sender: FileSender | null = null;
  private draining = false;
  /** While draining: how long an idle connection waits for the client's last request. */
  private idleGraceMs = 0;
  private idleCloseScheduled = false;
  /** The client sent FIN; we answer what it asked and then close. */
  private clientEnded = false;
  private ended = false;
  private closed = false;

  /** `onEnded`: called once, when the connection ends its side (after its last response, or on a timeout). */
  constructor(
    readonly id: number,
    private readonly socket: Socket,
    private readonly deps: ConnectionDeps,
    private readonly onEnded: () => void,
  ) {
    this.parser = new RequestParser(deps.settings.limits);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onClientEnd());
    socket.on('drain', () => this.onDrain());
    socket.on('error', (error) => this.deps.log.debug({ conn: id, err: error.message }, 'socket error'));
    socket.on('close', () => this.onClose());
    this.setDeadline('idle', deps.settings.keepAliveTimeoutMs);
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? 'unknown';
  }

  /**
   * Graceful shutdown: finish what is in flight, read at most one more request, then close.
   * The response that ends the connection says `Connection: close`. A connection that is or
   * becomes idle waits `idleGraceMs` for a request before it closes (see closeWhenIdle).
   */
  drain(idleGraceMs: number): void {
    this.draining = true;
    this.idleGraceMs = idleGraceMs;
    this.flush();
  }

  /** Closes at once, whatever is in flight (the shutdown timeout has passed). */
  destroy(): void {
    this.socket.destroy();
  }

  /** Called by the server's sweep with the current time. */
  checkDeadline(now: number): void {
    if (this.deadline === 0 || now < this.deadline) return;
    const phase = this.phase;
    this.deadline = 0;
    switch (phase) {
      case 'idle':
        this.deps.log.debug({ conn: this.id }, 'keep-alive timeout, closing');
        this.end();
        break;
      case 'headers':
        this.failRequest(408, 'headers not received in time');
        break;
      case 'body':
        this.failRequest(408, 'body not received in time');
        break;
      case 'write':
      case 'closing':
        this.deps.log.debug({ conn: this.id, phase }, 'client stopped reading, destroying');
        this.socket.destroy();
        break;
    }
  }

  private onData(chunk: Buffer): void {
    if (this.readingDone) return;
    if (!this.parser.inRequest) this.requestStartedAt = Date.now();
    this.parser.feed(chunk);
    this.parse();
  }

  private parse(): void {
    // Corked, the responses to requests read in one go leave in one writev system call rather
    // than one each: 2.7x the throughput for a client that pipelines 16 requests deep.
    this.socket.cork();
    try {
      this.parseRequests();
    } finally {
      this.socket.uncork();
    }
  }

  private parseRequests(): void {
    while (!this.readingDone) {
      if (this.slots.length >= MAX_IN_FLIGHT || this.socket.writableNeedDrain) {
        // Backpressure: a client that pipelines faster than it reads waits for us.
        this.paused = true;
        this.socket.pause();
        break;
      }
      const event = this.parser.next();
      if (event.type === 'need-more') break;
      if (event.type === 'error') {
        this.failRequest(event.status, event.reason);
        return;
      }
      if (event.type === 'head') this.onHead(event.head);
      else this.onRequest(event.request.body, event.request);
      if (this.parser.inRequest) this.requestStartedAt = Date.now();
    }
    this.updateDeadline();
  }

  /** `bodyFollows`: the head of a request whose body is still to be read. */
  private openSlot(head: RequestHead, bodyFollows = false): Slot {
    this.requestCount++;
    const slot: Slot = {
      method: head.method,
      target: head.target,
      index: this.requestCount,
      keepAlive: head.keepAlive && this.requestCount < this.deps.settings.maxRequestsPerConnection,
      startedAt: performance.now(),
      wantsContinue: false,
      response: null,
      workerId: null,
      cached: false,
      traceId: requestTraceId(head.headers.traceparent), // trace
    };
    this.slots.push(slot);
    // The last request on this connection: read nothing after it (but its own body, if any).
    if (!slot.keepAlive && !bodyFollows) this.readingDone = true;
    return slot;
  }

  /** The head of a request with a body: refuse early, or ask for the body with 100 Continue. */
  private onHead(head: RequestHead): void {
    const slot = this.openSlot(head, true);
    const decision = route(head, this.deps.settings.allowedHosts);
    if (decision.kind === 'reject' || decision.kind === 'options') {
      // The body stays unread, so the connection cannot be reused.
      this.respondAtOnce(slot, decision, false);
      return;
    }
    this.bodyRequest = { slot, route: decision };
    slot.wantsContinue = head.expectContinue && head.version === '1.1';
    this.flush();
  }

  private onRequest(body: Uint8Array | null, head: RequestHead): void {
    let slot: Slot;
    let decision: Route;
    if (this.bodyRequest !== null) {
      ({ slot, route: decision } = this.bodyRequest);
      this.bodyRequest = null;
      slot.wantsContinue = false;
      if (!slot.keepAlive) this.readingDone = true;
    } else {
      slot = this.openSlot(head);
      decision = route(head, this.deps.settings.allowedHosts);
    }
    // While draining, this request is the connection's last: its response says close.
    if (this.draining) this.readingDone = true;
    if (decision.kind === 'reject' || decision.kind === 'options') {
      this.respondAtOnce(slot, decision, true);
      return;
    }
    const work: Work = decision.kind === 'upload' ? { kind: 'upload', body: body ?? new Uint8Array(0) } : decision;
    if (work.kind === 'static') {
      const cached = this.deps.cache.respond(work, Date.now());
      if (cached !== null) {
        slot.response = cached;
        slot.cached = true;
        this.flush();
        return;
      }
    }
    const transfer = work.kind === 'upload' ? transferList([work.body]) : [];
    const accepted = this.deps.dispatch(work, transfer, (outcome) => this.onOutcome(slot, work, outcome));
    if (!accepted) {
      this.deps.events.rejected('queue_full');
      slot.response = errorResponse(503, slot.method, [['Retry-After', '1']]);
      this.flush();
    }
  }

  /** Answers that need no worker: refusals decided from the head, and OPTIONS. */
  private respondAtOnce(slot: Slot, decision: Extract<Route, { kind: 'reject' | 'options' }>, keepAlive: boolean): void {
    if (decision.kind === 'options') {
      slot.response = optionsResponse(decision.allow);
    } else {
      if (decision.rule !== undefined) {
        this.deps.events.securityRejection(decision.rule);
        this.deps.log.warn({ conn: this.id, client: this.remoteAddress, target: slot.target, rule: decision.rule, reason: decision.reason }, 'security refusal');
      }
      slot.response = errorResponse(decision.status, slot.method, decision.headers);
    }
    if (!keepAlive) {
      slot.keepAlive = false;
      this.readingDone = true;
    }
    this.flush();
  }

  private onOutcome(slot: Slot, work: Work, outcome: JobOutcome): void {
    if (outcome.ok && outcome.result.cacheable !== undefined && work.kind === 'static') {
      this.deps.cache.store(work, outcome.result.cacheable, Date.now());
    }
    if (this.closed) {
      // Nobody is left to send to; a file the worker opened must still be closed.
      if (outcome.ok && outcome.result.response.body.kind === 'file') closeFd(outcome.result.response.body.fd, () => undefined);
      return;
    }
    slot.workerId = outcome.workerId;
    if (!outcome.ok) {
      this.deps.log.error({ conn: this.id, worker: outcome.workerId, err: outcome.error }, 'worker failed while holding the request');
      slot.response = errorResponse(500, slot.method);
    } else {
      const { result } = outcome;
      slot.response = result.response;
      if (result.securityRule !== undefined) this.deps.events.securityRejection(result.securityRule);
      if (result.storedBytes !== undefined) this.deps.events.uploadStored(result.storedBytes);
      if (result.log !== undefined) {
        const fields = { conn: this.id, client: this.remoteAddress, target: slot.target, worker: outcome.workerId, ...result.log.fields };
        this.deps.log[result.log.level](fields, result.log.message);
      }
    }
    this.flush();
  }

  /** A request that cannot be read any further: answer with `status` and close. */
  private failRequest(status: number, reason: string): void {
    this.readingDone = true;
    let slot: Slot;
    if (this.bodyRequest !== null) {
      slot = this.bodyRequest.slot;
      this.bodyRequest = null;
    } else {
      this.requestCount++;
      slot = { method: '-', target: '-', index: this.requestCount, keepAlive: false, startedAt: performance.now(), wantsContinue: false, response: null, workerId: null, cached: false, traceId: newTraceId() }; // trace
      this.slots.push(slot);
    }
    this.deps.log.info({ conn: this.id, client: this.remoteAddress, status, reason }, 'bad request');
    slot.response = errorResponse(status, 'GET');
    slot.wantsContinue = false;
    slot.keepAlive = false;
    this.flush();
  }

  /** Writes every response that is ready, in request order. */
  private flush(): void {
    while (this.sender === null && !this.ended && this.slots.length > 0) {
      const slot = this.slots[0]!;
      if (slot.response === null) {
        if (slot.wantsContinue) {
          this.socket.write(CONTINUE);
          slot.wantsContinue = false;
        }
        break;
      }
      this.slots.shift();
      const isLast = this.slots.length === 0 && this.bodyRequest === null;
      // Draining, or the client has sent FIN: the last response is followed by our close.
      const keepAlive = slot.keepAlive && !((this.draining || this.clientEnded) && isLast);
      this.write(slot, slot.response, keepAlive);
      if (!keepAlive && this.sender === null) this.end();
    }
    const nothingInFlight = this.slots.length === 0 && this.bodyRequest === null && this.sender === null;
    if (nothingInFlight && (this.clientEnded || (this.draining && this.readingDone))) this.end();
    else if (nothingInFlight && this.draining) this.closeWhenIdle();
    if (this.paused && this.slots.length < MAX_IN_FLIGHT && !this.socket.writableNeedDrain && !this.ended) {
      this.paused = false;
      this.socket.resume();
      this.parse();
      return;
    }
    this.updateDeadline();
  }

  private write(slot: Slot, response: HandlerResponse, keepAlive: boolean): void {
    const connection = {
      keepAlive,
      keepAliveTimeoutSeconds: Math.ceil(this.deps.settings.keepAliveTimeoutMs / 1000),
      remainingRequests: this.deps.settings.maxRequestsPerConnection - slot.index + 1,
    };
    const body = response.body;
    if (response.prepared !== undefined && body.kind !== 'file') {
      this.writePrepared(slot, response, response.prepared, connection);
      return;
    }
    const head = headStart(response, httpDate()) + traceIdFieldLine(slot.traceId) + connectionFields(connection); // trace: serializeHead plus the trace id field
    if (body.kind === 'file') {
      this.socket.write(head, 'latin1');
      this.streamFile(slot, response, body, keepAlive, head.length);
      return;
    }
    if (body.kind === 'bytes') {
      // Corked, head and body leave in one writev system call, so one packet, without copying
      // the body. (Copying both into one new buffer cost a 4 KiB page about 15% of its
      // throughput: past 4 KiB, Buffer.allocUnsafe no longer slices its pool.)
      this.socket.cork();
      this.socket.write(head, 'latin1');
      this.socket.write(body.bytes);
      this.socket.uncork();
    } else {
      this.socket.write(head, 'latin1');
    }
    this.finished(slot, response.status, head.length + (body.kind === 'bytes' ? body.bytes.length : 0), keepAlive);
  }

  /** A response whose head was serialized ahead: three ready buffers in one writev. */
  private writePrepared(slot: Slot, response: HandlerResponse, prepared: PreparedHead, connection: ConnectionHeaders): void {
    const start = prepared.startBytes();
    const ending = connectionFieldBytes(connection);
    const body = response.body.kind === 'bytes' ? response.body.bytes : null;
    this.socket.cork();
    this.socket.write(start);
    this.socket.write(traceIdFieldLine(slot.traceId), 'latin1'); // trace
    this.socket.write(ending);
    if (body !== null) this.socket.write(body);
    this.socket.uncork();
    this.finished(slot, response.status, start.length + ending.length + (body?.length ?? 0), connection.keepAlive);
  }

  /** Streams a large file with backpressure; memory stays flat whatever the file size. */
  private streamFile(slot: Slot, response: HandlerResponse, file: Extract<ResponseBody, { kind: 'file' }>, keepAlive: boolean, headBytes: number): void {
    const { fd, start, length } = file;
    if (length === 0) {
      closeFd(fd, () => undefined);
      this.finished(slot, response.status, headBytes, keepAlive);
      return;
    }
    const onDone = (outcome: SendOutcome): void => {
      this.sender = null;
      if (!outcome.ok) {
        // The body is cut short, so the framing is broken: the connection must go.
        this.deps.log.error({ conn: this.id, err: outcome.error, length }, outcome.reason);
        this.socket.destroy();
        return;
      }
      this.finished(slot, response.status, headBytes + outcome.bytes, keepAlive);
      if (keepAlive) this.flush();
      else this.end();
    };
    this.sender = new FileSender(this.socket, { fd, start, length }, () => this.updateDeadline(), onDone);
    this.sender.start();
  }

  private finished(slot: Slot, status: number, bytes: number, keepAlive: boolean): void {
    const seconds = (performance.now() - slot.startedAt) / 1000;
    this.deps.events.requestCompleted(slot.method, status, seconds);
    // The access log line; its fields are not even built when info is off.
    if (!this.deps.log.isLevelEnabled('info')) return;
    this.deps.log.info(
      { conn: this.id, method: slot.method, path: slot.target, status, bytes, ms: Math.round(seconds * 1e6) / 1e3, worker: slot.workerId, cached: slot.cached, connection: keepAlive ? 'keep-alive' : 'close', traceId: slot.traceId }, // trace: traceId
      'request',
    );
  }

  private onDrain(): void {
    if (this.paused) this.flush();
    else this.updateDeadline();
  }

  /** The client sent FIN: answer what it asked for, then close. */
  private onClientEnd(): void {
    this.readingDone = true;
    this.clientEnded = true;
    if (this.bodyRequest !== null || (this.slots.length === 0 && this.parser.inRequest)) {
      // The last request can never complete.
      this.socket.destroy();
      return;
    }
    if (this.slots.length === 0 && this.sender === null) this.end();
  }

  /**
   * Draining and idle, but the client may have sent a request we have not read yet (it is in
   * the socket buffer, or on its way because our last response promised keep-alive). Closing
   * now would drop it unanswered, so wait the grace, let the event loop read once more, and
   * close only if nothing arrived. A request that does arrive is served with `Connection: close`.
   */
  private closeWhenIdle(): void {
    if (this.idleCloseScheduled || this.ended) return;
    this.idleCloseScheduled = true;
    setTimeout(() => {
      // setImmediate runs after the poll phase, which reads whatever has arrived by now.
      setImmediate(() => {
        this.idleCloseScheduled = false;
        if (this.ended || this.closed || this.slots.length > 0 || this.bodyRequest !== null || this.sender !== null || this.parser.inRequest) return;
        // Our last response is still on its way: the client cannot have answered it yet.
        if (this.socket.writableLength > 0) this.closeWhenIdle();
        else this.end();
      });
    }, this.idleGraceMs);
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.readingDone = true;
    this.socket.end();
    this.setDeadline('closing', CLOSE_GRACE_MS);
    this.onEnded();
  }

  private onClose(): void {
    this.closed = true;
    this.deadline = 0;
    this.sender?.stop();
    this.sender = null;
    // Responses that never got their turn on the wire may still hold an open file.
    for (const slot of this.slots.splice(0)) {
      if (slot.response?.body.kind === 'file') closeFd(slot.response.body.fd, () => undefined);
    }
  }

  private updateDeadline(): void {
    if (this.ended) return;
    const { settings } = this.deps;
    if (this.bodyRequest !== null) this.setDeadlineAt('body', this.requestStartedAt + settings.requestTimeoutMs);
    else if (this.sender !== null || (this.slots.length > 0 && this.socket.writableLength > 0)) this.setDeadline('write', settings.keepAliveTimeoutMs);
    else if (this.slots.length > 0) this.setDeadlineAt('none', 0);
    else if (this.parser.inRequest) this.setDeadlineAt('headers', this.requestStartedAt + settings.headersTimeoutMs);
    else if (this.phase !== 'idle') this.setDeadline('idle', settings.keepAliveTimeoutMs);
  }

  private setDeadline(phase: Phase, fromNowMs: number): void {
    this.setDeadlineAt(phase, Date.now() + fromNowMs);
  }

  private setDeadlineAt(phase: Phase, at: number): void {
    this.phase = phase;
    this.deadline = at;
  }
}
