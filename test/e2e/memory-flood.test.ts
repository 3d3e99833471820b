// What a hostile client can make the server hold stays within the stated bound (docs/memory.md):
// bodies that never finish, uploads made of one-byte chunks, and many connections at once.
// RSS is read from /proc while the flood runs; the flood is bounded in count and time.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { metric, rssBytes, waitFor } from '../fixtures/probes.js';
import { get, parseResponses, RawClient } from '../helpers/raw.js';
import { imageNodeFlags, ONE_CLIENT_LOAD, startServer, type StartedServer } from '../helpers/server.js';

const MiB = 1024 * 1024;
const BODY_MEMORY = 8 * MiB;
const MAX_BODY = MiB;
/** Per open connection: socket, stream and parser state with a head's worth of bytes. */
const PER_CONNECTION = 64 * 1024;
/** Allocator slack and garbage not yet collected, independent of what clients send. */
const SLACK = 24 * MiB;
/**
 * Bytes read and dropped (the bodies of refused uploads) wait for V8 to collect their buffers,
 * which it starts once memory outside its heap has grown by 64 MiB, about 100 MiB at a flood's
 * rate; and the main thread's young generation grows to its 16 MiB under such a load
 * (docs/memory.md).
 */
const DROPPED_READS = 100 * MiB;
const YOUNG_GENERATION = 16 * MiB;

/**
 * The bound of docs/memory.md for this flood: bodies (each at most three times its payload
 * while it is received, and all of them within the budget), plus the connections' own state.
 */
function rssBound(connections: number, payloadPerConnection: number): number {
  return Math.min(BODY_MEMORY + MAX_BODY, 3 * connections * payloadPerConnection) + connections * PER_CONNECTION + SLACK;
}

/**
 * A connection from the nth client of 127.1.0.0/16: one client may hold only an eighth of the
 * body budget here (MAX_BODY_MEMORY_PER_CLIENT_BYTES), so a flood that fills it comes from many addresses.
 */
function open(port: number, client: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: `127.1.${Math.floor(client / 250)}.${(client % 250) + 1}` }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Samples RSS every 25 ms until stopped; returns the peak growth over the start. */
function sampleRss(pid: number): () => number {
  const start = rssBytes(pid);
  let peak = start;
  const timer = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 25);
  return () => {
    clearInterval(timer);
    return peak - start;
  };
}

async function withServer(run: (server: StartedServer) => Promise<void>, extraEnv: Record<string, string> = {}): Promise<void> {
  const env = { ...extraEnv, ...ONE_CLIENT_LOAD, MAX_BODY_MEMORY_BYTES: String(BODY_MEMORY), MAX_BODY_MEMORY_PER_CLIENT_BYTES: String(BODY_MEMORY / 8), MAX_BODY_BYTES: String(MAX_BODY), MAX_CONNECTIONS: '1024', REQUEST_TIMEOUT_MS: '60000' };
  // The bound is the image's: its node flags hold the main thread's heap (docs/memory.md).
  const server = await startServer({ env: { ...env, ...extraEnv }, nodeArgs: await imageNodeFlags() });
  try {
    await run(server);
  } finally {
    await server.stop();
  }
}

test('unfinished bodies: past MAX_BODY_MEMORY_BYTES new uploads get 503 at once, and memory stays bounded', async () => {
  await withServer(async (server) => {
    const CONNECTIONS = 300;
    const host = `127.0.0.1:${server.port}`;
    const stop = sampleRss(server.process.pid!);
    const sockets = await Promise.all(Array.from({ length: CONNECTIONS }, (_, client) => open(server.port, client)));
    const received = sockets.map(() => [] as Buffer[]);
    const almostAll = Buffer.alloc(MAX_BODY - 1, 0x20);
    for (const [n, socket] of sockets.entries()) {
      socket.on('data', (chunk: Buffer) => received[n]!.push(chunk));
      socket.on('error', () => undefined); // refused ones are closed under our writes
      socket.write(`POST /upload HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${MAX_BODY}\r\n\r\n`);
    }
    // The bodies that fit are sent all but their last byte; the rest were refused on their head.
    const fitting = BODY_MEMORY / MAX_BODY;
    await waitFor(() => received.filter((chunks) => chunks.length > 0).length === CONNECTIONS - fitting, 'the refusals');
    assert.equal(await metric(server.adminPort, 'http_server_rejected_total', 'reason="body_memory"'), CONNECTIONS - fitting);
    for (const [n, socket] of sockets.entries()) if (received[n]!.length === 0) socket.write(almostAll);
    await waitFor(async () => (await metric(server.adminPort, 'http_server_body_memory_bytes')) === BODY_MEMORY, 'the budget to be taken');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const growth = stop();

    const refused = received.filter((chunks) => chunks.length > 0).map((chunks) => parseResponses(Buffer.concat(chunks)).responses[0]!);
    assert.equal(refused.length, CONNECTIONS - fitting);
    for (const response of refused) {
      assert.equal(response.status, 503);
      assert.equal(response.headers['retry-after'], '1');
    }
    const bound = rssBound(CONNECTIONS, MAX_BODY);
    assert.ok(growth < bound, `RSS grew ${(growth / MiB).toFixed(1)} MiB, bound ${(bound / MiB).toFixed(1)} MiB`);
    for (const socket of sockets) socket.destroy();
    // Bodies cut off by their clients give their memory back.
    await waitFor(async () => (await metric(server.adminPort, 'http_server_body_memory_bytes')) === 0, 'the budget to be free again');
  });
});
test('uploads of one-byte chunks hold memory in proportion to their payload, not to their chunk count', async () => {
  await withServer(async (server) => {
    const CONNECTIONS = 8;
    const CHUNKS = 200_000;
    const host = `127.0.0.1:${server.port}`;
    const stop = sampleRss(server.process.pid!);
    const sockets = await Promise.all(Array.from({ length: CONNECTIONS }, (_, client) => open(server.port, client)));
    // 200 000 one-byte chunks of a JSON string: about 1.2 MB on the wire, 200 kB of payload.
    const chunk = (byte: string): string => `1\r\n${byte}\r\n`;
    const body = chunk('"') + chunk('a').repeat(CHUNKS - 2) + chunk('"');
    await Promise.all(
      sockets.map(
        (socket) =>
          new Promise<void>((resolve) => {
            socket.write(`POST /upload HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
            socket.write(body, () => resolve());
          }),
      ),
    );
    // All but the last chunk have arrived and are held: this is the peak.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const growth = stop();
    const bound = rssBound(CONNECTIONS, CHUNKS);
    assert.ok(growth < bound, `RSS grew ${(growth / MiB).toFixed(1)} MiB, bound ${(bound / MiB).toFixed(1)} MiB`);
    const answers = await Promise.all(
      sockets.map(
        (socket) =>
          new Promise<number>((resolve) => {
            const chunks: Buffer[] = [];
            socket.on('data', (data: Buffer) => {
              chunks.push(data);
              const { responses } = parseResponses(Buffer.concat(chunks));
              if (responses.length > 0) resolve(responses[0]!.status);
            });
            socket.end('0\r\n\r\n');
          }),
      ),
    );
    assert.deepEqual(answers, Array(CONNECTIONS).fill(201));
    for (const socket of sockets) socket.destroy();
  });
});

test('a steady flood of complete 1 MiB uploads, most refused for the budget, stays within the bound', async (t) => {
  await withServer(async (server) => {
    const CONNECTIONS = 40;
    const DURATION_MS = 5000;
    const host = `127.0.0.1:${server.port}`;
    // `[`, spaces, `]`: valid JSON of exactly MAX_BODY bytes.
    const body = Buffer.alloc(MAX_BODY, 0x20);
    body[0] = 0x5b;
    body[MAX_BODY - 1] = 0x5d;
    const head = `POST /upload HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${MAX_BODY}\r\nConnection: close\r\n\r\n`;
    const statuses = new Map<number, number>();
    /** One upload on a new connection, its body sent whole whatever the answer; resolves with the status. */
    const upload = async (client: number): Promise<number> => {
      const socket = await open(server.port, client);
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', () => undefined); // a refused one may be cut under our write
      socket.write(head);
      socket.write(body);
      await new Promise((resolve) => socket.once('close', resolve));
      return parseResponses(Buffer.concat(chunks)).responses[0]?.status ?? 0;
    };
    const stop = sampleRss(server.process.pid!);
    const until = Date.now() + DURATION_MS;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async (_, client) => {
        while (Date.now() < until) {
          const status = await upload(client);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }),
    );
    const growth = stop();
    // Both paths ran many times: stored (the body moved to a worker and written) and refused.
    assert.ok((statuses.get(201) ?? 0) >= 50 && (statuses.get(503) ?? 0) >= 50, JSON.stringify([...statuses]));
    assert.deepEqual([...statuses.keys()].sort(), [201, 503]);
    const bound = BODY_MEMORY + MAX_BODY + DROPPED_READS + YOUNG_GENERATION + CONNECTIONS * PER_CONNECTION + SLACK;
    t.diagnostic(`RSS grew ${(growth / MiB).toFixed(1)} MiB (bound ${(bound / MiB).toFixed(1)}) over ${JSON.stringify([...statuses])}`);
    assert.ok(growth < bound, `RSS grew ${(growth / MiB).toFixed(1)} MiB, bound ${(bound / MiB).toFixed(1)} MiB`);
  });
});

test('one client cannot hold the body budget: past MAX_BODY_MEMORY_PER_CLIENT_BYTES its heads get 429, and others still upload', async () => {
  await withServer(async (server) => {
    const host = `127.0.0.1:${server.port}`;
    const share = BODY_MEMORY / 8;
    const heads = Math.ceil((2 * BODY_MEMORY) / MAX_BODY);
    const post = `POST /upload HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${MAX_BODY}\r\n\r\n`;
    // GET requests with bodies take their share too: they are read before they are answered.
    const getWithBody = `GET /index.html HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${MAX_BODY}\r\n\r\n`;
    const refusedBefore = await metric(server.adminPort, 'http_server_security_rejections_total', 'reason="body_memory_share"');
    const greedy = await Promise.all(Array.from({ length: heads }, () => open(server.port, 0)));
    const received = greedy.map(() => [] as Buffer[]);
    for (const [n, socket] of greedy.entries()) {
      socket.on('data', (chunk: Buffer) => received[n]!.push(chunk));
      socket.on('error', () => undefined);
      socket.write(n % 2 === 0 ? post : getWithBody);
    }
    const fitting = share / MAX_BODY;
    await waitFor(() => received.filter((chunks) => chunks.length > 0).length === heads - fitting, 'the refusals');
    for (const chunks of received.filter((answer) => answer.length > 0)) {
      const response = parseResponses(Buffer.concat(chunks)).responses[0]!;
      assert.equal(response.status, 429);
      assert.equal(response.headers['retry-after'], '1');
      assert.equal(response.headers.connection, 'close');
    }
    assert.equal(await metric(server.adminPort, 'http_server_body_memory_bytes'), share);
    assert.equal(await metric(server.adminPort, 'http_server_security_rejections_total', 'reason="body_memory_share"'), refusedBefore + heads - fitting);
    assert.equal(await metric(server.adminPort, 'http_server_rejected_total', 'reason="body_memory"'), 0, 'the server itself is not full');

    // Everyone else still has room: a complete upload from each of seven other clients.
    const statuses = await Promise.all(
      Array.from({ length: 7 }, async (_, n) => {
        const socket = await open(server.port, n + 1);
        const chunks: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => chunks.push(chunk));
        socket.end(`POST /upload HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
        await new Promise((resolve) => socket.once('close', resolve));
        return parseResponses(Buffer.concat(chunks)).responses[0]?.status;
      }),
    );
    assert.deepEqual(statuses, Array(7).fill(201));
    for (const socket of greedy) socket.destroy();
    await waitFor(async () => (await metric(server.adminPort, 'http_server_body_memory_bytes')) === 0, 'the budget to be free again');
  });
});

test('clients that pipeline downloads and never read hold one file buffer and two small bodies each, not sixteen', async () => {
  const root = mkdtempSync(join(tmpdir(), 'rawhttp-slow-readers-'));
  const SMALL = 15;
  for (let i = 1; i <= SMALL; i++) writeFileSync(join(root, `s${i}.txt`), Buffer.alloc(60 * 1024, 0x61 + i));
  writeFileSync(join(root, 'big.txt'), Buffer.alloc(4 * MiB, 0x62));
  writeFileSync(join(root, 'index.html'), '<!DOCTYPE html><title>t</title>\n');
  try {
    // The cache off: every small file is a body a worker read, held by its connection alone.
    await withServer(
      async (server) => {
        const CONNECTIONS = 300;
        const host = `127.0.0.1:${server.port}`;
        const requests = ['/big.txt', ...Array.from({ length: SMALL }, (_, i) => `/s${i + 1}.txt`)].map((path) => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`).join('');
        const stop = sampleRss(server.process.pid!);
        const sockets = await Promise.all(Array.from({ length: CONNECTIONS }, (_, client) => open(server.port, client)));
        for (const socket of sockets) {
          socket.pause(); // never reads
          socket.on('error', () => undefined);
          socket.write(requests);
        }
        await new Promise((resolve) => setTimeout(resolve, 4000));
        const growth = stop();
        // docs/memory.md: a 256 KiB file buffer and two bodies of at most 64 KiB per connection, beside its own state.
        const bound = CONNECTIONS * (256 * 1024 + 2 * 64 * 1024 + PER_CONNECTION) + SLACK;
        assert.ok(growth < bound, `RSS grew ${(growth / MiB).toFixed(1)} MiB, bound ${(bound / MiB).toFixed(1)} MiB`);
        for (const socket of sockets) socket.destroy();
      },
      { RESOURCES_DIR: root, UPLOADS_DIR: join(root, 'uploads'), FILE_CACHE_TTL_MS: '0', KEEP_ALIVE_TIMEOUT_MS: '60000' },
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/**
 * Asks for `paths` in turn, on one keep-alive connection after another (each the server's
 * MAX_REQUESTS_PER_CONNECTION, pipelined), every answer read whole, until `running` says
 * stop: a well-behaved client that keeps their cache entries hot. Returns how many it asked.
 */
async function keepAsking(port: number, paths: readonly string[], running: () => boolean): Promise<number> {
  const PER_CONNECTION_REQUESTS = 100;
  let asked = 0;
  while (running()) {
    const client = await RawClient.connect(port);
    const batch = Array.from({ length: PER_CONNECTION_REQUESTS }, () => get(paths[asked++ % paths.length]!, port));
    client.write(batch.join(''));
    await client.responses(PER_CONNECTION_REQUESTS, 10_000);
    client.close();
  }
  return asked;
}

test('clients that queue answers from the cache behind a download they never read hold two small bodies each, however often the cache replaces its entries', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'rawhttp-cache-pins-'));
  const uploads = join(root, 'uploads');
  const FILE = 64 * 1024;
  writeFileSync(join(root, 'big.txt'), Buffer.alloc(16 * MiB, 0x62));
  writeFileSync(join(root, 'index.html'), '<!DOCTYPE html><title>t</title>\n');
  mkdirSync(uploads);
  writeFileSync(join(uploads, 'f.txt'), Buffer.alloc(FILE, 0x61));
  // One file under many spellings of its path, each an entry of its own (docs/memory.md). A
  // short TTL: an entry the two clients do not hit in time to renew expires, and the next miss
  // reads the file into new bytes, so the answers queued before hold bytes the cache has dropped.
  const SPELLINGS = 300;
  const spellings = Array.from({ length: SPELLINGS }, (_, k) => `/uploads${'/'.repeat(k + 1)}f.txt`);
  const CACHE_BYTES = 24 * MiB;
  try {
    await withServer(
      async (server) => {
        const CONNECTIONS = 300;
        const host = `127.0.0.1:${server.port}`;
        const stop = sampleRss(server.process.pid!);
        let flooding = true;
        const keepers = [0, 1].map((n) => keepAsking(server.port, n === 0 ? spellings : [...spellings].reverse(), () => flooding));
        await new Promise((resolve) => setTimeout(resolve, 500));
        // Ten every 100 ms, each asking for fifteen spellings the nine others do not: over the
        // seconds they arrive, an entry is asked for every 200 ms, by answers that queue behind
        // the download, and has often been replaced in between.
        const sockets: Socket[] = [];
        for (let n = 0; n < CONNECTIONS; n++) {
          const socket = await open(server.port, n);
          socket.pause(); // never reads
          socket.on('error', () => undefined);
          const paths = ['/big.txt', ...Array.from({ length: 15 }, (_, i) => spellings[(n * 15 + i) % SPELLINGS]!)];
          socket.write(paths.map((path) => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`).join(''));
          sockets.push(socket);
          if (n % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 100));
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
        flooding = false;
        const asked = await Promise.all(keepers);
        const growth = stop();
        // docs/memory.md: a 256 KiB file buffer and two bodies of at most 64 KiB per connection, beside its own state; and the cache.
        const bound = CONNECTIONS * (256 * 1024 + 2 * 64 * 1024 + PER_CONNECTION) + CACHE_BYTES + YOUNG_GENERATION + SLACK;
        t.diagnostic(`RSS grew ${(growth / MiB).toFixed(1)} MiB (bound ${(bound / MiB).toFixed(1)}); the two clients asked ${asked.join(' + ')} times`);
        assert.ok(growth < bound, `RSS grew ${(growth / MiB).toFixed(1)} MiB, bound ${(bound / MiB).toFixed(1)} MiB`);
        for (const socket of sockets) socket.destroy();
      },
      { RESOURCES_DIR: root, UPLOADS_DIR: uploads, FILE_CACHE_TTL_MS: '400', FILE_CACHE_MAX_BYTES: String(CACHE_BYTES), KEEP_ALIVE_TIMEOUT_MS: '60000' },
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
