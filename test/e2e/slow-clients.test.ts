// Slow and idle clients: hundreds of connections that trickle a request head or send nothing
// must cost no worker and block nobody. Header and idle timeouts fire, a normal client keeps
// being answered meanwhile, and the connection cap holds with 503 for the overflow.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metric, waitFor } from '../fixtures/probes.js';
import { get, parseResponses, RawClient, request } from '../helpers/raw.js';
import { ONE_CLIENT_LOAD, startServer } from '../helpers/server.js';

const TIMEOUT_MS = 1000;
const TRICKLERS = 150;
const SILENT = 150;
/** A liveness bound for each normal request while the slow clients hang on (not a speed test). */
const LIVENESS_MS = 2000;

/** Opens `count` connections, a batch at a time so the listen backlog never overflows. */
async function connectMany(port: number, count: number, batch = 25): Promise<RawClient[]> {
  const clients: RawClient[] = [];
  while (clients.length < count) {
    const size = Math.min(batch, count - clients.length);
    clients.push(...(await Promise.all(Array.from({ length: size }, () => RawClient.connect(port)))));
  }
  return clients;
}

test('trickled heads get 408, silent connections are closed, a normal client is served all along', async (t) => {
  // The idle timeout is longer than the header timeout: the tricklers all connect first and
  // only then send their first byte, which on a slow machine can take longer than TIMEOUT_MS,
  // and a connection with no byte yet is idle (closed silently), not a trickler (408).
  const server = await startServer({ env: { ...ONE_CLIENT_LOAD, HEADERS_TIMEOUT_MS: String(TIMEOUT_MS), KEEP_ALIVE_TIMEOUT_MS: String(3 * TIMEOUT_MS) } });
  const tricklers: { client: RawClient; firstByteAt: number; closedAt: number }[] = [];
  try {
    const host = `127.0.0.1:${server.port}`;
    // A head that never ends: one byte every 100 ms, far slower than any real client.
    const slowHead = `GET /sample.txt HTTP/1.1\r\nHost: ${host}\r\nX-Slow: ${'a'.repeat(400)}`;
    for (const client of await connectMany(server.port, TRICKLERS)) {
      const entry = { client, firstByteAt: Date.now(), closedAt: 0 };
      client.write(slowHead[0]!);
      client.closed.then(() => (entry.closedAt = Date.now()));
      tricklers.push(entry);
    }
    let sent = 1;
    const trickle = setInterval(() => {
      for (const { client } of tricklers) if (!client.isClosed && sent < slowHead.length) client.write(slowHead[sent]!);
      sent++;
    }, 100);
    const silent = await connectMany(server.port, SILENT);

    // Meanwhile a normal client: fresh connections, one request each, until every slow one is gone.
    let served = 0;
    const everyoneClosed = (): boolean => tricklers.every(({ client }) => client.isClosed) && silent.every((client) => client.isClosed);
    try {
      const deadline = Date.now() + 20_000;
      while (!everyoneClosed() && Date.now() < deadline) {
        const started = Date.now();
        const response = await request(server.port, get('/sample.txt', server.port), LIVENESS_MS);
        assert.equal(response.status, 200);
        assert.ok(Date.now() - started < LIVENESS_MS, 'a normal request waited behind slow clients');
        served++;
      }
    } finally {
      clearInterval(trickle);
    }
    assert.ok(everyoneClosed(), 'every slow or silent connection was closed by a timeout');
    assert.ok(served >= 3, `the normal client was served while the slow ones hung on (${served} requests)`);
    t.diagnostic(`normal requests served while ${TRICKLERS + SILENT} slow or silent connections were open: ${served}`);

    for (const { client, firstByteAt, closedAt } of tricklers) {
      const { responses, rest } = parseResponses(client.received);
      assert.deepEqual(responses.map((r) => r.status), [408]);
      assert.equal(responses[0]!.headers.connection, 'close');
      assert.equal(rest.length, 0);
      // Counted from the first byte, however much trickles in after it.
      assert.ok(closedAt - firstByteAt >= TIMEOUT_MS - 100, `closed after ${closedAt - firstByteAt} ms`);
    }
    for (const client of silent) assert.equal(client.received.length, 0, 'an idle connection is closed without a response');
    const timeouts = server.logs.filter((line) => line.msg === 'bad request' && line.status === 408);
    assert.equal(timeouts.length, TRICKLERS);
    assert.equal(await metric(server.adminPort, 'http_server_busy_workers'), 0, 'slow clients never hold a worker');
  } finally {
    for (const { client } of tricklers) client.close();
    await server.stop();
  }
});

test('a keep-alive connection left idle after a response is closed by the idle timeout', async () => {
  const server = await startServer({ env: { KEEP_ALIVE_TIMEOUT_MS: String(TIMEOUT_MS) } });
  try {
    const client = await RawClient.connect(server.port);
    client.write(get('/sample.txt', server.port));
    const [response] = await client.responses(1);
    assert.equal(response!.headers.connection, 'keep-alive');
    const idleSince = Date.now();
    await client.waitClosed(10_000);
    assert.ok(Date.now() - idleSince >= TIMEOUT_MS - 100);
    assert.equal(parseResponses(client.received).responses.length, 1, 'closed without another response');
  } finally {
    await server.stop();
  }
});

test('the connection cap holds: the overflow gets 503 with Retry-After and is closed, unserved', async () => {
  const CAP = 60;
  const OVERFLOW = 20;
  const server = await startServer({ env: { MAX_CONNECTIONS: String(CAP) } });
  const held: RawClient[] = [];
  try {
    held.push(...(await connectMany(server.port, CAP)));
    await waitFor(async () => (await metric(server.adminPort, 'http_server_open_connections')) === CAP, `${CAP} open connections`);

    const overflow = await connectMany(server.port, OVERFLOW);
    // Each overflow client also sends a request: it must not be served.
    for (const client of overflow) client.write(get('/sample.txt', server.port));
    await Promise.all(overflow.map((client) => client.waitClosed(10_000)));
    for (const client of overflow) {
      const { responses } = parseResponses(client.received);
      assert.deepEqual(responses.map((r) => r.status), [503]);
      assert.equal(responses[0]!.headers['retry-after'], '1');
      assert.equal(responses[0]!.headers.connection, 'close');
    }
    assert.equal(await metric(server.adminPort, 'http_server_rejected_total', 'reason="connection_limit"'), OVERFLOW);
    assert.equal(await metric(server.adminPort, 'http_server_open_connections'), CAP, 'the held connections are untouched');
    assert.ok(held.every((client) => !client.isClosed));

    // One slot frees up: the next client is served.
    held.pop()!.close();
    await waitFor(async () => (await metric(server.adminPort, 'http_server_open_connections')) < CAP, 'a free slot');
    const response = await request(server.port, get('/sample.txt', server.port));
    assert.equal(response.status, 200);
  } finally {
    for (const client of held) client.close();
    await server.stop();
  }
});
