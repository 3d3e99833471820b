// What the request parser holds, whatever the framing: memory in proportion to the payload,
// plus a fixed overhead. `heldBytes` reports it; the connection takes its share of the body budget at the head.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ParsedRequest } from '../../../src/core/request.js';
import { RequestParser, type ParserLimits } from '../../../src/http/parser.js';
import { transferList } from '../../../src/pool/messages.js';

const LIMITS: ParserLimits = { maxRequestLineBytes: 8192, maxHeaderBytes: 8192, maxBodyBytes: 4 << 20 };
const CHUNKED_HEAD = Buffer.from('POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n', 'latin1');
/** What any parser may hold besides its body: input storage at its smallest, and a chunked body's first buffer. */
const FIXED_OVERHEAD = 4096 + 1024;

/** Feeds the bytes and returns the complete requests; fails on an error event. */
function feed(parser: RequestParser, bytes: Buffer): ParsedRequest[] {
  parser.feed(bytes);
  const requests: ParsedRequest[] = [];
  for (let event = parser.next(); event.type !== 'need-more'; event = parser.next()) {
    assert.notEqual(event.type, 'error', JSON.stringify(event));
    if (event.type === 'request') requests.push(event.request);
  }
  return requests;
}

/** A collected heap and the bytes of live objects and ArrayBuffers. */
function liveBytes(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

describe('a chunked body', () => {
  test('of one million one-byte chunks holds about its payload, not a buffer per chunk', () => {
    const chunks = 1_000_000;
    const parser = new RequestParser(LIMITS);
    feed(parser, CHUNKED_HEAD);
    const before = liveBytes();
    const oneByteChunk = Buffer.from('1\r\nx\r\n', 'latin1');
    for (let sent = 1; sent <= chunks; sent++) {
      feed(parser, oneByteChunk);
      if (sent % 65_536 === 0) assert.ok(parser.heldBytes <= 2 * sent + FIXED_OVERHEAD, `${parser.heldBytes} bytes held for ${sent}`);
    }
    // Measured before the body is finished, while the parser holds it: two bytes a payload byte at
    // most, where a view per chunk cost about a hundred.
    const grown = liveBytes() - before;
    assert.ok(grown < 2 * chunks + (1 << 20), `heap and buffers grew by ${grown} bytes for ${chunks} payload bytes`);
    const [request] = feed(parser, Buffer.from('0\r\n\r\n'));
    assert.equal(request!.body!.length, chunks);
    assert.equal(parser.heldBytes, 0);
  });

  test('is handed over as a view over a whole ArrayBuffer, trimmed or not, so it is transferred', () => {
    // 1024 bytes fill the first buffer exactly; the others leave spare capacity to trim.
    for (const size of [0, 1, 1000, 1024, 1025, 70_000]) {
      const parser = new RequestParser(LIMITS);
      const data = Buffer.alloc(size, 0x61);
      const chunked = size === 0 ? '0\r\n\r\n' : `${size.toString(16)}\r\n${data.toString('latin1')}\r\n0\r\n\r\n`;
      const [request] = feed(parser, Buffer.concat([CHUNKED_HEAD, Buffer.from(chunked, 'latin1')]));
      const body = request!.body!;
      assert.deepEqual(Buffer.from(body), data);
      assert.equal(body.byteOffset, 0, `${size} bytes`);
      assert.equal(body.buffer.byteLength, size, `${size} bytes`);
      if (size > 0) assert.deepEqual(transferList([body]), [body.buffer]);
    }
  });

  test('grows by doubling: held capacity stays within twice the bytes received', () => {
    const parser = new RequestParser(LIMITS);
    feed(parser, CHUNKED_HEAD);
    let received = 0;
    for (const size of [1, 500, 3000, 20_000, 100_000, 1, 7]) {
      feed(parser, Buffer.from(`${size.toString(16)}\r\n${'z'.repeat(size)}\r\n`, 'latin1'));
      received += size;
      assert.ok(parser.heldBytes <= Math.max(2 * received, 1024), `${parser.heldBytes} held for ${received}`);
    }
  });
});

describe('a Content-Length body', () => {
  test('gets a buffer of exactly its length with its first byte, and that buffer is the body', () => {
    const parser = new RequestParser(LIMITS);
    parser.feed(Buffer.from('POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n', 'latin1'));
    assert.equal(parser.next().type, 'head');
    assert.equal(parser.next().type, 'need-more');
    // Nothing for the body yet: a request refused on its head never costs its announced size.
    assert.equal(parser.heldBytes, 0);
    assert.deepEqual(feed(parser, Buffer.alloc(1000, 0x62)), []);
    assert.equal(parser.heldBytes, 100_000, 'the body buffer and nothing else');
    for (let at = 1000; at < 99_000; at += 1000) assert.deepEqual(feed(parser, Buffer.alloc(1000, 0x62)), []);
    assert.equal(parser.heldBytes, 100_000);
    const [request] = feed(parser, Buffer.alloc(1000, 0x62));
    assert.equal(request!.body!.buffer.byteLength, 100_000);
    assert.equal(request!.body!.byteOffset, 0);
    assert.equal(parser.heldBytes, 0);
  });
});

describe('input', () => {
  test('an idle parser holds nothing: no reference to the last socket read', () => {
    const parser = new RequestParser(LIMITS);
    const read = Buffer.from('GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n', 'latin1');
    assert.equal(feed(parser, read).length, 2);
    assert.equal(parser.heldBytes, 0);
  });

  test('a head arriving a byte at a time is held in storage at most twice its size', () => {
    const parser = new RequestParser(LIMITS);
    const head = Buffer.from(`GET / HTTP/1.1\r\nHost: a\r\n${'X-Long: value\r\n'.repeat(400)}\r\n`, 'latin1');
    for (let at = 0; at < head.length - 1; at++) {
      assert.deepEqual(feed(parser, head.subarray(at, at + 1)), []);
      assert.ok(parser.heldBytes <= Math.max(2 * (at + 1), 4096), `${parser.heldBytes} held after ${at + 1} bytes`);
    }
    assert.equal(feed(parser, head.subarray(head.length - 1)).length, 1);
    assert.equal(parser.heldBytes, 0);
  });

  test('pipelined requests are parsed in place: held is the read itself until it is consumed', () => {
    const parser = new RequestParser(LIMITS);
    const read = Buffer.from('GET /a HTTP/1.1\r\nHost: a\r\n\r\n'.repeat(100), 'latin1');
    parser.feed(read);
    assert.equal(parser.heldBytes, read.length);
    assert.equal(parser.next().type, 'request');
    assert.equal(parser.heldBytes, read.length);
    while (parser.next().type === 'request');
    assert.equal(parser.heldBytes, 0);
  });
});
