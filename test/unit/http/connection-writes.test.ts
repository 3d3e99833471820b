// How the connection layer hands responses to the socket: requests read in one go are answered
// in one writev system call (the socket is corked while they are parsed), not one call each.
// The Connection runs in-process over a stream of the test's own that counts the writes.
import assert from 'node:assert/strict';
import fs, { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { Metrics } from '../../../src/admin/metrics.js';
import type { Representation } from '../../../src/core/job.js';
import type { Response } from '../../../src/core/response.js';
import { ResponseCache } from '../../../src/http/response-cache.js';
import { BodyBudget } from '../../../src/http/body-budget.js';
import { Connection } from '../../../src/http/connection.js';
import { ConditionLogs } from '../../../src/log.js';
import type { ConnectionDeps } from '../../../src/http/connection-settings.js';
import type { ServerEvents } from '../../../src/http/events.js';
import { defaultAccessPolicy, defaultConnectionSettings, direct, NO_OWNER } from '../../helpers/connection.js';
import { RawClient } from '../../helpers/raw.js';

const PAGE = new TextEncoder().encode(`<!DOCTYPE html><title>page</title><p>${'x'.repeat(900)}</p>\n`);
const validators = [['ETag', '"page-1"']] as const;
const representation: Representation = {
  headers: [['Content-Type', 'text/html; charset=utf-8'], ...validators],
  validators,
  facts: { size: PAGE.length, mtimeMs: 1_000_000, etag: '"page-1"', ino: 1, ctimeMs: 1_000_000 },
};

/** Calls of the stream's single-chunk and many-chunk writes: each is one system call on a socket. */
interface WriteCounts {
  single: number;
  batched: number;
}

/**
 * The stream the Connection writes to: a Duplex of our own over the accepted socket that
 * counts how the Connection's writes reach it, then passes the bytes on to the client.
 */
class CountingStream extends Duplex {
  constructor(
    private readonly socket: Socket,
    private readonly counts: WriteCounts,
  ) {
    super({ allowHalfOpen: true });
    socket.on('data', (chunk: Buffer) => this.push(chunk));
    socket.on('end', () => this.push(null));
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.counts.single++;
    this.socket.write(chunk, callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.counts.batched++;
    this.socket.write(Buffer.concat(chunks.map(({ chunk }) => chunk)), callback);
  }

  override _final(callback: () => void): void {
    this.socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }
}

/** Events that count nothing. */
const silentEvents: ServerEvents = {
  connectionOpened: () => undefined,
  requestCompleted: () => undefined,
  rejected: () => undefined,
  securityRejection: () => undefined,
  proxyRefused: () => undefined,
  uploadStored: () => undefined,
};

/** Connection dependencies in which every request for /page.html is answered from the cache. */
function cachedPageDeps(allowedHosts: ReadonlySet<string>, settings: Partial<ConnectionDeps['settings']> = {}): ConnectionDeps {
  // A long TTL: every request here is answered from the main thread's cache, no worker involved.
  const cache = new ResponseCache(1 << 20, 3_600_000);
  cache.store({ kind: 'static', method: 'GET', path: '/page.html', conditions: {}, acceptEncoding: undefined, query: '' }, { representation, bytes: PAGE, settled: true }, Date.now());
  return {
    settings: { ...defaultConnectionSettings(allowedHosts), ...settings },
    bodies: new BodyBudget(64 << 20, { perClient: 8 << 20, maxBodyBytes: 1 << 20 }),
    jobs: { submit: () => assert.fail('no request here needs a worker') },
    cache,
    events: new Metrics({ poolStats: () => ({ workers: 0, busy: 0, queued: 0 }), openConnections: () => 0, bodyBytes: () => 0, queueCapacity: 0, uploadsDisk: () => null, trackedClients: () => 0, droppedLogLines: () => 0 }),
    log: pino({ level: 'silent' }),
    conditionLogs: new ConditionLogs(1000),
    access: defaultAccessPolicy(),
  };
}

async function withServer(run: (port: number, host: string, counts: WriteCounts) => Promise<void>): Promise<void> {
  const allowedHosts = new Set<string>();
  const deps = cachedPageDeps(allowedHosts);
  const counts: WriteCounts = { single: 0, batched: 0 };
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    new Connection(1, new CountingStream(socket, counts), direct('127.0.0.1'), deps, NO_OWNER);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const host = `127.0.0.1:${port}`;
  allowedHosts.add(host);
  try {
    await run(port, host, counts);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

test('eight pipelined requests in one packet are answered in order with one writev', async () => {
  await withServer(async (port, host, counts) => {
    const client = await RawClient.connect(port);
    try {
      const targets = ['/page.html', '/page.html', '*', '/page.html', '/../secret', '/page.html', '/page.html', '/page.html'];
      const requests = targets.map((target) => `${target === '*' ? 'OPTIONS' : 'GET'} ${target} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      client.write(requests.join(''));
      const responses = await client.responses(8, 5000);
      assert.deepEqual(responses.map((response) => response.status), [200, 200, 204, 200, 403, 200, 200, 200]);
      for (const response of responses.filter((r) => r.status === 200)) assert.deepEqual(new Uint8Array(response.body), PAGE);
      assert.deepEqual(counts, { single: 0, batched: 1 });
    } finally {
      client.close();
    }
  });
});

test('a request on its own is one write, and the next one after it another', async () => {
  await withServer(async (port, host, counts) => {
    const client = await RawClient.connect(port);
    try {
      const get = `GET /page.html HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
      client.write(get);
      await client.responses(1, 5000);
      client.write(get);
      const responses = await client.responses(2, 5000);
      assert.deepEqual(responses.map((response) => response.status), [200, 200]);
      // Head and body of each response leave together: one call per response.
      assert.equal(counts.single + counts.batched, 2);
    } finally {
      client.close();
    }
  });
});

/** A connection's stream in memory: the test pushes the client's bytes; each write is logged as the responses it holds. */
class MemoryStream extends Duplex {
  /** `bufferBytes`: past it the stream asks the reader to wait, as a socket's full buffer does. */
  constructor(
    private readonly name: string,
    private readonly writes: string[],
    bufferBytes: number,
  ) {
    super({ allowHalfOpen: true, writableHighWaterMark: bufferBytes });
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this._writev([{ chunk }], callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: () => void): void {
    const responses = Buffer.concat(chunks.map(({ chunk }) => chunk)).toString('latin1').split('HTTP/1.1 200 OK').length - 1;
    this.writes.push(`${this.name}:${responses}`);
    callback();
  }
}

const HOST = 'example.test';
const GET_PAGE = `GET /page.html HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`;

/** Responses each stream was written, by name. */
const answered = (writes: readonly string[], name: string): number => writes.filter((write) => write.startsWith(`${name}:`)).reduce((sum, write) => sum + Number(write.split(':')[1]), 0);

/** A write buffer with room for every response at once: the stream never asks the reader to wait. */
const ROOM_FOR_ALL = 1 << 24;

/** A connection over a MemoryStream, flowing: from now on a push is read at once. */
async function memoryConnection(name: string, writes: string[], deps: ConnectionDeps, id = 1, bufferBytes = ROOM_FOR_ALL): Promise<{ stream: MemoryStream; connection: Connection }> {
  const stream = new MemoryStream(name, writes, bufferBytes);
  const connection = new Connection(id, stream, direct(`192.0.2.${id}`), deps, NO_OWNER);
  await new Promise((resolve) => setImmediate(resolve));
  return { stream, connection };
}

/** Waits until `name` was answered `count` times with 200; fails after five seconds. */
async function untilAnswered(writes: readonly string[], name: string, count: number): Promise<void> {
  const giveUpAt = Date.now() + 5000;
  while (answered(writes, name) < count) {
    assert.ok(Date.now() < giveUpAt, `${answered(writes, name)} of ${count} answered: ${writes.join(' ')}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test("one client's pipeline takes sixteen requests a turn: another client's request, read in the same turn, is not kept behind all of it", async () => {
  const deps = cachedPageDeps(new Set([`${HOST}:80`]));
  const writes: string[] = [];
  const flooder = await memoryConnection('flooder', writes, deps, 1);
  const other = await memoryConnection('other', writes, deps, 2);
  flooder.stream.push(GET_PAGE.repeat(99));
  other.stream.push(GET_PAGE);
  await untilAnswered(writes, 'flooder', 99);
  assert.equal(answered(writes, 'other'), 1);
  // The other client's answer left after the flooder's first sixteen, not after all 99.
  assert.deepEqual(writes.slice(0, 2), ['flooder:16', 'other:1']);
  assert.ok(writes.every((write) => Number(write.split(':')[1]) <= 16), writes.join(' '));
  flooder.stream.destroy();
  other.stream.destroy();
});

test('requests waiting for their turn are the server\'s to take: the headers timeout does not run for them', async () => {
  const deps = cachedPageDeps(new Set([`${HOST}:80`]), { headersTimeoutMs: 1 });
  const writes: string[] = [];
  const { stream, connection } = await memoryConnection('client', writes, deps);
  stream.push(GET_PAGE.repeat(99));
  // The sweep comes while the connection waits for its next turn, long past the timeout.
  connection.checkDeadline(Date.now() + 60_000);
  await untilAnswered(writes, 'client', 99);
  stream.destroy();
});

test('a shutdown answers every request received before it, whether waiting for its turn or for room in the write buffer', async () => {
  for (const bufferBytes of [ROOM_FOR_ALL, 16 * 1024]) {
    const deps = cachedPageDeps(new Set([`${HOST}:80`]));
    const writes: string[] = [];
    const { stream, connection } = await memoryConnection('client', writes, deps, 1, bufferBytes);
    const closed = new Promise((resolve) => stream.on('finish', resolve));
    stream.push(GET_PAGE.repeat(99));
    connection.drain(10);
    // Sent after the shutdown began: not read.
    stream.push(GET_PAGE);
    await closed;
    assert.equal(answered(writes, 'client'), 99, `buffer ${bufferBytes}: ${writes.join(' ')}`);
  }
});

/** Dependencies whose every job answers with a 1 MiB download of `fd`; the statuses recorded go to `recorded`. */
function downloadDeps(fd: number, recorded: number[]): ConnectionDeps {
  const cached = cachedPageDeps(new Set([`${HOST}:80`]));
  return {
    ...cached,
    jobs: {
      submit: (_job, done) => {
        const response: Response = { status: 200, headers: [['Content-Type', 'application/octet-stream']], contentLength: 1 << 20, body: { kind: 'file', fd, start: 0, length: 1 << 20 } };
        setImmediate(() => done({ ok: true, result: { response }, workerId: 1 }));
        return true;
      },
    },
    events: { ...silentEvents, requestCompleted: (_method, status) => recorded.push(status) },
  };
}

/** Runs `body` with node:fs's read (the file sender's) replaced by `read`. */
async function withRead(read: (...args: unknown[]) => void, body: () => Promise<void>): Promise<void> {
  const realRead = fs.read;
  (fs as { read: unknown }).read = read;
  syncBuiltinESMExports();
  try {
    await body();
  } finally {
    fs.read = realRead;
    syncBuiltinESMExports();
  }
}

test('a client that leaves while its download waits for the first chunk of its file is counted as 499: no byte of the 200 had gone out', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'rawhttp-first-chunk-'));
  writeFileSync(join(folder, 'big.bin'), Buffer.alloc(1 << 20));
  const fd = openSync(join(folder, 'big.bin'), 'r');
  const recorded: number[] = [];
  const realRead = fs.read as (...args: unknown[]) => void;
  // Reads wait until the test lets them go, as reads from a hung mount would.
  const held: Array<() => void> = [];
  await withRead((...args) => held.push(() => realRead(...args)), async () => {
    const writes: string[] = [];
    const { stream } = await memoryConnection('client', writes, downloadDeps(fd, recorded));
    stream.push(`GET /big.bin HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
    while (held.length === 0) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(writes, [], 'nothing written while the first read waits');
    stream.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(recorded, [499]);
  });
  // The read returns to a stopped sender, which closes the descriptor.
  for (const release of held) release();
  rmSync(folder, { recursive: true, force: true });
});

test('a download whose first read fails gets 500 in its place, and the connection carries on', async () => {
  const recorded: number[] = [];
  type ReadDone = (error: NodeJS.ErrnoException | null, bytesRead: number) => void;
  const failing = (...args: unknown[]): void => {
    const done = args.at(-1) as ReadDone;
    setImmediate(() => done(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' }), 0));
  };
  await withRead(failing, async () => {
    const writes: string[] = [];
    // A descriptor of its own, which the sender closes.
    const { stream } = await memoryConnection('client', writes, downloadDeps(openSync(tmpdir(), 'r'), recorded));
    stream.push(`GET /big.bin HTTP/1.1\r\nHost: ${HOST}\r\n\r\n${GET_PAGE}`);
    await untilAnswered(writes, 'client', 1);
    assert.deepEqual(recorded, [500, 200]);
    stream.destroy();
  });
});
