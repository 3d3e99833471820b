// CORS for /upload on the wire (test/e2e/cors-browser.test.ts runs a real browser): the
// preflight's answer, the fields every response to /upload carries for a listed origin, the
// engine's own refusals included, and nothing at all elsewhere or with CORS_ORIGINS unset.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get, RawClient, request, type RawResponse } from '../helpers/raw.js';
import { startServer, type StartedServer } from '../helpers/server.js';

const APP = 'http://app.example:8000';
const OTHER = 'https://evil.example';
const TOKEN = 'cors-token-1-Hq7Vw3';

const preflight = (port: number, origin: string): string =>
  `OPTIONS /upload HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: ${origin}\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization,content-type\r\n\r\n`;

function post(port: number, origin: string, { token = TOKEN, type = 'application/json', body = '{"cors":1}', target = '/upload' } = {}): string {
  const auth = token === '' ? '' : `Authorization: Bearer ${token}\r\n`;
  return `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: ${origin}\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\n${auth}\r\n${body}`;
}

/** The Access-Control-* and Vary fields of a response. */
const corsFields = (response: RawResponse): Record<string, string> =>
  Object.fromEntries(Object.entries(response.headers).filter(([name]) => name.startsWith('access-control-') || name === 'vary'));

const ALLOWED = { 'access-control-allow-origin': APP, 'access-control-expose-headers': 'Location, Retry-After, WWW-Authenticate, X-Trace-Id', vary: 'Origin' };

describe('CORS_ORIGINS set, with upload tokens', () => {
  let server: StartedServer;

  before(async () => {
    server = await startServer({ env: { CORS_ORIGINS: `${APP},https://other.example`, UPLOAD_TOKENS: TOKEN, UPLOAD_BURST: '3', UPLOAD_RATE_PER_MINUTE: '1', MAX_BODY_BYTES: '64', MAX_BODY_MEMORY_BYTES: '64' } });
  });

  after(async () => {
    await server?.stop();
  });

  test('the preflight from a listed origin: 204 with the methods, headers and max age', async () => {
    const response = await request(server.port, preflight(server.port, APP));
    assert.equal(response.status, 204);
    assert.equal(response.headers.allow, 'POST, OPTIONS');
    assert.deepEqual(corsFields(response), {
      'access-control-allow-origin': APP,
      'access-control-allow-methods': 'POST, OPTIONS',
      'access-control-allow-headers': 'Content-Type, Authorization, traceparent, tracestate',
      'access-control-max-age': '600',
      vary: 'Origin',
    });
    assert.equal(response.headers['access-control-allow-credentials'], undefined);
  });

  test('an origin not listed gets no CORS fields, only Vary: Origin', async () => {
    assert.deepEqual(corsFields(await request(server.port, preflight(server.port, OTHER))), { vary: 'Origin' });
    const response = await request(server.port, post(server.port, OTHER));
    assert.equal(response.status, 201, 'the server stores it: keeping the page out is the browser’s part');
    assert.deepEqual(corsFields(response), { vary: 'Origin' });
  });

  test('every answer to a listed origin’s upload carries the fields: 201, and the engine’s 401, 400, 415, 413 and 429', async () => {
    const answers: ReadonlyArray<readonly [string, number]> = [
      [post(server.port, APP), 201],
      [post(server.port, APP, { token: '' }), 401],
      [post(server.port, APP, { token: 'not a token' }), 400],
      [post(server.port, APP, { type: 'text/plain' }), 415],
      [post(server.port, APP, { body: JSON.stringify({ padding: 'x'.repeat(80) }) }), 413],
      [post(server.port, APP, { target: '/upload?from=page' }), 201],
      [post(server.port, APP), 429],
    ];
    for (const [bytes, status] of answers) {
      const response = await request(server.port, bytes);
      assert.equal(response.status, status);
      assert.deepEqual(corsFields(response), ALLOWED, `${status}`);
    }
  });

  test('a worker’s error carries them too (400 for a body that is not JSON)', async () => {
    // The burst (3: one from the unlisted origin, two above) is spent: another address has its own.
    const client = await RawClient.connect(server.port, '127.0.0.1', '127.0.4.1');
    client.write(post(server.port, APP, { body: '{"not json' }));
    const [response] = await client.responses(1);
    client.close();
    assert.equal(response!.status, 400);
    assert.equal(response!.headers['content-type'], 'application/json');
    assert.deepEqual(corsFields(response!), ALLOWED);
  });

  test('the engine’s 503 carries them too (the body memory taken by an upload still arriving)', async () => {
    const holder = await RawClient.connect(server.port, '127.0.0.1', '127.0.4.2');
    // All of MAX_BODY_MEMORY_BYTES (64): a body of 64 bytes, announced, not all sent.
    holder.write(post(server.port, APP, { body: `{"hold":"${'x'.repeat(53)}"}` }).slice(0, -10));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const client = await RawClient.connect(server.port, '127.0.0.1', '127.0.4.3');
    client.write(post(server.port, APP));
    const [response] = await client.responses(1);
    client.close();
    holder.close();
    assert.equal(response!.status, 503);
    assert.deepEqual(corsFields(response!), ALLOWED);
  });

  test('nothing but /upload gets CORS fields', async () => {
    const response = await request(server.port, get('/', server.port, `Origin: ${APP}\r\n`));
    assert.equal(response.status, 200);
    assert.deepEqual(corsFields(response), {});
    assert.deepEqual(corsFields(await request(server.port, `OPTIONS / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nOrigin: ${APP}\r\n\r\n`)), {});
  });
});

test('CORS_ORIGINS=* allows any origin, without credentials; without tokens Authorization is not offered', async () => {
  const server = await startServer({ env: { CORS_ORIGINS: '*' } });
  try {
    const response = await request(server.port, preflight(server.port, OTHER));
    assert.equal(response.headers['access-control-allow-origin'], '*');
    assert.equal(response.headers['access-control-allow-headers'], 'Content-Type, traceparent, tracestate');
    assert.equal(response.headers['access-control-allow-credentials'], undefined);
  } finally {
    await server.stop();
  }
});

test('CORS_ORIGINS unset: no CORS field anywhere, as before', async () => {
  const server = await startServer();
  try {
    for (const bytes of [preflight(server.port, APP), post(server.port, APP, { token: '' })]) {
      assert.deepEqual(corsFields(await request(server.port, bytes)), {});
    }
  } finally {
    await server.stop();
  }
});
