// What a connection's queued exchanges count against MAX_HOLDING: whatever keeps memory or a
// descriptor until its turn, an answer from the file cache included.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorResponse, NO_BODY, type Response } from '../../../src/core/response.js';
import { ExchangeQueue, newExchange, type Exchange } from '../../../src/http/exchange.js';
import { newTraceId } from '../../../src/http/trace-context.js';
import { canonicalAddress } from '../../../src/security/address.js';

const BYTES = new Uint8Array(64 * 1024);

function queued(queue: ExchangeQueue, answeredBy: Exchange['answeredBy'], response: Response | null): void {
  const exchange = newExchange('GET', '/f.txt', queue.length + 1, true, canonicalAddress('192.0.2.1')!, null, newTraceId(), '');
  exchange.answeredBy = answeredBy;
  exchange.response = response;
  queue.push(exchange);
}

const withBody: Response = { status: 200, headers: [], contentLength: BYTES.length, body: { kind: 'bytes', bytes: BYTES } };
const withoutBody: Response = { status: 304, headers: [], contentLength: null, body: NO_BODY };

test('a waiting job, a body a worker read, a file to stream and an answer from the cache each count; answers without a body do not', () => {
  const queue = new ExchangeQueue();
  queued(queue, 'engine', null);
  assert.equal(queue.holding(), 1, 'waiting for a worker');
  queued(queue, 3, withBody);
  assert.equal(queue.holding(), 2, 'a body a worker read');
  queued(queue, 4, { status: 200, headers: [], contentLength: 1 << 20, body: { kind: 'file', fd: -1, start: 0, length: 1 << 20 } });
  assert.equal(queue.holding(), 3, 'a file to stream');
  queued(queue, 'cache', withBody);
  assert.equal(queue.holding(), 4, "the cache's bytes: it may replace or evict its entry while the answer waits");
  queued(queue, 'cache', withoutBody);
  queued(queue, 'engine', { ...withoutBody, status: 204 });
  assert.equal(queue.holding(), 4, 'a 304 from the cache and a 204 hold nothing');
  queued(queue, 'engine', errorResponse(404, 'GET'));
  assert.equal(queue.holding(), 5, "the engine's page");
  queue.shift();
  queue.shift();
  assert.equal(queue.holding(), 3);
});
