// The admin listener's probes: /livez (and /healthz), /readyz, HEAD, unknown paths and
// methods, and readiness turning 503 as soon as a shutdown begins.
import assert from 'node:assert/strict';
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { get, request } from '../helpers/raw.js';
import { imageNodeFlags, startServer, type StartedServer } from '../helpers/server.js';
import { metric, openFds, rssBytes, waitFor } from '../fixtures/probes.js';

interface AdminResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One request to the admin port with node:http (the admin side is plain node:http too). */
function admin(port: number, method: string, path: string, headers: OutgoingHttpHeaders = {}): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A connection to the admin port from `from`, a loopback address, once connected. */
function openAdmin(port: number, from: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: from }, () => resolve(socket));
    socket.on('error', reject);
  });
}

/** Resolves once the server has closed `socket` without a byte of answer; fails otherwise. */
async function refused(socket: Socket): Promise<void> {
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('close', resolve));
  assert.equal(received, '', 'closed unanswered');
}

describe('admin probes', () => {
  let server: StartedServer;
  before(async () => {
    server = await startServer({ env: { MAX_THREADS: '2' } });
  });
  after(async () => {
    await server.stop();
  });

  for (const path of ['/livez', '/healthz']) {
    test(`GET ${path} answers 200 with a small JSON body`, async () => {
      const response = await admin(server.adminPort, 'GET', path);
      assert.equal(response.status, 200);
      assert.equal(response.headers['content-type'], 'application/json');
      assert.equal(response.headers['cache-control'], 'no-store');
      assert.equal(Number(response.headers['content-length']), Buffer.byteLength(response.body));
      const document = JSON.parse(response.body) as Record<string, unknown>;
      assert.equal(document.status, 'ok');
      assert.equal(typeof document.uptimeSeconds, 'number');
      assert.equal(typeof document.eventLoopDelayP99Ms, 'number');
      assert.ok(response.body.length < 200, `a probe body stays small: ${response.body}`);
    });
  }

  test('GET /readyz answers 200 while the listener is bound and every worker is alive', async () => {
    const response = await admin(server.adminPort, 'GET', '/readyz');
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(response.body), { status: 'ready' });
  });

  test('a query string does not change the probe', async () => {
    const response = await admin(server.adminPort, 'GET', '/readyz?verbose=1');
    assert.equal(response.status, 200);
    assert.deepEqual(JSON.parse(response.body), { status: 'ready' });
  });

  test('any Host is accepted: orchestrators probe with the pod address', async () => {
    const response = await admin(server.adminPort, 'GET', '/livez', { Host: '10.1.2.3:9090' });
    assert.equal(response.status, 200);
  });

  for (const path of ['/livez', '/healthz', '/readyz', '/metrics']) {
    test(`HEAD ${path} answers like GET without a body`, async () => {
      const [head, getResponse] = await Promise.all([admin(server.adminPort, 'HEAD', path), admin(server.adminPort, 'GET', path)]);
      assert.equal(head.status, 200);
      assert.equal(head.body, '');
      assert.equal(head.headers['content-type'], getResponse.headers['content-type']);
      assert.ok(Number(head.headers['content-length']) > 0, 'HEAD announces the length GET would send');
      // /readyz's body is fixed; the others carry live figures (uptime, loop delay, metrics) whose digits may differ.
      if (path === '/readyz') assert.equal(head.headers['content-length'], getResponse.headers['content-length']);
    });
  }

  for (const path of ['/', '/nope', '/metrics/extra', '/readyz/', '/upload']) {
    test(`unknown path ${path} answers 404`, async () => {
      const response = await admin(server.adminPort, 'GET', path);
      assert.equal(response.status, 404);
      assert.equal(response.headers['content-type'], 'application/json');
      assert.equal((JSON.parse(response.body) as { status: string }).status, 'error');
    });
  }

  for (const [method, path] of [['POST', '/metrics'], ['PUT', '/readyz'], ['DELETE', '/livez'], ['PATCH', '/healthz'], ['OPTIONS', '/metrics']] as const) {
    test(`${method} ${path} answers 405 with Allow`, async () => {
      const response = await admin(server.adminPort, method, path);
      assert.equal(response.status, 405);
      assert.equal(response.headers.allow, 'GET, HEAD');
      assert.equal((JSON.parse(response.body) as { status: string }).status, 'error');
    });
  }

  /** Raw bytes to the admin port; resolves with what came back once the server closes. */
  function raw(bytes: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(server.adminPort, '127.0.0.1', () => socket.end(bytes));
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      socket.on('error', reject);
    });
  }

  test('pipelined requests sent with FIN are answered in order; refusals are JSON, and the parser\'s close the connection', async () => {
    const both = await raw('GET /livez HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\nHEAD /readyz HTTP/1.1\r\n\r\n');
    assert.deepEqual([...both.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => match[1]), ['200', '200', '200']);
    assert.ok(both.endsWith('Connection: keep-alive\r\n\r\n'), 'the HEAD answer, last, has no body');
    const withBody = await raw('POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello');
    assert.match(withBody, /^HTTP\/1\.1 413 [^]*Connection: close[^]*"status":"error"/);
    const malformed = await raw('GET /livez HTTP/1.1\r\nBad Header\r\n\r\nGET /livez HTTP/1.1\r\n\r\n');
    assert.match(malformed, /^HTTP\/1\.1 400 [^]*Connection: close[^]*"status":"error"/);
    assert.equal(malformed.split('HTTP/1.1').length - 1, 1, 'nothing is read after a malformed request');
    const http10 = await raw('GET /livez HTTP/1.0\r\n\r\n');
    assert.match(http10, /^HTTP\/1\.1 200 [^]*Connection: close/);
  });

  test('an HTTP/1.1 probe without Host, and one in absolute form, are answered like any other', async () => {
    assert.match(await raw('GET /livez HTTP/1.1\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200 /);
    assert.match(await raw('GET http://10.0.0.5:9090/readyz HTTP/1.1\r\nHost: 10.0.0.5:9090\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 200 [^]*"ready"/);
    assert.match(await raw('GET http://10.0.0.5:9090/nope HTTP/1.1\r\nHost: 10.0.0.5:9090\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 404 /);
  });

  test('a connection that sends part of a head and falls silent gets 408 within seconds and is closed', async () => {
    const started = Date.now();
    const socket = connect(server.adminPort, '127.0.0.1', () => socket.write('GET /livez HTTP/1.1\r\nX-Slow: '));
    socket.on('error', () => undefined);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    await new Promise((resolve) => socket.once('close', resolve));
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 15_000, `closed after ${elapsed} ms`);
    assert.match(received, /^HTTP\/1\.1 408 [^]*Connection: close[^]*"status":"error"/);
  });

  test('one address holds at most 8 connections, each refusal counted and logged once a second at most; a probe from another address is answered all the while', async () => {
    const refusedBefore = await metric(server.adminPort, 'http_server_security_rejections_total', 'reason="admin_client_limit"');
    const held = await Promise.all(Array.from({ length: 8 }, () => openAdmin(server.adminPort, '127.0.0.7')));
    for (let i = 0; i < 3; i++) await refused(await openAdmin(server.adminPort, '127.0.0.7'));
    const probe = await fetch(`http://127.0.0.1:${server.adminPort}/livez`);
    assert.equal(probe.status, 200, 'the kubelet\'s probe still gets in');
    await probe.arrayBuffer();
    assert.ok(held.every((socket) => !socket.destroyed), 'the first 8 stay open');
    assert.equal(await metric(server.adminPort, 'http_server_security_rejections_total', 'reason="admin_client_limit"'), refusedBefore + 3);
    // The first is told at once; the two after it, within its second, are held back, and the
    // last of them is told when the second ends, with the count of the other.
    const first = await server.waitForLog((line) => line.reason === 'admin_client_limit', 3000);
    assert.deepEqual({ level: first.level, peer: first.peer, suppressed: first.suppressed }, { level: 'warn', peer: '127.0.0.7', suppressed: 0 });
    assert.match(String(first.msg), /^admin port: connection closed unanswered, its address holds 8 already$/);
    const last = await server.waitForLog((line) => line.reason === 'admin_client_limit' && line !== first, 3000);
    assert.equal(last.suppressed, 1);
    assert.equal(server.logs.filter((line) => line.reason === 'admin_client_limit').length, 2, 'three refusals, two lines');
    for (const socket of held) socket.destroy();
  });

  test('the admin port is not the public port', async () => {
    assert.notEqual(server.adminPort, server.port);
    const response = await request(server.port, get('/readyz', server.port));
    assert.equal(response.status, 404, 'the public side serves files, not probes');
  });
});

// A server of its own: nothing else may hold a connection to its admin port (fetch keeps its
// connections alive), so the 65th connection is the test's.
describe('the admin port full', () => {
  let server: StartedServer;
  before(async () => {
    server = await startServer({ env: { MAX_THREADS: '1' } });
  });
  after(async () => {
    await server.stop();
  });

  test('the port holds at most 64 connections: the next, from a ninth address, is closed unanswered, counted and logged', async () => {
    const held = await Promise.all(Array.from({ length: 64 }, (_, i) => openAdmin(server.adminPort, `127.0.3.${(i % 8) + 1}`)));
    await refused(await openAdmin(server.adminPort, '127.0.3.9'));
    const line = await server.waitForLog((line) => line.reason === 'admin_connection_limit', 3000);
    assert.deepEqual({ level: line.level, peer: line.peer, suppressed: line.suppressed }, { level: 'warn', peer: '127.0.3.9', suppressed: 0 });
    assert.match(String(line.msg), /^admin port: connection closed unanswered, the port holds 64 already$/);
    for (const socket of held) socket.destroy();
    // The server sees the closes a moment later: a scrape until then is refused, and counted, too.
    let counted = NaN;
    await waitFor(async () => !Number.isNaN((counted = await metric(server.adminPort, 'http_server_security_rejections_total', 'reason="admin_connection_limit"').catch(() => NaN))), 'a scrape to get in', 5000);
    assert.ok(counted >= 1, `${counted} refusals counted`);
    assert.equal(await metric(server.adminPort, 'http_server_security_rejections_total', 'reason="admin_client_limit"'), 0, 'no address was over its own cap');
  });
});

describe('readiness during shutdown', () => {
  const DELAY_MS = 1500;
  let server: StartedServer;
  before(async () => {
    server = await startServer({ env: { SHUTDOWN_DELAY_MS: String(DELAY_MS) } });
  });
  after(async () => {
    await server.stop('SIGKILL');
  });

  test('/readyz turns 503 at once on SIGTERM while traffic is still served during the drain delay', async () => {
    assert.equal((await admin(server.adminPort, 'GET', '/readyz')).status, 200);
    server.process.kill('SIGTERM');

    let notReady: AdminResponse | null = null;
    for (let attempt = 0; attempt < 250 && notReady === null; attempt++) {
      const response = await admin(server.adminPort, 'GET', '/readyz');
      if (response.status === 503) notReady = response;
      else await sleep(20);
    }
    assert.ok(notReady !== null, '/readyz never turned 503 after SIGTERM');
    const listenerClosed = (line: { msg?: string }): boolean => line.msg === 'shutdown: listener closed, finishing in-flight requests';
    assert.ok(!server.logs.some(listenerClosed), `readiness must flip before the listener closes (SHUTDOWN_DELAY_MS=${DELAY_MS})`);
    assert.equal(notReady.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(notReady.body), { status: 'not ready', reason: 'shutting down' });

    // Orchestrators need time to stop routing here: during the delay the server still works.
    const live = await admin(server.adminPort, 'GET', '/livez');
    assert.equal(live.status, 200, 'liveness stays 200 during a graceful shutdown');
    const head = await admin(server.adminPort, 'HEAD', '/readyz');
    assert.equal(head.status, 503);
    assert.equal(head.body, '');
    const page = await request(server.port, get('/', server.port));
    assert.equal(page.status, 200, 'the public listener still serves during SHUTDOWN_DELAY_MS');
    assert.ok(!server.logs.some(listenerClosed), 'the checks above ran inside the drain delay');

    const started = await server.waitForLog((line) => line.msg === 'shutdown: not ready any more, draining');
    assert.equal(started.signal, 'SIGTERM');
    assert.equal(started.delayMs, DELAY_MS);
    assert.equal(await server.exited, 0);
    const order = server.logs.map((line) => line.msg);
    assert.ok(order.indexOf('shutdown: not ready any more, draining') < order.findIndex((msg) => msg === 'shutdown: listener closed, finishing in-flight requests'));
  });
});

describe('the admin port under a flood of pipelined scrapes', () => {
  let flooded: StartedServer;
  before(async () => {
    // The bound is the image's: its node flags hold the main thread's heap (docs/memory.md).
    flooded = await startServer({ env: { MAX_THREADS: '2' }, nodeArgs: await imageNodeFlags() });
  });
  after(async () => {
    await flooded.stop();
  });

  test('connections that pipeline thousands of scrapes and stop reading hold one answer at a time, and are closed once stalled; memory and the public port stay as they were', async () => {
    const pid = flooded.process.pid!;
    const before = rssBytes(pid);
    const fdsBefore = openFds(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 50);
    const scrapes = 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(3000);
    const flooders = await Promise.all(
      // 32 connections, from four addresses of eight each.
      Array.from({ length: 32 }, (_, i) =>
        new Promise<Socket>((resolve) => {
          const socket = connect({ port: flooded.adminPort, host: '127.0.0.1', localAddress: `127.0.9.${(i % 4) + 1}` }, () => socket.write(scrapes, () => resolve(socket)));
          socket.pause(); // reads nothing, for now
          socket.on('error', () => undefined);
        }),
      ),
    );
    try {
      const page = await request(flooded.port, get('/sample.txt', flooded.port), 3000);
      assert.equal(page.status, 200, 'the public port answers meanwhile');
      // Once the socket buffers are full (some hundred answers each), 5 s without traffic either
      // way and the server closes the stalled connections: its descriptors come back.
      await waitFor(() => openFds(pid) <= fdsBefore, 'the stalled connections closed by the server', 45_000);
      const probe = await admin(flooded.adminPort, 'GET', '/livez');
      assert.equal(probe.status, 200);
    } finally {
      clearInterval(sampler);
      for (const socket of flooders) socket.destroy();
    }
    // When node:http served this port, 32 such connections took the server from about 200 to 940 MiB.
    // What it grows by is the heap of rendering scrapes for some seconds, not what the clients sent.
    assert.ok(peak - before < 64 * 2 ** 20, `RSS grew from ${(before / 2 ** 20).toFixed(0)} to ${(peak / 2 ** 20).toFixed(0)} MiB`);
  });
});
