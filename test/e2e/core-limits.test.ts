// Size and connection limits against the started server: 431, 414, 413 (without the body
// being sent) and the MAX_CONNECTIONS cap.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { finishedButOpen, get, RawClient, request, type RawResponse } from '../helpers/raw.js';
import { startServer, type StartedServer } from '../helpers/server.js';

function assertErrorPage(response: RawResponse, status: number, reason: string): void {
  assert.equal(response.status, status);
  assert.equal(response.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(response.headers.connection, 'close');
  assert.match(response.body.toString('utf8'), new RegExp(`<h1>${status} ${reason}</h1>`));
}

/** A GET whose header field lines, CRLFs included, add up to exactly `bytes`. */
function getWithHeaderBytes(port: number, bytes: number): string {
  const hostLine = `Host: 127.0.0.1:${port}\r\n`;
  const fillerName = 'X-Filler: ';
  const fill = bytes - hostLine.length - fillerName.length - 2;
  assert.ok(fill > 0);
  const request = `GET /sample.txt HTTP/1.1\r\n${hostLine}${fillerName}${'a'.repeat(fill)}\r\n\r\n`;
  assert.equal(request.length - 'GET /sample.txt HTTP/1.1\r\n'.length - 2, bytes);
  return request;
}

describe('request size limits (defaults)', () => {
  let server: StartedServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  test('a header section of 8192 bytes is served', async () => {
    const response = await request(server.port, getWithHeaderBytes(server.port, 8192));
    assert.equal(response.status, 200);
  });

  test('a header section over 8192 bytes is 431 and the connection closes', async () => {
    for (const bytes of [8193, 20_000]) {
      const client = await RawClient.connect(server.port);
      client.write(getWithHeaderBytes(server.port, bytes));
      const [response] = await client.responses(1);
      assertErrorPage(response!, 431, 'Request Header Fields Too Large');
      await client.waitClosed();
    }
  });

  test('many small headers adding up past the limit are 431 too', async () => {
    const lines = Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'v'.repeat(20)}\r\n`).join('');
    assertErrorPage(await request(server.port, get('/', server.port, lines)), 431, 'Request Header Fields Too Large');
  });

  test('a request line of 8192 bytes is served; one byte more is 414', async () => {
    const target = (lineBytes: number): string => `/sample.txt?${'q'.repeat(lineBytes - 'GET /sample.txt? HTTP/1.1'.length)}`;
    assert.equal((await request(server.port, get(target(8192), server.port))).status, 200);
    const client = await RawClient.connect(server.port);
    client.write(get(target(8193), server.port));
    const [response] = await client.responses(1);
    assertErrorPage(response!, 414, 'URI Too Long');
    await client.waitClosed();
  });

  test('a request line that never ends is cut off with 414 before its end arrives', async () => {
    const client = await RawClient.connect(server.port);
    client.write(`GET /${'a'.repeat(20_000)}`);
    const [response] = await client.responses(1);
    assertErrorPage(response!, 414, 'URI Too Long');
    await client.waitClosed();
  });

  test('a Content-Length over MAX_BODY_BYTES is 413 before any body byte is sent', async () => {
    for (const path of ['/upload', '/index.html']) {
      const client = await RawClient.connect(server.port);
      client.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\nContent-Length: ${1024 * 1024 + 1}\r\n\r\n`);
      const [response] = await client.responses(1);
      assertErrorPage(response!, 413, 'Content Too Large');
      await client.waitClosed();
    }
  });

  test('HEAD requests refused by the parser get the error status without a body', async () => {
    const host = `Host: 127.0.0.1:${server.port}\r\n`;
    const cases: Array<[string, number]> = [
      [`HEAD /sample.txt HTTP/1.1\r\n${host}Content-Length: ${1024 * 1024 + 1}\r\n\r\n`, 413],
      [`HEAD /sample.txt HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\nzz\r\n`, 400],
      // Refused on a header field, with only the request line read whole.
      [`HEAD /sample.txt HTTP/1.1\r\n${host}${host}\r\n`, 400],
      [`HEAD /sample.txt HTTP/1.1\r\n${host}Expect: foo\r\n\r\n`, 417],
      [`HEAD /sample.txt HTTP/1.1\r\n${host}Transfer-Encoding: gzip\r\n\r\n`, 501],
      [`HEAD /sample.txt HTTP/1.1\r\n${host}Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n`, 400],
      [`HEAD /sample.txt HTTP/1.1\r\n${host}X-Nul: a\x00b\r\n\r\n`, 400],
      [`HEAD /sample.txt?too-large HTTP/1.1\r\n${host}X-Big: ${'b'.repeat(9000)}\r\n\r\n`, 431],
      // Refused on the request line itself, whose method was read.
      [`HEAD /sample.txt?version HTTP/2.0\r\n${host}\r\n`, 505],
      [`HEAD /${'a'.repeat(9000)} HTTP/1.1\r\n${host}\r\n`, 414],
      [`HEAD /a\x7fb HTTP/1.1\r\n${host}\r\n`, 400],
    ];
    for (const [bytes, status] of cases) {
      const client = await RawClient.connect(server.port);
      client.write(bytes);
      await client.waitClosed();
      const text = client.received.toString('latin1');
      assert.match(text, new RegExp(`^HTTP/1\\.1 ${status} `));
      // Nothing after the head (RFC 9110 §9.3.2).
      assert.equal(text.indexOf('\r\n\r\n'), text.length - 4, text);
    }
    // The access log names the request, not `-`.
    const logged = await server.waitForLog((line) => line.msg === 'request' && line.path === '/sample.txt?too-large');
    assert.equal(logged.method, 'HEAD');
    assert.equal(logged.status, 431);
    const versionRefused = await server.waitForLog((line) => line.msg === 'request' && line.path === '/sample.txt?version');
    assert.deepEqual([versionRefused.method, versionRefused.status], ['HEAD', 505]);
  });

  test('a chunked body whose chunk size passes MAX_BODY_BYTES is 413 before the data is sent', async () => {
    const client = await RawClient.connect(server.port);
    client.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n`);
    const [response] = await client.responses(1);
    assertErrorPage(response!, 413, 'Content Too Large');
    await client.waitClosed();
  });

  test('with Expect: 100-continue an oversized body is refused instead of invited', async () => {
    const client = await RawClient.connect(server.port);
    client.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${2 * 1024 * 1024}\r\n\r\n`);
    const [response] = await client.responses(1);
    assertErrorPage(response!, 413, 'Content Too Large');
    assert.doesNotMatch(client.received.toString('latin1'), /100 Continue/);
    await client.waitClosed();
  });
});

describe('MAX_CONNECTIONS=3', () => {
  let server: StartedServer;
  before(async () => {
    server = await startServer({ env: { MAX_CONNECTIONS: '3' } });
  });
  after(async () => {
    await server.stop();
  });

  test('a 4th connection gets 503 and is closed; a freed slot is usable again', async () => {
    const held = await Promise.all([1, 2, 3].map(() => RawClient.connect(server.port)));
    try {
      // A response on each proves the server has accepted all three.
      for (const client of held) {
        client.write(get('/', server.port));
        assert.equal((await client.responses(1))[0]!.status, 200);
      }
      const fourth = await RawClient.connect(server.port);
      const [refused] = await fourth.responses(1);
      assertErrorPage(refused!, 503, 'Service Unavailable');
      assert.equal(refused!.headers['retry-after'], '1');
      await fourth.waitClosed();
      const told = await server.waitForLog((line) => line.reason === 'connection_limit');
      assert.deepEqual([told.level, told.client], ['warn', '127.0.0.1']);

      held.shift()!.close();
      // The server notices the close asynchronously: retry until a new connection is accepted.
      let status = 0;
      for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
        status = (await request(server.port, get('/', server.port))).status;
        if (status !== 200) await sleep(100);
      }
      assert.equal(status, 200);
    } finally {
      for (const client of held) client.close();
    }
  });

  test('a connect flood past the cap holds no more than MAX_CONNECTIONS refused sockets open at once', async () => {
    const held: RawClient[] = [];
    const flood: Socket[] = [];
    try {
      // The connections of the tests before may take a moment to be seen closed.
      for (let attempt = 0; held.length < 3 && attempt < 50; attempt++) {
        const client = await RawClient.connect(server.port);
        client.write(get('/', server.port));
        if ((await client.responses(1))[0]!.status === 200) held.push(client);
        else {
          client.close();
          await sleep(100);
        }
      }
      assert.equal(held.length, 3, 'the cap is full');
      const pid = server.process.pid!;
      const before = readdirSync(`/proc/${pid}/fd`).length;
      // Clients that connect and neither read nor close: each refused socket lingers up to a
      // second for its 503 to be read. Before the bound, every one of them held a descriptor.
      for (let i = 0; i < 60; i++) {
        const socket = connect({ port: server.port, host: '127.0.0.1' });
        socket.on('error', () => undefined);
        socket.pause();
        flood.push(socket);
      }
      await Promise.all(flood.map((socket) => once(socket, 'connect')));
      let peak = 0;
      for (let i = 0; i < 10; i++) {
        peak = Math.max(peak, readdirSync(`/proc/${pid}/fd`).length - before);
        await sleep(30);
      }
      // Three refused sockets lingering, and a few descriptors of the server's own coming and going.
      assert.ok(peak <= 3 + 8, `descriptors grew by ${peak}`);
    } finally {
      for (const socket of [...flood]) socket.destroy();
      for (const client of held) client.close();
    }
  });

  test('connections the server has finished with leave room while they close, up to as many again', async () => {
    const finished: Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) finished.push(await finishedButOpen(server.port));
      // Three connections open, none being served: a client that connects now is served.
      assert.equal((await request(server.port, get('/', server.port))).status, 200);
      for (let i = 0; i < 3; i++) finished.push(await finishedButOpen(server.port));
      // Six open, twice the cap: the next one is refused until some of them close.
      const refused = await request(server.port, get('/', server.port));
      assert.equal(refused.status, 503);
    } finally {
      for (const socket of finished) socket.destroy();
    }
  });
});
