// One request and its response on a connection, and the queue that keeps them in request
// order: pipelined requests may finish on different workers out of order, but their
// responses go out in the order the requests came.
import { close } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Response } from '../core/response.js';
import type { CanonicalAddress } from '../security/address.js';
import type { TraceId } from './trace-context.js';

export interface Exchange {
  readonly method: string;
  readonly target: string;
  /** 1-based number of the request on its connection. */
  readonly index: number;
  readonly startedAt: number;
  /** Who sent the request (see security/forwarded.ts): for logs and the upload limits. */
  readonly client: CanonicalAddress;
  /**
   * The source a trusted proxy's X-Forwarded-For named that no TCP client has, else null.
   * Such a request is refused; `client` is then the connection's address, all that is known.
   */
  readonly impossibleSource: CanonicalAddress | null;
  /** Logged with the request line and echoed in the response. */
  readonly traceId: TraceId;
  /**
   * Header lines the response carries beyond its own and the trace id, CRLF included: the
   * CORS fields of a request for /upload, else empty. Kept per request, so that a response
   * (a cached one above all) stays one immutable object for every client.
   */
  readonly fieldLines: string;
  /** Whether the connection may stay open after this response. */
  keepAlive: boolean;
  /** The client waits for `100 Continue` before it sends the body. */
  wantsContinue: boolean;
  /** Null until the response is known. */
  response: Response | null;
  /** Who answered, for the access log: the engine itself (a refusal, OPTIONS, a 503), the file cache, or a worker by its id. */
  answeredBy: 'engine' | 'cache' | number;
}

export function newExchange(method: string, target: string, index: number, keepAlive: boolean, client: CanonicalAddress, impossibleSource: CanonicalAddress | null, traceId: TraceId, fieldLines: string): Exchange {
  return { method, target, index, startedAt: performance.now(), client, impossibleSource, traceId, fieldLines, keepAlive, wantsContinue: false, response: null, answeredBy: 'engine' };
}

/**
 * Closes the file a response that will never be sent holds open; asynchronously, as the file
 * sender does, since a close on a network file system that stopped answering may block.
 */
export function closeResponseFile(response: Response): void {
  if (response.body.kind === 'file') close(response.body.fd, () => undefined);
}

export class ExchangeQueue {
  private readonly items: Exchange[] = [];

  get length(): number {
    return this.items.length;
  }

  push(exchange: Exchange): void {
    this.items.push(exchange);
  }

  /** The oldest exchange, whose response goes out next. */
  first(): Exchange | undefined {
    return this.items[0];
  }

  shift(): Exchange | undefined {
    return this.items.shift();
  }

  /**
   * Exchanges that hold something until their turn: waiting for a worker (a job, perhaps a
   * descriptor), a file to stream (a descriptor), or a body in memory (up to 64 KiB). An answer
   * from the file cache counts too: it keeps the bytes it was given, which the cache replaces
   * when the file changes or the entry expires and is read again, and drops on eviction.
   */
  holding(): number {
    let count = 0;
    for (const exchange of this.items) if (exchange.response === null || exchange.response.body.kind !== 'none') count++;
    return count;
  }

  /** Removes `exchange`, the newest, which will never be answered (its request never completed). */
  dropLast(exchange: Exchange): void {
    if (this.items.at(-1) === exchange) this.items.pop();
  }

  /**
   * The connection is gone: responses that never got their turn may still hold an open file.
   * Returns the exchanges, none of which was answered.
   */
  discardAll(): Exchange[] {
    const discarded = this.items.splice(0);
    for (const exchange of discarded) if (exchange.response !== null) closeResponseFile(exchange.response);
    return discarded;
  }
}
