// PROXY_PROTOCOL on the public port, end to end: the test plays the load balancer (from
// 127.0.0.1, the one trusted proxy) and sends v1 and v2 headers it builds itself; the access
// log names the client the header carries. Anyone else, and any header that is not valid and
// complete in time, is closed without a byte of HTTP, and the server serves on.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { metric, waitFor } from '../fixtures/probes.js';
import { proxyV1, proxyV2, proxyV2Local, V2_SIGNATURE } from '../helpers/proxy-header.js';
import { get, RawClient, type RawResponse } from '../helpers/raw.js';
import { startServer, type LogLine, type StartedServer } from '../helpers/server.js';

const BALANCER = '127.0.0.1';
const STRANGER = '127.0.0.9';
const HEADERS_TIMEOUT_MS = 1000;

let server: StartedServer;

before(async () => {
  server = await startServer({
    env: { PROXY_PROTOCOL: 'true', TRUSTED_PROXIES: BALANCER, HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), MAX_CONNECTIONS_PER_CLIENT: '2' },
  });
});

after(async () => {
  await server?.stop();
});

/** A GET whose access log line can be found by its trace id. */
function tracedGet(path = '/'): { bytes: Buffer; traceId: string } {
  const traceId = randomBytes(16).toString('hex');
  const traceparent = `00-${traceId}-${randomBytes(8).toString('hex')}-01`;
  return { bytes: Buffer.from(get(path, server.port, `traceparent: ${traceparent}\r\n`), 'latin1'), traceId };
}

const accessLine = (traceId: string): Promise<LogLine> => server.waitForLog((line) => line.msg === 'request' && line.traceId === traceId);

/** Sends `bytes` on a new connection from `from` and waits for one response. */
async function exchange(bytes: Buffer, from = BALANCER): Promise<{ response: RawResponse; client: RawClient }> {
  const client = await RawClient.connect(server.port, '127.0.0.1', from);
  client.write(bytes);
  const [response] = await client.responses(1);
  return { response: response!, client };
}

/** Sends `bytes` and expects the server to close without answering. */
async function expectClosedUnanswered(bytes: Buffer, from = BALANCER): Promise<void> {
  const client = await RawClient.connect(server.port, '127.0.0.1', from);
  client.write(bytes);
  await client.waitClosed(HEADERS_TIMEOUT_MS + 4000);
  assert.equal(client.received.length, 0, `no answer to ${JSON.stringify(bytes.toString('latin1').slice(0, 40))}`);
}

describe('the client a PROXY header names', () => {
  test('v1 TCP4, header and request in one write: the header’s source is the client', async () => {
    const request = tracedGet();
    const { response, client } = await exchange(Buffer.concat([proxyV1('203.0.113.7', '192.0.2.1'), request.bytes]));
    assert.equal(response.status, 200);
    assert.equal((await accessLine(request.traceId)).client, '203.0.113.7');
    client.close();
  });

  test('v2 TCP6 with TLVs: the source, in its canonical spelling', async () => {
    const request = tracedGet();
    const header = proxyV2('2001:DB8:0::7', '2001:db8::1', 51000, 443, [[0x05, Buffer.from('unique-id-1')], [0x04, Buffer.alloc(0)]]);
    const { response, client } = await exchange(Buffer.concat([header, request.bytes]));
    assert.equal(response.status, 200);
    assert.equal((await accessLine(request.traceId)).client, '2001:db8::7');
    client.close();
  });

  test('v2 LOCAL (the balancer’s health check): the balancer is the client', async () => {
    const request = tracedGet();
    const { response, client } = await exchange(Buffer.concat([proxyV2Local(), request.bytes]));
    assert.equal(response.status, 200);
    assert.equal((await accessLine(request.traceId)).client, BALANCER);
    client.close();
  });

  test('a header split across writes, a byte at a time, then the request', async () => {
    for (const header of [proxyV1('198.51.100.20', '192.0.2.1'), proxyV2('198.51.100.21', '192.0.2.1')]) {
      const request = tracedGet();
      const client = await RawClient.connect(server.port);
      for (const byte of header) {
        client.write(Buffer.from([byte]));
        await delay(2);
      }
      await delay(20);
      client.write(request.bytes);
      const [response] = await client.responses(1);
      assert.equal(response!.status, 200);
      assert.equal((await accessLine(request.traceId)).client, header[0] === 0x50 ? '198.51.100.20' : '198.51.100.21');
      client.close();
    }
  });

  test('keep-alive: every request on the connection is the header’s client’s', async () => {
    const first = tracedGet();
    const second = tracedGet();
    const { client } = await exchange(Buffer.concat([proxyV1('203.0.113.8', '192.0.2.1'), first.bytes]));
    client.write(second.bytes);
    const responses = await client.responses(2);
    assert.deepEqual(responses.map((r) => r.status), [200, 200]);
    assert.equal((await accessLine(second.traceId)).client, '203.0.113.8');
    client.close();
  });
});

describe('connections refused without harm', () => {
  // First in this group: the warnings are rate-limited, and an earlier one would hide it.
  test('a connection closed before its first byte (a balancer’s TCP health check) is no warning', async () => {
    const check = await RawClient.connect(server.port);
    check.socket.end();
    await check.waitClosed(1000);
    await delay(200);
    assert.ok(!server.logs.some((line) => line.level === 'warn' && String(line.msg).startsWith('PROXY protocol')), 'nothing logged at warn');
  });

  test('invalid headers are closed unanswered, and the first is logged with its code', async () => {
    const longV2 = Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0x07, 0xd0])]);
    const cases: ReadonlyArray<readonly [string, Buffer]> = [
      ['v1_malformed', Buffer.from('PROXY TCP4 not-an-address 192.0.2.1 1 2\r\nGET / HTTP/1.1\r\n\r\n', 'latin1')],
      ['not_proxy_protocol', Buffer.from(get('/', 0), 'latin1')],
      ['v1_line_too_long', Buffer.from(`PROXY UNKNOWN ${'a'.repeat(200)}`, 'latin1')],
      ['v2_bad_version', Buffer.concat([V2_SIGNATURE, Buffer.from([0x31, 0x11, 0, 12])])],
      ['v2_too_long', longV2],
      // A source no client has (unspecified, "this network", multicast, reserved, broadcast) would be every client's identity.
      ['bad_source', Buffer.from(`PROXY TCP4 0.0.0.0 192.0.2.1 1 2\r\n${get('/', server.port)}`, 'latin1')],
      ['bad_source', Buffer.from(`PROXY TCP4 0.1.2.3 192.0.2.1 1 2\r\n${get('/', server.port)}`, 'latin1')],
      ['bad_source', Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0, 12, 240, 0, 0, 1, 192, 0, 2, 1, 0, 1, 0, 2]), Buffer.from(get('/', server.port), 'latin1')])],
      ['bad_source', Buffer.from(`PROXY TCP6 ff02::1 ::1 1 2\r\n${get('/', server.port)}`, 'latin1')],
      ['bad_source', Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0, 12, 255, 255, 255, 255, 192, 0, 2, 1, 0, 1, 0, 2]), Buffer.from(get('/', server.port), 'latin1')])],
    ];
    for (const [, bytes] of cases) await expectClosedUnanswered(bytes);
    const logged = await server.waitForLog((line) => line.msg === 'PROXY protocol: no valid header, connection closed');
    assert.equal(logged.code, 'v1_malformed');
    assert.equal(logged.reason, 'proxy_header', 'the label it is counted under, as on every refusal line');
    assert.equal(logged.peer, BALANCER);
    // The log line names the code and the problem, not the bytes sent.
    assert.doesNotMatch(JSON.stringify(logged), /not-an-address/);
  });

  test('a peer outside TRUSTED_PROXIES is closed before anything is read, however valid its header', async () => {
    const request = tracedGet();
    await expectClosedUnanswered(Buffer.concat([proxyV1('203.0.113.9', '192.0.2.1'), request.bytes]), STRANGER);
    const logged = await server.waitForLog((line) => line.msg === 'PROXY protocol: a connection from outside TRUSTED_PROXIES closed unread');
    assert.equal(logged.peer, STRANGER);
    assert.equal(logged.reason, 'untrusted_proxy');
    assert.equal(logged.level, 'warn');
    assert.ok(!server.logs.some((line) => line.traceId === request.traceId), 'the request was never read');
  });

  test('a header that stops half-way is closed after HEADERS_TIMEOUT_MS; one cut by FIN at once', async () => {
    const slow = await RawClient.connect(server.port);
    const started = Date.now();
    slow.write('PROXY TCP4 203.0.113.');
    await slow.waitClosed(HEADERS_TIMEOUT_MS + 4000);
    const waited = Date.now() - started;
    assert.ok(waited >= HEADERS_TIMEOUT_MS - 50 && waited < HEADERS_TIMEOUT_MS + 3000, `closed after ${waited} ms`);
    assert.equal(slow.received.length, 0);

    const cut = await RawClient.connect(server.port);
    cut.write(proxyV2('203.0.113.10', '192.0.2.1').subarray(0, 20));
    cut.socket.end();
    await cut.waitClosed(1000);
    assert.equal(cut.received.length, 0);
  });

  test('random bytes on 40 connections: all closed unanswered, and the server serves on', async () => {
    const clients = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const client = await RawClient.connect(server.port);
        // Half of them start like a header and go wrong later.
        const noise = randomBytes(1 + (i % 300));
        client.write(i % 2 === 0 ? Buffer.concat([V2_SIGNATURE.subarray(0, 12), noise]) : noise);
        return client;
      }),
    );
    await Promise.all(clients.map((client) => client.waitClosed(HEADERS_TIMEOUT_MS + 4000)));
    for (const client of clients) {
      assert.ok(client.isClosed);
      assert.equal(client.received.length, 0);
    }
    const request = tracedGet();
    const { response, client } = await exchange(Buffer.concat([proxyV1('203.0.113.11', '192.0.2.1'), request.bytes]));
    assert.equal(response.status, 200);
    client.close();
  });
});

describe('refusals in the metrics', () => {
  const REASONS = ['untrusted_proxy', 'proxy_header', 'proxy_header_timeout'] as const;
  const refusals = async (): Promise<Record<string, number>> =>
    Object.fromEntries(await Promise.all(REASONS.map(async (reason) => [reason, await metric(server.adminPort, 'http_server_security_rejections_total', `reason="${reason}"`)])));

  test('each connection closed unanswered counts in http_server_security_rejections_total by reason; a health check does not', async () => {
    const before = await refusals();
    await expectClosedUnanswered(Buffer.concat([proxyV1('203.0.113.13', '192.0.2.1'), tracedGet().bytes]), STRANGER);
    await expectClosedUnanswered(Buffer.from(get('/', 0), 'latin1'));
    const cut = await RawClient.connect(server.port);
    cut.write(proxyV2('203.0.113.14', '192.0.2.1').subarray(0, 20));
    cut.socket.end();
    await cut.waitClosed(1000);
    await expectClosedUnanswered(Buffer.from('PROXY TCP4 203.0.113.', 'latin1'));
    const check = await RawClient.connect(server.port);
    check.socket.end();
    await check.waitClosed(1000);
    assert.deepEqual(await refusals(), { untrusted_proxy: before.untrusted_proxy! + 1, proxy_header: before.proxy_header! + 2, proxy_header_timeout: before.proxy_header_timeout! + 1 });
  });
});

describe('connections still reading their header', () => {
  let capped: StartedServer;

  before(async () => {
    capped = await startServer({ env: { PROXY_PROTOCOL: 'true', TRUSTED_PROXIES: BALANCER, MAX_CONNECTIONS: '2' } });
  });

  after(async () => {
    await capped?.stop();
  });

  // The runbook compares http_server_open_connections with MAX_CONNECTIONS: what the cap counts must show there.
  test('count in http_server_open_connections, as they do against MAX_CONNECTIONS', async () => {
    const open = (): Promise<number> => metric(capped.adminPort, 'http_server_open_connections');
    const held = await Promise.all(
      [0, 1].map(async () => {
        const client = await RawClient.connect(capped.port);
        client.write('PROXY TCP4 1.2');
        return client;
      }),
    );
    await waitFor(async () => (await open()) === 2, 'both sockets reading a header to be counted', 5000);
    const third = await RawClient.connect(capped.port);
    const [response] = await third.responses(1);
    assert.equal(response!.status, 503);
    assert.equal(await metric(capped.adminPort, 'http_server_rejected_total', 'reason="connection_limit"'), 1);
    assert.equal(await open(), 2);
    for (const client of held) client.close();
    await waitFor(async () => (await open()) === 0, 'the closed sockets to leave the count', 5000);
  });
});

describe('per-client limits count the header’s client', () => {
  test('MAX_CONNECTIONS_PER_CLIENT=2 per proxied client; the balancer’s own connections are not capped', async () => {
    const before = await metric(server.adminPort, 'http_server_rejected_total', 'reason="client_limit"');
    const header = proxyV1('198.51.100.30', '192.0.2.1');
    const held = await Promise.all([0, 1].map(() => exchange(Buffer.concat([header, tracedGet().bytes]))));
    for (const { response } of held) assert.equal(response.status, 200);

    const third = await exchange(Buffer.concat([header, tracedGet().bytes]));
    assert.equal(third.response.status, 503);
    assert.equal(third.response.headers['retry-after'], '1');
    assert.equal(third.response.headers.connection, 'close');
    await third.client.waitClosed();
    assert.equal(await metric(server.adminPort, 'http_server_rejected_total', 'reason="client_limit"'), before + 1);

    const other = await exchange(Buffer.concat([proxyV1('198.51.100.31', '192.0.2.1'), tracedGet().bytes]));
    assert.equal(other.response.status, 200, 'another client behind the same balancer');
    // LOCAL: the balancer speaks for itself, a trusted proxy, so its connections are not capped.
    const local = await Promise.all([0, 1, 2].map(() => exchange(Buffer.concat([proxyV2Local(), tracedGet().bytes]))));
    assert.deepEqual(local.map(({ response }) => response.status), [200, 200, 200]);
    for (const { client } of [...held, other, ...local]) client.close();
  });

  test('IPv6 clients are counted by /64: a fresh address in the same network gets no extra connection', async () => {
    const from = (source: string): Promise<{ response: RawResponse; client: RawClient }> => exchange(Buffer.concat([proxyV1(source, '2001:db8::80'), tracedGet().bytes]));
    const held = [await from('2001:db8:0:7::1'), await from('2001:db8:0:7::2')];
    for (const { response } of held) assert.equal(response.status, 200);
    const sameNetwork = await from('2001:db8:0:7:ffff:ffff:ffff:fffe');
    assert.equal(sameNetwork.response.status, 503);
    await sameNetwork.client.waitClosed();
    const request = tracedGet();
    const nextNetwork = await exchange(Buffer.concat([proxyV1('2001:db8:0:8::1', '2001:db8::80'), request.bytes]));
    assert.equal(nextNetwork.response.status, 200);
    assert.equal((await accessLine(request.traceId)).client, '2001:db8:0:8::1', 'logs name the address, not the network');
    for (const { client } of [...held, nextNetwork]) client.close();
  });

  test('X-Forwarded-For after a header that names no client (LOCAL, UNKNOWN) is not believed', async () => {
    for (const header of [proxyV2Local(), Buffer.from('PROXY UNKNOWN\r\n', 'latin1')]) {
      const request = tracedGet();
      const withForwarded = Buffer.from(request.bytes.toString('latin1').replace('\r\n\r\n', '\r\nX-Forwarded-For: 192.0.2.99\r\n\r\n'), 'latin1');
      const { response, client } = await exchange(Buffer.concat([header, withForwarded]));
      assert.equal(response.status, 200);
      assert.equal((await accessLine(request.traceId)).client, BALANCER);
      client.close();
    }
  });

  test('X-Forwarded-For from a proxied trusted proxy obeys the PROXY source rule: a source no client has is refused', async () => {
    for (const [forwarded, status, client] of [['198.51.100.13', 200, '198.51.100.13'], ['240.0.0.1', 400, BALANCER]] as const) {
      const request = tracedGet();
      const withForwarded = Buffer.from(request.bytes.toString('latin1').replace('\r\n\r\n', `\r\nX-Forwarded-For: ${forwarded}\r\n\r\n`), 'latin1');
      const { response, client: connection } = await exchange(Buffer.concat([proxyV1(BALANCER, '192.0.2.1'), withForwarded]));
      assert.equal(response.status, status, forwarded);
      const line = await accessLine(request.traceId);
      assert.deepEqual([line.client, line.reason], [client, status === 400 ? 'bad_forwarded_source' : undefined], forwarded);
      connection.close();
    }
  });

  test('X-Forwarded-For from a proxied client is not believed: it is no trusted proxy', async () => {
    const request = tracedGet();
    const withForwarded = Buffer.from(request.bytes.toString('latin1').replace('\r\n\r\n', '\r\nX-Forwarded-For: 192.0.2.99\r\n\r\n'), 'latin1');
    const { response, client } = await exchange(Buffer.concat([proxyV1('203.0.113.12', '192.0.2.1'), withForwarded]));
    assert.equal(response.status, 200);
    assert.equal((await accessLine(request.traceId)).client, '203.0.113.12');
    client.close();
  });
});
