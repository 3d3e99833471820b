// Trace ids in the access log: a valid W3C traceparent's trace id is logged with the request
// line and echoed in X-Trace-Id; an invalid one is ignored (never an error) and a fresh id is
// used; every request line has an id, on every way a response is written.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get, RawClient, request, type RawResponse } from '../helpers/raw.js';
import { startServer, type LogLine, type StartedServer } from '../helpers/server.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const TRACE_ID = /^[0-9a-f]{32}$/;

describe('trace ids', () => {
  let server: StartedServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  /** The access log line of the response that carries `traceId`. */
  const requestLine = (traceId: string): Promise<LogLine> => server.waitForLog((line) => line.msg === 'request' && line.traceId === traceId);

  const traced = (response: RawResponse): string => {
    const id = response.headers['x-trace-id'] ?? '';
    assert.match(id, TRACE_ID, `X-Trace-Id of a ${response.status}`);
    return id;
  };

  test("a valid traceparent's trace id is logged and echoed, from a worker and from the file cache", async () => {
    const traceparent = `traceparent: 00-${TRACE}-${PARENT}-01\r\n`;
    // The first answer comes from a worker, the second from the main thread's cache (a prepared head).
    for (let i = 0; i < 2; i++) {
      const response = await request(server.port, get('/about.html', server.port, traceparent));
      assert.equal(response.status, 200);
      assert.equal(response.headers['x-trace-id'], TRACE);
    }
    await server.waitForLog((line) => line.traceId === TRACE && line.cached === true);
    const lines = server.logs.filter((line) => line.msg === 'request' && line.traceId === TRACE);
    assert.deepEqual(lines.map((line) => [line.path, line.status, line.cached]), [['/about.html', 200, false], ['/about.html', 200, true]]);
  });

  test('any header name case and surrounding whitespace, and a later version, are read', async () => {
    for (const [field, expected] of [
      [`TraceParent: \t00-${TRACE}-${PARENT}-00 \r\n`, TRACE],
      [`traceparent: cc-${'1'.repeat(32)}-${PARENT}-01-later-fields\r\n`, '1'.repeat(32)],
    ] as const) {
      const response = await request(server.port, get('/sample.txt', server.port, field));
      assert.equal(response.headers['x-trace-id'], expected);
      await requestLine(expected);
    }
  });

  test('an invalid traceparent is ignored: the request is served, with a fresh id', async () => {
    const invalid = [
      `00-${TRACE.toUpperCase()}-${PARENT}-01`,
      `00-${'0'.repeat(32)}-${PARENT}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `ff-${TRACE}-${PARENT}-01`,
      `00-${TRACE}-${PARENT}-01-extra`,
      `00-${TRACE}-${PARENT}`,
      'garbage',
    ];
    const seen = new Set<string>();
    for (const value of invalid) {
      const response = await request(server.port, get('/sample.txt', server.port, `traceparent: ${value}\r\n`));
      assert.equal(response.status, 200, value);
      const id = traced(response);
      assert.ok(!value.toLowerCase().includes(id), `${value}: a fresh id, not ${id}`);
      seen.add(id);
      assert.equal((await requestLine(id)).path, '/sample.txt');
    }
    assert.equal(seen.size, invalid.length, 'each request its own id');
    // Two traceparent fields are joined into one invalid value: ignored too.
    const twice = `traceparent: 00-${TRACE}-${PARENT}-01\r\ntraceparent: 00-${'2'.repeat(32)}-${PARENT}-01\r\n`;
    const id = traced(await request(server.port, get('/sample.txt', server.port, twice)));
    assert.ok(id !== TRACE && id !== '2'.repeat(32));
  });

  test('every request line has an id: pipelined requests, a 404, a streamed file, a bad request', async () => {
    const client = await RawClient.connect(server.port);
    try {
      client.write(get('/index.html', server.port) + get('/nope.txt', server.port) + get('/sample_image.png', server.port));
      const responses = await client.responses(3, 10_000);
      assert.deepEqual(responses.map((response) => response.status), [200, 404, 200]);
      const ids = responses.map(traced);
      assert.equal(new Set(ids).size, 3);
      const paths = await Promise.all(ids.map(async (id) => (await requestLine(id)).path));
      assert.deepEqual(paths, ['/index.html', '/nope.txt', '/sample_image.png']);
    } finally {
      client.close();
    }
    // A request the parser refuses still gets an id, in the response and on its request line.
    const bad = await request(server.port, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nbad header line\r\n\r\n');
    assert.equal(bad.status, 400);
    const line = await requestLine(traced(bad));
    // Its request line was read: the log names it. One whose line holds no method cannot.
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/');
    const garbled = await request(server.port, 'G(T / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    assert.equal(garbled.status, 400);
    assert.equal((await requestLine(traced(garbled))).method, '-');
    // Every request line so far.
    const lines = server.logs.filter((logged) => logged.msg === 'request');
    assert.ok(lines.length >= 15);
    for (const logged of lines) assert.match(String(logged.traceId), TRACE_ID, JSON.stringify(logged));
  });

  test('a head refused whole (417, 501, 505, a second Host) keeps its valid traceparent', async () => {
    const traceparent = `traceparent: 00-${TRACE}-${PARENT}-01\r\n`;
    const heads: Array<[string, number]> = [
      [`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n${traceparent}Expect: foo\r\n\r\n`, 417],
      [`POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n${traceparent}Transfer-Encoding: gzip\r\n\r\n`, 501],
      [`GET / HTTP/2.0\r\nHost: 127.0.0.1\r\n${traceparent}\r\n`, 505],
      [`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n${traceparent}Host: 127.0.0.1\r\n\r\n`, 400],
    ];
    for (const [head, status] of heads) {
      const response = await request(server.port, head);
      assert.equal(response.status, status);
      assert.equal(response.headers['x-trace-id'], TRACE, `${status}`);
    }
    await server.waitForLog((line) => line.msg === 'request' && line.traceId === TRACE && line.status === 505);
  });

  test('a traceparent ending in byte 0xA0 is invalid whether its request is served or refused', async () => {
    // Optional whitespace is SP and HTAB alone (RFC 9110 §5.6.3): 0xA0 is part of the value.
    const traceparent = `traceparent: 00-${TRACE}-${PARENT}-01\xa0\r\n`;
    const served = await request(server.port, get('/sample.txt', server.port, traceparent));
    assert.equal(served.status, 200);
    assert.notEqual(traced(served), TRACE);
    const refused = await request(server.port, `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n${traceparent}Host: 127.0.0.1\r\n\r\n`);
    assert.equal(refused.status, 400);
    assert.notEqual(traced(refused), TRACE);
  });

  test('the interim 100 Continue carries the X-Trace-Id of its request, the same as the final response', async () => {
    const body = '{"traced":true}';
    for (const traceparent of ['', `traceparent: 00-${TRACE}-${PARENT}-01\r\n`]) {
      const client = await RawClient.connect(server.port);
      try {
        client.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n${traceparent}Content-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`);
        const [interim] = await client.responses(1, 10_000);
        assert.equal(interim!.status, 100);
        const id = traced(interim!);
        assert.equal(client.received.toString('latin1'), `HTTP/1.1 100 Continue\r\nX-Trace-Id: ${id}\r\n\r\n`, 'the 100 is the status line and the trace id only');
        if (traceparent !== '') assert.equal(id, TRACE);
        client.write(body);
        const [, final] = await client.responses(2, 10_000);
        assert.equal(final!.status, 201, final!.body.toString());
        assert.equal(final!.headers['x-trace-id'], id, 'the final response carries the interim one\'s id');
        assert.equal((await server.waitForLog((line) => line.msg === 'request' && line.traceId === id && line.status === 201)).path, '/upload');
      } finally {
        client.close();
      }
    }
  });
});

describe('a head that does not come in time', () => {
  let server: StartedServer;
  before(async () => {
    server = await startServer({ env: { HEADERS_TIMEOUT_MS: '300' } });
  });
  after(async () => {
    await server.stop();
  });

  test('gets 408 as the request its line names: counted under its method, logged with its path and trace, and a HEAD without a body', async () => {
    const client = await RawClient.connect(server.port);
    try {
      client.write(`HEAD /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\ntraceparent: 00-${TRACE}-${PARENT}-01\r\n`);
      const [response] = await client.responses(1, 5000, 1);
      assert.equal(response!.status, 408);
      assert.equal(response!.body.length, 0, 'the answer to a HEAD has no body');
      assert.equal(response!.headers['x-trace-id'], TRACE);
      await client.waitClosed();
      assert.equal(client.received.toString('latin1').split('HTTP/1.1').length - 1, 1, 'nothing after the head');
    } finally {
      client.close();
    }
    const line = await server.waitForLog((logged) => logged.msg === 'request' && logged.traceId === TRACE);
    assert.deepEqual([line.method, line.path, line.status], ['HEAD', '/index.html', 408]);
  });
});

