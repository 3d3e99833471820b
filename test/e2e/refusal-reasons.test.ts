// A refused request is told why: the error page says the cause in one sentence, and the access
// log line carries its code as `reason`, as do the refusal's own lines (`security refusal`,
// `bad request`), whose free text is `detail`; a served request's line has no `reason`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { metric } from '../fixtures/probes.js';
import { get, RawClient, request, type RawResponse } from '../helpers/raw.js';
import { ONE_CLIENT_LOAD, startServer, type StartedServer } from '../helpers/server.js';

/** The text of an error page's explanation paragraph. */
function pageText(response: RawResponse): string {
  const match = /<p>([^<]*)<\/p>/.exec(response.body.toString('utf8'));
  assert.ok(match !== null, response.body.toString('utf8'));
  return match[1]!;
}

describe('refusals say why', () => {
  let server: StartedServer;
  let host: string;
  before(async () => {
    server = await startServer({ env: ONE_CLIENT_LOAD });
    host = `Host: 127.0.0.1:${server.port}\r\n`;
  });
  after(async () => {
    await server.stop();
  });

  // Each target is distinct, so that each request's access line can be found by its path.
  const cases = (): [target: string, bytes: string, status: number, sentence: string, reason: string][] => [
    ['/?no-host', 'GET /?no-host HTTP/1.1\r\n\r\n', 400, 'The Host header is missing.', 'missing_host'],
    ['/?smuggle', `POST /?smuggle HTTP/1.1\r\n${host}Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400, 'Content-Length and Transfer-Encoding together are refused.', 'length_and_chunked'],
    ['/upload?plain', `POST /upload?plain HTTP/1.1\r\n${host}Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}`, 415, 'Only application/json documents can be uploaded.', 'upload_not_json'],
    ['/upload?empty-charset', `POST /upload?empty-charset HTTP/1.1\r\n${host}Content-Type: application/json; charset=\r\nContent-Length: 2\r\n\r\n{}`, 415, 'Only application/json documents can be uploaded.', 'upload_not_json'],
    ['/upload?utf-16', `POST /upload?utf-16 HTTP/1.1\r\n${host}Content-Type: application/json; charset=utf-16\r\nContent-Length: 4\r\n\r\n{\0}\0`, 415, 'Uploaded documents must be UTF-8; the Content-Type names another charset.', 'upload_not_utf8'],
    ['/upload?unframed', `POST /upload?unframed HTTP/1.1\r\n${host}Content-Type: application/json\r\n\r\n`, 411, 'An upload needs a Content-Length or Transfer-Encoding: chunked.', 'upload_length_required'],
    ['/upload?if-match', `POST /upload?if-match HTTP/1.1\r\n${host}Content-Type: application/json\r\nIf-Match: *\r\nContent-Length: 2\r\n\r\n{}`, 412, 'If-Match cannot hold on /upload, which has no current document.', 'upload_if_match'],
    ['/sample.txt?delete', `DELETE /sample.txt?delete HTTP/1.1\r\n${host}\r\n`, 405, 'The request method is not allowed for this resource; the Allow header lists those that are.', 'method_not_allowed'],
    ['/sample.txt?brew', `BREW /sample.txt?brew HTTP/1.1\r\n${host}\r\n`, 501, 'This server does not implement the request method.', 'method_not_implemented'],
    ['https://127.0.0.1/?scheme', `GET https://127.0.0.1/?scheme HTTP/1.1\r\n${host}\r\n`, 400, 'Only http targets are served.', 'scheme_not_served'],
    ['/sample.txt?expect', `GET /sample.txt?expect HTTP/1.1\r\n${host}Expect: tea\r\n\r\n`, 417, 'Only the 100-continue expectation is supported.', 'expectation_unsupported'],
    ['/.env?hidden', `GET /.env?hidden HTTP/1.1\r\n${host}\r\n`, 403, 'Hidden files and folders (names that start with a dot) are not served.', 'hidden_file'],
  ];

  test('the error page says what was wrong with each refused request', async () => {
    for (const [, bytes, status, sentence] of cases()) {
      const response = await request(server.port, bytes);
      assert.equal(response.status, status, bytes);
      assert.equal(response.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(pageText(response), sentence, bytes);
    }
  });

  test("each refused request's access line carries its reason code", async () => {
    for (const [target, bytes, status, , reason] of cases()) {
      await request(server.port, bytes);
      const line = await server.waitForLog((entry) => entry.msg === 'request' && entry.path === target);
      assert.deepEqual([line.status, line.reason], [status, reason], target);
    }
  });

  test("a served request's access line has no reason", async () => {
    const client = await RawClient.connect(server.port);
    try {
      // Twice, one after the other: the second is answered from the file cache, the hot path.
      client.write(get('/sample.txt?served', server.port));
      await client.responses(1);
      client.write(get('/sample.txt?served', server.port));
      const responses = await client.responses(2);
      for (const response of responses) assert.equal(response.status, 200);
    } finally {
      client.close();
    }
    await server.waitForLog((entry) => entry.msg === 'request' && entry.path === '/sample.txt?served' && entry.cached === true);
    const served = server.logs.filter((entry) => entry.msg === 'request' && entry.path === '/sample.txt?served');
    assert.equal(served.length, 2);
    for (const line of served) assert.equal('reason' in line, false);
  });

  test("a refusal's own log line names its code as reason, as the access line does, and its free text as detail", async () => {
    await request(server.port, `GET /a/../b?traversal HTTP/1.1\r\n${host}\r\n`);
    const security = await server.waitForLog((entry) => entry.msg === 'security refusal' && entry.target === '/a/../b?traversal');
    assert.deepEqual([security.level, security.rule, security.reason, security.detail], ['warn', 'traversal', 'dot_segment', 'dot segment in path']);
    await request(server.port, `GET /?bad-request HTTP/1.1\r\n${host}Content-Length: 1\r\nContent-Length: 1\r\n\r\nx`);
    const access = await server.waitForLog((entry) => entry.msg === 'request' && entry.path === '/?bad-request');
    const bad = await server.waitForLog((entry) => entry.msg === 'bad request' && entry.traceId === access.traceId);
    assert.deepEqual([bad.status, bad.reason, bad.detail], [400, 'duplicate_content_length', 'more than one Content-Length']);
    assert.equal(access.reason, bad.reason);
  });

  test('invalid percent-encoding is a malformed request, not a security refusal; an encoded NUL is one', async () => {
    const counted = (): Promise<number> => metric(server.adminPort, 'http_server_security_rejections_total', 'reason="bad_path"');
    const before = await counted();
    const undecodable = await request(server.port, get('/100%.txt', server.port));
    assert.equal(undecodable.status, 400);
    assert.equal(pageText(undecodable), 'The path holds an invalid percent-encoding.');
    const access = await server.waitForLog((entry) => entry.msg === 'request' && entry.path === '/100%.txt');
    assert.equal(access.reason, 'bad_percent_encoding');
    assert.equal(await counted(), before, 'not counted as a security rejection');
    const nul = await request(server.port, get('/a%00b.txt', server.port));
    assert.equal(nul.status, 400);
    await server.waitForLog((entry) => entry.msg === 'request' && entry.path === '/a%00b.txt');
    assert.equal(await counted(), before + 1, 'an encoded NUL still is');
    const warned = server.logs.filter((entry) => entry.msg === 'security refusal');
    assert.deepEqual(warned.filter((entry) => entry.target === '/100%.txt'), [], 'and not logged as one');
    assert.equal(warned.find((entry) => entry.target === '/a%00b.txt')?.reason, 'nul_in_path');
  });

  test('a refusal never echoes what the client sent into the page', async () => {
    const response = await request(server.port, `GET /?markup HTTP/1.1\r\nHost: <script>alert(1)</script>\r\n\r\n`);
    assert.equal(response.status, 400);
    const page = response.body.toString('utf8');
    assert.equal(page.includes('<script>'), false, page);
    assert.equal(page.includes('alert(1)'), false, page);
    assert.equal(pageText(response), 'The Host header is not a host name with an optional port.');
  });

  test('a HEAD refusal keeps its empty body and still logs its reason', async () => {
    const client = await RawClient.connect(server.port);
    try {
      client.write('HEAD /?head-no-host HTTP/1.1\r\nConnection: close\r\n\r\n');
      await client.waitClosed();
      const text = client.received.toString('latin1');
      assert.match(text, /^HTTP\/1\.1 400 /);
      assert.equal(text.indexOf('\r\n\r\n'), text.length - 4, text);
    } finally {
      client.close();
    }
    const line = await server.waitForLog((entry) => entry.msg === 'request' && entry.path === '/?head-no-host');
    assert.equal(line.reason, 'missing_host');
  });
});

describe('a full queue says so', () => {
  let server: StartedServer;
  before(async () => {
    server = await startServer({ env: { ...ONE_CLIENT_LOAD, MAX_THREADS: '1', QUEUE_SIZE: '0', FILE_CACHE_TTL_MS: '0' } });
  });
  after(async () => {
    await server.stop();
  });

  test('a 503 for a full queue explains itself on the page and in the access line', async () => {
    const client = await RawClient.connect(server.port);
    try {
      const count = 16;
      client.write(Array.from({ length: count }, (_, i) => get(`/sample.txt?burst-${i}`, server.port)).join(''));
      const responses = await client.responses(count, 30_000);
      const refusedAt = responses.findIndex((response) => response.status === 503);
      assert.ok(refusedAt !== -1, 'the burst filled the queue');
      assert.equal(pageText(responses[refusedAt]!), 'Every worker is busy and the queue is full; please retry later.');
      const line = await server.waitForLog((entry) => entry.msg === 'request' && entry.path === `/sample.txt?burst-${refusedAt}`);
      assert.deepEqual([line.status, line.reason], [503, 'queue_full']);
    } finally {
      client.close();
    }
  });
});
