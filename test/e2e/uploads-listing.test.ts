// The uploads folder holds every upload ever stored, so listing it (to remove the temporaries
// crashed processes left) takes time and memory that grow with it: the server must not wait
// for it to listen, be ready and store. A preload (test/fixtures/hung-listing.ts) holds every
// listing of the uploads folder on the main thread while its FIFO exists, as a listing of
// millions of entries on a slow NFS mount would.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { makeFifo, releaseFifo } from '../helpers/fifo.js';
import { request } from '../helpers/raw.js';
import { REPO_ROOT, startServer, type StartedServer } from '../helpers/server.js';

const HUNG_LISTING = pathToFileURL(join(REPO_ROOT, 'dist', 'test', 'fixtures', 'hung-listing.js')).href;
const DATA_JSON = readFileSync(join(REPO_ROOT, 'data.json'));
/** A temporary of a process of another host, gone an hour ago. */
const ABANDONED = `.upload-gone-pod-42-${'a'.repeat(24)}.tmp`;

async function upload(server: StartedServer): Promise<number> {
  const head = `POST /upload HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\nContent-Length: ${DATA_JSON.length}\r\n\r\n`;
  return (await request(server.port, Buffer.concat([Buffer.from(head, 'latin1'), DATA_JSON]), 5000)).status;
}

test('a listing of the uploads folder that takes its time delays neither the start, nor readiness, nor uploads, nor the shutdown', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'rawhttp-hung-listing-'));
  const uploadsDir = join(folder, 'uploads');
  mkdirSync(uploadsDir);
  writeFileSync(join(uploadsDir, ABANDONED), '{"half":');
  const hourAgo = new Date(Date.now() - 3600_000);
  utimesSync(join(uploadsDir, ABANDONED), hourAgo, hourAgo);
  const fifo = makeFifo(folder);
  let server: StartedServer | null = null;
  try {
    server = await startServer({ uploadsDir, nodeArgs: ['--import', HUNG_LISTING], env: { HUNG_LISTING_DIR: uploadsDir, HUNG_LISTING_FIFO: fifo } });
    const ready = await fetch(`http://127.0.0.1:${server.adminPort}/readyz`, { signal: AbortSignal.timeout(5000) });
    assert.equal(ready.status, 200);
    assert.equal(await upload(server), 201);
    assert.ok(existsSync(join(uploadsDir, ABANDONED)), 'the listing is still held');

    // Once the listing goes on, the abandoned temporary goes, after the start line.
    assert.ok(releaseFifo(fifo), 'the listing was held');
    unlinkSync(fifo);
    const swept = await server.waitForLog((line) => line.msg === 'stale upload temporaries swept');
    assert.deepEqual([swept.removed, swept.left], [1, 0]);
    assert.deepEqual(readdirSync(uploadsDir).filter((name) => name.startsWith('.')), []);
    const listening = server.logs.findIndex((line) => String(line.msg).startsWith('listening on'));
    const removed = server.logs.findIndex((line) => line.msg === 'removed a stale upload temporary' && line.file === ABANDONED);
    assert.ok(listening < removed, 'the sweep runs once the server listens');
  } finally {
    const releasing = setInterval(() => existsSync(fifo) && releaseFifo(fifo), 20);
    await server?.stop();
    clearInterval(releasing);
    rmSync(folder, { recursive: true, force: true });
  }
});

test('a shutdown does not wait for a listing that hangs', async () => {
  const folder = mkdtempSync(join(tmpdir(), 'rawhttp-hung-listing-'));
  const uploadsDir = join(folder, 'uploads');
  mkdirSync(uploadsDir);
  const fifo = makeFifo(folder);
  let server: StartedServer | null = null;
  try {
    server = await startServer({ uploadsDir, nodeArgs: ['--import', HUNG_LISTING], env: { HUNG_LISTING_DIR: uploadsDir, HUNG_LISTING_FIFO: fifo, SHUTDOWN_DELAY_MS: '0' } });
    server.process.kill('SIGTERM');
    const line = await server.waitForLog((entry) => String(entry.msg).startsWith('shutdown: the removal of stale upload temporaries not stopped'), 8000);
    assert.equal(line.level, 'warn');
    await server.waitForLog((entry) => entry.msg === 'shutdown complete', 8000);
    // A process cannot end while a thread of it is blocked in a system call: the hung listing's.
    assert.ok(releaseFifo(fifo), 'the listing was held');
    assert.equal(await server.exited, 0);
  } finally {
    const releasing = setInterval(() => existsSync(fifo) && releaseFifo(fifo), 20);
    await server?.stop();
    clearInterval(releasing);
    rmSync(folder, { recursive: true, force: true });
  }
});
