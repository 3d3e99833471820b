// Protocol rules against the started server: headers on every response, methods, versions,
// the Host header, error pages and the request and security log lines.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { get, RawClient, request, type RawResponse } from '../helpers/raw.js';
import { startServer, type StartedServer } from '../helpers/server.js';

const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

let server: StartedServer;
let host: string;
before(async () => {
  server = await startServer();
  host = `127.0.0.1:${server.port}`;
});
after(async () => {
  await server.stop();
});

function assertErrorPage(response: RawResponse, status: number, reason: string): void {
  assert.equal(response.status, status);
  assert.equal(response.statusLine, `HTTP/1.1 ${status} ${reason}`);
  assert.equal(response.headers['content-type'], 'text/html; charset=utf-8');
  const page = response.body.toString('utf8');
  assert.match(page, /^<!DOCTYPE html>/);
  assert.match(page, new RegExp(`<h1>${status} ${reason}</h1>`));
  assert.match(page, /<p>[^<]+\.<\/p>/, 'a one-line explanation');
  assert.match(page, /rawhttp/);
}

const allowList = (response: RawResponse): string[] => (response.headers.allow ?? '').split(',').map((method) => method.trim());

test('every response carries Date, Server, Content-Length, Connection and nosniff', async () => {
  const requests = [
    get('/', server.port),
    get('/sample.txt', server.port),
    `HEAD /logo.png HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
    get('/missing.html', server.port),
    `PUT /index.html HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 0\r\n\r\n`,
    get('/../etc/passwd', server.port),
    `GET / HTTP/1.1\r\nHost: evil.com\r\n\r\n`,
    `GET / HTTP/1.1\r\n\r\n`,
    `GET / HTTP/2.0\r\nHost: ${host}\r\n\r\n`,
    `G@T / HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
  ];
  const notBefore = Date.now() - 2000;
  for (const bytes of requests) {
    const client = await RawClient.connect(server.port);
    try {
      client.write(bytes);
      const [response] = await client.responses(1, 5000, bytes.startsWith('HEAD') ? 1 : 0);
      const { headers } = response!;
      const label = bytes.split('\r\n')[0];
      assert.match(response!.statusLine, /^HTTP\/1\.1 \d{3} [A-Za-z ]+$/, label);
      assert.match(headers.date ?? '', IMF_FIXDATE, label);
      assert.ok(Date.parse(headers.date!) >= notBefore && Date.parse(headers.date!) <= Date.now() + 1000, label);
      assert.equal(headers.server, 'rawhttp', label);
      assert.match(headers['content-length'] ?? '', /^\d+$/, label);
      assert.match(headers.connection ?? '', /^(keep-alive|close)$/, label);
      assert.equal(headers['x-content-type-options'], 'nosniff', label);
    } finally {
      client.close();
    }
  }
});

test('PUT, DELETE and other standard methods are 405 with what the target allows; unknown methods 501', async () => {
  for (const method of ['PUT', 'DELETE', 'PATCH', 'TRACE']) {
    const file = await request(server.port, `${method} /index.html HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    assertErrorPage(file, 405, 'Method Not Allowed');
    assert.deepEqual(allowList(file), ['GET', 'HEAD', 'OPTIONS'], method);
    const upload = await request(server.port, `${method} /upload HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    assertErrorPage(upload, 405, 'Method Not Allowed');
    assert.deepEqual(allowList(upload), ['POST', 'OPTIONS'], method);
  }
  // No file is served at the upload path, whatever the folder holds.
  const getUpload = await request(server.port, `GET /upload HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  assertErrorPage(getUpload, 405, 'Method Not Allowed');
  assert.deepEqual(allowList(getUpload), ['POST', 'OPTIONS']);
  const connect = await request(server.port, `CONNECT ${host} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  assertErrorPage(connect, 405, 'Method Not Allowed');
  assert.deepEqual(allowList(connect), ['GET', 'HEAD', 'POST', 'OPTIONS']);
  // The connection stays usable after a 501: the request was whole, only its method unknown.
  const client = await RawClient.connect(server.port);
  try {
    client.write(`PROPFIND /index.html HTTP/1.1\r\nHost: ${host}\r\n\r\nget /index.html HTTP/1.1\r\nHost: ${host}\r\n\r\n${get('/index.html', server.port)}`);
    const responses = await client.responses(3);
    assert.deepEqual(responses.map((response) => response.status), [501, 501, 200]);
    assertErrorPage(responses[0]!, 501, 'Not Implemented');
  } finally {
    client.close();
  }
});

test('a method that is not a valid token is 400 and the connection closes', async () => {
  const client = await RawClient.connect(server.port);
  client.write(`G(T / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  const [response] = await client.responses(1);
  assertErrorPage(response!, 400, 'Bad Request');
  assert.equal(response!.headers.connection, 'close');
  await client.waitClosed();
});

test('POST to a missing non-upload path is 404; to an existing file 405 with Allow', async () => {
  const post = (path: string): string => `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`;
  assertErrorPage(await request(server.port, post('/nothing-here')), 404, 'Not Found');
  const existing = await request(server.port, post('/index.html'));
  assertErrorPage(existing, 405, 'Method Not Allowed');
  const allowed = allowList(existing);
  assert.ok(allowed.includes('GET') && allowed.includes('HEAD') && !allowed.includes('POST'), `Allow ${existing.headers.allow}`);
});

test('the connection stays usable after a POST that is refused', async () => {
  const client = await RawClient.connect(server.port);
  try {
    client.write(`POST /index.html HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 5\r\n\r\nhello` + get('/sample.txt', server.port));
    const [refused, next] = await client.responses(2);
    assert.equal(refused!.status, 405);
    assert.equal(next!.status, 200);
  } finally {
    client.close();
  }
});

test('HTTP/2.0 and other versions are 505; a later HTTP/1 minor version is served as HTTP/1.1', async () => {
  for (const version of ['HTTP/2.0', 'HTTP/3.0']) {
    assertErrorPage(await request(server.port, `GET / ${version}\r\nHost: ${host}\r\n\r\n`), 505, 'HTTP Version Not Supported');
  }
  const later = await request(server.port, `GET /about.html HTTP/1.2\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  assert.equal(later.status, 200);
  assert.match(later.statusLine, /^HTTP\/1\.1 200 /);
});

test('HTTP/1.0 is served', async () => {
  const response = await request(server.port, `GET /about.html HTTP/1.0\r\nHost: ${host}\r\n\r\n`);
  assert.equal(response.status, 200);
  assert.equal(response.headers['content-type'], 'text/html; charset=utf-8');
});

test('a Host that is not allowed is 403 and logged at warn with the client and reason', async () => {
  for (const value of ['evil.com', `evil.com:${server.port}`, '127.0.0.1:1']) {
    assertErrorPage(await request(server.port, `GET / HTTP/1.1\r\nHost: ${value}\r\n\r\n`), 403, 'Forbidden');
  }
  assertErrorPage(await request(server.port, `GET / HTTP/1.0\r\nHost: evil.com\r\n\r\n`), 403, 'Forbidden');
  const line = await server.waitForLog((l) => l.level === 'warn' && typeof l.detail === 'string' && l.detail.includes('evil.com'));
  assert.equal(line.client, '127.0.0.1');
  assert.equal(line.rule, 'host_not_allowed');
  assert.equal(line.reason, 'host_not_allowed', 'the code, as on the access line');
  assert.equal(typeof line.conn, 'number');
});

test('a missing Host is 400, on HTTP/1.1 and HTTP/1.0 alike', async () => {
  for (const version of ['HTTP/1.1', 'HTTP/1.0']) {
    assertErrorPage(await request(server.port, `GET / ${version}\r\n\r\n`), 400, 'Bad Request');
    assertErrorPage(await request(server.port, `GET / ${version}\r\nHost:\r\n\r\n`), 400, 'Bad Request');
  }
});

test('allowed Host names compare case-insensitively', async () => {
  for (const value of [`LOCALHOST:${server.port}`, `localhost:${server.port}`, `[::1]:${server.port}`, host]) {
    assert.equal((await request(server.port, `GET / HTTP/1.1\r\nHost: ${value}\r\n\r\n`)).status, 200, value);
  }
});

test('a request log line names method, path, status, bytes, duration, worker, connection id and persistence', async () => {
  const response = await request(server.port, get('/sample2.txt?log-check', server.port, 'Connection: close\r\n'));
  assert.equal(response.status, 200);
  const line = await server.waitForLog((l) => l.msg === 'request' && l.path === '/sample2.txt?log-check');
  assert.equal(line.level, 'info');
  assert.equal(line.method, 'GET');
  assert.equal(line.status, 200);
  assert.ok(typeof line.bytes === 'number' && line.bytes > response.body.length, 'bytes sent include the head');
  assert.ok(typeof line.ms === 'number' && line.ms >= 0);
  assert.ok(typeof line.worker === 'number' && line.worker >= 1);
  assert.equal(typeof line.conn, 'number');
  assert.equal(line.connection, 'close');
});

test('the start line names address, pool size, queue size and document root', async () => {
  const line = await server.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('listening on'));
  assert.equal(line.address, host);
  assert.equal(line.workers, 10);
  assert.equal(typeof line.queueSize, 'number');
  assert.match(String(line.documentRoot), /resources$/);
});
