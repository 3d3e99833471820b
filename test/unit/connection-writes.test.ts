// How the connection layer hands responses to the socket: requests read in one go are answered
// in one writev system call (the socket is corked while they are parsed), not one call each.
// The server here is in-process so the test can count the stream's writes on the server side.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { test } from 'node:test';
import { pino } from 'pino';
import { Metrics } from '../../src/admin/metrics.js';
import { ResponseCache } from '../../src/handlers/response-cache.js';
import type { Representation } from '../../src/handlers/representation.js';
import { Connection, type ConnectionDeps } from '../../src/http/connection.js';
import { defaultConnectionSettings } from '../helpers/connection.js';
import { RawClient } from '../helpers/raw.js';

const PAGE = new TextEncoder().encode(`<!DOCTYPE html><title>page</title><p>${'x'.repeat(900)}</p>\n`);
const validators = [['ETag', '"page-1"']] as const;
const representation: Representation = {
  headers: [['Content-Type', 'text/html; charset=utf-8'], ...validators],
  validators,
  facts: { size: PAGE.length, mtimeMs: 1_000_000, etag: '"page-1"' },
};

/** Calls of the stream's single-chunk and many-chunk writes: each is one system call here. */
interface WriteCounts {
  single: number;
  batched: number;
}

function countWrites(socket: Socket, counts: WriteCounts): void {
  const single = socket._write.bind(socket);
  const batched = socket._writev!.bind(socket);
  socket._write = (chunk, encoding, callback) => {
    counts.single++;
    single(chunk, encoding, callback);
  };
  socket._writev = (chunks, callback) => {
    counts.batched++;
    batched(chunks, callback);
  };
}

async function withServer(run: (port: number, host: string, counts: WriteCounts) => Promise<void>): Promise<void> {
  const allowedHosts = new Set<string>();
  // A long TTL: every request here is answered from the main thread's cache, no worker involved.
  const cache = new ResponseCache(1 << 20, 3_600_000);
  cache.store({ kind: 'static', method: 'GET', path: '/page.html', conditions: {}, acceptEncoding: undefined }, { representation, bytes: PAGE }, Date.now());
  const deps: ConnectionDeps = {
    settings: defaultConnectionSettings(allowedHosts),
    dispatch: () => assert.fail('no request here needs a worker'),
    cache,
    events: new Metrics({ poolStats: () => ({ workers: 0, busy: 0, queued: 0 }), openConnections: () => 0, queueCapacity: 0, uploadsDisk: () => null }),
    log: pino({ level: 'silent' }),
  };
  const counts: WriteCounts = { single: 0, batched: 0 };
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    countWrites(socket, counts);
    new Connection(1, socket, deps, () => undefined);
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
