import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { refusalStatus, type Refusal } from '../../../src/core/refusals.js';
import type { ParsedRequest } from '../../../src/core/request.js';
import { RequestParser, type ParseEvent, type ParserLimits } from '../../../src/http/parser.js';
import { NOTHING_READ, type ReadSoFar } from '../../../src/http/read-so-far.js';

const LIMITS: ParserLimits = { maxRequestLineBytes: 8192, maxHeaderBytes: 8192, maxBodyBytes: 1_048_576 };
/** Small limits, so that requests exactly at a limit stay short enough to split everywhere. */
const SMALL: ParserLimits = { maxRequestLineBytes: 32, maxHeaderBytes: 64, maxBodyBytes: 16 };
/** More events than any input here can produce: a parser that loops is a failure, not a hang. */
const MAX_EVENTS_PER_FEED = 10_000;

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');

/** Feeds a parser and returns its events ('need-more' left out), stopping at the first error. */
function feedEvents(parser: RequestParser, chunk: Buffer, events: ParseEvent[]): void {
  parser.feed(chunk);
  for (let count = 0; count < MAX_EVENTS_PER_FEED; count++) {
    const event = parser.next();
    if (event.type === 'need-more') return;
    events.push(event);
    if (event.type === 'error') return;
  }
  assert.fail('parser did not stop producing events');
}

function parseChunks(chunks: readonly Buffer[], limits: ParserLimits = LIMITS): ParseEvent[] {
  const parser = new RequestParser(limits);
  const events: ParseEvent[] = [];
  for (const chunk of chunks) feedEvents(parser, chunk, events);
  return events;
}

function parse(text: string | Buffer, limits: ParserLimits = LIMITS): ParseEvent[] {
  return parseChunks([typeof text === 'string' ? bytes(text) : text], limits);
}

function requestsOf(events: readonly ParseEvent[]): ParsedRequest[] {
  return events.flatMap((event) => (event.type === 'request' ? [event.request] : []));
}

/** The single complete request `text` holds; fails on anything else. */
function parseOne(text: string, limits: ParserLimits = LIMITS): ParsedRequest {
  const events = parse(text, limits);
  const errors = events.filter((event) => event.type === 'error');
  assert.deepEqual(errors, [], 'no error expected');
  const requests = requestsOf(events);
  assert.equal(requests.length, 1, 'exactly one request expected');
  return requests[0]!;
}

/** The error `text` ends in; fails if the parser accepted it or served a request from it. */
function errorOf(text: string | Buffer, limits: ParserLimits = LIMITS): { status: number; refusal: Refusal; detail: string } {
  const events = parse(text, limits);
  const last = events.at(-1);
  assert.ok(last?.type === 'error', `expected an error, got ${JSON.stringify(events.map((event) => event.type))}`);
  assert.equal(requestsOf(events).length, 0, 'no request may be served from malformed bytes');
  return { status: refusalStatus(last.refusal), refusal: last.refusal, detail: last.detail };
}

const plain = (headers: Readonly<Record<string, string>>): Record<string, string> => ({ ...headers });
const text = (body: Uint8Array | null): string | null => (body === null ? null : Buffer.from(body).toString('latin1'));

/** A header field line of exactly `total` bytes, CRLF included. */
function fieldLine(name: string, total: number): string {
  return `${name}: ${'v'.repeat(total - name.length - 4)}\r\n`;
}

describe('request line', () => {
  test('method, origin-form target and HTTP/1.1 are parsed as sent', () => {
    const request = parseOne('GET /docs/index.html?lang=en&x=%20 HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(request.method, 'GET');
    assert.equal(request.target, '/docs/index.html?lang=en&x=%20');
    assert.equal(request.version, '1.1');
    assert.deepEqual(request.framing, { kind: 'none' });
    assert.equal(request.body, null);
  });

  test('HTTP/1.0 is accepted', () => {
    const request = parseOne('HEAD / HTTP/1.0\r\n\r\n');
    assert.equal(request.method, 'HEAD');
    assert.equal(request.version, '1.0');
    assert.deepEqual(plain(request.headers), {});
  });

  test('any method token is accepted (the router decides what is allowed)', () => {
    for (const method of ['PUT', 'DELETE', 'M-SEARCH', 'get', "X!#$%&'*+-.^_`|~9"]) {
      assert.equal(parseOne(`${method} / HTTP/1.1\r\nHost: a\r\n\r\n`).method, method);
    }
  });

  test('origin-form, absolute-form and asterisk-form targets are accepted, authority-form for CONNECT (RFC 9112 §3.2)', () => {
    for (const target of ['/', '/a/b?c=d&e/?f', '//x', '/%zz', 'http://x', 'HTTP://user@[::1]:8080/a?b', 'http://x?q', '*']) {
      assert.equal(parseOne(`OPTIONS ${target} HTTP/1.1\r\nHost: a\r\n\r\n`).target, target);
    }
    assert.equal(parseOne('CONNECT [::1]:8080 HTTP/1.1\r\nHost: a\r\n\r\n').target, '[::1]:8080');
    assert.equal(errorOf('CONNECT a{b:80 HTTP/1.1\r\nHost: a\r\n\r\n').status, 400);
    // Each form only where it belongs: CONNECT takes a host and port, `*` is for OPTIONS.
    for (const line of ['CONNECT / HTTP/1.1', 'CONNECT * HTTP/1.1', 'CONNECT example.com HTTP/1.1', 'CONNECT http://x:80 HTTP/1.1', 'CONNECT example.com:65536 HTTP/1.1', 'GET * HTTP/1.1', 'HEAD * HTTP/1.1']) {
      assert.equal(errorOf(`${line}\r\nHost: a\r\n\r\n`).status, 400, line);
    }
    for (const target of ['example.com:443', 'example.com:65535', '[::1]:0']) assert.equal(parseOne(`CONNECT ${target} HTTP/1.1\r\nHost: a\r\n\r\n`).target, target);
  });

  test('a later HTTP/1 minor version is read as HTTP/1.1 (RFC 9110 §2.5); other versions get 505', () => {
    for (const version of ['HTTP/1.2', 'HTTP/1.9']) {
      const request = parseOne(`GET / ${version}\r\nHost: a\r\n\r\n`);
      assert.equal(request.version, '1.1', version);
      assert.equal(request.keepAlive, true, version);
    }
    for (const version of ['HTTP/2.0', 'HTTP/0.9', 'HTTP/3.0', 'HTTP/9.9']) {
      assert.equal(errorOf(`GET / ${version}\r\nHost: a\r\n\r\n`).status, 505, version);
    }
  });

  test('malformed request lines get 400', () => {
    const lines = [
      'GET  / HTTP/1.1', // two spaces
      ' GET / HTTP/1.1',
      'GET / HTTP/1.1 ',
      'GET /',
      'GET',
      'GET / HTTP/1.1 extra',
      'GET\t/\tHTTP/1.1',
      'GET / http/1.1',
      'GET / HTTP/1.10',
      'GET / HTTP/11',
      'GET / HTTP/2',
      'GET / HTTP/1.x',
      'G(T / HTTP/1.1', // not a token
      'GET@ / HTTP/1.1',
      'G\xc9T / HTTP/1.1',
      'GET /a\x00b HTTP/1.1', // NUL in the target
      'GET /a\x7fb HTTP/1.1',
      'GET /caf\xe9 HTTP/1.1', // raw non-ASCII in the target
      'GET /a\x01 HTTP/1.1',
      // RFC 9112 §3.2: the target is a path, an absolute URL or *; llhttp refuses the rest too.
      'GET a HTTP/1.1',
      'GET ?a HTTP/1.1',
      'GET #a HTTP/1.1',
      'GET /a#f HTTP/1.1', // a fragment is the client's, never sent (RFC 9112 §3.2)
      'GET /a?b#f HTTP/1.1',
      'GET x.example:80 HTTP/1.1', // authority-form is for CONNECT
      'GET h-t.t+p://x/ HTTP/1.1',
      'GET http:/x HTTP/1.1',
      'GET http://x#f HTTP/1.1',
      'GET http://a"b/ HTTP/1.1',
      'GET http://a{b/ HTTP/1.1',
    ];
    for (const line of lines) {
      assert.equal(errorOf(`${line}\r\nHost: a\r\n\r\n`).status, 400, JSON.stringify(line));
    }
  });

  test('a request line of exactly the limit is served; one byte more gets 414', () => {
    const exact = `GET /${'a'.repeat(SMALL.maxRequestLineBytes - 14)} HTTP/1.1`;
    assert.equal(exact.length, SMALL.maxRequestLineBytes);
    assert.equal(parseOne(`${exact}\r\nHost: a\r\n\r\n`, SMALL).target.length, SMALL.maxRequestLineBytes - 13);
    const over = `GET /${'a'.repeat(SMALL.maxRequestLineBytes - 13)} HTTP/1.1`;
    assert.equal(errorOf(`${over}\r\nHost: a\r\n\r\n`, SMALL).status, 414);
  });

  test('an over-long request line gets 414 before its end arrives', () => {
    const events = parse(`GET /${'a'.repeat(LIMITS.maxRequestLineBytes)}`);
    assert.deepEqual(
      events.map((event) => event.type === 'error' && refusalStatus(event.refusal)),
      [414],
    );
  });

  test('empty lines before a request line are ignored', () => {
    const request = parseOne('\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(request.target, '/');
    assert.equal(parse('\r\n\r\n').length, 0, 'empty lines alone are no request');
  });

  test('a bare LF before the request line gets 400', () => {
    assert.equal(errorOf('\nGET / HTTP/1.1\r\nHost: a\r\n\r\n').status, 400);
    assert.equal(errorOf('\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n').status, 400);
  });
});

describe('header fields', () => {
  test('names are lowercased, values trimmed, repeated fields joined in order', () => {
    const request = parseOne(
      'GET / HTTP/1.1\r\nHost: example.test:8080\r\nAccept: text/html\r\nACCEPT:  */*  \r\n' +
        'X-Tab:\tv  w\t\r\nX-Empty:\r\nX-Obs: caf\xe9\r\nX-Colon: a:b\r\n\r\n',
    );
    assert.deepEqual(plain(request.headers), {
      host: 'example.test:8080',
      accept: 'text/html, */*',
      'x-tab': 'v  w',
      'x-empty': '',
      'x-obs': 'caf\xe9',
      'x-colon': 'a:b',
    });
  });

  test('a header name that is an Object.prototype key is an ordinary field', () => {
    const request = parseOne('GET / HTTP/1.1\r\nHost: a\r\n__proto__: x\r\nconstructor: y\r\n\r\n');
    assert.equal(request.headers['__proto__'], 'x');
    assert.equal(request.headers['constructor'], 'y');
    assert.equal(request.headers['toString'], undefined);
  });

  test('a header section of exactly maxHeaderBytes is served; one byte more gets 431', () => {
    const host = 'Host: a\r\n';
    const exact = `GET / HTTP/1.1\r\n${host}${fieldLine('X-Fill', SMALL.maxHeaderBytes - host.length)}\r\n`;
    assert.equal(parseOne(exact, SMALL).headers.host, 'a');
    const over = `GET / HTTP/1.1\r\n${host}${fieldLine('X-Fill', SMALL.maxHeaderBytes - host.length + 1)}\r\n`;
    assert.equal(errorOf(over, SMALL).status, 431);
    // The same with many short lines: seven of 8 bytes, then one of 8 (served) or 9 (refused).
    const lines = 'X: 123\r\n'.repeat(7);
    assert.equal(parseOne(`GET / HTTP/1.1\r\n${lines}Z: 123\r\n\r\n`, SMALL).headers.x, '123, 123, 123, 123, 123, 123, 123');
    assert.equal(errorOf(`GET / HTTP/1.1\r\n${lines}Z: 1234\r\n\r\n`, SMALL).status, 431);
  });

  test('the default limit: 8192 header bytes are served, 8193 get 431', () => {
    const host = 'Host: a\r\n';
    const served = parse(`GET / HTTP/1.1\r\n${host}${fieldLine('X-Fill', 8192 - host.length)}\r\n`);
    assert.equal(requestsOf(served).length, 1);
    assert.equal(errorOf(`GET / HTTP/1.1\r\n${host}${fieldLine('X-Fill', 8193 - host.length)}\r\n`).status, 431);
  });

  test('an endless header line gets 431 before its end arrives', () => {
    const events = parse(`GET / HTTP/1.1\r\nX-Long: ${'v'.repeat(LIMITS.maxHeaderBytes)}`);
    assert.deepEqual(
      events.map((event) => event.type === 'error' && refusalStatus(event.refusal)),
      [431],
    );
  });

  test('endless short header lines get 431', () => {
    assert.equal(errorOf(`GET / HTTP/1.1\r\n${'X: y\r\n'.repeat(LIMITS.maxHeaderBytes)}`).status, 431);
  });

  test('a second Host header gets 400, whatever its case or value', () => {
    assert.equal(errorOf('GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n').status, 400);
    assert.equal(errorOf('GET / HTTP/1.1\r\nhost: a\r\nHOST: b\r\n\r\n').status, 400);
    assert.equal(errorOf('GET / HTTP/1.1\r\nHost:\r\nHost: b\r\n\r\n').status, 400);
  });

  test('Expect: 100-continue is noted for a request with a body; other expectations get 417', () => {
    const post = (expect: string): string =>
      `POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: ${expect}\r\n\r\n{}`;
    assert.equal(parseOne(post('100-continue')).expectContinue, true);
    assert.equal(parseOne(post('100-Continue')).expectContinue, true);
    assert.equal(parseOne('GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n').expectContinue, false);
    assert.equal(parseOne('GET / HTTP/1.1\r\nHost: a\r\n\r\n').expectContinue, false);
    assert.equal(errorOf(post('200-ok')).status, 417);
    assert.equal(errorOf(post('100-continue, foo')).status, 417);
    // An empty list expects nothing.
    assert.equal(parseOne(post('')).expectContinue, false);
    assert.equal(parseOne(post(' , ')).expectContinue, false);
    // A list: the one expectation repeated, or in two fields, is still met.
    assert.equal(parseOne(post('100-continue, 100-Continue')).expectContinue, true);
    assert.equal(parseOne(post('100-continue,')).expectContinue, true);
    assert.equal(parseOne(`POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\nExpect: 100-continue\r\n\r\n{}`).expectContinue, true);
  });
});

describe('bodies', () => {
  test('a Content-Length body comes after a head event, in a buffer of its own', () => {
    const input = bytes('POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world');
    const events = parse(input);
    assert.deepEqual(
      events.map((event) => event.type),
      ['head', 'request'],
    );
    const head = events[0]!.type === 'head' ? events[0].head : assert.fail('head expected');
    assert.deepEqual(head.framing, { kind: 'length', length: 11 });
    const request = requestsOf(events)[0]!;
    assert.equal(text(request.body), 'hello world');
    assert.equal(request.headers['content-length'], '11');
    // Transferable to a worker: the body owns its whole ArrayBuffer.
    assert.equal(request.body!.byteOffset, 0);
    assert.equal(request.body!.buffer.byteLength, 11);
    assert.notEqual(request.body!.buffer, input.buffer);
  });

  test('Content-Length: 0 gives a complete request with an empty body at once', () => {
    const events = parse('POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n');
    assert.deepEqual(
      events.map((event) => event.type),
      ['request'],
    );
    assert.equal(requestsOf(events)[0]!.body!.length, 0);
  });

  test('Content-Length with optional whitespace or leading zeros is accepted', () => {
    for (const fields of ['Content-Length:  3 ', 'Content-Length:\t3\t', 'Content-Length: 003']) {
      const request = parseOne(`POST /upload HTTP/1.1\r\nHost: a\r\n${fields}\r\n\r\nabc`);
      assert.equal(text(request.body), 'abc', fields);
      assert.equal(request.headers['content-length'], '3', fields);
    }
  });

  test('a chunked body with extensions and trailers is decoded; trailers are dropped', () => {
    const request = parseOne(
      'POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '5\r\nhello\r\n' +
        '1;name=value;flag\r\n \r\n' +
        'A;ext="quoted \\" \t\xe9";x=y\r\nworld12345\r\n' +
        '0005\r\n!!!!!\r\n' +
        '0;last\r\nTrailer-One: x\r\nTrailer-Two: y\r\n\r\n',
    );
    assert.deepEqual(request.framing, { kind: 'chunked' });
    assert.equal(text(request.body), 'hello world12345!!!!!');
    assert.equal(request.headers['trailer-one'], undefined);
    assert.equal(request.headers['transfer-encoding'], 'chunked');
  });

  test('trailers spend what the head left of maxHeaderBytes: 431 past it, not a fresh budget', () => {
    const head = `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n${fieldLine('X-Head', 8000)}\r\n`;
    const headBytes = 'Host: a\r\nTransfer-Encoding: chunked\r\n'.length + 8000;
    const fits = `${head}0\r\n${fieldLine('X-Trailer', LIMITS.maxHeaderBytes - headBytes)}\r\n`;
    assert.equal(parseOne(fits).body!.length, 0);
    const over = `${head}0\r\n${fieldLine('X-Trailer', LIMITS.maxHeaderBytes - headBytes + 1)}\r\n`;
    assert.equal(errorOf(over).status, 431);
    // Every request starts with the whole budget again.
    const again = parse(`${fits}${head}0\r\n${fieldLine('X-Trailer', 100)}\r\n`);
    assert.equal(requestsOf(again).length, 2);
  });

  test('a chunk-size or trailer line sent a byte at a time is searched once, not from its start on every byte', () => {
    const chunkSize = `1;${'e'.repeat(1000)}\r\n`;
    const trailer = `${fieldLine('X-Trailer', 8000)}\r\n`;
    const body = bytes(`${chunkSize}x\r\n0\r\n${trailer}\r\n`);
    const parser = new RequestParser({ ...LIMITS, maxHeaderBytes: 16_384 });
    const events: ParseEvent[] = [];
    feedEvents(parser, bytes('POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'), events);
    // The parser looks for a body line's end with Buffer#indexOf; count the bytes each call may search.
    const indexOf = Buffer.prototype.indexOf;
    let searched = 0;
    Buffer.prototype.indexOf = function (this: Buffer, value: string | number | Uint8Array, byteOffset?: number | BufferEncoding, encoding?: BufferEncoding) {
      if (typeof byteOffset === 'number') searched += this.length - byteOffset;
      return indexOf.call(this, value, byteOffset, encoding);
    };
    try {
      for (let i = 0; i < body.length; i++) feedEvents(parser, body.subarray(i, i + 1), events);
    } finally {
      Buffer.prototype.indexOf = indexOf;
    }
    assert.equal(text(requestsOf(events)[0]!.body), 'x');
    // From each line's start on every byte, it was about 33 million (half the square of 8 KB).
    assert.ok(searched > 0 && searched <= 2 * body.length, `${searched} bytes searched for ${body.length} received`);
  });

  test('Transfer-Encoding: chunked is case-insensitive and an empty chunked body is allowed', () => {
    const request = parseOne('POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n');
    assert.equal(request.body!.length, 0);
  });

  test('bodies of exactly maxBodyBytes are accepted', () => {
    const body = 'b'.repeat(SMALL.maxBodyBytes);
    assert.equal(text(parseOne(`POST / HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`, SMALL).body), body);
    const chunked = `POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n${body.slice(0, 8)}\r\n8\r\n${body.slice(8)}\r\n0\r\n\r\n`;
    assert.equal(text(parseOne(chunked, SMALL).body), body);
  });

  test('a Content-Length over maxBodyBytes gets 413 at the head, and no body byte is kept', () => {
    const parser = new RequestParser(SMALL);
    const events: ParseEvent[] = [];
    feedEvents(parser, bytes(`POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ${SMALL.maxBodyBytes + 1}\r\n\r\n`), events);
    assert.deepEqual(
      events.map((event) => event.type === 'error' && refusalStatus(event.refusal)),
      [413],
    );
    // The head comes with the error, so that the answer can be the request's own.
    const read = events[0]!.type === 'error' ? events[0].read : null;
    assert.deepEqual(read?.kind === 'head' && [read.head.method, read.head.target], ['POST', '/']);
    const pending = parser.pendingBytes;
    for (let i = 0; i < 100; i++) feedEvents(parser, Buffer.alloc(64 * 1024, 0x62), events);
    assert.equal(events.length, 1, 'nothing after the error');
    assert.equal(parser.pendingBytes, pending, 'body bytes fed after the error are not buffered');
  });

  test('a request refused on its line says what of the line was read: method and target, the method alone, or nothing', () => {
    const readOf = (text: string): ReadSoFar => {
      const last = parse(text).at(-1);
      assert.ok(last?.type === 'error', text);
      return last.read;
    };
    assert.deepEqual(readOf('HEAD /a HTTP/2.0\r\nHost: a\r\n\r\n'), { kind: 'line', line: { method: 'HEAD', target: '/a' }, traceparent: undefined });
    assert.deepEqual(readOf('HEAD /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'), { kind: 'line', line: { method: 'HEAD', target: '/a' }, traceparent: undefined });
    assert.deepEqual(readOf(`HEAD /${'a'.repeat(9000)} HTTP/1.1\r\nHost: a\r\n\r\n`), { kind: 'method', method: 'HEAD' });
    assert.deepEqual(readOf(`HEAD /${'a'.repeat(9000)}`), { kind: 'method', method: 'HEAD' }, 'the line need not have ended');
    assert.deepEqual(readOf('HEAD /a\x7fb HTTP/1.1\r\nHost: a\r\n\r\n'), { kind: 'method', method: 'HEAD' });
    assert.deepEqual(readOf('G(T / HTTP/1.1\r\nHost: a\r\n\r\n'), NOTHING_READ);
    assert.deepEqual(readOf('\x16\x03\x01\x02\x00\x01\x00\r\n\r\n'), NOTHING_READ);
    // With the line, the trace it carries, joined as a repeated field is.
    const traced = readOf('GET /a HTTP/2.0\r\nHost: a\r\nTraceParent:  00-aa-bb \r\ntraceparent: 00-cc-dd\r\n\r\n');
    assert.deepEqual(traced, { kind: 'line', line: { method: 'GET', target: '/a' }, traceparent: '00-aa-bb, 00-cc-dd' });
    // Trimmed as the parser trims a field value: SP and HTAB only, so a trailing 0xA0 stays and the value is invalid.
    const nbsp = readOf('GET /a HTTP/2.0\r\nHost: a\r\ntraceparent:\t00-aa-bb\xa0 \r\n\r\n');
    assert.deepEqual(nbsp, { kind: 'line', line: { method: 'GET', target: '/a' }, traceparent: '00-aa-bb\xa0' });
  });

  test('what of a head has arrived can be asked at any time (a timeout answers it)', () => {
    const parser = new RequestParser(SMALL);
    assert.deepEqual(parser.readSoFar(), NOTHING_READ);
    parser.feed(bytes('HEAD /a'));
    assert.equal(parser.next().type, 'need-more');
    assert.deepEqual(parser.readSoFar(), { kind: 'method', method: 'HEAD' });
    parser.feed(bytes(' HTTP/1.1\r\nHost: a\r\ntraceparent: 00-x\r\nAcc'));
    assert.equal(parser.next().type, 'need-more');
    assert.deepEqual(parser.readSoFar(), { kind: 'line', line: { method: 'HEAD', target: '/a' }, traceparent: '00-x' });
  });

  test('a huge Content-Length gets 413 (or 400 past 15 digits), never a wrapped number', () => {
    assert.equal(errorOf('POST / HTTP/1.1\r\nContent-Length: 999999999999999\r\n\r\n').status, 413);
    assert.equal(errorOf('POST / HTTP/1.1\r\nContent-Length: 18446744073709551617\r\n\r\n').status, 400);
  });

  test('a chunked body over maxBodyBytes gets 413 when the chunk size arrives, before its data', () => {
    const parser = new RequestParser(SMALL);
    const events: ParseEvent[] = [];
    feedEvents(parser, bytes('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n9\r\n'), events);
    assert.deepEqual(
      events.map((event) => (event.type === 'error' ? refusalStatus(event.refusal) : event.type)),
      ['head', 413],
    );
    const pending = parser.pendingBytes;
    feedEvents(parser, Buffer.alloc(64 * 1024, 0x62), events);
    assert.equal(events.length, 2);
    assert.equal(parser.pendingBytes, pending);
  });

  test('a single huge chunk size gets 413 at once', () => {
    for (const size of ['100001', 'ffffffffffff', 'ffffffffffffffffffffffffffffffff', '1' + '0'.repeat(40)]) {
      const events = parse(`POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${size}\r\n`);
      assert.deepEqual(
        events.map((event) => (event.type === 'error' ? refusalStatus(event.refusal) : event.type)),
        ['head', 413],
        size,
      );
    }
  });

  test('leading zeros in a chunk size do not count towards overflow', () => {
    assert.equal(text(parseOne(`POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n${'0'.repeat(40)}3\r\nabc\r\n0\r\n\r\n`).body), 'abc');
  });
});

/** Framing and syntax that must be refused; each is also checked at every split point below. */
const MALFORMED: ReadonlyArray<readonly [name: string, input: string, status: number]> = [
  ['Content-Length and Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
  ['Transfer-Encoding and Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n', 400],
  ['different Content-Length fields', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd', 400],
  ['different Content-Length list values', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\nabcd', 400],
  ['non-numeric Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n', 400],
  ['negative Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n', 400],
  ['Content-Length with a plus sign', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nabcde', 400],
  ['Content-Length with an inner space', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\nabcde', 400],
  ['hexadecimal Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nabcde', 400],
  ['fractional Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5.0\r\n\r\nabcde', 400],
  ['exponent Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1e1\r\n\r\nabcde', 400],
  ['empty Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n', 400],
  ['Content-Length list with an empty item', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\nabcde', 400],
  ['invalid chunk size', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\nabc\r\n0\r\n\r\n', 400],
  ['negative chunk size', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\na\r\n0\r\n\r\n', 400],
  ['0x chunk size', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n', 400],
  ['empty chunk size', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\nabc\r\n0\r\n\r\n', 400],
  ['space before a chunk size', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n 3\r\nabc\r\n0\r\n\r\n', 400],
  ['space before a chunk size with an extension', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n 3 ;x\r\nabc\r\n0\r\n\r\n', 400],
  ['space after a chunk size without extension', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\r\n\r\n', 400],
  ['NUL in a chunk extension', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=\x00\r\nabc\r\n0\r\n\r\n', 400],
  ['chunk size line too long', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;${'x'.repeat(2000)}\r\nabc\r\n0\r\n\r\n`, 400],
  ['chunk data not followed by CRLF', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n', 400],
  ['chunk data followed by a bare LF', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n', 400],
  ['chunk size line ending in a bare LF', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n', 400],
  ['bare CR in a chunk size line', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r;x\r\nabc\r\n0\r\n\r\n', 400],
  ['obsolete line folding in a trailer', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: a\r\n b\r\n\r\n', 400],
  ['invalid trailer name', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT x: a\r\n\r\n', 400],
  ['bare LF ending the trailers', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n', 400],
  ['obsolete line folding with a space', 'GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n', 400],
  ['obsolete line folding with a tab', 'GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n\ttwo\r\n\r\n', 400],
  ['whitespace before the first header line', 'GET / HTTP/1.1\r\n Host: a\r\n\r\n', 400],
  ['space between a header name and the colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n', 400],
  ['tab between a header name and the colon', 'GET / HTTP/1.1\r\nHost\t: a\r\n\r\n', 400],
  ['header line without a colon', 'GET / HTTP/1.1\r\nHost a\r\n\r\n', 400],
  ['header line with an empty name', 'GET / HTTP/1.1\r\nHost: a\r\n: value\r\n\r\n', 400],
  ['space inside a header name', 'GET / HTTP/1.1\r\nHost: a\r\nX Y: z\r\n\r\n', 400],
  ['NUL in a header name', 'GET / HTTP/1.1\r\nHost: a\r\nX\x00Y: z\r\n\r\n', 400],
  ['separator in a header name', 'GET / HTTP/1.1\r\nHost: a\r\nX(Y): z\r\n\r\n', 400],
  ['DEL in a header name', 'GET / HTTP/1.1\r\nHost: a\r\nX\x7f: z\r\n\r\n', 400],
  ['non-ASCII header name', 'GET / HTTP/1.1\r\nHost: a\r\nX-\xe9: z\r\n\r\n', 400],
  ['NUL in a header value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n', 400],
  ['control character in a header value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n', 400],
  ['escape in a header value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x1bb\r\n\r\n', 400],
  ['vertical tab in a header value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x0bb\r\n\r\n', 400],
  ['DEL in a header value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n', 400],
  ['bare CR in a header value', 'GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n', 400],
  ['bare CR before CRLF', 'GET / HTTP/1.1\r\nHost: a\r\r\n\r\n', 400],
  ['bare CR in the request line', 'GET /\r HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['CR CR LF before the end of the head', 'GET / HTTP/1.1\r\nHost: a\r\n\r\r\n\r\n', 400],
  ['bare LF ending the request line', 'GET / HTTP/1.1\nHost: a\r\n\r\n', 400],
  ['bare LF ending a header line', 'GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n', 400],
  ['bare LF ending the head', 'GET / HTTP/1.1\r\nHost: a\r\n\n', 400],
  ['bare LF after an empty line before the request line', '\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['bare LFs only', 'GET / HTTP/1.1\nHost: a\n\n', 400],
  ['unsupported transfer coding', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n', 501],
  ['identity transfer coding', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n', 501],
  ['chunked, identity', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n', 400],
  ['gzip, chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', 400],
  ['chunked twice in one field', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n', 400],
  ['chunked in two fields', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
  ['Transfer-Encoding in HTTP/1.0', 'POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
  ['duplicate Host', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
  ['unsupported expectation', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 102-processing\r\n\r\n{}', 417],
  ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505],
  ['HTTP/3.0', 'GET / HTTP/3.0\r\nHost: a\r\n\r\n', 505],
  ['empty Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n', 400],
  ['invalid method token', 'G\x00T / HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['garbage after a valid request', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n\x16\x03\x01\x02\x00\x01\x00\r\n\r\n', 400],
  // No more lenient than llhttp (strict mode), which refuses each of these with 400.
  ['Content-Length twice with the same value', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc', 400],
  ['Content-Length list of one repeated value', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc', 400],
  ['Content-Length list without spaces', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3,3\r\n\r\nabc', 400],
  ['Content-Length in a trailer', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nContent-Length: 1\r\n\r\n', 400],
  ['Transfer-Encoding in a trailer', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
  ['Host in a trailer', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nhost: b\r\n\r\n', 400],
  ['Connection in a trailer', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nConnection: close\r\n\r\n', 400],
  ['chunk extension with an empty name', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;\r\nabc\r\n0\r\n\r\n', 400],
  ['chunk extension with a value and no name', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;=x\r\nabc\r\n0\r\n\r\n', 400],
  ['last chunk with an empty extension', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0;\r\n\r\n', 400],
  ['chunk extension ending in a semicolon', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b;\r\nabc\r\n0\r\n\r\n', 400],
  ['space before a chunk extension', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 ;x\r\nabc\r\n0\r\n\r\n', 400],
  ['tab before a chunk extension', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\t;x\r\nabc\r\n0\r\n\r\n', 400],
  ['space after the semicolon of a chunk extension', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3; x\r\nabc\r\n0\r\n\r\n', 400],
  ['spaces around = in a chunk extension', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x = y\r\nabc\r\n0\r\n\r\n', 400],
  ['space inside a chunk extension value', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y z\r\nabc\r\n0\r\n\r\n', 400],
  ['space after a quoted chunk extension value', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x="y" \r\nabc\r\n0\r\n\r\n', 400],
  ['text after a quoted chunk extension value', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x="y"z\r\nabc\r\n0\r\n\r\n', 400],
  ['unterminated quoted chunk extension value', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x="y\r\nabc\r\n0\r\n\r\n', 400],
  ['obs-text in an unquoted chunk extension value', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=\xe9\r\nabc\r\n0\r\n\r\n', 400],
  ['control escaped in a quoted chunk extension value', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x="\\\x01"\r\nabc\r\n0\r\n\r\n', 400],
  // Found by the differential test against llhttp (test/e2e/parser-llhttp.test.ts), with its seed.
  ['tab after the Transfer-Encoding value (seed 20261205)', 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\t\r\n\r\n1\r\na\r\n0\r\n\r\n', 400],
  ['space then tab after the Transfer-Encoding value', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked \t\r\n\r\n0\r\n\r\n', 400],
  ['tab, space, tab... after the Transfer-Encoding value', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked${'\t '.repeat(2000)}\t\r\n\r\n0\r\n\r\n`, 400],
  // Tabs and spaces that end in another byte: an unknown coding (501). A regular expression for
  // the trailing tab once took time quadratic in such a line's length on the main thread.
  ['tabs and spaces inside the Transfer-Encoding value, then a byte', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked${'\t '.repeat(2000)}x\r\n\r\n0\r\n\r\n`, 501],
  ['a target that is not a path, URL or * (seed 2)', 'GET ,/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n', 400],
  ['Content-Length: 0 in a trailer (seed 20261205)', 'GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 0\r\n\r\n', 400],
  ['Content-Length: 1 twice (seed 3)', 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na', 400],
];

describe('request smuggling and malformed framing', () => {
  for (const [name, input, status] of MALFORMED) {
    test(`${name}: ${status}`, () => {
      const events = parse(input);
      const last = events.at(-1);
      assert.ok(last?.type === 'error', `expected an error, got ${JSON.stringify(events.map((event) => event.type))}`);
      assert.equal(refusalStatus(last.refusal), status, last.detail);
    });
  }

  test('garbage after a valid request: the valid one is served first', () => {
    const events = parse(MALFORMED.find(([name]) => name === 'garbage after a valid request')![1]);
    assert.deepEqual(
      events.map((event) => (event.type === 'error' ? refusalStatus(event.refusal) : event.type)),
      ['request', 400],
    );
  });
});

describe('persistent connections', () => {
  const cases: ReadonlyArray<readonly [version: string, connection: string | null, keepAlive: boolean]> = [
    ['1.1', null, true],
    ['1.1', 'keep-alive', true],
    ['1.1', 'close', false],
    ['1.1', 'Close', false],
    ['1.1', 'keep-alive, close', false],
    ['1.1', 'Upgrade', true],
    ['1.0', null, false],
    ['1.0', 'close', false],
    ['1.0', 'keep-alive', true],
    ['1.0', 'Keep-Alive', true],
    ['1.0', 'foo,  keep-alive ', true],
  ];
  for (const [version, connection, keepAlive] of cases) {
    test(`HTTP/${version} with ${connection === null ? 'no Connection header' : `Connection: ${connection}`}: keep-alive ${keepAlive}`, () => {
      const field = connection === null ? '' : `Connection: ${connection}\r\n`;
      assert.equal(parseOne(`GET / HTTP/${version}\r\nHost: a\r\n${field}\r\n`).keepAlive, keepAlive);
    });
  }
});

describe('pipelining', () => {
  test('several requests in one chunk come out complete and in order', () => {
    const events = parse(
      'GET /one HTTP/1.1\r\nHost: a\r\n\r\n' +
        'POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc' +
        'POST /three HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n' +
        'HEAD /four HTTP/1.0\r\n\r\n',
    );
    assert.deepEqual(
      events.map((event) => `${event.type} ${event.type === 'head' ? event.head.target : event.type === 'request' ? event.request.target : ''}`),
      ['request /one', 'head /two', 'request /two', 'head /three', 'request /three', 'request /four'],
    );
    assert.deepEqual(
      requestsOf(events).map((request) => text(request.body)),
      [null, 'abc', 'de', null],
    );
  });

  test('a partial request waits for its rest; inRequest says so', () => {
    const parser = new RequestParser(LIMITS);
    assert.equal(parser.inRequest, false);
    const events: ParseEvent[] = [];
    feedEvents(parser, bytes('GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /tw'), events);
    assert.equal(requestsOf(events).length, 1);
    assert.equal(parser.inRequest, true);
    assert.equal(parser.pendingBytes, 7);
    feedEvents(parser, bytes('o HTTP/1.1\r\nHost: a\r\n\r\n'), events);
    assert.deepEqual(
      requestsOf(events).map((request) => request.target),
      ['/one', '/two'],
    );
    assert.equal(parser.inRequest, false);
    assert.equal(parser.pendingBytes, 0);
  });

  test('the empty lines before a request line begin no request, even with CR and LF apart', () => {
    const parser = new RequestParser(LIMITS);
    const events: ParseEvent[] = [];
    for (const piece of ['\r', '\n', '\r\n\r', '\n\r']) {
      feedEvents(parser, bytes(piece), events);
      assert.equal(parser.inRequest, false, JSON.stringify(piece));
    }
    feedEvents(parser, bytes('\nG'), events);
    assert.equal(parser.inRequest, true);
    feedEvents(parser, bytes('ET / HTTP/1.1\r\nHost: a\r\n\r\n'), events);
    assert.deepEqual(requestsOf(events).map((request) => request.target), ['/']);
    assert.equal(parser.inRequest, false);
  });
});

describe('after an error', () => {
  test('the parser answers need-more forever and keeps nothing', () => {
    const parser = new RequestParser(LIMITS);
    parser.feed(bytes('GET / HTTP/1.1\r\nHost : a\r\n\r\n'));
    const error = parser.next();
    assert.equal(error.type, 'error');
    const pending = parser.pendingBytes;
    for (let i = 0; i < 5; i++) {
      parser.feed(bytes('GET / HTTP/1.1\r\nHost: a\r\n\r\n'));
      assert.deepEqual(parser.next(), { type: 'need-more' });
      assert.deepEqual(parser.next(), { type: 'need-more' });
    }
    assert.equal(parser.pendingBytes, pending);
  });
});

/** Valid inputs for the split test, each with the requests it must produce. */
const VALID: ReadonlyArray<readonly [name: string, input: string, limits: ParserLimits, requests: number]> = [
  ['simple GET', 'GET /index.html?q=1 HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: test\r\nAccept: */*\r\nAccept: text/html\r\n\r\n', LIMITS, 1],
  ['leading empty lines', '\r\n\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', LIMITS, 1],
  ['Content-Length body', 'POST /upload HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{"a":[1,2,3]}', LIMITS, 1],
  [
    'chunked body with extensions and trailers',
    'POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n' +
      '4;a=b\r\n{"a"\r\nB;x\r\n:[1,2,3,4]}\r\n0\r\nChecksum: abc\r\nOther:\tx \r\n\r\n',
    LIMITS,
    1,
  ],
  [
    'pipelined mix',
    'GET /a HTTP/1.1\r\nHost: a\r\n\r\n\r\n' +
      'POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}' +
      'POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n' +
      'GET /d HTTP/1.0\r\nHost: a\r\nConnection: close\r\n\r\n',
    LIMITS,
    4,
  ],
  [
    'request line, header section and Content-Length body exactly at the limits',
    `POST /${'p'.repeat(SMALL.maxRequestLineBytes - 15)} HTTP/1.1\r\nHost: a\r\nContent-Length: 16\r\n${fieldLine('X', SMALL.maxHeaderBytes - 29)}\r\n${'b'.repeat(16)}`,
    SMALL,
    1,
  ],
  [
    'chunked body, and head and trailer sections together, exactly at the limits',
    `POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n${'c'.repeat(16)}\r\n0\r\n${fieldLine('T', SMALL.maxHeaderBytes - 28)}\r\n`,
    SMALL,
    1,
  ],
];

/** Malformed inputs at the limits, which must fail the same way however they are split. */
const OVER_LIMITS: ReadonlyArray<readonly [name: string, input: string, status: number]> = [
  ['request line one byte over', `GET /${'p'.repeat(SMALL.maxRequestLineBytes - 13)} HTTP/1.1\r\n\r\n`, 414],
  ['header section one byte over', `GET / HTTP/1.1\r\nHost: a\r\n${fieldLine('X', SMALL.maxHeaderBytes - 8)}\r\n`, 431],
  ['Content-Length one byte over', `POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n${'b'.repeat(17)}`, 413],
  ['chunked body one byte over', `POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n${'c'.repeat(16)}\r\n1\r\nc\r\n0\r\n\r\n`, 413],
  ['head and trailer sections together one byte over', `POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${fieldLine('T', SMALL.maxHeaderBytes - 27)}\r\n`, 431],
];

/** The events of every two-way split and of a byte-at-a-time feed must equal the unsplit parse. */
function assertSplitInvariant(input: Buffer, limits: ParserLimits): ParseEvent[] {
  const whole = parseChunks([input], limits);
  for (let at = 1; at < input.length; at++) {
    assert.deepEqual(parseChunks([input.subarray(0, at), input.subarray(at)], limits), whole, `split at byte ${at}`);
  }
  const single = Array.from({ length: input.length }, (_, index) => input.subarray(index, index + 1));
  assert.deepEqual(parseChunks(single, limits), whole, 'one byte at a time');
  return whole;
}

describe('every split point gives the same result', () => {
  for (const [name, input, limits, count] of VALID) {
    test(name, () => {
      const events = assertSplitInvariant(bytes(input), limits);
      assert.equal(events.filter((event) => event.type === 'error').length, 0, 'valid input');
      assert.equal(requestsOf(events).length, count);
    });
  }

  for (const [name, input, status] of OVER_LIMITS) {
    test(`${name}: ${status}`, () => {
      const events = assertSplitInvariant(bytes(input), SMALL);
      const last = events.at(-1);
      assert.ok(last?.type === 'error' && refusalStatus(last.refusal) === status, JSON.stringify(last));
    });
  }

  for (const [name, input, status] of MALFORMED) {
    test(`malformed: ${name}`, () => {
      const events = assertSplitInvariant(bytes(input), LIMITS);
      const last = events.at(-1);
      assert.ok(last?.type === 'error' && refusalStatus(last.refusal) === status);
    });
  }
});

describe('an error names its refusal', () => {
  const cases: [input: string, status: number, refusal: Refusal][] = [
    ['GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', 400, 'length_and_chunked'],
    ['GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400, 'duplicate_host'],
    ['GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n', 400, 'duplicate_content_length'],
    ['GET / HTTP/1.1\r\nHost : a\r\n\r\n', 400, 'whitespace_before_colon'],
    ['GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n', 400, 'obsolete_line_folding'],
    ['GET / HTTP/1.1\nHost: a\r\n\r\n', 400, 'bare_lf'],
    ['GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505, 'version_not_supported'],
    ['GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n', 501, 'transfer_coding_not_implemented'],
    ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400, 'invalid_chunk_size'],
    ['POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n', 413, 'body_too_large'],
    ['GET / HTTP/1.1\r\nHost: a\r\nX-Foo\r\n\r\n', 400, 'header_without_colon'],
    ['GET / HTTP/1.1\r\nHost: a\r\n: a\r\n\r\n', 400, 'header_without_colon'],
    ['GET / XHTTP/1.1\r\nHost: a\r\n\r\n', 400, 'malformed_version'],
    ['GET / HTTP/1.1x\r\nHost: a\r\n\r\n', 400, 'malformed_version'],
    ['GET / HTTP/1.1 x\r\nHost: a\r\n\r\n', 400, 'malformed_request_line'],
    ['GET /\r\nHost: a\r\n\r\n', 400, 'malformed_request_line'],
    ['GET\r\nHost: a\r\n\r\n', 400, 'malformed_request_line'],
    // RFC 9112 §2.2 skips empty lines (CRLF) before a request line, nothing else.
    ['X\nGET / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bare_lf'],
    ['\rGET / HTTP/1.1\r\nHost: a\r\n\r\n', 400, 'bare_cr'],
  ];
  for (const [input, status, refusal] of cases) {
    test(`${refusal}: ${JSON.stringify(input)}`, () => {
      const error = errorOf(input);
      assert.deepEqual([error.status, error.refusal], [status, refusal], error.detail);
    });
  }
});
