// Clients that vanish: thousands of connections dropped mid-request, mid-upload and
// mid-download leave no leaked descriptor, no partial upload or temporary file, and no
// worker stuck; the server answers normally afterwards.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { metric, openFds, waitFor } from '../fixtures/probes.js';
import { get, request } from '../helpers/raw.js';
import { ONE_CLIENT_LOAD, startServer } from '../helpers/server.js';

const PER_KIND = 600;
const CONCURRENCY = 50;
/** Descriptors that may come and go on their own (the admin connection of the metrics scrape, timers). */
const FD_SLACK = 5;

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => resolve(socket));
    socket.once('error', reject);
    // Resets are expected: these clients leave rudely, and so may the server in return.
    socket.on('error', () => undefined);
  });
}

/** Writes, waits until the bytes are handed to the kernel, then cuts the connection. */
async function writeThenDrop(socket: Socket, bytes: string): Promise<void> {
  await new Promise<void>((resolve) => socket.write(bytes, 'latin1', () => resolve()));
  socket.destroy();
}

/** Reads until `enough` bytes arrived (or the server closed), then cuts the connection. */
async function readThenDrop(socket: Socket, enough: number): Promise<void> {
  let received = 0;
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received >= enough) resolve();
    });
    socket.once('close', () => resolve());
  });
  socket.destroy();
}

async function runMany(count: number, client: (n: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await client(next++);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
}

test('clients dropping mid-request, mid-upload and mid-download leak nothing', async (t) => {
  // The upload rate off: 600 cut-off uploads empty the client's bucket, and whether a token
  // has come back for the last upload would depend on how fast the phases ran.
  const server = await startServer({ env: { ...ONE_CLIENT_LOAD, MAX_THREADS: '2' } });
  try {
    const { port, adminPort } = server;
    const host = `127.0.0.1:${port}`;
    const pid = server.process.pid!;
    const upload = (body: string): string => `POST /upload HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const settled = async (): Promise<boolean> =>
      (await metric(adminPort, 'http_server_open_connections')) === 0 &&
      (await metric(adminPort, 'http_server_busy_workers')) === 0 &&
      (await metric(adminPort, 'http_server_queue_depth')) === 0;

    // Warm up every path once, so descriptors opened lazily on first use are in the baseline.
    assert.equal((await request(port, get('/sample.txt', port))).status, 200);
    assert.equal((await request(port, get('/sample_image.png', port), 10_000)).status, 200);
    assert.equal((await request(port, upload('{"warm":"up"}'))).status, 201);
    const storedBefore = readdirSync(server.uploadsDir).sort();
    await waitFor(settled, 'the warm-up connections to close');
    const fdsBefore = openFds(pid);

    const kinds: Record<string, (n: number) => Promise<void>> = {
      'mid-request (partial head)': async (n) => {
        const socket = await open(port);
        await writeThenDrop(socket, `GET /sample.txt HTTP/1.1\r\nHost: ${host}\r\nX-Partial: ${'x'.repeat(n % 200)}`);
      },
      'mid-response (request sent, response never read)': async (n) => {
        const socket = await open(port);
        // The photo is streamed from an open descriptor; the text file comes back in one buffer.
        await writeThenDrop(socket, get(n % 2 === 0 ? '/photo.jpg' : '/sample.txt', port));
      },
      'mid-upload (partial body)': async (n) => {
        const socket = await open(port);
        const body = `{"n":${n},"pad":"${'p'.repeat(3000)}"}`;
        if (n % 3 === 0) {
          // Chunked, cut inside a chunk.
          await writeThenDrop(socket, `POST /upload HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n${body.slice(0, 500)}`);
        } else {
          // Content-Length, cut 1 to 1000 bytes before the end of the body.
          await writeThenDrop(socket, upload(body).slice(0, -(1 + (n % 1000))));
        }
      },
      'mid-download (2.4 MB image)': async (n) => {
        const socket = await open(port);
        socket.write(get('/sample_image.png', port));
        // Some drop right after the head, most somewhere inside the body.
        await readThenDrop(socket, n % 4 === 0 ? 1 : 64 * 1024 * (1 + (n % 8)));
      },
    };
    for (const [kind, client] of Object.entries(kinds)) {
      await runMany(PER_KIND, client);
      t.diagnostic(`${PER_KIND} clients ${kind}`);
    }

    await waitFor(settled, 'every connection closed and every worker idle', 30_000);
    // Descriptors close asynchronously (file streams, sockets): wait for them to settle.
    await waitFor(() => openFds(pid) <= fdsBefore + FD_SLACK, `descriptors back to about ${fdsBefore}`, 15_000).catch(() => undefined);
    const fdsAfter = openFds(pid);
    t.diagnostic(`open descriptors: ${fdsBefore} before, ${fdsAfter} after ${PER_KIND * 4} dropped clients`);
    assert.ok(fdsAfter <= fdsBefore + FD_SLACK, `descriptors leaked: ${fdsBefore} -> ${fdsAfter}`);
    assert.deepEqual(readdirSync(server.uploadsDir).sort(), storedBefore, 'no partial upload and no temporary file');
    assert.equal(server.process.exitCode, null);

    // Everything still works.
    assert.equal((await request(port, get('/sample.txt', port))).status, 200);
    assert.equal((await request(port, upload('{"after":"faults"}'))).status, 201);
    assert.equal(readdirSync(server.uploadsDir).length, storedBefore.length + 1);
  } finally {
    await server.stop();
  }
});

test('a client that pipelines downloads and never reads holds at most 4 descriptors a connection', async (t) => {
  const server = await startServer();
  try {
    const { port, adminPort } = server;
    const pid = server.process.pid!;
    assert.equal((await request(port, get('/sample_image.png', port), 10_000)).status, 200);
    await waitFor(async () => (await metric(adminPort, 'http_server_open_connections')) === 0, 'the warm-up connection to close');
    const fdsBefore = openFds(pid);
    // 20 pipelined downloads a connection: without a bound each would wait its turn with an
    // open file, 16 at a time (the pipelining window).
    const connections = 10;
    const sockets = await Promise.all(Array.from({ length: connections }, () => open(port)));
    for (const socket of sockets) {
      socket.pause();
      socket.write(get('/sample_image.png', port).repeat(20));
    }
    // The streamed file fills the socket buffers, then the next two wait with their files open.
    await waitFor(async () => (await metric(adminPort, 'http_server_busy_workers')) === 0 && (await metric(adminPort, 'http_server_queue_depth')) === 0, 'the jobs to finish');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const held = openFds(pid) - fdsBefore;
    t.diagnostic(`${held} descriptors held by ${connections} connections that pipelined 20 downloads each`);
    assert.ok(held <= connections * 4 + FD_SLACK, `${held} descriptors for ${connections} connections`);
    assert.ok(held >= connections * 2, `the connections and their streamed files are counted: ${held}`);
    for (const socket of sockets) socket.destroy();
    await waitFor(() => openFds(pid) <= fdsBefore + FD_SLACK, `descriptors back to about ${fdsBefore}`);
  } finally {
    await server.stop();
  }
});
