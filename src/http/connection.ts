// One client connection's life: read and parse requests, hand each to the dispatch (see
// dispatch.ts), send the responses in request order, keep the connection alive or close it,
// and enforce the time limits. The bytes on the wire are ResponseWriter's; this file holds
// the connection's state and its decisions.
import type { Duplex } from 'node:stream';
import { setTimeoutAfterPoll } from '../core/after-poll.js';
import type { Job } from '../core/job.js';
import type { ParsedRequest, RequestHead } from '../core/request.js';
import { errorResponse, refusalResponse, RETRY_IN_A_SECOND, type Response } from '../core/response.js';
import { refusalStatus, type Refusal } from '../core/refusals.js';
import { MAX_HOLDING, MAX_IN_FLIGHT, type Accepted, type ConnectionDeps, type ConnectionOwner } from './connection-settings.js';
import { advance, closesWhenAnswered, hasEnded, type Lifecycle } from './connection-lifecycle.js';
import { Deadline } from './deadline.js';
import { abandoned, CLIENT_CLOSED, completed, dispatch, giveUploadBack, immediateResponse, routeAndGate, type Responder } from './dispatch.js';
import type { BodyShare } from './body-budget.js';
import type { SendOutcome } from './file-sender.js';
import { closeResponseFile, ExchangeQueue, type Exchange } from './exchange.js';
import { admitBody, requestExchange, unreadableExchange, type AwaitingBody } from './intake.js';
import { NOTHING_READ, type ReadSoFar } from './read-so-far.js';
import { RequestReader } from './request-reader.js';
import { ResponseWriter } from './response-writer.js';
import type { ImmediateRoute, Route } from './router.js';

export class Connection implements Responder {
  /** Where the connection is in its life: it only moves forward (see connection-lifecycle.ts). */
  private lifecycle: Lifecycle = 'serving';
  /** Checked by the server's sweep (checkDeadline). */
  private readonly deadline: Deadline;
  private readonly reader: RequestReader;
  private readonly exchanges = new ExchangeQueue();
  private readonly writer: ResponseWriter;
  private awaitingBody: AwaitingBody | null = null;
  /** The server closed the connection (the shutdown timeout, a file cut short): what was in flight failed on our side, not the client's. */
  private cutByServer = false;
  /** The response whose file the writer is streaming, while it does. */
  private streaming: { readonly exchange: Exchange; readonly status: number; readonly keepAlive: boolean } | null = null;
  private requestCount = 0;
  /** While draining: how long an idle connection waits for the client's last request. */
  private idleGraceMs = 0;
  private idleCloseTimer: NodeJS.Timeout | null = null;

  /** The connection fields of the response being written, refilled for each (headBytes reads them at once). */
  private readonly connectionFields: { keepAlive: boolean; readonly keepAliveTimeoutSeconds: number; remainingRequests: number };

  constructor(
    readonly id: number,
    private readonly stream: Duplex,
    /** Who the connection speaks for (each request's own client may differ: see intake.ts). */
    private readonly accepted: Accepted,
    private readonly deps: ConnectionDeps,
    private readonly owner: ConnectionOwner,
  ) {
    // Rounded down: the announced timeout is a time the connection surely stays open.
    this.connectionFields = { keepAlive: true, keepAliveTimeoutSeconds: Math.floor(deps.settings.keepAliveTimeoutMs / 1000), remainingRequests: 0 };
    this.deadline = new Deadline(deps.settings);
    this.reader = new RequestReader(stream, deps.settings.limits, {
      hasRoom: () => this.exchanges.length < MAX_IN_FLIGHT && this.exchanges.holding() < MAX_HOLDING && !this.stream.writableNeedDrain,
      head: (head) => this.onHead(head),
      request: (request) => this.onRequest(request),
      invalid: (refusal, detail, read) => this.failRequest(refusal, detail, read),
      inputEnded: () => this.onInputEnded(),
      nextTurn: () => {
        if (!hasEnded(this.lifecycle)) this.read(null);
      },
    });
    this.writer = new ResponseWriter(stream, () => this.updateDeadline(), (outcome) => this.onStreamed(outcome));
    stream.on('data', (chunk: Buffer) => this.read(chunk));
    stream.on('end', () => this.onClientEnd());
    stream.on('drain', () => this.onDrain());
    stream.on('error', (error) => this.deps.log.debug({ conn: id, err: error.message }, 'socket error'));
    stream.on('close', () => this.onClose());
    this.deadline.enter('idle', this.reader.requestBegan);
    // Last, once the connection is whole: these bytes may already hold whole requests.
    const first = accepted.firstBytes;
    if (first !== null && first.length > 0) this.read(Buffer.from(first.buffer, first.byteOffset, first.length));
  }

  /**
   * Graceful shutdown: finish what is in flight and what had arrived, else read at most one
   * more request, then close.
   * The response that ends the connection says `Connection: close`. A connection that is or
   * becomes idle waits `idleGraceMs` for a request before it closes (see closeWhenIdle).
   */
  drain(idleGraceMs: number): void {
    this.idleGraceMs = idleGraceMs;
    this.lifecycle = advance(this.lifecycle, 'draining');
    // Requests that arrived before the signal but are not taken yet (the reader yielded its
    // turn, or waits for room) are served, as if the client had sent FIN after them; a body
    // being received may still come, as may the request of a reader that took all it had.
    if (this.awaitingBody === null) this.reader.endInputHere();
    this.flush();
  }

  /** Closes at once, whatever is in flight (the shutdown timeout has passed). */
  destroy(): void {
    this.cutByServer = true;
    this.stream.destroy();
  }

  /** Called by the server's sweep with the current time. */
  checkDeadline(now: number): void {
    const phase = this.deadline.expired(now);
    if (phase === 'idle') {
      this.deps.log.debug({ conn: this.id }, 'keep-alive timeout, closing');
      this.end();
    } else if (phase === 'headers' || phase === 'body') {
      // A head cut short still names its request, if its line came: a HEAD's 408 has no body.
      this.failRequest(phase === 'headers' ? 'head_timeout' : 'body_timeout', `${phase} not received in time`, this.reader.readSoFar());
    } else if (phase === 'write' || phase === 'closing') {
      this.deps.log.debug({ conn: this.id, phase }, phase === 'write' ? 'client stopped reading, destroying' : 'client never closed, destroying');
      this.stream.destroy();
    }
  }

  // Reading -----------------------------------------------------------------------------

  /**
   * Reads what `chunk` brings, or (null) reads on after a pause. Corked meanwhile, so the
   * responses to requests read in one go leave in one writev system call.
   */
  private read(chunk: Buffer | null): void {
    this.stream.cork();
    try {
      if (chunk === null) this.reader.resume();
      else this.reader.feed(chunk);
    } finally {
      this.stream.uncork();
    }
    this.updateDeadline();
  }

  /** `bodyFollows`: the head of a request whose body is still to be read. */
  private openExchange(head: RequestHead, bodyFollows: boolean): Exchange {
    const exchange = requestExchange(this.deps, this.accepted, head, ++this.requestCount);
    this.deadline.noteRequest(this.reader.requestBegan);
    // The server is leaving: its client's next connection goes where the balancer now routes.
    if (this.owner.windingDown()) exchange.keepAlive = false;
    this.exchanges.push(exchange);
    // The last request on this connection: read nothing after it (but its own body, if any).
    if (!exchange.keepAlive && !bodyFollows) this.reader.stop();
    return exchange;
  }

  // Answering: what each request gets is dispatch.ts's ------------------------------------

  /** The head of a request with a body: refuse early, or ask for the body with 100 Continue. */
  private onHead(head: RequestHead): void {
    const exchange = this.openExchange(head, true);
    const decision = routeAndGate(this.deps, head, exchange);
    if (decision.kind === 'reject' || decision.kind === 'options') {
      // The body stays unread, so the connection cannot be reused.
      return this.answerAtOnce(exchange, decision, false);
    }
    const admitted = admitBody(this.deps, head, exchange, decision);
    if (!('share' in admitted)) return this.answerAtOnce(exchange, admitted, false);
    this.awaitingBody = admitted;
    exchange.wantsContinue = head.expectContinue && head.version === '1.1';
    this.flush();
  }

  private onRequest(request: ParsedRequest): void {
    let exchange: Exchange;
    let decision: Route;
    let share: BodyShare | null = null;
    const awaited = this.takeAwaitingBody();
    if (awaited !== null) {
      ({ exchange, route: decision, share } = awaited);
      if (!exchange.keepAlive) this.reader.stop();
    } else {
      exchange = this.openExchange(request, false);
      decision = routeAndGate(this.deps, request, exchange);
    }
    // While draining, this request is the connection's last (its response says close), unless
    // it is one of those that arrived before the signal.
    if (this.lifecycle === 'draining' && !this.reader.noMoreInput) this.reader.stop();
    if (decision.kind === 'reject' || decision.kind === 'options') return this.answerAtOnce(exchange, decision, true);
    const job: Job = decision.kind === 'upload' ? { kind: 'upload', body: request.body ?? new Uint8Array(0) } : decision;
    dispatch(this.deps, this, exchange, job, share);
  }

  /** Refusals decided from the head, and OPTIONS. */
  private answerAtOnce(exchange: Exchange, decision: ImmediateRoute, keepAlive: boolean): void {
    const response = immediateResponse(this.deps, this.id, exchange, decision);
    if (keepAlive) this.respond(exchange, response);
    else this.refuse(exchange, response);
  }

  /** The request whose body was being read, which is no longer awaited: its body came, or never will. */
  private takeAwaitingBody(): AwaitingBody | null {
    const awaited = this.awaitingBody;
    this.awaitingBody = null;
    if (awaited !== null) awaited.exchange.wantsContinue = false;
    return awaited;
  }

  /** Answers a request whose body stays unread: nothing after it can be read, so the connection closes. */
  private refuse(exchange: Exchange, response: Response): void {
    exchange.keepAlive = false;
    this.reader.stop();
    this.respond(exchange, response);
  }

  /**
   * A request that cannot be read any further: answer with the refusal and close. `read`: what
   * the parser had read of it, whose answer it then is (a HEAD gets no body).
   */
  private failRequest(refusal: Refusal, detail: string, read: ReadSoFar = NOTHING_READ): void {
    this.reader.stop();
    let exchange: Exchange;
    const awaited = this.takeAwaitingBody();
    if (awaited !== null) {
      exchange = awaited.exchange;
      awaited.share.release();
      if (refusal === 'body_too_large' && awaited.route.kind === 'upload') giveUploadBack(this.deps, exchange);
    } else if (read.kind === 'head') {
      exchange = this.openExchange(read.head, false);
    } else {
      exchange = unreadableExchange(this.accepted, read, ++this.requestCount);
      this.exchanges.push(exchange);
    }
    this.deps.log.info({ conn: this.id, client: exchange.client, status: refusalStatus(refusal), reason: refusal, detail, traceId: exchange.traceId }, 'bad request');
    exchange.keepAlive = false;
    // A HEAD request's answer has no body, whatever went wrong with it (RFC 9110 §9.3.2).
    this.respond(exchange, refusalResponse(refusal, exchange.method));
  }

  // Sending -----------------------------------------------------------------------------

  /** `response` answers `exchange`; it leaves once the responses before it have. */
  respond(exchange: Exchange, response: Response): void {
    // Nobody is left to send to; a file the worker opened must still be closed.
    if (this.lifecycle === 'closed') return closeResponseFile(response);
    exchange.response = response;
    this.flush();
  }

  /** Writes every response that is ready, in request order, then decides what comes next. */
  private flush(): void {
    while (!this.writer.busy && !hasEnded(this.lifecycle)) {
      const exchange = this.exchanges.first();
      if (exchange === undefined) break;
      if (exchange.response === null) {
        if (exchange.wantsContinue) {
          this.writer.continue(exchange.traceId);
          exchange.wantsContinue = false;
        }
        break;
      }
      this.exchanges.shift();
      this.send(exchange, exchange.response);
    }
    this.afterFlush();
  }

  private send(exchange: Exchange, response: Response): void {
    const nothingAfter = this.exchanges.length === 0 && this.awaitingBody === null;
    // Draining, or the client has sent FIN: the last response is followed by our close, but
    // not while requests that arrived before the input ended are still to be read.
    const isLast = nothingAfter && closesWhenAnswered(this.lifecycle) && !this.reader.takingLastRequests;
    const keepAlive = exchange.keepAlive && !isLast;
    const connection = this.connectionFields;
    connection.keepAlive = keepAlive;
    connection.remainingRequests = this.deps.settings.maxRequestsPerConnection - exchange.index + 1;
    const outcome = this.writer.write(response, connection, exchange.traceId, exchange.fieldLines);
    if (outcome === 'streaming') this.streaming = { exchange, status: response.status, keepAlive };
    else this.onSent(exchange, response.status, keepAlive, outcome);
  }

  /** The file being streamed is done: carry on with the responses that waited for it. */
  private onStreamed(outcome: SendOutcome): void {
    const { exchange, status, keepAlive } = this.streaming!;
    this.streaming = null;
    if (!outcome.ok && !outcome.begun) return this.replaceUnsent(exchange, outcome);
    this.onSent(exchange, status, keepAlive, outcome);
    if (outcome.ok && keepAlive) this.flush();
  }

  /**
   * The file could not be read as its head announced, and nothing of the response has gone
   * out (it shrank while the response waited its turn, or a read failed): an error takes its
   * place, as when a worker finds the same, and the connection carries on.
   */
  private replaceUnsent(exchange: Exchange, outcome: Extract<SendOutcome, { ok: false }>): void {
    const fields = { conn: this.id, path: exchange.target, err: outcome.error, traceId: exchange.traceId };
    if (outcome.error === undefined) {
      // A refusal's line names its code as `reason`, as its access line does.
      this.deps.log.warn({ ...fields, reason: 'file_changed' }, `${outcome.reason}: 503`);
      exchange.response = refusalResponse('file_changed', exchange.method, RETRY_IN_A_SECOND);
    } else {
      this.deps.log.error(fields, `${outcome.reason}: 500`);
      exchange.response = errorResponse(500, exchange.method);
    }
    this.send(exchange, exchange.response);
    this.flush();
  }

  private onSent(exchange: Exchange, status: number, keepAlive: boolean, outcome: SendOutcome): void {
    if (!outcome.ok) {
      // The body was cut short, so the framing is broken: the connection must go, and with it
      // the requests behind this one, which the server, not the client, leaves unanswered.
      this.deps.log.error({ conn: this.id, path: exchange.target, err: outcome.error, traceId: exchange.traceId }, outcome.reason);
      this.cutByServer = true;
      abandoned(this.deps, this.id, exchange, status, 'server');
      this.stream.destroy();
      return;
    }
    completed(this.deps, this.id, exchange, status, outcome.bytes, keepAlive);
    if (!keepAlive) this.end();
  }

  // What comes next ---------------------------------------------------------------------

  /** After writing: close when done, wait for a last request while draining, or read on. */
  private afterFlush(): void {
    const nothingInFlight = this.exchanges.length === 0 && this.awaitingBody === null && !this.writer.busy;
    if (nothingInFlight && closesWhenAnswered(this.lifecycle) && this.reader.done) this.end();
    else if (nothingInFlight && this.lifecycle === 'draining') this.closeWhenIdle();
    if (hasEnded(this.lifecycle) || !this.reader.paused) return this.updateDeadline();
    this.read(null);
  }

  private onDrain(): void {
    this.flush();
  }

  /** The client sent FIN: answer every request it completed, then close. */
  private onClientEnd(): void {
    this.lifecycle = advance(this.lifecycle, 'client-ended');
    this.reader.clientEnded();
    this.flush();
  }

  /** After the client's FIN, every request it completed has been read. */
  private onInputEnded(): void {
    const unfinished = this.takeAwaitingBody();
    if (unfinished !== null) {
      // Its body can never arrive: it gets no answer, and the requests before it still do.
      unfinished.share.release();
      this.exchanges.dropLast(unfinished.exchange);
      this.deps.log.debug({ conn: this.id, traceId: unfinished.exchange.traceId }, 'client ended the connection during a request body');
    }
    // Close now if nothing is left to answer.
    this.flush();
  }

  /**
   * Draining and idle, but the client may have sent a request we have not read yet (it is in
   * the socket buffer, or on its way because our last response promised keep-alive). Closing
   * now would drop it unanswered, so wait the grace, let the event loop read once more, and
   * close only if nothing arrived. A request that does arrive is served with `Connection: close`.
   */
  private closeWhenIdle(): void {
    if (this.idleCloseTimer !== null || hasEnded(this.lifecycle)) return;
    // After the poll phase, which reads whatever has arrived by now.
    this.idleCloseTimer = setTimeoutAfterPoll(() => {
      this.idleCloseTimer = null;
      if (hasEnded(this.lifecycle) || this.exchanges.length > 0 || this.awaitingBody !== null || this.writer.busy || this.reader.inRequest) return;
      // Our last response is still on its way: the client cannot have answered it yet.
      if (this.stream.writableLength > 0) this.closeWhenIdle();
      else this.end();
    }, this.idleGraceMs);
  }

  private end(): void {
    if (hasEnded(this.lifecycle)) return;
    this.lifecycle = advance(this.lifecycle, 'ended');
    this.reader.stop();
    this.stream.end();
    this.deadline.enter('closing', this.reader.requestBegan);
    this.owner.ended();
  }

  private onClose(): void {
    this.lifecycle = advance(this.lifecycle, 'closed');
    this.deadline.clear();
    const unfinished = this.takeAwaitingBody();
    unfinished?.share.release();
    const streamBegun = this.writer.streamBegun;
    this.writer.stop();
    // Requests left unanswered: the one being streamed (under its status once its head went
    // out), and those still waiting their turn, given up by the client (499) or cut by the
    // server (503, a failure of ours). A request whose body never all arrived was never a
    // request: it is not counted.
    const by = this.cutByServer ? 'server' : 'client';
    const notBegun = this.cutByServer ? 503 : CLIENT_CLOSED;
    if (this.streaming !== null) abandoned(this.deps, this.id, this.streaming.exchange, streamBegun ? this.streaming.status : notBegun, by);
    this.streaming = null;
    for (const exchange of this.exchanges.discardAll()) if (exchange !== unfinished?.exchange) abandoned(this.deps, this.id, exchange, notBegun, by);
    this.owner.closed();
    // Nothing is emitted after 'close'. Without its listeners the closed socket no longer
    // reaches the connection, whose objects then die young (measured in docs/memory.md).
    this.stream.removeAllListeners();
  }

  /** Tells the deadline what the connection is doing now. */
  private updateDeadline(): void {
    if (hasEnded(this.lifecycle)) return;
    const inFlight = this.exchanges.length > 0;
    const writing = this.writer.busy || (inFlight && this.stream.writableLength > 0);
    // Requests that wait for the reader's next turn are the server's to take, like those in flight.
    this.deadline.follow(this.awaitingBody !== null, writing, inFlight || this.reader.yielding, this.reader.inRequest, this.reader.requestBegan);
  }
}
