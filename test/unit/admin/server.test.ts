import assert from 'node:assert/strict';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { test } from 'node:test';
import type { Registry } from 'prom-client';
import { AdminServer } from '../../../src/admin/server.js';
import { modulesLoadedBy } from '../../helpers/modules.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const ADMIN_SERVER = new URL('../../../src/admin/server.js', import.meta.url);
/** node:http, and what an ESM import of it loads through its namespace's lazy getters (WebSocket and the like). */
const UNWANTED = ['http', 'internal/deps/undici/undici', 'http2', 'internal/webstreams/readablestream'];

test('the admin listener loads no HTTP library: not node:http, undici, http2 or web streams', async () => {
  const { byImport } = await modulesLoadedBy(ADMIN_SERVER);
  assert.ok(byImport.includes('NativeModule net'), `node:net not loaded: ${byImport.join(', ')}`);
  for (const name of UNWANTED) assert.ok(!byImport.includes(`NativeModule ${name}`), `${name} loaded: ${byImport.join(', ')}`);
});

/** An admin server on an ephemeral loopback port whose registry counts its renderings, and the refusals it tells (`reason peer`). */
async function countingAdmin(ipv6PrefixBits = 64): Promise<{ server: AdminServer; port: number; renders: () => number; refusals: string[] }> {
  let renders = 0;
  const refusals: string[] = [];
  const registry = { contentType: 'text/plain', metrics: async () => `renders ${++renders}\n` } as unknown as Registry;
  const server = new AdminServer({ host: '127.0.0.1', port: 0, registry, metricsTokens: null, notReadyReason: () => null, ipv6PrefixBits, answerFailed: () => undefined, connectionRefused: (reason, peer) => refusals.push(`${reason} ${peer}`) });
  const { port } = await server.listen();
  return { server, port, renders: () => renders, refusals };
}

/** Opens a connection from `from`, writes `bytes`, and resolves with all it receives until the server closes it. */
function exchange(port: number, from: string, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = connect({ port, host: '127.0.0.1', localAddress: from }, () => socket.end(bytes));
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
}

test('scrapes that come together share renderings: each turn of the event loop renders at most once', async () => {
  const { server, port, renders } = await countingAdmin();
  try {
    const SCRAPES = 50;
    const pipeline = 'GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n'.repeat(SCRAPES);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => exchange(port, `127.0.8.${i + 1}`, pipeline)));
    for (const answer of answers) assert.equal(answer.match(/HTTP\/1\.1 200 OK/g)?.length, SCRAPES);
    // One rendering per connection and request would be 1000.
    assert.ok(renders() <= 4 * SCRAPES, `${renders()} renderings for ${20 * SCRAPES} scrapes`);
  } finally {
    await server.close();
  }
});

test('a scrape after the turn of the last one renders afresh', async () => {
  const { server, port, renders } = await countingAdmin();
  try {
    const first = await exchange(port, '127.0.0.1', 'GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n');
    const second = await exchange(port, '127.0.0.1', 'GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.match(first, /renders 1\n$/);
    assert.match(second, /renders 2\n$/);
    assert.equal(renders(), 2);
  } finally {
    await server.close();
  }
});

test('the port holds 64 connections at most, from any number of addresses, and tells each refusal; one closed makes room', async () => {
  const { server, port, refusals } = await countingAdmin();
  const open = (from: string): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1', localAddress: from }, () => resolve(socket));
      socket.on('error', reject);
    });
  const closed = (socket: Socket): Promise<unknown> => new Promise((resolve) => (socket.destroyed ? resolve(null) : socket.once('close', resolve)));
  try {
    // Eight addresses, each within its own cap of 8.
    const held = await Promise.all(Array.from({ length: 64 }, (_, i) => open(`127.0.9.${(i % 8) + 1}`)));
    const extra = await open('127.0.9.20');
    extra.resume();
    await closed(extra);
    assert.deepEqual(refusals, ['admin_connection_limit 127.0.9.20']);
    assert.ok(held.every((socket) => !socket.destroyed), 'the first 64 stay open');
    held[0]!.destroy();
    // The server sees the close a moment later: until then a newcomer is still refused.
    let answer = '';
    for (let attempt = 0; attempt < 100 && !answer.startsWith('HTTP/1.1 200'); attempt++) {
      answer = await exchange(port, '127.0.9.21', 'GET /livez HTTP/1.1\r\nHost: a\r\n\r\n').catch(() => '');
      if (!answer.startsWith('HTTP/1.1 200')) await sleep(20);
    }
    assert.match(answer, /^HTTP\/1\.1 200 OK/);
    for (const socket of held) socket.destroy();
  } finally {
    await server.close();
  }
});

test('one address holds 8 connections at most, so that a few clients cannot fill the port; the refusal is told', async () => {
  const { server, port, refusals } = await countingAdmin();
  try {
    const held = await Promise.all(Array.from({ length: 8 }, () => new Promise<Socket>((resolve) => {
      const socket = connect({ port, host: '127.0.0.1', localAddress: '127.0.10.1' }, () => resolve(socket));
    })));
    const refused = await exchange(port, '127.0.10.1', 'GET /livez HTTP/1.1\r\nHost: a\r\n\r\n').catch(() => '');
    assert.equal(refused, '', 'the ninth is closed unanswered');
    assert.deepEqual(refusals, ['admin_client_limit 127.0.10.1']);
    assert.match(await exchange(port, '127.0.10.2', 'GET /livez HTTP/1.1\r\nHost: a\r\n\r\n'), /^HTTP\/1\.1 200 OK/);
    for (const socket of held) socket.destroy();
  } finally {
    await server.close();
  }
});

/**
 * Connects to `admin` as if from `peer`. Loopback has one IPv6 address, ::1, so the connection
 * is accepted by `relay` and handed to the admin listener with its peer address replaced.
 * Returns the client's end.
 */
async function connectAs(admin: AdminServer, relay: Server, peer: string): Promise<Socket> {
  const accepted = new Promise<Socket>((resolve) => relay.once('connection', resolve));
  const client = await new Promise<Socket>((resolve, reject) => {
    const socket = connect({ port: (relay.address() as AddressInfo).port, host: '127.0.0.1' }, () => resolve(socket));
    socket.on('error', reject);
  });
  const socket = await accepted;
  Object.defineProperty(socket, 'remoteAddress', { value: peer });
  admin['server'].emit('connection', socket);
  return client;
}

/** Sends `bytes` on `socket` and resolves with all it receives until the server closes it. */
function ask(socket: Socket, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('close', () => resolve(received));
    socket.on('error', () => undefined);
    socket.end(bytes);
  });
}

test('IPv6 peers count by network: addresses sharing CLIENT_IPV6_PREFIX bits are one address for the cap', async () => {
  const livez = 'GET /livez HTTP/1.1\r\nHost: a\r\n\r\n';
  for (const bits of [64, 128]) {
    const { server } = await countingAdmin(bits);
    const relay = createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    try {
      const held: Socket[] = [];
      for (let i = 1; i <= 8; i++) held.push(await connectAs(server, relay, `2001:db8:0:1::${i}`));
      const ninth = await ask(await connectAs(server, relay, '2001:db8:0:1::99'), livez);
      if (bits === 64) assert.equal(ninth, '', 'a ninth address of the /64 is closed unanswered');
      else assert.match(ninth, /^HTTP\/1\.1 200 OK/, 'with 128 bits each address has its own cap');
      assert.match(await ask(await connectAs(server, relay, '2001:db8:0:2::1'), livez), /^HTTP\/1\.1 200 OK/, 'the next /64 is another address');
      for (const socket of held) socket.destroy();
    } finally {
      await server.close();
      await new Promise((resolve) => relay.close(resolve));
    }
  }
});

test('a scrape that fails is a 500 that names no internals, and the error goes to the log', async () => {
  const failures: unknown[] = [];
  const registry = { contentType: 'text/plain', metrics: async () => Promise.reject(new Error('collect failed: /secret/path')) } as unknown as Registry;
  const server = new AdminServer({ host: '127.0.0.1', port: 0, registry, metricsTokens: null, notReadyReason: () => null, ipv6PrefixBits: 64, answerFailed: (error) => failures.push(error), connectionRefused: () => undefined });
  const { port } = await server.listen();
  try {
    const answer = await exchange(port, '127.0.0.1', 'GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 500 Internal Server Error\r\n/);
    assert.match(answer, /\r\nX-Content-Type-Options: nosniff\r\n/);
    assert.doesNotMatch(answer, /secret/);
    assert.equal(failures.length, 1);
    assert.match(String(failures[0]), /collect failed/);
    // The port goes on answering.
    assert.match(await exchange(port, '127.0.0.1', 'GET /livez HTTP/1.1\r\nHost: a\r\n\r\n'), /^HTTP\/1\.1 200 OK/);
  } finally {
    await server.close();
  }
});
