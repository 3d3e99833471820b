// HTTP/1.1 conformance against the started server: validators and Cache-Control, conditional
// requests (304/412), byte ranges (206/416, If-Range), OPTIONS/TRACE/CONNECT, absolute-form
// targets, and precompressed variants with Content-Encoding and Vary.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { get, RawClient, request, type RawResponse } from '../helpers/raw.js';
import { RESOURCES_DIR, startServer, type StartedServer } from '../helpers/server.js';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const IMAGE = readFileSync(join(RESOURCES_DIR, 'sample_image.png'));
const SAMPLE_TXT = readFileSync(join(RESOURCES_DIR, 'sample.txt'));
/** Bodies up to this size come from the worker in one piece; larger ones are streamed. */
const SMALL_BODY = 64 * 1024;
const SLOW_MS = 20_000;
const STRONG_ETAG = /^"[\x21\x23-\x7e]+"$/;

const lastModifiedOf = (dir: string, name: string): string => statSync(join(dir, name)).mtime.toUTCString();

/** GET `path` with extra header lines (each ending in CRLF) on a fresh connection. */
function fetchPath(server: StartedServer, path: string, extra = ''): Promise<RawResponse> {
  return request(server.port, get(path, server.port, extra), SLOW_MS);
}

/**
 * Sends `first` and then a GET of sample.txt on one connection. If `first` got any body bytes
 * its response does not announce, the second response cannot parse as sample.txt.
 */
async function withFollowUp(server: StartedServer, first: string, firstIsHead = false): Promise<RawResponse> {
  const client = await RawClient.connect(server.port);
  try {
    client.write(first + get('/sample.txt', server.port));
    const [response, next] = await client.responses(2, SLOW_MS, firstIsHead ? 1 : 0);
    assert.equal(next!.status, 200, 'the follow-up request on the same connection');
    assert.ok(next!.body.equals(SAMPLE_TXT), 'the follow-up response is intact, so nothing leaked from the first');
    return response!;
  } finally {
    client.close();
  }
}

function assertValidators(response: RawResponse, lastModified: string, cacheControl: string, label = ''): void {
  assert.match(response.headers.etag ?? '', STRONG_ETAG, `${label} strong ETag`);
  assert.equal(response.headers['last-modified'], lastModified, `${label} Last-Modified`);
  assert.equal(response.headers['cache-control'], cacheControl, `${label} Cache-Control`);
}

function assertFileHeaders(response: RawResponse, dir: string, name: string, cacheControl: string): void {
  assertValidators(response, lastModifiedOf(dir, name), cacheControl, name);
  assert.equal(response.headers['accept-ranges'], 'bytes', `${name} Accept-Ranges`);
}

/** 304: no body and no Content-Length, but the validators and Cache-Control a 200 would carry. */
function assertNotModified(response: RawResponse, etag: string, lastModified: string, cacheControl: string): void {
  assert.equal(response.status, 304);
  assert.equal(response.body.length, 0);
  assert.equal(response.headers['content-length'], undefined);
  assert.equal(response.headers['content-type'], undefined);
  assert.equal(response.headers.etag, etag);
  assert.equal(response.headers['last-modified'], lastModified);
  assert.equal(response.headers['cache-control'], cacheControl);
}

function assertErrorStatus(response: RawResponse, status: number): void {
  assert.equal(response.status, status, response.body.toString().slice(0, 200));
  assert.equal(response.headers['cache-control'], 'no-store', `${status} Cache-Control`);
}

function assertPartial(response: RawResponse, body: Buffer, start: number, end: number): void {
  assert.equal(response.status, 206, response.body.toString().slice(0, 200));
  assert.equal(response.headers['content-range'], `bytes ${start}-${end}/${body.length}`);
  assert.equal(Number(response.headers['content-length']), end - start + 1);
  assert.equal(response.body.length, end - start + 1);
  assert.equal(sha256(response.body), sha256(body.subarray(start, end + 1)));
}

function assertWhole(response: RawResponse, body: Buffer): void {
  assert.equal(response.status, 200, response.body.toString().slice(0, 200));
  assert.equal(response.headers['content-range'], undefined);
  assert.equal(Number(response.headers['content-length']), body.length);
  assert.equal(sha256(response.body), sha256(body));
}

/** Repeats `attempt` until `done` holds for its result (a bounded wait, not a fixed sleep). */
async function until<T>(attempt: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (done(value) || Date.now() > deadline) return value;
    await sleep(50);
  }
}

function uploadRequest(port: number, body: string): string {
  return `POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

describe('shipped resources with the default configuration', () => {
  let server: StartedServer;
  let imageTag: string;
  const imageDate = lastModifiedOf(RESOURCES_DIR, 'sample_image.png');
  before(async () => {
    server = await startServer();
    imageTag = (await fetchPath(server, '/sample_image.png', 'Range: bytes=0-0\r\n')).headers.etag ?? '';
    assert.match(imageTag, STRONG_ETAG);
  });
  after(async () => {
    await server.stop();
  });

  describe('validators and Cache-Control', () => {
    for (const name of ['index.html', 'about.html', 'sample.txt', 'logo.png', 'photo.jpg', 'sample_image.png']) {
      test(`GET /${name} has Last-Modified, a strong ETag, Accept-Ranges: bytes and Cache-Control: no-cache`, async () => {
        const response = await fetchPath(server, `/${name}`);
        assert.equal(response.status, 200);
        assertFileHeaders(response, RESOURCES_DIR, name, 'no-cache');
      });
    }

    test('GET / carries the validators of index.html', async () => {
      const [root, index] = await Promise.all([fetchPath(server, '/'), fetchPath(server, '/index.html')]);
      assertFileHeaders(root, RESOURCES_DIR, 'index.html', 'no-cache');
      assert.equal(root.headers.etag, index.headers.etag);
    });

    test('the ETag is stable across requests and differs between files', async () => {
      const first = await fetchPath(server, '/sample.txt');
      const again = await fetchPath(server, '/sample.txt');
      const other = await fetchPath(server, '/sample2.txt');
      assert.equal(first.headers.etag, again.headers.etag);
      assert.notEqual(first.headers.etag, other.headers.etag);
    });

    test('HEAD carries the same validators as GET', async () => {
      const head = await withFollowUp(server, `HEAD /sample_image.png HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`, true);
      assert.equal(head.status, 200);
      assertFileHeaders(head, RESOURCES_DIR, 'sample_image.png', 'no-cache');
      assert.equal(head.headers.etag, imageTag);
    });
  });

  describe('conditional requests', () => {
    test('If-None-Match with the ETag: 304 with no body, the validators and no Content-Length', async () => {
      const response = await withFollowUp(server, get('/sample_image.png', server.port, `If-None-Match: ${imageTag}\r\n`));
      assertNotModified(response, imageTag, imageDate, 'no-cache');
    });

    test('If-None-Match also matches an inline page, for GET and HEAD', async () => {
      const page = await fetchPath(server, '/about.html');
      const etag = page.headers.etag!;
      const lastModified = page.headers['last-modified']!;
      assertNotModified(await withFollowUp(server, get('/about.html', server.port, `If-None-Match: ${etag}\r\n`)), etag, lastModified, 'no-cache');
      const head = `HEAD /about.html HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nIf-None-Match: ${etag}\r\n\r\n`;
      assertNotModified(await withFollowUp(server, head, true), etag, lastModified, 'no-cache');
    });

    test('If-None-Match with the weak form W/"..." matches (weak comparison): 304', async () => {
      const response = await withFollowUp(server, get('/sample_image.png', server.port, `If-None-Match: W/${imageTag}\r\n`));
      assertNotModified(response, imageTag, imageDate, 'no-cache');
    });

    test('If-None-Match with a list holding the ETag, or *: 304', async () => {
      for (const value of [`"nope", ${imageTag}`, '*']) {
        const response = await withFollowUp(server, get('/sample_image.png', server.port, `If-None-Match: ${value}\r\n`));
        assertNotModified(response, imageTag, imageDate, 'no-cache');
      }
    });

    test('If-None-Match with another ETag: the whole file', async () => {
      assertWhole(await fetchPath(server, '/sample_image.png', 'If-None-Match: "something-else"\r\n'), IMAGE);
    });

    test('If-Modified-Since equal to Last-Modified: 304', async () => {
      const response = await withFollowUp(server, get('/sample_image.png', server.port, `If-Modified-Since: ${imageDate}\r\n`));
      assertNotModified(response, imageTag, imageDate, 'no-cache');
    });

    test('If-Modified-Since later than Last-Modified: 200 with the file (only the exact date gives 304)', async () => {
      const later = new Date(Date.parse(imageDate) + 86_400_000).toUTCString();
      assertWhole(await withFollowUp(server, get('/sample_image.png', server.port, `If-Modified-Since: ${later}\r\n`)), IMAGE);
    });

    test('If-Modified-Since earlier than Last-Modified: 200 with the file', async () => {
      const earlier = new Date(Date.parse(imageDate) - 1000).toUTCString();
      assertWhole(await fetchPath(server, '/sample_image.png', `If-Modified-Since: ${earlier}\r\n`), IMAGE);
    });

    test('If-Modified-Since that is not an HTTP-date is ignored: 200', async () => {
      assertWhole(await fetchPath(server, '/sample.txt', 'If-Modified-Since: 2099\r\n'), SAMPLE_TXT);
    });

    test('If-None-Match wins over If-Modified-Since: a non-matching tag with the Last-Modified date is 200', async () => {
      assertWhole(await fetchPath(server, '/sample_image.png', `If-None-Match: "stale"\r\nIf-Modified-Since: ${imageDate}\r\n`), IMAGE);
    });

    test('If-None-Match wins the other way too: a matching tag with an earlier date is 304', async () => {
      const earlier = new Date(Date.parse(imageDate) - 86_400_000).toUTCString();
      const response = await withFollowUp(server, get('/sample_image.png', server.port, `If-None-Match: ${imageTag}\r\nIf-Modified-Since: ${earlier}\r\n`));
      assertNotModified(response, imageTag, imageDate, 'no-cache');
    });

    test('If-Match with another ETag: 412 no-store; with the current one or *: 200', async () => {
      const failed = await fetchPath(server, '/sample.txt', 'If-Match: "not-this-one"\r\n');
      assertErrorStatus(failed, 412);
      assert.match(failed.body.toString(), /<h1>412 Precondition Failed<\/h1>/);
      const etag = (await fetchPath(server, '/sample.txt')).headers.etag!;
      assertErrorStatus(await fetchPath(server, '/sample.txt', `If-Match: W/${etag}\r\n`), 412);
      assertWhole(await fetchPath(server, '/sample.txt', `If-Match: ${etag}\r\n`), SAMPLE_TXT);
      assertWhole(await fetchPath(server, '/sample.txt', 'If-Match: *\r\n'), SAMPLE_TXT);
    });

    test('If-Unmodified-Since before Last-Modified: 412; at Last-Modified: 200', async () => {
      const date = lastModifiedOf(RESOURCES_DIR, 'sample.txt');
      const earlier = new Date(Date.parse(date) - 1000).toUTCString();
      assertErrorStatus(await fetchPath(server, '/sample.txt', `If-Unmodified-Since: ${earlier}\r\n`), 412);
      assertWhole(await fetchPath(server, '/sample.txt', `If-Unmodified-Since: ${date}\r\n`), SAMPLE_TXT);
    });
  });

  describe('byte ranges on sample_image.png', () => {
    const size = IMAGE.length;
    const cases: [label: string, range: string, start: number, end: number][] = [
      ['a-b, small', 'bytes=100-1099', 100, 1099],
      ['a-b, one byte', 'bytes=0-0', 0, 0],
      ['a-b, large (streamed)', 'bytes=1000-300999', 1000, 300_999],
      ['a-b past the end is cut to the last byte', `bytes=${size - 10}-${size + 1000}`, size - 10, size - 1],
      ['a-, small', `bytes=${size - 5000}-`, size - 5000, size - 1],
      ['a-, large (streamed)', 'bytes=1048576-', 1_048_576, size - 1],
      ['-n, small', 'bytes=-700', size - 700, size - 1],
      ['-n, large (streamed)', 'bytes=-300000', size - 300_000, size - 1],
      ['-n larger than the file gives all of it', `bytes=-${size * 2}`, 0, size - 1],
    ];
    test('the cases cover bodies on both sides of the 64 KiB streaming threshold', () => {
      assert.ok(cases.some(([, , start, end]) => end - start + 1 <= SMALL_BODY));
      assert.ok(cases.some(([, , start, end]) => end - start + 1 > SMALL_BODY));
    });

    for (const [label, range, start, end] of cases) {
      test(`Range ${range} (${label}): 206 with the exact bytes and Content-Range`, async () => {
        const response = await withFollowUp(server, get('/sample_image.png', server.port, `Range: ${range}\r\n`));
        assertPartial(response, IMAGE, start, end);
        assertFileHeaders(response, RESOURCES_DIR, 'sample_image.png', 'no-cache');
        assert.equal(response.headers['content-type'], 'application/octet-stream');
      });
    }

    test('ranges on a small inline page are served too', async () => {
      const page = readFileSync(join(RESOURCES_DIR, 'about.html'));
      assertPartial(await fetchPath(server, '/about.html', 'Range: bytes=10-29\r\n'), page, 10, 29);
    });

    for (const range of [`bytes=${IMAGE.length}-`, `bytes=${IMAGE.length + 5}-${IMAGE.length + 10}`, 'bytes=-0']) {
      test(`Range ${range} is unsatisfiable: 416 with Content-Range: bytes */SIZE`, async () => {
        const response = await withFollowUp(server, get('/sample_image.png', server.port, `Range: ${range}\r\n`));
        assertErrorStatus(response, 416);
        assert.equal(response.headers['content-range'], `bytes */${IMAGE.length}`);
        assert.match(response.body.toString(), /<h1>416 Range Not Satisfiable<\/h1>/);
      });
    }

    test('If-Range with the current ETag: 206', async () => {
      assertPartial(await fetchPath(server, '/sample_image.png', `Range: bytes=0-99\r\nIf-Range: ${imageTag}\r\n`), IMAGE, 0, 99);
    });

    test('If-Range with the current Last-Modified date: 206', async () => {
      assertPartial(await fetchPath(server, '/sample_image.png', `Range: bytes=-100\r\nIf-Range: ${imageDate}\r\n`), IMAGE, IMAGE.length - 100, IMAGE.length - 1);
    });

    test('If-Range with a stale ETag: the whole file with 200', async () => {
      assertWhole(await fetchPath(server, '/sample_image.png', 'Range: bytes=0-99\r\nIf-Range: "stale-tag"\r\n'), IMAGE);
    });

    test('If-Range with the weak form of the ETag: the whole file (strong comparison)', async () => {
      assertWhole(await fetchPath(server, '/sample_image.png', `Range: bytes=0-99\r\nIf-Range: W/${imageTag}\r\n`), IMAGE);
    });

    test('If-Range with an old date: the whole file with 200', async () => {
      const old = new Date(Date.parse(imageDate) - 3600_000).toUTCString();
      assertWhole(await fetchPath(server, '/sample_image.png', `Range: bytes=500-\r\nIf-Range: ${old}\r\n`), IMAGE);
    });

    test('multiple ranges: the whole file with 200 (no multipart/byteranges, by design)', async () => {
      const response = await withFollowUp(server, get('/sample_image.png', server.port, 'Range: bytes=0-9,100-199\r\n'));
      assertWhole(response, IMAGE);
      assert.equal(response.headers['accept-ranges'], 'bytes');
    });

    test('an invalid range (last before first, also past 2^53) or another unit is ignored: 200', async () => {
      assertWhole(await fetchPath(server, '/sample.txt', 'Range: bytes=5-3\r\n'), SAMPLE_TXT);
      // Both round to 2^53 as numbers: compared so, the range seemed valid and unsatisfiable (416).
      assertWhole(await fetchPath(server, '/sample.txt', 'Range: bytes=9007199254740993-9007199254740992\r\n'), SAMPLE_TXT);
      assertWhole(await fetchPath(server, '/sample.txt', 'Range: items=0-3\r\n'), SAMPLE_TXT);
    });

    test('whitespace inside a range, inside the unit or around "=" makes Range invalid: 200', async () => {
      // Read without its spaces, `bytes=1 0-2 0` would be bytes 10-20.
      for (const range of ['bytes=1 0-2 0', 'b ytes=3-4', 'bytes =0-1', 'bytes= 0-1']) {
        assertWhole(await fetchPath(server, '/sample.txt', `Range: ${range}\r\n`), SAMPLE_TXT);
      }
    });

    test('empty list elements are skipped (RFC 9110 §5.6.1.2): bytes=3-4, and bytes=, 3-4 are one range: 206', async () => {
      for (const range of ['bytes=3-4,', 'bytes=, 3-4']) {
        assertPartial(await fetchPath(server, '/sample.txt', `Range: ${range}\r\n`), SAMPLE_TXT, 3, 4);
      }
    });

    test('HEAD with Range: the headers of the full GET, no body', async () => {
      const head = await withFollowUp(server, `HEAD /sample_image.png HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nRange: bytes=0-99\r\n\r\n`, true);
      assert.equal(head.status, 200);
      assert.equal(Number(head.headers['content-length']), IMAGE.length);
      assert.equal(head.headers['content-range'], undefined);
      assert.equal(head.body.length, 0);
      assertFileHeaders(head, RESOURCES_DIR, 'sample_image.png', 'no-cache');
    });

    test('a range and keep-alive: several partial responses in a row on one connection', async () => {
      const client = await RawClient.connect(server.port);
      try {
        const ranges: [number, number][] = [[0, 99], [2_000, 200_000], [IMAGE.length - 1, IMAGE.length - 1]];
        client.write(ranges.map(([start, end]) => get('/sample_image.png', server.port, `Range: bytes=${start}-${end}\r\n`)).join(''));
        const responses = await client.responses(ranges.length, SLOW_MS);
        ranges.forEach(([start, end], i) => assertPartial(responses[i]!, IMAGE, start, end));
      } finally {
        client.close();
      }
    });
  });

  describe('no-store responses', () => {
    test('an upload answer is no-store, and so is the uploaded file when fetched', async () => {
      const body = '{"conformance": true}';
      const created = await request(server.port, uploadRequest(server.port, body), SLOW_MS);
      assert.equal(created.status, 201, created.body.toString());
      assert.equal(created.headers['cache-control'], 'no-store');
      const location = created.headers.location!;
      const file = await fetchPath(server, location);
      assert.equal(file.status, 200);
      assert.equal(file.body.toString(), body);
      assert.equal(file.headers['cache-control'], 'no-store');
      assert.match(file.headers.etag ?? '', STRONG_ETAG);
      assert.equal(file.headers['accept-ranges'], 'bytes');
      // Conditional requests still work on uploads.
      const notModified = await withFollowUp(server, get(location, server.port, `If-None-Match: ${file.headers.etag}\r\n`));
      assertNotModified(notModified, file.headers.etag!, file.headers['last-modified']!, 'no-store');
    });

    test('a refused upload is no-store', async () => {
      assertErrorStatus(await request(server.port, uploadRequest(server.port, '{"broken":'), SLOW_MS), 400);
    });

    test('error pages are no-store', async () => {
      assertErrorStatus(await fetchPath(server, '/missing.html'), 404);
      assertErrorStatus(await request(server.port, 'GET /index.html HTTP/1.1\r\n\r\n'), 400);
      assertErrorStatus(await request(server.port, 'GET /index.html HTTP/1.1\r\nHost: evil.example\r\n\r\n'), 403);
      assertErrorStatus(await request(server.port, `DELETE /index.html HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`), 405);
    });
  });

  describe('OPTIONS, TRACE and CONNECT', () => {
    function options(target: string): string {
      return `OPTIONS ${target} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`;
    }

    test('OPTIONS /index.html: 204 with Allow: GET, HEAD, OPTIONS, no body and no Content-Length', async () => {
      const response = await withFollowUp(server, options('/index.html'));
      assert.equal(response.status, 204);
      assert.equal(response.headers.allow, 'GET, HEAD, OPTIONS');
      assert.equal(response.headers['content-length'], undefined);
      assert.equal(response.body.length, 0);
    });

    test('OPTIONS *: 204 with everything the server allows', async () => {
      const response = await withFollowUp(server, options('*'));
      assert.equal(response.status, 204);
      assert.equal(response.headers.allow, 'GET, HEAD, POST, OPTIONS');
      assert.equal(response.headers['content-length'], undefined);
    });

    test('OPTIONS /upload: 204 with Allow: POST, OPTIONS', async () => {
      const response = await withFollowUp(server, options('/upload'));
      assert.equal(response.status, 204);
      assert.equal(response.headers.allow, 'POST, OPTIONS');
      assert.equal(response.headers['content-length'], undefined);
    });

    test('TRACE: 405 with Allow, and the request is not echoed', async () => {
      const response = await request(server.port, `TRACE /index.html HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nX-Secret: s3cr3t\r\n\r\n`);
      assertErrorStatus(response, 405);
      assert.equal(response.headers.allow, 'GET, HEAD, OPTIONS');
      assert.ok(!response.body.toString().includes('s3cr3t'));
    });

    test('CONNECT (authority-form): 405 with Allow', async () => {
      const response = await request(server.port, `CONNECT 127.0.0.1:${server.port} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`);
      assertErrorStatus(response, 405);
      assert.equal(response.headers.allow, 'GET, HEAD, POST, OPTIONS');
    });
  });

  describe('absolute-form request targets', () => {
    test('GET http://127.0.0.1:PORT/path with an allowed authority: 200 with the file', async () => {
      const response = await request(server.port, `GET http://127.0.0.1:${server.port}/sample.txt HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`);
      assertWhole(response, SAMPLE_TXT);
    });

    test('the authority of the target decides, not the Host header (RFC 9112 §3.2.2)', async () => {
      const response = await request(server.port, `GET http://localhost:${server.port}/sample.txt HTTP/1.1\r\nHost: other.example\r\n\r\n`);
      assertWhole(response, SAMPLE_TXT);
    });

    test('an authority-only target means /', async () => {
      const response = await request(server.port, `GET http://127.0.0.1:${server.port} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`);
      assert.equal(response.status, 200);
      assert.ok(response.body.equals(readFileSync(join(RESOURCES_DIR, 'index.html'))));
    });

    test('GET http://evil.example/path: 403 even with an allowed Host header', async () => {
      const response = await request(server.port, `GET http://evil.example/sample.txt HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`);
      assertErrorStatus(response, 403);
      assert.match(response.body.toString(), /<h1>403 Forbidden<\/h1>/);
    });

    test('a Host value that is not a host and port: 400, in either form (RFC 9112 §3.2)', async () => {
      const authority = `127.0.0.1:${server.port}`;
      for (const host of ['a b', `${authority}, evil.example`, `user@${authority}`, `${authority}/x`]) {
        assertErrorStatus(await request(server.port, `GET /sample.txt HTTP/1.1\r\nHost: ${host}\r\n\r\n`), 400);
        assertErrorStatus(await request(server.port, `GET http://${authority}/sample.txt HTTP/1.1\r\nHost: ${host}\r\n\r\n`), 400);
      }
      assertErrorStatus(await request(server.port, `GET http://user@${authority}/sample.txt HTTP/1.1\r\nHost: ${authority}\r\n\r\n`), 400);
    });
  });
});

describe('CACHE_CONTROL configures Cache-Control for files', () => {
  const configured = 'public, max-age=60';
  let server: StartedServer;
  before(async () => {
    server = await startServer({ env: { CACHE_CONTROL: configured } });
  });
  after(async () => {
    await server.stop();
  });

  test('file responses, partial ones and 304 carry the configured value', async () => {
    const full = await fetchPath(server, '/about.html');
    assertFileHeaders(full, RESOURCES_DIR, 'about.html', configured);
    const partial = await fetchPath(server, '/sample_image.png', 'Range: bytes=0-9\r\n');
    assertFileHeaders(partial, RESOURCES_DIR, 'sample_image.png', configured);
    const notModified = await withFollowUp(server, get('/about.html', server.port, `If-None-Match: ${full.headers.etag}\r\n`));
    assertNotModified(notModified, full.headers.etag!, full.headers['last-modified']!, configured);
  });

  test('uploads and error pages stay no-store', async () => {
    const created = await request(server.port, uploadRequest(server.port, '[1,2,3]'), SLOW_MS);
    assert.equal(created.headers['cache-control'], 'no-store');
    assert.equal((await fetchPath(server, created.headers.location!)).headers['cache-control'], 'no-store');
    assertErrorStatus(await fetchPath(server, '/missing.html'), 404);
    assertErrorStatus(await fetchPath(server, '/sample_image.png', 'Range: bytes=99999999-\r\n'), 416);
  });
});

describe('an uploads folder inside the document root: its files stay no-store under any URL', () => {
  const configured = 'public, max-age=600';
  let dir: string;
  let server: StartedServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rawhttp-uploads-inside-'));
    writeFileSync(join(dir, 'index.html'), '<!DOCTYPE html>\n<title>home</title>\n');
    mkdirSync(join(dir, 'data'));
    server = await startServer({ uploadsDir: join(dir, 'data'), env: { RESOURCES_DIR: dir, CACHE_CONTROL: configured } });
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('an upload fetched under /uploads/, under its folder in the root, and through a link in the root is no-store; the root\'s own files are not', async () => {
    const created = await request(server.port, uploadRequest(server.port, '{"shared":false}'), SLOW_MS);
    assert.equal(created.status, 201);
    const name = created.headers.location!.slice('/uploads/'.length);
    symlinkSync(join('data', name), join(dir, 'latest.json'));
    for (const path of [`/uploads/${name}`, `/data/${name}`, '/latest.json']) {
      const response = await fetchPath(server, path);
      assert.equal(response.status, 200, path);
      assert.equal(response.headers['cache-control'], 'no-store', path);
      const notModified = await fetchPath(server, path, `If-None-Match: ${response.headers.etag}\r\n`);
      assert.equal(notModified.status, 304, path);
      assert.equal(notModified.headers['cache-control'], 'no-store', `${path} 304`);
    }
    assert.equal((await fetchPath(server, '/index.html')).headers['cache-control'], configured);
  });
});

describe('precompressed variants in a temporary RESOURCES_DIR', () => {
  let dir: string;
  let server: StartedServer;
  const page = Buffer.from(`<!DOCTYPE html>\n<title>page</title>\n${'<p>compress me, compress me</p>\n'.repeat(200)}`);
  const gz = gzipSync(page);
  const br = brotliCompressSync(page);
  const notes = Buffer.from('plain notes\n'.repeat(100));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rawhttp-conformance-'));
    writeFileSync(join(dir, 'page.html'), page);
    writeFileSync(join(dir, 'page.html.gz'), gz);
    writeFileSync(join(dir, 'page.html.br'), br);
    writeFileSync(join(dir, 'alone.html'), page);
    writeFileSync(join(dir, 'notes.txt'), notes);
    writeFileSync(join(dir, 'notes.txt.gz'), gzipSync(notes));
    writeFileSync(join(dir, 'notes.txt.br'), brotliCompressSync(notes));
    writeFileSync(join(dir, 'empty.html'), '');
    writeFileSync(join(dir, 'sample.txt'), SAMPLE_TXT); // what withFollowUp fetches second
    writeFileSync(join(dir, 'changing.txt'), 'first version\n');
    mkdirSync(join(dir, 'docs'));
    writeFileSync(join(dir, 'docs', 'index.html'), page);
    server = await startServer({ env: { RESOURCES_DIR: dir } });
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const withEncoding = (value: string): string => `Accept-Encoding: ${value}\r\n`;

  function assertEncoded(response: RawResponse, encoding: 'br' | 'gzip', bytes: Buffer): void {
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-encoding'], encoding);
    assert.equal(response.headers.vary, 'Accept-Encoding');
    assert.equal(response.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(response.headers['content-disposition'], undefined);
    assert.equal(Number(response.headers['content-length']), bytes.length);
    assert.ok(response.body.equals(bytes), `the ${encoding} file as stored`);
    const decoded = encoding === 'br' ? brotliDecompressSync(response.body) : gunzipSync(response.body);
    assert.ok(decoded.equals(page), 'decodes to the page');
  }

  function assertPlainPage(response: RawResponse): void {
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-encoding'], undefined);
    assert.equal(response.headers.vary, 'Accept-Encoding');
    assert.ok(response.body.equals(page));
  }

  test('Accept-Encoding: br serves page.html.br with Content-Encoding: br and Vary', async () => {
    assertEncoded(await fetchPath(server, '/page.html', withEncoding('br')), 'br', br);
  });

  test('Accept-Encoding: gzip serves page.html.gz', async () => {
    assertEncoded(await fetchPath(server, '/page.html', withEncoding('gzip')), 'gzip', gz);
  });

  test('a browser-style list prefers br; q-values can prefer gzip', async () => {
    assertEncoded(await fetchPath(server, '/page.html', withEncoding('gzip, deflate, br, zstd')), 'br', br);
    assertEncoded(await fetchPath(server, '/page.html', withEncoding('br;q=0.5, gzip;q=0.9')), 'gzip', gz);
  });

  test('q=0 is respected', async () => {
    assertEncoded(await fetchPath(server, '/page.html', withEncoding('br;q=0, gzip')), 'gzip', gz);
    assertPlainPage(await fetchPath(server, '/page.html', withEncoding('br;q=0, gzip;q=0')));
    assertPlainPage(await fetchPath(server, '/page.html', withEncoding('*;q=0, identity')));
  });

  test('no Accept-Encoding, identity, or an encoding without a file: the plain page, still with Vary', async () => {
    assertPlainPage(await fetchPath(server, '/page.html'));
    assertPlainPage(await fetchPath(server, '/page.html', withEncoding('identity')));
    assertPlainPage(await fetchPath(server, '/page.html', withEncoding('deflate')));
  });

  test('an HTTP/1.0 request gets the page as stored, whatever it accepts: HTTP/1.0 caches ignore Vary', async () => {
    const http10 = (accept: string): string => `GET /page.html HTTP/1.0\r\nHost: 127.0.0.1:${server.port}\r\n${withEncoding(accept)}\r\n`;
    // Once HTTP/1.1 requests have put each variant in the small-file cache, and once before.
    for (const round of ['before', 'after']) {
      for (const accept of ['gzip', 'br', 'gzip, deflate, br']) assertPlainPage(await request(server.port, http10(accept), SLOW_MS));
      if (round === 'before') {
        assertEncoded(await fetchPath(server, '/page.html', withEncoding('gzip')), 'gzip', gz);
        assertEncoded(await fetchPath(server, '/page.html', withEncoding('br')), 'br', br);
      }
    }
  });

  test('a page without precompressed siblings has no Vary', async () => {
    const response = await fetchPath(server, '/alone.html', withEncoding('br, gzip'));
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-encoding'], undefined);
    assert.equal(response.headers.vary, undefined);
    assert.ok(response.body.equals(page));
  });

  test('a folder index gets its variants too, and /docs redirects to /docs/', async () => {
    const redirect = await fetchPath(server, '/docs');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, '/docs/');
    assert.equal(redirect.headers['cache-control'], 'no-store');
    const index = await fetchPath(server, '/docs/');
    assert.equal(index.status, 200);
    assert.ok(index.body.equals(page));
  });

  test('a download (.txt) with .gz and .br siblings is never served encoded', async () => {
    for (const accept of ['gzip', 'br', 'gzip, br', '*']) {
      const response = await fetchPath(server, '/notes.txt', withEncoding(accept));
      assert.equal(response.status, 200);
      assert.equal(response.headers['content-encoding'], undefined, accept);
      assert.equal(response.headers.vary, undefined, accept);
      assert.equal(response.headers['content-disposition'], 'attachment; filename="notes.txt"');
      assert.ok(response.body.equals(notes), accept);
    }
  });

  test('each variant has its own ETag, and a 304 names the variant and keeps Vary', async () => {
    const plain = await fetchPath(server, '/page.html');
    const brotli = await fetchPath(server, '/page.html', withEncoding('br'));
    const gzip = await fetchPath(server, '/page.html', withEncoding('gzip'));
    const tags = [plain, brotli, gzip].map((response) => response.headers.etag);
    for (const tag of tags) assert.match(tag ?? '', STRONG_ETAG);
    assert.equal(new Set(tags).size, 3, `distinct ETags: ${tags.join(' ')}`);

    const notModified = await withFollowUp(server, get('/page.html', server.port, `${withEncoding('br')}If-None-Match: ${brotli.headers.etag}\r\n`));
    assertNotModified(notModified, brotli.headers.etag!, brotli.headers['last-modified']!, 'no-cache');
    assert.equal(notModified.headers.vary, 'Accept-Encoding');
    // The brotli tag does not validate the plain page a client without br would get.
    assertPlainPage(await fetchPath(server, '/page.html', `If-None-Match: ${brotli.headers.etag}\r\n`));
    // Refusals that depend on the variant keep Vary too.
    const failed = await fetchPath(server, '/page.html', `${withEncoding('gzip')}If-Match: "nope"\r\n`);
    assert.deepEqual([failed.status, failed.headers.vary], [412, 'Accept-Encoding']);
    const beyond = await fetchPath(server, '/page.html', `${withEncoding('gzip')}Range: bytes=${gz.length}-\r\n`);
    assert.deepEqual([beyond.status, beyond.headers['content-range'], beyond.headers.vary], [416, `bytes */${gz.length}`, 'Accept-Encoding']);
  });

  test('HEAD and ranges apply to the encoded bytes', async () => {
    const head = await withFollowUp(server, `HEAD /page.html HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n${withEncoding('br')}\r\n`, true);
    assert.equal(head.headers['content-encoding'], 'br');
    assert.equal(Number(head.headers['content-length']), br.length);
    const partial = await fetchPath(server, '/page.html', `${withEncoding('gzip')}Range: bytes=0-9\r\n`);
    assertPartial(partial, gz, 0, 9);
    assert.equal(partial.headers['content-encoding'], 'gzip');
  });

  test('a zero-length file: 200 with Content-Length 0; a position range is 416, a suffix range the empty file', async () => {
    const whole = await withFollowUp(server, get('/empty.html', server.port));
    assert.equal(whole.status, 200);
    assert.equal(whole.headers['content-length'], '0');
    const unsatisfiable = await fetchPath(server, '/empty.html', 'Range: bytes=0-\r\n');
    assertErrorStatus(unsatisfiable, 416);
    assert.equal(unsatisfiable.headers['content-range'], 'bytes */0');
    const suffix = await withFollowUp(server, get('/empty.html', server.port, 'Range: bytes=-10\r\n'));
    assert.equal(suffix.status, 200);
    assert.equal(suffix.headers['content-length'], '0');
  });

  test('a changed file gets a new ETag: the old one no longer gives 304 or keeps a range', async () => {
    const path = join(dir, 'changing.txt');
    // Both versions are dated in the past: a date ahead of the clock is sent as the current time.
    const earlier = new Date(Math.floor(Date.now() / 1000) * 1000 - 120_000);
    utimesSync(path, earlier, earlier);
    const before = await until(() => fetchPath(server, '/changing.txt'), (response) => response.headers['last-modified'] === earlier.toUTCString());
    const oldTag = before.headers.etag!;
    writeFileSync(path, 'second version, longer\n');
    // A different size alone changes the tag; a later mtime makes Last-Modified move as well.
    const later = new Date(earlier.getTime() + 60_000);
    utimesSync(path, later, later);
    // The main thread may answer small files from memory for a short while (FILE_CACHE_TTL_MS):
    // wait until the change shows, then check every validator moved with it.
    const after = await until(() => fetchPath(server, '/changing.txt', `If-None-Match: ${oldTag}\r\n`), (response) => response.status !== 304);
    assert.equal(after.status, 200);
    assert.equal(after.body.toString(), 'second version, longer\n');
    assert.notEqual(after.headers.etag, oldTag);
    assert.equal(after.headers['last-modified'], later.toUTCString());
    const stale = await fetchPath(server, '/changing.txt', `Range: bytes=0-5\r\nIf-Range: ${oldTag}\r\n`);
    assert.equal(stale.status, 200);
    assert.equal(stale.body.toString(), 'second version, longer\n');
    const stillModified = await fetchPath(server, '/changing.txt', `If-Modified-Since: ${before.headers['last-modified']}\r\n`);
    assert.equal(stillModified.status, 200);
  });

  test('a date of year 0070 is not 1970: it does not validate a file stamped in 1970', async () => {
    const path = join(dir, 'epoch.txt');
    writeFileSync(path, 'from 1970\n');
    utimesSync(path, 1, 1);
    const inThe1970s = await fetchPath(server, '/epoch.txt', 'If-Modified-Since: Thu, 01 Jan 1970 00:00:01 GMT\r\n');
    assert.equal(inThe1970s.status, 304);
    const inYear70 = await fetchPath(server, '/epoch.txt', 'If-Modified-Since: Thu, 01 Jan 0070 00:00:01 GMT\r\n');
    assert.equal(inYear70.status, 200);
    assert.equal(inYear70.body.toString(), 'from 1970\n');
  });

  test('a file replaced by an older version (tar x, cp -p): If-Modified-Since with the newer date gets the file, not 304', async () => {
    const path = join(dir, 'release.html');
    const newer = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    writeFileSync(path, '<!DOCTYPE html><title>release 2</title>\n');
    utimesSync(path, newer, newer);
    const current = await until(() => fetchPath(server, '/release.html'), (response) => response.headers['last-modified'] === newer.toUTCString());
    assert.equal(current.headers['last-modified'], newer.toUTCString());
    // Release 1 comes back with its own, earlier date, as an archive or a copy keeping times restores it.
    const older = new Date(newer.getTime() - 86_400_000);
    writeFileSync(path, '<!DOCTYPE html><title>release 1, restored</title>\n');
    utimesSync(path, older, older);
    // The small-file cache may answer from memory until it reads the file again.
    const response = await until(() => fetchPath(server, '/release.html', `If-Modified-Since: ${newer.toUTCString()}\r\n`), (answer) => answer.status !== 304);
    assert.equal(response.status, 200);
    assert.equal(response.body.toString(), '<!DOCTYPE html><title>release 1, restored</title>\n');
    assert.equal(response.headers['last-modified'], older.toUTCString());
  });
});
