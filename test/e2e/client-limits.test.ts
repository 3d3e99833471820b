// Per-client limits end to end, with many clients played from the loopback block 127.0.0.0/8
// (every address in it reaches the server, each a client of its own): the connection cap per
// address, X-Forwarded-For from a trusted proxy, the upload rate, and memory under a flood of
// distinct source addresses.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { metric, rssBytes, waitFor } from '../fixtures/probes.js';
import { finishedButOpen, get, RawClient, type RawResponse } from '../helpers/raw.js';
import { startServer, type LogLine, type StartedServer } from '../helpers/server.js';

const PROXY = '127.0.2.1';
const CAP = 3;
const BURST = 2;

let server: StartedServer;

before(async () => {
  server = await startServer({
    env: { MAX_CONNECTIONS_PER_CLIENT: String(CAP), TRUSTED_PROXIES: PROXY, UPLOAD_BURST: String(BURST), UPLOAD_RATE_PER_MINUTE: '1' },
  });
});

after(async () => {
  await server?.stop();
});

/** A GET whose access log line can be found by its trace id; `extra` header lines. */
function tracedGet(extra = ''): { text: string; traceId: string } {
  const traceId = randomBytes(16).toString('hex');
  return { text: get('/', server.port, `traceparent: 00-${traceId}-${randomBytes(8).toString('hex')}-01\r\n${extra}`), traceId };
}

const clientLogged = async (traceId: string): Promise<unknown> => (await server.waitForLog((line: LogLine) => line.msg === 'request' && line.traceId === traceId)).client;

/** A connection from `from` that has had one GET answered, so the server holds it. */
async function served(from: string): Promise<{ client: RawClient; response: RawResponse }> {
  const client = await RawClient.connect(server.port, '127.0.0.1', from);
  client.write(get('/', server.port));
  const [response] = await client.responses(1);
  return { client, response: response! };
}

const upload = (extra = '', body = '{"n":1}'): string =>
  `POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`;

async function uploadFrom(from: string, extra = ''): Promise<RawResponse> {
  const client = await RawClient.connect(server.port, '127.0.0.1', from);
  try {
    client.write(upload(extra));
    const [response] = await client.responses(1);
    return response!;
  } finally {
    client.close();
  }
}

describe('connections per client address', () => {
  test('one address past MAX_CONNECTIONS_PER_CLIENT gets 503 and is closed; twenty others are not affected', async () => {
    const rejected = (): Promise<number> => metric(server.adminPort, 'http_server_rejected_total', 'reason="client_limit"');
    const before = await rejected();
    const greedy = await Promise.all(Array.from({ length: CAP }, () => served('127.0.1.1')));
    assert.deepEqual(greedy.map(({ response }) => response.status), Array(CAP).fill(200));

    const over = await RawClient.connect(server.port, '127.0.0.1', '127.0.1.1');
    over.write(get('/', server.port));
    const [refused] = await over.responses(1);
    assert.equal(refused!.status, 503);
    assert.equal(refused!.headers['retry-after'], '1');
    assert.equal(refused!.headers.connection, 'close');
    assert.match(refused!.headers['x-trace-id'] ?? '', /^[0-9a-f]{32}$/, 'every response on the public port has a trace id');
    await over.waitClosed();
    assert.equal(await rejected(), before + 1);
    const told = await server.waitForLog((line) => line.reason === 'client_limit');
    assert.deepEqual([told.level, told.client], ['warn', '127.0.1.1']);

    const others = await Promise.all(Array.from({ length: 20 * CAP }, (_, i) => served(`127.0.1.${2 + (i % 20)}`)));
    assert.ok(others.every(({ response }) => response.status === 200), 'every other address has its own cap');

    // A connection that closes gives its slot back.
    const open = (): Promise<number> => metric(server.adminPort, 'http_server_open_connections');
    const openBefore = await open();
    greedy[0]!.client.close();
    await waitFor(async () => (await open()) < openBefore, 'the server to see the close');
    const again = await served('127.0.1.1');
    assert.equal(again.response.status, 200);
    assert.equal(await rejected(), before + 1);
    for (const { client } of [...greedy, ...others, again]) client.close();
  });

  test('a client that reconnects as soon as each response asks it to close is never refused', async () => {
    const lane = async (): Promise<number[]> => {
      const statuses = [];
      for (let round = 0; round < 20; round++) {
        const client = await RawClient.connect(server.port, '127.0.0.1', '127.0.1.40');
        client.write(get('/', server.port, 'Connection: close\r\n'));
        statuses.push((await client.responses(1))[0]!.status);
        client.close();
      }
      return statuses;
    };
    const lanes = await Promise.all(Array.from({ length: CAP }, lane));
    assert.deepEqual(lanes.flat().filter((status) => status !== 200), [], 'CAP lanes, each reconnecting as its last connection closes');
  });

  test('connections the server has ended leave their slots while they close, up to as many again', async () => {
    const ended = await Promise.all(Array.from({ length: CAP }, () => finishedButOpen(server.port, '127.0.1.41')));
    const held: RawClient[] = [];
    try {
      for (let i = 0; i < CAP; i++) {
        const { client, response } = await served('127.0.1.41');
        held.push(client);
        assert.equal(response.status, 200, `a new connection beside ${CAP} ended ones that the client keeps open`);
      }
      const over = await RawClient.connect(server.port, '127.0.0.1', '127.0.1.41');
      over.write(get('/', server.port));
      assert.equal((await over.responses(1))[0]!.status, 503, 'twice the cap: a client that never closes holds no more');
      over.close();
    } finally {
      for (const socket of ended) socket.destroy();
      for (const client of held) client.close();
    }
  });

  test('a trusted proxy carries many clients: its connections are not capped', async () => {
    const through = await Promise.all(Array.from({ length: CAP + 2 }, () => served(PROXY)));
    assert.ok(through.every(({ response }) => response.status === 200));
    for (const { client } of through) client.close();
  });
});

describe('X-Forwarded-For', () => {
  test('from a trusted proxy, the rightmost address that is not a trusted proxy is the client', async () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ['198.51.100.23', '198.51.100.23'],
      // What the client wrote itself (the leftmost entry) is never believed past the proxy's own.
      ['10.9.9.9, 203.0.113.40', '203.0.113.40'],
      [`203.0.113.41, ${PROXY}`, '203.0.113.41'],
      ['[2001:db8::5]:4711', '2001:db8::5'],
      // Not an address: the walk stops and the proxy is all that is known.
      ['unknown', PROXY],
      // Loopback and link-local sources are clients: processes on the proxy's own host.
      ['127.0.0.1', '127.0.0.1'],
      ['[fe80::1]:80', 'fe80::1'],
    ];
    for (const [forwarded, client] of cases) {
      const request = tracedGet(`X-Forwarded-For: ${forwarded}\r\n`);
      const connection = await RawClient.connect(server.port, '127.0.0.1', PROXY);
      connection.write(request.text);
      assert.equal((await connection.responses(1))[0]!.status, 200);
      assert.equal(await clientLogged(request.traceId), client, forwarded);
      connection.close();
    }
  });

  test('a trusted chain naming a source no client has is refused with 400, and the connection serves on', async () => {
    const counted = (): Promise<number> => metric(server.adminPort, 'http_server_security_rejections_total', 'reason="bad_forwarded_source"');
    const before = await counted();
    const impossible = ['0.0.0.0', '0.1.2.3', '224.0.0.1', '240.0.0.1', '255.255.255.255', '[::]:443', 'ff02::1', '::ffff:0.0.0.0', `0.0.0.0, ${PROXY}`];
    const connection = await RawClient.connect(server.port, '127.0.0.1', PROXY);
    try {
      for (const [i, forwarded] of impossible.entries()) {
        const request = tracedGet(`X-Forwarded-For: ${forwarded}\r\n`);
        connection.write(request.text);
        const response = (await connection.responses(i + 1))[i]!;
        assert.equal(response.status, 400, forwarded);
        assert.match(response.body.toString('utf8'), /X-Forwarded-For names a source address that no client can have\./);
        const line = await server.waitForLog((entry) => entry.msg === 'request' && entry.traceId === request.traceId);
        // No client is known: the line names the proxy, which sent the request.
        assert.deepEqual([line.status, line.reason, line.client], [400, 'bad_forwarded_source', PROXY], forwarded);
      }
      assert.equal(await counted(), before + impossible.length);
      const refusal = await server.waitForLog((entry) => entry.msg === 'security refusal' && entry.rule === 'bad_forwarded_source');
      assert.equal(refusal.client, PROXY);
      // Its code as reason, as on the access line; the address it named in the words of detail.
      assert.equal(refusal.reason, 'bad_forwarded_source');
      assert.match(String(refusal.detail), /^X-Forwarded-For names \S+, which no TCP client has$/);
      // The refusal is that request's alone: the proxy's connection carries the next client.
      const next = tracedGet('X-Forwarded-For: 198.51.100.25\r\n');
      connection.write(next.text);
      assert.equal((await connection.responses(impossible.length + 1))[impossible.length]!.status, 200);
      assert.equal(await clientLogged(next.traceId), '198.51.100.25');
    } finally {
      connection.close();
    }
  });

  test('uploads naming a source no client has are refused without spending a bucket that all of them would share', async () => {
    const statuses = [];
    for (let i = 0; i <= BURST; i++) statuses.push((await uploadFrom(PROXY, 'X-Forwarded-For: 0.0.0.0\r\n')).status);
    assert.deepEqual(statuses, Array(BURST + 1).fill(400));
  });

  test('from anyone else it is ignored, whatever it names', async () => {
    for (const forwarded of ['198.51.100.24', '0.0.0.0']) {
      const request = tracedGet(`X-Forwarded-For: ${forwarded}\r\n`);
      const connection = await RawClient.connect(server.port, '127.0.0.1', '127.0.2.2');
      connection.write(request.text);
      assert.equal((await connection.responses(1))[0]!.status, 200, forwarded);
      assert.equal(await clientLogged(request.traceId), '127.0.2.2', forwarded);
      connection.close();
    }
  });
});

describe('the upload rate', () => {
  test('past UPLOAD_BURST a client gets 429 with Retry-After, before its body is read; others are not affected', async () => {
    const counted = (): Promise<number> => metric(server.adminPort, 'http_server_security_rejections_total', 'reason="upload_rate"');
    const before = await counted();
    for (let i = 0; i < BURST; i++) assert.equal((await uploadFrom('127.0.3.1')).status, 201);

    // Expect: 100-continue: the refusal comes instead of the 100, and the body is never asked for.
    const client = await RawClient.connect(server.port, '127.0.0.1', '127.0.3.1');
    client.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n`);
    const [refused] = await client.responses(1);
    assert.equal(refused!.status, 429);
    const retryAfter = Number(refused!.headers['retry-after']);
    // One upload a minute is earned back: the next comes within 60 s.
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `Retry-After: ${refused!.headers['retry-after']}`);
    assert.equal(refused!.headers.connection, 'close', 'the unread body cannot be skipped: the connection closes');
    await client.waitClosed();

    // An empty body is already read: the connection stays open after the 429.
    const empty = await RawClient.connect(server.port, '127.0.0.1', '127.0.3.1');
    empty.write(upload('', ''));
    const [emptyRefused] = await empty.responses(1);
    assert.equal(emptyRefused!.status, 429);
    assert.match(emptyRefused!.headers.connection ?? '', /keep-alive/);
    empty.close();

    assert.equal((await uploadFrom('127.0.3.2')).status, 201, 'another address has its own bucket');
    assert.equal(await counted(), before + 2);
    const logged = await server.waitForLog((line) => line.msg === 'security refusal' && line.rule === 'upload_rate');
    assert.equal(logged.client, '127.0.3.1');
  });

  test('a chunked body found too large midway costs no upload, as one announced too large does not', async () => {
    for (let i = 0; i <= BURST; i++) {
      const client = await RawClient.connect(server.port, '127.0.0.1', '127.0.3.7');
      // One chunk of MAX_BODY_BYTES + 1: refused at its size line, after the gate took its token.
      client.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n`);
      const [refused] = await client.responses(1);
      assert.equal(refused!.status, 413);
      client.close();
    }
    assert.equal((await uploadFrom('127.0.3.7')).status, 201);
  });

  test('behind a trusted proxy each forwarded client has its own bucket', async () => {
    const from = (client: string): Promise<RawResponse> => uploadFrom(PROXY, `X-Forwarded-For: ${client}\r\n`);
    const statuses = [];
    for (let i = 0; i <= BURST; i++) statuses.push((await from('198.51.100.50')).status);
    assert.deepEqual(statuses, [...Array(BURST).fill(201), 429]);
    assert.equal((await from('198.51.100.51')).status, 201);
  });
});

describe('IPv6 clients behind a trusted proxy', () => {
  test('share one upload bucket per /64 (CLIENT_IPV6_PREFIX), whatever address each request names', async () => {
    const from = (client: string): Promise<RawResponse> => uploadFrom(PROXY, `X-Forwarded-For: ${client}\r\n`);
    const statuses = [];
    for (let i = 0; i <= BURST; i++) statuses.push((await from(`2001:db8:0:50::${i + 1}`)).status);
    assert.deepEqual(statuses, [...Array(BURST).fill(201), 429]);
    const logged = await server.waitForLog((line) => line.msg === 'security refusal' && line.rule === 'upload_rate' && String(line.client).startsWith('2001:db8'));
    assert.equal(logged.client, `2001:db8:0:50::${BURST + 1}`, 'logs name the address');
    assert.equal((await from('2001:db8:0:51::1')).status, 201, 'the next /64 is another client');
    const started = server.logs.find((line) => typeof line.msg === 'string' && line.msg.startsWith('listening on'));
    assert.equal(started?.clientIpv6Prefix, 64, 'the start line says what is in force');
  });

  test('an IPv4 host behind NAT64 (64:ff9b::/96) is its own client, the same as over IPv4', async () => {
    const from = (client: string): Promise<RawResponse> => uploadFrom(PROXY, `X-Forwarded-For: ${client}\r\n`);
    const statuses = [];
    // 198.51.100.60, written in its translated form, then over IPv4: one bucket.
    for (let i = 0; i < BURST; i++) statuses.push((await from('64:ff9b::c633:643c')).status);
    statuses.push((await from('198.51.100.60')).status);
    assert.deepEqual(statuses, [...Array(BURST).fill(201), 429]);
    // Another IPv4 host behind the same translator, in the same /64, is not held back.
    assert.equal((await from('64:ff9b::198.51.100.61')).status, 201);
  });
});

describe('a flood of distinct source addresses', () => {
  test('4000 clients of one request each: each is forgotten when it goes, memory stays bounded, none is refused', async () => {
    const ADDRESSES = 4000;
    const PARALLEL = 64;
    const address = (i: number): string => `127.10.${Math.floor(i / 250)}.${(i % 250) + 1}`;
    const tracked = (): Promise<number> => metric(server.adminPort, 'http_server_tracked_clients');
    let peakTracked = 0;
    const one = async (i: number): Promise<number> => {
      const { client, response } = await served(address(i));
      client.close();
      return response.status;
    };
    // A first round brings the heap and the pools of the process to their working size.
    for (let i = 0; i < 256; i += PARALLEL) await Promise.all(Array.from({ length: PARALLEL }, (_, j) => one(i + j)));
    await waitFor(async () => (await metric(server.adminPort, 'http_server_open_connections')) === 0, 'the first round to close');
    // The clients of the upload tests above wait for their buckets to refill: they stay.
    const trackedBefore = await tracked();
    const rejectedBefore = await metric(server.adminPort, 'http_server_rejected_total', 'reason="client_limit"');
    const rssBefore = rssBytes(server.process.pid!);
    const statuses = new Map<number, number>();
    const started = Date.now();
    for (let i = 256; i < ADDRESSES && Date.now() - started < 60_000; i += PARALLEL) {
      const round = await Promise.all(Array.from({ length: Math.min(PARALLEL, ADDRESSES - i) }, (_, j) => one(i + j)));
      for (const status of round) statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (i % (8 * PARALLEL) === 0) peakTracked = Math.max(peakTracked, await tracked());
    }
    const growth = rssBytes(server.process.pid!) - rssBefore;
    const count = [...statuses.values()].reduce((a, b) => a + b, 0);
    console.log(`# ${count} clients in ${Date.now() - started} ms, RSS grew ${(growth / 2 ** 20).toFixed(1)} MiB, at most ${peakTracked} clients tracked`);
    assert.deepEqual([...statuses.keys()], [200]);
    assert.equal(await metric(server.adminPort, 'http_server_rejected_total', 'reason="client_limit"'), rejectedBefore);
    assert.ok(peakTracked <= trackedBefore + 2 * PARALLEL, `${peakTracked} clients tracked at once`);
    await waitFor(async () => (await tracked()) === trackedBefore, 'every client of the flood to be forgotten');
    // RSS grows by a few KiB per connection accepted whoever makes them (the allocator keeps
    // what it freed): the bound is that, with room to spare, not per-address state.
    assert.ok(growth < 64 * 2 ** 20, `RSS grew ${growth} bytes`);
  });
});

test('an upload refused for memory before its body is read spends nothing of its client\'s upload bucket', async () => {
  const own = await startServer({ env: { UPLOAD_BURST: '3', UPLOAD_RATE_PER_MINUTE: '1', MAX_BODY_MEMORY_PER_CLIENT_BYTES: String(1024 * 1024) } });
  try {
    const head = (length: number): string => `POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${own.port}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
    // One upload holds the client's whole part of the body memory, its body not yet sent.
    const holder = await RawClient.connect(own.port, '127.0.0.1', '127.0.4.1');
    holder.write(head(1024 * 1024));
    await waitFor(async () => (await metric(own.adminPort, 'http_server_body_memory_bytes')) === 1024 * 1024, 'the share to be taken');
    // Retrying as told, three times: each a 429 for memory, none for the rate.
    for (let i = 0; i < 3; i++) {
      const retry = await RawClient.connect(own.port, '127.0.0.1', '127.0.4.1');
      retry.write(head(2));
      const [refused] = await retry.responses(1);
      assert.equal(refused!.status, 429);
      assert.equal(refused!.headers['retry-after'], '1');
      retry.close();
    }
    assert.equal(await metric(own.adminPort, 'http_server_security_rejections_total', 'reason="body_memory_share"'), 3);
    assert.equal(await metric(own.adminPort, 'http_server_security_rejections_total', 'reason="upload_rate"'), 0);
    holder.close();
    await waitFor(async () => (await metric(own.adminPort, 'http_server_body_memory_bytes')) === 0, 'the share to be free');
    // The bucket lost only the holder's upload: the next one is stored.
    const client = await RawClient.connect(own.port, '127.0.0.1', '127.0.4.1');
    client.write(`${head(2)}{}`);
    assert.equal((await client.responses(1))[0]!.status, 201);
    client.close();
  } finally {
    await own.stop();
  }
});

describe('an IPv6 block in TRUSTED_PROXIES', () => {
  // node:net's BlockList alone matched IPv4 peers against `::/0` through their mapped form:
  // every IPv4 client was a trusted proxy, named any client it liked and had no cap.
  let wide: StartedServer;
  before(async () => {
    wide = await startServer({ env: { MAX_CONNECTIONS_PER_CLIENT: '2', TRUSTED_PROXIES: '::/0' } });
  });
  after(async () => {
    await wide?.stop();
  });

  test('trusts no IPv4 peer: its X-Forwarded-For is ignored and its connections are capped', async () => {
    const traceId = randomBytes(16).toString('hex');
    const first = await RawClient.connect(wide.port, '127.0.0.1', '127.0.3.1');
    first.write(get('/', wide.port, `traceparent: 00-${traceId}-${randomBytes(8).toString('hex')}-01\r\nX-Forwarded-For: 6.6.6.6\r\n`));
    assert.equal((await first.responses(1))[0]!.status, 200);
    const logged = await wide.waitForLog((line: LogLine) => line.msg === 'request' && line.traceId === traceId);
    assert.equal(logged.client, '127.0.3.1');
    const second = await RawClient.connect(wide.port, '127.0.0.1', '127.0.3.1');
    second.write(get('/', wide.port));
    assert.equal((await second.responses(1))[0]!.status, 200);
    const third = await RawClient.connect(wide.port, '127.0.0.1', '127.0.3.1');
    third.write(get('/', wide.port));
    assert.equal((await third.responses(1))[0]!.status, 503, 'past MAX_CONNECTIONS_PER_CLIENT, as for any client');
    for (const connection of [first, second, third]) connection.close();
  });
});
