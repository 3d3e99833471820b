// POST /upload end to end: framing, validation, exact storage, downloads, Expect: 100-continue,
// size limits, concurrency and clients that go away, all against the real started server.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { get, RawClient, request, type RawResponse } from '../helpers/raw.js';
import { ONE_CLIENT_LOAD, REPO_ROOT, startServer, type StartedServer } from '../helpers/server.js';

const NAME = /^upload_(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})_[0-9a-f]{16}\.json$/;
/** The interim response, which carries its request's trace id as every response does. */
const CONTINUE = /^HTTP\/1\.1 100 Continue\r\nX-Trace-Id: [0-9a-f]{32}\r\n\r\n$/;
const DATA_JSON = readFileSync(join(REPO_ROOT, 'data.json'));
/** Valid JSON that a parse-and-reserialize round trip would change: spacing, key order, 1.50, 1e3, -0.0, a big integer, escapes. */
const ODD_JSON = Buffer.from(' \t{ "zeta" : 1.50 ,"alpha":[ 1e3, -0.0 ,12345678901234567890,\n\t"caf\u00e9 \u2615"] , "m\\u00e9ta\\ud83d\\ude00" : { } , "a":null}\r\n ', 'utf8');
const CHUNKED = 'Transfer-Encoding: chunked\r\n';
const SLOW_MS = 60_000;

/** The head of a POST; `contentType` null leaves the header out. */
function postHead(port: number, framing: string, contentType: string | null = 'application/json', extra = '', path = '/upload'): string {
  const type = contentType === null ? '' : `Content-Type: ${contentType}\r\n`;
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${type}${framing}${extra}\r\n`;
}

const lengthFraming = (length: number): string => `Content-Length: ${length}\r\n`;

function withLength(port: number, body: Buffer, contentType: string | null = 'application/json', path = '/upload'): Buffer {
  return Buffer.concat([Buffer.from(postHead(port, lengthFraming(body.length), contentType, '', path), 'latin1'), body]);
}

/** The body in chunked coding, `size` bytes a chunk (hex sizes in upper case, one with an extension). */
function chunkedBody(body: Buffer, size: number): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length; at += size) {
    const piece = body.subarray(at, at + size);
    const extension = at === 0 ? ';note=first' : '';
    parts.push(Buffer.from(`${piece.length.toString(16).toUpperCase()}${extension}\r\n`), piece, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

function withChunks(port: number, body: Buffer, size: number): Buffer {
  return Buffer.concat([Buffer.from(postHead(port, CHUNKED), 'latin1'), chunkedBody(body, size)]);
}

const entries = (dir: string): string[] => readdirSync(dir).sort();
const temporaries = (dir: string): string[] => entries(dir).filter((name) => name.startsWith('.upload-'));

/** Checks a 201 to the letter and that the stored file holds exactly `sent`; returns the file name. */
function assertCreated(response: RawResponse, uploadsDir: string, sent: Buffer): string {
  assert.equal(response.status, 201, response.body.toString());
  assert.equal(response.headers['content-type'], 'application/json');
  const location = response.headers.location ?? '';
  assert.match(location, /^\/uploads\//);
  const name = location.slice('/uploads/'.length);
  assert.match(name, NAME);
  assert.equal(response.body.toString(), `{"status":"success","message":"File created successfully","filepath":"/uploads/${name}"}`);
  assert.ok(readFileSync(join(uploadsDir, name)).equals(sent), 'stored bytes differ from the bytes sent');
  return name;
}

/** The name's timestamp read as UTC; the server runs in a far-off time zone, so local time would miss by hours. */
function assertUtcNow(name: string): void {
  const [, year, month, day, hour, minute, second] = NAME.exec(name)!.map(Number);
  const stamped = Date.UTC(year!, month! - 1, day!, hour!, minute!, second!);
  assert.ok(Math.abs(stamped - Date.now()) < 10 * 60_000, `${name} is not stamped with the current UTC time`);
}

function assertErrorJson(response: RawResponse, status: number, message: RegExp): void {
  assert.equal(response.status, status, response.body.toString());
  assert.equal(response.headers['content-type'], 'application/json');
  const document = JSON.parse(response.body.toString()) as { status: string; message: string };
  assert.equal(document.status, 'error');
  assert.match(document.message, message);
}

async function metric(adminPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  assert.ok(line !== undefined, `metric ${name} missing`);
  return Number(line.split(' ')[1]);
}

/** Polls until `done` holds; fails after the timeout. */
async function eventually(done: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function assertServes(port: number): Promise<void> {
  const response = await request(port, get('/', port));
  assert.equal(response.status, 200);
}

describe('POST /upload', () => {
  let server: StartedServer;
  before(async () => {
    server = await startServer({ env: { ...ONE_CLIENT_LOAD, TZ: 'Pacific/Chatham' } });
  });
  after(async () => {
    await server.stop();
  });

  test('data.json with Content-Length: 201, exact body, UTC name, stored byte-identical', async () => {
    const response = await request(server.port, withLength(server.port, DATA_JSON));
    const name = assertCreated(response, server.uploadsDir, DATA_JSON);
    assertUtcNow(name);
    assert.deepEqual(temporaries(server.uploadsDir), []);
  });

  test('chunked body with odd spacing, key order and numbers is stored byte-identical', async () => {
    const response = await request(server.port, withChunks(server.port, ODD_JSON, 7));
    assertCreated(response, server.uploadsDir, ODD_JSON);
  });

  test('data.json chunked in pieces that split multi-byte characters is stored byte-identical', async () => {
    const response = await request(server.port, withChunks(server.port, DATA_JSON, 5));
    assertCreated(response, server.uploadsDir, DATA_JSON);
  });

  test('application/JSON; charset=utf-8 is accepted, and so are "UTF-8" quoted and utf8', async () => {
    for (const contentType of ['application/JSON; charset=utf-8', 'application/json; charset="UTF-8"', 'application/json;charset=utf8']) {
      const response = await request(server.port, withLength(server.port, ODD_JSON, contentType));
      assertCreated(response, server.uploadsDir, ODD_JSON);
    }
  });

  test('GET /uploads/NAME returns the stored document byte-identical as a download', async () => {
    for (const sent of [DATA_JSON, ODD_JSON]) {
      const name = assertCreated(await request(server.port, withLength(server.port, sent)), server.uploadsDir, sent);
      const response = await request(server.port, get(`/uploads/${name}`, server.port));
      assert.equal(response.status, 200);
      assert.equal(response.headers['content-type'], 'application/octet-stream');
      assert.equal(response.headers['content-disposition'], `attachment; filename="${name}"`);
      assert.equal(Number(response.headers['content-length']), sent.length);
      assert.ok(response.body.equals(sent), 'downloaded bytes differ from the bytes sent');
    }
  });

  test('each upload is logged at info with its file name and size', async () => {
    const name = assertCreated(await request(server.port, withLength(server.port, DATA_JSON)), server.uploadsDir, DATA_JSON);
    const line = await server.waitForLog((entry) => entry.msg === 'upload stored' && entry.file === name);
    assert.equal(line.level, 'info');
    assert.equal(line.bytes, DATA_JSON.length);
  });

  test('Expect: 100-continue: the 100 arrives before the body is sent, then 201', async () => {
    const client = await RawClient.connect(server.port);
    try {
      client.write(postHead(server.port, lengthFraming(DATA_JSON.length), 'application/json', 'Expect: 100-continue\r\n'));
      const [interim] = await client.responses(1, SLOW_MS);
      assert.equal(interim!.status, 100);
      assert.match(client.received.toString('latin1'), CONTINUE, 'nothing but the 100 may come before the body is sent');
      client.write(DATA_JSON);
      const [, final] = await client.responses(2, SLOW_MS);
      assertCreated(final!, server.uploadsDir, DATA_JSON);
    } finally {
      client.close();
    }
  });

  test('Expect: 100-continue with a chunked body: 100, then 201', async () => {
    const client = await RawClient.connect(server.port);
    try {
      client.write(postHead(server.port, CHUNKED, 'application/json', 'Expect: 100-continue\r\n'));
      const [interim] = await client.responses(1, SLOW_MS);
      assert.equal(interim!.status, 100);
      client.write(chunkedBody(ODD_JSON, 16));
      const [, final] = await client.responses(2, SLOW_MS);
      assertCreated(final!, server.uploadsDir, ODD_JSON);
    } finally {
      client.close();
    }
  });

  test('Expect: 100-continue with a wrong Content-Type: 415 without a 100, body never sent', async () => {
    const before = entries(server.uploadsDir);
    const client = await RawClient.connect(server.port);
    try {
      client.write(postHead(server.port, lengthFraming(DATA_JSON.length), 'text/plain', 'Expect: 100-continue\r\n'));
      const [response] = await client.responses(1, SLOW_MS);
      assert.equal(response!.status, 415);
      assert.equal(response!.headers.connection, 'close');
      assert.ok(!client.received.toString('latin1').includes('100 Continue'));
      await client.waitClosed(SLOW_MS);
    } finally {
      client.close();
    }
    assert.deepEqual(entries(server.uploadsDir), before);
  });

  test('Expect: 100-continue with a Host not allowed: 403 without a 100', async () => {
    const client = await RawClient.connect(server.port);
    try {
      const head = postHead(server.port, lengthFraming(DATA_JSON.length), 'application/json', 'Expect: 100-continue\r\n').replace(
        `Host: 127.0.0.1:${server.port}`,
        'Host: elsewhere.example',
      );
      client.write(head);
      const [response] = await client.responses(1, SLOW_MS);
      assert.equal(response!.status, 403);
      assert.ok(!client.received.toString('latin1').includes('100 Continue'));
    } finally {
      client.close();
    }
  });

  test('If-Match: 412, nothing stored, since /upload has no current document (RFC 9110 §13.1.1); If-None-Match: * stores', async () => {
    const before = entries(server.uploadsDir);
    for (const condition of ['"nope"', '*']) {
      const head = postHead(server.port, lengthFraming(DATA_JSON.length), 'application/json', `If-Match: ${condition}\r\n`);
      const response = await request(server.port, Buffer.concat([Buffer.from(head, 'latin1'), DATA_JSON]));
      assert.equal(response.status, 412, condition);
      assert.match(response.body.toString(), /412 Precondition Failed/);
    }
    assert.deepEqual(entries(server.uploadsDir), before);
    const head = postHead(server.port, lengthFraming(DATA_JSON.length), 'application/json', 'If-None-Match: *\r\n');
    assertCreated(await request(server.port, Buffer.concat([Buffer.from(head, 'latin1'), DATA_JSON])), server.uploadsDir, DATA_JSON);
  });

  test('415 for text/plain and for a missing Content-Type, nothing stored', async () => {
    const before = entries(server.uploadsDir);
    for (const contentType of ['text/plain', null, 'application/json-patch+json']) {
      const response = await request(server.port, withLength(server.port, DATA_JSON, contentType));
      assert.equal(response.status, 415, `Content-Type ${contentType}`);
    }
    assert.deepEqual(entries(server.uploadsDir), before);
  });

  test('415 for a charset other than UTF-8, before the body is read, nothing stored', async () => {
    const before = entries(server.uploadsDir);
    const body = Buffer.from('{"a":1}', 'utf16le');
    for (const contentType of ['application/json; charset=utf-16', 'application/json; charset="UTF-16LE"', 'application/json; charset=latin1']) {
      const response = await request(server.port, withLength(server.port, body, contentType));
      assert.equal(response.status, 415, `Content-Type ${contentType}`);
      assert.match(response.body.toString(), /Uploaded documents must be UTF-8; the Content-Type names another charset\./);
    }
    const client = await RawClient.connect(server.port);
    try {
      client.write(postHead(server.port, lengthFraming(body.length), 'application/json; charset=utf-16', 'Expect: 100-continue\r\n'));
      const [refused] = await client.responses(1, SLOW_MS);
      assert.equal(refused!.status, 415);
      assert.ok(!client.received.toString('latin1').includes('100 Continue'));
    } finally {
      client.close();
    }
    assert.deepEqual(entries(server.uploadsDir), before);
  });

  test('415 as for any malformed media type when the charset names none (`charset=`, `charset=""`), before the body is read, nothing stored', async () => {
    const before = entries(server.uploadsDir);
    for (const contentType of ['application/json; charset=', 'application/json; charset=""']) {
      const response = await request(server.port, withLength(server.port, DATA_JSON, contentType));
      assert.equal(response.status, 415, `Content-Type ${contentType}`);
      assert.match(response.body.toString(), /Only application\/json documents can be uploaded\./, contentType);
      assert.doesNotMatch(response.body.toString(), /another charset/, contentType);
    }
    const client = await RawClient.connect(server.port);
    try {
      client.write(postHead(server.port, lengthFraming(DATA_JSON.length), 'application/json; charset=', 'Expect: 100-continue\r\n'));
      const [refused] = await client.responses(1, SLOW_MS);
      assert.equal(refused!.status, 415);
      assert.ok(!client.received.toString('latin1').includes('100 Continue'));
    } finally {
      client.close();
    }
    assert.deepEqual(entries(server.uploadsDir), before);
  });

  test('415 with Accept-Encoding: identity for a gzip body, nothing stored', async () => {
    const before = entries(server.uploadsDir);
    const body = gzipSync(DATA_JSON);
    const head = postHead(server.port, lengthFraming(body.length), 'application/json', 'Content-Encoding: gzip\r\n');
    const response = await request(server.port, Buffer.concat([Buffer.from(head, 'latin1'), body]));
    assert.equal(response.status, 415);
    assert.equal(response.headers['accept-encoding'], 'identity');
    assert.deepEqual(entries(server.uploadsDir), before);
  });

  test('411 for a POST without Content-Length or chunked framing; the connection goes on', async () => {
    const before = entries(server.uploadsDir);
    const client = await RawClient.connect(server.port);
    client.write(postHead(server.port, ''));
    client.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`);
    const [refused, next] = await client.responses(2);
    assert.equal(refused!.status, 411);
    assert.match(refused!.body.toString(), /411 Length Required/);
    assert.match(refused!.headers.connection ?? '', /keep-alive/);
    assert.equal(next!.status, 200);
    client.close();
    assert.deepEqual(entries(server.uploadsDir), before);
  });

  test('400 with a message saying what and where for bad bodies, nothing stored', async (t) => {
    const before = entries(server.uploadsDir);
    const port = server.port;
    const cases: { what: string; bytes: Buffer; message: RegExp }[] = [
      { what: 'invalid JSON', bytes: withLength(port, Buffer.from('{"a": 1,, "b": 2}')), message: /invalid JSON at byte 8\b/ },
      { what: 'truncated JSON', bytes: withLength(port, Buffer.from('{"a": [1, 2')), message: /invalid JSON at byte 11\b/ },
      { what: 'two values', bytes: withChunks(port, Buffer.from('{} {}'), 2), message: /invalid JSON at byte 3\b/ },
      { what: 'empty body (Content-Length: 0)', bytes: withLength(port, Buffer.alloc(0)), message: /empty/ },
      { what: 'empty body (chunked)', bytes: Buffer.from(`${postHead(port, CHUNKED)}0\r\n\r\n`, 'latin1'), message: /empty/ },
      { what: 'whitespace only', bytes: withLength(port, Buffer.from(' \n')), message: /invalid JSON at byte 2\b/ },
      { what: 'leading zero', bytes: withLength(port, Buffer.from('{"a": 01}')), message: /^invalid JSON at byte 7: a number must not have a leading zero$/ },
      { what: 'unpaired surrogate escape', bytes: withLength(port, Buffer.from('{"a":"\\ud800"}')), message: /invalid JSON at byte 6: a high surrogate escape/ },
      { what: 'invalid UTF-8', bytes: withLength(port, Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])), message: /^body is not valid UTF-8 at byte 6$/ },
      { what: 'overlong UTF-8', bytes: withLength(port, Buffer.from([0x22, 0xc0, 0xaf, 0x22])), message: /^body is not valid UTF-8 at byte 1$/ },
      { what: 'UTF-8 BOM', bytes: withLength(port, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{}')])), message: /BOM/ },
      { what: 'nested past 1000 levels (1 MiB of "[")', bytes: withLength(port, Buffer.alloc(1 << 20, '[')), message: /invalid JSON at byte 1000\b.*nested deeper than 1000 levels/ },
    ];
    for (const { what, bytes, message } of cases) {
      await t.test(what, async () => assertErrorJson(await request(port, bytes), 400, message));
    }
    assert.deepEqual(entries(server.uploadsDir), before);
  });

  test('POST elsewhere: 404 for a missing path, 405 with Allow for a static file', async () => {
    const before = entries(server.uploadsDir);
    const missing = await request(server.port, withLength(server.port, DATA_JSON, 'application/json', '/nowhere.json'));
    assert.equal(missing.status, 404);
    const file = await request(server.port, withLength(server.port, DATA_JSON, 'application/json', '/index.html'));
    assert.equal(file.status, 405);
    assert.equal(file.headers.allow, 'GET, HEAD, OPTIONS');
    assert.deepEqual(entries(server.uploadsDir), before);
  });

  test('200 concurrent uploads give 200 distinct files holding what was sent, counted in the metrics', async () => {
    const uploadsBefore = await metric(server.adminPort, 'http_server_uploads_total');
    const bytesBefore = await metric(server.adminPort, 'http_server_upload_bytes_total');
    const documents = Array.from({ length: 200 }, (_, i) => Buffer.from(`{"n": ${i},  "pad":"${'x'.repeat(i)}", "f": ${i}.50}`));
    const responses = await Promise.all(documents.map((body) => request(server.port, withLength(server.port, body), SLOW_MS)));
    const names = responses.map((response, i) => assertCreated(response, server.uploadsDir, documents[i]!));
    assert.equal(new Set(names).size, 200);
    assert.deepEqual(temporaries(server.uploadsDir), []);
    assert.equal((await metric(server.adminPort, 'http_server_uploads_total')) - uploadsBefore, 200);
    const sentBytes = documents.reduce((sum, body) => sum + body.length, 0);
    assert.equal((await metric(server.adminPort, 'http_server_upload_bytes_total')) - bytesBefore, sentBytes);
  });

  test('a client that disconnects mid-body leaves no file and no temporary; the server keeps serving', async () => {
    const before = entries(server.uploadsDir);
    // Half-close (FIN) in the middle of a Content-Length body: the server closes the connection.
    const ending = await RawClient.connect(server.port);
    ending.write(postHead(server.port, lengthFraming(DATA_JSON.length)));
    ending.write(DATA_JSON.subarray(0, 100));
    ending.socket.end();
    await ending.waitClosed(SLOW_MS);
    // Reset (RST) in the middle of a chunked body.
    const openConnections = (): Promise<number> => metric(server.adminPort, 'http_server_open_connections');
    await eventually(async () => (await openConnections()) === 0, 'earlier connections to close');
    const resetting = await RawClient.connect(server.port);
    resetting.write(postHead(server.port, CHUNKED));
    resetting.write(chunkedBody(DATA_JSON, 300).subarray(0, 400));
    await eventually(async () => (await openConnections()) === 1, 'the server to accept the connection');
    resetting.socket.resetAndDestroy();
    await eventually(async () => (await openConnections()) === 0, 'the server to drop the reset connection');
    assert.deepEqual(entries(server.uploadsDir), before);
    await assertServes(server.port);
    const name = assertCreated(await request(server.port, withLength(server.port, DATA_JSON)), server.uploadsDir, DATA_JSON);
    assert.deepEqual(entries(server.uploadsDir), [...before, name].sort());
  });
});

describe('POST /upload with MAX_BODY_BYTES=1024', () => {
  const LIMIT = 1024;
  let server: StartedServer;
  before(async () => {
    server = await startServer({ env: { ...ONE_CLIENT_LOAD, MAX_BODY_BYTES: String(LIMIT) } });
  });
  after(async () => {
    await server.stop();
  });

  /** Valid JSON of exactly `size` bytes. */
  const documentOf = (size: number): Buffer => Buffer.from(`{"p":"${'y'.repeat(size - 8)}"}`);

  test('a body of exactly the limit is accepted', async () => {
    const body = documentOf(LIMIT);
    assert.equal(body.length, LIMIT);
    assertCreated(await request(server.port, withLength(server.port, body)), server.uploadsDir, body);
    assertCreated(await request(server.port, withChunks(server.port, body, 100)), server.uploadsDir, body);
  });

  test('413 for an oversized Content-Length body, nothing stored', async () => {
    const before = entries(server.uploadsDir);
    const client = await RawClient.connect(server.port);
    try {
      client.write(withLength(server.port, documentOf(LIMIT + 1)));
      const [response] = await client.responses(1, SLOW_MS);
      assert.equal(response!.status, 413);
      assert.equal(response!.headers.connection, 'close');
      await client.waitClosed(SLOW_MS);
    } finally {
      client.close();
    }
    assert.deepEqual(entries(server.uploadsDir), before);
  });

  test('413 for an oversized chunked body, nothing stored', async () => {
    const before = entries(server.uploadsDir);
    for (const chunkSize of [100, LIMIT + 1]) {
      const response = await request(server.port, withChunks(server.port, documentOf(LIMIT + 1), chunkSize), SLOW_MS);
      assert.equal(response.status, 413, `chunks of ${chunkSize}`);
    }
    assert.deepEqual(entries(server.uploadsDir), before);
  });

  test('Expect: 100-continue with a too-large Content-Length: 413 without a 100', async () => {
    const client = await RawClient.connect(server.port);
    try {
      client.write(postHead(server.port, lengthFraming(5000), 'application/json', 'Expect: 100-continue\r\n'));
      const [response] = await client.responses(1, SLOW_MS);
      assert.equal(response!.status, 413);
      assert.ok(!client.received.toString('latin1').includes('100 Continue'));
      await client.waitClosed(SLOW_MS);
    } finally {
      client.close();
    }
    await assertServes(server.port);
  });
});
