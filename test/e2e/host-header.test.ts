// The Host header by the RFC against the real server: a Host without a port (or with an empty
// one) means port 80 (RFC 9110 §7.2, RFC 3986 §6.2.3), ALLOWED_HOSTS entries without a port
// mean port 80, and the default allowlist is in place before the first connection is accepted.
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { connect, createServer } from 'node:net';
import { test, type TestContext } from 'node:test';
import { freePort, request } from '../helpers/raw.js';
import { startServer } from '../helpers/server.js';

const statusFor = async (port: number, host: string, target = '/index.html'): Promise<number> =>
  (await request(port, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)).status;

/** Whether this process may bind `port` on `host` now (it is free, and we may use it). */
function canBind(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? String(error)));
    probe.listen({ host, port }, () => probe.close(() => resolve(null)));
  });
}

function skipWithReason(t: TestContext, reason: string): void {
  t.diagnostic(`SKIPPED: ${reason}`);
  t.skip(reason);
}

test('with PORT=80, Host: localhost (no port, or an empty one) is served', async (t) => {
  const problem = await canBind('127.0.0.1', 80);
  if (problem !== null) return skipWithReason(t, `127.0.0.1:80 cannot be bound here (${problem}): run as root with port 80 free`);
  const server = await startServer({ env: { PORT: '80', LISTEN_SOCKETS: '1' } });
  try {
    assert.equal(server.port, 80);
    for (const host of ['localhost', 'LOCALHOST', 'localhost:', 'localhost:80', '127.0.0.1', '127.0.0.1:80', '[::1]', '[::1]:80']) {
      assert.equal(await statusFor(80, host), 200, host);
    }
    assert.equal(await statusFor(80, 'evil.example', 'http://localhost/index.html'), 200, 'absolute form without a port');
    for (const host of ['localhost:8080', 'localhost:080', 'evil.example']) assert.equal(await statusFor(80, host), 403, host);
  } finally {
    await server.stop();
  }
});

test('an ALLOWED_HOSTS entry without a port matches its name on port 80 only', async () => {
  const server = await startServer({ env: { ALLOWED_HOSTS: 'Example.test,[::1],app.test:8080' } });
  try {
    const { port } = server;
    for (const host of ['example.test', 'EXAMPLE.TEST', 'example.test:', 'example.test:80', '[::1]', '[::1]:80', 'app.test:8080']) {
      assert.equal(await statusFor(port, host), 200, host);
    }
    assert.equal(await statusFor(port, 'evil.example', 'http://example.test/index.html'), 200, 'absolute form without a port');
    // ALLOWED_HOSTS replaces the default list, so the listening port itself is not allowed.
    for (const host of [`example.test:${port}`, 'example.test:8080', `[::1]:${port}`, 'app.test', 'app.test:80', `127.0.0.1:${port}`]) {
      assert.equal(await statusFor(port, host), 403, host);
    }
    const line = await server.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('listening on'));
    assert.deepEqual(line.allowedHosts, ['example.test:80', '[::1]:80', 'app.test:8080']);
  } finally {
    await server.stop();
  }
});

test('HOST=::ffff:127.0.0.1: fetch, which sends the RFC 5952 form [::ffff:7f00:1], is served; an IPv4 literal in brackets is 400', async (t) => {
  const problem = await canBind('::ffff:127.0.0.1', 0);
  if (problem !== null) return skipWithReason(t, `::ffff:127.0.0.1 cannot be bound here (${problem})`);
  const server = await startServer({ env: { HOST: '::ffff:127.0.0.1' } });
  try {
    const { port } = server;
    const response = await fetch(`http://[::ffff:127.0.0.1]:${port}/index.html`);
    assert.equal(response.status, 200, 'fetch names the host [::ffff:7f00:1]');
    await response.arrayBuffer();
    for (const host of [`[::ffff:127.0.0.1]:${port}`, `[::FFFF:7F00:1]:${port}`, `[0:0:0:0:0:ffff:7f00:0001]:${port}`]) assert.equal(await statusFor(port, host), 200, host);
    for (const host of [`[127.0.0.1]:${port}`, `[:]:${port}`, `[::ffff:1.2.3.4.5]:${port}`, `[v1.x]:${port}`]) assert.equal(await statusFor(port, host), 400, host);
    const line = await server.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('listening on'));
    assert.ok((line.allowedHosts as string[]).includes(`[::ffff:7f00:1]:${port}`), JSON.stringify(line.allowedHosts));
  } finally {
    await server.stop();
  }
});

/** One request on a new connection: its status, or null when the connection is refused. */
function tryRequest(address: string, port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port });
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () => socket.destroy());
    socket.once('connect', () => socket.write(`GET /index.html HTTP/1.1\r\nHost: localhost:${port}\r\nConnection: close\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', () => resolve(null));
    socket.once('close', () => {
      const status = Number(Buffer.concat(chunks).toString('latin1').split(' ', 2)[1]);
      resolve(Number.isInteger(status) ? status : null);
    });
  });
}

test('the default allowlist is complete before the first of many listening sockets accepts', async (t) => {
  if (process.platform !== 'linux') {
    return skipWithReason(t, `several listening sockets need Linux (this is ${process.platform})`);
  }
  // HOST=localhost: every socket resolves the name before it binds, which takes event-loop
  // turns, so the first socket accepts long before the 64th is bound.
  const { address } = await lookup('localhost');
  const port = await freePort(address);
  let started = false;
  const starting = startServer({ env: { HOST: 'localhost', PORT: String(port), LISTEN_SOCKETS: '64' } }).then((server) => {
    started = true;
    return server;
  });
  const statuses = new Map<number, number>();
  let answeredBeforeStartLine = 0;
  let answeredAfterStartLine = 0;
  const deadline = Date.now() + 15_000;
  // A few clients, each one connection at a time, from before the first bind until 50
  // answers after the start line.
  const client = async (): Promise<void> => {
    while (answeredAfterStartLine < 50 && Date.now() < deadline) {
      const listening = started;
      const status = await tryRequest(address, port);
      if (status === null) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (listening) answeredAfterStartLine++;
      else answeredBeforeStartLine++;
    }
  };
  try {
    await Promise.all(Array.from({ length: 4 }, client));
    t.diagnostic(`answers by status: ${JSON.stringify(Object.fromEntries(statuses))}; ${answeredBeforeStartLine} before the start line`);
    assert.ok(answeredAfterStartLine >= 50, `the server answered ${answeredAfterStartLine} requests after its start line`);
    assert.deepEqual([...statuses.keys()], [200]);
  } finally {
    await starting.then((server) => server.stop(), () => undefined);
  }
});
